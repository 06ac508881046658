"""No secret reaches a log: a connect, a refresh, a sync, failing syncs and a disconnect with every
logger at DEBUG (the extension's, Authlib's, urllib3's, requests', RQ's, SQLAlchemy's, Werkzeug's),
checked in each record's message, arguments and traceback. Tokens never travel in a URL either
(urllib3 logs request lines at DEBUG)."""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue, SimpleWorker
from sqlalchemy import select

from flask_xerosync.models import Connection, Run, RunStatus
from flask_xerosync.state import current_state

from .conftest import (
    HARBOUR_ACCOUNT,
    SETTINGS,
    OrgSetup,
    connect_account,
    connection_token,
    secret_fragments,
    session_token,
)

LOGGERS = ("", "flask_xerosync", "authlib", "urllib3", "requests", "rq", "rq.worker", "rq.job",
           "sqlalchemy.engine", "werkzeug", "flask.app", "example_app")


@pytest.fixture
def every_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    yield caplog


def work_queue(app: Flask) -> None:
    with app.app_context():
        state = current_state()
        worker = SimpleWorker([Queue(state.config.queue_name, connection=state.redis)], connection=state.redis)
        worker.work(burst=True, logging_level="DEBUG")


def sync_now(client: FlaskClient) -> None:
    assert client.post(SETTINGS + "sync", data={"csrf_token": session_token(client)}).status_code == 302


def runs_by_status(app: Flask) -> list[str]:
    with app.app_context():
        return [run.status for run in current_state().db.session.scalars(select(Run).order_by(Run.created_at))]


def force_refresh(app: Flask) -> None:
    with app.app_context():
        state = current_state()
        connection = state.db.session.scalar(select(Connection).where(Connection.account_id == HARBOUR_ACCOUNT))
        state.xero_session(connection).force_refresh()


def record_text(record: logging.LogRecord) -> str:
    """Everything a handler could write for the record: message, raw msg and args, traceback."""
    parts = [record.getMessage(), repr(record.msg), repr(record.args)]
    formatter = logging.Formatter()
    if record.exc_info:
        parts.append(formatter.formatException(record.exc_info))
    if record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(record.stack_info)
    return "\n".join(parts)


def test_no_secret_in_any_log_record(
    app: Flask, harbour_client: FlaskClient, sandbox_org: OrgSetup, every_log: pytest.LogCaptureFixture
) -> None:
    tokens: list[dict[str, Any]] = []
    sandbox_org.sandbox.control.seed_contacts(
        sandbox_org.tenant_id, [{"Name": "Logged Customer", "EmailAddress": "logged@customer.example"}]
    )

    connect_account(harbour_client, sandbox_org)
    tokens.append(connection_token(app))
    force_refresh(app)
    tokens.append(connection_token(app))
    sync_now(harbour_client)
    work_queue(app)
    sandbox_org.sandbox.control.faults(sandbox_org.tenant_id, error_rate=1.0, error_statuses=[503])
    sync_now(harbour_client)
    work_queue(app)
    sandbox_org.sandbox.control.clear_faults(sandbox_org.tenant_id)
    tokens.append(connection_token(app))
    sandbox_org.sandbox.control.expire_access_token(tokens[-1]["access_token"])
    sandbox_org.sandbox.control.expire_tokens(sandbox_org.client_id)
    sync_now(harbour_client)
    work_queue(app)
    assert runs_by_status(app) == [RunStatus.DONE, RunStatus.FAILED, RunStatus.FAILED]
    harbour_client.post(SETTINGS + "disconnect", data={"csrf_token": session_token(harbour_client)})

    client_id = app.config["XEROSYNC_CLIENT_ID"]
    client_secret = app.config["XEROSYNC_CLIENT_SECRET"]
    secrets = [
        client_secret,
        base64.b64encode(f"{client_id}:{client_secret}".encode()).decode(),
        *app.config["XEROSYNC_ENCRYPTION_KEY"].split(","),
    ]
    for token in tokens:
        secrets.extend(secret_fragments(token))

    records = every_log.records
    assert any(record.name.startswith("urllib3") for record in records), "urllib3 DEBUG was not captured"
    assert any(record.name.startswith("rq") for record in records), "RQ's log was not captured"
    assert any(record.name.startswith("flask_xerosync") for record in records)
    leaks = [
        f"{record.name}: {record.getMessage()[:160]}"
        for record in records
        if any(secret in record_text(record) for secret in secrets)
    ]
    assert not leaks, "\n".join(leaks)


def test_no_token_or_code_verifier_travels_in_a_url(
    app: Flask, harbour_client: FlaskClient, sandbox_org: OrgSetup, every_log: pytest.LogCaptureFixture
) -> None:
    connect_account(harbour_client, sandbox_org)
    force_refresh(app)
    token = connection_token(app)

    request_lines = [
        record.getMessage() for record in every_log.records
        if record.name.startswith("urllib3") and re.search(r'"(GET|POST|PUT|DELETE|PATCH) ', record.getMessage())
    ]

    assert request_lines, "urllib3 request lines were not captured"
    for line in request_lines:
        assert not re.search(r"(access_token|refresh_token|code_verifier|client_secret)=", line), line
        for fragment in secret_fragments(token):
            assert fragment not in line


def test_the_extension_state_and_config_do_not_show_secrets(app: Flask) -> None:
    """A ``repr`` of the state or its config (in a debugger, an error report, a log line)."""
    with app.app_context():
        state = current_state()
        shown = repr(state) + repr(state.config) + str(state.config)

    assert app.config["XEROSYNC_CLIENT_SECRET"] not in shown
    assert app.config["XEROSYNC_ENCRYPTION_KEY"] not in shown
