"""Sync runs: the one active run of a connection, its live progress, reconciling it with RQ, history.

A run's *outcome* lives in the ``xerosync_run`` row (kept as history); its *live progress* lives in
the RQ job's ``meta`` while the job runs (see :mod:`flask_xerosync.jobs`). The two can disagree only
when the worker died, the job was cancelled or it expired in the queue: :func:`reconcile` settles
the row from what RQ says, so the page never shows a dead run as running.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from redis import Redis
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .models import Outcome, RecordResult, Run, RunStatus, utcnow

STAGE_LABELS = {
    "connect": "Checking the connection",
    "clients": "Clients",
    "items": "Services & Products",
    "invoices": "Invoices",
    "done": "Finishing",
}
# What the records of a stage are called in "120 of 500 clients".
STAGE_NOUNS = {"clients": "clients", "items": "services & products", "invoices": "invoices"}

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
CANCELLED = (
    "This run was cancelled before it finished. Nothing already synced is lost; Sync Now! to continue."
)

RECORD_FILTERS = {
    "all": None,
    "failed": (Outcome.FAILED,),
    "needs_review": (Outcome.NEEDS_REVIEW,),
}


def job_id_for(run_id: str) -> str:
    """The RQ job id of a run: derived from the run id, so each run has exactly one job."""
    return f"xerosync-run-{run_id}"


def get_run(session: Session, account_id: str, run_id: str) -> Run | None:
    """The run, only if it belongs to the account (another account's run id gives None)."""
    return session.scalar(select(Run).where(Run.id == run_id, Run.account_id == account_id))


def active_run(session: Session, account_id: str) -> Run | None:
    """The account's queued or running run, if any (there is at most one)."""
    return session.scalar(
        select(Run)
        .where(Run.account_id == account_id, Run.status.in_(RunStatus.ACTIVE))
        .order_by(Run.created_at.desc())
        .limit(1)
    )


def history(session: Session, account_id: str, limit: int) -> list[Run]:
    """The account's most recent runs, newest first."""
    return list(
        session.scalars(
            select(Run).where(Run.account_id == account_id).order_by(Run.created_at.desc()).limit(limit)
        )
    )


def last_finished_run(session: Session, account_id: str) -> Run | None:
    return session.scalar(
        select(Run)
        .where(Run.account_id == account_id, Run.status.in_(RunStatus.FINISHED))
        .order_by(Run.created_at.desc())
        .limit(1)
    )


def create_run(session: Session, account_id: str, tenant_id: str) -> Run:
    """A new queued run; the caller holds the per-connection guard (see ``jobs.request_sync``)."""
    run = Run(account_id=account_id, tenant_id=tenant_id, status=RunStatus.QUEUED, counts={})
    session.add(run)
    session.flush()
    run.job_id = job_id_for(run.id)
    return run


def finish_run(
    session: Session,
    run: Run,
    status: str,
    *,
    error: str = "",
    counts: dict[str, dict[str, int]] | None = None,
    api_calls: int | None = None,
    resume_at: datetime | None = None,
) -> bool:
    """Move an active run to a final state, unless something else already finished it.

    The update is conditional on the run still being active, so a reconcile racing the job's own
    ending can never overwrite the real outcome. Returns whether this call finished it.
    """
    values: dict[str, Any] = {"status": status, "error": error, "finished_at": utcnow()}
    if counts is not None:
        values["counts"] = counts
    if api_calls is not None:
        values["api_calls"] = api_calls
    if resume_at is not None:
        values["resume_at"] = resume_at
    result = session.execute(
        update(Run)
        .where(Run.id == run.id, Run.status.in_(RunStatus.ACTIVE))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    session.refresh(run)
    return bool(result.rowcount)


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


def reconcile(session: Session, redis: Redis, queue_name: str, run: Run) -> Run:
    """Settle an active run whose RQ job is gone, failed, stopped or cancelled.

    - job failed (its work-horse was killed, or RQ moved an abandoned job to the failed registry) →
      run ``failed`` with :data:`WORKER_STOPPED`;
    - job cancelled or stopped → ``cancelled``;
    - job hash missing: a queued run expired in the queue (RQ's ``ttl``) → ``expired``; a running
      one lost its worker and the failure record expired too → ``failed``.

    The run row is re-read before deciding, since the job may have just finished it.
    """
    if run.status not in RunStatus.ACTIVE:
        return run
    job = fetch_job(redis, run)
    if job is None and run.status == RunStatus.QUEUED and utcnow() - run.created_at < ENQUEUE_GRACE:
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
    else:
        finish_run(session, run, RunStatus.FAILED, error=WORKER_STOPPED)
    return run


@dataclass(frozen=True)
class Progress:
    """What the progress fragment shows for an active run (from the job's meta)."""

    stage: str
    done: int
    total: int | None
    counts: dict[str, dict[str, int]]
    api_calls: int
    stages: Sequence[str]

    @property
    def stage_label(self) -> str:
        return STAGE_LABELS.get(self.stage, self.stage.title())

    @property
    def of_text(self) -> str:
        """ "120 of 500 clients", or "" before the stage knows what it has to do."""
        noun = STAGE_NOUNS.get(self.stage)
        if noun is None:
            return ""
        if self.total is None:
            return f"{self.done} {noun} so far"
        return f"{self.done} of {self.total} {noun}"

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


@dataclass(frozen=True)
class RecordPage:
    records: list[RecordResult]
    filter: str
    page: int
    pages: int
    total: int


def record_page(session: Session, run: Run, filter_name: str, page: int, per_page: int = 50) -> RecordPage:
    """One page of the run's per-record log, filtered to all / failed / needs review."""
    if filter_name not in RECORD_FILTERS:
        filter_name = "all"
    outcomes = RECORD_FILTERS[filter_name]
    condition = [RecordResult.run_id == run.id]
    if outcomes is not None:
        condition.append(RecordResult.outcome.in_(outcomes))
    total = session.scalar(select(func.count()).select_from(RecordResult).where(*condition)) or 0
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    records = list(
        session.scalars(
            select(RecordResult)
            .where(*condition)
            .order_by(RecordResult.id)
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
    )
    return RecordPage(records=records, filter=filter_name, page=page, pages=pages, total=total)


def record_counts(session: Session, run: Run) -> dict[str, int]:
    """How many log records the run has per filter, for the filter tabs."""
    rows = session.execute(
        select(RecordResult.outcome, func.count())
        .where(RecordResult.run_id == run.id)
        .group_by(RecordResult.outcome)
    ).all()
    by_outcome = {outcome: number for outcome, number in rows}
    return {
        "all": sum(by_outcome.values()),
        "failed": by_outcome.get(Outcome.FAILED, 0),
        "needs_review": by_outcome.get(Outcome.NEEDS_REVIEW, 0),
    }


def get_record(session: Session, run: Run, record_id: int) -> RecordResult | None:
    return session.scalar(
        select(RecordResult).where(RecordResult.id == record_id, RecordResult.run_id == run.id)
    )
