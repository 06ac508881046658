"""Control: call counters and limits (defaults for all, per organisation, the per-app minute limit)."""

from __future__ import annotations

from flask import Response

from .control_common import app_or_404, control_blueprint, dict_body, ok, org_or_404
from .limits import OrgLimits
from .responses import current_state

bp = control_blueprint("limits")


def _limits_json(limits: OrgLimits) -> dict[str, int]:
    return {"per_minute": limits.per_minute, "per_day": limits.per_day, "concurrent": limits.concurrent}


@bp.get("/orgs/<tenant_id>/counters")
def counters(tenant_id: str) -> Response:
    return ok(current_state().limiter.counters(org_or_404(tenant_id).tenant_id))


@bp.delete("/orgs/<tenant_id>/counters")
def reset_counters(tenant_id: str) -> Response:
    current_state().limiter.reset_counters(org_or_404(tenant_id).tenant_id)
    return ok({"reset": True})


@bp.route("/orgs/<tenant_id>/limits", methods=["PUT", "POST"])
def set_limits(tenant_id: str) -> Response:
    org = org_or_404(tenant_id)
    data = dict_body()
    limits = current_state().limiter.set_limits(
        org.tenant_id, per_minute=data.get("per_minute"), per_day=data.get("per_day"),
        concurrent=data.get("concurrent"),
    )
    return ok(_limits_json(limits))


@bp.get("/orgs/<tenant_id>/limits")
def get_limits(tenant_id: str) -> Response:
    return ok(_limits_json(current_state().limiter.get_limits(org_or_404(tenant_id).tenant_id)))


@bp.put("/apps/<client_id>/limits")
def set_app_limits(client_id: str) -> Response:
    """``{"per_minute": n}``; ``null`` goes back to the default (Xero's 10,000)."""
    data = dict_body()
    app_or_404(client_id)
    limiter = current_state().limiter
    limiter.set_app_limit(client_id, data.get("per_minute"))
    return ok(limiter.app_limits(client_id))


@bp.get("/apps/<client_id>/limits")
def app_limits(client_id: str) -> Response:
    app_or_404(client_id)
    return ok(current_state().limiter.app_limits(client_id))


@bp.get("/limits")
def default_limits() -> Response:
    return ok(current_state().limiter.defaults())


@bp.put("/limits")
def set_default_limits() -> Response:
    """Limits of every organisation and app without their own: ``{per_minute, per_day, concurrent,
    app_per_minute}`` (each optional); a reset restores Xero's."""
    data = dict_body()
    return ok(current_state().limiter.set_defaults(
        per_minute=data.get("per_minute"), per_day=data.get("per_day"), concurrent=data.get("concurrent"),
        app_per_minute=data.get("app_per_minute"),
    ))
