"""Invoices: contact resolution, numbering, status rules, create/upsert/update and rendering."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from . import errors
from .contacts import contact_ref, name_clash, write_contact
from .invoice_actions import apply_payment
from .invoice_lines import ZERO, build_lines, compute_totals
from .jsonfmt import TWO_DP, date_string, parse_date, round_money, to_decimal
from .state import Org
from .writes import WriteResult, check_lengths, echo_error, normalise

WHERE_FIELDS = {
    "Type", "InvoiceID", "InvoiceNumber", "Reference", "Status", "LineAmountTypes", "Contact", "Date",
    "DueDate", "SubTotal", "TotalTax", "Total", "AmountDue", "AmountPaid", "AmountCredited",
    "CurrencyCode", "UpdatedDateUTC", "SentToContact", "HasAttachments", "IsDiscounted",
}
TYPES = ("ACCREC", "ACCPAY")
LINE_AMOUNT_TYPES = ("Exclusive", "Inclusive", "NoTax")
CREATE_STATUSES = ("DRAFT", "SUBMITTED", "AUTHORISED")
TRANSITIONS = {
    "DRAFT": {"SUBMITTED", "AUTHORISED", "DELETED"},
    "SUBMITTED": {"DRAFT", "AUTHORISED", "DELETED"},
    "AUTHORISED": {"VOIDED"},
    "PAID": set(),
    "VOIDED": set(),
    "DELETED": set(),
}
_EDITABLE_STATUSES = ("DRAFT", "SUBMITTED", "AUTHORISED")


@dataclass
class _ContactPlan:
    """How the invoice's contact is found, created or renamed once the invoice is valid."""

    contact_id: str | None = None
    create: dict[str, Any] | None = None
    rename_to: str | None = None
    messages: list[str] = field(default_factory=list)


def find_invoice(org: Org, ref: str) -> dict[str, Any] | None:
    """By InvoiceID, else by InvoiceNumber."""
    invoice = org.invoices.get(ref.lower())
    if invoice is not None:
        return invoice
    invoice_id = org.invoice_numbers.get(normalise(ref))
    if invoice_id:
        return org.invoices.get(invoice_id)
    for candidate in org.invoices.values():
        if candidate.get("InvoiceNumber") == ref:
            return candidate
    return None


def _plan_contact(org: Org, sent: Any, current_id: str | None) -> _ContactPlan:
    plan = _ContactPlan(contact_id=current_id)
    if sent is None:
        if current_id is None:
            plan.messages.append(errors.CONTACT_IDENTIFIER_MISSING)
        return plan
    if not isinstance(sent, dict) or not any(sent.get(k) for k in ("ContactID", "Name", "ContactNumber")):
        plan.messages.append(errors.CONTACT_IDENTIFIER_MISSING)
        return plan
    name = sent.get("Name")
    if sent.get("ContactID"):
        contact = org.contacts.get(str(sent["ContactID"]).lower())
        if contact is None:
            plan.messages.append(errors.CONTACT_NOT_FOUND.format(id=sent["ContactID"]))
            return plan
        plan.contact_id = contact["ContactID"]
        if isinstance(name, str) and name.strip() and name.strip() != contact.get("Name"):
            if name_clash(org, name, contact["ContactID"]):
                plan.messages.append(errors.CONTACT_NAME_TAKEN.format(name=name))
            plan.rename_to = name.strip()
        return plan
    number = sent.get("ContactNumber")
    if number:
        contact_id = org.contact_numbers.get(str(number))
        if contact_id:
            plan.contact_id = contact_id
            return plan
        if not (isinstance(name, str) and name.strip()):
            plan.messages.append(errors.CONTACT_NUMBER_NOT_FOUND.format(number=number))
            return plan
    key = normalise(str(name))
    if key in org.contact_names:
        plan.contact_id = org.contact_names[key]
    else:
        plan.contact_id = None
        plan.create = {k: v for k, v in sent.items() if k in ("Name", "ContactNumber", "EmailAddress",
                                                                   "FirstName", "LastName")}
    return plan


def _next_number(org: Org) -> str:
    while True:
        number = f"INV-{org.next_invoice_seq:04d}"
        org.next_invoice_seq += 1
        if normalise(number) not in org.invoice_numbers:
            return number


