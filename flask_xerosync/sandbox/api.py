"""The Accounting API under ``/api.xro/2.0``: auth, tenant, scope, limits, faults, then handlers."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, request

from . import contacts, errors, invoices, items, query, scopes
from .identity import bearer_grant
from .idempotency import MAX_KEY_LENGTH, StoredResponse, fingerprint
from .jsonfmt import dumps, loads, ms_date, parse_http_datetime
from .state import Grant, Org, SandboxState
from .writes import WriteResult

MAX_BODY_BYTES = int(3.5 * 1024 * 1024)
DROP_FLAG = "xero_sandbox.drop_response"
_COLLECTIONS = {
    "contacts": "Contacts",
    "items": "Items",
    "invoices": "Invoices",
    "organisation": "Organisation",
    "accounts": "Accounts",
    "taxrates": "TaxRates",
}
_METHODS = {
    ("contacts", False): {"GET", "PUT", "POST"},
    ("contacts", True): {"GET", "POST"},
    ("items", False): {"GET", "PUT", "POST"},
    ("items", True): {"GET", "POST", "DELETE"},
    ("invoices", False): {"GET", "PUT", "POST"},
    ("invoices", True): {"GET", "POST"},
    ("organisation", False): {"GET"},
    ("accounts", False): {"GET"},
    ("taxrates", False): {"GET"},
}

bp = Blueprint("xero_accounting", __name__)


@dataclass
class Call:
    """Everything a handler needs about one API request."""

    state: SandboxState
    org: Org
    grant: Grant
    resource: str
    ref: str | None
    method: str
    body: bytes

    @property
    def args(self) -> Any:
        return request.args

    @property
    def unitdp4(self) -> bool:
        return request.args.get("unitdp") == "4"

    @property
    def now(self) -> datetime:
        return self.state.clock.now()

    def envelope(self, payload: dict[str, Any]) -> dict[str, Any]:
        app = self.state.apps.get(self.grant.client_id)
        return {
            "Id": str(uuid.uuid4()),
            "Status": "OK",
            "ProviderName": app.name if app else "Xero Sandbox",
            "DateTimeUTC": ms_date(self.now, with_offset=False),
            **payload,
        }


Result = tuple[int, dict[str, Any] | None]


def _json(payload: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    response = Response(dumps(payload) if payload is not None else b"", status=status,
                        mimetype="application/json" if payload is not None else None)
    response.headers.update(headers or {})
    return response


def _state() -> SandboxState:
    return current_app.extensions["xero_sandbox"]


@bp.route("/api.xro/2.0/<resource>", methods=["GET", "PUT", "POST", "DELETE"])
@bp.route("/api.xro/2.0/<resource>/<ref>", methods=["GET", "PUT", "POST", "DELETE"])
def dispatch(resource: str, ref: str | None = None) -> Response:
    state = _state()
    grant = bearer_grant(state)
    if isinstance(grant, errors.ApiError):
        return _json(grant.body, grant.status)
    tenant_id = request.headers.get("xero-tenant-id", "").strip().lower()
    with state.lock:
        org = state.orgs.get(tenant_id)
        user = state.users.get(grant.user_id)
        connected = state.find_connection(grant.client_id, grant.user_id, tenant_id) is not None
        if org is None or user is None or not connected or tenant_id not in user.tenant_ids:
            return _json(errors.problem(403, "Forbidden", "AuthenticationUnsuccessful"), 403)
    key = resource.lower()
    method = request.method
    if key in _COLLECTIONS and not scopes.allowed(key, method != "GET", grant.scopes):
        return _json(errors.problem(401, "Unauthorized", "AuthorizationUnsuccessful"), 401)

    decision = state.limiter.acquire(tenant_id, grant.client_id)
    if not decision.allowed:
        headers = dict(decision.headers)
        headers["X-Rate-Limit-Problem"] = decision.problem or "minute"
        if decision.retry_after is not None:
            headers["Retry-After"] = state.clock.format_retry_after(decision.retry_after)
        state.limiter.record(tenant_id, method, request.path, 429)
        return _json(errors.problem(429, "Too Many Requests", "Rate limit exceeded"), 429, headers)

    response: Response
    drop = False
    try:
        fault = state.faults.draw(tenant_id, method)
        if fault.latency_ms:
            time.sleep(fault.latency_ms / 1000)
        if fault.status is not None:
            response = _injected(state, fault.status)
        else:
            response = _handle(state, org, grant, key, ref, method)
            drop = fault.drop and response.status_code < 500
    finally:
        state.limiter.release(tenant_id)
    state.limiter.record(tenant_id, method, request.path, response.status_code)
    for name, value in decision.headers.items():
        response.headers.setdefault(name, value)
    if drop:
        request.environ[DROP_FLAG] = True
    return response


def _injected(state: SandboxState, status: int) -> Response:
    if status == 429:
        headers = {"X-Rate-Limit-Problem": "minute", "Retry-After": state.clock.format_retry_after(1.0)}
        return _json(errors.problem(429, "Too Many Requests", "Rate limit exceeded"), 429, headers)
    titles = {500: "Internal Server Error", 503: "Service Unavailable", 502: "Bad Gateway", 504: "Gateway Timeout"}
    detail = "An error occurred in the Xero sandbox (injected fault)."
    return _json(errors.problem(status, titles.get(status, "Error"), detail), status)


def _handle(state: SandboxState, org: Org, grant: Grant, key: str, ref: str | None, method: str) -> Response:
    if key not in _COLLECTIONS:
        return _json(errors.problem(404, "Not Found", f"The resource '{key}' is not part of the sandbox"), 404)
    allowed_methods = _METHODS.get((key, ref is not None), set())
    if method not in allowed_methods:
        detail = f"The requested resource does not support http method '{method}'."
        return _json(errors.problem(405, "Method Not Allowed", detail), 405)
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return _json(errors.problem(413, "Request Entity Too Large", "The request body exceeds 3.5 MB."), 413)
    body = request.get_data(cache=True)
    if len(body) > MAX_BODY_BYTES:
        return _json(errors.problem(413, "Request Entity Too Large", "The request body exceeds 3.5 MB."), 413)
    call = Call(state, org, grant, key, ref, method, body)
    idem_key = request.headers.get("Idempotency-Key")
    if method in ("PUT", "POST") and idem_key is not None:
        return _idempotent(call, idem_key)
    with state.lock:
        return _run(call)


def _idempotent(call: Call, idem_key: str) -> Response:
    if len(idem_key) > MAX_KEY_LENGTH or not idem_key:
        return _json(errors.problem(400, "Bad Request", "Idempotency-Key must be 1 to 128 characters long."), 400)
    scope = (call.grant.client_id, call.org.tenant_id, idem_key)
    request_print = fingerprint(call.method, request.path, request.query_string.decode(), call.body)
    store = call.state.idempotency
    with call.state.lock:
        previous = store.lookup(scope)
        if previous is not None:
            if previous.fingerprint != request_print:
                detail = f"Idempotency key '{idem_key}' is used with a different request"
                return _json(errors.problem(400, "Bad Request", detail), 400)
            return Response(previous.body, status=previous.status, content_type=previous.content_type)
        response = _run(call)
        store.store(
            scope,
            StoredResponse(request_print, response.status_code, response.get_data(), response.content_type or "",
                           store.expiry()),
        )
        return response


def _run(call: Call) -> Response:
    try:
        handler = _HANDLERS[(call.resource, call.method, call.ref is not None)]
        status, payload = handler(call)
    except errors.ApiError as exc:
        return _json(exc.body, exc.status, exc.headers)
    return _json(payload, status)


# --- reading -----------------------------------------------------------------------------
def _modified_since() -> datetime | None:
    raw = request.headers.get("If-Modified-Since")
    if not raw:
        return None
    parsed = parse_http_datetime(raw)
    return parsed.replace(microsecond=0) if parsed else None


def _common_predicates(
    call: Call, records: dict[str, dict[str, Any]], type_name: str, fields: set[str]
) -> list[query.Predicate]:
    predicates: list[query.Predicate] = []
    since = _modified_since()
    if since is not None:
        predicates.append(lambda r: r["UpdatedDateUTC"].replace(microsecond=0) >= since)
    sample = next(iter(records.values()), None)
    where = query.where_predicate(call.args.get("where"), type_name, fields, sample)
    if where is not None:
        predicates.append(where)
    return predicates


def _bool_arg(name: str) -> bool:
    return request.args.get(name, "").lower() == "true"


def get_contacts(call: Call) -> Result:
    org = call.org
    predicates = _common_predicates(call, org.contacts, "Contact", contacts.WHERE_FIELDS)
    ids = {i.lower() for i in query.split_list(call.args.get("IDs"))}
    if ids:
        predicates.insert(0, lambda r: r["ContactID"] in ids)
    if not _bool_arg("includeArchived"):
        predicates.insert(0, lambda r: r["ContactStatus"] != "ARCHIVED")
    term = (call.args.get("searchTerm") or "").strip().casefold()
    if term:
        search_fields = ("Name", "FirstName", "LastName", "ContactNumber", "EmailAddress")
        predicates.append(lambda r: any(term in str(r.get(f) or "").casefold() for f in search_fields))
    records = query.filter_records(org.contacts.values(), predicates)
    records = query.order_records(records, call.args.get("order"), "Contact", contacts.WHERE_FIELDS)
    summary = _bool_arg("summaryOnly")
    paging = query.parse_paging(call.args)
    payload: dict[str, Any] = {}
    if paging is not None:
        records, payload["pagination"] = query.paginate(records, paging)
    payload["Contacts"] = [contacts.render_contact(c, summary) for c in records]
    return 200, call.envelope(payload)


def get_contact(call: Call) -> Result:
    contact = contacts.find_contact(call.org, call.ref or "")
    if contact is None:
        raise errors.not_found(f"Contact {call.ref}")
    return 200, call.envelope({"Contacts": [contact]})


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


def delete_item(call: Call) -> Result:
    item = items.find_item(call.org, call.ref or "")
    if item is None:
        raise errors.not_found(f"Item {call.ref}")
    items.delete_item(call.org, item)
    return 204, None


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
    summary = _bool_arg("summaryOnly")
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
    indexed = {str(i): row for i, row in enumerate(rows)}
    predicates = []
    where = query.where_predicate(call.args.get("where"), type_name, fields, rows[0] if rows else None)
    if where is not None:
        predicates.append(where)
    records = query.filter_records(indexed.values(), predicates)
    records = query.order_records(records, call.args.get("order"), type_name, fields)
    return 200, call.envelope({name: records})


def get_accounts(call: Call) -> Result:
    return _settings_list(call, call.org.accounts, "Accounts", "Account")


def get_tax_rates(call: Call) -> Result:
    return _settings_list(call, call.org.tax_rates, "TaxRates", "TaxRate")


# --- writing -----------------------------------------------------------------------------
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


def _respond_writes(call: Call, collection: str, results: list[WriteResult],
                    render: Callable[[dict[str, Any]], dict[str, Any]]) -> Result:
    summarize = request.args.get("summarizeErrors", "true").lower() != "false"
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


def _write(call: Call, collection: str, writer: Callable[..., WriteResult],
           render: Callable[[dict[str, Any]], dict[str, Any]], mode: str, target: dict[str, Any] | None,
           **kwargs: Any) -> Result:
    elements = _elements(call, collection)
    if mode == "update":
        elements = elements[:1]
    now = call.now
    results = [writer(call.org, element, mode, now, path=target, **kwargs) for element in elements]
    return _respond_writes(call, collection, results, render)


def _contact_writer(org: Org, element: Any, mode: str, now: datetime, path: Any = None) -> WriteResult:
    return contacts.write_contact(org, element, mode, now, path_contact=path)


def _item_writer(org: Org, element: Any, mode: str, now: datetime, path: Any = None,
                 unitdp4: bool = False) -> WriteResult:
    return items.write_item(org, element, mode, now, unitdp4=unitdp4, path_item=path)


def _invoice_writer(org: Org, element: Any, mode: str, now: datetime, path: Any = None,
                    unitdp4: bool = False) -> WriteResult:
    return invoices.write_invoice(org, element, mode, now, unitdp4=unitdp4, path_invoice=path)


def write_contacts(call: Call) -> Result:
    mode = "create" if call.method == "PUT" else "upsert"
    return _write(call, "Contacts", _contact_writer, lambda c: c, mode, None)


def update_contact(call: Call) -> Result:
    contact = contacts.find_contact(call.org, call.ref or "")
    if contact is None:
        raise errors.not_found(f"Contact {call.ref}")
    return _write(call, "Contacts", _contact_writer, lambda c: c, "update", contact)


def write_items(call: Call) -> Result:
    mode = "create" if call.method == "PUT" else "upsert"
    return _write(call, "Items", _item_writer, lambda i: items.render_item(i, call.unitdp4), mode, None,
                  unitdp4=call.unitdp4)


def update_item(call: Call) -> Result:
    item = items.find_item(call.org, call.ref or "")
    if item is None:
        raise errors.not_found(f"Item {call.ref}")
    return _write(call, "Items", _item_writer, lambda i: items.render_item(i, call.unitdp4), "update", item,
                  unitdp4=call.unitdp4)


def write_invoices(call: Call) -> Result:
    mode = "create" if call.method == "PUT" else "upsert"
    return _write(call, "Invoices", _invoice_writer,
                  lambda i: invoices.render_invoice(call.org, i, call.unitdp4), mode, None, unitdp4=call.unitdp4)


def update_invoice(call: Call) -> Result:
    invoice = invoices.find_invoice(call.org, call.ref or "")
    if invoice is None:
        raise errors.not_found(f"Invoice {call.ref}")
    return _write(call, "Invoices", _invoice_writer,
                  lambda i: invoices.render_invoice(call.org, i, call.unitdp4), "update", invoice,
                  unitdp4=call.unitdp4)


_HANDLERS: dict[tuple[str, str, bool], Callable[[Call], Result]] = {
    ("contacts", "GET", False): get_contacts,
    ("contacts", "GET", True): get_contact,
    ("contacts", "PUT", False): write_contacts,
    ("contacts", "POST", False): write_contacts,
    ("contacts", "POST", True): update_contact,
    ("items", "GET", False): get_items,
    ("items", "GET", True): get_item,
    ("items", "PUT", False): write_items,
    ("items", "POST", False): write_items,
    ("items", "POST", True): update_item,
    ("items", "DELETE", True): delete_item,
    ("invoices", "GET", False): get_invoices,
    ("invoices", "GET", True): get_invoice,
    ("invoices", "PUT", False): write_invoices,
    ("invoices", "POST", False): write_invoices,
    ("invoices", "POST", True): update_invoice,
    ("organisation", "GET", False): get_organisation,
    ("accounts", "GET", False): get_accounts,
    ("taxrates", "GET", False): get_tax_rates,
}
