"""Push now (issue 11, part 2): Push To Xero pushes the invoice at once in a small run, with its client
and items first; while another run is going the invoice is flagged for it instead; a selection of
the invoice list is pushed the same way. Everything through the pages, a real RQ worker and the
sandbox."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from rq.job import Job
from sqlalchemy import select

from example_app.models import Business, Client, Invoice, InvoiceLine
from flask_xerosync.models import Connection, InvoiceFlag, InvoiceState, Outcome, Run, RunKind, RunStatus
from flask_xerosync.state import current_state

from .conftest import (
    BASIC_LOGIN,
    HARBOUR_ACCOUNT,
    HTMX,
    OrgSetup,
    connect_account,
    csrf_token,
    db_session,
    login,
    records_of,
    sync_now,
    work_queue,
)

INVOICE_PAGE = "/invoices/{}"
INVOICES_PAGE = "/invoices"
PUSH = "/settings/accounting-sync/invoices/{}/push"
ACTION = "/settings/accounting-sync/invoices/{}/action"
BULK = "/settings/accounting-sync/invoices/push"


@pytest.fixture
def fresh(app: Flask, harbour_client: FlaskClient, sandbox_org: OrgSetup) -> OrgSetup:
    """Harbour connected to an organisation it never synced nor previewed."""
    connect_account(harbour_client, sandbox_org)
    return sandbox_org


def flag_of(app: Flask, invoice_id: str) -> InvoiceFlag | None:
    with db_session(app) as session:
        row = session.scalar(select(InvoiceFlag).where(InvoiceFlag.account_id == HARBOUR_ACCOUNT,
                                                       InvoiceFlag.invoice_id == invoice_id))
        if row is not None:
            session.expunge(row)
        return row


def runs_of(app: Flask, kind: str | None = None) -> list[Run]:
    with db_session(app) as session:
        query = select(Run).where(Run.account_id == HARBOUR_ACCOUNT).order_by(Run.created_at)
        if kind is not None:
            query = query.where(Run.kind == kind)
        rows = list(session.scalars(query))
        session.expunge_all()
        return rows


def push(client: FlaskClient, invoice_id: str, htmx: bool = True) -> str:
    token = csrf_token(client, INVOICE_PAGE.format(invoice_id))
    response = client.post(PUSH.format(invoice_id), data={"csrf_token": token, "next": f"/invoices/{invoice_id}"},
                           headers=HTMX if htmx else {})
    assert response.status_code == (200 if htmx else 302), response.get_data(as_text=True)
    return response.get_data(as_text=True)


def menu(client: FlaskClient, invoice_id: str) -> str:
    """The invoice action as the menu's poll fetches it."""
    response = client.get(ACTION.format(invoice_id) + f"?next=/invoices/{invoice_id}", headers=HTMX)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def bulk(client: FlaskClient, ids: list[str], *, htmx: bool = True, token: str | None = None):  # type: ignore[no-untyped-def]
    data: dict[str, object] = {"invoice_id": ids, "next": INVOICES_PAGE}
    data["csrf_token"] = csrf_token(client, INVOICES_PAGE) if token is None else token
    return client.post(BULK, data=data, headers=HTMX if htmx else {})


