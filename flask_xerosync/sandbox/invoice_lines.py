"""Invoice lines as Xero computes them: item defaults, discounts, per-line tax rounded half-up, totals."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from . import errors
from .items import find_item
from .jsonfmt import FOUR_DP, TWO_DP, round_money, to_decimal
from .state import Org

ZERO = Decimal("0.00")


def build_lines(
    org: Org,
    sent_lines: list[Any],
    existing: list[dict[str, Any]],
    inv_type: str,
    status: str,
    amount_types: str,
    unitdp4: bool,
    messages: list[str],
) -> list[dict[str, Any]]:
    by_id = {line["LineItemID"]: line for line in existing}
    lines: list[dict[str, Any]] = []
    for sent in sent_lines:
        if not isinstance(sent, dict):
            messages.append("A line item must be a JSON object.")
            continue
        base = dict(by_id.get(str(sent.get("LineItemID") or "").lower(), {}))
        line: dict[str, Any] = {
            "LineItemID": base.get("LineItemID") or str(uuid.uuid4()),
            "Description": base.get("Description", ""),
            "Quantity": base.get("Quantity"),
            "UnitAmount": base.get("UnitAmount"),
            "Tracking": base.get("Tracking", []),
        }
        for key in ("ItemCode", "AccountCode", "TaxType", "DiscountRate", "DiscountAmount", "Item"):
            if key in base:
                line[key] = base[key]
        defaults: dict[str, Any] = {}
        code = sent.get("ItemCode", line.get("ItemCode"))
        if code:
            item = find_item(org, str(code))
            if item is None:
                messages.append(errors.ITEM_CODE_INVALID.format(code=code))
            else:
                line["ItemCode"] = item["Code"]
                line["Item"] = {"ItemID": item["ItemID"], "Name": item.get("Name", ""), "Code": item["Code"]}
                details = item.get("SalesDetails" if inv_type == "ACCREC" else "PurchaseDetails") or {}
                defaults = {
                    "Description": item.get("Description" if inv_type == "ACCREC" else "PurchaseDescription")
                    or item.get("Name", ""),
                    "UnitAmount": details.get("UnitPrice"),
                    "AccountCode": details.get("AccountCode"),
                    "TaxType": details.get("TaxType"),
                }
        for key in ("Description", "AccountCode", "TaxType"):
            if key in sent:
                line[key] = sent[key]
            elif not line.get(key) and defaults.get(key):
                line[key] = defaults[key]
        if "Tracking" in sent and isinstance(sent["Tracking"], list):
            line["Tracking"] = sent["Tracking"][:2]
        for key in ("Quantity", "UnitAmount", "LineAmount", "DiscountRate", "DiscountAmount"):
            if key in sent and sent[key] is not None and to_decimal(sent[key]) is None:
                messages.append(errors.NUMBER_INVALID.format(field=key))
        quantity = to_decimal(sent.get("Quantity")) if "Quantity" in sent else line["Quantity"]
        unit = to_decimal(sent.get("UnitAmount")) if "UnitAmount" in sent else line["UnitAmount"]
        if unit is None and defaults.get("UnitAmount") is not None:
            unit = defaults["UnitAmount"]
        given_amount = to_decimal(sent.get("LineAmount"))
        if quantity is None and unit is None and given_amount is not None:
            quantity, unit = Decimal(1), given_amount
        elif quantity is None and unit is not None:
            quantity = Decimal(1)
        elif unit is None and quantity is not None and given_amount is not None and quantity != 0:
            unit = given_amount / quantity
        quantity = round_money(quantity if quantity is not None else Decimal(1), FOUR_DP)
        unit = round_money(unit if unit is not None else Decimal(0), FOUR_DP if unitdp4 else TWO_DP)
        line["Quantity"], line["UnitAmount"] = quantity, unit
        for key in ("DiscountRate", "DiscountAmount"):
            if key in sent:
                value = to_decimal(sent[key])
                if value is None:
                    line.pop(key, None)
                else:
                    line[key] = value
        gross = quantity * unit
        if inv_type != "ACCREC":
            line.pop("DiscountRate", None)
            line.pop("DiscountAmount", None)
        if line.get("DiscountRate") is not None:
            amount = round_money(gross * (Decimal(100) - line["DiscountRate"]) / Decimal(100))
        elif line.get("DiscountAmount") is not None:
            amount = round_money(gross - line["DiscountAmount"])
        else:
            amount = round_money(gross)
        line["LineAmount"] = amount
        line["_discount"] = round_money(gross) - amount

        account_code = line.get("AccountCode")
        account = org.account(str(account_code)) if account_code else None
        if account_code and account is None:
            messages.append(errors.ACCOUNT_CODE_INVALID.format(code=account_code))
        elif not account_code and status in ("SUBMITTED", "AUTHORISED"):
            messages.append(errors.ACCOUNT_CODE_REQUIRED)
        if amount_types == "NoTax":
            line["TaxType"] = "NONE" if org.tax_rate("NONE") else line.get("TaxType") or "BASEXCLUDED"
        elif not line.get("TaxType"):
            fallback = org.profile.sales_tax if inv_type == "ACCREC" else org.profile.purchases_tax
            line["TaxType"] = (account or {}).get("TaxType") or fallback
        rate_row = org.tax_rate(str(line["TaxType"]))
        if rate_row is None and amount_types != "NoTax":
            messages.append(errors.TAX_TYPE_INVALID.format(code=line["TaxType"]))
            rate = Decimal(0)
        else:
            rate = rate_row["EffectiveRate"] if rate_row and amount_types != "NoTax" else Decimal(0)
        if amount_types == "Inclusive":
            tax = round_money(amount * rate / (Decimal(100) + rate))
        else:
            tax = round_money(amount * rate / Decimal(100))
        line["TaxAmount"] = tax
        lines.append(line)
    return lines


def compute_totals(invoice: dict[str, Any]) -> None:
    lines = invoice["LineItems"]
    total_tax = sum((line["TaxAmount"] for line in lines), ZERO)
    line_sum = sum((line["LineAmount"] for line in lines), ZERO)
    sub_total = line_sum - total_tax if invoice["LineAmountTypes"] == "Inclusive" else line_sum
    discount = sum((line.get("_discount", ZERO) for line in lines), ZERO)
    invoice["SubTotal"] = round_money(sub_total)
    invoice["TotalTax"] = round_money(total_tax)
    invoice["Total"] = round_money(sub_total + total_tax)
    invoice["IsDiscounted"] = discount != 0
    if discount:
        invoice["TotalDiscount"] = round_money(discount)
    else:
        invoice.pop("TotalDiscount", None)
    invoice["AmountDue"] = round_money(invoice["Total"] - invoice["AmountPaid"] - invoice["AmountCredited"])
