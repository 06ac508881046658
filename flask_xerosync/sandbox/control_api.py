"""The sandbox's own control surface under ``/_sandbox`` (JSON; not part of Xero)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, current_app, request

from . import contacts, demo, invoices, items
from .faults import parse_plan
from .identity import revoke_grant
from .jsonfmt import dumps, loads, parse_date, to_decimal
from .state import ConsentPreset, Org, SandboxState
from .writes import WriteResult

bp = Blueprint("xero_sandbox_control", __name__, url_prefix="/_sandbox")


class ControlError(Exception):
    def __init__(self, status: int, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.extra = extra or {}


def _state() -> SandboxState:
    return current_app.extensions["xero_sandbox"]


def _ok(payload: Any, status: int = 200) -> Response:
    return Response(dumps(payload), status=status, mimetype="application/json")


def _body() -> Any:
    raw = request.get_data()
    if not raw.strip():
        return {}
    try:
        return loads(raw)
    except ValueError as exc:
        raise ControlError(400, f"invalid JSON: {exc}") from exc


def _dict_body() -> dict[str, Any]:
    data = _body()
    if not isinstance(data, dict):
        raise ControlError(400, "expected a JSON object")
    return data


def _org(tenant_id: str) -> Org:
    org = _state().orgs.get(tenant_id.lower())
    if org is None:
        raise ControlError(404, f"unknown organisation {tenant_id}")
    return org


@bp.errorhandler(ControlError)
def _control_error(exc: ControlError) -> Response:
    return _ok({"error": str(exc), **exc.extra}, exc.status)


@bp.errorhandler(KeyError)
def _key_error(exc: KeyError) -> Response:
    return _ok({"error": str(exc.args[0]) if exc.args else "not found"}, 404)


@bp.errorhandler(ValueError)
def _value_error(exc: ValueError) -> Response:
    return _ok({"error": str(exc)}, 400)


# --- world --------------------------------------------------------------------------------
@bp.post("/reset")
def reset() -> Response:
    _state().reset()
    return _ok({"reset": True})


@bp.get("/state")
def summary() -> Response:
    state = _state()
    with state.lock:
        return _ok(
            {
                "now": state.clock.now().isoformat(),
                "time_scale": state.clock.time_scale,
                "apps": [a.as_dict() for a in state.apps.values()],
                "users": [u.as_dict() for u in state.users.values()],
                "orgs": [o.summary() for o in state.orgs.values()],
                "signed_in_user": state.signed_in_user,
            }
        )


@bp.post("/seed/demo")
def seed_demo() -> Response:
    data = _dict_body()
    return _ok(demo.seed_demo(_state(), extra_redirect_uris=data.get("redirect_uris") or []))


@bp.post("/apps")
def register_app() -> Response:
    data = _dict_body()
    if not data.get("client_id") or "client_secret" not in data:
        raise ControlError(400, "client_id and client_secret are required")
    uris = data.get("redirect_uris") or []
    if not isinstance(uris, list) or not all(isinstance(u, str) for u in uris):
        raise ControlError(400, "redirect_uris must be a list of strings")
    app = _state().register_app(
        data["client_id"],
        data["client_secret"],
        uris,
        name=data.get("name") or "Sandbox App",
        bulk_connections=bool(data.get("bulk_connections", False)),
        created_after_granular=bool(data.get("created_after_granular", True)),
    )
    if data.get("app_per_minute") is not None:
        _state().limiter.set_app_limit(app.client_id, int(data["app_per_minute"]))
    return _ok(app.as_dict(), 201)


@bp.get("/apps")
def list_apps() -> Response:
    return _ok([a.as_dict() for a in _state().apps.values()])


@bp.put("/apps/<client_id>/limits")
def app_limits(client_id: str) -> Response:
    data = _dict_body()
    if client_id not in _state().apps:
        raise ControlError(404, f"unknown app {client_id}")
    _state().limiter.set_app_limit(client_id, int(data["per_minute"]))
    return _ok({"client_id": client_id, "per_minute": int(data["per_minute"])})


@bp.post("/users")
def create_user() -> Response:
    data = _dict_body()
    if not data.get("email"):
        raise ControlError(400, "email is required")
    user = _state().create_user(
        data["email"], data.get("name") or "Sandbox User", [t.lower() for t in data.get("tenant_ids") or []],
        data.get("user_id"),
    )
    return _ok(user.as_dict(), 201)


@bp.get("/users")
def list_users() -> Response:
    return _ok([u.as_dict() for u in _state().users.values()])


@bp.post("/session")
def sign_in() -> Response:
    state = _state()
    user = state.find_user(str(_dict_body().get("user", "")))
    if user is None:
        raise ControlError(404, "unknown user")
    state.signed_in_user = user.user_id
    return _ok(user.as_dict())


@bp.post("/orgs")
def create_org() -> Response:
    data = _dict_body()
    if not data.get("name"):
        raise ControlError(400, "name is required")
    org = _state().create_org(
        data["name"],
        country=data.get("country") or "NZ",
        base_currency=data.get("base_currency"),
        short_code=data.get("short_code"),
        user_ids=data.get("users") or [],
        tenant_id=data.get("tenant_id"),
    )
    return _ok(org.summary(), 201)


@bp.get("/orgs")
def list_orgs() -> Response:
    return _ok([o.summary() for o in _state().orgs.values()])


@bp.post("/orgs/<tenant_id>/users")
def grant_org_access(tenant_id: str) -> Response:
    state = _state()
    org = _org(tenant_id)
    user = state.find_user(str(_dict_body().get("user", "")))
    if user is None:
        raise ControlError(404, "unknown user")
    state.grant_access(user.user_id, org.tenant_id)
    return _ok(user.as_dict())


# --- data ---------------------------------------------------------------------------------
def _seedable(element: Any) -> Any:
    """Accept ISO strings for read-only dates when seeding."""
    if isinstance(element, dict) and isinstance(element.get("UpdatedDateUTC"), str):
        text = element["UpdatedDateUTC"].replace("Z", "+00:00")
        moment = datetime.fromisoformat(text)
        element = {**element, "UpdatedDateUTC": moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)}
    return element


def _seed(tenant_id: str, collection: str, writer: Callable[[Org, Any], WriteResult],
          render: Callable[[Org, dict[str, Any]], dict[str, Any]]) -> Response:
    state = _state()
    org = _org(tenant_id)
    data = _body()
    elements = data.get(collection) if isinstance(data, dict) else data
    if not isinstance(elements, list):
        raise ControlError(400, f"expected a list of {collection} or {{\"{collection}\": [...]}}")
    with state.lock:
        results = [writer(org, _seedable(e)) for e in elements]
        failed = [r.element for r in results if not r.ok]
        if failed:
            raise ControlError(400, "some elements were rejected", {"elements": failed,
                                                                   "created": sum(r.ok for r in results)})
        return _ok({collection: [render(org, r.element) for r in results]}, 201)


def _list(tenant_id: str, collection: str, records: Callable[[Org], list[dict[str, Any]]]) -> Response:
    state = _state()
    org = _org(tenant_id)
    with state.lock:
        return _ok({collection: records(org)})


@bp.post("/orgs/<tenant_id>/contacts")
def seed_contacts(tenant_id: str) -> Response:
    now = _state().clock.now()
    return _seed(tenant_id, "Contacts",
                 lambda org, e: contacts.write_contact(org, e, "upsert", now, seed=True), lambda org, c: c)


@bp.get("/orgs/<tenant_id>/contacts")
def read_contacts(tenant_id: str) -> Response:
    return _list(tenant_id, "Contacts", lambda org: list(org.contacts.values()))


@bp.post("/orgs/<tenant_id>/items")
def seed_items(tenant_id: str) -> Response:
    now = _state().clock.now()
    return _seed(tenant_id, "Items", lambda org, e: items.write_item(org, e, "upsert", now, unitdp4=True, seed=True),
                 lambda org, i: items.render_item(i, True))


@bp.get("/orgs/<tenant_id>/items")
def read_items(tenant_id: str) -> Response:
    return _list(tenant_id, "Items", lambda org: [items.render_item(i, True) for i in org.items.values()])


@bp.post("/orgs/<tenant_id>/invoices")
def seed_invoices(tenant_id: str) -> Response:
    now = _state().clock.now()
    return _seed(tenant_id, "Invoices",
                 lambda org, e: invoices.write_invoice(org, e, "upsert", now, unitdp4=True, seed=True),
                 lambda org, i: invoices.render_invoice(org, i, True))


@bp.get("/orgs/<tenant_id>/invoices")
def read_invoices(tenant_id: str) -> Response:
    return _list(tenant_id, "Invoices",
                 lambda org: [invoices.render_invoice(org, i, True) for i in org.invoices.values()])


def _as_person(tenant_id: str, finder: Callable[[Org, str], dict[str, Any] | None], ref: str,
               apply: Callable[[Org, dict[str, Any]], WriteResult]) -> Response:
    state = _state()
    org = _org(tenant_id)
    with state.lock:
        record = finder(org, ref)
        if record is None:
            raise ControlError(404, f"not found: {ref}")
        result = apply(org, record)
        if not result.ok:
            raise ControlError(400, "; ".join(result.messages), {"messages": result.messages})
        return _ok(result.element)


@bp.patch("/orgs/<tenant_id>/contacts/<ref>")
def edit_contact(tenant_id: str, ref: str) -> Response:
    data = _dict_body()
    now = _state().clock.now()
    return _as_person(tenant_id, contacts.find_contact, ref,
                      lambda org, c: contacts.write_contact(org, data, "update", now, path_contact=c))


@bp.post("/orgs/<tenant_id>/contacts/<ref>/archive")
def archive_contact(tenant_id: str, ref: str) -> Response:
    now = _state().clock.now()
    return _as_person(tenant_id, contacts.find_contact, ref,
                      lambda org, c: contacts.write_contact(org, {"ContactStatus": "ARCHIVED"}, "update", now,
                                                            path_contact=c))


@bp.post("/orgs/<tenant_id>/contacts/<ref>/unarchive")
def unarchive_contact(tenant_id: str, ref: str) -> Response:
    now = _state().clock.now()
    return _as_person(tenant_id, contacts.find_contact, ref,
                      lambda org, c: contacts.write_contact(org, {"ContactStatus": "ACTIVE"}, "update", now,
                                                            path_contact=c))


@bp.patch("/orgs/<tenant_id>/items/<ref>")
def edit_item(tenant_id: str, ref: str) -> Response:
    data = _dict_body()
    now = _state().clock.now()
    return _as_person(tenant_id, items.find_item, ref,
                      lambda org, i: items.write_item(org, data, "update", now, unitdp4=True, path_item=i))


def _invoice_action(tenant_id: str, ref: str, action: Callable[[Org, dict[str, Any]], Any]) -> Response:
    state = _state()
    org = _org(tenant_id)
    with state.lock:
        invoice = invoices.find_invoice(org, ref)
        if invoice is None:
            raise ControlError(404, f"unknown invoice {ref}")
        action(org, invoice)
        return _ok(invoices.render_invoice(org, invoice, True))


@bp.post("/orgs/<tenant_id>/invoices/<ref>/payments")
def add_payment(tenant_id: str, ref: str) -> Response:
    data = _dict_body()
    state = _state()
    now = state.clock.now()

    def pay(org: Org, invoice: dict[str, Any]) -> None:
        amount = to_decimal(data.get("amount"))
        if amount is None:
            amount = invoice["AmountDue"]
        on = parse_date(data.get("date")) or now.date()
        invoices.apply_payment(org, invoice, Decimal(amount), on, now, str(data.get("reference", "")))

    return _invoice_action(tenant_id, ref, pay)


@bp.post("/orgs/<tenant_id>/invoices/<ref>/void")
def void_invoice(tenant_id: str, ref: str) -> Response:
    now = _state().clock.now()
    return _invoice_action(tenant_id, ref, lambda org, inv: invoices.void_invoice(inv, now))


# --- identity -----------------------------------------------------------------------------
@bp.post("/consent")
def set_consent() -> Response:
    state = _state()
    data = _dict_body()
    client_id = data.get("client_id")
    if client_id not in state.apps:
        raise ControlError(404, f"unknown app {client_id}")
    action = data.get("action", "authorise")
    if action not in ("authorise", "cancel"):
        raise ControlError(400, "action must be 'authorise' or 'cancel'")
    user = state.find_user(data.get("user")) if data.get("user") else None
    if data.get("user") and user is None:
        raise ControlError(404, f"unknown user {data.get('user')}")
    tenant_ids = data.get("tenant_ids")
    if tenant_ids is not None:
        tenant_ids = [str(t).lower() for t in tenant_ids]
        target_user = user or state.find_user(None)
        missing = [t for t in tenant_ids if target_user is None or t not in target_user.tenant_ids]
        if missing:
            raise ControlError(400, f"the user cannot access: {', '.join(missing)}")
    state.consent_presets[client_id] = ConsentPreset(action, tenant_ids, user.user_id if user else None)
    return _ok({"client_id": client_id, "action": action, "tenant_ids": tenant_ids,
                "user": user.user_id if user else None})


@bp.delete("/consent")
def clear_consent() -> Response:
    state = _state()
    client_id = request.args.get("client_id")
    if client_id:
        state.consent_presets.pop(client_id, None)
    else:
        state.consent_presets.clear()
    return _ok({"cleared": client_id or "all"})


@bp.get("/connections")
def list_all_connections() -> Response:
    state = _state()
    with state.lock:
        return _ok([
            {**state.connection_json(c), "clientId": c.client_id, "userId": c.user_id}
            for c in state.connections.values()
        ])


@bp.post("/connections/revoke")
def revoke_connection() -> Response:
    state = _state()
    data = _dict_body()
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
    return _ok({"removed": removed})


@bp.post("/tokens/expire")
def expire_tokens() -> Response:
    """Make refresh tokens (or an access token) unusable, as if expired or revoked in Xero."""
    state = _state()
    data = _dict_body()
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
    return _ok({"expired": expired})


# --- limits, counters, faults, clock ------------------------------------------------------
@bp.get("/orgs/<tenant_id>/counters")
def counters(tenant_id: str) -> Response:
    org = _org(tenant_id)
    return _ok(_state().limiter.counters(org.tenant_id))


@bp.delete("/orgs/<tenant_id>/counters")
def reset_counters(tenant_id: str) -> Response:
    org = _org(tenant_id)
    _state().limiter.reset_counters(org.tenant_id)
    return _ok({"reset": True})


@bp.route("/orgs/<tenant_id>/limits", methods=["PUT", "POST"])
def set_limits(tenant_id: str) -> Response:
    org = _org(tenant_id)
    data = _dict_body()
    limits = _state().limiter.set_limits(
        org.tenant_id, per_minute=data.get("per_minute"), per_day=data.get("per_day"),
        concurrent=data.get("concurrent"),
    )
    return _ok({"per_minute": limits.per_minute, "per_day": limits.per_day, "concurrent": limits.concurrent})


@bp.get("/orgs/<tenant_id>/limits")
def get_limits(tenant_id: str) -> Response:
    limits = _state().limiter.get_limits(_org(tenant_id).tenant_id)
    return _ok({"per_minute": limits.per_minute, "per_day": limits.per_day, "concurrent": limits.concurrent})


@bp.route("/orgs/<tenant_id>/faults", methods=["PUT", "POST"])
def set_faults(tenant_id: str) -> Response:
    org = _org(tenant_id)
    plan = parse_plan(_dict_body())
    _state().faults.set(org.tenant_id, plan)
    return _ok(plan.as_dict())


@bp.get("/orgs/<tenant_id>/faults")
def get_faults(tenant_id: str) -> Response:
    return _ok(_state().faults.get(_org(tenant_id).tenant_id) or {})


@bp.delete("/orgs/<tenant_id>/faults")
def clear_faults(tenant_id: str) -> Response:
    _state().faults.clear(_org(tenant_id).tenant_id)
    return _ok({"cleared": True})


@bp.get("/clock")
def clock() -> Response:
    state = _state()
    return _ok({"now": state.clock.now().isoformat(), "time_scale": state.clock.time_scale})


@bp.put("/clock")
def set_clock() -> Response:
    state = _state()
    data = _dict_body()
    if data.get("time_scale") is not None:
        state.clock.set_time_scale(float(data["time_scale"]))
    return _ok({"now": state.clock.now().isoformat(), "time_scale": state.clock.time_scale})


@bp.post("/clock/advance")
def advance_clock() -> Response:
    state = _state()
    seconds = float(_dict_body().get("seconds", 0))
    now = state.clock.advance(seconds)
    return _ok({"now": now.isoformat(), "time_scale": state.clock.time_scale})
