"""Sync Now!, the live progress fragment, run history and one run's record log (with review actions).

The settings page includes ``xerosync/_sync_panel.html``, which asks ``xerosync_sync_panel(connection)``
(a template helper registered here) for the account's active run, last result and history. Every
route takes the account from the loader; a run id of another account is a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import abort, redirect, request, url_for
from werkzeug.wrappers import Response

from ...errors import XeroSyncError
from ...models import Connection, ConnectionStatus, Outcome, RecordResult, Run, RunKind, RunStatus
from ...services import review, runs
from ...services.connections import connection_of
from ...services.run_status import Progress, live_progress, reconcile
from ...services.sync_now import request_sync
from ...state import current_state
from ..blueprint import bp, is_htmx
from ..guards import plan_required
from ..notices import back_to_settings, notify, pop_notice
from ..rendering import render_page

RECORDS_PER_PAGE = 50


@dataclass(frozen=True)
class SyncPanel:
    """What the sync panel of the settings page shows."""

    active: Run | None
    progress: Progress | None
    last: Run | None
    history: list[Run]


def sync_panel(connection: Connection) -> SyncPanel:
    """The panel of a connection: the live run (reconciled with RQ first), else the last result."""
    state = current_state()
    session = state.db.session
    active = runs.active_run(session, connection.account_id)
    progress = None
    if active is not None:
        reconcile(session, state.redis, state.config.queue_name, active)
        if active.status in RunStatus.ACTIVE:
            progress = live_progress(state.redis, active)
        else:
            active = None
    return SyncPanel(
        active=active,
        progress=progress,
        last=runs.last_finished_run(session, connection.account_id, connection.tenant_id),
        history=runs.history(session, connection.account_id, connection.tenant_id, state.config.history_size),
    )


@bp.context_processor
def sync_helpers() -> dict[str, Any]:
    return {"xerosync_sync_panel": sync_panel}


@bp.post("/sync")
@plan_required
def sync_now(account_id: str) -> Response | str:
    """Start a run (or find the running one) and show its progress; a plain POST redirects back.
    The first Sync Now! with an organisation, and the Preview button, start a preview."""
    outcome = request_sync(current_state(), account_id, preview=request.form.get("preview") == "1")
    if not is_htmx():
        if outcome.refusal:
            notify(outcome.refusal, "info" if outcome.run is not None else "error")
        else:
            notify("Sync started. It runs in the background; reload this page to see how it is going.")
        return back_to_settings()
    notice = {"message": outcome.refusal, "kind": "info" if outcome.run is not None else "error"} if outcome.refusal else None
    if outcome.run is None:
        return render_page("xerosync/_sync_summary.html", run=None, notice=notice)
    return _status_fragment(outcome.run, notice) + _history_update(account_id)


@bp.get("/runs/<run_id>/progress")
@plan_required
def run_progress(account_id: str, run_id: str) -> str:
    """The polling fragment: progress while the run is active, the summary (no poller) once not,
    with the history list updated out of band when the run has ended."""
    run = _owned_run(account_id, run_id)
    fragment = _status_fragment(run, None)
    return fragment if run.status in RunStatus.ACTIVE else fragment + _history_update(account_id)


@bp.get("/runs/<run_id>")
@plan_required
def run_detail(account_id: str, run_id: str) -> str:
    state = current_state()
    session = state.db.session
    run = _owned_run(account_id, run_id)
    page = runs.record_page(
        session,
        run,
        request.args.get("filter", "all"),
        request.args.get("page", 1, type=int) or 1,
        RECORDS_PER_PAGE,
    )
    progress = live_progress(state.redis, run) if run.status in RunStatus.ACTIVE else None
    continued = (run.cursor or {}).get("continues")
    return render_page(
        "xerosync/run.html",
        run=run,
        progress=progress,
        continues=runs.get_run(session, account_id, str(continued)) if continued else None,
        page=page,
        filter_counts=runs.record_counts(session, run),
        reviewable={record.id for record in page.records if review.reviewable(record)},
        settleable={record.id for record in page.records
                    if run.kind == RunKind.SYNC and review.has_differences(record)},
        notice=pop_notice(),
    )


@bp.post("/runs/<run_id>/records/<int:record_id>/decide")
@plan_required
def decide_record(account_id: str, run_id: str, record_id: int) -> Response:
    """The owner's decision about a record in review: link it to one of the records listed,
    create it as new, or leave it out. The next sync does it."""
    run, record = _owned_record(account_id, run_id, record_id)
    choice = request.form.get("decision", "")
    action, _, target = choice.partition(":")
    _answer(lambda: review.decide(current_state().db.session, run, record, action, target or None))
    return _back_to_run(run, record)


@bp.post("/runs/<run_id>/records/<int:record_id>/settle")
@plan_required
def settle_record(account_id: str, run_id: str, record_id: int) -> Response:
    """Use Xero's values, or this app's, for the differences a first link kept."""
    run, record = _owned_record(account_id, run_id, record_id)
    _answer(lambda: review.settle(current_state().db.session, run, record, request.form.get("choice", "")))
    return _back_to_run(run, record)


def _answer(action: Callable[[], str]) -> None:
    try:
        notify(action())
    except XeroSyncError as exc:
        notify(str(exc), "error")


def _owned_run(account_id: str, run_id: str) -> Run:
    run = runs.get_run(current_state().db.session, account_id, run_id)
    if run is None:
        abort(404)
    return run


def _owned_record(account_id: str, run_id: str, record_id: int) -> tuple[Run, RecordResult]:
    run = _owned_run(account_id, run_id)
    record = runs.get_record(current_state().db.session, run, record_id)
    if record is None:
        abort(404)
    return run, record


def _status_fragment(run: Run, notice: dict[str, str] | None) -> str:
    state = current_state()
    reconcile(state.db.session, state.redis, state.config.queue_name, run)
    if run.status in RunStatus.ACTIVE:
        progress = live_progress(state.redis, run)
        return render_page("xerosync/_sync_progress.html", run=run, progress=progress, notice=notice)
    connection = connection_of(state.db.session, run.account_id)
    reconnect_needed = connection is not None and connection.status == ConnectionStatus.RECONNECT_NEEDED
    return render_page("xerosync/_sync_summary.html", run=run, notice=notice, reconnect_needed=reconnect_needed)


def _history_update(account_id: str) -> str:
    state = current_state()
    connection = connection_of(state.db.session, account_id)
    tenant_id = connection.tenant_id if connection is not None else None
    history = runs.history(state.db.session, account_id, tenant_id, state.config.history_size)
    return render_page("xerosync/_sync_history.html", history=history, oob=True)


def _back_to_run(run: Run, record: RecordResult) -> Response:
    tab = "needs_review" if record.outcome == Outcome.NEEDS_REVIEW else "linked"
    return redirect(url_for("xerosync.run_detail", run_id=run.id, filter=tab, _anchor=f"record-{record.id}"))