def test_push_to_xero_pushes_the_invoice_its_client_and_items_at_once(fresh, app, harbour_client):
    """A never-synced organisation is fine: the push run needs no preview."""
    html = push(harbour_client, "1")
    assert 'data-state="pushing"' in html and "Pushing to Xero…" in html
    assert 'hx-get="/settings/accounting-sync/invoices/1/action?next=/invoices/1"' in html
    assert 'hx-trigger="load delay:1s"' in html
    [run] = runs_of(app)
    assert run.kind == RunKind.PUSH and run.status == RunStatus.QUEUED

    work_queue(app)
    [run] = runs_of(app)
    assert run.status == RunStatus.DONE, run.error
    flag = flag_of(app, "1")
    assert flag is not None and flag.state == InvoiceState.PUSHED, (flag and flag.message)
    html = menu(harbour_client, "1")
    assert 'data-state="pushed"' in html and "In Xero: " in html and flag.xero_number in html
    assert "hx-get" not in html, "polling stops once the invoice is pushed"

    control, tenant = fresh.sandbox.control, fresh.tenant_id
    assert [contact["Name"] for contact in control.contacts(tenant)] == ["Bright Spark Electrical"]
    [xero_invoice] = control.invoices(tenant)
    assert xero_invoice["InvoiceNumber"] == "HFS-1001"
    assert sorted(line.get("ItemCode", "") for line in xero_invoice["LineItems"]) == sorted(
        item["Code"] for item in control.items(tenant)), "only the invoice's 3 items, each on its line"
    assert len(control.items(tenant)) == 3
    assert run.counts["invoices"][Outcome.CREATED] == 1 and run.counts["items"][Outcome.CREATED] == 3
    print(f"push of 1 invoice with a new client and 3 new items: {run.api_calls} Xero calls")
    assert run.api_calls <= 7


def test_while_a_sync_runs_the_invoice_is_flagged_for_it(connected, app, harbour_client):
    running = sync_now(harbour_client).get_data(as_text=True)
    assert "/runs/" in running
    html = push(harbour_client, "2")
    assert 'data-state="with_sync"' in html and "Will be pushed with the sync that is running" in html
    assert 'hx-get="/settings/accounting-sync/invoices/2/action' in html, "the menu polls until the sync pushed it"
    assert [run.kind for run in runs_of(app) if run.status in RunStatus.ACTIVE] == [RunKind.SYNC], \
        "no second run beside the going one"
    assert flag_of(app, "2").state == InvoiceState.FLAGGED
    assert harbour_client.get(INVOICES_PAGE).get_data(as_text=True).count("To be pushed") == 1

    work_queue(app)
    assert flag_of(app, "2").state == InvoiceState.PUSHED
    html = menu(harbour_client, "2")
    assert 'data-state="pushed"' in html and "hx-get" not in html and "hx-post=\"/settings/accounting-sync/invoices/2/push\"" in html


def test_while_a_preview_runs_the_menu_pushes_once_it_ends(fresh, app, harbour_client):
    sync_now(harbour_client)  # the first Sync Now! of an organisation: a preview, which pushes nothing
    html = push(harbour_client, "2")
    assert 'data-state="after_run"' in html and "Will be pushed once the run that is going ends" in html
    assert 'hx-post="/settings/accounting-sync/invoices/2/push"' in html and 'hx-trigger="load delay:2s"' in html
    assert '"csrf_token": ' in html.replace("&#34;", '"')
    selected = bulk(harbour_client, ["4"]).get_data(as_text=True)
    assert "1 invoice will be pushed with the next sync: another run is going" in selected
    work_queue(app)
    assert flag_of(app, "2").state == InvoiceState.FLAGGED, "a preview writes nothing"

    again = push(harbour_client, "2")  # the menu's next try
    assert 'data-state="pushing"' in again
    work_queue(app)
    assert flag_of(app, "2").state == InvoiceState.PUSHED
    assert [run.kind for run in runs_of(app)] == [RunKind.PREVIEW, RunKind.PUSH]
    assert flag_of(app, "4").state == InvoiceState.FLAGGED, "a push run pushes only its own invoices"


def test_xero_refusal_is_shown_with_its_fix_and_push_again(fresh, app, harbour_client):
    push(harbour_client, "3")  # a line carries the old system's tax code GST15
    work_queue(app)
    flag = flag_of(app, "3")
    assert flag.state == InvoiceState.REJECTED and flag.fix
    html = menu(harbour_client, "3")
    assert 'data-state="rejected"' in html and "Xero rejected it: " in html and "GST15" in html
    assert "line 2" in flag.fix.lower() or "GST15" in flag.fix
    assert 'hx-post="/settings/accounting-sync/invoices/3/push"' in html and "Push again" in html
    assert "hx-get" not in html

    again = push(harbour_client, "3")
    assert 'data-state="pushing"' in again
    assert [run.kind for run in runs_of(app)] == [RunKind.PUSH, RunKind.PUSH]


