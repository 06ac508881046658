"""Paid status back through the worker and the example app (the invoice menu, the host's own
invoice page through ``mark_invoices_paid``), the signals of a paid invoice, a run with problems,
a failed run and a reconnect, the example app's banners made from them, and the upgrade link."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from example_app import models
from flask_xerosync import signals
from flask_xerosync.models import InvoiceFlag, Preferences

from .conftest import HARBOUR_ACCOUNT, HTMX, SETTINGS, csrf_token, db_session, sync_now, work_queue

HFS_1001, HFS_1003 = "1", "3"  # the demo's invoices; HFS-1003 carries a tax code Xero rejects


@contextmanager
def heard(app: Flask, *names: str) -> Iterator[dict[str, list[dict[str, Any]]]]:
    """What the signals ``names`` sent for this app while the block ran."""
    received: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    receivers = {name: (lambda sender, _name=name, **kwargs: received[_name].append(kwargs)) for name in names}
    for name, receiver in receivers.items():
        getattr(signals, name).connect(receiver, sender=app)
    try:
        yield received
    finally:
        for name, receiver in receivers.items():
            getattr(signals, name).disconnect(receiver, sender=app)


def read_paid_status(app: Flask) -> None:
    with db_session(app) as session:
        preferences = session.get(Preferences, HARBOUR_ACCOUNT) or Preferences(account_id=HARBOUR_ACCOUNT)
        preferences.invoice_status, preferences.sales_account_code = "AUTHORISED", "200"
        preferences.read_paid_status = True
        session.add(preferences)
        session.commit()


def push(client: FlaskClient, app: Flask, *invoice_ids: str) -> None:
    for invoice_id in invoice_ids:
        response = client.post(f"{SETTINGS}invoices/{invoice_id}/flag", headers=HTMX,
                               data={"csrf_token": csrf_token(client)})
        assert response.status_code == 200
    sync_now(client)
    work_queue(app)


def xero_id(app: Flask, invoice_id: str) -> str:
    with db_session(app) as session:
        flag = session.scalar(select(InvoiceFlag).where(InvoiceFlag.invoice_id == invoice_id))
        assert flag is not None and flag.xero_invoice_id
        return flag.xero_invoice_id


def banners(client: FlaskClient, path: str = "/invoices") -> list[str]:
    html = client.get(path).get_data(as_text=True)
    return [" ".join(re.sub(r"<[^>]+>", "", text).split())
            for text in re.findall(r'<div class="banner banner-\w+"[^>]*>\s*<p[^>]*>(.*?)</p>', html, re.S)]


def test_paid_in_xero_shows_in_the_menu_and_the_host(connected: Any, app: Flask, harbour_client: FlaskClient) -> None:
    read_paid_status(app)
    push(harbour_client, app, HFS_1001)
    connected.sandbox.control.add_payment(connected.tenant_id, xero_id(app, HFS_1001), date="2025-12-03")

    with heard(app, "invoice_paid") as received:
        sync_now(harbour_client)
        work_queue(app)

    [paid] = received["invoice_paid"]
    assert paid["account_id"] == HARBOUR_ACCOUNT and paid["status"].invoice_id == HFS_1001
    invoice_page = harbour_client.get(f"/invoices/{HFS_1001}").get_data(as_text=True)
    assert "Paid in Xero on 3 Dec 2025." in invoice_page
    assert "Push changes to Xero" not in invoice_page  # Xero keeps a paid invoice as it is
    assert '<span class="badge badge-paid">Paid 3 Dec 2025</span>' in invoice_page  # mark_invoices_paid
    with app.app_context():
        row = models.db.session.get(models.Invoice, int(HFS_1001))
        assert row is not None and row.xero_status == "PAID" and row.amount_paid and row.amount_paid >= row.total
    assert "Invoice HFS-1001 was paid in Xero on 3 Dec 2025. Open the invoice" in banners(harbour_client)


def test_part_paid_and_voided_are_shown_too(connected: Any, app: Flask, harbour_client: FlaskClient) -> None:
    read_paid_status(app)
    push(harbour_client, app, HFS_1001, "2")
    control = connected.sandbox.control
    control.add_payment(connected.tenant_id, xero_id(app, HFS_1001), amount="50")
    control.void_invoice(connected.tenant_id, xero_id(app, "2"))
    sync_now(harbour_client)
    work_queue(app)
    assert re.search(r"Part paid in Xero: 50\.00 paid, [\d.]+ due\.", harbour_client.get(f"/invoices/{HFS_1001}").get_data(as_text=True))
    assert "Voided in Xero." in harbour_client.get("/invoices/2").get_data(as_text=True)
    assert not [text for text in banners(harbour_client) if "was paid" in text]  # only full payments


def test_a_run_with_problems_raises_a_banner_until_a_clean_run(connected: Any, app: Flask,
                                                                harbour_client: FlaskClient) -> None:
    with heard(app, "sync_problems") as received:
        push(harbour_client, app, HFS_1003)
    [problems] = received["sync_problems"]
    assert problems["problems"] == 1
    [banner] = banners(harbour_client)
    assert banner == "The Xero sync finished, but 1 record needs you. See the sync"

    with db_session(app) as session:
        session.query(InvoiceFlag).filter_by(invoice_id=HFS_1003).delete()
        session.commit()
    sync_now(harbour_client)
    work_queue(app)
    assert banners(harbour_client) == []


def test_a_failed_run_and_a_reconnect_raise_banners(connected: Any, app: Flask, harbour_client: FlaskClient) -> None:
    sync_now(harbour_client)  # queued; then the owner removes the app in Xero before it runs
    connected.sandbox.control.revoke_connection(tenant_id=connected.tenant_id)
    with heard(app, "sync_failed", "reconnect_needed") as received:
        work_queue(app)
    assert len(received["sync_failed"]) == len(received["reconnect_needed"]) == 1
    shown = banners(harbour_client)
    assert any(text.startswith("The Xero sync stopped: Xero needs you to reconnect") for text in shown)
    assert any(text.startswith("Xero needs you to reconnect:") and text.endswith("Accounting Sync") for text in shown)

    html = harbour_client.get("/invoices").get_data(as_text=True)
    notice_id = re.search(r'action="/notices/(\d+)/dismiss"', html)
    assert notice_id
    dismissed = harbour_client.post(f"/notices/{notice_id.group(1)}/dismiss",
                                    data={"csrf_token": csrf_token(harbour_client, "/invoices"), "next": "/clients"})
    assert dismissed.status_code == 302 and dismissed.headers["Location"] == "/clients"
    assert len(banners(harbour_client)) == len(shown) - 1


def test_banners_belong_to_their_business(connected: Any, app: Flask, harbour_client: FlaskClient,
                                          basic_client: FlaskClient) -> None:
    push(harbour_client, app, HFS_1003)
    assert banners(harbour_client) and banners(basic_client) == []
    html = harbour_client.get("/invoices").get_data(as_text=True)
    notice_id = re.search(r'action="/notices/(\d+)/dismiss"', html)
    assert notice_id
    refused = basic_client.post(f"/notices/{notice_id.group(1)}/dismiss",
                                data={"csrf_token": csrf_token(basic_client, "/invoices")})
    assert refused.status_code == 404


def test_the_plan_gate_links_to_the_upgrade_page(app: Flask, basic_client: FlaskClient) -> None:
    page = basic_client.get(SETTINGS)
    assert "Xero sync is not included in your plan" in page.get_data(as_text=True)
    assert '<a class="xerosync-button" href="/upgrade">See the plans</a>' in page.get_data(as_text=True)
    assert "Accounting Sync with Xero" in basic_client.get("/upgrade").get_data(as_text=True)
