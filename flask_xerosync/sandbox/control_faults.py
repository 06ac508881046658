"""Control: an organisation's fault plan (errors, latency, dropped responses)."""

from __future__ import annotations

from flask import Response

from .control_common import control_blueprint, dict_body, ok, org_or_404
from .faults import parse_plan
from .responses import current_state

bp = control_blueprint("faults")


@bp.route("/orgs/<tenant_id>/faults", methods=["PUT", "POST"])
def set_faults(tenant_id: str) -> Response:
    org = org_or_404(tenant_id)
    plan = parse_plan(dict_body())
    current_state().faults.set(org.tenant_id, plan)
    return ok(plan.as_dict())


@bp.get("/orgs/<tenant_id>/faults")
def get_faults(tenant_id: str) -> Response:
    return ok(current_state().faults.get(org_or_404(tenant_id).tenant_id) or {})


@bp.delete("/orgs/<tenant_id>/faults")
def clear_faults(tenant_id: str) -> Response:
    current_state().faults.clear(org_or_404(tenant_id).tenant_id)
    return ok({"cleared": True})