def test_an_ambiguous_client_is_not_guessed_the_invoice_waits(fresh, app, harbour_client):
    fresh.sandbox.control.seed_contacts(fresh.tenant_id, [
        {"Name": "Bright Spark Electrical", "EmailAddress": "accounts@brightspark.example"},
        {"Name": "Bright Spark Electrical Ltd", "EmailAddress": "accounts@brightspark.example"},
    ])
    push(harbour_client, "1")
    work_queue(app)
    [run] = runs_of(app)
    assert run.status == RunStatus.DONE, run.error
    assert not fresh.sandbox.control.invoices(fresh.tenant_id)
    assert len(fresh.sandbox.control.contacts(fresh.tenant_id)) == 2, "no third contact was created"
    flag = flag_of(app, "1")
    assert flag.state == InvoiceState.FLAGGED
    outcomes = {(record.stage, record.outcome) for record in records_of(app, run.id)}
    assert ("clients", Outcome.NEEDS_REVIEW) in outcomes and ("invoices", Outcome.SKIPPED) in outcomes
    html = menu(harbour_client, "1")
    assert 'data-state="waiting"' in html and "Waiting for your decision about its client" in html
    assert f'href="/settings/accounting-sync/runs/{run.id}?filter=needs_review"' in html
    assert "hx-get" not in html

    # the owner links the client to the first contact in the review, then pushes again
    [review] = [r for r in records_of(app, run.id) if r.outcome == Outcome.NEEDS_REVIEW]
    chosen = next(c for c in fresh.sandbox.control.contacts(fresh.tenant_id) if c["Name"] == "Bright Spark Electrical")
    run_page = f"/settings/accounting-sync/runs/{run.id}"
    decided = harbour_client.post(f"{run_page}/records/{review.id}/decide", data={
        "csrf_token": csrf_token(harbour_client, run_page), "decision": f"link:{chosen['ContactID']}"})
    assert decided.status_code in (302, 303)
    push(harbour_client, "1")
    work_queue(app)
    assert flag_of(app, "1").state == InvoiceState.PUSHED
    [pushed] = fresh.sandbox.control.invoices(fresh.tenant_id)
    assert pushed["Contact"]["ContactID"] == chosen["ContactID"]


def test_a_push_runs_progress_says_pushing(fresh, app, harbour_client):
    push(harbour_client, "1")
    [run] = runs_of(app)
    with app.app_context():
        job = Job.fetch(run.job_id, connection=current_state().redis)
        job.meta.update({"stages": ["connect", "items", "invoices"], "stage": "items", "done": 1, "total": 3,
                         "counts": {}, "api_calls": 3})
        job.save_meta()
    html = harbour_client.get(f"/settings/accounting-sync/runs/{run.id}/progress", headers=HTMX).get_data(as_text=True)
    assert "Pushing, step 2 of 3: Services &amp; Products (1 of 3 services &amp; products)" in html
    assert "Syncing" not in html


def test_bulk_push_from_the_invoice_list(fresh, app, harbour_client):
    page = harbour_client.get(INVOICES_PAGE).get_data(as_text=True)
    assert 'id="xerosync-bulk-push"' in page and "Push selected to Xero" in page
    assert len(re.findall(r'form="xerosync-bulk-push" name="invoice_id"', page)) == 4

    response = bulk(harbour_client, ["1", "2", "4"])
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Pushing 3 invoices to Xero…" in html and 'id="xerosync-bulk-push"' in html
    [run] = runs_of(app)
    assert run.kind == RunKind.PUSH
    work_queue(app)
    [run] = runs_of(app)
    assert run.status == RunStatus.DONE, run.error
    assert all(flag_of(app, invoice_id).state == InvoiceState.PUSHED for invoice_id in ("1", "2", "4"))
    assert flag_of(app, "3") is None
    assert sorted(i["InvoiceNumber"] for i in fresh.sandbox.control.invoices(fresh.tenant_id)) == [
        "HFS-1001", "HFS-1002", "HFS-1004"]
    listed = harbour_client.get(INVOICES_PAGE).get_data(as_text=True)
    for number in ("HFS-1001", "HFS-1002", "HFS-1004"):
        assert f"In Xero: {number} (draft)" in listed
    assert "HFS-1003 (" not in listed


