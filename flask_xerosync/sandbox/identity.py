"""Xero's identity endpoints: consent, token, revocation, discovery and ``/connections``."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
import uuid
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote, urlencode

from flask import Blueprint, Response, current_app, redirect, request

from . import errors, pages, scopes
from .jsonfmt import dumps
from .limits import Decision
from .state import AccessToken, AuthCode, Grant, PendingConsent, RefreshToken, SandboxState, User

CODE_LIFETIME = 5 * 60
ACCESS_LIFETIME = 30 * 60
REFRESH_LIFETIME = 60 * 86400
REFRESH_GRACE = 30 * 60
PENDING_LIFETIME = 60 * 60
_VERIFIER_RE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")

bp = Blueprint("xero_identity", __name__)


def _state() -> SandboxState:
    return current_app.extensions["xero_sandbox"]


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(dumps(payload), status=status, mimetype="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _issuer() -> str:
    return request.host_url.rstrip("/")


def _error_page(error: str, description: str) -> Response:
    """Xero shows an error page with status 500 for bad authorize parameters; it never redirects."""
    return Response(pages.error_page(error, description), status=500, mimetype="text/html")


def _redirect_with(uri: str, params: dict[str, str | None]) -> Response:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return redirect(f"{uri}{'&' if '?' in uri else '?'}{query}", code=302)


@bp.get("/.well-known/openid-configuration")
def discovery() -> Response:
    issuer = _issuer()
    return _json(
        {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/identity/connect/authorize",
            "token_endpoint": f"{issuer}/connect/token",
            "revocation_endpoint": f"{issuer}/connect/revocation",
            "jwks_uri": f"{issuer}/.well-known/openid-configuration/jwks",
            "scopes_supported": sorted(scopes.KNOWN),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }
    )


@bp.get("/.well-known/openid-configuration/jwks")
def jwks() -> Response:
    return _json(_state().signer.jwks())


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
    state = _state()
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
    state = _state()
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


def _client_credentials() -> tuple[str, str | None]:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip()).decode()
        except (binascii.Error, UnicodeDecodeError):
            return "", None
        client_id, _, secret = decoded.partition(":")
        return unquote(client_id), unquote(secret)
    return request.form.get("client_id", ""), request.form.get("client_secret")


def _authenticate_client(state: SandboxState) -> str | None:
    client_id, secret = _client_credentials()
    app = state.apps.get(client_id)
    if app is None:
        return None
    if app.client_secret and not secrets.compare_digest(secret or "", app.client_secret):
        return None
    return client_id


def _token_error(error: str, status: int = 400, description: str | None = None) -> Response:
    body = {"error": error}
    if description:
        body["error_description"] = description
    return _json(body, status, {"Cache-Control": "no-store"})


def _issue(state: SandboxState, grant: Grant, nonce: str | None = None) -> dict[str, Any]:
    now = state.clock.timestamp()
    user = state.users.get(grant.user_id)
    issuer = _issuer()
    access_claims = {
        "nbf": int(now),
        "exp": int(now + ACCESS_LIFETIME),
        "iss": issuer,
        "aud": f"{issuer}/resources",
        "client_id": grant.client_id,
        "sub": grant.user_id.replace("-", ""),
        "auth_time": int(grant.authorised_at.timestamp()),
        "xero_userid": grant.user_id,
        "global_session_id": grant.grant_id.replace("-", ""),
        "sid": grant.grant_id.replace("-", ""),
        "jti": secrets.token_hex(16),
        "authentication_event_id": grant.auth_event_id,
        "scope": list(grant.scopes),
    }
    access = state.signer.sign(access_claims)
    state.access_tokens[access] = AccessToken(access, grant.grant_id, now + ACCESS_LIFETIME)
    body: dict[str, Any] = {}
    if "openid" in grant.scopes and user is not None:
        id_claims: dict[str, Any] = {
            "nbf": int(now),
            "exp": int(now + 300),
            "iss": issuer,
            "aud": grant.client_id,
            "iat": int(now),
            "auth_time": int(grant.authorised_at.timestamp()),
            "sub": grant.user_id.replace("-", ""),
            "xero_userid": grant.user_id,
            "global_session_id": grant.grant_id.replace("-", ""),
            "sid": grant.grant_id.replace("-", ""),
        }
        if "email" in grant.scopes or "profile" in grant.scopes:
            id_claims.update(
                {
                    "preferred_username": user.email,
                    "email": user.email,
                    "given_name": user.first_name,
                    "family_name": user.last_name,
                    "name": user.name,
                }
            )
        if nonce:
            id_claims["nonce"] = nonce
        body["id_token"] = state.signer.sign(id_claims)
    body.update({"access_token": access, "expires_in": ACCESS_LIFETIME, "token_type": "Bearer"})
    if "offline_access" in grant.scopes:
        refresh = secrets.token_hex(32)
        state.refresh_tokens[refresh] = RefreshToken(refresh, grant.grant_id, now)
        body["refresh_token"] = refresh
    body["scope"] = " ".join(grant.scopes)
    return body


def _pkce_ok(code: AuthCode, verifier: str | None) -> bool:
    if not code.code_challenge:
        return True
    if not verifier or not _VERIFIER_RE.match(verifier):
        return False
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return secrets.compare_digest(expected, code.code_challenge)


@bp.post("/connect/token")
def token() -> Response:
    state = _state()
    client_id = _authenticate_client(state)
    if client_id is None:
        return _token_error("invalid_client", 401)
    grant_type = request.form.get("grant_type")
    now = state.clock.timestamp()
    with state.lock:
        if grant_type == "authorization_code":
            code = state.codes.get(request.form.get("code", ""))
            if code is None:
                return _token_error("invalid_grant")
            grant = state.grants.get(code.grant_id)
            if grant is None or grant.client_id != client_id or grant.revoked:
                return _token_error("invalid_grant")
            if code.used or code.issued_at + CODE_LIFETIME < now:
                code.used = True
                return _token_error("invalid_grant")
            code.used = True
            if request.form.get("redirect_uri") != code.redirect_uri:
                return _token_error("invalid_grant")
            if not _pkce_ok(code, request.form.get("code_verifier")):
                return _token_error("invalid_grant")
            return _json(_issue(state, grant, code.nonce), headers={"Cache-Control": "no-store"})
        if grant_type == "refresh_token":
            record = state.refresh_tokens.get(request.form.get("refresh_token", ""))
            if record is None or record.revoked:
                return _token_error("invalid_grant")
            grant = state.grants.get(record.grant_id)
            if grant is None or grant.revoked or grant.client_id != client_id:
                return _token_error("invalid_grant")
            if record.issued_at + REFRESH_LIFETIME < now:
                return _token_error("invalid_grant")
            if record.rotated_at is not None and record.rotated_at + REFRESH_GRACE < now:
                return _token_error("invalid_grant")
            if record.rotated_at is None:
                record.rotated_at = now
            return _json(_issue(state, grant), headers={"Cache-Control": "no-store"})
    return _token_error("unsupported_grant_type")


def revoke_grant(state: SandboxState, grant: Grant) -> None:
    """Revoke a consent's tokens and remove the user's connections for the app."""
    with state.lock:
        grant.revoked = True
        for record in state.refresh_tokens.values():
            if record.grant_id == grant.grant_id:
                record.revoked = True
        for key in [k for k, t in state.access_tokens.items() if t.grant_id == grant.grant_id]:
            del state.access_tokens[key]
        state.remove_connections(client_id=grant.client_id, user_id=grant.user_id)


@bp.post("/connect/revocation")
def revocation() -> Response:
    state = _state()
    client_id = _authenticate_client(state)
    if client_id is None:
        return _token_error("invalid_client", 401)
    value = request.form.get("token", "")
    with state.lock:
        record = state.refresh_tokens.get(value)
        grant_id = record.grant_id if record else None
        if grant_id is None and value in state.access_tokens:
            grant_id = state.access_tokens[value].grant_id
        grant = state.grants.get(grant_id or "")
        if grant is not None and grant.client_id == client_id:
            revoke_grant(state, grant)
    return Response(status=200)


def bearer_grant(state: SandboxState) -> Grant | errors.ApiError:
    """The consent behind the request's bearer token, or the 401 Xero would return."""
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return errors.ApiError(401, errors.problem(401, "Unauthorized", "AuthenticationUnsuccessful"))
    with state.lock:
        record = state.access_tokens.get(header[7:].strip())
        grant = state.grants.get(record.grant_id) if record else None
        if record is None or grant is None or grant.revoked:
            return errors.ApiError(401, errors.problem(401, "Unauthorized", "AuthenticationUnsuccessful"))
        if record.expires_at <= state.clock.timestamp():
            expired = datetime.fromtimestamp(record.expires_at, tz=timezone.utc).strftime("%m/%d/%Y %H:%M:%S")
            return errors.ApiError(
                401,
                {"Type": None, "Title": "Unauthorized", "Status": 401,
                 "Detail": f"TokenExpired: token expired at {expired}", "Instance": str(uuid.uuid4())},
            )
        return grant


