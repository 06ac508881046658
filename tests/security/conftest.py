"""Helpers for the security audit: the blueprint's routes read from the URL map, sample ids to fill
them, a second business on the Xero plan, seeded runs / records / invoice flags, and readers for the
raw database, Redis and the session cookie.

Routes are enumerated from ``app.url_map``, so a route added to the blueprint later is covered by
every check without editing the tests; a route with a URL argument the audit has no sample for
fails loudly (add a sample to ``SAMPLE_ARGUMENTS``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from flask_xerosync.models import (
    Connection,
    InvoiceFlag,
    InvoiceState,
    Outcome,
    RecordResult,
    Run,
    RunStatus,
    metadata,
)
from flask_xerosync.state import current_state

OrgSetup = Any

SETTINGS = "/settings/accounting-sync/"
HARBOUR_ACCOUNT = "1"
BASIC_ACCOUNT = "2"
HARBOUR_LOGIN = ("owner@harbour.example", "harbour-demo")
BASIC_LOGIN = ("owner@basicplumbing.example", "basic-demo")
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_REFUSAL = "security token is missing or out of date"
# Public files of the blueprint (CSS): served to anyone, like any static file of the host.
PUBLIC_ENDPOINTS = frozenset({"xerosync.static"})


@dataclass(frozen=True)
class Route:
    endpoint: str
    rule: str
    method: str
    arguments: frozenset[str]

    def __str__(self) -> str:
        return f"{self.method} {self.rule} ({self.endpoint})"


def blueprint_routes(app: Flask, *, state_changing: bool | None = None) -> list[Route]:
    """Every (rule, method) of the ``xerosync`` blueprint, public files left out."""
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("xerosync.") or rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        for method in sorted(_methods(rule)):
            if state_changing is not None and (method in STATE_CHANGING) != state_changing:
                continue
            routes.append(Route(rule.endpoint, rule.rule, method, frozenset(rule.arguments)))
    assert routes, "the xerosync blueprint has no routes: is it registered?"
    return routes


def _methods(rule: Rule) -> set[str]:
    return set(rule.methods or ()) - {"HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Seeded:
    """Account 1's data that other accounts must never reach."""

    run_id: str
    record_id: int
    record_label: str
    invoice_id: str
    invoice_number: str


def url_of(app: Flask, route: Route, seeded: Seeded | None = None, **overrides: Any) -> str:
    """The route's URL, its arguments filled with account 1's ids (or placeholders)."""
    samples: dict[str, Any] = {"run_id": "0" * 32, "record_id": 1, "invoice_id": "1"}
    if seeded is not None:
        samples = {"run_id": seeded.run_id, "record_id": seeded.record_id, "invoice_id": seeded.invoice_id}
    samples.update(overrides)
    unknown = route.arguments - samples.keys()
    assert not unknown, f"{route}: add a sample value for {sorted(unknown)} to the security tests"
    with app.test_request_context():
        return url_for(route.endpoint, **{name: samples[name] for name in route.arguments})


def request(client: FlaskClient, route: Route, url: str, data: dict[str, str] | None = None,
            headers: dict[str, str] | None = None) -> TestResponse:
    return client.open(url, method=route.method, data=data or {}, headers=headers or {})


_CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_token(client: FlaskClient, url: str = SETTINGS) -> str:
    """The CSRF token a page renders in a form."""
    html = client.get(url).get_data(as_text=True)
    match = _CSRF_INPUT.search(html)
    assert match, f"no CSRF token on {url}"
    return match.group(1) or match.group(2)


def login(client: FlaskClient, email: str, password: str) -> None:
    response = client.post("/login", data={"email": email, "password": password, "csrf_token": csrf_token(client, "/login")})
    assert response.status_code == 302, response.get_data(as_text=True)


def session_token(client: FlaskClient, url: str = SETTINGS) -> str:
    """A valid CSRF token of the client's session, as the extension renders it (``/login``, the
    host's page, for an anonymous client while the host's CSRF is on)."""
    return csrf_token(client, url)


def seed_account_data(app: Flask, account_id: str = HARBOUR_ACCOUNT, label: str = "Coastal Cafe") -> Seeded:
    """A finished run with a "needs review" record, and a flagged invoice, for ``account_id``."""
    with app.app_context():
        session = current_state().db.session
        run = Run(account_id=account_id, tenant_id="tenant-of-" + account_id, status=RunStatus.DONE, counts={})
        session.add(run)
        session.flush()
        record = RecordResult(
            run_id=run.id, stage="clients", direction="to_xero", outcome=Outcome.NEEDS_REVIEW, label=label,
            host_id="4", details={"candidates": [{"xero_id": "xero-contact-1", "name": label, "email": ""}]},
        )
        session.add(record)
        invoice = host_invoice(session, int(account_id))
        session.add(InvoiceFlag(account_id=account_id, tenant_id=run.tenant_id, invoice_id=str(invoice.id),
                                state=InvoiceState.FLAGGED))
        session.commit()
        return Seeded(run.id, record.id, label, str(invoice.id), invoice.number)


