"""Who may use each route of the blueprint (read from the URL map): anonymous users go to the host's
login, a user without an account gets 403, an account whose plan has no Xero sync sees the plan
explanation (403 on anything else), and no account can see or act on another account's runs,
records or invoices (404, nothing of theirs in the body, nothing changed)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from example_app import xerosync
from flask_xerosync.state import current_state
from tests.engine.fakes import MemoryHost

from .conftest import (
    HARBOUR_ACCOUNT,
    OrgSetup,
    Seeded,
    blueprint_routes,
    extension_rows,
    request,
    seed_account_data,
    session_token,
    url_of,
)

PLAN_EXPLANATION = "Xero sync is not included in your plan"
# URL arguments that name one account's records: every route taking one must check ownership.
OWNED_ARGUMENTS = frozenset({"run_id", "record_id", "invoice_id"})


def test_anonymous_users_are_sent_to_the_hosts_login(app: Flask, client: FlaskClient) -> None:
    token = session_token(client, "/login")
    failures = []
    for route in blueprint_routes(app):
        response = request(client, route, url_of(app, route), {"csrf_token": token})
        location = response.headers.get("Location", "")
        if not (response.status_code == 401 or (response.status_code == 302 and location.startswith("/login"))):
            failures.append(f"{route}: {response.status_code} {location}")
    assert not failures, "\n".join(failures)


@pytest.fixture
def without_account(app: Flask) -> Iterator[None]:
    """The host's account loader answers None (a user who manages no business)."""
    loader = xerosync.callbacks.account_loader
    xerosync.account_loader(lambda: None)
    yield
    xerosync.account_loader(loader)


def test_a_user_without_an_account_is_forbidden_everywhere(
    app: Flask, harbour_client: FlaskClient, connected: OrgSetup, seeded: Seeded, without_account: None
) -> None:
    token = session_token(harbour_client, "/login")
    before = extension_rows(app)

    failures = []
    for route in blueprint_routes(app):
        response = request(harbour_client, route, url_of(app, route, seeded), {"csrf_token": token})
        body = response.get_data(as_text=True)
        if response.status_code != 403 or connected.tenant_name in body or seeded.record_label in body:
            failures.append(f"{route}: {response.status_code}")

    assert not failures, "\n".join(failures)
    assert extension_rows(app) == before


def test_the_basic_plan_sees_the_explanation_and_cannot_act(
    app: Flask, basic_client: FlaskClient, harbour_client: FlaskClient, connected: OrgSetup
) -> None:
    own = seed_account_data(app, account_id="2", label="Westside Dental")
    token = session_token(basic_client)
    before = extension_rows(app)

    failures = []
    for route in blueprint_routes(app):
        response = request(basic_client, route, url_of(app, route, own), {"csrf_token": token})
        body = response.get_data(as_text=True)
        if route.method == "GET":
            allowed = response.status_code in (200, 403) and PLAN_EXPLANATION in body
            allowed = allowed and "Connect to Xero" not in body and own.record_label not in body
        else:
            allowed = response.status_code == 403 and "plan" in body
        if not allowed:
            failures.append(f"{route}: {response.status_code} {body[:120]!r}")

    assert not failures, "\n".join(failures)
    assert extension_rows(app) == before


def test_every_route_with_an_id_is_checked_for_ownership(app: Flask) -> None:
    """The ownership test below covers every route whose URL names a record; this keeps it honest
    when a route with another kind of id is added."""
    for route in blueprint_routes(app):
        named = {argument for argument in route.arguments if argument.endswith("_id")}
        assert named <= OWNED_ARGUMENTS, f"{route}: add {sorted(named - OWNED_ARGUMENTS)} to the ownership tests"


def test_another_accounts_ids_give_404_and_nothing_of_theirs(
    app: Flask, harbour_client: FlaskClient, connected: OrgSetup, seeded: Seeded, other_account_client: FlaskClient
) -> None:
    token = session_token(other_account_client)
    before = extension_rows(app)

    failures = []
    for route in blueprint_routes(app):
        if not route.arguments & OWNED_ARGUMENTS:
            continue
        response = request(other_account_client, route, url_of(app, route, seeded),
                           {"csrf_token": token, "xero_contact_id": "xero-contact-1", "next": "/"})
        body = response.get_data(as_text=True)
        leaked = [secret for secret in (seeded.record_label, seeded.invoice_number, connected.tenant_name,
                                        "xero-contact-1") if secret in body]
        if response.status_code != 404 or leaked:
            failures.append(f"{route}: {response.status_code}, shows {leaked}")

    assert not failures, "\n".join(failures)
    assert extension_rows(app) == before


