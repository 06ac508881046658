"""The RQ job of a sync run: ``run_sync(run_id)`` runs one queued run to its end.

**Workers run inside the app context.** The job uses ``current_app`` (the host's database, HostData,
config and Redis), so a worker must be started where the app exists: ``flask xerosync worker``
builds the app, enters ``app.app_context()`` and runs an RQ worker on ``XEROSYNC_QUEUE_NAME``; a
plain ``rq worker`` command cannot run these jobs. With RQ's default forking ``Worker`` each job runs
in a work-horse forked from that context; if the work-horse dies (OOM killer, ``kill -9``) the
worker marks the job failed at once, and if the whole worker dies RQ moves the job to its failed
registry when its heartbeat expires. The run row is then settled by
:func:`flask_xerosync.services.run_status.reconcile` the next time the page polls it.

**Runs yield rather than sleep.** When the next call to Xero would wait for a limit longer than
``XEROSYNC_MAX_LIMIT_WAIT`` (:class:`~flask_xerosync.errors.LimitWait`), or the organisation's
daily allowance is spent (:class:`~flask_xerosync.errors.DailyLimitReached`), the run keeps what the
engine committed (it commits per page and batch; ``Run.cursor`` says where it goes on), becomes
``waiting`` until ``resume_at``, and hands its worker back: a continuation job of the same run,
``xerosync-run-<run id>-<hex>``, is scheduled with RQ's scheduler (``enqueue_at``) and any worker
runs it then. The run's ``job_id`` names its current job; a job that is no longer it does nothing.
``api_calls`` and the counts add up across the parts.

Progress lives in the job's ``meta`` (``stage``, ``done``, ``total``, ``counts``, ``api_calls``,
``stages``, ``waiting_until`` while the run waits, and ``pid``, the process running the job;
written on every progress event, read by the page); the outcome lives in the run row. Sync Now!
enqueues this job by its import path (:data:`flask_xerosync.services.sync_now.RUN_SYNC`).
"""

from __future__ import annotations

import copy
import logging
import os
import secrets
from datetime import datetime

from redis.exceptions import RedisError
from rq import get_current_job
from rq.job import Job

from .. import signals
from ..errors import DailyLimitReached, LimitWait, ReconnectNeeded, XeroSyncError
from ..host import PaidStatus
from ..models import Connection, ConnectionStatus, Run, RunKind, RunStatus, utcnow
from ..services.connections import connection_of
from ..services.preferences import preferences_for
from ..services.run_status import QUEUE_UNREACHABLE
from ..services.runs import finish_run, job_id_for, problems
from ..services.sync_now import NOT_QUEUED, enqueue_run
from ..services.xero_api import open_api
from ..state import XeroSyncState, announce, current_state
from ..sync.engine import SyncEngine, planned_stages
from ..sync.progress import ProgressEvent
from ..sync.store import SyncStore
from ..xero.api import XeroApi

logger = logging.getLogger(__name__)

GENERIC_FAILURE = (
    "The sync stopped because of an unexpected error. Nothing already synced is lost; "
    "Sync Now! to try again. If it keeps happening, contact support."
)


def run_sync(run_id: str) -> dict[str, dict[str, int]]:
    """The RQ job (``flask_xerosync.worker.job.run_sync``): run one queued run to its end.

    Must run inside the app context (see the module docstring). Returns the final counts (empty
    when the run did not finish); known Xero conditions end the run with a plain reason, anything
    else also fails the RQ job after the run row says so.
    """
    state = current_state()
    # A forked work-horse must not reuse database connections inherited from the worker process.
    state.db.engine.dispose(close=False)
    try:
        return _SyncJob(state, run_id, get_current_job()).run()
    finally:
        state.db.session.remove()


