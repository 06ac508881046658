"""Xero's consent screen: ``/identity/connect/authorize`` (GET renders it, POST records the decision)."""

from __future__ import annotations

import secrets
import uuid
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, request

from . import pages, scopes
from .responses import current_state
from .state import AuthCode, Grant, PendingConsent, SandboxState, User

PENDING_LIFETIME = 60 * 60

bp = Blueprint("xero_identity_consent", __name__)


def _error_page(error: str, description: str) -> Response:
    """Xero shows an error page with status 500 for bad authorize parameters; it never redirects."""
    return Response(pages.error_page(error, description), status=500, mimetype="text/html")


def _redirect_with(uri: str, params: dict[str, str | None]) -> Response:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    response = Response(status=302)
    response.headers["Location"] = f"{uri}{'&' if '?' in uri else '?'}{query}"
    return response


def _validate_authorize(state: SandboxState, args: Any) -> tuple[str, str] | PendingConsent:
    """Return an ``(error, description)`` pair or a pending consent for valid parameters."""
    app = state.apps.get(args.get("client_id", ""))
    if app is None:
        return "unauthorized_client", "Unknown client or client not enabled"
    redirect_uri = args.get("redirect_uri", "")
    if redirect_uri not in app.redirect_uris:
        return "invalid_request", "Invalid redirect_uri"
    if args.get("response_type") != "code":
        return "unsupported_response_type", "response_type must be 'code'"
    requested = tuple(dict.fromkeys(args.get("scope", "").split()))
    if not requested:
        return "invalid_scope", "No scope was requested"
    unknown = [s for s in requested if s not in scopes.KNOWN]
    if unknown:
        return "invalid_scope", f"Unknown scope: {' '.join(unknown)}"
    if app.created_after_granular and any(s in scopes.BROAD for s in requested):
        return "unauthorized_client", "Invalid scope for client"
    challenge = args.get("code_challenge")
    method = args.get("code_challenge_method")
    if challenge and method != "S256":
        return "invalid_request", "code_challenge_method must be S256"
    if not challenge and not app.client_secret:
        return "invalid_request", "code_challenge is required for PKCE clients"
    user = state.find_user(None)
    if user is None:
        return "access_denied", "No sandbox user is signed in; create one with POST /_sandbox/users"
    return PendingConsent(
        request_id=secrets.token_urlsafe(16),
        client_id=app.client_id,
        user_id=user.user_id,
        redirect_uri=redirect_uri,
        scopes=requested,
        state=args.get("state"),
        code_challenge=challenge,
        code_challenge_method=method,
        nonce=args.get("nonce"),
        created=state.clock.timestamp(),
    )


def _approve(state: SandboxState, pending: PendingConsent, tenant_ids: list[str]) -> Response:
    auth_event_id = str(uuid.uuid4())
    with state.lock:
        grant = Grant(str(uuid.uuid4()), pending.client_id, pending.user_id, pending.scopes, auth_event_id,
                      state.clock.now())
        state.grants[grant.grant_id] = grant
        state.connect(pending.client_id, pending.user_id, tenant_ids, auth_event_id)
        code = AuthCode(secrets.token_urlsafe(32), grant.grant_id, pending.redirect_uri, state.clock.timestamp(),
                        pending.code_challenge, pending.code_challenge_method, pending.nonce)
        state.codes[code.code] = code
    return _redirect_with(
        pending.redirect_uri, {"code": code.code, "scope": " ".join(pending.scopes), "state": pending.state}
    )


def _deny(pending: PendingConsent) -> Response:
    return _redirect_with(pending.redirect_uri, {"error": "access_denied", "state": pending.state})


def _consent_page(state: SandboxState, pending: PendingConsent, error: str | None = None,
                  status: int = 200) -> Response:
    app = state.apps[pending.client_id]
    user = state.users[pending.user_id]
    connected = {c.tenant_id for c in state.connections_for(app.client_id, user.user_id)}
    orgs = [
        {"tenant_id": t, "name": state.orgs[t].name, "connected": t in connected, "checked": i == 0 and not app.bulk_connections}
        for i, t in enumerate(user.tenant_ids)
        if t in state.orgs
    ]
    html = pages.consent_page(
        app_name=app.name,
        user_name=user.name,
        user_email=user.email,
        scopes=[{"name": s, "text": scopes.describe(s)} for s in pending.scopes],
        orgs=orgs,
        bulk=app.bulk_connections,
        request_id=pending.request_id,
        action=request.path,
        error=error,
    )
    return Response(html, status=status, mimetype="text/html")


def _preset_tenants(user: User, requested: list[str] | None, bulk: bool) -> list[str]:
    if requested is None:
        return list(user.tenant_ids) if bulk else list(user.tenant_ids[:1])
    return [t for t in requested if t in user.tenant_ids]


@bp.get("/identity/connect/authorize")
def authorize() -> Response:
    state = current_state()
    outcome = _validate_authorize(state, request.args)
    if isinstance(outcome, tuple):
        return _error_page(*outcome)
    pending = outcome
    preset = state.consent_presets.get(pending.client_id)
    if preset is not None:
        user = state.find_user(preset.user_id) if preset.user_id else state.users[pending.user_id]
        if user is None:
            return _error_page("access_denied", "The preset consent names an unknown user")
        pending.user_id = user.user_id
        if preset.action == "cancel":
            return _deny(pending)
        app = state.apps[pending.client_id]
        return _approve(state, pending, _preset_tenants(user, preset.tenant_ids, app.bulk_connections))
    with state.lock:
        now = state.clock.timestamp()
        for key in [k for k, p in state.pending.items() if p.created + PENDING_LIFETIME < now]:
            del state.pending[key]
        state.pending[pending.request_id] = pending
    return _consent_page(state, pending)


@bp.post("/identity/connect/authorize")
def authorize_decision() -> Response:
    state = current_state()
    with state.lock:
        pending = state.pending.get(request.form.get("request_id", ""))
        if pending is None or pending.created + PENDING_LIFETIME < state.clock.timestamp():
            return _error_page("invalid_request", "This authorisation request has expired; start again")
        action = request.form.get("action")
        if action == "cancel":
            del state.pending[pending.request_id]
            return _deny(pending)
        if action != "authorise":
            return _error_page("invalid_request", "Unknown action")
        user = state.users[pending.user_id]
        app = state.apps[pending.client_id]
        chosen = list(dict.fromkeys(request.form.getlist("tenant_id")))
        if any(t not in user.tenant_ids for t in chosen):
            return _consent_page(state, pending, "Choose one of your organisations.", 400)
        if user.tenant_ids and not chosen:
            return _consent_page(state, pending, "Choose an organisation to connect.", 400)
        if not app.bulk_connections and len(chosen) > 1:
            return _consent_page(state, pending, "Choose only one organisation.", 400)
        del state.pending[pending.request_id]
    return _approve(state, pending, chosen)
