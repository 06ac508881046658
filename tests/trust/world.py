"""A whole world for the engine's generated tests, in one process: the Xero sandbox (the real one,
answering through a WSGI adapter), an in-memory host and SQLite in memory for the extension's
tables. A sync here is the real engine making real API calls; only sockets, Redis and Flask's
request cycle are left out, so a Hypothesis example costs milliseconds, not seconds."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from flask_xerosync.models import Connection, ConnectionStatus, RecordResult, Run, RunKind, metadata
from flask_xerosync.sandbox import SandboxControl, XeroSandbox
from flask_xerosync.sync.engine import SyncEngine
from flask_xerosync.models import default_preferences
from flask_xerosync.sync.store import SyncStore
from flask_xerosync.xero.api import XeroApi
from flask_xerosync.xero.results import LimitHeaders

from .memory_host import MemoryHost
from .wsgi import WSGIAdapter

BASE = "http://sandbox.test"
CLIENT_ID = "trust-client"
CLIENT_SECRET = "trust-secret"
REDIRECT = "http://host.test/callback"
ACCOUNT = "1"


class NoLimiter:
    """The sandbox enforces Xero's limits itself; these tests never come near them."""

    lease_seconds = 120.0
    day_seconds = 86400.0

    @contextmanager
    def slot(self) -> Iterator[None]:
        yield

    def observe(self, headers: Any) -> LimitHeaders:
        return LimitHeaders.from_headers(headers)

    def pause(self, seconds: float) -> None:
        """Nothing waits here."""

    def exhaust_day(self, seconds: float) -> Exception:
        raise AssertionError("the daily limit is not part of these tests")


class TokenSession(OAuth2Session):
    def force_refresh(self) -> None:
        self.refresh_token(f"{BASE}/connect/token")


@dataclass
class SyncResult:
    run_id: str
    counts: dict[str, dict[str, int]]
    calls: int
    records: list[RecordResult]
    estimate: dict[str, Any] | None = None

    def of(self, stage: str, outcome: str) -> int:
        return self.counts.get(stage, {}).get(outcome, 0)

    def rows(self, outcome: str | None = None, stage: str = "clients") -> list[RecordResult]:
        return [r for r in self.records if r.stage == stage and (outcome is None or r.outcome == outcome)]


@dataclass
class World:
    """The sandbox with one app, one user and organisations; the host; the extension's tables."""

    preferences: dict[str, Any] = field(default_factory=dict)
    sandbox: XeroSandbox = field(default_factory=XeroSandbox)
    host: MemoryHost = field(default_factory=MemoryHost)

    def __post_init__(self) -> None:
        self.adapter = WSGIAdapter(self.sandbox.app)
        control_session = requests.Session()
        control_session.mount(BASE, self.adapter)
        self.control = SandboxControl(BASE, session=control_session)
        self.control.register_app(CLIENT_ID, CLIENT_SECRET, [REDIRECT], app_per_minute=1_000_000)
        self.user = self.control.create_user("owner@host.test", "Owner")["user_id"]
        self.engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
        metadata.create_all(self.engine)
        self.session = Session(self.engine, expire_on_commit=False)
        self.tenants: dict[str, str] = {}
        self.tokens: dict[str, Any] = {}

    # Organisations

    def add_org(self, name: str, country: str = "NZ") -> str:
        tenant_id = str(self.control.create_org(name=name, country=country, users=[self.user]))
        self.control.set_limits(tenant_id, per_minute=1_000_000, per_day=1_000_000)
        self.tenants[name] = tenant_id
        return tenant_id

    def connect(self, tenant_id: str) -> None:
        """Consent to this organisation (as the OAuth flow does) and make it the account's one."""
        oauth = TokenSession(CLIENT_ID, CLIENT_SECRET, scope="offline_access accounting.contacts "
                             "accounting.invoices accounting.settings", redirect_uri=REDIRECT,
                             code_challenge_method="S256", token_endpoint=f"{BASE}/connect/token")
        oauth.mount(BASE, self.adapter)
        verifier = generate_token(48)
        url, _ = oauth.create_authorization_url(f"{BASE}/identity/connect/authorize", code_verifier=verifier)
        self.control.set_consent(CLIENT_ID, action="authorise", tenant_ids=[tenant_id], user=self.user)
        answer = oauth.get(url, allow_redirects=False, withhold_token=True)
        code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
        oauth.fetch_token(f"{BASE}/connect/token", code=code, code_verifier=verifier)
        self.tokens[tenant_id] = oauth
        connection = self.session.scalar(select(Connection).where(Connection.account_id == ACCOUNT))
        if connection is None:
            connection = Connection(account_id=ACCOUNT)
            self.session.add(connection)
        if connection.tenant_id != tenant_id:
            connection.sync_marks = None
        connection.tenant_id = tenant_id
        connection.tenant_name = next((n for n, t in self.tenants.items() if t == tenant_id), "")
        connection.status = ConnectionStatus.CONNECTED
        self.session.commit()

    @property
    def tenant(self) -> str:
        connection = self.session.scalar(select(Connection).where(Connection.account_id == ACCOUNT))
        assert connection is not None and connection.tenant_id
        return connection.tenant_id

    # Syncing

    def api(self, tenant_id: str | None = None) -> XeroApi:
        tenant_id = tenant_id or self.tenant
        return XeroApi(self.tokens[tenant_id], tenant_id, api_url=BASE, limiter=NoLimiter(),  # type: ignore[arg-type]
                          idempotency_scope=uuid.uuid4().hex, sleep=lambda seconds: None)

    def sync(self, *, preview: bool = False, **preferences: Any) -> SyncResult:
        prefs = default_preferences(ACCOUNT)
        for name, value in {**self.preferences, **preferences}.items():
            setattr(prefs, name, value)
        tenant_id = self.tenant
        run = Run(account_id=ACCOUNT, tenant_id=tenant_id, kind=RunKind.PREVIEW if preview else RunKind.SYNC,
                  status="running", counts={})
        self.session.add(run)
        self.session.commit()
        api = self.api(tenant_id)
        engine = SyncEngine(account_id=ACCOUNT, tenant_id=tenant_id, host=self.host, api=api,
                            store=SyncStore(self.session), preferences=prefs, run_id=run.id,
                            xero_app_url="https://go.xero.test", dry_run=preview)
        counts = engine.run()
        records = list(self.session.scalars(select(RecordResult).where(RecordResult.run_id == run.id)
                                            .order_by(RecordResult.id)))
        return SyncResult(run.id, counts, api.calls, records, engine.estimate if preview else None)

    # Xero side

    def contacts(self, tenant_id: str | None = None) -> list[dict[str, Any]]:
        return self.control.contacts(tenant_id or self.tenant)

    def seed_contacts(self, *contacts: dict[str, Any], tenant_id: str | None = None) -> list[dict[str, Any]]:
        return self.control.seed_contacts(tenant_id or self.tenant, list(contacts))

    def counters(self, tenant_id: str | None = None) -> dict[str, Any]:
        return self.control.counters(tenant_id or self.tenant)
