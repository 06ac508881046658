"""A new user's whole journey through Accounting Sync, in Chromium, against the live stack.

The tests are the steps of one journey and run in file order on one module-scoped stack: each one
starts from where the previous one left the business (connected, preferences saved, synced...).
"""

from __future__ import annotations

import re

from journey import (
    BASIC_LOGIN,
    HARBOUR_LOGIN,
    SETTINGS_PATH,
    assert_accessible,
    authorise_on_consent,
    await_run_outcome,
    connection_heading,
    invoice_action,
    log_in,
    notice,
    open_accounting_sync,
    open_actions_menu,
    open_invoice,
    progress_seen,
    run_status,
    save_screenshot,
    start_connect,
    sync_now,
)
from live_stack import LiveStack
from playwright.sync_api import Locator, Page, expect
from sandbox_world import (
    CUSTOMER_COUNT,
    HARBOUR_ORG,
    KOWHAI_HOLDINGS_ORG,
    KOWHAI_LOGIN,
    KOWHAI_MAIN_ORG,
    AMBIGUOUS_CONTACTS,
    MATCHING_CONTACTS,
    SANDBOX_APP,
    sign_in_to_xero,
    slowed_down_xero,
    supplier_contacts,
    xero_contacts,
    xero_invoices,
)

HOST_CLIENT_COUNT = 7
# The demo's host clients that Xero does not know (the others match by e-mail, by name, by the
# contact code, or, Coastal Cafe, ambiguously: the owner links it in the preview).
HOST_ONLY_CLIENT_EMAILS = (
    "office@harpersons.example",
    "maintenance@northgate.example",
    "frontdesk@riversidevets.example",
)
# Latency the sandbox adds to each API call of the Harbour organisation during the first sync, so
# that its stages last long enough to be watched (a handful of calls: ~10 seconds in all).
WATCHABLE_LATENCY_MS = 1500
# How long a push run of one invoice may take to show its outcome in the menu (the worker is shared).
PUSH_TIMEOUT_MS = 90_000
# After the summary, the progress URL must not be asked for again: three polling intervals.
POLLING_SILENCE_MS = 3000


def test_business_on_the_basic_plan_sees_the_plan_explanation(page: Page) -> None:
    log_in(page, *BASIC_LOGIN)
    open_accounting_sync(page)

    expect(page.get_by_role("heading", name="Xero sync is not included in your plan")).to_be_visible()
    expect(page.get_by_text("upgrade", exact=False)).to_be_visible()
    expect(page.get_by_role("button", name="Connect to Xero")).to_have_count(0)
    expect(page.locator("#xerosync-preferences")).to_have_count(0)
    assert_accessible(page, "the settings page (plan not allowed)")


def test_owner_connects_to_the_one_organisation_they_can_access(page: Page, live_stack: LiveStack) -> None:
    organisation = live_stack.orgs[HARBOUR_ORG].name
    sign_in_to_xero(live_stack, "hana")
    log_in(page, *HARBOUR_LOGIN)
    open_accounting_sync(page)
    expect(connection_heading(page)).to_have_text("Not connected")
    assert_accessible(page, "the settings page (not connected)")
    save_screenshot(page, "settings-not-connected.png")

    start_connect(page)
    assert page.url.startswith(live_stack.sandbox.url), page.url
    expect(page.get_by_label(organisation)).to_be_visible()
    page.get_by_label(organisation).check()
    assert_accessible(page, "the sandbox consent page")
    save_screenshot(page, "consent.png")
    page.get_by_role("button", name="Authorise").click()

    expect(page).to_have_url(live_stack.url(SETTINGS_PATH))
    expect(connection_heading(page)).to_have_text("Connected to Xero")
    expect(page.locator("section", has=connection_heading(page))).to_contain_text(organisation)
    expect(notice(page)).to_have_text(f"Connected to {organisation}.")
    assert_accessible(page, "the settings page (connected)")


