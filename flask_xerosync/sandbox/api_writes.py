"""PUT/POST/DELETE handlers of the Accounting API: batches, summarizeErrors and per-record updates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from . import contacts, errors, invoices, items
from .api_call import Call, Result
from .jsonfmt import loads
from .state import Org
from .writes import WriteResult

Render = Callable[[dict[str, Any]], dict[str, Any]]


def _elements(call: Call, collection: str) -> list[Any]:
    try:
        data = loads(call.body) if call.body.strip() else None
    except ValueError as exc:
        raise errors.ApiError(
            400, {"ErrorNumber": 14, "Type": "PostDataInvalidException", "Message": f"Invalid JSON: {exc}"}
        ) from exc
    if isinstance(data, dict) and isinstance(data.get(collection), list):
        return list(data[collection])
    if isinstance(data, dict) and collection not in data:
        return [data]
    if isinstance(data, list):
        return data
    raise errors.ApiError(
        400,
        {"ErrorNumber": 14, "Type": "PostDataInvalidException",
         "Message": f"The request body must be a {{\"{collection}\": [...]}} object."},
    )


def _respond(call: Call, collection: str, results: list[WriteResult], render: Render) -> Result:
    summarize = call.args.get("summarizeErrors", "true").lower() != "false"
    if summarize and any(not r.ok for r in results):
        return 400, errors.validation_exception([r.element for r in results if not r.ok])
    rendered = []
    for result in results:
        if result.ok:
            element = dict(render(result.element))
            element["StatusAttributeString"] = "OK"
        else:
            element = dict(result.element)
            element["StatusAttributeString"] = "ERROR"
        rendered.append(element)
    return 200, call.envelope({collection: rendered})


def _write(call: Call, collection: str, writer: Callable[..., WriteResult], render: Render, mode: str,
           target: dict[str, Any] | None, **kwargs: Any) -> Result:
    elements = _elements(call, collection)
    if mode == "update":
        elements = elements[:1]
    now = call.now
    results = [writer(call.org, element, mode, now, path=target, **kwargs) for element in elements]
    return _respond(call, collection, results, render)


def _mode(call: Call) -> str:
    """PUT creates only; POST to a collection upserts."""
    return "create" if call.method == "PUT" else "upsert"


def _contact_writer(org: Org, element: Any, mode: str, now: datetime, path: Any = None) -> WriteResult:
    return contacts.write_contact(org, element, mode, now, path_contact=path)


def _item_writer(org: Org, element: Any, mode: str, now: datetime, path: Any = None,
                 unitdp4: bool = False) -> WriteResult:
    return items.write_item(org, element, mode, now, unitdp4=unitdp4, path_item=path)


def _invoice_writer(org: Org, element: Any, mode: str, now: datetime, path: Any = None,
                    unitdp4: bool = False) -> WriteResult:
    return invoices.write_invoice(org, element, mode, now, unitdp4=unitdp4, path_invoice=path)


def write_contacts(call: Call) -> Result:
    return _write(call, "Contacts", _contact_writer, contacts.render_contact, _mode(call), None)


def update_contact(call: Call) -> Result:
    contact = contacts.find_contact(call.org, call.ref or "")
    if contact is None:
        raise errors.not_found(f"Contact {call.ref}")
    return _write(call, "Contacts", _contact_writer, contacts.render_contact, "update", contact)


def _item_render(call: Call) -> Render:
    return lambda item: items.render_item(item, call.unitdp4)


def write_items(call: Call) -> Result:
    return _write(call, "Items", _item_writer, _item_render(call), _mode(call), None, unitdp4=call.unitdp4)


def update_item(call: Call) -> Result:
    item = items.find_item(call.org, call.ref or "")
    if item is None:
        raise errors.not_found(f"Item {call.ref}")
    return _write(call, "Items", _item_writer, _item_render(call), "update", item, unitdp4=call.unitdp4)


def delete_item(call: Call) -> Result:
    item = items.find_item(call.org, call.ref or "")
    if item is None:
        raise errors.not_found(f"Item {call.ref}")
    items.delete_item(call.org, item)
    return 204, None


def _invoice_render(call: Call) -> Render:
    return lambda invoice: invoices.render_invoice(call.org, invoice, call.unitdp4)


def write_invoices(call: Call) -> Result:
    return _write(call, "Invoices", _invoice_writer, _invoice_render(call), _mode(call), None,
                  unitdp4=call.unitdp4)


def update_invoice(call: Call) -> Result:
    invoice = invoices.find_invoice(call.org, call.ref or "")
    if invoice is None:
        raise errors.not_found(f"Invoice {call.ref}")
    return _write(call, "Invoices", _invoice_writer, _invoice_render(call), "update", invoice,
                  unitdp4=call.unitdp4)
