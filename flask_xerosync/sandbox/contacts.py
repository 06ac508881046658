"""Contacts: Xero's rules for names, numbers, archiving and upserts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from . import errors
from .contact_details import blank_addresses, blank_phones, echo_phones, merge_addresses, merge_phones, phone_errors
from .state import Org
from .writes import WriteResult, check_lengths, echo_error, normalise

WHERE_FIELDS = {
    "ContactID", "ContactNumber", "AccountNumber", "ContactStatus", "Name", "FirstName", "LastName",
    "CompanyNumber", "EmailAddress", "BankAccountDetails", "TaxNumber", "AccountsReceivableTaxType",
    "AccountsPayableTaxType", "IsSupplier", "IsCustomer", "DefaultCurrency", "UpdatedDateUTC",
    "Addresses", "Phones", "ContactPersons", "ContactGroups", "HasAttachments", "Website",
}
_WRITABLE = (
    "ContactNumber", "AccountNumber", "Name", "FirstName", "LastName", "CompanyNumber", "EmailAddress",
    "BankAccountDetails", "TaxNumber", "AccountsReceivableTaxType", "AccountsPayableTaxType",
    "DefaultCurrency", "ContactPersons", "PaymentTerms", "SalesDefaultAccountCode",
    "PurchasesDefaultAccountCode", "Website",
)
_LENGTHS = {
    "Name": 255, "ContactNumber": 50, "AccountNumber": 50, "FirstName": 255, "LastName": 255,
    "EmailAddress": 255, "TaxNumber": 50, "CompanyNumber": 50,
}
_SUMMARY_DROP = ("Addresses", "Phones", "ContactPersons", "ContactGroups", "PaymentTerms", "Balances")


def find_contact(org: Org, ref: str) -> dict[str, Any] | None:
    """By ContactID, else by ContactNumber (``GET /Contacts/{ContactID or ContactNumber}``)."""
    contact = org.contacts.get(ref.lower()) or org.contacts.get(ref)
    if contact is not None:
        return contact
    contact_id = org.contact_numbers.get(ref)
    return org.contacts.get(contact_id) if contact_id else None


def _index_remove(org: Org, contact: dict[str, Any]) -> None:
    key = normalise(contact.get("Name") or "")
    if org.contact_names.get(key) == contact["ContactID"]:
        del org.contact_names[key]
    number = contact.get("ContactNumber")
    if number and org.contact_numbers.get(number) == contact["ContactID"]:
        del org.contact_numbers[number]


def _index_add(org: Org, contact: dict[str, Any]) -> None:
    if contact.get("ContactStatus") == "ACTIVE" and contact.get("Name"):
        org.contact_names[normalise(contact["Name"])] = contact["ContactID"]
    number = contact.get("ContactNumber")
    if number:
        org.contact_numbers.setdefault(number, contact["ContactID"])


def name_clash(org: Org, name: str, own_id: str | None) -> bool:
    holder = org.contact_names.get(normalise(name))
    return holder is not None and holder != own_id


def _target(org: Org, element: dict[str, Any], mode: str, path_contact: dict[str, Any] | None,
            messages: list[str]) -> dict[str, Any] | None:
    if mode == "update":
        return path_contact
    contact_id = element.get("ContactID")
    if mode == "create":
        if contact_id:
            messages.append(errors.CONTACT_ID_ON_CREATE)
        return None
    if contact_id:
        found = org.contacts.get(str(contact_id).lower())
        if found is None:
            messages.append(errors.CONTACT_NOT_FOUND.format(id=contact_id))
        return found
    number = element.get("ContactNumber")
    if isinstance(number, str) and number in org.contact_numbers:
        return org.contacts[org.contact_numbers[number]]
    name = element.get("Name")
    if isinstance(name, str) and normalise(name) in org.contact_names:
        return org.contacts[org.contact_names[normalise(name)]]
    return None


def write_contact(
    org: Org,
    element: Any,
    mode: str,
    now: datetime,
    path_contact: dict[str, Any] | None = None,
    seed: bool = False,
) -> WriteResult:
    """Create or update one contact. ``mode`` is ``create`` (PUT), ``upsert`` (POST) or ``update``.

    ``seed`` lets the control surface set read-only fields (IDs, IsCustomer/IsSupplier, dates).
    """
    if not isinstance(element, dict):
        return WriteResult(False, echo_error({}, ["A contact must be a JSON object."]), ["A contact must be a JSON object."])
    messages: list[str] = []
    if seed:
        target = org.contacts.get(str(element.get("ContactID") or "").lower())
    else:
        target = _target(org, element, mode, path_contact, messages)
    check_lengths(element, _LENGTHS, messages)
    status = element.get("ContactStatus")
    if status is not None and status not in ("ACTIVE", "ARCHIVED"):
        messages.append(errors.CONTACT_STATUS_INVALID.format(value=status))
    name = element.get("Name", target.get("Name") if target else None)
    if not isinstance(name, str) or not name.strip():
        messages.append(errors.CONTACT_NAME_REQUIRED)
    else:
        becomes_active = (status or (target or {}).get("ContactStatus") or "ACTIVE") == "ACTIVE"
        if becomes_active and name_clash(org, name, target["ContactID"] if target else None):
            messages.append(errors.CONTACT_NAME_TAKEN.format(name=name))
    for tax_field in ("AccountsReceivableTaxType", "AccountsPayableTaxType"):
        value = element.get(tax_field)
        if value and org.tax_rate(str(value)) is None:
            messages.append(errors.TAX_TYPE_INVALID.format(code=value))
    phone_messages = phone_errors(element.get("Phones"))
    for found in phone_messages:
        messages.extend(m for m in found if m not in messages)
    if messages:
        echoed = echo_error(element, messages)
        if any(phone_messages):
            echoed["Phones"] = echo_phones(element["Phones"], phone_messages)
        return WriteResult(False, echoed, messages)

    created = target is None
    if target is None:
        contact_id = str(element.get("ContactID") or uuid.uuid4()).lower() if seed else str(uuid.uuid4())
        target = {
            "ContactID": contact_id,
            "ContactStatus": "ACTIVE",
            "Name": "",
            "FirstName": "",
            "LastName": "",
            "EmailAddress": "",
            "BankAccountDetails": "",
            "Addresses": blank_addresses(),
            "Phones": blank_phones(),
            "UpdatedDateUTC": now,
            "ContactGroups": [],
            "IsSupplier": False,
            "IsCustomer": False,
            "ContactPersons": [],
            "HasAttachments": False,
            "HasValidationErrors": False,
        }
        org.contacts[contact_id] = target
    else:
        _index_remove(org, target)
    for key in _WRITABLE:
        if key in element:
            target[key] = element[key].strip() if key == "Name" and isinstance(element[key], str) else element[key]
    if status:
        target["ContactStatus"] = status
    target["Addresses"] = merge_addresses(target["Addresses"], element.get("Addresses"))
    target["Phones"] = merge_phones(target["Phones"], element.get("Phones"))
    if seed:
        for key in ("IsCustomer", "IsSupplier"):
            if key in element:
                target[key] = bool(element[key])
    target["UpdatedDateUTC"] = element["UpdatedDateUTC"] if seed and isinstance(element.get("UpdatedDateUTC"), datetime) else now
    _index_add(org, target)
    org.changed("CONTACT", "CREATE" if created else "UPDATE", target["ContactID"])
    return WriteResult(True, target)


def render_contact(contact: dict[str, Any], summary_only: bool = False, merge_link: bool = False) -> dict[str, Any]:
    """The contact as the API returns it; ``MergedToContactID`` only when paging or fetching by id."""
    hidden = (_SUMMARY_DROP if summary_only else ()) + (() if merge_link else ("MergedToContactID",))
    if not any(key in contact for key in hidden):
        return contact
    return {k: v for k, v in contact.items() if k not in hidden}


def merge_contact(org: Org, merged: dict[str, Any], kept: dict[str, Any], now: datetime) -> None:
    """What merging two contacts in Xero does: the merged one is archived and points at the kept
    one (``MergedToContactID``); its invoices move to the kept one."""
    if merged is kept:
        raise ValueError(errors.MERGE_INTO_ITSELF)
    if kept["ContactStatus"] != "ACTIVE":
        raise ValueError(errors.MERGE_INTO_ARCHIVED)
    if merged.get("MergedToContactID"):
        raise ValueError(errors.MERGE_ALREADY_MERGED)
    _index_remove(org, merged)
    merged["ContactStatus"] = "ARCHIVED"
    merged["MergedToContactID"] = kept["ContactID"]
    merged["UpdatedDateUTC"] = now
    _index_add(org, merged)
    org.changed("CONTACT", "UPDATE", merged["ContactID"])
    kept["UpdatedDateUTC"] = now
    org.changed("CONTACT", "UPDATE", kept["ContactID"])
    for invoice in org.invoices.values():
        if invoice["Contact"].get("ContactID") == merged["ContactID"]:
            invoice["Contact"] = {"ContactID": kept["ContactID"]}
            invoice["UpdatedDateUTC"] = now
            kept["IsCustomer" if invoice["Type"] == "ACCREC" else "IsSupplier"] = True
            org.changed("INVOICE", "UPDATE", invoice["InvoiceID"])


def contact_ref(contact: dict[str, Any]) -> dict[str, Any]:
    """The contact as embedded in an invoice."""
    ref: dict[str, Any] = {"ContactID": contact["ContactID"]}
    if contact.get("ContactNumber"):
        ref["ContactNumber"] = contact["ContactNumber"]
    ref.update(
        {
            "Name": contact.get("Name", ""),
            "EmailAddress": contact.get("EmailAddress", ""),
            "Addresses": [],
            "Phones": [],
            "ContactGroups": [],
            "ContactPersons": [],
            "HasValidationErrors": False,
        }
    )
    return ref