def test_bulk_push_without_javascript_redirects_back(fresh, app, harbour_client):
    response = bulk(harbour_client, ["2"], htmx=False)
    assert response.status_code == 303 and response.headers["Location"] == INVOICES_PAGE
    assert "1 invoice" in harbour_client.get(INVOICES_PAGE).get_data(as_text=True)
    assert flag_of(app, "2").state == InvoiceState.FLAGGED


def basic_invoice(app: Flask) -> str:
    with db_session(app) as session:
        client = session.query(Client).filter_by(business_id=2).first()
        invoice = Invoice(business_id=2, number="BPC-1", client_id=client.id, issue_date=date.today(), due_date=None)
        invoice.lines = [InvoiceLine(description="Leak fixed", quantity=Decimal("1"), unit_price=Decimal("80"))]
        session.add(invoice)
        session.get(Business, 2).plan = "pro"
        session.commit()
        return str(invoice.id)


def test_bulk_push_refuses_a_foreign_invoice_a_missing_token_and_too_many(fresh, app, harbour_client):
    foreign = basic_invoice(app)
    assert bulk(harbour_client, ["1", foreign]).status_code == 404
    assert bulk(harbour_client, ["1", "999999"]).status_code == 404
    assert bulk(harbour_client, ["1"], token="").status_code == 400
    assert bulk(harbour_client, ["1"], token="forged").status_code == 400
    too_many = bulk(harbour_client, [str(n) for n in range(1, 102)])
    assert too_many.status_code == 200 and "Choose between 1 and 100 invoices" in too_many.get_data(as_text=True)
    nothing = bulk(harbour_client, [])
    assert "Choose between 1 and 100 invoices" in nothing.get_data(as_text=True)
    assert runs_of(app) == [] and all(flag_of(app, i) is None for i in ("1", foreign))


def test_the_bulk_form_is_not_offered_without_the_plan(app):
    other = app.test_client()
    login(other, *BASIC_LOGIN)
    page = other.get(INVOICES_PAGE).get_data(as_text=True)
    assert "xerosync-bulk-push" not in page and 'type="checkbox"' not in page


def test_push_and_its_poll_refuse_a_foreign_invoice_and_a_missing_token(fresh, app, harbour_client):
    foreign = basic_invoice(app)
    token = csrf_token(harbour_client, INVOICE_PAGE.format("1"))
    assert harbour_client.post(PUSH.format(foreign), data={"csrf_token": token}, headers=HTMX).status_code == 404
    assert harbour_client.get(ACTION.format(foreign), headers=HTMX).status_code == 404
    assert harbour_client.post(PUSH.format("1"), data={}, headers=HTMX).status_code == 400
    assert runs_of(app) == [] and flag_of(app, "1") is None


def test_a_push_run_s_summary_lists_only_what_it_had_to_do(fresh, app, harbour_client):
    push(harbour_client, "1")
    work_queue(app)
    push(harbour_client, "1")  # again: its client and items are in Xero already
    work_queue(app)
    _, again = runs_of(app, RunKind.PUSH)
    assert again.status == RunStatus.DONE, again.error
    summary = harbour_client.get("/settings/accounting-sync/").get_data(as_text=True)
    assert "<strong>Invoices:</strong>" in summary
    assert "<strong>Services &amp; Products:</strong>" not in summary
