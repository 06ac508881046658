"""The authorisation-code flow against the sandbox: one or several organisations, Cancel, forged
state, a replayed code, and tokens kept encrypted at rest."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from flask_xerosync import signals
from flask_xerosync.state import current_state
from tests.conftest import HARBOUR_LOGIN, app_config, build_app, drop_app_tables, login

from .conftest import (
    SETTINGS,
    add_org,
    connect,
    connection_of,
    csrf_token,
    follow_callback,
    notices,
    start_at_xero,
)


def test_connect_sends_pkce_and_state_to_xero(harbour_client: FlaskClient) -> None:
    response = harbour_client.post(SETTINGS + "connect", data={"csrf_token": csrf_token(harbour_client)})

    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert query["state"][0]
    assert query["redirect_uri"] == ["http://localhost/settings/accounting-sync/callback"]
    assert "offline_access" in query["scope"][0].split()


def test_one_organisation_connects_at_once(app: Flask, harbour_client: FlaskClient, sandbox_org: Any) -> None:
    received: list[dict[str, Any]] = []

    def on_connected(sender: Flask, **kwargs: Any) -> None:
        received.append(kwargs)

    with signals.connected.connected_to(on_connected):
        response = connect(harbour_client, sandbox_org)

    assert response.status_code == 302
    connection = connection_of(app)
    assert connection is not None
    assert connection.status == "connected"
    assert connection.tenant_id == sandbox_org.tenant_id
    assert connection.tenant_name == sandbox_org.tenant_name
    assert connection.xero_connection_id
    assert connection.token_expires_at is not None
    assert received == [
        {"account_id": "1", "tenant_id": sandbox_org.tenant_id, "tenant_name": sandbox_org.tenant_name}
    ]
    page = harbour_client.get(SETTINGS).get_data(as_text=True)
    assert f"Connected to {sandbox_org.tenant_name}." in notices(page)
    assert "What to sync" in page


def test_several_organisations_ask_which_one(app: Flask, harbour_client: FlaskClient, sandbox_org: Any) -> None:
    second = add_org(sandbox_org, "Harbour Holdings <Trust>")

    response = connect(harbour_client, sandbox_org, tenant_ids=[sandbox_org.tenant_id, second])

    assert response.status_code == 302 and response.headers["Location"].endswith("/choose")
    connection = connection_of(app)
    assert connection is not None and connection.status == "choosing"
    assert {entry["tenantId"] for entry in connection.pending_tenants or []} == {sandbox_org.tenant_id, second}
    page = harbour_client.get(SETTINGS + "choose").get_data(as_text=True)
    assert "Harbour Holdings &lt;Trust&gt;" in page and "<Trust>" not in page
    assert 'type="radio" name="tenant_id"' in page
    assert "checked" not in page  # never silently take the first

    token = csrf_token(harbour_client, SETTINGS + "choose")
    refused = harbour_client.post(SETTINGS + "choose", data={"csrf_token": token, "tenant_id": "someone-else"})
    assert refused.status_code == 422
    assert 'aria-invalid="true"' in refused.get_data(as_text=True)
    assert connection_of(app).status == "choosing"  # type: ignore[union-attr]

    chosen = harbour_client.post(SETTINGS + "choose", data={"csrf_token": token, "tenant_id": second})
    assert chosen.status_code == 302
    connection = connection_of(app)
    assert connection is not None
    assert (connection.status, connection.tenant_id) == ("connected", second)
    assert connection.tenant_name == "Harbour Holdings <Trust>"
    assert connection.pending_tenants is None


def test_cancel_at_xero_stores_nothing(app: Flask, harbour_client: FlaskClient, sandbox_org: Any) -> None:
    callback = start_at_xero(harbour_client, sandbox_org, action="cancel")
    assert "error=access_denied" in callback

    response = follow_callback(harbour_client, callback)

    assert response.status_code == 302
    assert connection_of(app) is None
    assert "You cancelled in Xero, so nothing was connected." in notices(harbour_client.get(SETTINGS).get_data(as_text=True))


def test_forged_state_is_refused(app: Flask, harbour_client: FlaskClient, sandbox_org: Any) -> None:
    callback = start_at_xero(harbour_client, sandbox_org)
    parts = urlsplit(callback)
    code = parse_qs(parts.query)["code"][0]

    response = harbour_client.get(f"{parts.path}?code={code}&state=forged-by-an-attacker")

    assert response.status_code == 302
    assert connection_of(app) is None
    assert any("does not match" in notice for notice in notices(harbour_client.get(SETTINGS).get_data(as_text=True)))


def test_callback_without_a_started_flow_is_refused(app: Flask, harbour_client: FlaskClient) -> None:
    response = harbour_client.get(SETTINGS + "callback?code=abc&state=abc")

    assert response.status_code == 302
    assert connection_of(app) is None


def test_replayed_code_is_refused_and_changes_nothing(app: Flask, harbour_client: FlaskClient, sandbox_org: Any) -> None:
    callback = start_at_xero(harbour_client, sandbox_org)
    assert follow_callback(harbour_client, callback).status_code == 302
    before = connection_of(app)
    assert before is not None

    # Replay the same code with a freshly started flow's state, so only the code is stale.
    fresh = harbour_client.post(SETTINGS + "connect", data={"csrf_token": csrf_token(harbour_client)})
    state = parse_qs(urlsplit(fresh.headers["Location"]).query)["state"][0]
    code = parse_qs(urlsplit(callback).query)["code"][0]
    response = harbour_client.get(f"{SETTINGS}callback?code={code}&state={state}")

    assert response.status_code == 302
    after = connection_of(app)
    assert after is not None and after.token_encrypted == before.token_encrypted
    assert any("already used or has expired" in n for n in notices(harbour_client.get(SETTINGS).get_data(as_text=True)))


def test_tokens_are_never_stored_in_plain_text(app: Flask, connected: Any) -> None:
    with app.app_context():
        state = current_state()
        connection = state.db.session.merge(connected)
        token = state.tokens.token_of(connection)
        assert token is not None
        raw = state.db.session.execute(text("SELECT * FROM xerosync_connection")).all()
    dump = repr(raw)
    assert token["access_token"] not in dump
    assert token["refresh_token"] not in dump
    assert token["access_token"].split(".")[1][:20] not in dump


def test_reconnecting_without_finishing_keeps_the_connection(app: Flask, harbour_client: FlaskClient, connected: Any, sandbox_org: Any) -> None:
    callback = start_at_xero(harbour_client, sandbox_org, action="cancel")
    follow_callback(harbour_client, callback)

    connection = connection_of(app)
    assert connection is not None
    assert (connection.status, connection.token_encrypted) == ("connected", connected.token_encrypted)


def test_xerosync_redirect_uri_is_where_xero_sends_the_user_back(
    sandbox_org: Any, redis_url: str, database_url: str
) -> None:
    """Behind a proxy Flask may not know the public URL: ``XEROSYNC_REDIRECT_URI`` is used instead
    of the callback route's ``url_for(..., _external=True)``, for the consent and the token request."""
    redirect_uri = "https://app.example/settings/accounting-sync/callback"
    sandbox_org.sandbox.control.register_app(
        client_id="behind-a-proxy", client_secret="behind-a-proxy-secret", redirect_uris=[redirect_uri]
    )
    app = build_app(app_config(
        sandbox_org.sandbox.url, redis_url, database_url, XEROSYNC_CLIENT_ID="behind-a-proxy",
        XEROSYNC_CLIENT_SECRET="behind-a-proxy-secret", XEROSYNC_REDIRECT_URI=redirect_uri,
    ))
    try:
        client = app.test_client()
        login(client, *HARBOUR_LOGIN)
        start = client.post(SETTINGS + "connect", data={"csrf_token": csrf_token(client)})
        assert parse_qs(urlsplit(start.headers["Location"]).query)["redirect_uri"] == [redirect_uri]
        back = urlsplit(str(sandbox_org.sandbox.control.authorize(start.headers["Location"], action="authorise")))
        assert f"{back.scheme}://{back.netloc}{back.path}" == redirect_uri
        assert client.get(f"{back.path}?{back.query}").status_code == 302
        connection = connection_of(app)
        assert connection is not None and connection.status == "connected"
    finally:
        drop_app_tables(app)
