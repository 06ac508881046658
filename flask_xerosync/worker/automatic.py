"""The RQ jobs of automatic sync (see :mod:`flask_xerosync.services.automatic`): a scheduled
occurrence, and the coalesced run after Xero's webhooks. Each only decides whether to start a
run; the run itself is the usual :func:`~flask_xerosync.worker.job.run_sync` job. Like it, they
run inside the app context of ``flask xerosync worker``.
"""

from __future__ import annotations

from rq import get_current_job

from ..services import automatic
from ..state import XeroSyncState, current_state


def _job_state() -> XeroSyncState:
    state = current_state()
    # A forked work-horse must not reuse database connections inherited from the worker process.
    state.db.engine.dispose(close=False)
    return state


def scheduled_sync(account_id: str) -> str:
    """An occurrence of the account's schedule: arm the next one, then start a run."""
    state = _job_state()
    job = get_current_job()
    try:
        if job is not None and not automatic.is_current_schedule(state, account_id, job.id):
            return "superseded"
        automatic.arm_schedule(state, account_id)
        return automatic.start_automatic_run(state, account_id)
    finally:
        state.db.session.remove()


def webhook_sync(account_id: str) -> str:
    """The run a burst of webhook events asked for. When a run of the account is already going,
    it may have read Xero before the events: one more run is scheduled after the delay."""
    state = _job_state()
    try:
        automatic.release_pending(state, account_id)
        outcome = automatic.start_automatic_run(state, account_id)
        if outcome == automatic.BUSY:
            automatic.sync_soon(state, [account_id])
        return outcome
    finally:
        state.db.session.remove()
