"""``flask xerosync``: create-tables, status, rotate-key and the worker."""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy import inspect, text

from flask_xerosync.config import load_config
from flask_xerosync.models import Connection, metadata
from flask_xerosync.state import XeroSyncState, current_state

from .conftest import HARBOUR_ACCOUNT


def test_create_tables(app: Flask) -> None:
    with app.app_context():
        metadata.drop_all(current_state().db.engine)

    result = app.test_cli_runner().invoke(args=["xerosync", "create-tables"])

    assert result.exit_code == 0, result.output
    with app.app_context():
        tables = set(inspect(current_state().db.engine).get_table_names())
    assert {table.name for table in metadata.sorted_tables} <= tables


def test_status_of_an_unknown_and_a_connected_account(app: Flask, connected: Connection, sandbox_org: Any) -> None:
    runner = app.test_cli_runner()

    never = runner.invoke(args=["xerosync", "status", "42"])
    status = runner.invoke(args=["xerosync", "status", HARBOUR_ACCOUNT])

    assert "never connected" in never.output
    assert status.exit_code == 0, status.output
    assert "connected" in status.output and sandbox_org.tenant_name in status.output
    assert "access token expires: 20" in status.output
    assert "last run: none" in status.output


def test_rotate_key_re_encrypts_with_the_new_key(app: Flask, connected: Connection) -> None:
    old_key = app.config["XEROSYNC_ENCRYPTION_KEY"]
    new_key = Fernet.generate_key().decode()
    with app.app_context():
        before = current_state().tokens.token_of(connected)
    # Rotation: the new key first, the old one still listed, then rotate-key.
    app.config["XEROSYNC_ENCRYPTION_KEY"] = f"{new_key},{old_key}"
    _reload_state(app)

    result = app.test_cli_runner().invoke(args=["xerosync", "rotate-key"])

    assert result.exit_code == 0, result.output
    assert "Re-encrypted 1 stored" in result.output
    with app.app_context():
        raw = current_state().db.session.execute(text("SELECT token_encrypted FROM xerosync_connection")).scalar_one()
    assert Fernet(new_key.encode()).decrypt(raw.encode())  # readable with the new key alone
    app.config["XEROSYNC_ENCRYPTION_KEY"] = new_key
    _reload_state(app)
    with app.app_context():
        connection = current_state().db.session.get(Connection, connected.id)
        assert current_state().tokens.token_of(connection) == before


def test_worker_burst_drains_the_queue(app: Flask) -> None:
    from rq import Queue

    with app.app_context():
        state = current_state()
        queue = Queue(state.config.queue_name, connection=state.redis)
        job = queue.enqueue("builtins.len", "four")

    result = app.test_cli_runner().invoke(args=["xerosync", "worker", "--burst"])

    assert result.exit_code == 0, result.output
    job.refresh()
    assert job.is_finished and job.return_value() == 4


def _reload_state(app: Flask) -> None:
    """Re-read the config into the extension's state, as a restart with new settings would."""
    state = app.extensions["xerosync"]
    app.extensions["xerosync"] = XeroSyncState.build(load_config(app.config), state.db, state.host_data, state.callbacks)
