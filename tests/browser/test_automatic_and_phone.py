"""Automatic sync, paid status back and the owner's view of Xero's limits, in Chromium at desktop
width and on a 390 px phone, against the live stack (its worker runs RQ's scheduler; the sandbox
delivers Xero's webhooks to the live app).

The tests are the steps of one story on one module-scoped stack: Harbour connects, chooses what to
sync (paid status included), syncs by hand, turns on hourly sync; a change in Xero then syncs on
its own, an invoice pushed from its actions menu is paid in Xero and the app shows it.
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
from live_stack import WEBHOOK_KEY, LiveStack, await_condition
from playwright.sync_api import Browser, Locator, Page, ViewportSize, expect
from sandbox_world import (
    HARBOUR_ORG,
    MATCHING_CONTACTS,
    SANDBOX_APP,
    sign_in_to_xero,
    xero_contacts,
    xero_invoices,
)
from sqlalchemy import func, select

from flask_xerosync.models import InvoiceFlag, Run, RunKind

PHONE: ViewportSize = {"width": 390, "height": 844}
RUN_TIMEOUT_S = 90


@pytest.fixture
def phone(chromium_browser: Browser, live_stack: LiveStack, browser_name: str) -> Iterator[Page]:
    """A phone-sized browser (390 x 844, touch), logged in as Harbour's owner. (``browser_name``
    gives these tests the same browser parameter as the ``page`` ones, so pytest keeps the whole
    module together on its stack.)"""
    context = chromium_browser.new_context(viewport=PHONE, base_url=live_stack.app_url, is_mobile=True,
                                           has_touch=True, device_scale_factor=2)
    page = context.new_page()
    log_in(page, *HARBOUR_LOGIN)
    yield page
    context.close()


def fits_the_screen(page: Page, what: str) -> None:
    """Nothing scrolls sideways: the page is no wider than the screen (measured once its stylesheets
    have loaded)."""
    page.wait_for_load_state("load")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.scrollWidth > document.documentElement.clientWidth + 1)
        .slice(-5).map(e => e.tagName + ' ' + e.scrollWidth + ' ' + e.outerHTML.slice(0, 160))""")
    assert overflow <= 0, f"{what} is {overflow}px wider than the screen: {wide}"


def on_screen(page: Page, locator: Locator, what: str) -> None:
    """Every side of ``locator`` is on the screen (a box cut off at the left scrolls nowhere)."""
    box = locator.bounding_box()
    width = page.viewport_size["width"] if page.viewport_size else 0
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, f"{what} is off the screen: {box}"


def focused_id(page: Page) -> str:
    return str(page.evaluate("document.activeElement && document.activeElement.id"))


def sync_runs(live_stack: LiveStack) -> int:
    from example_app.models import db

    with live_stack.app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Run).where(Run.kind == RunKind.SYNC))
        db.session.remove()
        return int(count or 0)


def flag_status(live_stack: LiveStack, invoice_id: int) -> str:
    from example_app.models import db

    with live_stack.app.app_context():
        status = db.session.scalar(select(InvoiceFlag.xero_status).where(InvoiceFlag.invoice_id == str(invoice_id)))
        db.session.remove()
        return str(status or "")


def test_sync_now_comes_first_and_preferences_keep_the_focus(page: Page, live_stack: LiveStack) -> None:
    sign_in_to_xero(live_stack, "hana")
    log_in(page, *HARBOUR_LOGIN)
    open_accounting_sync(page)
    start_connect(page)
    authorise_on_consent(page, live_stack.orgs[HARBOUR_ORG].name)
    expect(connection_heading(page)).to_have_text("Connected to Xero")
    page.wait_for_load_state("domcontentloaded")

    expect(page.locator(".xerosync button").first).to_have_text("Sync Now!")
    preferences = page.locator("#xerosync-preferences")
    expect(preferences).to_be_visible()  # unfolded until the first sync
    preferences.get_by_label("Approved").check()
    page.get_by_label("Sales account").select_option("200")
    page.get_by_label("Tax rate").select_option("OUTPUT2")
    preferences.get_by_label(re.compile("^Paid status of pushed invoices")).check()
    preferences.get_by_role("button", name="Save preferences").click()
    expect(preferences.get_by_role("status")).to_have_text("Preferences saved.")
    assert focused_id(page) == "xerosync-save-preferences"

    sync_now(page)  # the first Sync Now!: a preview
    await_run_outcome(page, "done")
    page.reload()
    expect(page.locator(".xerosync-limits")).to_contain_text(re.compile(r"The next sync will take about \d+ calls?"))
    sync_now(page)
    await_run_outcome(page, "done")
    assert_accessible(page, "the settings page after a sync")


def test_owner_turns_on_hourly_sync(page: Page, live_stack: LiveStack) -> None:
    log_in(page, *HARBOUR_LOGIN)
    open_accounting_sync(page)
    expect(page.locator("#xerosync-preferences")).to_be_hidden()  # folded once synced
    limits = page.locator(".xerosync-limits")
    expect(limits).to_contain_text(re.compile(r"\d+ of 5,000 calls to Xero used today"))

    fold = page.locator("#xerosync-automatic-fold")
    expect(fold.locator("summary")).to_contain_text("Only by hand")
    fold.locator("summary").click()
    automatic = page.locator("#xerosync-automatic")
    automatic.get_by_label(re.compile("^Every hour")).check()
    automatic.get_by_role("button", name="Save").click()
    expect(automatic.get_by_role("status")).to_contain_text(
        re.compile(r"^Saved\. The next automatic sync is on \d{1,2} \w{3} \d{4}, \d\d:00\.$"))
    assert focused_id(page) == "xerosync-save-automatic"
    expect(automatic).to_contain_text("soon after a change in Xero")
    assert_accessible(page, "the settings page (automatic sync)")
    save_screenshot(page, "settings-automatic.png")


