"""The preferences form: the organisation's own lists, saving with and without htmx, errors next to
fields, nothing saved half-way, and Refresh lists."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from example_app import models, xerosync
from flask_xerosync.models import Connection, OrgCache, Preferences
from flask_xerosync.state import current_state

from .conftest import HARBOUR_ACCOUNT, SETTINGS, csrf_token, notices

VALID = {
    "sync_clients": "y",
    "sync_items": "y",
    "invoice_status": "AUTHORISED",
    "sales_account_code": "200",
    "tax_type": "OUTPUT2",
    "conflict_policy": "host_wins",
    "contact_filter": "customers",
}
HTMX = {"HX-Request": "true"}


def _options(html: str, name: str) -> list[str]:
    select_html = re.search(rf'<select name="{name}".*?</select>', html, re.S)
    assert select_html, name
    return re.findall(r'<option value="([^"]*)"', select_html.group(0))


def _saved(app: Flask) -> Preferences | None:
    with app.app_context():
        session = current_state().db.session
        preferences = session.get(Preferences, HARBOUR_ACCOUNT)
        if preferences is not None:
            session.expunge(preferences)
        return preferences


def test_lists_come_from_the_organisation(app: Flask, harbour_client: FlaskClient, connected: Connection, sandbox_org: Any) -> None:
    html = harbour_client.get(SETTINGS).get_data(as_text=True)

    accounts = _options(html, "sales_account_code")
    tax_types = _options(html, "tax_type")
    assert accounts[0] == "" and "200" in accounts
    assert "400" not in accounts  # an expense account is not offered for sales
    assert "OUTPUT2" in tax_types and "INPUT2" not in tax_types  # only rates that apply to revenue
    with app.app_context():
        kinds = current_state().db.session.scalars(
            select(OrgCache.kind).where(OrgCache.tenant_id == sandbox_org.tenant_id)
        ).all()
    assert sorted(kinds) == ["accounts", "tax_rates"]
    calls_after_first_page = sandbox_org.sandbox.control.counters(sandbox_org.tenant_id)
    harbour_client.get(SETTINGS)
    assert sandbox_org.sandbox.control.counters(sandbox_org.tenant_id) == calls_after_first_page  # cached


def test_plain_post_saves_and_redirects(app: Flask, harbour_client: FlaskClient, connected: Connection) -> None:
    response = harbour_client.post(SETTINGS + "preferences", data={"csrf_token": csrf_token(harbour_client), **VALID})

    assert response.status_code == 302
    saved = _saved(app)
    assert saved is not None
    assert (saved.sync_clients, saved.sync_items, saved.sync_invoices) == (True, True, False)
    assert (saved.invoice_status, saved.sales_account_code, saved.tax_type) == ("AUTHORISED", "200", "OUTPUT2")
    assert (saved.conflict_policy, saved.contact_filter) == ("host_wins", "customers")
    assert saved.saved_at is not None
    page = harbour_client.get(SETTINGS).get_data(as_text=True)
    assert "Preferences saved." in notices(page)
    assert re.search(r'value="AUTHORISED"\s+checked', page)


def test_htmx_post_returns_the_form_fragment(app: Flask, harbour_client: FlaskClient, connected: Connection) -> None:
    response = harbour_client.post(
        SETTINGS + "preferences", data={"csrf_token": csrf_token(harbour_client), **VALID}, headers=HTMX
    )

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith("<form") and "<html" not in html
    assert "Preferences saved." in notices(html)
    assert _saved(app) is not None


def test_approved_invoices_need_account_and_tax(app: Flask, harbour_client: FlaskClient, connected: Connection) -> None:
    data = {**VALID, "sales_account_code": "", "tax_type": ""}

    response = harbour_client.post(SETTINGS + "preferences", data={"csrf_token": csrf_token(harbour_client), **data})

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Choose a sales account: Xero needs it for approved invoices." in html
    assert re.search(r'<select name="sales_account_code" id="sales_account_code" '
                     r'aria-describedby="xerosync-coding-hint sales_account_code-error" aria-invalid="true"', html)
    assert 'id="sales_account_code-error"' in html
    assert _saved(app) is None


def test_values_outside_the_organisations_lists_are_refused(app: Flask, harbour_client: FlaskClient, connected: Connection) -> None:
    data = {**VALID, "tax_type": "INPUT2", "invoice_status": "BOGUS"}

    response = harbour_client.post(
        SETTINGS + "preferences", data={"csrf_token": csrf_token(harbour_client), **data}, headers=HTMX
    )

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "not one of this organisation" in html
    assert 'name="invoice_status"' in html and 'aria-invalid="true"' in html
    assert _saved(app) is None


def test_draft_needs_no_coding(app: Flask, harbour_client: FlaskClient, connected: Connection) -> None:
    data = {"invoice_status": "DRAFT", "conflict_policy": "xero_wins", "contact_filter": "not_suppliers"}

    response = harbour_client.post(SETTINGS + "preferences", data={"csrf_token": csrf_token(harbour_client), **data})

    assert response.status_code == 302
    saved = _saved(app)
    assert saved is not None and (saved.sync_clients, saved.sales_account_code) == (False, "")


def test_refresh_lists_reads_xero_again(app: Flask, harbour_client: FlaskClient, connected: Connection, sandbox_org: Any) -> None:
    harbour_client.get(SETTINGS)
    with app.app_context():
        before = current_state().db.session.scalars(select(OrgCache.fetched_at)).all()

    response = harbour_client.post(SETTINGS + "lists/refresh", data={"csrf_token": csrf_token(harbour_client)}, headers=HTMX)

    assert response.status_code == 200
    assert "OUTPUT2" in _options(response.get_data(as_text=True), "tax_type")
    with app.app_context():
        after = current_state().db.session.scalars(select(OrgCache.fetched_at)).all()
    assert min(after) > max(before)
    plain = harbour_client.post(SETTINGS + "lists/refresh", data={"csrf_token": csrf_token(harbour_client)})
    assert plain.status_code == 302


def test_preferences_need_a_connection(app: Flask, harbour_client: FlaskClient) -> None:
    page = harbour_client.get(SETTINGS).get_data(as_text=True)
    assert "What to sync" not in page

    response = harbour_client.post(SETTINGS + "preferences", data={"csrf_token": csrf_token(harbour_client), **VALID})

    assert response.status_code == 302
    assert _saved(app) is None


def test_xero_data_is_escaped(app: Flask, harbour_client: FlaskClient, connected: Connection) -> None:
    with app.app_context():
        db = current_state().db
        connection = db.session.get(Connection, connected.id)
        assert connection is not None
        connection.tenant_name = '<script>alert("x")</script>'
        db.session.commit()

    html = harbour_client.get(SETTINGS).get_data(as_text=True)

    assert '<script>alert("x")</script>' not in html
    assert "&lt;script&gt;" in html


def test_tax_rates_are_labelled_with_their_percentage(harbour_client: FlaskClient, connected: Connection) -> None:
    html = harbour_client.get(SETTINGS).get_data(as_text=True)

    assert re.search(r'<option value="OUTPUT2">[^<]*\(15%\)</option>', html)


def test_lost_access_while_reading_lists_is_explained(
    app: Flask, harbour_client: FlaskClient, connected: Connection, sandbox_org: Any
) -> None:
    token = csrf_token(harbour_client)  # the page reads and caches the lists
    sandbox_org.sandbox.control.revoke_connection(tenant_id=sandbox_org.tenant_id)

    response = harbour_client.post(SETTINGS + "lists/refresh", data={"csrf_token": token}, headers=HTMX)

    assert response.status_code == 200
    assert any("Reconnect to Xero" in notice for notice in notices(response.get_data(as_text=True)))
    with app.app_context():
        connection = current_state().db.session.get(Connection, connected.id)
        assert connection is not None and connection.status == "reconnect_needed"
    assert "Reconnect to Xero" in harbour_client.get(SETTINGS).get_data(as_text=True)


def test_a_get_of_the_settings_page_leaves_the_hosts_pending_changes_uncommitted(
    app: Flask, harbour_client: FlaskClient, connected: Connection
) -> None:
    """The page caches the organisation's lists on a GET; that write has a session of its own, so
    what the host left pending in ``db.session`` is neither flushed nor committed by the page."""
    with app.app_context():
        session = current_state().db.session
        assert session.scalars(select(OrgCache)).all() == []  # so the GET below writes the cache
    loader = xerosync.callbacks.account_loader

    def loader_that_leaves_a_change_pending() -> str | None:
        models.db.session.add(models.Client(business_id=int(HARBOUR_ACCOUNT), name="Pending, never committed"))
        return loader() if loader is not None else None

    xerosync.account_loader(loader_that_leaves_a_change_pending)
    try:
        page = harbour_client.get(SETTINGS)
    finally:
        xerosync.account_loader(loader)  # type: ignore[arg-type]

    assert page.status_code == 200 and 'name="sales_account_code"' in page.get_data(as_text=True)
    with app.app_context():
        session = current_state().db.session
        assert {row.kind for row in session.scalars(select(OrgCache))} == {"accounts", "tax_rates"}
        assert session.scalars(select(models.Client).filter_by(name="Pending, never committed")).all() == []