def write_invoice(
    org: Org,
    element: Any,
    mode: str,
    now: datetime,
    unitdp4: bool = False,
    path_invoice: dict[str, Any] | None = None,
    seed: bool = False,
) -> WriteResult:
    """Create (``create``), upsert by InvoiceID then InvoiceNumber (``upsert``) or update one invoice."""
    if not isinstance(element, dict):
        msg = "An invoice must be a JSON object."
        return WriteResult(False, echo_error({}, [msg]), [msg])
    messages: list[str] = []
    target: dict[str, Any] | None = None
    invoice_id = element.get("InvoiceID")
    if mode == "update":
        target = path_invoice
    elif seed:
        target = org.invoices.get(str(invoice_id or "").lower())
    elif invoice_id:
        if mode == "create":
            messages.append(errors.INVOICE_ID_ON_CREATE)
        else:
            target = org.invoices.get(str(invoice_id).lower())
            if target is None:
                messages.append(errors.INVOICE_NOT_FOUND.format(id=invoice_id))
    elif mode == "upsert" and element.get("InvoiceNumber") and element.get("Type", "ACCREC") == "ACCREC":
        found = org.invoice_numbers.get(normalise(str(element["InvoiceNumber"])))
        target = org.invoices.get(found) if found else None
    if messages:
        return WriteResult(False, echo_error(element, messages), messages)

    inv_type = element.get("Type") or (target or {}).get("Type")
    status = element.get("Status") or (target or {}).get("Status") or "DRAFT"
    if target is not None and not seed:
        if target["AmountPaid"] > 0 or target["AmountCredited"] > 0:
            return WriteResult(False, echo_error(element, [errors.INVOICE_HAS_PAYMENT]), [errors.INVOICE_HAS_PAYMENT])
        current = target["Status"]
        if current not in _EDITABLE_STATUSES or (status != current and status not in TRANSITIONS[current]):
            return WriteResult(
                False, echo_error(element, [errors.INVOICE_STATUS_INVALID]), [errors.INVOICE_STATUS_INVALID]
            )
        if element.get("Type") and element["Type"] != target["Type"]:
            messages.append(errors.INVOICE_TYPE_INVALID.format(type=element["Type"]))
    elif not seed and status not in CREATE_STATUSES:
        messages.append(errors.INVOICE_STATUS_CREATE)
    if inv_type not in TYPES:
        messages.append(errors.INVOICE_TYPE_INVALID.format(type=inv_type))
        inv_type = "ACCREC"
    check_lengths(element, {"InvoiceNumber": 255}, messages)

    contact_plan = _plan_contact(org, element.get("Contact"), (target or {}).get("Contact", {}).get("ContactID"))
    messages.extend(contact_plan.messages)
    amount_types = element.get("LineAmountTypes") or (target or {}).get("LineAmountTypes") or "Exclusive"
    if amount_types not in LINE_AMOUNT_TYPES:
        messages.append(errors.LINE_AMOUNT_TYPES_INVALID.format(value=amount_types))
        amount_types = "Exclusive"
    dates: dict[str, date | None] = {}
    for key in ("Date", "DueDate"):
        if element.get(key):
            parsed = parse_date(element[key])
            if parsed is None:
                messages.append(errors.DATE_INVALID.format(field=key, value=element[key]))
            dates[key] = parsed
        else:
            dates[key] = (target or {}).get(key)
    sent_lines = element.get("LineItems")
    existing_lines = (target or {}).get("LineItems", [])
    if sent_lines is None and target is not None:
        sent_lines = [{"LineItemID": line["LineItemID"]} for line in existing_lines]
    if not isinstance(sent_lines, list) or not sent_lines:
        messages.append(errors.LINE_ITEMS_REQUIRED)
        sent_lines = []
    lines = build_lines(org, sent_lines, existing_lines, inv_type, status, amount_types, unitdp4, messages)
    number = element.get("InvoiceNumber", (target or {}).get("InvoiceNumber"))
    if inv_type == "ACCREC" and number:
        holder = org.invoice_numbers.get(normalise(str(number)))
        if holder is not None and holder != (target or {}).get("InvoiceID"):
            messages.append(errors.INVOICE_NUMBER_TAKEN)
    if messages:
        return WriteResult(False, echo_error(element, messages), messages)

    if contact_plan.create is not None:
        created = write_contact(org, contact_plan.create, "create", now)
        contact_plan.contact_id = created.element["ContactID"]
    contact = org.contacts[contact_plan.contact_id or ""]
    if contact_plan.rename_to:
        write_contact(org, {"Name": contact_plan.rename_to}, "update", now, path_contact=contact)
    contact["IsCustomer" if inv_type == "ACCREC" else "IsSupplier"] = True

    is_new = target is None
    if target is None:
        new_id = str(invoice_id or uuid.uuid4()).lower() if seed else str(uuid.uuid4())
        target = {
            "Type": inv_type,
            "InvoiceID": new_id,
            "InvoiceNumber": "",
            "Reference": "",
            "Payments": [],
            "CreditNotes": [],
            "Prepayments": [],
            "Overpayments": [],
            "AmountDue": ZERO,
            "AmountPaid": ZERO,
            "AmountCredited": ZERO,
            "CurrencyRate": Decimal("1.000000"),
            "IsDiscounted": False,
            "HasAttachments": False,
            "HasErrors": False,
            "Contact": {},
            "Date": now.date(),
            "Status": "DRAFT",
            "LineAmountTypes": amount_types,
            "LineItems": [],
            "CurrencyCode": org.currency,
            "SentToContact": False,
        }
        org.invoices[new_id] = target
    elif target.get("InvoiceNumber") and target["Type"] == "ACCREC":
        org.invoice_numbers.pop(normalise(target["InvoiceNumber"]), None)
    if not number and inv_type == "ACCREC":
        number = _next_number(org)
    target["InvoiceNumber"] = number or ""
    target["Type"] = inv_type
    target["Status"] = status
    target["LineAmountTypes"] = amount_types
    target["Contact"] = {"ContactID": contact["ContactID"]}
    if dates["Date"]:
        target["Date"] = dates["Date"]
    if dates["DueDate"]:
        target["DueDate"] = dates["DueDate"]
    for key in ("Reference", "Url", "BrandingThemeID", "CurrencyCode", "ExpectedPaymentDate"):
        if key in element:
            target[key] = element[key]
    if "SentToContact" in element and status == "AUTHORISED":
        target["SentToContact"] = bool(element["SentToContact"])
    target["LineItems"] = lines
    compute_totals(target)
    if seed and isinstance(element.get("Payments"), list):
        for payment in element["Payments"]:
            apply_payment(org, target, to_decimal(payment.get("Amount")) or ZERO,
                          parse_date(payment.get("Date")) or now.date(), now, force=True)
    target["UpdatedDateUTC"] = (
        element["UpdatedDateUTC"] if seed and isinstance(element.get("UpdatedDateUTC"), datetime) else now
    )
    if inv_type == "ACCREC" and target["InvoiceNumber"]:
        org.invoice_numbers[normalise(target["InvoiceNumber"])] = target["InvoiceID"]
    org.changed("INVOICE", "CREATE" if is_new else "UPDATE", target["InvoiceID"])
    return WriteResult(True, target)


def render_invoice(
    org: Org, invoice: dict[str, Any], unitdp4: bool = False, lines: bool = True, summary_only: bool = False
) -> dict[str, Any]:
    out = {k: v for k, v in invoice.items() if k not in ("LineItems", "Contact")}
    contact = org.contacts.get(invoice["Contact"].get("ContactID", ""))
    out["Contact"] = contact_ref(contact) if contact else dict(invoice["Contact"])
    out["DateString"] = date_string(invoice["Date"])
    if invoice.get("DueDate"):
        out["DueDateString"] = date_string(invoice["DueDate"])
    updated: datetime = invoice["UpdatedDateUTC"]
    out["UpdatedDateUTCString"] = updated.strftime("%Y-%m-%dT%H:%M:%SZ")
    if summary_only:
        for key in ("Payments", "CreditNotes", "Prepayments", "Overpayments"):
            out.pop(key, None)
        return out
    if lines:
        rendered = []
        for line in invoice["LineItems"]:
            shown = {k: v for k, v in line.items() if not k.startswith("_")}
            if not unitdp4:
                shown["UnitAmount"] = round_money(line["UnitAmount"], TWO_DP)
            shown["ValidationErrors"] = []
            rendered.append(shown)
        out["LineItems"] = rendered
    return out
