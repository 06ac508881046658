"""Control: the consent screen's decisions, the user's connections and token expiry."""

from __future__ import annotations

from flask import Response, request

from .control_common import ControlError, app_or_404, control_blueprint, dict_body, ok, user_or_404
from .identity_tokens import revoke_grant
from .responses import current_state
from .state import ConsentPreset

bp = control_blueprint("consent")


@bp.post("/consent")
def set_consent() -> Response:
    state = current_state()
    data = dict_body()
    client_id = app_or_404(str(data.get("client_id"))).client_id
    action = data.get("action", "authorise")
    if action not in ("authorise", "cancel"):
        raise ControlError(400, "action must be 'authorise' or 'cancel'")
    user = user_or_404(data["user"]) if data.get("user") else None
    tenant_ids = data.get("tenant_ids")
    if tenant_ids is not None:
        tenant_ids = [str(t).lower() for t in tenant_ids]
        target_user = user or state.find_user(None)
        missing = [t for t in tenant_ids if target_user is None or t not in target_user.tenant_ids]
        if missing:
            raise ControlError(400, f"the user cannot access: {', '.join(missing)}")
    state.consent_presets[client_id] = ConsentPreset(action, tenant_ids, user.user_id if user else None)
    return ok({"client_id": client_id, "action": action, "tenant_ids": tenant_ids,
               "user": user.user_id if user else None})


@bp.delete("/consent")
def clear_consent() -> Response:
    state = current_state()
    client_id = request.args.get("client_id")
    if client_id:
        state.consent_presets.pop(client_id, None)
    else:
        state.consent_presets.clear()
    return ok({"cleared": client_id or "all"})


@bp.get("/connections")
def list_all_connections() -> Response:
    state = current_state()
    with state.lock:
        return ok([
            {**state.connection_json(c), "clientId": c.client_id, "userId": c.user_id}
            for c in state.connections.values()
        ])


@bp.post("/connections/revoke")
def revoke_connection() -> Response:
    state = current_state()
    data = dict_body()
    user = state.find_user(data["user"]) if data.get("user") else None
    if data.get("connection_id"):
        with state.lock:
            removed = 1 if state.connections.pop(str(data["connection_id"]), None) else 0
    else:
        removed = state.remove_connections(
            tenant_id=str(data["tenant_id"]).lower() if data.get("tenant_id") else None,
            client_id=data.get("client_id"),
            user_id=user.user_id if user else None,
        )
    return ok({"removed": removed})


@bp.post("/tokens/expire")
def expire_tokens() -> Response:
    """Make refresh tokens (or an access token) unusable, as if expired or revoked in Xero."""
    state = current_state()
    data = dict_body()
    expired = 0
    with state.lock:
        if data.get("access_token"):
            record = state.access_tokens.get(data["access_token"])
            if record is not None:
                record.expires_at = state.clock.timestamp() - 1
                expired += 1
        if data.get("refresh_token"):
            record_rt = state.refresh_tokens.get(data["refresh_token"])
            if record_rt is not None:
                record_rt.revoked = True
                expired += 1
        if data.get("client_id") and not data.get("refresh_token") and not data.get("access_token"):
            user = state.find_user(data["user"]) if data.get("user") else None
            for grant in list(state.grants.values()):
                if grant.client_id == data["client_id"] and (user is None or grant.user_id == user.user_id):
                    if data.get("revoke_grant"):
                        revoke_grant(state, grant)
                    for rt in state.refresh_tokens.values():
                        if rt.grant_id == grant.grant_id and not rt.revoked:
                            rt.revoked = True
                            expired += 1
    return ok({"expired": expired})
