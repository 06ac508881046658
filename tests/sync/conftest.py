"""A connected Harbour account (its demo clients, products and invoices removed) and a ``rig``
to seed both sides, run :class:`SyncEngine` directly and read the results back."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask, has_request_context
from flask.globals import request_ctx
from flask.testing import FlaskClient
from sqlalchemy import delete, select

from flask_xerosync.host import HostData
from flask_xerosync.models import Connection, InvoiceFlag, Link, RecordResult, Run, default_preferences
from flask_xerosync.services.xero_api import open_api
from flask_xerosync.state import current_state
from flask_xerosync.sync.engine import SyncEngine
from flask_xerosync.sync.progress import ProgressEvent
from flask_xerosync.sync.store import SyncStore
from flask_xerosync.worker.job import invoice_pushed

ACCOUNT = "1"
SETTINGS = "/settings/accounting-sync/"


def _csrf(client: FlaskClient) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(SETTINGS).get_data(as_text=True))
    assert match, "no CSRF token on the settings page"
    return match.group(1)


@pytest.fixture(autouse=True)
def separate_request_contexts(request: pytest.FixtureRequest) -> Iterator[None]:
    """Without pytest-flask's test-wide request context, each app context gets its own session."""
    if "app" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("_push_request_context")
    ambient = request_ctx._get_current_object() if has_request_context() else None
    if ambient is not None:
        ambient.pop()
    try:
        yield
    finally:
        if ambient is not None:
            ambient.push()


@dataclass
class SyncRun:
    run_id: str
    counts: dict[str, dict[str, int]]
    calls: int
    events: list[ProgressEvent]
    records: list[RecordResult]

    def of(self, stage: str, outcome: str) -> int:
        return self.counts.get(stage, {}).get(outcome, 0)

    def changes(self) -> int:
        return sum(n for outcomes in self.counts.values() for o, n in outcomes.items() if o not in ("unchanged",))

    def rows(self, outcome: str | None = None, stage: str | None = None) -> list[RecordResult]:
        return [r for r in self.records
                if (outcome is None or r.outcome == outcome) and (stage is None or r.stage == stage)]


