"""The ``flask xerosync`` command group.

Add a command with ``@xerosync_cli.command("name")``; commands run inside the app context
(Flask's ``AppGroup``), so ``current_state()`` works in them.
"""

from __future__ import annotations

import time

import click
from flask.cli import AppGroup
from rq import Queue

from .models import RunStatus, metadata
from .services.automatic import arm_missing_schedules
from .services.connections import connection_of
from .services.run_status import live_progress, reconcile
from .services.runs import history
from .services.sync_now import request_sync
from .state import current_state
from .web.rendering import progress_text, stage_label
from .worker.process import DEFAULT_HEARTBEAT, SyncWorker

xerosync_cli = AppGroup("xerosync", help="Xero sync: tables, connections, the worker.")


@xerosync_cli.command("create-tables")
def create_tables() -> None:
    """Create the extension's xerosync_* tables (existing ones are left alone)."""
    metadata.create_all(current_state().db.engine)
    click.echo("Created the xerosync tables that were missing.")


@xerosync_cli.command("status")
@click.argument("account_id")
def status(account_id: str) -> None:
    """Show an account's Xero connection: state, organisation, token expiry and last run."""
    session = current_state().db.session
    connection = connection_of(session, account_id)
    if connection is None:
        click.echo(f"Account {account_id}: never connected to Xero.")
        return
    click.echo(f"Account {account_id}: {connection.status}")
    if connection.status_reason:
        click.echo(f"  reason: {connection.status_reason}")
    if connection.tenant_id:
        click.echo(f"  organisation: {connection.tenant_name} ({connection.tenant_id})")
    if connection.connected_at:
        click.echo(f"  connected at: {connection.connected_at.isoformat()}")
    expiry = connection.token_expires_at.isoformat() if connection.token_expires_at else "no token stored"
    click.echo(f"  access token expires: {expiry}")
    last_runs = history(session, account_id, connection.tenant_id, limit=1)
    if not last_runs:
        click.echo("  last run: none")
    else:
        last_run = last_runs[0]
        finished = last_run.finished_at.isoformat() if last_run.finished_at else "not finished"
        click.echo(f"  last run: {last_run.status} (started {last_run.created_at.isoformat()}, {finished})")
        if last_run.error:
            click.echo(f"    {last_run.error}")


@xerosync_cli.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@click.option("--heartbeat", type=click.IntRange(min=1), default=DEFAULT_HEARTBEAT, show_default=True,
              help="Seconds between a running job's heartbeats; a dead worker's run is known after about twice that.")
def worker(burst: bool, heartbeat: int) -> None:
    """Run an RQ worker for the sync queue inside this app's context, with RQ's scheduler (the
    automatic syncs' schedules and webhook runs wait there until due). It survives Redis blips."""
    state = current_state()
    armed = arm_missing_schedules(state)
    if armed:
        click.echo(f"Armed the schedule of {armed} account(s) that sync automatically.")
    state.db.session.remove()
    queue = Queue(state.config.queue_name, connection=state.redis)
    SyncWorker([queue], connection=state.redis, heartbeat=heartbeat).work(burst=burst, with_scheduler=True)


@xerosync_cli.command("rotate-key")
def rotate_key() -> None:
    """Re-encrypt every stored token set with the first key of XEROSYNC_ENCRYPTION_KEY."""
    rotated = current_state().tokens.rotate_all()
    click.echo(f"Re-encrypted {rotated} stored Xero token set(s) with the first key.")


@xerosync_cli.command("sync")
@click.argument("account_id")
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Follow the run's progress until it ends (a worker must be running).")
def sync(account_id: str, wait: bool) -> None:
    """Sync one account now, like its Sync Now! button: queue a run for the worker (or show the
    one already running) and follow its progress. Exits with an error when the run does not finish."""
    state = current_state()
    request = request_sync(state, account_id)
    if request.run is None:
        raise click.ClickException(request.refusal)
    run = request.run
    click.echo(f"Run {run.id}: {'queued' if request.started else request.refusal}")
    if not wait:
        return
    last_line = ""
    while True:
        state.db.session.refresh(run)
        reconcile(state.db.session, state.redis, state.config.queue_name, run)
        if run.status not in RunStatus.ACTIVE:
            break
        progress = live_progress(state.redis, run)
        line = (
            f"  {stage_label(progress.stage)}: {progress_text(progress) or '…'} ({progress.percent}%)"
            if progress
            else f"  {run.status}…"
        )
        if line != last_line:
            click.echo(line)
            last_line = line
        state.db.session.rollback()  # end this read before waiting: never idle in a transaction
        time.sleep(1)
    for stage, counts in run.counts.items():
        done = ", ".join(f"{number} {outcome.replace('_', ' ')}" for outcome, number in counts.items() if number)
        click.echo(f"  {stage_label(stage)}: {done or 'nothing to do'}")
    if run.status != RunStatus.DONE:
        raise click.ClickException(f"{run.status}: {run.error}")
    click.echo(f"Run {run.id}: done ({run.api_calls} Xero API calls).")
