"""Xero's token service: discovery, ``/connect/token``, ``/connect/revocation`` and bearer checks."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
import uuid
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote

from flask import Blueprint, Response, request

from . import errors, scopes
from .responses import current_state, json_response
from .state import AccessToken, AuthCode, Grant, RefreshToken, SandboxState

CODE_LIFETIME = 5 * 60
ACCESS_LIFETIME = 30 * 60
REFRESH_LIFETIME = 60 * 86400
REFRESH_GRACE = 30 * 60
_VERIFIER_RE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")

bp = Blueprint("xero_identity_tokens", __name__)


def _issuer() -> str:
    return request.host_url.rstrip("/")


@bp.get("/.well-known/openid-configuration")
def discovery() -> Response:
    issuer = _issuer()
    return json_response(
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
    return json_response(current_state().signer.jwks())


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
    return json_response(body, status, {"Cache-Control": "no-store"})


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
    state = current_state()
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
            return json_response(_issue(state, grant, code.nonce), headers={"Cache-Control": "no-store"})
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
            return json_response(_issue(state, grant), headers={"Cache-Control": "no-store"})
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
    state = current_state()
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
