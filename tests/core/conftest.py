"""Helpers for the core tests: drive the sandbox's consent headless and read extension rows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from flask_xerosync.models import Connection
from flask_xerosync.state import current_state

OrgSetup = Any

SETTINGS = "/settings/accounting-sync/"
HARBOUR_ACCOUNT = "1"


def add_org(org: OrgSetup, name: str) -> str:
    """Another organisation the sandbox user can access; returns its tenant id."""
    return str(org.sandbox.control.create_org(name=name, country="NZ", users=[org.user_id]))


def start_at_xero(client: FlaskClient, org: OrgSetup, tenant_ids: list[str] | None = None,
                  action: str = "authorise") -> str:
    """Click Connect, decide on the sandbox's consent page, return the callback URL Xero sends back."""
    start = client.post(SETTINGS + "connect", data={"csrf_token": csrf_token(client, SETTINGS)})
    assert start.status_code == 302, start.get_data(as_text=True)
    if tenant_ids is not None and len(tenant_ids) > 1:
        org.sandbox.control.set_consent(org.client_id, action=action, tenant_ids=tenant_ids)
    return str(org.sandbox.control.authorize(start.headers["Location"], action=action, tenant_ids=tenant_ids))


def follow_callback(client: FlaskClient, callback_url: str) -> TestResponse:
    parts = urlsplit(callback_url)
    return client.get(f"{parts.path}?{parts.query}")


def connect(client: FlaskClient, org: OrgSetup, tenant_ids: list[str] | None = None) -> TestResponse:
    return follow_callback(client, start_at_xero(client, org, tenant_ids))


def connection_of(app: Flask, account_id: str = HARBOUR_ACCOUNT) -> Connection | None:
    """The account's connection row, read fresh and detached."""
    with app.app_context():
        session = current_state().db.session
        row = session.scalar(select(Connection).where(Connection.account_id == account_id))
        if row is not None:
            session.expunge(row)
        return row


def csrf_token(client: FlaskClient, url: str = SETTINGS) -> str:
    """The CSRF token a page renders in its forms."""
    html = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"', html)
    assert match, f"no CSRF token on {url}"
    return match.group(1) or match.group(2)


def notices(html: str) -> list[str]:
    return [" ".join(m.split()) for m in re.findall(r'role="(?:alert|status)">([^<]+)<', html)]


@pytest.fixture
def connected(app: Flask, harbour_client: FlaskClient, sandbox_org: OrgSetup) -> Iterator[Connection]:
    """The Harbour account connected to the sandbox organisation."""
    response = connect(harbour_client, sandbox_org)
    assert response.status_code == 302
    connection = connection_of(app)
    assert connection is not None and connection.status == "connected"
    yield connection
