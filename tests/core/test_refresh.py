"""The authorised session: locked refresh under concurrency, force_refresh, and lost access
(invalid_grant, 403 AuthenticationUnsuccessful, tenant gone) moving the connection to reconnect_needed."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from flask_xerosync import signals
from flask_xerosync.errors import ReconnectNeeded
from flask_xerosync.models import Connection, Link
from flask_xerosync.oauth.session import XeroSession
from flask_xerosync.services.xero_api import open_api
from flask_xerosync.state import current_state

from .conftest import HARBOUR_ACCOUNT, SETTINGS, connect, connection_of, csrf_token, notices


def _load(account_id: str = HARBOUR_ACCOUNT) -> Connection:
    connection = current_state().db.session.scalar(select(Connection).where(Connection.account_id == account_id))
    assert connection is not None
    return connection


def _expire_stored_access_token(app: Flask) -> dict[str, Any]:
    """Make the stored access token look expired to us (Xero would still take it)."""
    with app.app_context():
        state = current_state()
        connection = _load()
        token = state.tokens.token_of(connection)
        assert token is not None
        token["expires_at"] = int(time.time()) - 10
        state.tokens.save(connection, token)
        return token


def _refresh_tokens_issued(sandbox_org: Any) -> int:
    return len(sandbox_org.sandbox.state.refresh_tokens)


def _accounts(session: XeroSession) -> Any:
    config = current_state().config
    return session.get(f"{config.accounting_url}/Organisation", headers={"xero-tenant-id": session.tenant_id})


def test_concurrent_expired_sessions_refresh_once(app: Flask, connected: Connection, sandbox_org: Any) -> None:
    old = _expire_stored_access_token(app)
    issued_before = _refresh_tokens_issued(sandbox_org)
    start = threading.Barrier(2)
    results: list[tuple[int, str]] = []
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            with app.app_context():
                session = current_state().xero_session(_load())
                start.wait(timeout=10)
                response = _accounts(session)
                results.append((response.status_code, session.token["access_token"]))
                current_state().db.session.remove()
        except BaseException as exc:  # reported to the test thread below
            failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not failures, failures
    assert [status for status, _ in results] == [200, 200]
    assert _refresh_tokens_issued(sandbox_org) - issued_before == 1  # exactly one refresh reached Xero
    new_tokens = {access for _, access in results}
    assert len(new_tokens) == 1 and old["access_token"] not in new_tokens
    with app.app_context():
        stored = current_state().tokens.token_of(_load())
        assert stored is not None and stored["access_token"] in new_tokens
        assert stored["refresh_token"] != old["refresh_token"]


def test_valid_token_is_not_refreshed(app: Flask, connected: Connection, sandbox_org: Any) -> None:
    issued_before = _refresh_tokens_issued(sandbox_org)
    with app.app_context():
        session = current_state().xero_session(_load())
        response = _accounts(session)
    assert response.status_code == 200
    assert response.request.headers["Authorization"].startswith("Bearer ")
    assert _refresh_tokens_issued(sandbox_org) == issued_before


def test_force_refresh_after_token_expired(app: Flask, connected: Connection, sandbox_org: Any) -> None:
    with app.app_context():
        session = current_state().xero_session(_load())
        stale = session.token["access_token"]
        sandbox_org.sandbox.control.expire_access_token(stale)
        assert _accounts(session).status_code == 401

        session.force_refresh()

        assert session.token["access_token"] != stale
        assert _accounts(session).status_code == 200
        # A second worker holding the same stale token does not refresh again.
        other = current_state().xero_session(_load())
        other.token = dict(other.token, access_token=stale)
        issued = _refresh_tokens_issued(sandbox_org)
        other.force_refresh()
        assert _refresh_tokens_issued(sandbox_org) == issued
        assert other.token["access_token"] == session.token["access_token"]


def test_invalid_grant_needs_reconnect_and_reconnect_keeps_links(
    app: Flask, harbour_client: FlaskClient, connected: Connection, sandbox_org: Any
) -> None:
    with app.app_context():
        db = current_state().db
        db.session.add(Link(account_id=HARBOUR_ACCOUNT, tenant_id=sandbox_org.tenant_id, kind="client",
                            host_id="1", xero_id="xero-contact-1"))
        db.session.commit()
    _expire_stored_access_token(app)
    sandbox_org.sandbox.control.expire_tokens(sandbox_org.client_id)
    lost: list[dict[str, Any]] = []

    def on_disconnected(sender: Flask, **kwargs: Any) -> None:
        lost.append(kwargs)

    with app.app_context(), signals.disconnected.connected_to(on_disconnected):
        session = current_state().xero_session(_load())
        with pytest.raises(ReconnectNeeded, match="Reconnect to Xero"):
            _accounts(session)

    assert lost == [{"account_id": HARBOUR_ACCOUNT, "tenant_id": sandbox_org.tenant_id, "reason": "reconnect_needed"}]
    connection = connection_of(app)
    assert connection is not None and connection.status == "reconnect_needed"
    page = harbour_client.get(SETTINGS).get_data(as_text=True)
    assert "Reconnect to Xero" in page and "Xero no longer accepts" in page
    assert "What to sync" not in page

    assert connect(harbour_client, sandbox_org).status_code == 302

    connection = connection_of(app)
    assert connection is not None
    assert (connection.status, connection.tenant_id, connection.id) == ("connected", sandbox_org.tenant_id, connected.id)
    with app.app_context():
        links = current_state().db.session.scalars(select(Link)).all()
        assert [(link.tenant_id, link.xero_id) for link in links] == [(sandbox_org.tenant_id, "xero-contact-1")]
        assert _accounts(current_state().xero_session(_load())).status_code == 200


def test_authentication_unsuccessful_needs_reconnect(app: Flask, connected: Connection, sandbox_org: Any) -> None:
    sandbox_org.sandbox.control.revoke_connection(tenant_id=sandbox_org.tenant_id)

    with app.app_context():
        session = current_state().xero_session(_load())
        with pytest.raises(ReconnectNeeded, match="refused access"):
            _accounts(session)

    connection = connection_of(app)
    assert connection is not None and connection.status == "reconnect_needed"
    assert sandbox_org.tenant_name in connection.status_reason


def test_tenant_missing_from_connections_needs_reconnect(app: Flask, connected: Connection, sandbox_org: Any) -> None:
    """A token can still refresh after the organisation was disconnected: the connection check
    that starts every sync is what notices."""
    with app.app_context():
        entry = open_api(current_state(), _load()).verify_connection()
        assert entry["tenantId"] == sandbox_org.tenant_id

    sandbox_org.sandbox.control.revoke_connection(tenant_id=sandbox_org.tenant_id)

    with app.app_context():
        with pytest.raises(ReconnectNeeded, match="no longer connected"):
            open_api(current_state(), _load()).verify_connection()


def test_session_refuses_a_disconnected_connection(app: Flask, connected: Connection) -> None:
    with app.app_context():
        connection = _load()
        connection.token_encrypted = None
        current_state().db.session.commit()
        with pytest.raises(ReconnectNeeded):
            current_state().xero_session(connection)


def test_connecting_another_organisation_is_confirmed_starts_fresh_and_keeps_links(
    app: Flask, harbour_client: FlaskClient, connected: Connection, sandbox_org: Any
) -> None:
    from .conftest import add_org

    with app.app_context():
        db = current_state().db
        connection = _load()
        connection.sync_marks = {"contacts": "2024-01-01T00:00:00+00:00"}
        db.session.add(Link(account_id=HARBOUR_ACCOUNT, tenant_id=sandbox_org.tenant_id, kind="item",
                            host_id="3", xero_id="xero-item-3"))
        db.session.commit()
    other = add_org(sandbox_org, "Harbour Two")

    response = connect(harbour_client, sandbox_org, tenant_ids=[other])

    assert response.status_code == 302 and response.headers["Location"].endswith("/choose")
    page = harbour_client.get(SETTINGS + "choose").get_data(as_text=True)
    assert "Switch to Harbour Two?" in page and "starts fresh: nothing is linked to it yet" in page
    assert connection_of(app).status == "choosing", "nothing switches before the owner confirms"
    confirmed = harbour_client.post(SETTINGS + "choose", data={
        "tenant_id": other, "csrf_token": csrf_token(harbour_client, SETTINGS + "choose")})
    assert confirmed.status_code == 302
    connection = connection_of(app)
    assert connection is not None
    assert (connection.status, connection.tenant_id, connection.sync_marks) == ("connected", other, None)
    with app.app_context():
        assert current_state().db.session.scalars(select(Link.tenant_id)).all() == [sandbox_org.tenant_id]
    assert "Connected to Harbour Two." in notices(harbour_client.get(SETTINGS).get_data(as_text=True))
