"""Disconnect: a confirmation step, the Xero connection removed and access revoked, links kept."""

from __future__ import annotations

from typing import Any

import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from flask_xerosync import signals
from flask_xerosync.models import Connection, Link
from flask_xerosync.state import current_state

from .conftest import HARBOUR_ACCOUNT, SETTINGS, connect, connection_of, csrf_token, notices


def test_disconnect_asks_first(harbour_client: FlaskClient, connected: Connection, sandbox_org: Any) -> None:
    page = harbour_client.get(SETTINGS + "disconnect")

    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Disconnect from Xero?" in html and "Yes, disconnect" in html
    assert 'action="/settings/accounting-sync/disconnect"' in html
    assert sandbox_org.client_id in [c["clientId"] for c in sandbox_org.sandbox.control.connections()]


def test_disconnect_revokes_removes_and_keeps_links(
    app: Flask, harbour_client: FlaskClient, connected: Connection, sandbox_org: Any
) -> None:
    with app.app_context():
        state = current_state()
        state.db.session.add(Link(account_id=HARBOUR_ACCOUNT, tenant_id=sandbox_org.tenant_id, kind="client",
                                  host_id="2", xero_id="xero-contact-2"))
        state.db.session.commit()
        token = state.tokens.token_of(state.db.session.merge(connected))
    assert token is not None
    events: list[dict[str, Any]] = []

    def on_disconnected(sender: Flask, **kwargs: Any) -> None:
        events.append(kwargs)

    with signals.disconnected.connected_to(on_disconnected):
        response = harbour_client.post(SETTINGS + "disconnect", data={"csrf_token": csrf_token(harbour_client)})

    assert response.status_code == 302
    assert events == [{"account_id": HARBOUR_ACCOUNT, "tenant_id": sandbox_org.tenant_id, "reason": "user"}]
    assert sandbox_org.sandbox.control.connections() == []
    refused = requests.post(
        f"{sandbox_org.sandbox.url}/connect/token",
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=(sandbox_org.client_id, sandbox_org.client_secret),
        timeout=10,
    )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    connection = connection_of(app)
    assert connection is not None
    assert (connection.status, connection.token_encrypted, connection.token_expires_at) == ("disconnected", None, None)
    with app.app_context():
        assert len(current_state().db.session.scalars(select(Link)).all()) == 1
    page = harbour_client.get(SETTINGS).get_data(as_text=True)
    assert "Connect to Xero" in page
    assert any(n.startswith("Disconnected from Xero.") for n in notices(page))

    assert connect(harbour_client, sandbox_org).status_code == 302
    connection = connection_of(app)
    assert connection is not None and (connection.status, connection.id) == ("connected", connected.id)


def test_disconnect_after_access_was_lost_still_clears_tokens(
    app: Flask, harbour_client: FlaskClient, connected: Connection, sandbox_org: Any
) -> None:
    sandbox_org.sandbox.control.expire_tokens(sandbox_org.client_id)
    sandbox_org.sandbox.control.revoke_connection(tenant_id=sandbox_org.tenant_id)

    response = harbour_client.post(SETTINGS + "disconnect", data={"csrf_token": csrf_token(harbour_client)})

    assert response.status_code == 302
    connection = connection_of(app)
    assert connection is not None and (connection.status, connection.token_encrypted) == ("disconnected", None)


def test_disconnect_when_not_connected_goes_back(harbour_client: FlaskClient) -> None:
    assert harbour_client.get(SETTINGS + "disconnect").status_code == 302
    response = harbour_client.post(SETTINGS + "disconnect", data={"csrf_token": csrf_token(harbour_client)})
    assert response.status_code == 302
