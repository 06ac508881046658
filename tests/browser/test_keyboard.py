"""The same first steps with the keyboard only (Tab, Enter, Space, arrows): every control must be
reachable and operable without a mouse. Runs on a stack of its own (a business not connected yet).
"""

from __future__ import annotations

import re

from journey import (
    HARBOUR_LOGIN,
    assert_accessible,
    await_run_outcome,
    connection_heading,
    tab_to,
)
from live_stack import LiveStack
from playwright.sync_api import Page, expect
from sandbox_world import HARBOUR_ORG, sign_in_to_xero


def test_keyboard_only_from_login_to_sync_now(page: Page, live_stack: LiveStack) -> None:
    organisation = live_stack.orgs[HARBOUR_ORG].name
    sign_in_to_xero(live_stack, "hana")
    page.goto("/login")
    tab_to(page, page.get_by_label("E-mail"))
    page.keyboard.type(HARBOUR_LOGIN[0])
    tab_to(page, page.get_by_label("Password"))
    page.keyboard.type(HARBOUR_LOGIN[1])
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Clients", exact=True)).to_be_visible()

    gear = page.get_by_label("Settings menu")
    tab_to(page, gear)
    page.keyboard.press("Enter")
    accounting_sync = page.get_by_role("link", name="Accounting Sync")
    tab_to(page, accounting_sync)
    page.keyboard.press("Enter")
    expect(connection_heading(page)).to_have_text("Not connected")

    tab_to(page, page.get_by_role("button", name="Connect to Xero"))
    page.keyboard.press("Space")
    organisation_box = page.get_by_label(organisation)
    tab_to(page, organisation_box)
    page.keyboard.press("Space")
    expect(organisation_box).to_be_checked()
    tab_to(page, page.get_by_role("button", name="Authorise"))
    page.keyboard.press("Enter")
    expect(connection_heading(page)).to_have_text("Connected to Xero")
    page.wait_for_load_state("domcontentloaded")

    preferences = page.locator("#xerosync-preferences")
    draft = preferences.get_by_label("Draft")
    tab_to(page, draft)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(preferences.get_by_label("Approved")).to_be_checked()
    tab_to(page, page.get_by_label("Sales account"))
    page.keyboard.type("200")
    expect(page.get_by_label("Sales account")).to_have_value("200")
    tab_to(page, page.get_by_label("Tax rate"))
    page.keyboard.type("15%")
    expect(page.get_by_label("Tax rate")).to_have_value("OUTPUT2")
    tab_to(page, preferences.get_by_role("button", name="Save preferences"))
    page.keyboard.press("Enter")
    expect(preferences.get_by_role("status")).to_have_text("Preferences saved.")

    tab_to(page, page.get_by_role("button", name="Sync Now!"))
    page.keyboard.press("Space")
    bar = page.get_by_role("progressbar")
    expect(bar).to_have_accessible_name(re.compile(r"\w"))
    expect(bar).to_have_attribute("aria-valuemin", "0")
    expect(bar).to_have_attribute("aria-valuemax", "100")
    await_run_outcome(page, "done")  # the first Sync Now! is the preview
    tab_to(page, page.get_by_role("link", name="See the whole preview"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=re.compile(r"^Preview of"))).to_be_visible()
    tab_to(page, page.get_by_role("link", name="Back to Accounting Sync"))
    page.keyboard.press("Enter")
    expect(connection_heading(page)).to_have_text("Connected to Xero")

    tab_to(page, page.get_by_role("button", name="Sync Now!"))
    page.keyboard.press("Space")
    await_run_outcome(page, "done")
    tab_to(page, page.get_by_role("link", name="See what this sync did"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=re.compile(r"^Sync of"))).to_be_visible()
    assert_accessible(page, "the run page")
