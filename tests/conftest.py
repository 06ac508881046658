"""Shared fixtures: a private Redis, the database (SQLite, or PostgreSQL when
``XEROSYNC_TEST_DATABASE_URL`` is set), the Xero sandbox, and the example host app wired to both.

- ``redis_server`` (session) / ``redis_url`` (per test, flushed): a real ``redis-server``.
- ``database_url``: SQLite in the test's tmp dir, or the PostgreSQL URL from the environment.
- ``xero_sandbox``: the sandbox's own pytest fixture (reset before each test).
- ``sandbox_org``: an app registered in the sandbox for the example app, a user and one
  organisation (``OrgSetup``).
- ``app`` / ``client``: the example host app (pytest-flask's ``client``) with demo data seeded,
  XEROSYNC_* pointing at the sandbox and Redis; tables dropped afterwards.
- ``login(client, email, password)``: log a user in through the app's own form.
- ``csrf_token(client, url)``: a CSRF token rendered on a page of the app.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, make_url, text

from flask_xerosync.testing import RedisServer

pytest_plugins = ["flask_xerosync.sandbox.pytest_plugin"]

HARBOUR_LOGIN = ("owner@harbour.example", "harbour-demo")
BASIC_LOGIN = ("owner@basicplumbing.example", "basic-demo")
TEST_CLIENT_ID = "test-client-id"
TEST_CLIENT_SECRET = "test-client-secret"
CALLBACK_URL = "http://localhost/settings/accounting-sync/callback"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture(scope="session")
def server_database_url() -> Iterator[str | None]:
    """A database of this test session's own on the server named by XEROSYNC_TEST_DATABASE_URL
    (created, then dropped), so parallel runs on one server never share tables."""
    base = os.environ.get("XEROSYNC_TEST_DATABASE_URL")
    if not base:
        yield None
        return
    url = make_url(base)
    name = f"xerosync_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def database_url(server_database_url: str | None, tmp_path: Path) -> str:
    return server_database_url or f"sqlite:///{tmp_path / 'host.sqlite'}"


@pytest.fixture(autouse=True)
def _push_request_context() -> None:
    """Replaces pytest-flask's fixture of the same name, which keeps one request context pushed for
    the whole test: every test-client request would then reuse its app context, so ``g`` (the
    logged-in user, the CSRF token) and ``db.session`` would leak from one client to another.
    Here each request gets its own context, as in production."""


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A plain test client (pytest-flask's is used as a context manager, which keeps each request's
    context pushed into the next request of any other client)."""
    return app.test_client()


@dataclass(frozen=True)
class OrgSetup:
    sandbox: Any
    client_id: str
    client_secret: str
    user_id: str
    tenant_id: str
    tenant_name: str


@pytest.fixture
def sandbox_org(xero_sandbox: Any) -> OrgSetup:
    control = xero_sandbox.control
    control.register_app(
        client_id=TEST_CLIENT_ID,
        client_secret=TEST_CLIENT_SECRET,
        redirect_uris=[CALLBACK_URL],
    )
    user = control.create_user(name="Hana Harbour", email="hana@harbour.example")
    user_id = (user.get("user_id") or user["id"]) if isinstance(user, dict) else str(user)
    tenant_name = "Harbour Field Services Ltd"
    org = control.create_org(name=tenant_name, country="NZ", users=[user_id])
    tenant_id = org["tenantId"] if isinstance(org, dict) else str(org)
    return OrgSetup(xero_sandbox, TEST_CLIENT_ID, TEST_CLIENT_SECRET, user_id, tenant_id, tenant_name)


def app_config(sandbox_url: str, redis_url: str, database_url: str, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SERVER_NAME": "localhost",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "XEROSYNC_CLIENT_ID": TEST_CLIENT_ID,
        "XEROSYNC_CLIENT_SECRET": TEST_CLIENT_SECRET,
        "XEROSYNC_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "XEROSYNC_REDIS_URL": redis_url,
        "XEROSYNC_SANDBOX_URL": sandbox_url,
        "XEROSYNC_HTMX_URL": "/vendor/htmx.min.js",
    }
    config.update(overrides)
    return config


def build_app(config: dict[str, Any]) -> Flask:
    """The example app with fresh tables and the demo data loaded."""
    from example_app import create_app
    from example_app.seed import create_tables, seed_demo

    app = create_app(config)
    with app.app_context():
        create_tables(fresh=True)
        seed_demo()
    return app


def drop_app_tables(app: Flask) -> None:
    from example_app.models import db
    from example_app.seed import drop_tables

    with app.app_context():
        drop_tables()
        db.engine.dispose()


@pytest.fixture
def app(sandbox_org: OrgSetup, redis_url: str, database_url: str) -> Iterator[Flask]:
    application = build_app(app_config(sandbox_org.sandbox.url, redis_url, database_url))
    yield application
    drop_app_tables(application)


def login(client: FlaskClient, email: str, password: str) -> None:
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)


_CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
_CSRF_HEADER = re.compile(r'"X-CSRFToken":\s*"([^"]+)"')


def csrf_token(client: FlaskClient, url: str) -> str:
    """The CSRF token a page renders (form field or htmx header)."""
    html = client.get(url).get_data(as_text=True)
    match = _CSRF_INPUT.search(html)
    if match:
        return match.group(1) or match.group(2)
    header = _CSRF_HEADER.search(html)
    assert header, f"no CSRF token on {url}"
    return header.group(1)


@pytest.fixture
def harbour_client(client: FlaskClient) -> FlaskClient:
    """A test client logged in as the owner of the business on the Xero plan."""
    login(client, *HARBOUR_LOGIN)
    return client


@pytest.fixture
def basic_client(app: Flask) -> FlaskClient:
    """A second, independent test client logged in as the Basic-plan business owner."""
    other = app.test_client()
    login(other, *BASIC_LOGIN)
    return other