def test_a_record_of_another_account_is_404_even_under_ones_own_run(
    app: Flask, harbour_client: FlaskClient, connected: OrgSetup, seeded: Seeded, other_account_client: FlaskClient
) -> None:
    own = seed_account_data(app, account_id="2", label="Westside Dental")
    token = session_token(other_account_client)
    before = extension_rows(app)

    for route in blueprint_routes(app):
        if "record_id" not in route.arguments:
            continue
        url = url_of(app, route, own, record_id=seeded.record_id)
        response = request(other_account_client, route, url, {"csrf_token": token, "xero_contact_id": "xero-contact-1"})
        assert response.status_code == 404, route

    assert extension_rows(app) == before


def test_the_other_accounts_pages_show_none_of_account_1s_data(
    app: Flask, harbour_client: FlaskClient, connected: OrgSetup, seeded: Seeded, other_account_client: FlaskClient
) -> None:
    for route in blueprint_routes(app):
        if route.method != "GET" or route.arguments:
            continue
        body = request(other_account_client, route, url_of(app, route)).get_data(as_text=True)
        for secret in (seeded.run_id, seeded.record_label, connected.tenant_name, connected.tenant_id):
            assert secret not in body, f"{route} shows {secret}"


def test_the_invoice_partial_of_another_accounts_invoice_shows_nothing_of_it(
    app: Flask, harbour_client: FlaskClient, connected: OrgSetup, seeded: Seeded, other_account_client: FlaskClient
) -> None:
    """The Jinja global renders whatever id a host page passes; flags are looked up by account too."""
    with app.test_request_context():
        from flask_login import login_user

        from example_app.models import User

        login_user(current_state().db.session.get(User, 2))
        html = str(app.jinja_env.globals["xerosync_invoice_action"](seeded.invoice_id))

    assert 'data-state="flagged"' not in html
    assert "Will be pushed" not in html


def test_account_id_never_comes_from_the_request(
    app: Flask, harbour_client: FlaskClient, connected: OrgSetup, other_account_client: FlaskClient
) -> None:
    token = session_token(other_account_client)
    before = extension_rows(app)

    for route in blueprint_routes(app, state_changing=True):
        url = url_of(app, route) + f"?account_id={HARBOUR_ACCOUNT}"
        other_account_client.open(url, method=route.method,
                                  data={"csrf_token": token, "account_id": HARBOUR_ACCOUNT},
                                  headers={"X-Account-Id": HARBOUR_ACCOUNT})

    after = extension_rows(app)
    harbour_rows = [row for row in after["xerosync_connection"] if HARBOUR_ACCOUNT in row]
    assert harbour_rows == [row for row in before["xerosync_connection"] if HARBOUR_ACCOUNT in row]
    assert after["xerosync_run"] == before["xerosync_run"]


def test_a_host_without_flask_login_gets_401_not_an_error() -> None:
    """Nobody counts as logged in without Flask-Login (``current_user`` needs its login manager)."""
    from cryptography.fernet import Fernet
    from flask import session
    from flask_sqlalchemy import SQLAlchemy
    from flask_wtf.csrf import generate_csrf

    from flask_xerosync import XeroSync

    bare = Flask(__name__)
    bare.config.update(
        SECRET_KEY="bare", SQLALCHEMY_DATABASE_URI="sqlite://", XEROSYNC_CLIENT_ID="client",
        XEROSYNC_CLIENT_SECRET="secret", XEROSYNC_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        XEROSYNC_REDIS_URL="redis://127.0.0.1:1/0",
    )
    XeroSync(bare, db=SQLAlchemy(bare), host_data=MemoryHost()).account_loader(lambda: "1")
    browser = bare.test_client()
    with bare.test_request_context():
        token = generate_csrf()
        raw = session["csrf_token"]
    with browser.session_transaction() as stored:
        stored["csrf_token"] = raw

    for route in blueprint_routes(bare):
        response = request(browser, route, url_of(bare, route), {"csrf_token": token})
        assert response.status_code == 401, route


def test_an_htmx_request_without_a_session_sends_the_page_to_the_login(app: Flask, client: FlaskClient) -> None:
    """A progress poll whose session expired must not swap the login form into the progress box."""
    response = client.get("/settings/accounting-sync/", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login")
    assert response.get_data() == b""
