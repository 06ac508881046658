"""GET handlers of the Accounting API: collections with Xero's filters, paging and records by id."""

from __future__ import annotations

from typing import Any

from . import contacts, errors, invoices, items, query
from .api_call import Call, Result


def _common_predicates(
    call: Call, records: dict[str, dict[str, Any]], type_name: str, fields: set[str]
) -> list[query.Predicate]:
    predicates: list[query.Predicate] = []
    since = call.modified_since()
    if since is not None:
        predicates.append(lambda r: r["UpdatedDateUTC"].replace(microsecond=0) >= since)
    sample = next(iter(records.values()), None)
    where = query.where_predicate(call.args.get("where"), type_name, fields, sample)
    if where is not None:
        predicates.append(where)
    return predicates


def get_contacts(call: Call) -> Result:
    org = call.org
    predicates = _common_predicates(call, org.contacts, "Contact", contacts.WHERE_FIELDS)
    ids = {i.lower() for i in query.split_list(call.args.get("IDs"))}
    if ids:
        predicates.insert(0, lambda r: r["ContactID"] in ids)
    if not call.bool_arg("includeArchived"):
        predicates.insert(0, lambda r: r["ContactStatus"] != "ARCHIVED")
    term = (call.args.get("searchTerm") or "").strip().casefold()
    if term:
        search_fields = ("Name", "FirstName", "LastName", "ContactNumber", "EmailAddress")
        predicates.append(lambda r: any(term in str(r.get(f) or "").casefold() for f in search_fields))
    records = query.filter_records(org.contacts.values(), predicates)
    records = query.order_records(records, call.args.get("order"), "Contact", contacts.WHERE_FIELDS)
    summary = call.bool_arg("summaryOnly")
    paging = query.parse_paging(call.args)
    payload: dict[str, Any] = {}
    if paging is not None:
        records, payload["pagination"] = query.paginate(records, paging)
    payload["Contacts"] = [contacts.render_contact(c, summary, merge_link=paging is not None) for c in records]
    return 200, call.envelope(payload)


def get_contact(call: Call) -> Result:
    contact = contacts.find_contact(call.org, call.ref or "")
    if contact is None:
        raise errors.not_found(f"Contact {call.ref}")
    return 200, call.envelope({"Contacts": [contacts.render_contact(contact, merge_link=True)]})


def get_items(call: Call) -> Result:
    predicates = _common_predicates(call, call.org.items, "Item", items.WHERE_FIELDS)
    records = query.filter_records(call.org.items.values(), predicates)
    records = query.order_records(records, call.args.get("order"), "Item", items.WHERE_FIELDS)
    return 200, call.envelope({"Items": [items.render_item(i, call.unitdp4) for i in records]})


def get_item(call: Call) -> Result:
    item = items.find_item(call.org, call.ref or "")
    if item is None:
        raise errors.not_found(f"Item {call.ref}")
    return 200, call.envelope({"Items": [items.render_item(item, call.unitdp4)]})


def get_invoices(call: Call) -> Result:
    org = call.org
    predicates = _common_predicates(call, org.invoices, "Invoice", invoices.WHERE_FIELDS)
    ids = {i.lower() for i in query.split_list(call.args.get("IDs"))}
    if ids:
        predicates.insert(0, lambda r: r["InvoiceID"] in ids)
    numbers = {n.casefold() for n in query.split_list(call.args.get("InvoiceNumbers"))}
    if numbers:
        predicates.insert(0, lambda r: (r.get("InvoiceNumber") or "").casefold() in numbers)
    contact_ids = {i.lower() for i in query.split_list(call.args.get("ContactIDs"))}
    if contact_ids:
        predicates.append(lambda r: r["Contact"].get("ContactID") in contact_ids)
    statuses = {s.upper() for s in query.split_list(call.args.get("Statuses"))}
    if statuses:
        predicates.append(lambda r: r["Status"] in statuses)
    term = (call.args.get("searchTerm") or "").strip().casefold()
    if term:
        predicates.append(
            lambda r: term in (r.get("InvoiceNumber") or "").casefold() or term in (r.get("Reference") or "").casefold()
        )
    records = query.filter_records(org.invoices.values(), predicates)
    records = query.order_records(records, call.args.get("order"), "Invoice", invoices.WHERE_FIELDS)
    summary = call.bool_arg("summaryOnly")
    paging = query.parse_paging(call.args)
    payload: dict[str, Any] = {}
    if paging is not None:
        records, payload["pagination"] = query.paginate(records, paging)
    payload["Invoices"] = [
        invoices.render_invoice(org, inv, call.unitdp4, lines=paging is not None, summary_only=summary)
        for inv in records
    ]
    return 200, call.envelope(payload)


def get_invoice(call: Call) -> Result:
    invoice = invoices.find_invoice(call.org, call.ref or "")
    if invoice is None:
        raise errors.not_found(f"Invoice {call.ref}")
    return 200, call.envelope({"Invoices": [invoices.render_invoice(call.org, invoice, call.unitdp4)]})


def get_organisation(call: Call) -> Result:
    return 200, call.envelope({"Organisations": [call.org.record]})


def _settings_list(call: Call, rows: list[dict[str, Any]], name: str, type_name: str) -> Result:
    fields = set().union(*(row.keys() for row in rows)) if rows else set()
    predicates = []
    where = query.where_predicate(call.args.get("where"), type_name, fields, rows[0] if rows else None)
    if where is not None:
        predicates.append(where)
    records = query.filter_records(rows, predicates)
    records = query.order_records(records, call.args.get("order"), type_name, fields)
    return 200, call.envelope({name: records})


def get_accounts(call: Call) -> Result:
    return _settings_list(call, call.org.accounts, "Accounts", "Account")


def get_tax_rates(call: Call) -> Result:
    return _settings_list(call, call.org.tax_rates, "TaxRates", "TaxRate")
