"""Xero's tenant-less ``/connections`` endpoints (only the app-wide minute limit applies)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from . import errors
from .identity_tokens import bearer_grant
from .limits import Decision
from .responses import current_state, json_response
from .state import Grant, SandboxState

bp = Blueprint("xero_identity_connections", __name__)


def _tenantless_call(state: SandboxState) -> tuple[Grant, Decision] | Response:
    """The bearer grant of a tenant-less call (``/connections``) and the app-wide minute's
    decision, or the error response (401, or 429 with ``X-Rate-Limit-Problem: appminute``)."""
    grant = bearer_grant(state)
    if isinstance(grant, errors.ApiError):
        return json_response(grant.body, grant.status)
    decision = state.limiter.app_call(grant.client_id)
    if not decision.allowed:
        body = errors.problem(429, "Too Many Requests", "Rate limit exceeded")
        return json_response(body, 429, {**decision.headers, "X-Rate-Limit-Problem": decision.problem or ""})
    return grant, decision


@bp.route("/connections", methods=["GET"])
@bp.route("/Connections", methods=["GET"])
def list_connections() -> Response:
    state = current_state()
    admitted = _tenantless_call(state)
    if isinstance(admitted, Response):
        return admitted
    grant, decision = admitted
    auth_event = request.args.get("authEventId")
    conns = [
        state.connection_json(c)
        for c in state.connections_for(grant.client_id, grant.user_id)
        if not auth_event or c.auth_event_id == auth_event
    ]
    return json_response(conns, headers=decision.headers)


@bp.route("/connections/<conn_id>", methods=["DELETE"])
@bp.route("/Connections/<conn_id>", methods=["DELETE"])
def delete_connection(conn_id: str) -> Response:
    state = current_state()
    admitted = _tenantless_call(state)
    if isinstance(admitted, Response):
        return admitted
    grant, decision = admitted
    with state.lock:
        conn = state.connections.get(conn_id)
        if conn is None or conn.client_id != grant.client_id or conn.user_id != grant.user_id:
            return json_response(errors.problem(404, "Not Found", "Connection not found"), 404, decision.headers)
        del state.connections[conn_id]
    response = Response(status=204)
    response.headers.update(decision.headers)
    return response
