"""A worker killed in the middle of a run: the page settles the run as failed (within seconds when
the whole worker dies, through RQ's heartbeat), and Sync Now! continues it from where it stood with
nothing lost or duplicated."""

from __future__ import annotations

import os
import re
import signal
import time

from flask import Flask
from flask.testing import FlaskClient

from flask_xerosync.models import RunStatus
from flask_xerosync.services.run_status import WORKER_STOPPED

from .conftest import OrgSetup, run_id_in, run_row, sync_now, work_queue
from .worker_process import assert_synced_once as synced_once
from .worker_process import await_progress, kill_worker, seed_slow_contacts, start_worker, stop_worker

PROGRESS = "/settings/accounting-sync/runs/{}/progress"
CONTACTS = 60


def await_settled(client: FlaskClient, run_id: str) -> str:
    """Poll the progress fragment, as the page does, until the run is no longer shown running."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        fragment = client.get(PROGRESS.format(run_id)).get_data(as_text=True)
        if "hx-trigger" not in fragment:
            return fragment
        time.sleep(0.2)
    raise AssertionError("the dead run still showed as running after 180 s")


def assert_synced_once(org: OrgSetup, app: Flask) -> None:
    """Every seeded contact is a host client exactly once, and no contact was pushed twice."""
    client_names = synced_once(org, app, "Kill Test", CONTACTS)
    contact_names = {contact["Name"] for contact in org.sandbox.control.contacts(org.tenant_id)}
    assert set(client_names) <= contact_names


def continue_after(app: Flask, client: FlaskClient, org: OrgSetup, dead_run_id: str) -> None:
    """Sync Now! after the dead run: a new run continues from the dead run's cursor and finishes."""
    org.sandbox.control.clear_faults(org.tenant_id)
    rerun_id = run_id_in(sync_now(client).get_data(as_text=True))
    assert rerun_id != dead_run_id
    assert (run_row(app, rerun_id).cursor or {}).get("continues") == dead_run_id
    work_queue(app)
    rerun = run_row(app, rerun_id)
    assert rerun.status == RunStatus.DONE, rerun.error
    assert rerun.cursor["continues"] == dead_run_id
    page = client.get(f"/settings/accounting-sync/runs/{rerun_id}").get_data(as_text=True)
    assert f'href="/settings/accounting-sync/runs/{dead_run_id}"' in page and "from where it stopped" in page
    assert_synced_once(org, app)


def test_killed_work_horse_is_reconciled_and_sync_now_continues(connected, app, harbour_client):
    seed_slow_contacts(connected, "Kill Test", CONTACTS, latency_ms=400)
    run_id = run_id_in(sync_now(harbour_client).get_data(as_text=True))
    worker = start_worker(app)
    try:
        meta = await_progress(app, run_row(app, run_id).job_id or "", worker)
        running = harbour_client.get(PROGRESS.format(run_id)).get_data(as_text=True)
        assert 'hx-trigger="load delay:1s"' in running and 'role="progressbar"' in running
        assert re.search(r"\d+ of \d+ clients|\d+ clients so far", running), running
        percent = int(re.search(r'aria-valuenow="(\d+)"', running).group(1))
        assert 0 <= percent < 100
        os.kill(meta["pid"], signal.SIGKILL)
        assert worker.wait(timeout=60) == 0
    finally:
        stop_worker(worker)

    assert run_row(app, run_id).status == RunStatus.RUNNING
    fragment = harbour_client.get(PROGRESS.format(run_id)).get_data(as_text=True)
    assert "Sync failed" in fragment and WORKER_STOPPED in fragment
    assert "hx-trigger" not in fragment
    assert run_row(app, run_id).status == RunStatus.FAILED

    continue_after(app, harbour_client, connected, run_id)


def test_dead_worker_is_known_through_its_heartbeat_and_sync_now_continues(connected, app, harbour_client):
    seed_slow_contacts(connected, "Kill Test", CONTACTS, latency_ms=400)
    run_id = run_id_in(sync_now(harbour_client).get_data(as_text=True))
    worker = start_worker(app)
    try:
        meta = await_progress(app, run_row(app, run_id).job_id or "", worker)
        kill_worker(worker, meta["pid"])
    finally:
        stop_worker(worker)
    killed_at = time.monotonic()

    fragment = await_settled(harbour_client, run_id)
    print(f"\ndead worker's run settled {time.monotonic() - killed_at:.1f} s after the kill")
    assert "Sync failed" in fragment and WORKER_STOPPED in fragment
    assert run_row(app, run_id).status == RunStatus.FAILED
    assert run_row(app, run_id).cursor, "the dead run committed no cursor to continue from"

    continue_after(app, harbour_client, connected, run_id)