def host_invoice(session: Session, business_id: int) -> Any:
    """The business's first invoice in the example app (one is created when it has none)."""
    from example_app.models import Client, Invoice, InvoiceLine

    invoice = session.scalar(select(Invoice).where(Invoice.business_id == business_id).order_by(Invoice.id))
    if invoice is not None:
        return invoice
    client = session.scalar(select(Client).where(Client.business_id == business_id).order_by(Client.id))
    invoice = Invoice(business_id=business_id, number=f"B{business_id}-1", client_id=client.id,
                      issue_date=date.today(), due_date=None)
    invoice.lines = [InvoiceLine(description="Leak fixed", quantity=Decimal(1), unit_price=Decimal(80))]
    session.add(invoice)
    session.flush()
    return invoice


def upgrade_basic_business(app: Flask) -> None:
    """Put business 2 (Basic Plumbing) on the Xero plan, to test account isolation past the plan check."""
    from example_app.models import Business

    with app.app_context():
        session = current_state().db.session
        business = session.get(Business, int(BASIC_ACCOUNT))
        assert business is not None
        business.plan = "pro"
        session.commit()


@pytest.fixture
def other_account_client(app: Flask) -> FlaskClient:
    """Business 2's owner, moved to the Xero plan: passes every guard except ownership."""
    upgrade_basic_business(app)
    other = app.test_client()
    login(other, *BASIC_LOGIN)
    return other


def extension_rows(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every ``xerosync_*`` table, read with plain SQL."""
    with app.app_context():
        session = current_state().db.session
        dump = {
            table.name: [tuple(row) for row in session.execute(text(f"SELECT * FROM {table.name}")).all()]
            for table in metadata.sorted_tables
        }
        session.rollback()
        return dump


def host_rows(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the host's own tables (clients, products, invoices...)."""
    from example_app.models import db

    with app.app_context():
        return {
            table.name: [tuple(row) for row in db.session.execute(text(f"SELECT * FROM {table.name}")).all()]
            for table in db.metadata.sorted_tables
        }


def redis_dump(app: Flask) -> str:
    """Every key and value in the extension's Redis, as one text (hashes, lists and sets expanded)."""
    with app.app_context():
        client = current_state().redis
        parts = []
        for key in client.scan_iter():
            kind = client.type(key).decode()
            if kind == "string":
                value: Any = client.get(key)
            elif kind == "hash":
                value = client.hgetall(key)
            elif kind == "list":
                value = client.lrange(key, 0, -1)
            elif kind == "set":
                value = client.smembers(key)
            elif kind == "zset":
                value = client.zrange(key, 0, -1, withscores=True)
            else:
                value = kind
            parts.append(f"{key!r}={value!r}")
        return "\n".join(parts)


def connection_token(app: Flask, account_id: str = HARBOUR_ACCOUNT) -> dict[str, Any]:
    """The decrypted token set of an account's connection."""
    with app.app_context():
        state = current_state()
        connection = state.db.session.scalar(select(Connection).where(Connection.account_id == account_id))
        assert connection is not None
        token = state.tokens.token_of(connection)
        assert token is not None
        return token


def secret_fragments(token: dict[str, Any]) -> list[str]:
    """The token values, and each part of a JWT among them, that must never show up anywhere."""
    fragments = []
    for name in ("access_token", "refresh_token", "id_token"):
        value = str(token.get(name) or "")
        if not value:
            continue
        fragments.append(value)
        fragments.extend(part for part in value.split(".") if len(part) >= 16)
    return fragments


def session_cookie_text(app: Flask, client: FlaskClient) -> str:
    """The session cookie, decoded (verified and deserialised) and as raw text."""
    cookie = client.get_cookie("session", domain="localhost")
    if cookie is None:
        return ""
    data = app.session_interface.get_signing_serializer(app).loads(cookie.value)  # type: ignore[attr-defined]
    return json.dumps(data, default=str) + "\n" + cookie.value


def notices(html: str) -> list[str]:
    return [" ".join(m.split()) for m in re.findall(r'role="(?:alert|status)">([^<]+)<', html)]


def is_on_this_host(location: str) -> bool:
    """A redirect target that stays on the app: a path, or an absolute URL of localhost."""
    parts = urlsplit(location)
    if "\\" in location or location.startswith("//"):
        return False
    return (parts.scheme, parts.netloc) in (("", ""), ("http", "localhost"))


@pytest.fixture
def seeded(app: Flask) -> Iterator[Seeded]:
    yield seed_account_data(app)


def start_flow(client: FlaskClient) -> str:
    """Click Connect to Xero; returns the authorise URL the app redirects to."""
    response = client.post(SETTINGS + "connect", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def consent(org: OrgSetup, authorize_url: str, action: str = "authorise") -> str:
    """Decide on the sandbox's consent page headless; returns the app path Xero redirects back to."""
    callback = urlsplit(str(org.sandbox.control.authorize(authorize_url, action=action)))
    return f"{callback.path}?{callback.query}"


def connect_account(client: FlaskClient, org: OrgSetup) -> None:
    response = client.get(consent(org, start_flow(client)))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(SETTINGS)


@pytest.fixture
def connected(app: Flask, harbour_client: FlaskClient, sandbox_org: OrgSetup) -> OrgSetup:
    """The Harbour account (account 1, Xero plan) connected to the sandbox organisation."""
    connect_account(harbour_client, sandbox_org)
    with app.app_context():
        connection = current_state().db.session.scalar(
            select(Connection).where(Connection.account_id == HARBOUR_ACCOUNT)
        )
        assert connection is not None and connection.status == "connected"
    return sandbox_org
