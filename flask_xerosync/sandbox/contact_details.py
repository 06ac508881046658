"""A contact's Addresses and Phones: always every type, replaced per type, phones kept as sent.

Xero returns both address types and the four phone types (DEFAULT, DDI, FAX,
MOBILE) on every contact, with empty strings for what was never set. A phone
sent for a type replaces that type's phone; its three parts are stored exactly
as sent (no trimming, no reformatting) and checked against the schema's lengths.
"""

from __future__ import annotations

from typing import Any

from . import errors

ADDRESS_TYPES = ("POBOX", "STREET")
PHONE_TYPES = ("DEFAULT", "DDI", "FAX", "MOBILE")
OPTIONAL_PHONE_TYPES = ("OFFICE",)  # in the schema's enum; returned only once set
PHONE_LENGTHS = {"PhoneNumber": 50, "PhoneAreaCode": 10, "PhoneCountryCode": 20}


def blank_addresses() -> list[dict[str, Any]]:
    return [{"AddressType": t, "City": "", "Region": "", "PostalCode": "", "Country": ""} for t in ADDRESS_TYPES]


def blank_phones() -> list[dict[str, Any]]:
    return [_phone(t, {}) for t in PHONE_TYPES]


def _phone(phone_type: str, sent: dict[str, Any]) -> dict[str, Any]:
    phone = {"PhoneType": phone_type}
    for part in PHONE_LENGTHS:
        value = sent.get(part)
        phone[part] = "" if value is None else str(value)
    return phone


def merge_addresses(current: list[dict[str, Any]], sent: Any) -> list[dict[str, Any]]:
    """Addresses are replaced per type; types not sent are kept."""
    merged = [dict(entry) for entry in current]
    if not isinstance(sent, list):
        return merged
    for entry in sent:
        if not isinstance(entry, dict) or not entry.get("AddressType"):
            continue
        clean = {k: v for k, v in entry.items() if k != "ValidationErrors"}
        for index, existing in enumerate(merged):
            if existing.get("AddressType") == clean["AddressType"]:
                merged[index] = {"AddressType": clean["AddressType"],
                                 **{k: v for k, v in clean.items() if k != "AddressType"}}
                break
        else:
            merged.append(clean)
    return merged


def phone_errors(sent: Any) -> list[list[str]]:
    """Validation messages for each phone sent (an empty list per valid phone)."""
    if not isinstance(sent, list):
        return []
    found = []
    for entry in sent:
        messages: list[str] = []
        if not isinstance(entry, dict):
            messages.append(errors.PHONE_INVALID)
        else:
            phone_type = entry.get("PhoneType")
            if phone_type is None:
                messages.append(errors.PHONE_TYPE_REQUIRED)
            elif phone_type not in PHONE_TYPES + OPTIONAL_PHONE_TYPES:
                messages.append(errors.PHONE_TYPE_INVALID.format(value=phone_type))
            for part, limit in PHONE_LENGTHS.items():
                value = entry.get(part)
                if value is not None and len(str(value)) > limit:
                    messages.append(errors.MAX_LENGTH.format(field=part, limit=limit))
        found.append(messages)
    return found


def echo_phones(sent: list[Any], found: list[list[str]]) -> list[dict[str, Any]]:
    """The phones as sent, each carrying its own ValidationErrors (Xero's nested markers)."""
    return [
        {**(entry if isinstance(entry, dict) else {}), "ValidationErrors": [{"Message": m} for m in messages]}
        for entry, messages in zip(sent, found)
    ]


def merge_phones(current: list[dict[str, Any]], sent: Any) -> list[dict[str, Any]]:
    """Replace the phones of each type sent; keep the others."""
    merged = [dict(entry) for entry in current]
    if not isinstance(sent, list):
        return merged
    for entry in sent:
        phone = _phone(entry["PhoneType"], entry)
        for index, existing in enumerate(merged):
            if existing["PhoneType"] == phone["PhoneType"]:
                merged[index] = phone
                break
        else:
            merged.append(phone)
    return merged
