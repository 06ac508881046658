"""Items (Xero's "Products and Services"): codes, IsSold/IsPurchased and unit-price rounding."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from . import errors
from .jsonfmt import FOUR_DP, TWO_DP, round_money, to_decimal
from .state import Org
from .writes import WriteResult, check_lengths, echo_error, normalise

WHERE_FIELDS = {
    "ItemID", "Code", "Name", "Description", "PurchaseDescription", "IsSold", "IsPurchased",
    "IsTrackedAsInventory", "SalesDetails", "PurchaseDetails", "UpdatedDateUTC", "InventoryAssetAccountCode",
}
_LENGTHS = {"Code": 30, "Name": 50, "Description": 4000, "PurchaseDescription": 4000}


def find_item(org: Org, ref: str) -> dict[str, Any] | None:
    """By ItemID, else by Code (``GET /Items/{ItemID or Code}``)."""
    item = org.items.get(ref.lower())
    if item is not None:
        return item
    item_id = org.item_codes.get(normalise(ref))
    return org.items.get(item_id) if item_id else None


def _details(current: dict[str, Any] | None, sent: Any, unitdp4: bool, org: Org,
             messages: list[str]) -> dict[str, Any]:
    details = dict(current or {})
    if not isinstance(sent, dict):
        return details
    for key in ("AccountCode", "TaxType", "COGSAccountCode"):
        if key in sent:
            details[key] = sent[key]
    if "UnitPrice" in sent:
        price = to_decimal(sent["UnitPrice"])
        if price is None and sent["UnitPrice"] is not None:
            messages.append(errors.NUMBER_INVALID.format(field="UnitPrice"))
        elif price is not None:
            details["UnitPrice"] = round_money(price, FOUR_DP if unitdp4 else TWO_DP)
    tax = details.get("TaxType")
    if tax and org.tax_rate(str(tax)) is None:
        messages.append(errors.TAX_TYPE_INVALID.format(code=tax))
    account = details.get("AccountCode")
    if account and org.account(str(account)) is None:
        messages.append(errors.ACCOUNT_CODE_INVALID.format(code=account))
    return details


def write_item(
    org: Org,
    element: Any,
    mode: str,
    now: datetime,
    unitdp4: bool = False,
    path_item: dict[str, Any] | None = None,
    seed: bool = False,
) -> WriteResult:
    """Create (``create``), upsert by ItemID then Code (``upsert``) or update (``update``) an item."""
    if not isinstance(element, dict):
        return WriteResult(False, echo_error({}, ["An item must be a JSON object."]), ["An item must be a JSON object."])
    messages: list[str] = []
    target: dict[str, Any] | None = None
    item_id = element.get("ItemID")
    code = element.get("Code")
    if mode == "update":
        target = path_item
    elif seed:
        target = org.items.get(str(item_id or "").lower())
    elif item_id:
        if mode == "create":
            messages.append(errors.ITEM_ID_ON_CREATE)
        else:
            target = org.items.get(str(item_id).lower())
            if target is None:
                messages.append(errors.ITEM_NOT_FOUND.format(id=item_id))
    elif mode == "upsert" and isinstance(code, str) and normalise(code) in org.item_codes:
        target = org.items[org.item_codes[normalise(code)]]

    check_lengths(element, _LENGTHS, messages)
    new_code = code if code is not None else (target or {}).get("Code")
    if not isinstance(new_code, str) or not new_code.strip():
        messages.append(errors.ITEM_CODE_REQUIRED)
    else:
        holder = org.item_codes.get(normalise(new_code))
        if holder is not None and holder != (target or {}).get("ItemID"):
            messages.append(errors.ITEM_CODE_TAKEN.format(code=new_code))
    sales = _details((target or {}).get("SalesDetails"), element.get("SalesDetails"), unitdp4, org, messages)
    purchase = _details(
        (target or {}).get("PurchaseDetails"), element.get("PurchaseDetails"), unitdp4, org, messages
    )
    if messages:
        return WriteResult(False, echo_error(element, messages), messages)

    if target is None:
        new_id = str(item_id or uuid.uuid4()).lower() if seed else str(uuid.uuid4())
        target = {
            "ItemID": new_id,
            "Code": "",
            "Name": "",
            "IsSold": True,
            "IsPurchased": True,
            "IsTrackedAsInventory": False,
            "SalesDetails": {},
            "PurchaseDetails": {},
            "UpdatedDateUTC": now,
        }
        org.items[new_id] = target
    else:
        org.item_codes.pop(normalise(target["Code"]), None)
    for key in ("Code", "Name", "Description", "PurchaseDescription", "IsSold", "IsPurchased",
                "InventoryAssetAccountCode"):
        if key in element:
            target[key] = element[key].strip() if key == "Code" and isinstance(element[key], str) else element[key]
    target["SalesDetails"] = sales
    target["PurchaseDetails"] = purchase
    if target.get("IsSold") is False:
        target.pop("Description", None)
        target["SalesDetails"] = {}
    if target.get("IsPurchased") is False:
        target.pop("PurchaseDescription", None)
        target["PurchaseDetails"] = {}
    target["UpdatedDateUTC"] = (
        element["UpdatedDateUTC"] if seed and isinstance(element.get("UpdatedDateUTC"), datetime) else now
    )
    org.item_codes[normalise(target["Code"])] = target["ItemID"]
    return WriteResult(True, target)


def render_item(item: dict[str, Any], unitdp4: bool) -> dict[str, Any]:
    if unitdp4:
        return item
    out = dict(item)
    for key in ("SalesDetails", "PurchaseDetails"):
        details = item.get(key)
        if details and isinstance(details.get("UnitPrice"), Decimal):
            out[key] = {**details, "UnitPrice": round_money(details["UnitPrice"], TWO_DP)}
    return out


def delete_item(org: Org, item: dict[str, Any]) -> None:
    org.item_codes.pop(normalise(item["Code"]), None)
    del org.items[item["ItemID"]]
