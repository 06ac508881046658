"""The Accounting API under ``/api.xro/2.0``: auth, tenant, scope, limits, faults, idempotency, then handlers."""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Blueprint, Response, request

from . import api_reads, api_writes, errors, scopes
from .api_call import Call, Result
from .identity_tokens import bearer_grant
from .idempotency import MAX_KEY_LENGTH, StoredResponse, fingerprint
from .responses import current_state, json_response
from .state import Grant, Org, SandboxState

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
# (resource, method, addressed by id?) -> handler; the method sets come from the same table.
_HANDLERS: dict[tuple[str, str, bool], Callable[[Call], Result]] = {
    ("contacts", "GET", False): api_reads.get_contacts,
    ("contacts", "GET", True): api_reads.get_contact,
    ("contacts", "PUT", False): api_writes.write_contacts,
    ("contacts", "POST", False): api_writes.write_contacts,
    ("contacts", "POST", True): api_writes.update_contact,
    ("items", "GET", False): api_reads.get_items,
    ("items", "GET", True): api_reads.get_item,
    ("items", "PUT", False): api_writes.write_items,
    ("items", "POST", False): api_writes.write_items,
    ("items", "POST", True): api_writes.update_item,
    ("items", "DELETE", True): api_writes.delete_item,
    ("invoices", "GET", False): api_reads.get_invoices,
    ("invoices", "GET", True): api_reads.get_invoice,
    ("invoices", "PUT", False): api_writes.write_invoices,
    ("invoices", "POST", False): api_writes.write_invoices,
    ("invoices", "POST", True): api_writes.update_invoice,
    ("organisation", "GET", False): api_reads.get_organisation,
    ("accounts", "GET", False): api_reads.get_accounts,
    ("taxrates", "GET", False): api_reads.get_tax_rates,
}

bp = Blueprint("xero_accounting", __name__)


@bp.route("/api.xro/2.0/<resource>", methods=["GET", "PUT", "POST", "DELETE"])
@bp.route("/api.xro/2.0/<resource>/<ref>", methods=["GET", "PUT", "POST", "DELETE"])
def dispatch(resource: str, ref: str | None = None) -> Response:
    state = current_state()
    grant = bearer_grant(state)
    if isinstance(grant, errors.ApiError):
        return json_response(grant.body, grant.status)
    tenant_id = request.headers.get("xero-tenant-id", "").strip().lower()
    with state.lock:
        org = state.orgs.get(tenant_id)
        user = state.users.get(grant.user_id)
        connected = state.find_connection(grant.client_id, grant.user_id, tenant_id) is not None
        if org is None or user is None or not connected or tenant_id not in user.tenant_ids:
            return json_response(errors.problem(403, "Forbidden", "AuthenticationUnsuccessful"), 403)
    key = resource.lower()
    method = request.method
    if key in _COLLECTIONS and not scopes.allowed(key, method != "GET", grant.scopes):
        return json_response(errors.problem(401, "Unauthorized", "AuthorizationUnsuccessful"), 401)

    decision = state.limiter.acquire(tenant_id, grant.client_id)
    if not decision.allowed:
        headers = dict(decision.headers)
        headers["X-Rate-Limit-Problem"] = decision.problem or "minute"
        if decision.retry_after is not None:
            headers["Retry-After"] = state.clock.format_retry_after(decision.retry_after)
        state.limiter.record(tenant_id, method, request.path, 429)
        return json_response(errors.problem(429, "Too Many Requests", "Rate limit exceeded"), 429, headers)

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
        return json_response(errors.problem(429, "Too Many Requests", "Rate limit exceeded"), 429, headers)
    titles = {500: "Internal Server Error", 503: "Service Unavailable", 502: "Bad Gateway", 504: "Gateway Timeout"}
    detail = "An error occurred in the Xero sandbox (injected fault)."
    return json_response(errors.problem(status, titles.get(status, "Error"), detail), status)


def _too_large() -> Response:
    return json_response(errors.problem(413, "Request Entity Too Large", "The request body exceeds 3.5 MB."), 413)


def _handle(state: SandboxState, org: Org, grant: Grant, key: str, ref: str | None, method: str) -> Response:
    if key not in _COLLECTIONS:
        detail = f"The resource '{key}' is not part of the sandbox"
        return json_response(errors.problem(404, "Not Found", detail), 404)
    if (key, method, ref is not None) not in _HANDLERS:
        detail = f"The requested resource does not support http method '{method}'."
        return json_response(errors.problem(405, "Method Not Allowed", detail), 405)
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return _too_large()
    body = request.get_data(cache=True)
    if len(body) > MAX_BODY_BYTES:
        return _too_large()
    call = Call(state, org, grant, key, ref, method, body)
    idem_key = request.headers.get("Idempotency-Key")
    if method in ("PUT", "POST") and idem_key is not None:
        return _idempotent(call, idem_key)
    with state.lock:
        return _run(call)


def _idempotent(call: Call, idem_key: str) -> Response:
    if len(idem_key) > MAX_KEY_LENGTH or not idem_key:
        detail = "Idempotency-Key must be 1 to 128 characters long."
        return json_response(errors.problem(400, "Bad Request", detail), 400)
    scope = (call.grant.client_id, call.org.tenant_id, idem_key)
    request_print = fingerprint(call.method, request.path, request.query_string.decode(), call.body)
    store = call.state.idempotency
    with call.state.lock:
        previous = store.lookup(scope)
        if previous is not None:
            if previous.fingerprint != request_print:
                detail = f"Idempotency key '{idem_key}' is used with a different request"
                return json_response(errors.problem(400, "Bad Request", detail), 400)
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
        status, payload = _HANDLERS[(call.resource, call.method, call.ref is not None)](call)
    except errors.ApiError as exc:
        return json_response(exc.body, exc.status, exc.headers)
    return json_response(payload, status)
