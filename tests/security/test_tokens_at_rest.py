"""Tokens at rest: no token (nor any part of the JWT) in the extension's tables or in Redis after a
connect, a refresh and a sync; rotating ``XEROSYNC_ENCRYPTION_KEY`` keeps the connection working,
and afterwards the old key alone can no longer read it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet, InvalidToken
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue, SimpleWorker
from sqlalchemy import select, text

from flask_xerosync.crypto import TokenDecryptError
from flask_xerosync.models import Connection, Run, RunStatus
from flask_xerosync.state import current_state

from .conftest import (
    HARBOUR_ACCOUNT,
    HARBOUR_LOGIN,
    SETTINGS,
    OrgSetup,
    connection_token,
    extension_rows,
    login,
    redis_dump,
    secret_fragments,
    session_token,
)

HOST_KEYS = ("TESTING", "SECRET_KEY", "SERVER_NAME", "SQLALCHEMY_DATABASE_URI")


def force_refresh(app: Flask) -> None:
    with app.app_context():
        state = current_state()
        connection = state.db.session.scalar(select(Connection).where(Connection.account_id == HARBOUR_ACCOUNT))
        state.xero_session(connection).force_refresh()


def organisation_status(app: Flask) -> int:
    """One authorised call to Xero through the connection."""
    with app.app_context():
        state = current_state()
        connection = state.db.session.scalar(select(Connection).where(Connection.account_id == HARBOUR_ACCOUNT))
        session = state.xero_session(connection)
        response = session.get(f"{state.config.accounting_url}/Organisation",
                               headers={"xero-tenant-id": connection.tenant_id})
        return response.status_code


def work_queue(app: Flask) -> None:
    with app.app_context():
        state = current_state()
        SimpleWorker([Queue(state.config.queue_name, connection=state.redis)], connection=state.redis).work(burst=True)


def sync_now(client: FlaskClient) -> None:
    response = client.post(SETTINGS + "sync", data={"csrf_token": session_token(client)})
    assert response.status_code == 302


def last_run(app: Flask) -> Run:
    with app.app_context():
        session = current_state().db.session
        run = session.scalar(select(Run).order_by(Run.created_at.desc()).limit(1))
        assert run is not None
        session.expunge(run)
        return run


def test_no_token_at_rest_after_connect_refresh_and_sync(
    app: Flask, harbour_client: FlaskClient, connected: OrgSetup
) -> None:
    first = connection_token(app)
    force_refresh(app)
    refreshed = connection_token(app)
    assert refreshed["refresh_token"] != first["refresh_token"]
    sync_now(harbour_client)
    work_queue(app)
    assert last_run(app).status == RunStatus.DONE

    tables = repr(extension_rows(app))
    redis = redis_dump(app)

    for fragment in secret_fragments(first) + secret_fragments(refreshed):
        assert fragment not in tables
        assert fragment not in redis
    assert "access_token" not in tables and "refresh_token" not in tables


@pytest.fixture
def app_with(app: Flask) -> Iterator[Callable[..., Flask]]:
    """Another instance of the host app on the same database, Redis and sandbox, with other
    settings (as after a restart with a changed environment)."""
    from example_app import create_app

    built: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        config = {key: value for key, value in app.config.items() if key.startswith("XEROSYNC_") or key in HOST_KEYS}
        config.update(overrides)
        instance = create_app(config)
        built.append(instance)
        return instance

    yield build
    for instance in built:
        with instance.app_context():
            current_state().db.session.remove()
            current_state().db.engine.dispose()


def raw_ciphertext(app: Flask) -> str:
    with app.app_context():
        session = current_state().db.session
        value = session.execute(text("SELECT token_encrypted FROM xerosync_connection")).scalar_one()
        session.rollback()
        return str(value)


def test_key_rotation_keeps_the_connection_and_retires_the_old_key(
    app: Flask, connected: OrgSetup, app_with: Callable[..., Flask]
) -> None:
    old_key = app.config["XEROSYNC_ENCRYPTION_KEY"]
    new_key = Fernet.generate_key().decode()
    token_before = connection_token(app)

    rotating = app_with(XEROSYNC_ENCRYPTION_KEY=f"{new_key},{old_key}")
    result = rotating.test_cli_runner().invoke(args=["xerosync", "rotate-key"])
    assert result.exit_code == 0, result.output
    assert "Re-encrypted 1 stored" in result.output
    assert old_key not in result.output and new_key not in result.output

    ciphertext = raw_ciphertext(app)
    Fernet(new_key).decrypt(ciphertext.encode())
    with pytest.raises(InvalidToken):
        Fernet(old_key).decrypt(ciphertext.encode())

    # With the new key alone the connection still works: API calls, a refresh, the settings page, a sync.
    rotated = app_with(XEROSYNC_ENCRYPTION_KEY=new_key)
    assert connection_token(rotated) == token_before
    assert organisation_status(rotated) == 200
    force_refresh(rotated)
    assert organisation_status(rotated) == 200
    browser = rotated.test_client()
    login(browser, *HARBOUR_LOGIN)
    assert "Connected to Xero" in browser.get(SETTINGS).get_data(as_text=True)
    sync_now(browser)
    work_queue(rotated)
    assert last_run(rotated).status == RunStatus.DONE

    # The old key alone can no longer read the stored token set.
    retired = app_with(XEROSYNC_ENCRYPTION_KEY=old_key)
    with retired.app_context():
        connection = current_state().db.session.scalar(select(Connection))
        with pytest.raises(TokenDecryptError):
            current_state().tokens.token_of(connection)


def test_a_token_set_no_key_can_read_fails_the_sync_with_a_plain_message(
    app: Flask, connected: OrgSetup, app_with: Callable[..., Flask]
) -> None:
    lost_key = app_with(XEROSYNC_ENCRYPTION_KEY=Fernet.generate_key().decode())
    browser = lost_key.test_client()
    login(browser, *HARBOUR_LOGIN)

    sync_now(browser)
    work_queue(lost_key)

    run = last_run(lost_key)
    assert run.status == RunStatus.FAILED
    assert "cannot be decrypted" in run.error and "Reconnect" in run.error