class _SyncJob:
    def __init__(self, state: XeroSyncState, run_id: str, job: Job | None) -> None:
        self.state = state
        self.session = state.db.session
        self.run_id = run_id
        self.job = job
        self.last_event: ProgressEvent | None = None
        self.calls_before = 0
        """Calls made by the run's earlier parts (before it waited for a limit)."""

    def run(self) -> dict[str, dict[str, int]]:
        run = self.session.get(Run, self.run_id)
        if run is None or run.status not in RunStatus.ACTIVE:
            logger.warning("xerosync: run %s is gone or already finished; nothing to do", self.run_id)
            return {}
        if self.job is not None and run.job_id and self.job.id != run.job_id:
            logger.warning("xerosync: job %s is no longer run %s's job (%s); nothing to do",
                           self.job.id, run.id, run.job_id)
            return {}
        connection = connection_of(self.session, run.account_id)
        if connection is None or connection.status != ConnectionStatus.CONNECTED or connection.tenant_id != run.tenant_id:
            self._fail(run, "The Xero connection changed before this sync started. Check Accounting Sync settings, then Sync Now! again.")
            return {}
        preferences = preferences_for(self.session, run.account_id)
        stages = planned_stages(preferences, run.cursor)
        continued = run.started_at is not None
        self.calls_before = run.api_calls or 0
        run.status = RunStatus.RUNNING
        run.started_at = run.started_at or utcnow()
        run.resume_at = None
        run.stage = run.stage or stages[0]
        connection.paused_until = None
        self.session.commit()
        self._save_meta({"run_id": run.id, "stages": stages, "stage": run.stage, "done": 0, "total": None,
                         "counts": copy.deepcopy(run.counts or {}), "api_calls": self.calls_before,
                         "pid": os.getpid(), "waiting_until": None})
        if not continued:
            announce(signals.sync_started, account_id=run.account_id, run_id=run.id)
        client: XeroApi | None = None
        try:
            client = open_api(self.state, connection, idempotency_scope=run.id)
            client.on_retry = lambda attempt, attempts: self._save_meta({"retry": [attempt, attempts]})
            engine = SyncEngine(
                account_id=run.account_id,
                tenant_id=run.tenant_id,
                host=self.state.host_data,
                api=client,
                store=SyncStore(self.session),
                preferences=preferences,
                run_id=run.id,
                xero_app_url=self.state.config.xero_app_url,
                report=lambda event: self._on_progress(run, event),
                dry_run=run.kind == RunKind.PREVIEW,
                cursor=run.cursor,
                on_invoice_pushed=invoice_pushed,
                on_invoice_paid=invoice_paid,
            )
            counts = engine.run()
            if run.kind == RunKind.PREVIEW:
                run.estimate = engine.estimate
        except ReconnectNeeded as exc:
            self._reconnect_needed(run, connection, str(exc), calls_of(client))
        except DailyLimitReached as exc:
            self._wait(run, connection, exc.retry_at, calls_of(client), daily=True)
        except LimitWait as exc:
            self._wait(run, connection, exc.resume_at, calls_of(client))
        except XeroSyncError as exc:
            self._fail(run, str(exc), calls_of(client))
        except RedisError:
            logger.exception("xerosync: run %s of account %s lost Redis", run.id, run.account_id)
            self._fail(run, QUEUE_UNREACHABLE, calls_of(client))
            raise
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
        api_calls = self.calls_before + event.api_calls
        self._save_meta({"stage": event.stage, "done": event.done, "total": event.total,
                         "counts": event.counts, "api_calls": api_calls, "retry": None})
        if event.stage != run.stage:
            run.stage = event.stage
            run.counts = copy.deepcopy(event.counts)
            run.api_calls = api_calls

    def _save_meta(self, values: dict[str, object]) -> None:
        if self.job is None:
            return
        self.job.meta.update(values)
        self.job.save_meta()

    def _partial_counts(self) -> dict[str, dict[str, int]]:
        return copy.deepcopy(self.last_event.counts) if self.last_event else {}

    def _done(self, run: Run, counts: dict[str, dict[str, int]], api_calls: int) -> None:
        api_calls += self.calls_before
        self.session.commit()
        finish_run(self.session, run, RunStatus.DONE, counts=counts, api_calls=api_calls)
        self._save_meta({"stage": "done", "counts": counts, "api_calls": api_calls})
        announce(signals.sync_finished, account_id=run.account_id, run_id=run.id, counts=counts)
        found = problems(self.session, run) if run.kind == RunKind.SYNC else 0
        if found:
            announce(signals.sync_problems, account_id=run.account_id, run_id=run.id, problems=found)

    def _fail(self, run: Run, message: str, api_calls: int | None = None) -> None:
        self.session.rollback()
        if api_calls is not None:
            api_calls += self.calls_before
        finish_run(
            self.session, run, RunStatus.FAILED, error=message, counts=self._partial_counts(), api_calls=api_calls
        )
        announce(signals.sync_failed, account_id=run.account_id, run_id=run.id, error=message)

    def _reconnect_needed(self, run: Run, connection: Connection, reason: str, api_calls: int) -> None:
        self.session.rollback()
        self.session.refresh(connection)
        if connection.status != ConnectionStatus.RECONNECT_NEEDED:
            connection.status = ConnectionStatus.RECONNECT_NEEDED
            connection.status_reason = reason
            self.session.commit()
            self.state.access_lost(connection, reason)
        self._fail(run, f"Xero needs you to reconnect: {reason}", api_calls)

    def _wait(self, run: Run, connection: Connection, resume_at: datetime, api_calls: int, *,
              daily: bool = False) -> None:
        """Keep what the engine committed, make the run ``waiting`` until ``resume_at`` and schedule
        its continuation under a new job id (so this job, if it ever ran again, would be stale)."""
        self.session.rollback()
        self.session.refresh(run)  # the cursor the engine saved with its last commit
        if daily:
            connection.paused_until = resume_at
        run.status = RunStatus.WAITING
        run.resume_at = resume_at
        run.api_calls = self.calls_before + api_calls
        run.counts = copy.deepcopy((run.cursor or {}).get("counts") or run.counts or {})
        run.job_id = f"{job_id_for(run.id)}-{secrets.token_hex(4)}"
        self.session.commit()
        meta = {**(self.job.meta if self.job is not None else {}), "counts": run.counts,
                "api_calls": run.api_calls, "waiting_until": resume_at.isoformat(), "pid": None}
        self._save_meta({"waiting_until": resume_at.isoformat()})
        try:
            enqueue_run(self.state, run, at=resume_at, meta=meta)
        except RedisError:
            logger.exception("xerosync: could not schedule the continuation of run %s", run.id)
            self._fail(run, NOT_QUEUED, api_calls)
            return
        logger.info("xerosync: run %s waits for Xero's limit until %s (job %s)", run.id, resume_at.isoformat(),
                    run.job_id)


def calls_of(client: XeroApi | None) -> int:
    return client.calls if client is not None else 0


def invoice_pushed(account_id: str, invoice_id: str, xero_invoice_id: str, xero_number: str) -> None:
    """The engine's ``on_invoice_pushed``: tell the host through ``signals.invoice_pushed``."""
    announce(
        signals.invoice_pushed,
        account_id=account_id,
        invoice_id=invoice_id,
        xero_invoice_id=xero_invoice_id,
        xero_number=xero_number,
    )


def invoice_paid(account_id: str, status: PaidStatus) -> None:
    """The engine's ``on_invoice_paid``: tell the host through ``signals.invoice_paid``."""
    announce(signals.invoice_paid, account_id=account_id, status=status)