def test_a_change_in_xero_syncs_on_its_own(page: Page, live_stack: LiveStack) -> None:
    hook = live_stack.control.register_webhook(SANDBOX_APP.client_id, live_stack.webhook_url, signing_key=WEBHOOK_KEY)
    assert hook["status"] == "OK", hook["reason"]
    before = sync_runs(live_stack)
    tenant = live_stack.orgs[HARBOUR_ORG].tenant_id
    contact = next(c for c in xero_contacts(live_stack, HARBOUR_ORG) if c["Name"] == MATCHING_CONTACTS[0]["Name"])
    live_stack.control.edit_contact(tenant, contact["ContactID"], Phones=[
        {"PhoneType": "DEFAULT", "PhoneAreaCode": "09", "PhoneNumber": "555 0199"}])

    await_condition(lambda: sync_runs(live_stack) > before, timeout=RUN_TIMEOUT_S, what="a run started by the webhook")
    log_in(page, *HARBOUR_LOGIN)
    open_accounting_sync(page)
    await_run_outcome(page, "done")


def test_an_invoice_paid_in_xero_shows_in_its_menu(page: Page, live_stack: LiveStack) -> None:
    log_in(page, *HARBOUR_LOGIN)
    open_invoice(page, "HFS-1001")
    open_actions_menu(page).get_by_role("button", name="Push To Xero").click()
    expect(invoice_action(page)).to_have_attribute("data-state", "pushed", timeout=RUN_TIMEOUT_S * 1000)

    pushed = next(i for i in xero_invoices(live_stack, HARBOUR_ORG) if i["InvoiceNumber"] == "HFS-1001")
    live_stack.control.add_payment(live_stack.orgs[HARBOUR_ORG].tenant_id, pushed["InvoiceID"], date="2025-12-03")
    # a person paid it in Xero: Xero's webhook starts a run, which reads the paid status back
    await_condition(lambda: flag_status(live_stack, 1) == "PAID", timeout=RUN_TIMEOUT_S, what="the paid status")

    open_invoice(page, "HFS-1001")
    expect(page.locator(".banners")).to_contain_text("Invoice HFS-1001 was paid in Xero on 3 Dec 2025.")
    expect(page.locator(".facts")).to_contain_text("Paid 3 Dec 2025")
    menu = open_actions_menu(page)
    expect(menu).to_contain_text("Paid in Xero on 3 Dec 2025.")
    expect(menu.get_by_role("button", name="Push changes to Xero")).to_have_count(0)
    assert_accessible(page, "the invoice page (paid in Xero)")
    save_screenshot(page, "invoice-paid.png")


def test_settings_on_a_phone(phone: Page) -> None:
    open_accounting_sync(phone)
    expect(phone.locator(".xerosync button").first).to_have_text("Sync Now!")
    fits_the_screen(phone, "the settings page")
    fold = phone.locator("#xerosync-automatic-fold")
    fold.locator("summary").click()
    automatic = phone.locator("#xerosync-automatic")
    automatic.get_by_label(re.compile("^Every day")).check()
    automatic.get_by_label("Hour of the daily sync").select_option("7")
    automatic.get_by_role("button", name="Save").click()
    expect(automatic.get_by_role("status")).to_contain_text(re.compile(r", 07:00\.$"))
    assert focused_id(phone) == "xerosync-save-automatic"
    expect(fold.locator("summary")).to_contain_text("Every day at 07:00")
    phone.locator("#xerosync-preferences-fold > summary").click()
    fits_the_screen(phone, "the settings page, unfolded")
    assert_accessible(phone, "the settings page on a phone")
    phone.locator("#xerosync-preferences-fold > summary").click()
    save_screenshot(phone, "settings-phone.png")


def test_run_page_on_a_phone(phone: Page) -> None:
    open_accounting_sync(phone)
    # the first sync: the longest log (hundreds of records, links with differences kept)
    phone.locator("#xerosync-history a", has_text="Sync of").last.click()
    expect(phone.get_by_role("heading", name=re.compile(r"^Sync of"))).to_be_visible()
    fits_the_screen(phone, "the run page")
    assert_accessible(phone, "the run page on a phone")
    phone.get_by_role("link", name=re.compile(r"^Linked \(\d+\)")).click()
    expect(phone.locator(".xerosync-records")).to_be_visible()
    fits_the_screen(phone, "the run page's linked records")
    save_screenshot(phone, "run-phone.png")


def test_invoice_menu_on_a_phone(phone: Page) -> None:
    open_invoice(phone, "HFS-1001")
    menu = open_actions_menu(phone)
    expect(menu).to_contain_text("Paid in Xero on 3 Dec 2025.")
    fits_the_screen(phone, "the invoice page with its actions menu open")
    on_screen(phone, menu, "the actions menu")
    assert_accessible(phone, "the invoice page on a phone")
    save_screenshot(phone, "invoice-phone.png")