def test_owner_with_two_organisations_cancels_then_chooses_one(page: Page, live_stack: LiveStack) -> None:
    main, holdings = live_stack.orgs[KOWHAI_MAIN_ORG].name, live_stack.orgs[KOWHAI_HOLDINGS_ORG].name
    sign_in_to_xero(live_stack, "kiri")
    log_in(page, *KOWHAI_LOGIN)
    open_accounting_sync(page)

    start_connect(page)
    expect(page.get_by_label(main)).to_be_visible()
    expect(page.get_by_label(holdings)).to_be_visible()
    page.get_by_role("button", name="Cancel").click()
    expect(page).to_have_url(live_stack.url(SETTINGS_PATH))
    expect(notice(page)).to_be_visible()
    expect(notice(page)).not_to_contain_text("access_denied")
    expect(notice(page)).to_contain_text(re.compile(r"cancel", re.IGNORECASE))
    expect(connection_heading(page)).to_have_text("Not connected")

    start_connect(page)
    authorise_on_consent(page, main, holdings)
    expect(page.get_by_role("heading", name="Choose a Xero organisation")).to_be_visible()
    open_accounting_sync(page)
    expect(connection_heading(page)).to_have_text("Choose an organisation")
    assert_accessible(page, "the settings page (choosing an organisation)")
    page.get_by_role("link", name="Choose the organisation").click()
    expect(page.get_by_label(main)).to_be_visible()
    assert_accessible(page, "the choose-organisation page")
    page.get_by_label(holdings).check()
    page.get_by_role("button", name="Sync with this organisation").click()

    expect(page).to_have_url(live_stack.url(SETTINGS_PATH))
    expect(connection_heading(page)).to_have_text("Connected to Xero")
    expect(page.locator("section", has=connection_heading(page))).to_contain_text(holdings)
    expect(page.locator("section", has=connection_heading(page))).not_to_contain_text(main)


def test_preferences_are_checked_saved_and_kept(page: Page, live_stack: LiveStack) -> None:
    log_in(page, *HARBOUR_LOGIN)
    open_accounting_sync(page)
    preferences = page.locator("#xerosync-preferences")
    account, tax_rate = page.get_by_label("Sales account"), page.get_by_label("Tax rate")
    expect(account.locator("option[value='200']")).to_have_text(re.compile(r"200\s*.\s*Sales"))
    expect(account.locator("option[value='400']")).to_have_count(0)
    expect(tax_rate.locator("option[value='OUTPUT2']")).to_contain_text("15% GST on Income")
    expect(tax_rate.locator("option[value='INPUT2']")).to_have_count(0)

    preferences.get_by_label("Approved").check()
    account.select_option("")
    tax_rate.select_option("OUTPUT2")
    preferences.get_by_role("button", name="Save preferences").click()
    error = page.locator("#sales_account_code-error")
    expect(error).to_contain_text("Choose a sales account")
    expect(account).to_have_attribute("aria-invalid", "true")
    expect(account).to_have_attribute("aria-describedby", re.compile(r"\bsales_account_code-error\b"))
    expect(preferences.get_by_role("alert")).to_contain_text("Nothing was saved")
    assert_accessible(page, "the settings page (preferences with an error)")

    page.reload()
    expect(preferences.get_by_label("Draft")).to_be_checked()
    expect(tax_rate).to_have_value("")

    preferences.get_by_label("Approved").check()
    account.select_option("200")
    tax_rate.select_option("OUTPUT2")
    preferences.get_by_label("This app wins").check()
    preferences.get_by_role("button", name="Save preferences").click()
    expect(preferences.get_by_role("status")).to_have_text("Preferences saved.")
    expect(page).to_have_url(live_stack.url(SETTINGS_PATH))

    page.reload()
    expect(preferences.get_by_label("Approved")).to_be_checked()
    expect(account).to_have_value("200")
    expect(tax_rate).to_have_value("OUTPUT2")
    expect(preferences.get_by_label("This app wins")).to_be_checked()
    expect(preferences.get_by_label("Every contact except supplier-only ones")).to_be_checked()
    expect(page.locator("#sales_account_code-error")).to_have_count(0)


def record_row(page: Page, label: str) -> Locator:
    """One record of a run's log, by its label."""
    return page.locator("tr.xerosync-record", has=page.get_by_role("rowheader", name=label, exact=True))


