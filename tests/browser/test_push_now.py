"""Push now (issue 11, part 2) in Chromium, at desktop width and on a 390 px phone, against the live
stack: Push To Xero in an invoice's actions menu pushes it at once (an organisation never synced
included) and the menu follows the push; while a sync runs the invoice goes with it; a selection of
the invoice list is pushed together.

The tests are the steps of one story on one module-scoped stack, in file order.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from journey import (
    HARBOUR_LOGIN,
    assert_accessible,
    authorise_on_consent,
    await_run_outcome,
    connection_heading,
    invoice_action,
    log_in,
    open_accounting_sync,
    open_actions_menu,
    open_invoice,
    save_screenshot,
    start_connect,
    sync_now,
)
from live_stack import LiveStack, await_condition
from playwright.sync_api import Browser, Page, expect
from sandbox_world import HARBOUR_ORG, sign_in_to_xero, slowed_down_xero, xero_invoices
from sqlalchemy import select
from test_automatic_and_phone import PHONE, fits_the_screen, on_screen

from flask_xerosync.models import InvoiceFlag

PUSH_TIMEOUT_MS = 90_000
RUN_TIMEOUT_S = 90
# Latency on each call to the organisation while a step must be watched (the push or the sync going).
WATCHABLE_LATENCY_MS = 1500


@pytest.fixture
def phone(chromium_browser: Browser, live_stack: LiveStack, browser_name: str) -> Iterator[Page]:
    """A phone-sized browser (390 x 844, touch), logged in as Harbour's owner (``browser_name`` keeps
    these tests with the ``page`` ones on the module's stack)."""
    context = chromium_browser.new_context(viewport=PHONE, base_url=live_stack.app_url, is_mobile=True,
                                           has_touch=True, device_scale_factor=2)
    page = context.new_page()
    log_in(page, *HARBOUR_LOGIN)
    yield page
    context.close()


def flag_state(live_stack: LiveStack, number: str) -> str:
    """The Push To Xero state of a demo invoice (by number), "" without a flag."""
    from example_app.models import Invoice, db

    with live_stack.app.app_context():
        invoice_id = db.session.scalar(select(Invoice.id).where(Invoice.number == number))
        state = db.session.scalar(select(InvoiceFlag.state).where(InvoiceFlag.invoice_id == str(invoice_id)))
        db.session.remove()
        return str(state or "")


def test_push_to_xero_pushes_at_once_without_a_first_sync(page: Page, live_stack: LiveStack) -> None:
    sign_in_to_xero(live_stack, "hana")
    log_in(page, *HARBOUR_LOGIN)
    open_accounting_sync(page)
    start_connect(page)
    authorise_on_consent(page, live_stack.orgs[HARBOUR_ORG].name)
    expect(connection_heading(page)).to_have_text("Connected to Xero")

    open_invoice(page, "HFS-1001")
    menu = open_actions_menu(page)
    with slowed_down_xero(live_stack, HARBOUR_ORG, WATCHABLE_LATENCY_MS):
        menu.get_by_role("button", name="Push To Xero").click()
        expect(invoice_action(page)).to_have_attribute("data-state", "pushing")
        expect(menu.get_by_role("status")).to_have_text("Pushing to Xero…")
        assert_accessible(page, "the invoice page (pushing, menu open)")
        save_screenshot(page, "invoice-pushing.png")
    expect(invoice_action(page)).to_have_attribute("data-state", "pushed", timeout=PUSH_TIMEOUT_MS)
    expect(menu).to_contain_text("In Xero: HFS-1001")
    expect(menu.get_by_role("button", name="Push changes to Xero")).to_be_visible()
    assert [invoice["InvoiceNumber"] for invoice in xero_invoices(live_stack, HARBOUR_ORG)] == ["HFS-1001"]


