"""``flask xerosync worker`` as a real process for the recovery tests: start it, wait for a run's
progress, kill it."""

from __future__ import annotations

import contextlib
import os
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
from flask_xerosync.state import current_state

from .conftest import OrgSetup, db_session

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONFIG_KEYS = ("XEROSYNC_CLIENT_ID", "XEROSYNC_CLIENT_SECRET", "XEROSYNC_ENCRYPTION_KEY", "XEROSYNC_REDIS_URL",
               "XEROSYNC_SANDBOX_URL", "SECRET_KEY", "SQLALCHEMY_DATABASE_URI")


def seed_slow_contacts(org: OrgSetup, name: str, count: int, latency_ms: int) -> None:
    """``count`` customers named "<name> 000"… in the organisation, behind a slow Xero (every call
    takes ``latency_ms``), so a run is still going when the test breaks something."""
    control = org.sandbox.control
    control.seed_contacts(org.tenant_id, [
        {"Name": f"{name} {n:03d}", "EmailAddress": f"{name.split()[0].lower()}{n:03d}@sandbox.example",
         "IsCustomer": True}
        for n in range(count)
    ])
    control.faults(org.tenant_id, latency_ms=latency_ms)


def assert_synced_once(org: OrgSetup, app: Flask, name: str, count: int) -> Counter[str]:
    """Every seeded contact ("<name> 000"…) is a host client exactly once, and no contact was
    pushed twice; returns the host's client names."""
    contact_names = Counter(contact["Name"] for contact in org.sandbox.control.contacts(org.tenant_id))
    assert not [seen for seen, times in contact_names.items() if times > 1]
    with db_session(app) as session:
        client_names = Counter(session.scalars(select(Client.name).where(Client.business_id == 1)))
    assert not [seen for seen, times in client_names.items() if times > 1]
    assert all(f"{name} {n:03d}" in client_names for n in range(count))
    return client_names


def start_worker(app: Flask, *, burst: bool = True, log: Path | None = None) -> subprocess.Popen[bytes]:
    """``flask xerosync worker [--burst]`` for the example app, configured like the test app, in a
    session of its own (so the worker and its scheduler can be killed together). Its log goes to
    ``log`` when given (a worker that runs long must not fill a pipe nobody reads), else to a pipe."""
    options = ["--burst"] if burst else []
    env = {**os.environ, **{key: str(app.config[key]) for key in CONFIG_KEYS}, "XEROSYNC_ALLOW_SANDBOX": "true"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH", "")]))
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "example_app", "xerosync", "worker", *options],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, start_new_session=True,
        stderr=log.open("wb") if log is not None else subprocess.PIPE,
    )


def await_progress(app: Flask, job_id: str, worker: subprocess.Popen[bytes], stages: tuple[str, ...] = ("clients",
                   "items", "invoices")) -> dict:
    """Poll the job's meta (bounded) until the run reports progress in one of ``stages``."""
    with app.app_context():
        job = Job(job_id, connection=current_state().redis)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            meta = job.get_meta()
            if meta.get("stage") in stages and meta.get("done"):
                return meta
            assert worker.poll() is None, worker.stderr.read().decode() if worker.stderr else ""
            time.sleep(0.02)
    raise AssertionError("the run reported no progress within 60 s")


def kill_worker(worker: subprocess.Popen[bytes], horse_pid: int) -> None:
    """Kill the worker and its scheduler, as a lost machine or ``kill -9`` of its group would, and
    wait (bounded) for its work-horse, in a process group of its own, to die with it."""
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    if not sys.platform.startswith("linux"):  # the work-horse follows its worker on Linux only
        os.kill(horse_pid, signal.SIGKILL)
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not running(horse_pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(horse_pid, signal.SIGKILL)
    raise AssertionError("the work-horse outlived its worker")


def running(pid: int) -> bool:
    """Whether the process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
