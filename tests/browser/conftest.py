"""Fixtures of the browser journey: Debian's Chromium driven by Playwright against a live stack.

- ``live_stack`` (module): a private Redis, the Xero sandbox (in-process, in a thread), the example
  app behind Werkzeug's threaded HTTP server, and a real ``flask xerosync worker`` subprocess, all on
  free ports, with the demo data seeded (SQLite file, or ``XEROSYNC_TEST_DATABASE_URL``).
- ``chromium_browser`` (session): Chromium launched once; fails (never skips) without it.
- ``page``: a fresh browser context (1280x800) per test, closed afterwards.

The tests of a module share one stack and run in order: they are the steps of one user journey.
"""

from __future__ import annotations

import shutil
from collections.abc import Generator, Iterator
from contextlib import ExitStack

import pytest
from cryptography.fernet import Fernet
from journey import SYNC_PANEL_RECORDER
from live_stack import (
    HTMX_URL,
    WEBHOOK_KEY,
    AppServer,
    LiveStack,
    StackError,
    WorkerProcess,
    ensure_htmx_vendored,
    subprocess_env,
)
from playwright.sync_api import Browser, Page, Playwright, ViewportSize, expect, sync_playwright
from sandbox_world import SANDBOX_APP, build_world

from flask_xerosync.testing import RedisServer
from tests.conftest import build_app, drop_app_tables

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
EXPECT_TIMEOUT_MS = 15_000
WORKER_LOG_TAIL_LINES = 60


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("Debian's chromium package is required: apt-get install chromium", pytrace=False)
    return path


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def chromium_browser(playwright_driver: Playwright, chromium_path: str) -> Iterator[Browser]:
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    browser = playwright_driver.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def live_stack(
    tmp_path_factory: pytest.TempPathFactory, server_database_url: str | None
) -> Iterator[LiveStack]:
    """Every part on a free port, started in dependency order and stopped in reverse."""
    try:
        ensure_htmx_vendored()
    except StackError as exc:
        pytest.fail(str(exc), pytrace=False)
    from flask_xerosync.sandbox import XeroSandbox

    folder = tmp_path_factory.mktemp("live-stack")
    with ExitStack() as running:
        redis_server = running.enter_context(RedisServer())
        sandbox = running.enter_context(XeroSandbox())
        config = {
            "SECRET_KEY": "browser-journey-secret",
            "SQLALCHEMY_DATABASE_URI": server_database_url or f"sqlite:///{folder / 'host.sqlite'}",
            "XEROSYNC_CLIENT_ID": SANDBOX_APP.client_id,
            "XEROSYNC_CLIENT_SECRET": SANDBOX_APP.client_secret,
            "XEROSYNC_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "XEROSYNC_REDIS_URL": redis_server.url,
            "XEROSYNC_SANDBOX_URL": sandbox.url,
            "XEROSYNC_ALLOW_SANDBOX": "true",  # a live app, in neither debug nor testing mode
            "XEROSYNC_HTMX_URL": HTMX_URL,
            # Xero's webhooks (the sandbox delivers them to the live app); a run one second after
            # the first event, so a browser test sees it happen
            "XEROSYNC_WEBHOOK_KEY": WEBHOOK_KEY,
            "XEROSYNC_WEBHOOK_DELAY": "1",
        }
        app = build_app(config)
        running.callback(drop_app_tables, app)
        server = AppServer(app)
        worker = WorkerProcess(subprocess_env(config), redis_server.url, folder / "worker.log")
        stack = LiveStack(
            app_url=server.url,
            sandbox=sandbox,
            redis_url=redis_server.url,
            database_url=config["SQLALCHEMY_DATABASE_URI"],
            app=app,
            worker=worker,
        )
        build_world(stack)
        server.start()
        running.callback(server.stop)
        worker.start()
        running.callback(worker.stop)
        yield stack


@pytest.fixture
def page(chromium_browser: Browser, live_stack: LiveStack) -> Iterator[Page]:
    context = chromium_browser.new_context(viewport=VIEWPORT, base_url=live_stack.app_url)
    context.add_init_script(SYNC_PANEL_RECORDER)
    page = context.new_page()
    yield page
    context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Show the tail of the RQ worker's log under a failed journey step: most sync failures are there."""
    report: pytest.TestReport = yield
    stack = getattr(item, "funcargs", {}).get("live_stack")
    if report.failed and isinstance(stack, LiveStack):
        tail = "\n".join(stack.worker.log().splitlines()[-WORKER_LOG_TAIL_LINES:])
        report.sections.append(("RQ worker log (tail)", tail))
    return report
