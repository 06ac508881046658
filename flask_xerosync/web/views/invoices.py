"""Push To Xero: the flag / unflag routes of the invoice action.

The action itself is rendered in the host's invoice page by the Jinja global
``xerosync_invoice_action`` (:func:`flask_xerosync.web.rendering.invoice_action`). The routes answer
htmx with the partial itself (it replaces its wrapper) and plain form posts with a redirect to
``next``, accepted only as a path on this host.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ...services import invoice_flags
from ...services.connections import DbSession, connection_of
from ...state import current_state
from ..blueprint import bp, is_htmx
from ..guards import plan_required
from ..rendering import FLAGGABLE, invoice_action_context, safe_next


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
