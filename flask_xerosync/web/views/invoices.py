"""Push To Xero: push one invoice now, push a selection, flag / unflag one, and the menu's state.

The action itself is rendered in the host's invoice page by the Jinja global
``xerosync_invoice_action`` (:func:`flask_xerosync.web.rendering.invoice_action`), the selection's
form by ``xerosync_bulk_push``. The routes answer htmx with the partial itself (it replaces its
wrapper) and plain form posts with a redirect to ``next``, accepted only as a path on this host.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf.csrf import generate_csrf
from werkzeug.wrappers import Response

from ...models import Run, RunKind
from ...services import invoice_flags
from ...services.connections import DbSession, connection_of
from ...services.push_now import MAX_BULK, PushRequest, push_now
from ...state import current_state
from ..blueprint import bp, is_htmx
from ..forms import BulkPushForm
from ..guards import plan_required
from ..rendering import FLAGGABLE, invoice_action_context, safe_next


@bp.post("/invoices/<invoice_id>/push")
@plan_required
def push_invoice(account_id: str, invoice_id: str) -> Response | str:
    """Push To Xero: push the invoice now (also Push again, and Push changes after a push), or
    flag it for the run that is going."""
    _own_invoice(account_id, invoice_id)
    push_now(current_state(), account_id, [invoice_id])
    return _answer(account_id, invoice_id)


@bp.get("/invoices/<invoice_id>/action")
@plan_required
def invoice_action_state(account_id: str, invoice_id: str) -> str:
    """The invoice action as it stands (the menu asks for it while a run will push the invoice)."""
    _own_invoice(account_id, invoice_id)
    next_url = safe_next(request.args.get("next"))
    return render_template("xerosync/_invoice_action.html", **invoice_action_context(account_id, invoice_id, next_url))


@bp.post("/invoices/push")
@plan_required
def push_invoices(account_id: str) -> Response | str:
    """Push a selection of the host's invoice list (1 to ``MAX_BULK``, else nothing is pushed and
    the answer says why; 404 if any is not the account's)."""
    form = BulkPushForm(max_bulk=MAX_BULK)
    next_url = safe_next(request.form.get("next"))
    if not form.validate() or not form.ids:
        message = "; ".join(form.invoice_id.errors) or f"Choose between 1 and {MAX_BULK} invoices to push."
        return _bulk_answer(next_url, message, None, refused=True)
    ids = form.ids
    found = {str(invoice.id) for invoice in current_state().host_data.get_invoices(account_id, ids)}
    if not set(ids) <= found:
        abort(404)
    return _bulk_answer(next_url, *_bulk_result(push_now(current_state(), account_id, ids)))


def _bulk_result(pushed: PushRequest) -> tuple[str, Run | None]:
    count = len(pushed.invoice_ids)
    invoices = f"{count} invoice{'' if count == 1 else 's'}"
    if pushed.refusal:
        return (f"{invoices} will be pushed later: {pushed.refusal}" if count else pushed.refusal), None
    if pushed.started:
        return f"Pushing {invoices} to Xero…", pushed.run
    if pushed.run is not None and pushed.run.kind == RunKind.SYNC:
        return f"{invoices} will be pushed with the sync that is running.", pushed.run
    return (f"{invoices} will be pushed with the next sync: another run is going (push them again once it "
            "ends to push them now)."), pushed.run


def _bulk_answer(next_url: str | None, text: str, run: Run | None, *, refused: bool = False) -> Response | str:
    if not is_htmx():
        flash(text, "error" if refused else "info")
        return redirect(next_url or url_for("xerosync.settings"), 303)
    return render_template("xerosync/_bulk_push.html", csrf_token=generate_csrf(), next_url=next_url or "",
                           max_bulk=MAX_BULK, result={"text": text, "run": run, "refused": refused})


@bp.post("/invoices/<invoice_id>/flag")
@plan_required
def flag_invoice(account_id: str, invoice_id: str) -> Response | str:
    """Push To Xero (also Retry after a rejection, and Push changes after a push)."""
    return _act(account_id, invoice_id, invoice_flags.flag)


@bp.post("/invoices/<invoice_id>/unflag")
@plan_required
def unflag_invoice(account_id: str, invoice_id: str) -> Response | str:
    return _act(account_id, invoice_id, invoice_flags.unflag)


def _act(account_id: str, invoice_id: str, action: Callable[[DbSession, str, str, str], object]) -> Response | str:
    """Flag or unflag an invoice of the account for the organisation it is connected to."""
    _own_invoice(account_id, invoice_id)
    tenant_id = _flaggable(account_id)
    if tenant_id:
        action(current_state().db.session, account_id, tenant_id, invoice_id)
    return _answer(account_id, invoice_id)


def _own_invoice(account_id: str, invoice_id: str) -> None:
    """404 unless the host says the invoice belongs to the account."""
    if not current_state().host_data.get_invoices(account_id, [invoice_id]):
        abort(404)


def _flaggable(account_id: str) -> str | None:
    """The organisation an invoice of the account can be flagged for, if any."""
    connection = connection_of(current_state().db.session, account_id)
    if connection is None or connection.status not in FLAGGABLE:
        return None
    return connection.tenant_id


def _answer(account_id: str, invoice_id: str) -> Response | str:
    next_url = safe_next(request.form.get("next"))
    if not is_htmx():
        return redirect(next_url or url_for("xerosync.settings"))
    return render_template("xerosync/_invoice_action.html", **invoice_action_context(account_id, invoice_id, next_url))