def test_the_first_sync_now_is_a_preview_where_the_owner_settles_coastal_cafe(
    page: Page, live_stack: LiveStack
) -> None:
    contacts_before = xero_contacts(live_stack, HARBOUR_ORG)
    log_in(page, *HARBOUR_LOGIN)
    open_accounting_sync(page)
    sync_now(page)
    await_run_outcome(page, "done")
    expect(run_status(page)).to_contain_text("Preview ready")
    expect(run_status(page)).to_contain_text("Nothing was written yet")
    assert xero_contacts(live_stack, HARBOUR_ORG) == contacts_before, "the preview wrote to Xero"
    save_screenshot(page, "preview-summary.png")

    run_status(page).get_by_role("link", name="See the whole preview").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Preview of"))).to_be_visible()
    expect(record_row(page, "Bright Spark Electrical")).to_contain_text("same e-mail address")
    expect(record_row(page, "Greenleaf Landscaping")).to_contain_text("same name")
    expect(record_row(page, "Summit Fitness Studio")).to_contain_text("contact code")
    assert_accessible(page, "the preview page")
    save_screenshot(page, "preview.png")
    page.get_by_role("link", name=re.compile(r"^Skipped \(\d+\)$")).click()
    expect(page.locator("tr.xerosync-record", has_text="Wholesale Supplies").first).to_contain_text(
        "A supplier only in Xero")

    page.get_by_role("link", name=re.compile(r"^Needs review \(3\)$")).click()
    cafe = record_row(page, "Coastal Cafe")
    expect(cafe).to_contain_text("2 Xero contacts look like this client.")
    cafe.get_by_label(re.compile(r"the Xero contact Coastal Cafe Ltd")).check()
    save_screenshot(page, "preview-review.png")
    cafe.get_by_role("button", name="Save decision").click()
    expect(notice(page)).to_contain_text("It will be linked to the record you chose at the next sync.")
    group = record_row(page, "Coastal Café Group")
    group.get_by_label("Leave it out of the sync").check()
    group.get_by_role("button", name="Save decision").click()
    expect(notice(page)).to_contain_text("left out of the sync")
    assert xero_contacts(live_stack, HARBOUR_ORG) == contacts_before, "deciding wrote to Xero"


def test_sync_now_shows_live_progress_that_survives_leaving_the_page(page: Page, live_stack: LiveStack) -> None:
    log_in(page, *HARBOUR_LOGIN)
    open_accounting_sync(page)
    with slowed_down_xero(live_stack, HARBOUR_ORG, WATCHABLE_LATENCY_MS):
        _watch_a_slow_sync(page)


def _watch_a_slow_sync(page: Page) -> None:
    sync_now(page)
    bar = page.get_by_role("progressbar")
    expect(bar).to_have_accessible_name(re.compile(r"Syncing, step \d of \d"))
    expect(bar).to_have_attribute("aria-valuenow", re.compile(r"^[1-9][0-9]?$"))
    seen_before_leaving = progress_seen(page)

    page.get_by_role("link", name="Clients", exact=True).click()
    expect(page.get_by_role("heading", name="Clients", exact=True)).to_be_visible()
    open_accounting_sync(page)
    expect(bar).to_be_visible()
    returned_at = int(bar.get_attribute("aria-valuenow") or 0)
    assert returned_at >= max((int(entry["now"] or 0) for entry in seen_before_leaving), default=0)
    progress_polls: list[str] = []
    page.on("request", lambda request: progress_polls.append(request.url) if "/progress" in request.url else None)
    sync_now(page)
    expect(run_status(page)).to_contain_text("A sync is already running")
    expect(bar).to_be_visible()

    expect(bar).to_have_attribute("aria-valuenow", re.compile(r"^[5-9][0-9]$"))
    assert_accessible(page, "the settings page (sync in progress)")
    save_screenshot(page, "progress.png")
    await_run_outcome(page, "done")
    expect(run_status(page)).to_contain_text("Last sync finished")
    expect(run_status(page)).to_contain_text(re.compile(r"Clients:.*created"))
    assert progress_polls, "the page did not poll the progress after coming back to it"

    seen = seen_before_leaving + progress_seen(page)
    values = [int(entry["now"]) for entry in seen if entry["now"] is not None]
    assert values == sorted(values), f"progress went backwards: {values}"
    assert all(value < 100 for value in values), f"progress showed 100% before the run finished: {values}"
    stages = {re.sub(r"^\d+% done: ", "", entry["text"] or "").split(",")[0] for entry in seen}
    assert len(stages - {"Not started yet"}) >= 2, f"the bar did not move through the stages: {seen}"

    polls_at_summary = len(progress_polls)
    # A negative check: nothing can be awaited for "no request happens", so wait three polling
    # intervals and make sure the summary fragment did not start polling again.
    page.wait_for_timeout(POLLING_SILENCE_MS)
    assert len(progress_polls) == polls_at_summary, progress_polls[polls_at_summary:]
    assert_accessible(page, "the settings page (sync summary)")
    page.reload()
    expect(page.locator(".xerosync-history li")).to_have_count(2)
    expect(page.locator(".xerosync-history li").first).to_contain_text("Done")
    expect(page.locator(".xerosync-history li").nth(1)).to_contain_text("Preview ready")
    expect(run_status(page)).to_contain_text("Last sync finished")
    save_screenshot(page, "summary.png")


