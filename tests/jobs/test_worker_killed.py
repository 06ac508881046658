"""A worker killed in the middle of a run: the page settles the run as failed, and Sync Now! again
finishes the job with nothing lost or duplicated."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from flask import Flask
from rq.job import Job
from sqlalchemy import select

from example_app.models import Client
from flask_xerosync.models import RunStatus
from flask_xerosync.services.run_status import WORKER_STOPPED
from flask_xerosync.state import current_state

from .conftest import db_session, run_id_in, run_row, sync_now, work_queue

PROGRESS = "/settings/accounting-sync/runs/{}/progress"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def start_worker(app: Flask) -> subprocess.Popen[bytes]:
    """``flask xerosync worker --burst`` for the example app, configured like the test app."""
    keys = ("XEROSYNC_CLIENT_ID", "XEROSYNC_CLIENT_SECRET", "XEROSYNC_ENCRYPTION_KEY", "XEROSYNC_REDIS_URL",
            "XEROSYNC_SANDBOX_URL", "SECRET_KEY", "SQLALCHEMY_DATABASE_URI")
    env = {**os.environ, **{key: str(app.config[key]) for key in keys}, "XEROSYNC_ALLOW_SANDBOX": "true"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH", "")]))
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "example_app", "xerosync", "worker", "--burst"],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def await_progress(app: Flask, job_id: str, worker: subprocess.Popen[bytes]) -> dict:
    """Poll the job's meta (bounded) until the run reports progress past the connection check."""
    with app.app_context():
        job = Job(job_id, connection=current_state().redis)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            meta = job.get_meta()
            if meta.get("stage") in ("clients", "items", "invoices") and meta.get("done"):
                return meta
            assert worker.poll() is None, worker.stderr.read().decode() if worker.stderr else ""
            time.sleep(0.02)
    raise AssertionError("the run reported no progress within 60 s")


def test_killed_worker_is_reconciled_and_a_rerun_completes(connected, app, harbour_client):
    control = connected.sandbox.control
    control.seed_contacts(connected.tenant_id, [
        {"Name": f"Kill Test {n:03d}", "EmailAddress": f"kill{n:03d}@sandbox.example", "IsCustomer": True}
        for n in range(60)
    ])
    control.faults(connected.tenant_id, latency_ms=400)
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
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    control.clear_faults(connected.tenant_id)

    assert run_row(app, run_id).status == RunStatus.RUNNING
    fragment = harbour_client.get(PROGRESS.format(run_id)).get_data(as_text=True)
    assert "Sync failed" in fragment and WORKER_STOPPED in fragment
    assert "hx-trigger" not in fragment
    assert run_row(app, run_id).status == RunStatus.FAILED

    rerun_id = run_id_in(sync_now(harbour_client).get_data(as_text=True))
    assert rerun_id != run_id
    work_queue(app)
    assert run_row(app, rerun_id).status == RunStatus.DONE, run_row(app, rerun_id).error

    contact_names = Counter(contact["Name"] for contact in control.contacts(connected.tenant_id))
    assert not [name for name, count in contact_names.items() if count > 1]
    with db_session(app) as session:
        client_names = Counter(session.scalars(select(Client.name).where(Client.business_id == 1)))
    assert not [name for name, count in client_names.items() if count > 1]
    assert all(f"Kill Test {n:03d}" in client_names for n in range(60))
    assert set(client_names) <= set(contact_names)
