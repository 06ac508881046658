"""CSRF on every state-changing route of the blueprint, read from the URL map: a missing token, a
garbage one, one signed with another key and one of another session are all refused (400) and
change nothing, whether or not the host's own CSRFProtect is on."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer

from .conftest import (
    CSRF_REFUSAL,
    HARBOUR_LOGIN,
    OrgSetup,
    Seeded,
    blueprint_routes,
    extension_rows,
    host_rows,
    login,
    redis_dump,
    request,
    session_cookie_text,
    session_token,
    url_of,
)

# Fields that make each form otherwise acceptable, so only the token can be what refuses it.
PLAUSIBLE_FORM = {
    "tenant_id": "",
    "xero_contact_id": "xero-contact-1",
    "sync_clients": "y",
    "sync_items": "y",
    "sync_invoices": "y",
    "invoice_status": "DRAFT",
    "conflict_policy": "host_wins",
    "contact_filter": "all",
    "next": "/invoices/1",
}


def refused_tokens(app: Flask, victim: FlaskClient, attacker: FlaskClient) -> dict[str, str | None]:
    """Tokens that must not pass: none, garbage, the victim's own value signed with another key,
    and a perfectly valid token of another session (the attacker's)."""
    import json

    victim_session = json.loads(session_cookie_text(app, victim).split("\n", 1)[0])
    raw = victim_session["csrf_token"]
    return {
        "missing": None,
        "empty": "",
        "garbage": "garbage-token",
        "signed with another key": URLSafeTimedSerializer("not-the-app-key", salt="wtf-csrf-token").dumps(raw),
        "another session's token": session_token(attacker),
    }


def snapshot(app: Flask) -> tuple[Any, ...]:
    return extension_rows(app), host_rows(app), redis_dump(app)


@pytest.mark.parametrize("host_csrf", [True, False], ids=["host CSRFProtect on", "WTF_CSRF_ENABLED=False"])
def test_every_state_changing_route_refuses_a_bad_token(
    app: Flask, harbour_client: FlaskClient, connected: OrgSetup, seeded: Seeded, host_csrf: bool
) -> None:
    attacker = app.test_client()
    login(attacker, *HARBOUR_LOGIN)  # even the same user, in another session
    app.config["WTF_CSRF_ENABLED"] = host_csrf
    session_token(harbour_client)  # the victim's session has a CSRF token of its own
    tokens = refused_tokens(app, harbour_client, attacker)
    before = snapshot(app)

    failures = []
    routes = blueprint_routes(app, state_changing=True)
    for route in routes:
        url = url_of(app, route, seeded)
        for name, token in tokens.items():
            for placement in ("form", "header", "htmx header"):
                data = dict(PLAUSIBLE_FORM)
                headers = {"HX-Request": "true"} if placement == "htmx header" else {}
                if token is not None and placement == "form":
                    data["csrf_token"] = token
                elif token is not None:
                    headers["X-CSRFToken"] = token
                response = request(harbour_client, route, url, data, headers)
                if response.status_code != 400 or "token" not in response.get_data(as_text=True):
                    failures.append(f"{route} with {name} in {placement}: {response.status_code}")

    assert not failures, "\n".join(failures)
    assert snapshot(app) == before
    assert {route.endpoint for route in routes} >= {
        "xerosync.connect", "xerosync.choose_submit", "xerosync.disconnect", "xerosync.save_preferences",
        "xerosync.refresh_lists", "xerosync.sync_now", "xerosync.decide_record", "xerosync.settle_record",
        "xerosync.flag_invoice", "xerosync.unflag_invoice",
    }


def test_without_host_csrf_the_blueprint_answers_with_its_own_message(
    app: Flask, harbour_client: FlaskClient, connected: OrgSetup, seeded: Seeded
) -> None:
    app.config["WTF_CSRF_ENABLED"] = False

    for route in blueprint_routes(app, state_changing=True):
        response = request(harbour_client, route, url_of(app, route, seeded), dict(PLAUSIBLE_FORM))
        assert response.status_code == 400, route
        assert CSRF_REFUSAL in response.get_data(as_text=True), route


@pytest.mark.parametrize("host_csrf", [True, False], ids=["host CSRFProtect on", "WTF_CSRF_ENABLED=False"])
def test_a_valid_token_of_the_session_passes_every_route(
    app: Flask, harbour_client: FlaskClient, connected: OrgSetup, seeded: Seeded, host_csrf: bool
) -> None:
    """The control of the tests above: the same requests with the session's token get through."""
    app.config["WTF_CSRF_ENABLED"] = host_csrf
    token = session_token(harbour_client)

    for route in blueprint_routes(app, state_changing=True):
        for placement in ("form", "header"):
            data = dict(PLAUSIBLE_FORM, csrf_token=token) if placement == "form" else dict(PLAUSIBLE_FORM)
            headers = {"X-CSRFToken": token} if placement == "header" else {}
            response = request(harbour_client, route, url_of(app, route, seeded), data, headers)
            assert response.status_code != 400, f"{route} ({placement}): {response.get_data(as_text=True)[:200]}"


def test_an_htmx_post_with_a_stale_token_reloads_the_page(app: Flask, sandbox_org: OrgSetup) -> None:
    """htmx swaps no 400, so a refused htmx POST asks for a reload (which brings a fresh token)."""
    client = app.test_client()
    login(client, *HARBOUR_LOGIN)
    response = client.post(
        "/settings/accounting-sync/sync", headers={"HX-Request": "true", "X-CSRFToken": "stale-token"}
    )
    assert response.status_code == 400
    assert response.headers["HX-Refresh"] == "true"
    plain = client.post("/settings/accounting-sync/sync", data={"csrf_token": "stale-token"})
    assert plain.status_code == 400 and "HX-Refresh" not in plain.headers
