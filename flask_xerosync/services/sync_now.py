"""Sync Now!: start a run for an account's connection and queue its job, once per connection.

The job is enqueued by its import path (:data:`RUN_SYNC`), so the services never import the
worker; workers started with ``flask xerosync worker`` import it inside the app.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from redis.exceptions import RedisError
from rq import Queue

from ..models import ConnectionStatus, Run, RunKind, RunStatus, utcnow
from ..state import XeroSyncState
from .connections import connection_of
from .run_status import continuation_cursor, reconcile
from .runs import active_run, create_run, finish_run, format_time, has_synced, last_preview

logger = logging.getLogger(__name__)

RUN_SYNC = "flask_xerosync.worker.job.run_sync"
"""The RQ job of a run (:func:`flask_xerosync.worker.job.run_sync`), by import path."""
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


@dataclass(frozen=True)
class SyncRequest:
    """The answer to Sync Now!: the run to show, whether this request started it, and when no run
    could be started, a plain explanation (``refusal``)."""

    run: Run | None
    started: bool = False
    refusal: str = ""


def sync_queue(state: XeroSyncState) -> Queue:
    return Queue(state.config.queue_name, connection=state.redis)


def request_sync(state: XeroSyncState, account_id: str, *, preview: bool = False) -> SyncRequest:
    """Start a run for the account's connection, unless one is queued or running already.

    The first Sync Now! with an organisation starts a *preview* (it reads Xero, decides and writes
    nothing; the owner sees what the sync will do and settles what needs a person), as does
    ``preview=True``; once a preview is done, Sync Now! syncs.

    A per-connection Redis lock serialises concurrent clicks; inside it the run table is the source
    of truth (an active run whose job died is reconciled first, so it cannot block Sync Now!
    forever).
    """
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
        active = active_run(session, account_id)
        if active is not None:
            reconcile(session, state.redis, state.config.queue_name, active)
            if active.status in RunStatus.ACTIVE:
                return SyncRequest(active, refusal="A sync is already running; here is its progress.")
        paused_until = connection.paused_until
        if paused_until is not None and paused_until > utcnow():
            return SyncRequest(None, refusal=paused_message(paused_until))
        tenant_id = connection.tenant_id or ""
        first = not has_synced(session, account_id, tenant_id) and last_preview(session, account_id, tenant_id) is None
        kind = RunKind.PREVIEW if preview or first else RunKind.SYNC
        run = create_run(session, account_id, tenant_id, tenant_name=connection.tenant_name, kind=kind)
        if kind == RunKind.SYNC:
            run.cursor = continuation_cursor(session, account_id, tenant_id)
        if not queue_new_run(state, run):
            return SyncRequest(run, refusal=NOT_QUEUED)
        return SyncRequest(run, started=True)
    finally:
        lock.release()


def queue_new_run(state: XeroSyncState, run: Run) -> bool:
    """Commit a new run and queue its job. When Redis does not answer, the run fails saying so
    (:data:`NOT_QUEUED`) and the answer is False."""
    session = state.db.session
    session.commit()
    try:
        enqueue_run(state, run)
    except RedisError:
        logger.exception("xerosync: could not queue run %s", run.id)
        finish_run(session, run, RunStatus.FAILED, error=NOT_QUEUED)
        return False
    return True


def enqueue_run(
    state: XeroSyncState, run: Run, *, at: datetime | None = None, meta: dict[str, Any] | None = None
) -> None:
    """Queue the RQ job (``run.job_id``) of a run that is already committed (raises
    :class:`RedisError`). With ``at`` (aware), RQ's scheduler queues it then, rounded up to a whole
    second (a continuation of a run that waits for a limit); ``meta`` starts the job's meta (the
    progress a waiting run shows)."""
    options: dict[str, Any] = {
        "job_id": run.job_id,
        "job_timeout": state.config.job_timeout,
        "result_ttl": RESULT_TTL,
        "failure_ttl": FAILURE_TTL,
        "ttl": state.config.job_timeout,
        "description": f"flask-xerosync: {run.kind} of account {run.account_id}",
        "meta": dict(meta or {}),
    }
    queue = sync_queue(state)
    if at is None:
        queue.enqueue(RUN_SYNC, run.id, **options)
    else:
        queue.enqueue_at(whole_second(at), RUN_SYNC, run.id, **options)


def whole_second(moment: datetime) -> datetime:
    """``moment`` rounded up to a whole second (RQ's scheduler keeps whole seconds)."""
    return moment if moment.microsecond == 0 else moment.replace(microsecond=0) + timedelta(seconds=1)


def paused_message(resume_at: datetime) -> str:
    return (
        "Xero's daily limit of API calls for this organisation is used up, so the sync is paused. "
        f"It can continue after {format_time(resume_at)}; nothing already synced is lost."
    )
