"""Redis restarted or gone in the middle of a run: the ``flask xerosync worker`` process lives on
(reconnecting with backoff), a run that Redis's absence stopped says so, and Sync Now! continues it
with nothing lost or duplicated."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_xerosync.models import Run, RunStatus
from flask_xerosync.services.run_status import QUEUE_UNREACHABLE

from .conftest import RestartableRedis, run_id_in, run_row, sync_now
from .worker_process import assert_synced_once, await_progress, seed_slow_contacts, start_worker, stop_worker

CONTACTS = 40
PROGRESS = "/settings/accounting-sync/runs/{}/progress"


@pytest.fixture
def redis_url(restartable_redis: RestartableRedis) -> str:
    """The app of these tests uses a Redis of their own, which they restart."""
    return restartable_redis.url


def await_end(app: Flask, client: FlaskClient, run_id: str, worker: object, log: Path) -> Run:
    """Poll the run's progress fragment as the page does (bounded; it settles a run whose job Redis
    no longer knows), until the run is no longer active, the worker alive throughout."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        client.get(PROGRESS.format(run_id))
        run = run_row(app, run_id)
        assert getattr(worker, "poll")() is None, f"the worker exited:\n{log.read_text()}"
        if run.status not in RunStatus.ACTIVE:
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not end within 120 s:\n{log.read_text()}")


def continue_if_stopped(app: Flask, harbour_client: FlaskClient, run: Run, worker: object, log: Path) -> None:
    """Sync Now! after a run Redis stopped: the same worker process continues it to the end."""
    if run.status == RunStatus.DONE:
        return
    assert run.status == RunStatus.FAILED and run.error == QUEUE_UNREACHABLE, (run.status, run.error)
    rerun_id = run_id_in(sync_now(harbour_client).get_data(as_text=True))
    assert (run_row(app, rerun_id).cursor or {}).get("continues") == run.id
    rerun = await_end(app, harbour_client, rerun_id, worker, log)
    assert rerun.status == RunStatus.DONE, rerun.error


@pytest.mark.parametrize("keep_data", [True, False], ids=["persistent", "emptied"])
def test_a_redis_restart_mid_run_leaves_the_worker_running(connected, app, harbour_client, restartable_redis,
                                                            keep_data, tmp_path):
    seed_slow_contacts(connected, "Blip Test", CONTACTS, latency_ms=300)
    run_id = run_id_in(sync_now(harbour_client).get_data(as_text=True))
    log = tmp_path / "worker.log"
    worker = start_worker(app, burst=False, log=log)
    try:
        await_progress(app, run_row(app, run_id).job_id or "", worker)
        restartable_redis.restart(keep_data=keep_data)
        connected.sandbox.control.clear_faults(connected.tenant_id)
        run = await_end(app, harbour_client, run_id, worker, log)
        print(f"\nRedis restarted {'with' if keep_data else 'without'} its data mid-run: the run ended "
              f"{run.status}{' (queue unreachable)' if run.error == QUEUE_UNREACHABLE else ''}")
        continue_if_stopped(app, harbour_client, run, worker, log)
        assert worker.poll() is None
    finally:
        stop_worker(worker)
    assert_synced_once(connected, app, "Blip Test", CONTACTS)


def test_a_run_that_loses_redis_says_the_queue_was_unreachable_and_sync_now_continues_it(
        connected, app, harbour_client, restartable_redis, tmp_path):
    seed_slow_contacts(connected, "Blip Test", CONTACTS, latency_ms=300)
    run_id = run_id_in(sync_now(harbour_client).get_data(as_text=True))
    log = tmp_path / "worker.log"
    worker = start_worker(app, burst=False, log=log)
    try:
        await_progress(app, run_row(app, run_id).job_id or "", worker)
        restartable_redis.stop(keep_data=True)
        run = await_end(app, harbour_client, run_id, worker, log)
        assert run.status == RunStatus.FAILED and run.error == QUEUE_UNREACHABLE, (run.status, run.error)
        assert "the job queue (Redis) was unreachable" in run.error
        connected.sandbox.control.clear_faults(connected.tenant_id)
        restartable_redis.start()
        continue_if_stopped(app, harbour_client, run, worker, log)
        assert worker.poll() is None
    finally:
        stop_worker(worker)
    assert_synced_once(connected, app, "Blip Test", CONTACTS)

