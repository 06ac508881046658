"""What a user does in the browser, as small reusable steps, plus screenshots and axe checks."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Locator, Page, expect
from sandbox_world import SANDBOX_APP

from example_app.seed import DEMO_LOGINS

# `make screenshots` sets XEROSYNC_SCREENSHOTS=docs/screenshots to refresh the README's pictures; an
# ordinary run still takes every screenshot, into a folder that does not dirty the work tree.
SCREENSHOTS = Path(
    os.environ.get("XEROSYNC_SCREENSHOTS") or Path(tempfile.gettempdir()) / "xerosync-screenshots"
).resolve()
BLOCKING_IMPACTS = frozenset({"serious", "critical"})
SETTINGS_PATH = "/settings/accounting-sync/"
HARBOUR_LOGIN, BASIC_LOGIN = ((email, password) for email, password, _business in DEMO_LOGINS)


def log_in(page: Page, email: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Clients", exact=True)).to_be_visible()


def open_accounting_sync(page: Page) -> None:
    """Gear icon > Settings > Accounting Sync, the way a user gets there."""
    page.get_by_label("Settings menu").click()
    page.get_by_role("link", name="Accounting Sync").click()
    expect(page.get_by_role("heading", name="Accounting Sync", level=1)).to_be_visible()
    # The heading shows while the rest is still being parsed; htmx (a deferred script) is set up
    # once the document is complete.
    page.wait_for_load_state("domcontentloaded")


def connection_heading(page: Page) -> Locator:
    return page.locator("#xerosync-connection-heading")


def start_connect(page: Page, button: str = "Connect to Xero") -> None:
    page.get_by_role("button", name=button).click()
    expect(page.get_by_role("heading", name=f"Connect {SANDBOX_APP.name} to Xero")).to_be_visible()


def authorise_on_consent(page: Page, *organisations: str) -> None:
    for name in organisations:
        page.get_by_label(name).check()
    page.get_by_role("button", name="Authorise").click()


def notice(page: Page) -> Locator:
    return page.locator(".xerosync-notice")


def save_screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def assert_accessible(page: Page, what: str) -> None:
    """No axe-core violation of serious or critical impact on the page as it is now."""
    results = Axe().run(page)
    blocking = [v for v in results.response["violations"] if v.get("impact") in BLOCKING_IMPACTS]
    report = "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']}\n"
        + "\n".join(f"    {', '.join(node['target'])}: {node['html'][:200]}" for node in v["nodes"])
        for v in blocking
    )
    assert not blocking, f"accessibility violations on {what}:\n{report}"


# Installed in every document of a browser context (see the ``page`` fixture): records each
# distinct state of the progress bar and of the run-status fragment. htmx swaps whole fragments,
# so the observer watches the document rather than one element.
SYNC_PANEL_RECORDER = """
window.__xerosyncProgress = [];
window.__xerosyncRunStatus = [];
new MutationObserver(() => {
  const bar = document.querySelector('[role="progressbar"]');
  if (bar) {
    const seen = window.__xerosyncProgress;
    const entry = {now: bar.getAttribute('aria-valuenow'), text: bar.getAttribute('aria-valuetext') || ''};
    const last = seen[seen.length - 1];
    if (!last || last.now !== entry.now || last.text !== entry.text) seen.push(entry);
  }
  const status = document.getElementById('xerosync-run-status');
  if (status) {
    const statuses = window.__xerosyncRunStatus;
    const value = status.getAttribute('data-run-status');
    if (statuses[statuses.length - 1] !== value) statuses.push(value);
  }
}).observe(document, {subtree: true, childList: true, attributes: true});
"""


def progress_seen(page: Page) -> list[dict[str, str | None]]:
    """The progress bar's states seen in the current document."""
    return list(page.evaluate("window.__xerosyncProgress || []"))


def run_statuses_seen(page: Page) -> list[str | None]:
    return list(page.evaluate("window.__xerosyncRunStatus || []"))


def run_status(page: Page) -> Locator:
    return page.locator("#xerosync-run-status")


def sync_now(page: Page) -> None:
    """Press Sync Now! and wait until the run-status fragment is the new run's, not the last one's.

    The previous summary is marked first: the answer (an htmx swap, or a page load without JS)
    replaces it with an unmarked element.
    """
    page.wait_for_load_state("domcontentloaded")
    expect(run_status(page)).to_be_attached()
    run_status(page).evaluate("element => { element.dataset.stale = 'yes'; }")
    page.get_by_role("button", name="Sync Now!").click()
    expect(page.locator("#xerosync-run-status:not([data-stale])")).to_be_attached()


FINISHED_RUN = re.compile(r"^(done|failed|paused|expired|cancelled)$")


def await_run_outcome(page: Page, status: str, timeout_ms: float = 90_000) -> None:
    """The summary fragment (no poller) of a run that ended, and ended with ``status``."""
    expect(run_status(page)).to_have_attribute("data-run-status", FINISHED_RUN, timeout=timeout_ms)
    ended = run_status(page).get_attribute("data-run-status")
    assert ended == status, (
        f"the run ended {ended}, not {status}: {run_status(page).inner_text()}\n"
        f"run states seen in this page: {run_statuses_seen(page)}"
    )
    expect(page.get_by_role("progressbar")).to_have_count(0)


def open_actions_menu(page: Page) -> Locator:
    """Open the invoice page's Actions menu (a ``<details>``) unless it is open already."""
    details = page.locator("details.actions-menu")
    if details.get_attribute("open") is None:
        details.locator("> summary").click()
    menu = page.locator("details.actions-menu .menu-panel")
    expect(menu).to_be_visible()
    return menu


def open_invoice(page: Page, number: str) -> None:
    page.get_by_role("link", name="Invoices", exact=True).click()
    page.get_by_role("link", name=number).click()
    expect(page.get_by_role("heading", name=f"Invoice {number}")).to_be_visible()


def tab_to(page: Page, target: Locator, max_presses: int = 40) -> None:
    """Press Tab until ``target`` has the focus: proves it is reachable from the keyboard alone."""
    expect(target).to_be_visible()
    for _ in range(max_presses):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    focused = page.evaluate("document.activeElement && document.activeElement.outerHTML.slice(0, 200)")
    raise AssertionError(f"{target} was not reached with {max_presses} Tab presses (focus is on {focused})")


def invoice_action(page: Page) -> Locator:
    """The Push To Xero partial; ``data-state`` is none / flagged / pushed / rejected."""
    return page.locator(".xerosync-invoice-action")
