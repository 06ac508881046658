"""Run the sandbox in a background thread (threaded werkzeug server) for tests and demos."""

from __future__ import annotations

import ipaddress
import logging
import socket
import sys
import threading
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import create_app
from .clock import SandboxClock
from .control import SandboxControl
from .demo import seed_demo
from .state import SandboxState


logger = logging.getLogger("flask_xerosync.sandbox")
# A library's logger: without this, Python's last-resort handler would print the warning
# a second time when the host has not configured logging (stderr gets it explicitly below).
logger.addHandler(logging.NullHandler())

EXPOSURE_WARNING = (
    "The Xero sandbox is listening on {host}:{port}, which is not a loopback address. "
    "The sandbox is for tests and demos only and must never be exposed: its control API (/_sandbox) "
    "has no authentication, answers anyone who can reach it (client secrets included) and can change "
    "everything. Bind it to 127.0.0.1 unless you know every machine that can reach this address."
)


def is_loopback(host: str) -> bool:
    """True when ``host`` (an address or a name) only reaches this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False
    return bool(infos) and all(ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos)


def warn_if_exposed(host: str, port: int) -> None:
    """Log and print (to stderr) a warning when the sandbox is bound beyond loopback."""
    if is_loopback(host):
        return
    message = EXPOSURE_WARNING.format(host=host or "*", port=port)
    logger.warning(message)
    print(f"WARNING: {message}", file=sys.stderr, flush=True)


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Keep test output clean: no access log."""


class XeroSandbox:
    """A local fake of Xero's identity service and Accounting API.

    ``XeroSandbox(time_scale=60.0)`` makes a sandbox minute last one real second.
    ``seed="demo"`` loads the demo app, user and organisations on start and on reset.
    """

    def __init__(
        self,
        time_scale: float = 1.0,
        seed: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        redirect_uris: list[str] | tuple[str, ...] = (),
        quiet: bool = True,
    ) -> None:
        if seed not in (None, "demo"):
            raise ValueError("seed must be None or 'demo'")
        self.clock = SandboxClock(time_scale)
        self.state = SandboxState(self.clock)
        self.app = create_app(self.state)
        self.seed = seed
        self.host = host
        self.port = port
        self.redirect_uris = list(redirect_uris)
        self.seed_info: dict[str, Any] | None = None
        self._initial_time_scale = float(time_scale)
        self._quiet = quiet
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._control: SandboxControl | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not running; call start() first")
        return f"http://{self.host}:{self._server.server_port}"

    @property
    def control(self) -> SandboxControl:
        if self._control is None:
            self._control = SandboxControl(self.url)
        return self._control

    def start(self) -> XeroSandbox:
        if self._server is not None:
            return self
        self._server = make_server(
            self.host, self.port, self.app, threaded=True,
            request_handler=_QuietHandler if self._quiet else None,
        )
        warn_if_exposed(self.host, self._server.server_port)
        self.state.webhooks.base_url = self.url
        self._thread = threading.Thread(target=self._server.serve_forever, name="xero-sandbox", daemon=True)
        self._thread.start()
        self._seed()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.state.close()
        if self._control is not None:
            self._control.close()
        self._server = self._thread = self._control = None

    def reset(self) -> None:
        """Back to the state right after start (empty, or freshly seeded), at the initial speed."""
        self.state.reset()
        self.clock.set_time_scale(self._initial_time_scale)
        self._seed()

    def _seed(self) -> None:
        if self.seed == "demo":
            self.seed_info = seed_demo(self.state, self.redirect_uris)

    def __enter__(self) -> XeroSandbox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
