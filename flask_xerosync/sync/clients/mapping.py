"""The synced fields of a client, as the host and Xero hold them.

Both sides are compared as *values*: a plain mapping of :data:`FIELDS` (JSON-able, so links and
the known-records cache can keep them). :func:`same` says when two values of a field are the same
value: names and addresses ignoring repeated whitespace, e-mails ignoring case, phones when they
are the same number (``sync.phones``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ...host import Address, Client
from .. import phones

FIELDS = ("name", "first_name", "last_name", "email", "phone", "address", "archived")
LABELS = {
    "name": "Name",
    "first_name": "First name",
    "last_name": "Last name",
    "email": "E-mail",
    "phone": "Phone",
    "address": "Address",
    "archived": "Archived",
}
ADDRESS_PARTS = ("line1", "line2", "city", "region", "postal_code", "country")
_ADDRESS_KEYS = ("AddressLine1", "AddressLine2", "AddressLine3", "AddressLine4", "City", "Region", "PostalCode",
                 "Country")
_PHONE_ORDER = ("DEFAULT", "MOBILE", "DDI")
_INACTIVE = ("ARCHIVED", "GDPRREQUEST")

Values = dict[str, Any]


def _text(value: Any) -> str:
    if not value:
        return ""
    return " ".join(str(value).split())


def _address_values(address: Address | None) -> list[str] | None:
    if address is None:
        return None
    parts = [_text(getattr(address, part)) for part in ADDRESS_PARTS]
    return parts if any(parts) else None


def of_client(client: Client) -> Values:
    """The values of a host client."""
    return {
        "name": _text(client.name),
        "first_name": _text(client.first_name),
        "last_name": _text(client.last_name),
        "email": client.email.strip(),
        "phone": _text(client.phone),
        "address": _address_values(client.address),
        "archived": bool(client.archived),
    }


def _contact_phone(contact: Mapping[str, Any], region: str | None) -> str:
    found = {phone.get("PhoneType"): phone for phone in contact.get("Phones") or [] if isinstance(phone, dict)}
    for wanted in _PHONE_ORDER:
        phone = found.get(wanted)
        if phone and (_text(phone.get("PhoneNumber")) or _text(phone.get("PhoneAreaCode"))):
            return phones.from_xero(
                str(phone.get("PhoneCountryCode") or ""), str(phone.get("PhoneAreaCode") or ""),
                str(phone.get("PhoneNumber") or ""), region,
            )
    return ""


def _contact_address(contact: Mapping[str, Any]) -> list[str] | None:
    found = {a.get("AddressType"): a for a in contact.get("Addresses") or [] if isinstance(a, dict)}
    for wanted in ("STREET", "POBOX"):
        raw = found.get(wanted)
        if not raw or not any(raw.get(key) for key in _ADDRESS_KEYS):
            continue
        extra = " ".join(_text(raw.get(key)) for key in ("AddressLine2", "AddressLine3", "AddressLine4"))
        parts = [_text(raw.get("AddressLine1")), _text(extra), _text(raw.get("City")), _text(raw.get("Region")),
                 _text(raw.get("PostalCode")), _text(raw.get("Country"))]
        if any(parts):
            return parts
    return None


def of_contact(contact: Mapping[str, Any], region: str | None) -> Values:
    """The values of a Xero contact; ``region`` is the organisation's country (for phones)."""
    return {
        "name": _text(contact.get("Name")),
        "first_name": _text(contact.get("FirstName")),
        "last_name": _text(contact.get("LastName")),
        "email": str(contact.get("EmailAddress") or "").strip(),
        "phone": _contact_phone(contact, region),
        "address": _contact_address(contact),
        "archived": str(contact.get("ContactStatus") or "ACTIVE").upper() in _INACTIVE,
    }


def same(name: str, first: Any, second: Any, region: str | None = None) -> bool:
    """Whether two values of the field ``name`` are the same value (see the module docstring)."""
    if first == second:
        return True
    if name == "email":
        return _text(first).casefold() == _text(second).casefold()
    if name == "phone":
        return phones.phone_key(_text(first), region) == phones.phone_key(_text(second), region)
    if name == "address":
        return (_address_list(first) or None) == (_address_list(second) or None)
    if name == "archived":
        return bool(first) == bool(second)
    return _text(first) == _text(second)


def _address_list(value: Any) -> list[str] | None:
    if not value:
        return None
    parts = [_text(part) for part in value]
    return parts if any(parts) else None


def client_with(base: Client, values: Mapping[str, Any]) -> Client:
    """``base`` (a host client, or ``Client(id=None, name="")`` for a new one) with ``values``
    written over its synced fields; fields not in ``values`` keep the base's."""
    changes: dict[str, Any] = {}
    for name, value in values.items():
        if name == "address":
            changes["address"] = Address(**dict(zip(ADDRESS_PARTS, value, strict=False))) if value else None
        elif name == "archived":
            changes["archived"] = bool(value)
        elif name in FIELDS:
            changes[name] = value or ""
    return replace(base, **changes)


def contact_payload(
    values: Mapping[str, Any], region: str | None, *, contact_id: str | None = None, contact_number: str | None = None
) -> dict[str, Any]:
    """A Xero contact carrying ``values`` (all of them for a new contact, only the fields to change
    for an update): ``ContactID`` for an update, ``ContactNumber`` (the host id) for a new one."""
    payload: dict[str, Any] = {}
    if contact_id:
        payload["ContactID"] = contact_id
    if contact_number:
        payload["ContactNumber"] = contact_number[:50]
    for name, value in values.items():
        if name == "name":
            payload["Name"] = value
        elif name == "first_name":
            payload["FirstName"] = value
        elif name == "last_name":
            payload["LastName"] = value
        elif name == "email":
            payload["EmailAddress"] = value
        elif name == "archived":
            payload["ContactStatus"] = "ARCHIVED" if value else "ACTIVE"
        elif name == "phone":
            payload["Phones"] = [{"PhoneType": "DEFAULT", **phones.to_xero(value or "", region)}]
        elif name == "address":
            parts = list(value or [""] * len(ADDRESS_PARTS))
            payload["Addresses"] = [{
                "AddressType": "STREET", "AddressLine1": parts[0], "AddressLine2": parts[1], "City": parts[2],
                "Region": parts[3], "PostalCode": parts[4], "Country": parts[5],
            }]
    return payload


def display(name: str, value: Any) -> str:
    """A value as the run log shows it."""
    if name == "address":
        return ", ".join(part for part in (value or []) if part)
    if name == "archived":
        return "archived" if value else "active"
    return str(value or "")
