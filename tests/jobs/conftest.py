"""Helpers for the job and page tests: connect an account headless, run a real RQ worker, read rows,
and a private Redis that a test can restart mid-run."""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue, SimpleWorker
from sqlalchemy import select
from sqlalchemy.orm import Session

from flask_xerosync.models import Connection, RecordResult, Run, RunKind, RunStatus, utcnow
from flask_xerosync.state import current_state
from flask_xerosync.testing import find_redis_server, free_port

OrgSetup = Any

SETTINGS = "/settings/accounting-sync/"
SYNC_NOW = SETTINGS + "sync"
HARBOUR_ACCOUNT = "1"
BASIC_ACCOUNT = "2"
HTMX = {"HX-Request": "true"}
HARBOUR_LOGIN = ("owner@harbour.example", "harbour-demo")
BASIC_LOGIN = ("owner@basicplumbing.example", "basic-demo")


def csrf_token(client: FlaskClient, url: str = SETTINGS) -> str:
    html = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def connect_account(client: FlaskClient, org: OrgSetup) -> None:
    """Connect to Xero, consent in the sandbox headless, and come back through the callback."""
    start = client.post(SETTINGS + "connect", data={"csrf_token": csrf_token(client)})
    assert start.status_code == 302, start.get_data(as_text=True)
    callback = urlsplit(str(org.sandbox.control.authorize(start.headers["Location"], action="authorise")))
    assert client.get(f"{callback.path}?{callback.query}").status_code == 302


def login(client: FlaskClient, email: str, password: str) -> None:
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf_token(client, "/login")}
    )
    assert response.status_code == 302, response.get_data(as_text=True)


@contextmanager
def db_session(app: Flask) -> Iterator[Session]:
    """A database session of its own app context (removed when it ends)."""
    with app.app_context():
        yield current_state().db.session


def connection_of(app: Flask, account_id: str = HARBOUR_ACCOUNT) -> Connection:
    with db_session(app) as session:
        row = session.scalar(select(Connection).where(Connection.account_id == account_id))
        assert row is not None
        session.expunge(row)
        return row


def run_row(app: Flask, run_id: str) -> Run:
    with db_session(app) as session:
        row = session.get(Run, run_id)
        assert row is not None
        session.expunge(row)
        return row


def all_runs(app: Flask, account_id: str = HARBOUR_ACCOUNT) -> list[Run]:
    """The account's sync runs (previews left out), oldest first."""
    with db_session(app) as session:
        rows = list(session.scalars(select(Run).where(Run.account_id == account_id, Run.kind == RunKind.SYNC)
                                    .order_by(Run.created_at)))
        session.expunge_all()
        return rows


def records_of(app: Flask, run_id: str) -> list[RecordResult]:
    with db_session(app) as session:
        rows = list(session.scalars(select(RecordResult).where(RecordResult.run_id == run_id)))
        session.expunge_all()
        return rows


def work_queue(app: Flask) -> None:
    """Run every queued sync job with a real RQ worker (burst mode) inside an app context."""
    with app.app_context():
        state = current_state()
        queue = Queue(state.config.queue_name, connection=state.redis)
        SimpleWorker([queue], connection=state.redis).work(burst=True)


def sync_now(client: FlaskClient, htmx: bool = True) -> Any:
    headers = HTMX if htmx else {}
    return client.post(SYNC_NOW, data={"csrf_token": csrf_token(client)}, headers=headers)


def run_id_in(html: str) -> str:
    match = re.search(r"/runs/([0-9a-f]{32})", html)
    assert match, html
    return match.group(1)


def previewed(app: Flask, account_id: str = HARBOUR_ACCOUNT) -> None:
    """Mark the account's organisation as previewed (a finished preview with nothing to show), so
    Sync Now! syncs rather than opening the preview first."""
    with db_session(app) as session:
        tenant_id = session.scalar(select(Connection.tenant_id).where(Connection.account_id == account_id))
        session.add(Run(account_id=account_id, tenant_id=tenant_id, kind=RunKind.PREVIEW, status=RunStatus.DONE,
                        counts={}, created_at=utcnow() - timedelta(days=1), finished_at=utcnow() - timedelta(days=1)))
        session.commit()


@pytest.fixture
def connected(app: Flask, harbour_client: FlaskClient, sandbox_org: OrgSetup) -> OrgSetup:
    """The Harbour account (Pro plan) connected to the sandbox organisation, its preview seen (so
    Sync Now! syncs; ``tests/jobs/test_preview.py`` covers the first Sync Now!)."""
    connect_account(harbour_client, sandbox_org)
    assert connection_of(app).status == "connected"
    previewed(app)
    return sandbox_org


class RestartableRedis:
    """A private ``redis-server`` (port and data directory of its own) that can be restarted on the
    same port, with its data (saved on shutdown and loaded again, as a persistent Redis restarts)
    or without (as a Redis without persistence, or a fail-over to an empty replica)."""

    def __init__(self) -> None:
        self.port = free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="xerosync-redis-restart-")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self._process = subprocess.Popen(
            [find_redis_server(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self._dir.name, "--dbfilename", "dump.rdb",
             "--logfile", str(Path(self._dir.name) / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2, retry_on_error=[redis.ConnectionError],
                             retry=redis.retry.Retry(redis.backoff.ConstantBackoff(0.05), 200))
        try:
            client.ping()
        finally:
            client.close()

    def stop(self, *, keep_data: bool = False) -> None:
        """Shut the server down, saving its data first when ``keep_data``."""
        if self._process is None:
            return
        client = redis.Redis(port=self.port)
        try:
            client.shutdown(save=keep_data, nosave=not keep_data)
        except redis.ConnectionError:
            pass  # the server closes the connection as it goes
        finally:
            client.close()
        self._process.wait(timeout=30)
        self._process = None
        if not keep_data:
            (Path(self._dir.name) / "dump.rdb").unlink(missing_ok=True)

    def restart(self, *, keep_data: bool) -> None:
        self.stop(keep_data=keep_data)
        self.start()

    def close(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None
        self._dir.cleanup()


@pytest.fixture
def restartable_redis() -> Iterator[RestartableRedis]:
    server = RestartableRedis()
    server.start()
    try:
        yield server
    finally:
        server.close()
