"""Real runs through RQ: a SimpleWorker in burst mode inside the app context, against the sandbox."""

from __future__ import annotations

import re
from dataclasses import replace

from flask import Flask
from rq.job import Job

from flask_xerosync import signals
from flask_xerosync.models import ConnectionStatus, RunStatus
from flask_xerosync.state import current_state

from .conftest import (
    SETTINGS,
    all_runs,
    connection_of,
    run_id_in,
    run_row,
    sync_now,
    work_queue,
)

PROGRESS = "/settings/accounting-sync/runs/{}/progress"


def seed_contacts(org, count: int) -> None:  # type: ignore[no-untyped-def]
    org.sandbox.control.seed_contacts(
        org.tenant_id,
        [{"Name": f"Sandbox Customer {n:03d}", "EmailAddress": f"customer{n:03d}@sandbox.example", "IsCustomer": True}
         for n in range(count)],
    )


def job_of(app: Flask, run_id: str) -> Job:
    with app.app_context():
        return Job.fetch(run_row(app, run_id).job_id, connection=current_state().redis)


def test_a_run_reports_progress_and_final_counts(connected, app, harbour_client):
    seed_contacts(connected, 12)
    events: list[dict] = []
    started, finished = [], []
    signals.sync_started.connect(lambda sender, **kw: started.append(kw), weak=False)
    signals.sync_finished.connect(lambda sender, **kw: finished.append(kw), weak=False)
    try:
        run_id = run_id_in(sync_now(harbour_client).get_data(as_text=True))
        work_queue(app)
    finally:
        signals.sync_started.receivers.clear()
        signals.sync_finished.receivers.clear()

    run = run_row(app, run_id)
    assert run.status == RunStatus.DONE, run.error
    assert run.started_at and run.finished_at
    assert run.counts["clients"]["created"] >= 12
    assert run.api_calls > 0
    meta = job_of(app, run_id).get_meta()
    assert meta["stage"] == "done" and meta["counts"] == run.counts
    assert meta["stages"] == ["connect", "clients", "items", "invoices"]
    assert started == [{"account_id": "1", "run_id": run_id}]
    assert finished and finished[0]["counts"] == run.counts
    del events

    fragment = harbour_client.get(PROGRESS.format(run_id)).get_data(as_text=True)
    assert "Last sync finished" in fragment
    assert "hx-trigger" not in fragment and "hx-get" not in fragment
    assert "Clients:" in fragment and "created" in fragment

    page = harbour_client.get(SETTINGS).get_data(as_text=True)
    assert "Recent syncs" in page and f"/runs/{run_id}" in page

    detail = harbour_client.get(f"/settings/accounting-sync/runs/{run_id}").get_data(as_text=True)
    assert "What each stage did" in detail
    assert re.search(r"Sandbox Customer 0\d\d", detail)


def test_a_second_run_after_the_first_starts_a_new_run(connected, app, harbour_client):
    first = run_id_in(sync_now(harbour_client).get_data(as_text=True))
    work_queue(app)
    second = run_id_in(sync_now(harbour_client).get_data(as_text=True))
    assert second != first
    work_queue(app)
    assert [run.status for run in all_runs(app)] == [RunStatus.DONE, RunStatus.DONE]


def test_revoked_connection_fails_the_run_and_asks_to_reconnect(connected, app, harbour_client):
    run_id = run_id_in(sync_now(harbour_client).get_data(as_text=True))
    connected.sandbox.control.revoke_connection(tenant_id=connected.tenant_id)
    work_queue(app)
    run = run_row(app, run_id)
    assert run.status == RunStatus.FAILED
    assert run.error.startswith("Xero needs you to reconnect: ")
    assert connection_of(app).status == ConnectionStatus.RECONNECT_NEEDED
    fragment = harbour_client.get(PROGRESS.format(run_id)).get_data(as_text=True)
    assert "Sync failed" in fragment and "Xero needs you to reconnect" in fragment
    assert "Reconnect to Xero on the settings page" in fragment
    assert "hx-trigger" not in fragment


