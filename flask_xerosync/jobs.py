"""Sync Now! as an RQ job: enqueue one run per connection, run the engine, report progress.

**Workers run inside the app context.** The job uses ``current_app`` (the host's database, HostData,
config and Redis), so a worker must be started where the app exists: ``flask xerosync worker``
builds the app, enters ``app.app_context()`` and runs an RQ worker on ``XEROSYNC_QUEUE_NAME``; a
plain ``rq worker`` command cannot run these jobs. With RQ's default forking ``Worker`` each job runs
in a work-horse forked from that context; if the work-horse dies (OOM killer, ``kill -9``) the
worker marks the job failed at once, and if the whole worker dies RQ moves the job to its failed
registry when its heartbeat expires. The run row is then settled by :func:`runs.reconcile` the next
time the page polls it.

Progress lives in the job's ``meta`` (``stage``, ``done``, ``total``, ``counts``, ``api_calls``,
``stages``, and ``pid``, the process running the job; written on every progress event, read by the
page); the outcome lives in the run row.
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from redis.exceptions import RedisError
from rq import Queue, get_current_job
from rq.job import Job
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import runs, signals
from .errors import DailyLimitReached, ReconnectNeeded, XeroSyncError
from .extension import XeroSyncState, current_state
from .models import Connection, ConnectionStatus, Preferences, Run, RunStatus, utcnow
from .settings_service import preferences_for
from .sync.engine import ProgressEvent, SyncEngine
from .sync.store import SyncStore
from .xero.client import XeroClient
from .xero.ratelimit import RateLimiter

logger = logging.getLogger(__name__)

# How long a finished job's hash (its result and final meta) and a failed one's stay in Redis.
RESULT_TTL = 24 * 3600
FAILURE_TTL = 7 * 24 * 3600
# Two Sync Now! clicks at once: the second waits for the first to enqueue, then finds its run.
GUARD_KEY = "xerosync:sync-now:{connection_id}"
GUARD_TIMEOUT = 30
GUARD_WAIT = 10

NOT_QUEUED = (
    "The sync could not be queued because the job queue (Redis) did not answer. Nothing was "
    "changed; Sync Now! again in a moment."
)
GENERIC_FAILURE = (
    "The sync stopped because of an unexpected error. Nothing already synced is lost; "
    "Sync Now! to try again. If it keeps happening, contact support."
)


@dataclass(frozen=True)
class SyncRequest:
    """The answer to Sync Now!: the run to show, whether this request started it, and when no run
    could be started, a plain explanation (``refusal``)."""

    run: Run | None
    started: bool = False
    refusal: str = ""


def sync_queue(state: XeroSyncState) -> Queue:
    return Queue(state.config.queue_name, connection=state.redis)


def connection_of(session: Session, account_id: str) -> Connection | None:
    return session.scalar(select(Connection).where(Connection.account_id == account_id))


def request_sync(account_id: str, *, enqueue: bool = True) -> SyncRequest:
    """Start a run for the account's connection, unless one is queued or running already.

    A per-connection Redis lock serialises concurrent clicks; inside it the run table is the source
    of truth (an active run whose job died is reconciled first, so it cannot block Sync Now!
    forever). With ``enqueue=False`` the run is created but not queued: the caller runs
    :func:`run_sync` itself (the ``flask xerosync sync`` command).
    """
    state = current_state()
    session = state.db.session
    connection = connection_of(session, account_id)
    if connection is None or connection.status != ConnectionStatus.CONNECTED:
        return SyncRequest(None, refusal="Connect to Xero before syncing.")
    lock = state.redis.lock(
        GUARD_KEY.format(connection_id=connection.id), timeout=GUARD_TIMEOUT, blocking_timeout=GUARD_WAIT
    )
    if not lock.acquire():
        return SyncRequest(None, refusal="A sync is being started right now; refresh the page in a moment.")
    try:
        active = runs.active_run(session, account_id)
        if active is not None:
            runs.reconcile(session, state.redis, state.config.queue_name, active)
            if active.status in RunStatus.ACTIVE:
                return SyncRequest(active, refusal="A sync is already running; here is its progress.")
        paused_until = connection.paused_until
        if paused_until is not None and paused_until > utcnow():
            return SyncRequest(None, refusal=paused_message(paused_until))
        run = runs.create_run(session, account_id, connection.tenant_id or "")
        session.commit()
        if enqueue:
            try:
                sync_queue(state).enqueue(
                    run_sync,
                    run.id,
                    job_id=run.job_id,
                    job_timeout=state.config.job_timeout,
                    result_ttl=RESULT_TTL,
                    failure_ttl=FAILURE_TTL,
                    ttl=state.config.job_timeout,
                    description=f"flask-xerosync: sync of account {account_id}",
                )
            except RedisError:
                logger.exception("xerosync: could not queue run %s", run.id)
                runs.finish_run(session, run, RunStatus.FAILED, error=NOT_QUEUED)
                return SyncRequest(run, refusal=NOT_QUEUED)
        return SyncRequest(run, started=True)
    finally:
        lock.release()


def paused_message(resume_at: datetime) -> str:
    return (
        "Xero's daily limit of API calls for this organisation is used up, so the sync is paused. "
        f"It can continue after {format_time(resume_at)}; nothing already synced is lost."
    )


def format_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def run_sync(run_id: str, report: Callable[[ProgressEvent], None] | None = None) -> dict[str, dict[str, int]]:
    """The RQ job (``flask_xerosync.jobs.run_sync``): run one queued run to its end.

    Must run inside the app context (see the module docstring). ``report`` receives every progress
    event as well (the CLI prints them). Returns the final counts (empty when the run did not
    finish); known Xero conditions end the run with a plain reason, anything else also fails the
    RQ job after the run row says so.
    """
    state = current_state()
    # A forked work-horse must not reuse database connections inherited from the worker process.
    state.db.engine.dispose(close=False)
    try:
        return _SyncJob(state, run_id, get_current_job(), report).run()
    finally:
        state.db.session.remove()


class _SyncJob:
    def __init__(
        self,
        state: XeroSyncState,
        run_id: str,
        job: Job | None,
        report: Callable[[ProgressEvent], None] | None,
    ) -> None:
        self.state = state
        self.session = state.db.session
        self.run_id = run_id
        self.job = job
        self.report = report
        self.last_event: ProgressEvent | None = None

    def run(self) -> dict[str, dict[str, int]]:
        run = self.session.get(Run, self.run_id)
        if run is None or run.status not in RunStatus.ACTIVE:
            logger.warning("xerosync: run %s is gone or already finished; nothing to do", self.run_id)
            return {}
        connection = connection_of(self.session, run.account_id)
        if connection is None or connection.status != ConnectionStatus.CONNECTED or connection.tenant_id != run.tenant_id:
            self._fail(run, "The Xero connection changed before this sync started. Check Accounting Sync settings, then Sync Now! again.")
            return {}
        preferences = preferences_for(run.account_id)
        stages = planned_stages(preferences)
        run.status = RunStatus.RUNNING
        run.started_at = utcnow()
        run.stage = stages[0]
        connection.paused_until = None
        self.session.commit()
        self._save_meta({"run_id": run.id, "stages": stages, "stage": stages[0], "done": 0, "total": None,
                         "counts": {}, "api_calls": 0, "pid": os.getpid()})
        signals.sync_started.send(current_app._get_current_object(), account_id=run.account_id, run_id=run.id)
        client: XeroClient | None = None
        try:
            client = build_client(self.state, connection, idempotency_scope=run.id)
            counts = SyncEngine(
                account_id=run.account_id,
                tenant_id=run.tenant_id,
                host=self.state.host_data,
                client=client,
                store=SyncStore(self.session),
                preferences=preferences,
                run_id=run.id,
                report=lambda event: self._on_progress(run, event),
            ).run()
        except ReconnectNeeded as exc:
            self._reconnect_needed(run, connection, str(exc), calls_of(client))
        except DailyLimitReached as exc:
            self._pause(run, connection, exc.retry_at, calls_of(client))
        except XeroSyncError as exc:
            self._fail(run, str(exc), calls_of(client))
        except Exception:
            logger.exception("xerosync: run %s of account %s failed", run.id, run.account_id)
            self._fail(run, GENERIC_FAILURE, calls_of(client))
            raise
        else:
            self._done(run, counts, calls_of(client))
            return counts
        return {}

    def _on_progress(self, run: Run, event: ProgressEvent) -> None:
        """Every event goes to the job's meta; the run row takes the stage and counts when a stage
        ends, as pending changes committed with the engine's next batch (never a commit of ours in
        the middle of the engine's unit of work)."""
        self.last_event = event
        self._save_meta({"stage": event.stage, "done": event.done, "total": event.total,
                         "counts": event.counts, "api_calls": event.api_calls})
        if event.stage != run.stage:
            run.stage = event.stage
            run.counts = copy.deepcopy(event.counts)
            run.api_calls = event.api_calls
        if self.report is not None:
            self.report(event)

    def _save_meta(self, values: dict[str, object]) -> None:
        if self.job is None:
            return
        self.job.meta.update(values)
        self.job.save_meta()

    def _partial_counts(self) -> dict[str, dict[str, int]]:
        return copy.deepcopy(self.last_event.counts) if self.last_event else {}

    def _done(self, run: Run, counts: dict[str, dict[str, int]], api_calls: int) -> None:
        self.session.commit()
        runs.finish_run(self.session, run, RunStatus.DONE, counts=counts, api_calls=api_calls)
        self._save_meta({"stage": "done", "counts": counts, "api_calls": api_calls})
        signals.sync_finished.send(
            current_app._get_current_object(), account_id=run.account_id, run_id=run.id, counts=counts
        )

    def _fail(self, run: Run, message: str, api_calls: int | None = None) -> None:
        self.session.rollback()
        runs.finish_run(
            self.session, run, RunStatus.FAILED, error=message, counts=self._partial_counts(), api_calls=api_calls
        )
        signals.sync_failed.send(
            current_app._get_current_object(), account_id=run.account_id, run_id=run.id, error=message
        )

    def _reconnect_needed(self, run: Run, connection: Connection, reason: str, api_calls: int) -> None:
        self.session.rollback()
        self.session.refresh(connection)
        if connection.status != ConnectionStatus.RECONNECT_NEEDED:
            connection.status = ConnectionStatus.RECONNECT_NEEDED
            connection.status_reason = reason
            self.session.commit()
            signals.disconnected.send(
                current_app._get_current_object(),
                account_id=connection.account_id,
                tenant_id=connection.tenant_id,
                reason="reconnect_needed",
            )
        self._fail(run, f"Xero needs you to reconnect: {reason}", api_calls)

    def _pause(self, run: Run, connection: Connection, resume_at: datetime, api_calls: int) -> None:
        self.session.rollback()
        connection.paused_until = resume_at
        self.session.commit()
        message = paused_message(resume_at)
        runs.finish_run(
            self.session, run, RunStatus.PAUSED, error=message, counts=self._partial_counts(),
            api_calls=api_calls, resume_at=resume_at,
        )
        signals.sync_failed.send(
            current_app._get_current_object(), account_id=run.account_id, run_id=run.id, error=message
        )


