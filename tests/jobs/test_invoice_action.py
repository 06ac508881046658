"""Push To Xero: the partial in each state, via htmx and via plain form posts, and its guards."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from flask import Flask
from sqlalchemy import select

from example_app.models import Business, Client, Invoice, InvoiceLine
from flask_xerosync.models import Connection, InvoiceFlag, InvoiceState, RunStatus

from .conftest import BASIC_LOGIN, HTMX, csrf_token, db_session, login, run_id_in, run_row, sync_now, work_queue

INVOICE_PAGE = "/invoices/{}"
FLAG = "/settings/accounting-sync/invoices/{}/flag"
UNFLAG = "/settings/accounting-sync/invoices/{}/unflag"


def flag_row(app: Flask, invoice_id: str, account_id: str = "1") -> InvoiceFlag | None:
    with db_session(app) as session:
        row = session.query(InvoiceFlag).filter_by(account_id=account_id, invoice_id=invoice_id).one_or_none()
        if row is not None:
            session.expunge(row)
        return row


def action_html(client, invoice_id: str) -> str:  # type: ignore[no-untyped-def]
    page = client.get(INVOICE_PAGE.format(invoice_id)).get_data(as_text=True)
    match = re.search(r'<div class="xerosync-invoice-action".*?</div>', page, re.S)
    return match.group(0) if match else ""


def post(client, url: str, invoice_id: str, htmx: bool, next_url: str | None = None):  # type: ignore[no-untyped-def]
    data = {"csrf_token": csrf_token(client, INVOICE_PAGE.format(invoice_id))}
    if next_url is not None:
        data["next"] = next_url
    return client.post(url.format(invoice_id), data=data, headers=HTMX if htmx else {})


def test_not_connected_shows_a_hint(app, harbour_client):
    html = action_html(harbour_client, "1")
    assert 'data-state="unavailable"' in html and "Connect to Xero" in html


def basic_invoice(app: Flask) -> str:
    """An invoice of the Basic Plumbing business (account 2)."""
    with db_session(app) as session:
        client = session.query(Client).filter_by(business_id=2).first()
        invoice = Invoice(business_id=2, number="BPC-1", client_id=client.id, issue_date=date.today(), due_date=None)
        invoice.lines = [InvoiceLine(description="Leak fixed", quantity=Decimal("1"), unit_price=Decimal("80"))]
        session.add(invoice)
        session.commit()
        return str(invoice.id)


def test_plan_without_xero_shows_nothing(app):
    invoice_id = basic_invoice(app)
    other = app.test_client()
    login(other, *BASIC_LOGIN)
    page = other.get(INVOICE_PAGE.format(invoice_id))
    assert page.status_code == 200
    assert "xerosync-invoice-action" not in page.get_data(as_text=True)
    token = csrf_token(other, INVOICE_PAGE.format(invoice_id))
    assert other.post(FLAG.format(invoice_id), data={"csrf_token": token}).status_code == 403
    assert flag_row(app, invoice_id, "2") is None


def test_flag_and_unflag_with_htmx(connected, app, harbour_client):
    html = action_html(harbour_client, "1")
    assert 'data-state="none"' in html and "Push To Xero" in html
    assert 'hx-post="/settings/accounting-sync/invoices/1/push"' in html
    assert 'hx-target="closest .xerosync-invoice-action"' in html and 'hx-swap="outerHTML"' in html
    assert 'name="next" value="/invoices/1"' in html

    flagged = post(harbour_client, FLAG, "1", htmx=True, next_url="/invoices/1")
    assert flagged.status_code == 200
    body = flagged.get_data(as_text=True)
    assert body.lstrip().startswith('<div class="xerosync-invoice-action"')
    assert "Will be pushed to Xero at the next sync." in body and "Don&#39;t push it" in body
    assert flag_row(app, "1").state == InvoiceState.FLAGGED

    unflagged = post(harbour_client, UNFLAG, "1", htmx=True, next_url="/invoices/1").get_data(as_text=True)
    assert 'data-state="none"' in unflagged
    assert flag_row(app, "1") is None


def test_plain_posts_redirect_back_to_a_safe_next(connected, app, harbour_client):
    response = post(harbour_client, FLAG, "2", htmx=False, next_url="/invoices/2")
    assert response.status_code == 302 and response.headers["Location"] == "/invoices/2"
    assert "Will be pushed to Xero" in action_html(harbour_client, "2")
    for unsafe in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = post(harbour_client, UNFLAG, "2", htmx=False, next_url=unsafe)
        assert response.status_code == 302
        assert response.headers["Location"].endswith("/settings/accounting-sync/")
        post(harbour_client, FLAG, "2", htmx=False)


def test_pushed_and_rejected_states_after_a_real_sync(connected, app, harbour_client):
    post(harbour_client, FLAG, "1", htmx=True)
    post(harbour_client, FLAG, "3", htmx=True)
    run_id = run_id_in(sync_now(harbour_client).get_data(as_text=True))
    work_queue(app)
    assert run_row(app, run_id).status == RunStatus.DONE, run_row(app, run_id).error

    pushed = flag_row(app, "1")
    assert pushed.state == InvoiceState.PUSHED, (pushed.state, pushed.message)
    html = action_html(harbour_client, "1")
    assert f"In Xero: <a href=\"{pushed.xero_url}\" target=\"_blank\" rel=\"noopener\">{pushed.xero_number}</a>" in html
    assert "Push changes to Xero" in html

    rejected = flag_row(app, "3")
    assert rejected.state == InvoiceState.REJECTED, (rejected.state, rejected.message)
    html = action_html(harbour_client, "3")
    assert "Xero rejected it: " in html and "Push again" in html
    retried = post(harbour_client, FLAG, "3", htmx=True).get_data(as_text=True)
    assert "Will be pushed to Xero at the next sync." in retried
    assert post(harbour_client, UNFLAG, "3", htmx=True).status_code == 200
    assert flag_row(app, "3").state == InvoiceState.REJECTED


def test_xero_text_in_the_partial_is_escaped(connected, app, harbour_client):
    with db_session(app) as session:
        tenant_id = session.scalar(select(Connection.tenant_id).where(Connection.account_id == "1"))
        session.add(InvoiceFlag(account_id="1", tenant_id=tenant_id, invoice_id="4", state=InvoiceState.REJECTED,
                                message="<img src=x onerror=alert(1)>", fix="Fix <b>it</b>",
                                host_total=Decimal("1")))
        session.add(InvoiceFlag(account_id="1", tenant_id=tenant_id, invoice_id="2", state=InvoiceState.PUSHED,
                                xero_number="INV-9", xero_url="javascript:alert(1)"))
        session.commit()
    html = action_html(harbour_client, "4")
    assert "<img" not in html and "&lt;img src=x" in html and "Fix &lt;b&gt;it&lt;/b&gt;" in html
    html = action_html(harbour_client, "2")
    assert "javascript:" not in html and "INV-9" in html


def test_an_invoice_of_another_account_is_refused(connected, app, harbour_client):
    foreign = basic_invoice(app)
    with db_session(app) as session:
        session.get(Business, 2).plan = "pro"
        session.commit()
    token = csrf_token(harbour_client, INVOICE_PAGE.format("1"))
    assert harbour_client.post(FLAG.format(foreign), data={"csrf_token": token}, headers=HTMX).status_code == 404
    assert harbour_client.post(FLAG.format("999999"), data={"csrf_token": token}).status_code == 404
    assert flag_row(app, foreign) is None and flag_row(app, foreign, "2") is None
    other = app.test_client()
    login(other, *BASIC_LOGIN)
    assert other.post(FLAG.format("1"), data={"csrf_token": csrf_token(other, "/clients")}).status_code == 404
    assert flag_row(app, "1") is None


def test_flag_without_csrf_is_refused(connected, app, harbour_client):
    assert harbour_client.post(FLAG.format("1"), data={}, headers=HTMX).status_code == 400
    assert harbour_client.post(UNFLAG.format("1"), data={"csrf_token": "forged"}).status_code == 400
    assert flag_row(app, "1") is None
