"""What a person does to an invoice in Xero: pay it, void it, delete a draft."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from . import errors
from .jsonfmt import round_money
from .state import Org


def apply_payment(org: Org, invoice: dict[str, Any], amount: Decimal, on: date, now: datetime,
                  reference: str = "", force: bool = False) -> dict[str, Any]:
    """Record a payment as a Xero user would; the invoice becomes PAID when nothing is due.

    ``force`` (seeding) skips the status check and the webhook event.
    """
    if not force and invoice["Status"] != "AUTHORISED":
        raise ValueError(errors.PAYMENT_NOT_AUTHORISED)
    amount = round_money(amount)
    if amount <= 0:
        raise ValueError(errors.PAYMENT_AMOUNT_INVALID)
    if amount > invoice["AmountDue"]:
        raise ValueError(errors.PAYMENT_EXCEEDS_DUE)
    payment: dict[str, Any] = {
        "PaymentID": str(uuid.uuid4()),
        "Date": on,
        "Amount": amount,
        "CurrencyRate": Decimal("1.000000"),
        "HasAccount": False,
        "HasValidationErrors": False,
    }
    if reference:
        payment["Reference"] = reference
    invoice["Payments"].append(payment)
    invoice["AmountPaid"] = round_money(invoice["AmountPaid"] + amount)
    invoice["AmountDue"] = round_money(invoice["Total"] - invoice["AmountPaid"] - invoice["AmountCredited"])
    if invoice["AmountDue"] == 0:
        invoice["Status"] = "PAID"
        invoice["FullyPaidOnDate"] = on
    invoice["UpdatedDateUTC"] = now
    if not force:
        org.changed("INVOICE", "UPDATE", invoice["InvoiceID"])
    return payment


def void_invoice(org: Org, invoice: dict[str, Any], now: datetime) -> None:
    """AUTHORISED (and unpaid) to VOIDED."""
    if invoice["AmountPaid"] > 0 or invoice["AmountCredited"] > 0:
        raise ValueError(errors.INVOICE_HAS_PAYMENT)
    if invoice["Status"] != "AUTHORISED":
        raise ValueError(errors.INVOICE_STATUS_INVALID)
    _set_status(org, invoice, "VOIDED", now)


def delete_invoice(org: Org, invoice: dict[str, Any], now: datetime) -> None:
    """DRAFT or SUBMITTED to DELETED (approved invoices are voided instead)."""
    if invoice["Status"] not in ("DRAFT", "SUBMITTED"):
        raise ValueError(errors.INVOICE_STATUS_INVALID)
    _set_status(org, invoice, "DELETED", now)


def _set_status(org: Org, invoice: dict[str, Any], status: str, now: datetime) -> None:
    invoice["Status"] = status
    invoice["UpdatedDateUTC"] = now
    org.changed("INVOICE", "UPDATE", invoice["InvoiceID"])