def _tenantless_call(state: SandboxState) -> tuple[Grant, Decision] | Response:
    """The bearer grant of a tenant-less call (``/connections``) and the app-wide minute's
    decision, or the error response (401, or 429 with ``X-Rate-Limit-Problem: appminute``)."""
    grant = bearer_grant(state)
    if isinstance(grant, errors.ApiError):
        return _json(grant.body, grant.status)
    decision = state.limiter.app_call(grant.client_id)
    if not decision.allowed:
        body = errors.problem(429, "Too Many Requests", "Rate limit exceeded")
        return _json(body, 429, {**decision.headers, "X-Rate-Limit-Problem": "appminute"})
    return grant, decision


@bp.route("/connections", methods=["GET"])
@bp.route("/Connections", methods=["GET"])
def list_connections() -> Response:
    state = _state()
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
    return _json(conns, headers=decision.headers)


@bp.route("/connections/<conn_id>", methods=["DELETE"])
@bp.route("/Connections/<conn_id>", methods=["DELETE"])
def delete_connection(conn_id: str) -> Response:
    state = _state()
    admitted = _tenantless_call(state)
    if isinstance(admitted, Response):
        return admitted
    grant, decision = admitted
    with state.lock:
        conn = state.connections.get(conn_id)
        if conn is None or conn.client_id != grant.client_id or conn.user_id != grant.user_id:
            return _json(errors.problem(404, "Not Found", "Connection not found"), 404, decision.headers)
        del state.connections[conn_id]
    response = Response(status=204)
    response.headers.update(decision.headers)
    return response
