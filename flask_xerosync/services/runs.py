"""Sync runs in the database: the one active run of an account, history, finishing a run, and one
run's per-record log.

A run's *outcome* lives in the ``xerosync_run`` row (kept as history); its *live progress* lives in
the RQ job's ``meta`` while the job runs (see :mod:`flask_xerosync.worker.job` and
:mod:`.run_status`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..models import Outcome, RecordResult, Run, RunKind, RunStatus, utcnow
from .connections import DbSession

RECORD_FILTERS = {
    "all": None,
    "failed": (Outcome.FAILED,),
    "needs_review": (Outcome.NEEDS_REVIEW,),
    "created": (Outcome.CREATED,),
    "linked": (Outcome.LINKED,),
    "updated": (Outcome.UPDATED,),
    "skipped": (Outcome.SKIPPED,),
}
PROBLEMS = (Outcome.FAILED, Outcome.NEEDS_REVIEW)


def problems(session: DbSession, run: Run) -> int:
    """Records of the run that failed or wait for a person and were not decided since: a run with
    any did not fully succeed (a preview's count goes down as the owner decides)."""
    if not any(counts.get(outcome) for counts in (run.counts or {}).values() for outcome in PROBLEMS):
        return 0
    return int(session.scalar(
        select(func.count()).select_from(RecordResult)
        .where(RecordResult.run_id == run.id, RecordResult.outcome.in_(PROBLEMS), RecordResult.resolved.is_(False))
    ) or 0)


def format_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def job_id_for(run_id: str) -> str:
    """The RQ job id of a run: derived from the run id, so each run has exactly one job."""
    return f"xerosync-run-{run_id}"


def get_run(session: DbSession, account_id: str, run_id: str) -> Run | None:
    """The run, only if it belongs to the account (another account's run id gives None)."""
    return session.scalar(select(Run).where(Run.id == run_id, Run.account_id == account_id))


def active_run(session: DbSession, account_id: str) -> Run | None:
    """The account's queued or running run, if any (there is at most one)."""
    return session.scalar(
        select(Run)
        .where(Run.account_id == account_id, Run.status.in_(RunStatus.ACTIVE))
        .order_by(Run.created_at.desc())
        .limit(1)
    )


def history(session: DbSession, account_id: str, tenant_id: str | None, limit: int) -> list[Run]:
    """The account's most recent runs with this organisation, newest first (another
    organisation's runs are never shown as this one's)."""
    return list(
        session.scalars(
            select(Run).where(Run.account_id == account_id, Run.tenant_id == (tenant_id or ""))
            .order_by(Run.created_at.desc()).limit(limit)
        )
    )


def last_finished_run(session: DbSession, account_id: str, tenant_id: str | None) -> Run | None:
    return session.scalar(
        select(Run)
        .where(Run.account_id == account_id, Run.tenant_id == (tenant_id or ""), Run.status.in_(RunStatus.FINISHED))
        .order_by(Run.created_at.desc())
        .limit(1)
    )


def has_synced(session: DbSession, account_id: str, tenant_id: str | None) -> bool:
    """Whether a sync (not a preview) with this organisation ever finished or stopped."""
    return session.scalar(
        select(Run.id).where(Run.account_id == account_id, Run.tenant_id == (tenant_id or ""),
                             Run.kind == RunKind.SYNC, Run.status.in_(RunStatus.FINISHED)).limit(1)
    ) is not None


def last_preview(session: DbSession, account_id: str, tenant_id: str | None) -> Run | None:
    """The newest finished preview with this organisation."""
    return session.scalar(
        select(Run).where(Run.account_id == account_id, Run.tenant_id == (tenant_id or ""),
                          Run.kind == RunKind.PREVIEW, Run.status == RunStatus.DONE)
        .order_by(Run.created_at.desc()).limit(1)
    )


def create_run(session: DbSession, account_id: str, tenant_id: str, *, tenant_name: str = "",
               kind: str = RunKind.SYNC) -> Run:
    """A new queued run; the caller holds the per-connection guard (see :func:`.sync_now.request_sync`)."""
    run = Run(account_id=account_id, tenant_id=tenant_id, tenant_name=tenant_name, kind=kind,
              status=RunStatus.QUEUED, counts={})
    session.add(run)
    session.flush()
    run.job_id = job_id_for(run.id)
    return run


def finish_run(
    session: DbSession,
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
    ending can never overwrite the real outcome. It commits in a short session of its own (a page
    that reconciles a dead run never commits the host's ``db.session``), then refreshes ``run`` in
    the caller's session. Returns whether this call finished it.
    """
    values: dict[str, Any] = {"status": status, "error": error, "finished_at": utcnow()}
    if counts is not None:
        values["counts"] = counts
    if api_calls is not None:
        values["api_calls"] = api_calls
    if resume_at is not None:
        values["resume_at"] = resume_at
    with Session(session.get_bind(mapper=Run)) as own:
        result = own.execute(
            update(Run)
            .where(Run.id == run.id, Run.status.in_(RunStatus.ACTIVE))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        own.commit()
    session.refresh(run)
    return bool(result.rowcount)


@dataclass(frozen=True)
class RecordPage:
    records: list[RecordResult]
    filter: str
    page: int
    pages: int
    total: int


def record_page(session: DbSession, run: Run, filter_name: str, page: int, per_page: int = 50) -> RecordPage:
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


def record_counts(session: DbSession, run: Run) -> dict[str, int]:
    """How many log records the run has per filter, for the filter tabs."""
    rows = session.execute(
        select(RecordResult.outcome, func.count())
        .where(RecordResult.run_id == run.id)
        .group_by(RecordResult.outcome)
    ).all()
    by_outcome = {outcome: number for outcome, number in rows}
    counts = {name: sum(by_outcome.get(outcome, 0) for outcome in outcomes)
              for name, outcomes in RECORD_FILTERS.items() if outcomes is not None}
    return {"all": sum(by_outcome.values()), **counts}


def get_record(session: DbSession, run: Run, record_id: int) -> RecordResult | None:
    return session.scalar(
        select(RecordResult).where(RecordResult.id == record_id, RecordResult.run_id == run.id)
    )