def test_while_a_sync_runs_the_invoice_goes_with_it(page: Page, live_stack: LiveStack) -> None:
    log_in(page, *HARBOUR_LOGIN)
    open_accounting_sync(page)
    sync_now(page)  # the first Sync Now!: a preview
    await_run_outcome(page, "done")

    with slowed_down_xero(live_stack, HARBOUR_ORG, WATCHABLE_LATENCY_MS):
        sync_now(page)
        open_invoice(page, "HFS-1002")
        menu = open_actions_menu(page)
        menu.get_by_role("button", name="Push To Xero").click()
        expect(invoice_action(page)).to_have_attribute("data-state", "with_sync")
        expect(menu.get_by_role("status")).to_have_text("Will be pushed with the sync that is running.")
        assert_accessible(page, "the invoice page (a sync is running)")
        save_screenshot(page, "invoice-with-running-sync.png")
    expect(invoice_action(page)).to_have_attribute("data-state", "pushed", timeout=PUSH_TIMEOUT_MS)
    expect(menu).to_contain_text("In Xero: HFS-1002")


def test_push_selected_invoices_from_the_list(page: Page, live_stack: LiveStack) -> None:
    log_in(page, *HARBOUR_LOGIN)
    page.get_by_role("link", name="Invoices", exact=True).click()
    page.get_by_label("Select invoice HFS-1003").check()
    page.get_by_label("Select invoice HFS-1004").check()
    with slowed_down_xero(live_stack, HARBOUR_ORG, WATCHABLE_LATENCY_MS):
        page.get_by_role("button", name="Push selected to Xero").click()
        expect(page.locator(".xerosync-bulk-push__result")).to_contain_text("Pushing 2 invoices to Xero…")
        page.get_by_label("Select invoice HFS-1003").check()  # the host's page is as it was
        assert_accessible(page, "the invoice list (pushing a selection)")
        save_screenshot(page, "invoices-push-selected.png")
    await_condition(lambda: flag_state(live_stack, "HFS-1004") == "pushed", timeout=RUN_TIMEOUT_S,
                    what="HFS-1004 pushed")
    assert flag_state(live_stack, "HFS-1003") == "rejected"

    open_invoice(page, "HFS-1003")
    menu = open_actions_menu(page)
    expect(menu.get_by_role("alert")).to_contain_text("GST15")
    expect(menu.locator(".xerosync-fix")).not_to_be_empty()
    expect(menu.get_by_role("button", name="Push again")).to_be_visible()


def test_the_menu_push_on_a_phone(phone: Page) -> None:
    open_invoice(phone, "HFS-1003")
    menu = open_actions_menu(phone)
    expect(menu.get_by_role("alert")).to_contain_text("Xero rejected it:")
    fits_the_screen(phone, "the invoice page with a refused push")
    on_screen(phone, menu, "the actions menu")
    assert_accessible(phone, "the invoice page on a phone (refused)")
    menu.get_by_role("button", name="Push again").click()
    expect(invoice_action(phone)).to_have_attribute("data-state", "rejected", timeout=PUSH_TIMEOUT_MS)
    expect(menu.get_by_role("alert")).to_contain_text("GST15")
    fits_the_screen(phone, "the invoice page after Push again")


def test_push_selected_on_a_phone(phone: Page, live_stack: LiveStack) -> None:
    phone.get_by_role("link", name="Invoices", exact=True).click()
    expect(phone.get_by_role("button", name="Push selected to Xero")).to_be_visible()
    fits_the_screen(phone, "the invoice list")
    on_screen(phone, phone.get_by_label("Select invoice HFS-1001"), "a row's checkbox")
    phone.get_by_label("Select invoice HFS-1001").check()
    phone.get_by_role("button", name="Push selected to Xero").click()
    expect(phone.locator(".xerosync-bulk-push__result")).to_contain_text(re.compile(r"1 invoice"))
    fits_the_screen(phone, "the invoice list after Push selected")
    assert_accessible(phone, "the invoice list on a phone")
