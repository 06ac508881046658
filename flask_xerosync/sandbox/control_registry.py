"""Control: the world itself (reset, summary) and its apps, users and organisations."""

from __future__ import annotations

from flask import Response

from .control_common import ControlError, control_blueprint, dict_body, ok, org_or_404, user_or_404
from .responses import current_state

bp = control_blueprint("registry")


@bp.post("/reset")
def reset() -> Response:
    current_state().reset()
    return ok({"reset": True})


@bp.get("/state")
def summary() -> Response:
    state = current_state()
    with state.lock:
        return ok(
            {
                "now": state.clock.now().isoformat(),
                "time_scale": state.clock.time_scale,
                "apps": [a.as_dict() for a in state.apps.values()],
                "users": [u.as_dict() for u in state.users.values()],
                "orgs": [o.summary() for o in state.orgs.values()],
                "signed_in_user": state.signed_in_user,
            }
        )


@bp.post("/apps")
def register_app() -> Response:
    data = dict_body()
    if not data.get("client_id") or "client_secret" not in data:
        raise ControlError(400, "client_id and client_secret are required")
    uris = data.get("redirect_uris") or []
    if not isinstance(uris, list) or not all(isinstance(u, str) for u in uris):
        raise ControlError(400, "redirect_uris must be a list of strings")
    state = current_state()
    app = state.register_app(
        data["client_id"],
        data["client_secret"],
        uris,
        name=data.get("name") or "Sandbox App",
        bulk_connections=bool(data.get("bulk_connections", False)),
        created_after_granular=bool(data.get("created_after_granular", True)),
    )
    if data.get("app_per_minute") is not None:
        state.limiter.set_app_limit(app.client_id, int(data["app_per_minute"]))
    return ok(app.as_dict(), 201)


@bp.get("/apps")
def list_apps() -> Response:
    return ok([a.as_dict() for a in current_state().apps.values()])


@bp.post("/users")
def create_user() -> Response:
    data = dict_body()
    if not data.get("email"):
        raise ControlError(400, "email is required")
    user = current_state().create_user(
        data["email"], data.get("name") or "Sandbox User", [t.lower() for t in data.get("tenant_ids") or []],
        data.get("user_id"),
    )
    return ok(user.as_dict(), 201)


@bp.get("/users")
def list_users() -> Response:
    return ok([u.as_dict() for u in current_state().users.values()])


@bp.post("/session")
def sign_in() -> Response:
    user = user_or_404(dict_body().get("user"))
    current_state().signed_in_user = user.user_id
    return ok(user.as_dict())


@bp.post("/orgs")
def create_org() -> Response:
    data = dict_body()
    if not data.get("name"):
        raise ControlError(400, "name is required")
    org = current_state().create_org(
        data["name"],
        country=data.get("country") or "NZ",
        base_currency=data.get("base_currency"),
        short_code=data.get("short_code"),
        user_ids=data.get("users") or [],
        tenant_id=data.get("tenant_id"),
    )
    return ok(org.summary(), 201)


@bp.get("/orgs")
def list_orgs() -> Response:
    return ok([o.summary() for o in current_state().orgs.values()])


@bp.post("/orgs/<tenant_id>/users")
def grant_org_access(tenant_id: str) -> Response:
    org = org_or_404(tenant_id)
    user = user_or_404(dict_body().get("user"))
    current_state().grant_access(user.user_id, org.tenant_id)
    return ok(user.as_dict())