def test_history_agrees_with_the_summary_after_a_live_sync(page: Page) -> None:
    log_in(page, *HARBOUR_LOGIN)
    open_accounting_sync(page)
    sync_now(page)
    await_run_outcome(page, "done")
    this_run = run_status(page).get_by_role("link", name="See what this sync did").get_attribute("href")
    latest = page.locator(".xerosync-history li").first
    expect(latest.get_by_role("link")).to_have_attribute("href", this_run or "", timeout=2_000)
    expect(latest).to_contain_text("Done", timeout=2_000)


def test_clients_from_xero_arrive_and_host_clients_reach_xero_once(page: Page, live_stack: LiveStack) -> None:
    log_in(page, *HARBOUR_LOGIN)
    rows = page.locator("table.data tbody tr")
    expected_rows = HOST_CLIENT_COUNT + CUSTOMER_COUNT
    expect(rows).to_have_count(expected_rows)
    names = [name.strip() for name in page.locator("table.data tbody tr td:first-child").all_inner_texts()]
    assert len(set(name.casefold() for name in names)) == len(names), "a client is listed twice"
    assert "Alpine Bakery" in names and "Pohutukawa Vets" in names
    assert not {c["Name"] for c in supplier_contacts()} & set(names), "supplier-only contacts came in"
    assert sum("bright spark" in name.casefold() for name in names) == 1
    assert sum("greenleaf" in name.casefold() for name in names) == 1
    assert sum("coastal" in name.casefold() for name in names) == 1, "the ambiguous contacts were created here"
    assert sum("summit" in name.casefold() for name in names) == 1

    contacts = xero_contacts(live_stack, HARBOUR_ORG)
    xero_names = [contact["Name"] for contact in contacts]
    assert len(set(name.casefold() for name in xero_names)) == len(xero_names), "a contact is in Xero twice"
    xero_emails = {(contact.get("EmailAddress") or "").casefold() for contact in contacts}
    assert set(HOST_ONLY_CLIENT_EMAILS) <= xero_emails
    assert sum("bright spark" in name.casefold() for name in xero_names) == 1
    assert sum("greenleaf" in name.casefold() for name in xero_names) == 1
    assert sum("coastal" in name.casefold() for name in xero_names) == len(AMBIGUOUS_CONTACTS)
    seeded = CUSTOMER_COUNT + len(supplier_contacts()) + len(MATCHING_CONTACTS) + len(AMBIGUOUS_CONTACTS)
    assert len(contacts) == seeded + len(HOST_ONLY_CLIENT_EMAILS)


def test_push_to_xero_from_the_invoice_actions_menu(page: Page, live_stack: LiveStack) -> None:
    log_in(page, *HARBOUR_LOGIN)
    for number, outcome in (("HFS-1001", "pushed"), ("HFS-1003", "rejected")):
        open_invoice(page, number)
        menu = open_actions_menu(page)
        menu.get_by_role("button", name="Push To Xero").click()  # pushed at once, in a push run
        expect(invoice_action(page)).to_have_attribute("data-state", outcome, timeout=PUSH_TIMEOUT_MS)

    in_xero = {invoice["InvoiceNumber"]: invoice for invoice in xero_invoices(live_stack, HARBOUR_ORG)}
    assert set(in_xero) == {"HFS-1001"}, "only the valid flagged invoice may reach Xero"
    assert in_xero["HFS-1001"]["Status"] == "AUTHORISED"
    assert {line.get("AccountCode") for line in in_xero["HFS-1001"]["LineItems"]} == {"200"}

    open_invoice(page, "HFS-1001")
    menu = open_actions_menu(page)
    expect(menu).to_contain_text("In Xero: HFS-1001")
    link = menu.get_by_role("link", name="HFS-1001")
    expect(link).to_have_attribute("rel", re.compile(r"\bnoopener\b"))
    assert_accessible(page, "the invoice page (pushed, menu open)")
    save_screenshot(page, "invoice-actions.png")

    open_invoice(page, "HFS-1003")
    menu = open_actions_menu(page)
    rejection = menu.get_by_role("alert")
    expect(rejection).to_contain_text("Xero rejected it:")
    expect(rejection).to_contain_text("GST15")
    expect(menu.get_by_role("button", name="Push again")).to_be_visible()
    fix = rejection.locator("xpath=following-sibling::p[1]")
    expect(fix).not_to_be_empty()
    assert_accessible(page, "the invoice page (rejected, menu open)")

    open_accounting_sync(page)
    page.locator(".xerosync-history a").first.click()
    page.get_by_role("link", name=re.compile(r"^Failed \(\d+\)$")).click()
    failed = page.locator("tr.xerosync-record--failed")
    expect(failed.filter(has_text="HFS-1003")).to_have_count(1)
    expect(failed.filter(has_text="HFS-1003")).to_contain_text("Xero said:")
    expect(failed.filter(has_text="HFS-1003")).to_contain_text("How to fix it:")
    assert_accessible(page, "the run page (failed filter)")
    save_screenshot(page, "run-log-failed.png")


