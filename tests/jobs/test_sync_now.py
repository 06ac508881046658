"""Sync Now!: one run per connection, plain-POST fallback, refusals."""

from __future__ import annotations

import threading
from datetime import timedelta

from flask import Flask
from rq.job import Job

from flask_xerosync.models import Connection, RunStatus, utcnow
from flask_xerosync.services import sync_now as sync_now_service
from flask_xerosync.services.runs import format_time
from flask_xerosync.state import current_state

from .conftest import (
    HARBOUR_ACCOUNT,
    HTMX,
    SETTINGS,
    SYNC_NOW,
    all_runs,
    csrf_token,
    db_session,
    run_id_in,
    sync_now,
)


def test_two_clicks_make_one_run(connected, app, harbour_client):
    first = sync_now(harbour_client)
    second = sync_now(harbour_client)
    assert first.status_code == second.status_code == 200
    run_id = run_id_in(first.get_data(as_text=True))
    assert run_id_in(second.get_data(as_text=True)) == run_id
    assert "already running" in second.get_data(as_text=True)
    runs = all_runs(app)
    assert [run.status for run in runs] == [RunStatus.QUEUED]
    with app.app_context():
        state = current_state()
        job = Job.fetch(runs[0].job_id, connection=state.redis)
        assert job.get_status() == "queued"
        assert job.timeout == state.config.job_timeout
        assert job.origin == state.config.queue_name
        assert job.func_name == "flask_xerosync.worker.job.run_sync"
        assert job.args == (run_id,)
        assert job.result_ttl == sync_now_service.RESULT_TTL and job.failure_ttl == sync_now_service.FAILURE_TTL


def test_concurrent_clicks_enqueue_one_job(connected, app):
    results: list[sync_now_service.SyncRequest] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def click() -> None:
        try:
            with app.app_context():
                barrier.wait()
                outcome = sync_now_service.request_sync(current_state(), HARBOUR_ACCOUNT)
                results.append(outcome)
                current_state().db.session.remove()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=click) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert sum(outcome.started for outcome in results) == 1
    assert len(all_runs(app)) == 1
    with app.app_context():
        state = current_state()
        assert state.redis.llen(f"rq:queue:{state.config.queue_name}") == 1


def test_plain_post_redirects_back_with_a_message(connected, app, harbour_client):
    response = sync_now(harbour_client, htmx=False)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(SETTINGS)
    page = harbour_client.get(SETTINGS).get_data(as_text=True)
    assert "Sync started" in page
    assert "waiting for the sync worker" in page
    assert "Refresh" in page
    assert len(all_runs(app)) == 1


def test_sync_now_needs_a_connection(app, harbour_client):
    response = harbour_client.post(SYNC_NOW, data={"csrf_token": csrf_token(harbour_client)}, headers=HTMX)
    assert response.status_code == 200
    assert "Connect to Xero before syncing." in response.get_data(as_text=True)
    assert all_runs(app) == []


def test_sync_now_refused_while_paused_then_allowed(connected, app, harbour_client):
    resume_at = utcnow() + timedelta(hours=3)
    _set_paused_until(app, resume_at)
    refused = sync_now(harbour_client).get_data(as_text=True)
    assert "daily limit" in refused
    assert format_time(resume_at) in refused
    assert all_runs(app) == []

    _set_paused_until(app, utcnow() - timedelta(minutes=1))
    accepted = sync_now(harbour_client).get_data(as_text=True)
    assert "waiting for the sync worker" in accepted
    assert len(all_runs(app)) == 1


def test_sync_now_without_csrf_is_refused(connected, app, harbour_client):
    response = harbour_client.post(SYNC_NOW, data={}, headers=HTMX)
    assert response.status_code == 400
    assert all_runs(app) == []


def test_sync_now_refused_by_plan(connected, app, basic_client):
    response = basic_client.post(SYNC_NOW, data={"csrf_token": csrf_token(basic_client)}, headers=HTMX)
    assert response.status_code == 403
    assert all_runs(app, "2") == []


def test_sync_now_needs_a_login(connected, app):
    anonymous = app.test_client()
    response = anonymous.post(SYNC_NOW, data={})
    assert response.status_code in (302, 400, 401)
    assert all_runs(app) == []


def _set_paused_until(app: Flask, moment) -> None:  # type: ignore[no-untyped-def]
    with db_session(app) as session:
        connection = session.query(Connection).filter_by(account_id=HARBOUR_ACCOUNT).one()
        connection.paused_until = moment
        session.commit()
