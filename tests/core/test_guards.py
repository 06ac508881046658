"""Who may use the blueprint: login, the account loader, plan gating, CSRF, and account isolation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from example_app import xerosync
from flask_xerosync.models import Connection, Preferences
from flask_xerosync.state import current_state

from .conftest import HARBOUR_ACCOUNT, SETTINGS, connection_of, csrf_token

POST_ROUTES = ("connect", "choose", "disconnect", "preferences", "lists/refresh")


def test_anonymous_user_is_sent_to_the_hosts_login(client: FlaskClient) -> None:
    response = client.get(SETTINGS)

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_user_without_an_account_is_forbidden(app: Flask, harbour_client: FlaskClient) -> None:
    loader = xerosync.callbacks.account_loader
    xerosync.account_loader(lambda: None)  # applied after init_app: the app's state sees it
    try:
        assert harbour_client.get(SETTINGS).status_code == 403
        token = csrf_token_from_session(harbour_client)
        assert harbour_client.post(SETTINGS + "connect", data={"csrf_token": token}).status_code == 403
    finally:
        xerosync.account_loader(loader)  # type: ignore[arg-type]


def test_plan_without_xero_sees_the_explanation(basic_client: FlaskClient) -> None:
    page = basic_client.get(SETTINGS)

    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Xero sync is not included in your plan" in html
    assert "Connect to Xero" not in html
    assert basic_client.get(SETTINGS + "choose").status_code == 403


@pytest.mark.parametrize("route", POST_ROUTES)
def test_plan_without_xero_cannot_post(app: Flask, basic_client: FlaskClient, route: str) -> None:
    response = basic_client.post(SETTINGS + route, data={"csrf_token": csrf_token_from_session(basic_client)})

    assert response.status_code == 403
    assert connection_of(app, "2") is None


@pytest.mark.parametrize("route", POST_ROUTES)
def test_post_without_csrf_token_is_refused(app: Flask, harbour_client: FlaskClient, route: str) -> None:
    response = harbour_client.post(SETTINGS + route, data={"tenant_id": "x"})

    assert response.status_code == 400  # the host's CSRFProtect or, without it, the blueprint's check
    assert "token" in response.get_data(as_text=True)
    assert connection_of(app) is None


def test_csrf_token_is_checked_even_when_the_host_turns_wtf_csrf_off(app: Flask, harbour_client: FlaskClient) -> None:
    app.config["WTF_CSRF_ENABLED"] = False

    refused = harbour_client.post(SETTINGS + "connect", data={"csrf_token": "forged"})
    missing = harbour_client.post(SETTINGS + "disconnect")
    accepted = harbour_client.post(SETTINGS + "connect", headers={"X-CSRFToken": csrf_token(harbour_client)})

    assert refused.status_code == missing.status_code == 400
    assert "security token is missing or out of date" in missing.get_data(as_text=True)
    assert accepted.status_code == 302


def test_settings_page_carries_the_token_for_htmx(harbour_client: FlaskClient) -> None:
    html = harbour_client.get(SETTINGS).get_data(as_text=True)

    assert "hx-headers='{\"X-CSRFToken\": \"" in html


@pytest.fixture
def other_pro_client(app: Flask) -> Iterator[FlaskClient]:
    """A user of a third business, also on the Xero plan."""
    from example_app.models import Business, User, db

    with app.app_context():
        business = Business(name="Other Pro Ltd", plan="pro")
        db.session.add(business)
        db.session.flush()
        user = User(email="owner@otherpro.example", name="Olive Other", business_id=business.id)
        user.set_password("other-demo")
        db.session.add(user)
        db.session.commit()
        assert business.id == 3
    other = app.test_client()
    token = csrf_token(other, "/login")
    assert other.post("/login", data={"email": "owner@otherpro.example", "password": "other-demo",
                                      "csrf_token": token}).status_code == 302
    yield other


def test_another_account_cannot_see_or_act_on_a_connection(
    app: Flask, connected: Connection, other_pro_client: FlaskClient, sandbox_org: Any
) -> None:
    page = other_pro_client.get(SETTINGS).get_data(as_text=True)
    assert sandbox_org.tenant_name not in page
    assert "Not connected" in page

    token = csrf_token(other_pro_client)
    for route, data in (
        ("choose", {"tenant_id": sandbox_org.tenant_id, "account_id": HARBOUR_ACCOUNT}),
        ("disconnect", {"account_id": HARBOUR_ACCOUNT}),
        ("preferences", {"account_id": HARBOUR_ACCOUNT, "invoice_status": "AUTHORISED",
                         "conflict_policy": "host_wins", "contact_filter": "all"}),
        ("lists/refresh", {"account_id": HARBOUR_ACCOUNT}),
    ):
        response = other_pro_client.post(SETTINGS + route + f"?account_id={HARBOUR_ACCOUNT}", data={"csrf_token": token, **data})
        assert response.status_code in (302, 422), route

    harbour = connection_of(app)
    assert harbour is not None
    assert (harbour.status, harbour.token_encrypted) == ("connected", connected.token_encrypted)
    assert connection_of(app, "3") is None
    with app.app_context():
        assert current_state().db.session.get(Preferences, HARBOUR_ACCOUNT) is None


def test_csrf_token_of_one_session_does_not_work_in_another(
    harbour_client: FlaskClient, other_pro_client: FlaskClient
) -> None:
    stolen = csrf_token(harbour_client)

    assert other_pro_client.post(SETTINGS + "connect", data={"csrf_token": stolen}).status_code == 400


def current_state_of(app: Flask) -> Any:
    with app.app_context():
        return current_state()


def csrf_token_from_session(client: FlaskClient) -> str:
    """A valid token for the client's session, taken from a page any logged-in user can open."""
    return csrf_token(client, "/login")