def _link_count(live_stack: LiveStack) -> int:
    from example_app.models import db
    from flask_xerosync.models import Link

    with live_stack.app.app_context():
        count = db.session.query(Link).count()
        db.session.remove()
        return count


def test_revoked_connection_needs_a_reconnect_that_keeps_links(page: Page, live_stack: LiveStack) -> None:
    harbour = live_stack.orgs[HARBOUR_ORG]
    links_before = _link_count(live_stack)
    contacts_before = len(xero_contacts(live_stack, HARBOUR_ORG))
    assert links_before > CUSTOMER_COUNT
    live_stack.control.revoke_connection(tenant_id=harbour.tenant_id, client_id=SANDBOX_APP.client_id)

    log_in(page, *HARBOUR_LOGIN)
    open_accounting_sync(page)
    sync_now(page)
    await_run_outcome(page, "failed")
    expect(run_status(page)).to_contain_text(re.compile("reconnect", re.IGNORECASE))

    page.reload()
    expect(connection_heading(page)).to_have_text("Reconnect to Xero")
    expect(page.get_by_role("button", name="Sync Now!")).to_have_count(0)
    assert_accessible(page, "the settings page (reconnect needed)")

    sign_in_to_xero(live_stack, "hana")
    start_connect(page, button="Reconnect to Xero")
    authorise_on_consent(page, harbour.name)
    expect(connection_heading(page)).to_have_text("Connected to Xero")
    sync_now(page)
    await_run_outcome(page, "done")
    assert _link_count(live_stack) == links_before
    assert len(xero_contacts(live_stack, HARBOUR_ORG)) == contacts_before
    page.get_by_role("link", name="Clients", exact=True).click()
    expect(page.locator("table.data tbody tr")).to_have_count(HOST_CLIENT_COUNT + CUSTOMER_COUNT)

    open_accounting_sync(page)
    page.get_by_role("link", name="Disconnect from Xero…").click()
    expect(page.get_by_role("heading", name="Disconnect from Xero?")).to_be_visible()
    assert_accessible(page, "the disconnect confirmation")
    page.get_by_role("link", name="Cancel").click()
    expect(connection_heading(page)).to_have_text("Connected to Xero")

    page.get_by_role("link", name="Disconnect from Xero…").click()
    page.get_by_role("button", name="Yes, disconnect").click()
    expect(connection_heading(page)).to_have_text("Not connected")
    expect(notice(page)).to_contain_text("Disconnected from Xero")
    assert not [c for c in live_stack.control.connections() if c["tenantId"] == harbour.tenant_id]
    assert _link_count(live_stack) == links_before


def test_connecting_another_organisation_asks_first_and_starts_fresh(page: Page, live_stack: LiveStack) -> None:
    first = live_stack.orgs[HARBOUR_ORG].name
    second = "Harbour Second Ltd"
    live_stack.control.create_org(name=second, country="NZ", users=[live_stack.users["hana"]])
    sign_in_to_xero(live_stack, "hana")
    log_in(page, *HARBOUR_LOGIN)
    open_accounting_sync(page)
    expect(connection_heading(page)).to_have_text("Not connected")

    start_connect(page)
    page.get_by_label(first).uncheck()
    authorise_on_consent(page, second)
    expect(page.get_by_role("heading", name=f"Switch to {second}?")).to_be_visible()
    explanation = page.locator(".xerosync-card--warning")
    expect(explanation).to_contain_text(f"You synced with {first}; {second} starts fresh: nothing is linked to it yet")
    expect(explanation).to_contain_text(f"Invoices pushed to {first} stay in {first}")
    assert_accessible(page, "the switch-organisation page")
    save_screenshot(page, "switch-organisation.png")
    page.get_by_role("button", name="Switch and start fresh").click()

    expect(connection_heading(page)).to_have_text("Connected to Xero")
    expect(page.locator("section", has=connection_heading(page))).to_contain_text(second)
    expect(run_status(page)).to_contain_text("Nothing synced yet")
    expect(run_status(page)).not_to_contain_text(re.compile("failed|reconnect", re.IGNORECASE))
    expect(page.locator(".xerosync-history li")).to_have_count(0)
    open_invoice(page, "HFS-1001")
    menu = open_actions_menu(page)
    expect(menu.get_by_role("button", name="Push To Xero")).to_be_visible()
    expect(menu).not_to_contain_text("In Xero")
