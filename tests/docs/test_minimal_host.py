"""``docs/minimal_host.py``, the README's complete minimal host, run for real: mounted, connected to
the sandbox through the OAuth flow, synced by an RQ worker, an invoice pushed and found in Xero.
The README shows that file whole."""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue, SimpleWorker

from flask_xerosync.models import metadata as xerosync_tables
from flask_xerosync.state import current_state
from tests.conftest import app_config

ROOT = Path(__file__).resolve().parents[2]
MINIMAL_HOST = ROOT / "docs" / "minimal_host.py"
SETTINGS = "/settings/accounting-sync/"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def load_minimal_host() -> ModuleType:
    spec = importlib.util.spec_from_file_location("minimal_host", MINIMAL_HOST)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["minimal_host"] = module  # SQLAlchemy resolves the models' annotations through it
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def host() -> ModuleType:
    return load_minimal_host()


@pytest.fixture
def app(host: ModuleType, sandbox_org: Any, redis_url: str, database_url: str) -> Iterator[Flask]:
    application = host.create_app(app_config(sandbox_org.sandbox.url, redis_url, database_url))
    result = application.test_cli_runner().invoke(args=["init-db", "owner@minimal.example", "minimal-password"])
    assert result.exit_code == 0, result.output
    yield application
    with application.app_context():
        host.db.session.remove()
        xerosync_tables.drop_all(host.db.engine)
        host.db.drop_all()
        host.db.engine.dispose()


def csrf_of(client: FlaskClient, url: str) -> str:
    match = CSRF.search(client.get(url).get_data(as_text=True))
    assert match, url
    return match.group(1)


def test_the_minimal_host_connects_syncs_and_pushes_an_invoice(
    host: ModuleType, app: Flask, sandbox_org: Any
) -> None:
    with app.app_context():
        db = host.db
        owner = db.session.scalar(db.select(host.User))
        customer = host.Customer(owner_id=owner.id, name="Coastal Cafe", email="manager@coastalcafe.example")
        product = host.Product(owner_id=owner.id, code="LAB-HR", name="Labour (per hour)", price=Decimal("95"))
        db.session.add_all([customer, product])
        db.session.flush()
        bill = host.Bill(owner_id=owner.id, number="MIN-1001", customer_id=customer.id, issued_on=date(2026, 11, 2),
                         lines=[host.BillLine(description="Labour", quantity=Decimal("2"), unit_price=Decimal("95"),
                                              product_id=product.id)])
        db.session.add(bill)
        db.session.commit()
        bill_id = bill.id
    client = app.test_client()
    assert client.post("/login", data={"email": "owner@minimal.example", "password": "minimal-password"}).status_code == 302

    start = client.post(SETTINGS + "connect", data={"csrf_token": csrf_of(client, SETTINGS)})
    back = urlsplit(str(sandbox_org.sandbox.control.authorize(start.headers["Location"], action="authorise")))
    assert client.get(f"{back.path}?{back.query}").status_code == 302
    assert "Connected to" in client.get(SETTINGS).get_data(as_text=True)

    invoice_page = f"/invoices/{bill_id}"
    assert "Push To Xero" in client.get(invoice_page).get_data(as_text=True)
    flagged = client.post(f"{SETTINGS}invoices/{bill_id}/flag",
                          data={"csrf_token": csrf_of(client, invoice_page), "next": invoice_page})
    assert flagged.status_code == 302 and flagged.headers["Location"].endswith(invoice_page)
    control, tenant = sandbox_org.sandbox.control, sandbox_org.tenant_id
    for _ in ("the preview", "the sync"):  # the first Sync Now! shows what the sync will do
        assert client.post(SETTINGS + "sync", data={"csrf_token": csrf_of(client, SETTINGS)}).status_code == 302
        with app.app_context():
            state = current_state()
            SimpleWorker([Queue(state.config.queue_name, connection=state.redis)],
                         connection=state.redis).work(burst=True)
        if not control.invoices(tenant):
            assert "Preview ready" in client.get(SETTINGS).get_data(as_text=True)

    [invoice] = control.invoices(tenant)
    assert invoice["InvoiceNumber"] == "MIN-1001" and invoice["LineItems"][0]["ItemCode"] == "LAB-HR"
    assert [c["Name"] for c in control.contacts(tenant)] == ["Coastal Cafe"]
    assert "In Xero" in client.get(invoice_page).get_data(as_text=True)


def test_the_readme_shows_the_minimal_host_whole() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert MINIMAL_HOST.read_text() in blocks
