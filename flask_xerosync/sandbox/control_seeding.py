"""Control: load data into organisations (the demo seed, or records in Xero's JSON) and read it all back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from flask import Response

from . import contacts, demo, invoices, items
from .control_common import ControlError, body, control_blueprint, dict_body, ok, org_or_404
from .responses import current_state
from .state import Org
from .writes import WriteResult

bp = control_blueprint("seeding")


@bp.post("/seed/demo")
def seed_demo() -> Response:
    data = dict_body()
    return ok(demo.seed_demo(current_state(), extra_redirect_uris=data.get("redirect_uris") or []))


def _seedable(element: Any) -> Any:
    """Accept ISO strings for read-only dates when seeding."""
    if isinstance(element, dict) and isinstance(element.get("UpdatedDateUTC"), str):
        text = element["UpdatedDateUTC"].replace("Z", "+00:00")
        moment = datetime.fromisoformat(text)
        element = {**element, "UpdatedDateUTC": moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)}
    return element


def _seed(tenant_id: str, collection: str, writer: Callable[[Org, Any], WriteResult],
          render: Callable[[Org, dict[str, Any]], dict[str, Any]]) -> Response:
    state = current_state()
    org = org_or_404(tenant_id)
    data = body()
    elements = data.get(collection) if isinstance(data, dict) else data
    if not isinstance(elements, list):
        raise ControlError(400, f"expected a list of {collection} or {{\"{collection}\": [...]}}")
    with state.lock:
        results = [writer(org, _seedable(e)) for e in elements]
        failed = [r.element for r in results if not r.ok]
        if failed:
            raise ControlError(400, "some elements were rejected", {"elements": failed,
                                                                   "created": sum(r.ok for r in results)})
        return ok({collection: [render(org, r.element) for r in results]}, 201)


def _list(tenant_id: str, collection: str, records: Callable[[Org], list[dict[str, Any]]]) -> Response:
    state = current_state()
    org = org_or_404(tenant_id)
    with state.lock:
        return ok({collection: records(org)})


@bp.post("/orgs/<tenant_id>/contacts")
def seed_contacts(tenant_id: str) -> Response:
    now = current_state().clock.now()
    return _seed(tenant_id, "Contacts",
                 lambda org, e: contacts.write_contact(org, e, "upsert", now, seed=True), lambda org, c: c)


@bp.get("/orgs/<tenant_id>/contacts")
def read_contacts(tenant_id: str) -> Response:
    return _list(tenant_id, "Contacts", lambda org: list(org.contacts.values()))


@bp.post("/orgs/<tenant_id>/items")
def seed_items(tenant_id: str) -> Response:
    now = current_state().clock.now()
    return _seed(tenant_id, "Items", lambda org, e: items.write_item(org, e, "upsert", now, unitdp4=True, seed=True),
                 lambda org, i: items.render_item(i, True))


@bp.get("/orgs/<tenant_id>/items")
def read_items(tenant_id: str) -> Response:
    return _list(tenant_id, "Items", lambda org: [items.render_item(i, True) for i in org.items.values()])


@bp.post("/orgs/<tenant_id>/invoices")
def seed_invoices(tenant_id: str) -> Response:
    now = current_state().clock.now()
    return _seed(tenant_id, "Invoices",
                 lambda org, e: invoices.write_invoice(org, e, "upsert", now, unitdp4=True, seed=True),
                 lambda org, i: invoices.render_invoice(org, i, True))


@bp.get("/orgs/<tenant_id>/invoices")
def read_invoices(tenant_id: str) -> Response:
    return _list(tenant_id, "Invoices",
                 lambda org: [invoices.render_invoice(org, i, True) for i in org.invoices.values()])
