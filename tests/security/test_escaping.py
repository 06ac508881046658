"""Data from Xero is escaped like any user input: organisation names, contact and item names, account
and tax-rate names, invoice numbers, Xero's messages, on every page and fragment that shows them.
Each payload must appear only escaped (and ``{{7*7}}`` only as text, never evaluated)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from flask_xerosync.errors import ReconnectNeeded
from flask_xerosync.models import (
    Connection,
    InvoiceFlag,
    InvoiceState,
    OrgCache,
    Outcome,
    RecordResult,
    Run,
    RunStatus,
    utcnow,
)
from flask_xerosync.state import current_state

from .conftest import (
    HARBOUR_ACCOUNT,
    SETTINGS,
    OrgSetup,
    consent,
    session_token,
    start_flow,
)

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror=alert(1)>'
TEMPLATE = "{{7*7}}"
PAYLOAD = f"Evil {SCRIPT} {ATTRIBUTE} {TEMPLATE}"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"
ESCAPED_ATTRIBUTE = "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"
HTMX = {"HX-Request": "true"}


def assert_only_escaped(html: str, where: str, expect_payload: bool = True) -> None:
    assert SCRIPT not in html, f"raw <script> payload on {where}"
    assert ATTRIBUTE not in html, f"raw attribute-breaking payload on {where}"
    assert not re.search(r"<img\b", html), f"an <img> tag was injected on {where}"
    assert "alert(1)</script>" not in html
    if expect_payload:
        assert ESCAPED_SCRIPT in html, f"the payload is not shown (escaped) on {where}"
        assert ESCAPED_ATTRIBUTE in html, f"the attribute payload is not shown (escaped) on {where}"
        assert TEMPLATE in html, f"{{{{7*7}}}} is not shown as text on {where}"


def connect_to(client: FlaskClient, org: OrgSetup, tenant_ids: list[str]) -> str:
    authorize_url = start_flow(client)
    if len(tenant_ids) > 1:
        org.sandbox.control.set_consent(org.client_id, tenant_ids=tenant_ids)
    callback = consent(org, authorize_url) if len(tenant_ids) > 1 else _consent_to(org, authorize_url, tenant_ids)
    response = client.get(callback)
    assert response.status_code == 302
    return response.headers["Location"]


def _consent_to(org: OrgSetup, authorize_url: str, tenant_ids: list[str]) -> str:
    from urllib.parse import urlsplit

    callback = urlsplit(str(org.sandbox.control.authorize(authorize_url, tenant_ids=tenant_ids)))
    return f"{callback.path}?{callback.query}"


def evil_org(org: OrgSetup, suffix: str = "") -> str:
    return str(org.sandbox.control.create_org(name=PAYLOAD + suffix, country="NZ", users=[org.user_id]))


@pytest.fixture
def evil_connected(app: Flask, harbour_client: FlaskClient, sandbox_org: OrgSetup) -> str:
    """Account 1 connected to an organisation whose name is the payload; returns its tenant id."""
    tenant_id = evil_org(sandbox_org)
    connect_to(harbour_client, sandbox_org, [tenant_id])
    return tenant_id


def test_organisation_name_on_the_settings_page_and_notice(
    app: Flask, harbour_client: FlaskClient, evil_connected: str
) -> None:
    html = harbour_client.get(SETTINGS).get_data(as_text=True)  # with the "Connected to …" notice

    assert_only_escaped(html, "settings")
    assert "Connected to Evil" in html
    assert_only_escaped(harbour_client.get(SETTINGS + "disconnect").get_data(as_text=True), "confirm disconnect")


def test_choose_organisation_page(app: Flask, harbour_client: FlaskClient, sandbox_org: OrgSetup) -> None:
    tenants = [evil_org(sandbox_org, " one"), evil_org(sandbox_org, " two")]

    assert connect_to(harbour_client, sandbox_org, tenants).endswith("/choose")
    page = harbour_client.get(SETTINGS + "choose")
    refused = harbour_client.post(SETTINGS + "choose", data={"csrf_token": session_token(harbour_client),
                                                             "tenant_id": ATTRIBUTE})

    assert page.status_code == 200
    assert_only_escaped(page.get_data(as_text=True), "choose organisation")
    assert refused.status_code == 422
    assert_only_escaped(refused.get_data(as_text=True), "choose organisation, refused")


def test_account_and_tax_rate_names_in_the_preferences(
    app: Flask, harbour_client: FlaskClient, evil_connected: str
) -> None:
    code, tax_type = '"><i>', '"><u>'  # Xero codes are short (an account code is at most 10 characters)
    with app.app_context():
        session = current_state().db.session
        for row in session.scalars(select(OrgCache).where(OrgCache.tenant_id == evil_connected)):
            session.delete(row)
        session.add_all([
            OrgCache(tenant_id=evil_connected, kind="accounts", fetched_at=utcnow(), payload=[
                {"Code": code, "Name": PAYLOAD, "Class": "REVENUE", "Status": "ACTIVE", "Type": "REVENUE"},
            ]),
            OrgCache(tenant_id=evil_connected, kind="tax_rates", fetched_at=utcnow(), payload=[
                {"TaxType": tax_type, "Name": PAYLOAD, "Status": "ACTIVE", "DisplayTaxRate": TEMPLATE},
            ]),
        ])
        session.commit()

    page = harbour_client.get(SETTINGS).get_data(as_text=True)
    fragment = harbour_client.post(SETTINGS + "preferences", headers=HTMX, data={
        "csrf_token": session_token(harbour_client), "invoice_status": "AUTHORISED",
        "sales_account_code": code, "tax_type": tax_type, "conflict_policy": "xero_wins",
        "contact_filter": "all",
    }).get_data(as_text=True)

    for where, html in (("settings preferences", page), ("preferences fragment", fragment)):
        assert_only_escaped(html, where)
        assert code not in html and tax_type not in html, where
        assert 'value="&#34;&gt;&lt;i&gt;"' in html, where
    assert "Preferences saved." in fragment


def test_reconnect_reason_with_the_organisation_name(
    app: Flask, harbour_client: FlaskClient, evil_connected: str, sandbox_org: OrgSetup
) -> None:
    sandbox_org.sandbox.control.revoke_connection(tenant_id=evil_connected)
    with app.app_context():
        state = current_state()
        connection = state.db.session.scalar(select(Connection).where(Connection.account_id == HARBOUR_ACCOUNT))
        session = state.xero_session(connection)
        with pytest.raises(ReconnectNeeded):
            session.get(f"{state.config.accounting_url}/Organisation", headers={"xero-tenant-id": evil_connected})

    html = harbour_client.get(SETTINGS).get_data(as_text=True)

    assert "Reconnect to Xero" in html
    assert_only_escaped(html, "settings, reconnect needed")


def evil_contacts_and_items(org: OrgSetup, tenant_id: str) -> None:
    org.sandbox.control.seed_contacts(tenant_id, [
        {"Name": PAYLOAD, "EmailAddress": "evil@contacts.example", "IsCustomer": True},
        {"Name": f"{TEMPLATE} Ltd", "FirstName": SCRIPT, "LastName": ATTRIBUTE, "IsCustomer": True},
    ])
    org.sandbox.control.seed_items(tenant_id, [
        {"Code": "EVIL-1", "Name": PAYLOAD[:50], "Description": PAYLOAD, "IsSold": True,
         "SalesDetails": {"UnitPrice": 10}},
    ])


def test_run_page_fragments_and_history_after_a_real_sync(
    app: Flask, harbour_client: FlaskClient, evil_connected: str, sandbox_org: OrgSetup,
    work: Callable[[], None],
) -> None:
    evil_contacts_and_items(sandbox_org, evil_connected)
    started = harbour_client.post(SETTINGS + "sync", headers=HTMX, data={"csrf_token": session_token(harbour_client)})
    run_id = re.search(r"/runs/([0-9a-f]{32})", started.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    work()
    with app.app_context():
        run = current_state().db.session.get(Run, run_id)
        assert run is not None and run.status == RunStatus.DONE, run and run.error

    pages = {
        "run page": harbour_client.get(f"{SETTINGS}runs/{run_id}").get_data(as_text=True),
        "progress fragment": harbour_client.get(f"{SETTINGS}runs/{run_id}/progress").get_data(as_text=True),
        "settings with history": harbour_client.get(SETTINGS).get_data(as_text=True),
    }
    assert ESCAPED_SCRIPT in pages["run page"], "the synced contacts are listed in the record log"
    for where, html in pages.items():
        assert_only_escaped(html, where, expect_payload=where == "run page")


def test_record_log_with_xero_messages_fixes_and_candidates(
    app: Flask, harbour_client: FlaskClient, evil_connected: str
) -> None:
    with app.app_context():
        session = current_state().db.session
        run = Run(account_id=HARBOUR_ACCOUNT, tenant_id=evil_connected, status=RunStatus.FAILED, counts={
            "clients": {"failed": 1, "needs_review": 1}}, error=f"Xero needs you to reconnect: {PAYLOAD}",
            finished_at=utcnow())
        session.add(run)
        session.flush()
        session.add_all([
            RecordResult(run_id=run.id, stage="clients", direction="to_xero", outcome=Outcome.FAILED,
                         label=PAYLOAD, host_id="3", message=f"The contact name {PAYLOAD} is already assigned.",
                         fix=PAYLOAD),
            RecordResult(run_id=run.id, stage="clients", direction="to_xero", outcome=Outcome.NEEDS_REVIEW,
                         label=PAYLOAD, host_id="4", details={"candidates": [
                             {"xero_id": ATTRIBUTE, "name": PAYLOAD, "email": SCRIPT}]}),
        ])
        session.commit()
        run_id = run.id

    for query in ("", "?filter=failed", "?filter=needs_review"):
        assert_only_escaped(harbour_client.get(f"{SETTINGS}runs/{run_id}{query}").get_data(as_text=True),
                            f"run page {query}")
    assert_only_escaped(harbour_client.get(f"{SETTINGS}runs/{run_id}/progress").get_data(as_text=True),
                        "summary fragment")
    assert_only_escaped(harbour_client.get(SETTINGS).get_data(as_text=True), "settings sync panel")


@pytest.mark.parametrize("state", [InvoiceState.REJECTED, InvoiceState.PUSHED])
def test_invoice_partial_with_xero_numbers_and_messages(
    app: Flask, harbour_client: FlaskClient, evil_connected: str, state: str
) -> None:
    from example_app.models import Invoice

    with app.app_context():
        session = current_state().db.session
        invoice_id = str(session.scalar(select(Invoice.id).where(Invoice.business_id == 1).order_by(Invoice.id)))
        tenant_id = session.scalar(select(Connection.tenant_id).where(Connection.account_id == HARBOUR_ACCOUNT))
        session.add(InvoiceFlag(account_id=HARBOUR_ACCOUNT, tenant_id=tenant_id, invoice_id=invoice_id, state=state,
                                xero_invoice_id="x-1" if state == InvoiceState.PUSHED else None,
                                xero_number=PAYLOAD, xero_status="AUTHORISED", xero_url="javascript:alert(1)",
                                message=PAYLOAD, fix=PAYLOAD))
        session.commit()

    page = harbour_client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    partial = re.search(r'<div class="xerosync-invoice-action".*?</div>', page, re.DOTALL)
    answered = harbour_client.post(f"{SETTINGS}invoices/{invoice_id}/unflag", headers=HTMX,
                                   data={"csrf_token": session_token(harbour_client)}).get_data(as_text=True)

    assert partial is not None
    assert_only_escaped(partial.group(0), f"invoice partial ({state})")
    assert_only_escaped(answered, f"invoice partial answer ({state})")
    assert "javascript:" not in partial.group(0)


@pytest.fixture
def work(app: Flask) -> Callable[[], None]:
    def run_queued_jobs() -> None:
        from rq import Queue, SimpleWorker

        with app.app_context():
            state = current_state()
            SimpleWorker([Queue(state.config.queue_name, connection=state.redis)], connection=state.redis).work(burst=True)

    return run_queued_jobs
