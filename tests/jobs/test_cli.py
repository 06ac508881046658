"""``flask xerosync sync ACCOUNT_ID``: the command-line Sync Now!."""

from __future__ import annotations

from flask_xerosync.models import RunStatus

from .conftest import all_runs, work_queue
from .test_worker_killed import start_worker


def test_sync_command_queues_a_run_for_the_worker(connected, app):
    runner = app.test_cli_runner()
    queued = runner.invoke(args=["xerosync", "sync", "1", "--no-wait"])
    assert queued.exit_code == 0, queued.output
    assert "queued" in queued.output
    again = runner.invoke(args=["xerosync", "sync", "1", "--no-wait"])
    assert "already running" in again.output
    assert len(all_runs(app)) == 1
    work_queue(app)
    assert [run.status for run in all_runs(app)] == [RunStatus.DONE]


def test_sync_command_follows_the_run_to_its_end(connected, app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["xerosync", "sync", "1", "--no-wait"]).exit_code == 0
    worker = start_worker(app)
    try:
        result = runner.invoke(args=["xerosync", "sync", "1"])
        assert worker.wait(timeout=60) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert result.exit_code == 0, result.output
    assert "done (" in result.output and "Clients:" in result.output
    assert [run.status for run in all_runs(app)] == [RunStatus.DONE]


def test_sync_command_refuses_an_account_without_a_connection(app):
    result = app.test_cli_runner().invoke(args=["xerosync", "sync", "2"])
    assert result.exit_code == 1
    assert "Connect to Xero before syncing." in result.output