@dataclass
class Rig:
    app: Flask
    org: Any
    preferences: dict[str, Any] = field(default_factory=dict)

    @property
    def control(self) -> Any:
        return self.org.sandbox.control

    @property
    def tenant(self) -> str:
        return self.org.tenant_id

    # Xero side

    def seed_contacts(self, *contacts: dict[str, Any]) -> list[dict[str, Any]]:
        return self.control.seed_contacts(self.tenant, list(contacts))

    def contacts(self) -> list[dict[str, Any]]:
        return self.control.contacts(self.tenant)

    def contact_named(self, name: str) -> dict[str, Any]:
        found = [c for c in self.contacts() if c["Name"] == name]
        assert len(found) == 1, (name, [c["Name"] for c in self.contacts()])
        return found[0]

    def items(self) -> list[dict[str, Any]]:
        return self.control.items(self.tenant)

    def invoices(self) -> list[dict[str, Any]]:
        return self.control.invoices(self.tenant)

    def api_calls(self) -> int:
        return int(self.control.counters(self.tenant)["total_calls"])

    # Host side (the example app's own models)

    def host(self, action: Callable[[Any], Any]) -> Any:
        from example_app import models

        with self.app.app_context():
            result = action(models)
            models.db.session.commit()
            return result

    def add_client(self, name: str, email: str = "", **fields: Any) -> str:
        def add(models: Any) -> str:
            row = models.Client(business_id=int(ACCOUNT), name=name, email=email, **fields)
            models.db.session.add(row)
            models.db.session.flush()
            return str(row.id)

        return str(self.host(add))

    def edit_client(self, client_id: str, **fields: Any) -> None:
        def edit(models: Any) -> None:
            row = models.db.session.get(models.Client, int(client_id))
            for name, value in fields.items():
                setattr(row, name, value)

        self.host(edit)

    def clients(self) -> list[Any]:
        def read(models: Any) -> list[Any]:
            rows = list(models.db.session.scalars(
                select(models.Client).where(models.Client.business_id == int(ACCOUNT)).order_by(models.Client.id)))
            models.db.session.expunge_all()
            return rows

        return list(self.host(read))

    def client_named(self, name: str) -> Any:
        found = [c for c in self.clients() if c.name == name]
        assert len(found) == 1, (name, [c.name for c in self.clients()])
        return found[0]

    def add_product(self, name: str, code: str = "", price: str = "10.00", **fields: Any) -> str:
        def add(models: Any) -> str:
            row = models.Product(business_id=int(ACCOUNT), name=name, code=code, unit_price=Decimal(price), **fields)
            models.db.session.add(row)
            models.db.session.flush()
            return str(row.id)

        return str(self.host(add))

    def products(self) -> list[Any]:
        def read(models: Any) -> list[Any]:
            rows = list(models.db.session.scalars(
                select(models.Product).where(models.Product.business_id == int(ACCOUNT)).order_by(models.Product.id)))
            models.db.session.expunge_all()
            return rows

        return list(self.host(read))

    def add_invoice(self, number: str, client_id: str, lines: list[tuple[str, str, str, str | None, bool]],
                    flag: bool = True, **fields: Any) -> str:
        """``lines``: (description, quantity, unit price, product id or None, taxable)."""

        def add(models: Any) -> str:
            issued = date(2026, 11, 2)
            row = models.Invoice(business_id=int(ACCOUNT), number=number, client_id=int(client_id),
                                 issue_date=issued, due_date=issued + timedelta(days=20), **fields)
            row.lines = [
                models.InvoiceLine(position=i, description=d, quantity=Decimal(q), unit_price=Decimal(p),
                                   product_id=int(product) if product else None, taxable=taxable)
                for i, (d, q, p, product, taxable) in enumerate(lines)
            ]
            models.db.session.add(row)
            models.db.session.flush()
            return str(row.id)

        invoice_id = str(self.host(add))
        if flag:
            self.flag(invoice_id)
        return invoice_id

    def set_lines(self, invoice_id: str, lines: list[tuple[str, str, str]]) -> None:
        def edit(models: Any) -> None:
            row = models.db.session.get(models.Invoice, int(invoice_id))
            row.lines = [models.InvoiceLine(position=i, description=d, quantity=Decimal(q), unit_price=Decimal(p))
                         for i, (d, q, p) in enumerate(lines)]

        self.host(edit)

    def flag(self, invoice_id: str) -> None:
        with self.app.app_context():
            session = current_state().db.session
            flag = session.scalar(select(InvoiceFlag).where(InvoiceFlag.account_id == ACCOUNT,
                                                            InvoiceFlag.invoice_id == invoice_id))
            if flag is None:
                session.add(InvoiceFlag(account_id=ACCOUNT, tenant_id=self.tenant, invoice_id=invoice_id, state="flagged"))
            else:
                flag.state = "flagged"
            session.commit()

    def flag_of(self, invoice_id: str) -> InvoiceFlag:
        with self.app.app_context():
            session = current_state().db.session
            flag = session.scalar(select(InvoiceFlag).where(InvoiceFlag.invoice_id == invoice_id))
            assert flag is not None
            session.expunge(flag)
            return flag

    def links(self, kind: str) -> list[Link]:
        with self.app.app_context():
            session = current_state().db.session
            rows = list(session.scalars(select(Link).where(Link.kind == kind)))
            session.expunge_all()
            return rows

    # Running the engine

    def record_waits(self) -> list[float]:
        """From now on the Xero API records its waits (retry backoff) instead of sleeping."""
        waits: list[float] = []
        with self.app.app_context():
            current_state().sleep = waits.append
        return waits

    def sync(self, host: HostData | None = None, page_size: int | None = None,
             wrap_api: Callable[[Any], Any] | None = None, **preferences: Any) -> SyncRun:
        events: list[ProgressEvent] = []
        with self.app.app_context():
            state = current_state()
            session = state.db.session
            connection = session.scalar(select(Connection).where(Connection.account_id == ACCOUNT))
            assert connection is not None and connection.tenant_id == self.tenant
            run = Run(account_id=ACCOUNT, tenant_id=self.tenant, status="running")
            session.add(run)
            session.commit()
            prefs = default_preferences(ACCOUNT)
            for name, value in {**self.preferences, **preferences}.items():
                setattr(prefs, name, value)
            client = open_api(state, connection)
            if page_size is not None:
                client.page_size = page_size
            if wrap_api is not None:
                client = wrap_api(client)
            before = self.api_calls()
            engine = SyncEngine(
                account_id=ACCOUNT, tenant_id=self.tenant, host=host or state.host_data, api=client,
                store=SyncStore(session), preferences=prefs, run_id=run.id,
                xero_app_url=state.config.xero_app_url, report=events.append, on_invoice_pushed=invoice_pushed,
            )
            counts = engine.run()
            calls = self.api_calls() - before
            records = list(session.scalars(select(RecordResult).where(RecordResult.run_id == run.id)))
            session.expunge_all()
            return SyncRun(run.id, counts, calls, events, records)


def _wipe_demo_data(app: Flask) -> None:
    from example_app import models

    with app.app_context():
        session = models.db.session
        session.execute(delete(models.InvoiceLine))
        session.execute(delete(models.Invoice))
        session.execute(delete(models.Client))
        session.execute(delete(models.Product))
        session.commit()


@pytest.fixture
def rig(app: Flask, harbour_client: FlaskClient, sandbox_org: Any) -> Rig:
    start = harbour_client.post(SETTINGS + "connect", data={"csrf_token": _csrf(harbour_client)})
    assert start.status_code == 302, start.get_data(as_text=True)
    callback = urlsplit(str(sandbox_org.sandbox.control.authorize(start.headers["Location"], action="authorise")))
    assert harbour_client.get(f"{callback.path}?{callback.query}").status_code == 302
    with app.app_context():
        connection = current_state().db.session.scalar(select(Connection).where(Connection.account_id == ACCOUNT))
        assert connection is not None and connection.status == "connected"
    _wipe_demo_data(app)
    return Rig(app, sandbox_org)
