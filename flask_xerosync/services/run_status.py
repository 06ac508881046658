"""An active run as RQ sees it: settling the row of a run whose job died, and live progress.

The run row and the RQ job can disagree only when the worker died, the job was cancelled or it
expired in the queue: :func:`reconcile` settles the row from what RQ says, so no page shows a dead
run as running (``flask xerosync worker`` renews a running job every few seconds, so a dead
worker's job expires within about 12 s; see :mod:`flask_xerosync.worker.process`). The next sync of
a run that a dead worker or an unreachable queue stopped continues from where it stood
(:func:`continuation_cursor`). While the job runs, its ``meta`` holds the live progress
(:func:`live_progress`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from typing import Any

from redis import Redis
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import select

from ..models import Run, RunKind, RunStatus, utcnow
from .connections import DbSession
from .runs import finish_run, job_id_for

WORKER_STOPPED = (
    "The sync worker stopped before the run finished. Nothing already synced is lost; "
    "Sync Now! to continue."
)
EXPIRED_IN_QUEUE = (
    "No sync worker picked this run up in time, so it expired. Nothing was changed; make sure the "
    "sync worker is running, then Sync Now! again."
)
# Sync Now! commits the run before it enqueues the job: a queued run this young whose job is not in
# Redis yet is still being enqueued, not expired.
ENQUEUE_GRACE = timedelta(seconds=60)
QUEUE_UNREACHABLE = (
    "The sync stopped because the job queue (Redis) was unreachable. Nothing already synced is lost; "
    "Sync Now! to continue once it answers again."
)
WAIT_LOST = (
    "The sync was waiting for Xero's limit, but its continuation was lost from the job queue. "
    "Nothing already synced is lost; Sync Now! to continue."
)
CANCELLED = (
    "This run was cancelled before it finished. Nothing already synced is lost; Sync Now! to continue."
)
# Runs stopped from outside (not by Xero or the data): the next sync goes on from where they stood.
CONTINUABLE = (WORKER_STOPPED, QUEUE_UNREACHABLE, WAIT_LOST)


def fetch_job(redis: Redis, run: Run) -> Job | None:
    try:
        return Job.fetch(run.job_id or job_id_for(run.id), connection=redis)
    except NoSuchJobError:
        return None


def _job_status(job: Job) -> JobStatus | None:
    try:
        return job.get_status()
    except InvalidJobOperation:
        return None


def reconcile(session: DbSession, redis: Redis, queue_name: str, run: Run) -> Run:
    """Settle an active run whose RQ job is gone, failed, stopped or cancelled.

    - job failed (its work-horse was killed, or RQ moved an abandoned job to the failed registry) →
      run ``failed`` with :data:`WORKER_STOPPED`;
    - job cancelled or stopped → ``cancelled``;
    - job hash missing: a queued run expired in the queue (RQ's ``ttl``) → ``expired``; a running
      one lost its worker and the failure record expired too → ``failed``; a waiting one (its
      continuation is scheduled in RQ's ``ScheduledJobRegistry`` for ``resume_at``, which counts
      as alive) is given until ``resume_at`` + :data:`ENQUEUE_GRACE` for its continuation to be
      queued and picked up, then → ``failed``.

    The run row is re-read before deciding, since the job may have just finished it.
    """
    if run.status not in RunStatus.ACTIVE:
        return run
    job = fetch_job(redis, run)
    if job is None and run.status == RunStatus.QUEUED and utcnow() - run.created_at < ENQUEUE_GRACE:
        return run
    if job is None and run.status == RunStatus.WAITING and utcnow() < (run.resume_at or utcnow()) + ENQUEUE_GRACE:
        return run
    if job is not None and job.id in ScheduledJobRegistry(queue_name, connection=redis):
        return run
    status = _job_status(job) if job is not None else None
    if status == JobStatus.STARTED:
        # Moves executions whose heartbeat expired (worker killed outright) to the failed registry.
        StartedJobRegistry(queue_name, connection=redis).cleanup()
        status = _job_status(job) if job is not None else None
    if status in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED, JobStatus.CREATED):
        return run
    session.refresh(run)
    if run.status not in RunStatus.ACTIVE:
        return run
    if status in (JobStatus.CANCELED, JobStatus.STOPPED):
        finish_run(session, run, RunStatus.CANCELLED, error=CANCELLED)
    elif status is None and run.status == RunStatus.QUEUED:
        finish_run(session, run, RunStatus.EXPIRED, error=EXPIRED_IN_QUEUE)
    elif status is None and run.status == RunStatus.WAITING:
        finish_run(session, run, RunStatus.FAILED, error=WAIT_LOST)
    else:
        finish_run(session, run, RunStatus.FAILED, error=WORKER_STOPPED)
    return run


def continuation_cursor(session: DbSession, account_id: str, tenant_id: str) -> dict[str, Any] | None:
    """Where the organisation's next sync starts: the cursor of its last sync when a dead worker or
    an unreachable queue stopped it (everything up to that cursor was committed with it, so nothing
    is read or written twice), marked ``continues: <that run's id>``; None to start afresh."""
    last = session.scalar(
        select(Run).where(Run.account_id == account_id, Run.tenant_id == tenant_id, Run.kind == RunKind.SYNC,
                          Run.status.in_(RunStatus.FINISHED))
        .order_by(Run.created_at.desc()).limit(1)
    )
    if last is None or last.status != RunStatus.FAILED or last.error not in CONTINUABLE or not last.cursor:
        return None
    return {**last.cursor, "continues": last.id}


@dataclass(frozen=True)
class Progress:
    """An active run's progress (from the job's meta): where it is, and how far overall."""

    stage: str
    done: int
    total: int | None
    counts: dict[str, dict[str, int]]
    api_calls: int
    stages: Sequence[str]

    @property
    def step(self) -> int:
        """1-based position of the current stage among the run's stages ("done": the last one)."""
        if self.stage in self.stages:
            return self.stages.index(self.stage) + 1
        return len(self.stages) if self.stage == "done" else 1

    @property
    def percent(self) -> int:
        """Overall progress across stages, at most 99: only a finished run shows 100%."""
        if not self.stages:
            return 0
        if self.stage == "done":
            return 99
        fraction = 0.0
        if self.total:
            fraction = min(self.done, self.total) / self.total
        overall = (self.step - 1 + fraction) / len(self.stages)
        return max(0, min(99, math.floor(overall * 100)))


def live_progress(redis: Redis, run: Run) -> Progress | None:
    """The running job's progress, or None while no progress was reported yet."""
    job = fetch_job(redis, run)
    if job is None:
        return None
    meta = job.get_meta()
    if "stage" not in meta:
        return None
    total = meta.get("total")
    return Progress(
        stage=str(meta["stage"]),
        done=int(meta.get("done") or 0),
        total=int(total) if total is not None else None,
        counts=dict(meta.get("counts") or {}),
        api_calls=int(meta.get("api_calls") or 0),
        stages=tuple(meta.get("stages") or ()),
    )