def test_daily_limit_makes_the_run_wait_until_a_resume_time(connected, app, harbour_client):
    """The run waits (it continues by itself: tests/jobs/test_limit_waits.py); Sync Now! shows it."""
    seed_contacts(connected, 30)
    connected.sandbox.control.set_limits(connected.tenant_id, per_day=2)
    run_id = run_id_in(sync_now(harbour_client).get_data(as_text=True))
    work_queue(app)
    run = run_row(app, run_id)
    assert run.status == RunStatus.WAITING, run.error
    assert run.resume_at is not None
    assert connection_of(app).paused_until == run.resume_at
    fragment = harbour_client.get(PROGRESS.format(run_id)).get_data(as_text=True)
    assert "Waiting for Xero's limit, continues at" in fragment
    assert 'hx-trigger="load delay:5s"' in fragment
    again = sync_now(harbour_client).get_data(as_text=True)
    assert run_id_in(again) == run_id
    assert len(all_runs(app)) == 1


def test_xero_unavailable_fails_with_a_plain_message(connected, app, harbour_client):
    connected.sandbox.control.faults(connected.tenant_id, error_rate=1.0, error_statuses=[503])
    waits: list[float] = []
    with app.app_context():
        current_state().sleep = waits.append  # the backoff is recorded, not waited
    run_id = run_id_in(sync_now(harbour_client).get_data(as_text=True))
    work_queue(app)
    run = run_row(app, run_id)
    assert run.status == RunStatus.FAILED
    assert run.error.startswith("Xero did not answer ")
    assert "Nothing was lost" in run.error
    assert len(waits) >= 5  # XEROSYNC_MAX_RETRIES backoffs, recorded rather than slept


def test_an_unexpected_error_fails_the_run_without_leaking_it(connected, app, harbour_client, monkeypatch, caplog):
    def explode(self):  # type: ignore[no-untyped-def]
        raise RuntimeError("database exploded; token=secret-access-token")

    monkeypatch.setattr("flask_xerosync.worker.job.SyncEngine.run", explode)
    failed = []
    signals.sync_failed.connect(lambda sender, **kw: failed.append(kw), weak=False)
    try:
        run_id = run_id_in(sync_now(harbour_client).get_data(as_text=True))
        work_queue(app)
    finally:
        signals.sync_failed.receivers.clear()
    run = run_row(app, run_id)
    assert run.status == RunStatus.FAILED
    assert "unexpected error" in run.error and "secret" not in run.error
    assert failed and failed[0]["run_id"] == run_id
    assert job_of(app, run_id).get_status() == "failed"
    fragment = harbour_client.get(PROGRESS.format(run_id)).get_data(as_text=True)
    assert "Sync failed" in fragment and "secret" not in fragment


def test_rate_limit_429_is_waited_out_with_no_failures(connected, app, harbour_client):
    """Another integration uses up the organisation's minute just before the run (calls our limiter
    cannot see): Xero answers 429 with Retry-After, the run waits it out and finishes with nothing
    failed. The sandbox runs 30x faster (a minute lasts 2 s) and our limiter's window matches it."""
    seed_contacts(connected, 40)
    control = connected.sandbox.control
    control.set_time_scale(30.0)
    control.set_limits(connected.tenant_id, per_minute=5)
    try:
        with app.app_context():
            state = current_state()
            state.config = replace(state.config, rate_limit_window=2.0, page_size=10)
        run_id = run_id_in(sync_now(harbour_client).get_data(as_text=True))
        use_up_the_minute(app, connected)
        control.reset_counters(connected.tenant_id)
        work_queue(app)
    finally:
        control.set_time_scale(1.0)
    run = run_row(app, run_id)
    assert run.status == RunStatus.DONE, run.error
    assert all(counts.get("failed", 0) == 0 for counts in run.counts.values())
    assert run.counts["clients"]["created"] >= 40
    counters = control.counters(connected.tenant_id)
    assert counters["rate_limited_by_problem"].get("minute", 0) >= 1


def use_up_the_minute(app: Flask, org) -> None:  # type: ignore[no-untyped-def]
    """Call the organisation through the connection's session, bypassing the rate limiter, until
    Xero says the minute is used up."""
    with app.app_context():
        state = current_state()
        session = state.xero_session(connection_of(app))
        statuses = []
        for _ in range(10):
            response = session.request(
                "GET", f"{state.config.accounting_url}/Organisation",
                headers={"xero-tenant-id": org.tenant_id, "Accept": "application/json"},
            )
            statuses.append(response.status_code)
            if response.status_code == 429:
                return
        raise AssertionError(f"the minute limit was never reached: {statuses}")
