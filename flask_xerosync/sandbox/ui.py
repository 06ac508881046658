"""A read-only "Xero UI" page for the invoice deep links host apps show."""

from __future__ import annotations

from flask import Blueprint, Response, request

from . import pages
from .invoices import render_invoice
from .responses import current_state

bp = Blueprint("xero_sandbox_ui", __name__)


@bp.get("/AccountsReceivable/View.aspx")
@bp.get("/AccountsPayable/View.aspx")
def view_invoice() -> Response:
    state = current_state()
    invoice_id = (request.args.get("InvoiceID") or "").strip().lower()
    with state.lock:
        for org in state.orgs.values():
            invoice = org.invoices.get(invoice_id)
            if invoice is not None:
                html = pages.invoice_page(render_invoice(org, invoice), org.name)
                return Response(html, mimetype="text/html")
    html = pages.error_page("not_found", "No invoice with that InvoiceID exists in this sandbox.")
    return Response(html, status=404, mimetype="text/html")
