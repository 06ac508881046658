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
    """Record a payment as a Xero user would; the invoice becomes PAID when nothing is due."""
    if not force and invoice["Status"] != "AUTHORISED":
        raise ValueError("payments can only be applied to AUTHORISED invoices")
    amount = round_money(amount)
    if amount <= 0 or amount > invoice["AmountDue"]:
        raise ValueError(f"payment amount must be between 0.01 and the amount due ({invoice['AmountDue']})")
    payment = {
        "PaymentID": str(uuid.uuid4()),
        "Date": on,
        "Amount": amount,
        "Reference": reference,
        "CurrencyRate": Decimal("1.000000"),
        "HasAccount": False,
        "HasValidationErrors": False,
    }
    invoice["Payments"].append(payment)
    invoice["AmountPaid"] = round_money(invoice["AmountPaid"] + amount)
    invoice["AmountDue"] = round_money(invoice["Total"] - invoice["AmountPaid"] - invoice["AmountCredited"])
    if invoice["AmountDue"] == 0:
        invoice["Status"] = "PAID"
        invoice["FullyPaidOnDate"] = on
    invoice["UpdatedDateUTC"] = now
    return payment


def void_invoice(invoice: dict[str, Any], now: datetime) -> None:
    if invoice["AmountPaid"] > 0 or invoice["AmountCredited"] > 0:
        raise ValueError(errors.INVOICE_HAS_PAYMENT)
    if invoice["Status"] != "AUTHORISED":
        raise ValueError(errors.INVOICE_STATUS_INVALID)
    invoice["Status"] = "VOIDED"
    invoice["UpdatedDateUTC"] = now
