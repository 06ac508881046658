"""Control: act as a person in Xero (edit, archive, merge contacts; edit items; pay, void, delete invoices).

Every change goes through the same validation as the API, bumps ``UpdatedDateUTC`` and
sends the webhooks Xero would.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask import Response

from . import contacts, invoices, items
from .control_common import ControlError, control_blueprint, dict_body, ok, org_or_404
from .invoice_actions import apply_payment, delete_invoice, void_invoice
from .jsonfmt import parse_date, to_decimal
from .responses import current_state
from .state import Org
from .writes import WriteResult

bp = control_blueprint("person")


def _as_person(tenant_id: str, finder: Callable[[Org, str], dict[str, Any] | None], ref: str,
               apply: Callable[[Org, dict[str, Any]], WriteResult]) -> Response:
    state = current_state()
    org = org_or_404(tenant_id)
    with state.lock:
        record = finder(org, ref)
        if record is None:
            raise ControlError(404, f"not found: {ref}")
        result = apply(org, record)
        if not result.ok:
            raise ControlError(400, "; ".join(result.messages), {"messages": result.messages})
        return ok(result.element)


@bp.patch("/orgs/<tenant_id>/contacts/<ref>")
def edit_contact(tenant_id: str, ref: str) -> Response:
    data = dict_body()
    now = current_state().clock.now()
    return _as_person(tenant_id, contacts.find_contact, ref,
                      lambda org, c: contacts.write_contact(org, data, "update", now, path_contact=c))


def _set_status(tenant_id: str, ref: str, status: str) -> Response:
    now = current_state().clock.now()
    return _as_person(tenant_id, contacts.find_contact, ref,
                      lambda org, c: contacts.write_contact(org, {"ContactStatus": status}, "update", now,
                                                            path_contact=c))


@bp.post("/orgs/<tenant_id>/contacts/<ref>/archive")
def archive_contact(tenant_id: str, ref: str) -> Response:
    return _set_status(tenant_id, ref, "ARCHIVED")


@bp.post("/orgs/<tenant_id>/contacts/<ref>/unarchive")
def unarchive_contact(tenant_id: str, ref: str) -> Response:
    return _set_status(tenant_id, ref, "ACTIVE")


@bp.post("/orgs/<tenant_id>/contacts/<ref>/merge")
def merge_contact(tenant_id: str, ref: str) -> Response:
    """Merge contact ``ref`` into ``{"into": <ContactID or ContactNumber>}``, as in Xero's UI."""
    into = str(dict_body().get("into") or "")
    state = current_state()
    org = org_or_404(tenant_id)
    with state.lock:
        merged, kept = contacts.find_contact(org, ref), contacts.find_contact(org, into)
        if merged is None or kept is None:
            raise ControlError(404, f"not found: {ref if merged is None else into}")
        contacts.merge_contact(org, merged, kept, state.clock.now())
        return ok({"merged": merged, "into": kept})


@bp.patch("/orgs/<tenant_id>/items/<ref>")
def edit_item(tenant_id: str, ref: str) -> Response:
    data = dict_body()
    now = current_state().clock.now()
    return _as_person(tenant_id, items.find_item, ref,
                      lambda org, i: items.write_item(org, data, "update", now, unitdp4=True, path_item=i))


def _invoice_action(tenant_id: str, ref: str, action: Callable[[Org, dict[str, Any]], Any]) -> Response:
    state = current_state()
    org = org_or_404(tenant_id)
    with state.lock:
        invoice = invoices.find_invoice(org, ref)
        if invoice is None:
            raise ControlError(404, f"unknown invoice {ref}")
        action(org, invoice)
        return ok(invoices.render_invoice(org, invoice, True))


@bp.post("/orgs/<tenant_id>/invoices/<ref>/payments")
def add_payment(tenant_id: str, ref: str) -> Response:
    data = dict_body()
    now = current_state().clock.now()

    def pay(org: Org, invoice: dict[str, Any]) -> None:
        amount = to_decimal(data.get("amount"))
        if amount is None:
            amount = invoice["AmountDue"]
        on = parse_date(data.get("date")) or now.date()
        apply_payment(org, invoice, Decimal(amount), on, now, str(data.get("reference", "")))

    return _invoice_action(tenant_id, ref, pay)


@bp.post("/orgs/<tenant_id>/invoices/<ref>/void")
def void(tenant_id: str, ref: str) -> Response:
    now = current_state().clock.now()
    return _invoice_action(tenant_id, ref, lambda org, inv: void_invoice(org, inv, now))


@bp.post("/orgs/<tenant_id>/invoices/<ref>/delete")
def delete(tenant_id: str, ref: str) -> Response:
    now = current_state().clock.now()
    return _invoice_action(tenant_id, ref, lambda org, inv: delete_invoice(org, inv, now))
