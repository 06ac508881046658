"""Push To Xero: the invoice-action partial and its flag / unflag routes.

``render_invoice_action(invoice_id)`` is what the Jinja global ``xerosync_invoice_action`` calls in
the host's invoice page. The routes answer htmx with the partial itself (it replaces its wrapper)
and plain form posts with a redirect to ``next``, accepted only as a path on this host.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import abort, redirect, render_template, request, url_for
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from werkzeug.wrappers import Response

from .. import invoice_flags
from ..blueprint import bp, is_htmx, plan_required
from ..extension import current_state
from ..models import ConnectionStatus
from ..oauth.flow import connection_for

# Connection states in which an invoice may be flagged (a reconnect does not lose flags).
FLAGGABLE = (ConnectionStatus.CONNECTED, ConnectionStatus.RECONNECT_NEEDED)


def render_invoice_action(invoice_id: str, next_url: str | None = None) -> Markup:
    """The Push To Xero control of one invoice of the current account (empty without a plan)."""
    state = current_state()
    account_id = state.account_id()
    if account_id is None or not state.plan_allows(account_id):
        return Markup("")
    back_to = safe_next(next_url) or safe_next(request.full_path.rstrip("?"))
    return Markup(
        render_template("xerosync/_invoice_action.html", **_partial_context(account_id, invoice_id, back_to))
    )


def _partial_context(account_id: str, invoice_id: str, next_url: str | None) -> dict[str, Any]:
    connection = connection_for(account_id)
    status = connection.status if connection is not None else ConnectionStatus.DISCONNECTED
    flag = invoice_flags.flag_of(current_state().db.session, account_id, invoice_id)
    return {
        "invoice_id": invoice_id,
        "flag": flag,
        "xero_link": _web_link(flag.xero_url) if flag is not None else "",
        "can_flag": status in FLAGGABLE,
        "reconnect_needed": status == ConnectionStatus.RECONNECT_NEEDED,
        "csrf_token": generate_csrf(),
        "next_url": next_url or "",
    }


@bp.post("/invoices/<invoice_id>/flag")
@plan_required
def flag_invoice(account_id: str, invoice_id: str) -> Response | str:
    """Push To Xero (also Retry after a rejection, and Push changes after a push)."""
    _own_invoice(account_id, invoice_id)
    if _flaggable(account_id):
        invoice_flags.flag(current_state().db.session, account_id, invoice_id)
    return _answer(account_id, invoice_id)


@bp.post("/invoices/<invoice_id>/unflag")
@plan_required
def unflag_invoice(account_id: str, invoice_id: str) -> Response | str:
    _own_invoice(account_id, invoice_id)
    invoice_flags.unflag(current_state().db.session, account_id, invoice_id)
    return _answer(account_id, invoice_id)


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this host ("/invoices/7?tab=1"), else None."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _web_link(url: str) -> str:
    """Only http(s) links into Xero are rendered as links."""
    return url if urlsplit(url).scheme in ("http", "https") else ""


def _own_invoice(account_id: str, invoice_id: str) -> None:
    """404 unless the host says the invoice belongs to the account."""
    if not current_state().host_data.get_invoices(account_id, [invoice_id]):
        abort(404)


def _flaggable(account_id: str) -> bool:
    connection = connection_for(account_id)
    return connection is not None and connection.status in FLAGGABLE


def _answer(account_id: str, invoice_id: str) -> Response | str:
    next_url = safe_next(request.form.get("next"))
    if not is_htmx():
        return redirect(next_url or url_for("xerosync.settings"))
    return render_template("xerosync/_invoice_action.html", **_partial_context(account_id, invoice_id, next_url))
