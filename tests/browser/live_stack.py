"""The live stack the browser drives: the example app behind a real HTTP server, a real RQ worker
process, the Xero sandbox and a private Redis, each on a free port.

Readiness is awaited with bounded polling loops, never fixed sleeps. The ``live_stack`` fixture
(conftest.py) starts the parts in dependency order and stops them in reverse.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import redis
import requests
from flask import Flask
from rq import Worker
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

if TYPE_CHECKING:
    from flask_xerosync.sandbox import SandboxControl, XeroSandbox

PROJECT_ROOT = Path(__file__).resolve().parents[2]
HTMX_FILE = PROJECT_ROOT / "vendor" / "htmx.min.js"
HTMX_URL = "/vendor/htmx.min.js"
CALLBACK_PATH = "/settings/accounting-sync/callback"
WEBHOOK_PATH = "/settings/accounting-sync/webhooks"
WEBHOOK_KEY = "browser-webhook-signing-key"
HOST = "127.0.0.1"


class StackError(RuntimeError):
    """A part of the live stack did not start; the message says which and shows its log."""


def await_condition(check: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll ``check`` until it holds, or fail after ``timeout`` seconds naming ``what``."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise StackError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


class QuietRequestHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """No access log: the journey makes hundreds of polling requests."""


class AppServer:
    """A Flask app served by Werkzeug's threaded server in a background thread.

    The socket is bound when the object is built, so ``url`` is known before the first request
    (the sandbox needs the callback URL at app registration).
    """

    def __init__(self, app: Flask) -> None:
        self._server: BaseWSGIServer = make_server(HOST, 0, app, threaded=True, request_handler=QuietRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="live-app", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._server.server_port}"

    def start(self) -> None:
        self._thread.start()
        try:
            await_condition(self._answers, timeout=15, what=f"the example app at {self.url}")
        except StackError:
            self.stop()
            raise

    def _answers(self) -> bool:
        try:
            return requests.get(f"{self.url}/login", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


class WorkerProcess:
    """``python -m flask --app example_app xerosync worker`` as a real subprocess."""

    def __init__(self, env: Mapping[str, str], redis_url: str, log_path: Path) -> None:
        self._env = dict(env)
        self._redis_url = redis_url
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "example_app", "xerosync", "worker"],
                cwd=PROJECT_ROOT,
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        connection = redis.Redis.from_url(self._redis_url)
        try:
            await_condition(
                lambda: self._registered(connection), timeout=30, what="the RQ worker to register in Redis"
            )
        except StackError as exc:
            self.stop()
            raise StackError(f"{exc}\n--- worker log ---\n{self.log()}") from None
        finally:
            connection.close()

    def _registered(self, connection: redis.Redis) -> bool:
        if self._process is not None and self._process.poll() is not None:
            raise StackError(f"the RQ worker exited with status {self._process.returncode}")
        return bool(Worker.all(connection=connection))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        """SIGTERM (RQ's warm shutdown) to the worker's process group, SIGKILL if it lingers."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@dataclass
class SandboxOrg:
    tenant_id: str
    name: str


@dataclass
class LiveStack:
    """The running stack, as the tests see it."""

    app_url: str
    sandbox: XeroSandbox
    redis_url: str
    database_url: str
    app: Flask
    worker: WorkerProcess
    orgs: dict[str, SandboxOrg] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)

    @property
    def control(self) -> SandboxControl:
        return self.sandbox.control

    @property
    def callback_url(self) -> str:
        return self.app_url + CALLBACK_PATH

    @property
    def webhook_url(self) -> str:
        return self.app_url + WEBHOOK_PATH

    def url(self, path: str) -> str:
        return self.app_url + path


def ensure_htmx_vendored() -> None:
    if not HTMX_FILE.is_file():
        raise StackError(
            f"{HTMX_FILE.relative_to(PROJECT_ROOT)} is missing: run `make vendor/htmx.min.js` "
            "(make test does it) so the pages load htmx from the example app."
        )


def subprocess_env(config: Mapping[str, str]) -> dict[str, str]:
    """The environment of the worker: the same settings the in-thread app got, as env vars."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("XEROSYNC_", "FLASK_"))}
    env.update(config)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env
