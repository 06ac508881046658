"""pytest plugin: a session-wide sandbox server and a per-test ``xero_sandbox`` fixture.

Opt-in: a host lists it in its root ``conftest.py`` as
``pytest_plugins = ["flask_xerosync.sandbox.pytest_plugin"]``. It only imports the
sandbox when a fixture is used, so loading it costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .server import XeroSandbox


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("xerosync-sandbox")
    group.addoption(
        "--xero-sandbox-time-scale",
        type=float,
        default=1.0,
        help="time scale of the session's Xero sandbox (sandbox seconds per real second)",
    )


@pytest.fixture(scope="session")
def xero_sandbox_server(request: pytest.FixtureRequest) -> Iterator[XeroSandbox]:
    """One running sandbox for the whole session (use ``xero_sandbox`` in tests)."""
    from .server import XeroSandbox

    sandbox = XeroSandbox(time_scale=request.config.getoption("--xero-sandbox-time-scale"))
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def xero_sandbox(xero_sandbox_server: XeroSandbox) -> Iterator[XeroSandbox]:
    """The running sandbox, emptied before the test (``.url``, ``.control``, ``.state``)."""
    xero_sandbox_server.seed = None
    xero_sandbox_server.reset()
    yield xero_sandbox_server


@pytest.fixture
def xero_sandbox_demo(xero_sandbox_server: XeroSandbox) -> Iterator[XeroSandbox]:
    """The running sandbox reset to the ``--seed demo`` data (``.seed_info`` has the ids)."""
    xero_sandbox_server.seed = "demo"
    try:
        xero_sandbox_server.reset()
        yield xero_sandbox_server
    finally:
        xero_sandbox_server.seed = None