def calls_of(client: XeroClient | None) -> int:
    return client.calls if client is not None else 0


def planned_stages(preferences: Preferences) -> list[str]:
    """The stages this run goes through, in the engine's order (for the overall progress)."""
    stages = ["connect"]
    if preferences.sync_clients:
        stages.append("clients")
    if preferences.sync_items:
        stages.append("items")
    if preferences.sync_invoices:
        stages.append("invoices")
    return stages


def build_client(state: XeroSyncState, connection: Connection, *, idempotency_scope: str = "") -> XeroClient:
    """A connection's API client. A run passes its id as ``idempotency_scope``: a retry within the
    run replays Xero's first answer, while a later run (after the user fixed something in Xero) is
    answered afresh; natural keys keep that later write an update rather than a duplicate."""
    config = state.config
    tenant_id = connection.tenant_id or ""
    limiter = RateLimiter(
        state.redis,
        tenant_id,
        per_minute=config.rate_limit_per_minute,
        window_seconds=config.rate_limit_window,
        concurrent=config.concurrent_limit,
        per_day=config.daily_limit,
    )
    return XeroClient(
        state.xero_session(connection),
        tenant_id,
        api_url=config.api_url,
        limiter=limiter,
        page_size=config.page_size,
        batch_size=config.batch_size,
        timeout=config.http_timeout,
        max_retries=config.max_retries,
        idempotency_scope=idempotency_scope,
        tenant_name=connection.tenant_name,
    )
