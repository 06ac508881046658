"""``python -m example_app`` (what ``make demo`` runs): the whole product on one machine.

Starts, in order: a private Redis (:class:`flask_xerosync.testing.RedisServer`), the Xero sandbox
seeded with demo organisations, a fresh SQLite database with the demo businesses, an RQ worker
(``flask xerosync worker``) and the example app (``flask run``). Each child runs in its own process
group with its output in ``<run dir>/logs/``; Ctrl-C or SIGTERM stops them all (terminate, then
kill after a grace period), and so does any child that dies on its own.

Ports come from ``--port``/``DEMO_PORT`` (default 5000) and ``--sandbox-port``/``SANDBOX_PORT``
(default 5055); the run folder from ``--run-dir``/``DEMO_RUN_DIR`` (default ``.run/`` in the
checkout, which git ignores).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import redis
import requests
import rq
from cryptography.fernet import Fernet

from flask_xerosync.sandbox.control import SandboxControl, SandboxError
from flask_xerosync.sandbox.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from flask_xerosync.testing import RedisServer

from .seed import DEMO_LOGINS

CHECKOUT = Path(__file__).resolve().parent.parent
HTMX_FILE = CHECKOUT / "vendor" / "htmx.min.js"
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
WEBHOOK_PATH = "/settings/accounting-sync/webhooks"
EXIT_STOPPED, EXIT_FAILED, EXIT_UNUSABLE = 0, 1, 2


class DemoError(RuntimeError):
    """The demo cannot start or a part of it stopped; the message says what to do."""


class Interrupted(Exception):
    """Ctrl-C or SIGTERM arrived while the demo was starting."""


@dataclass(frozen=True)
class DemoSettings:
    host: str
    app_port: int
    sandbox_port: int
    run_dir: Path

    @property
    def app_url(self) -> str:
        return f"http://{self.host}:{self.app_port}"

    @property
    def sandbox_url(self) -> str:
        return f"http://{self.host}:{self.sandbox_port}"

    @property
    def database_path(self) -> Path:
        return self.run_dir / "demo.sqlite"

    @property
    def log_dir(self) -> Path:
        return self.run_dir / "logs"


def parse_args(argv: Sequence[str] | None, environ: Mapping[str, str]) -> DemoSettings:
    parser = argparse.ArgumentParser(prog="python -m example_app", description="Run the flask-xerosync demo.")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=int(environ.get("DEMO_PORT", 5000)),
                        help="the example app's port (DEMO_PORT, default 5000)")
    parser.add_argument("--sandbox-port", type=int, default=int(environ.get("SANDBOX_PORT", 5055)),
                        help="the Xero sandbox's port (SANDBOX_PORT, default 5055)")
    parser.add_argument("--run-dir", type=Path, default=Path(environ.get("DEMO_RUN_DIR", CHECKOUT / ".run")),
                        help="database and logs (DEMO_RUN_DIR, default .run/ in the checkout)")
    args = parser.parse_args(argv)
    return DemoSettings(args.host, args.port, args.sandbox_port, args.run_dir.resolve())


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` (as werkzeug binds: with SO_REUSEADDR)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def check_ports(settings: DemoSettings) -> None:
    if settings.app_port == settings.sandbox_port:
        problems = [f"the app and the sandbox cannot share port {settings.app_port}"]
    else:
        problems = [
            f"port {port} ({part}) is already in use"
            for part, port in (("the app", settings.app_port), ("the sandbox", settings.sandbox_port))
            if not port_is_free(settings.host, port)
        ]
    if problems:
        raise DemoError(
            f"Cannot start the demo on {settings.host}: {'; '.join(problems)}. "
            "Is another demo still running? Stop it, or pick other ports, e.g. "
            "DEMO_PORT=5100 SANDBOX_PORT=5155 make demo"
        )


class ManagedProcess:
    """A child process in its own process group, its output in a log file."""

    def __init__(self, name: str, command: Sequence[str], env: Mapping[str, str], log_path: Path) -> None:
        self.name = name
        self.command = list(command)
        self.env = dict(env)
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._returncode: int | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                self.command,
                cwd=CHECKOUT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def exit_code(self) -> int | None:
        """The exit code once the process has ended; None while it runs (or before it starts)."""
        return self._process.poll() if self._process else self._returncode

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM to the whole group, SIGKILL after ``timeout``; then sweep what is left of the group."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
        _signal_group(process.pid, signal.SIGKILL)
        self._returncode = process.returncode
        self._process = None


def _signal_group(group_id: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group_id, signum)


class DemoStack:
    """Starts the parts in order and stops them in reverse; ``stop_requested`` interrupts a start."""

    def __init__(self, settings: DemoSettings, stop_requested: threading.Event) -> None:
        self.settings = settings
        self.stop_requested = stop_requested
        self.redis = RedisServer()
        self.processes: list[ManagedProcess] = []
        self._redis_started = False

    def start(self) -> None:
        """Start every part, each once the one before it answers."""
        settings = self.settings
        settings.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.redis.start()
        except RuntimeError as exc:
            raise DemoError(f"Cannot start Redis: {exc}") from exc
        self._redis_started = True
        env = demo_environment(settings, self.redis.url)
        self._check_stop()

        sandbox = self._spawn("sandbox", [
            sys.executable, "-m", "flask_xerosync.sandbox",
            "--host", settings.host, "--port", str(settings.sandbox_port), "--seed", "demo",
            *redirect_uri_flags(settings),
        ], env)
        self._await(sandbox, lambda: _answers(settings.sandbox_url + "/_sandbox/state"))

        create_demo_database(settings, env)
        self._check_stop()

        worker = self._spawn(
            "worker", [sys.executable, "-m", "flask", "--app", "example_app", "xerosync", "worker"], env
        )
        self._await(worker, lambda: _worker_registered(self.redis.url))

        app = self._spawn("app", [
            sys.executable, "-m", "flask", "--app", "example_app", "run",
            "--host", settings.host, "--port", str(settings.app_port), "--no-reload", "--no-debugger",
        ], env)
        self._await(app, lambda: _answers(settings.app_url + "/login"))
        subscribe_to_webhooks(settings, env["XEROSYNC_WEBHOOK_KEY"])

    def first_stopped(self) -> ManagedProcess | None:
        return next((process for process in self.processes if process.exit_code() is not None), None)

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()
        if self._redis_started:
            self.redis.stop()
            self._redis_started = False

    def _spawn(self, name: str, command: Sequence[str], env: Mapping[str, str]) -> ManagedProcess:
        process = ManagedProcess(name, command, env, self.settings.log_dir / f"{name}.log")
        self.processes.append(process)
        process.start()
        return process

    def _await(self, process: ManagedProcess, ready: Callable[[], bool]) -> None:
        """Wait until ``ready()``; fail early, with its log, if the process exits first."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not ready():
            code = process.exit_code()
            if code is not None:
                raise DemoError(
                    f"The {process.name} exited with code {code} while starting. "
                    f"Last lines of {process.log_path}:\n{process.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise DemoError(
                    f"The {process.name} did not become ready in {STARTUP_TIMEOUT:.0f}s; see {process.log_path}."
                )
            if self.stop_requested.wait(0.1):
                raise Interrupted

    def _check_stop(self) -> None:
        if self.stop_requested.is_set():
            raise Interrupted


def redirect_uri_flags(settings: DemoSettings) -> list[str]:
    """The callback URLs the sandbox's demo app must accept: the app's port, by address and by name."""
    hosts = dict.fromkeys([settings.host, "localhost"] if settings.host == "127.0.0.1" else [settings.host])
    flags: list[str] = []
    for host in hosts:
        flags += ["--redirect-uri", f"http://{host}:{settings.app_port}/settings/accounting-sync/callback"]
    return flags


def demo_environment(settings: DemoSettings, redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONUNBUFFERED="1",
        SECRET_KEY=secrets.token_hex(32),
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{settings.database_path}",
        XEROSYNC_CLIENT_ID=DEMO_CLIENT_ID,
        XEROSYNC_CLIENT_SECRET=DEMO_CLIENT_SECRET,
        XEROSYNC_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        XEROSYNC_REDIS_URL=redis_url,
        XEROSYNC_SANDBOX_URL=settings.sandbox_url,
        XEROSYNC_ALLOW_SANDBOX="true",  # the demo's app and worker run against the sandbox on purpose
        XEROSYNC_HTMX_URL="/vendor/htmx.min.js",
        # the sandbox sends Xero's webhooks to the demo app (subscribed once it answers)
        XEROSYNC_WEBHOOK_KEY=secrets.token_urlsafe(24),
        XEROSYNC_WEBHOOK_DELAY="5",
    )
    return env


def create_demo_database(settings: DemoSettings, env: Mapping[str, str]) -> None:
    """A fresh SQLite file with the app's and the extension's tables and the demo businesses."""
    from . import create_app
    from .models import db
    from .seed import create_tables, seed_demo

    settings.database_path.unlink(missing_ok=True)
    app = create_app({key: env[key] for key in env if key.startswith(("XEROSYNC_", "SQLALCHEMY_", "SECRET_"))})
    with app.app_context():
        create_tables()
        seed_demo()
        db.session.remove()
        db.engine.dispose()


def _answers(url: str) -> bool:
    try:
        requests.get(url, timeout=2, allow_redirects=False)
    except requests.RequestException:
        return False
    return True


def _worker_registered(redis_url: str) -> bool:
    connection = redis.Redis.from_url(redis_url)
    try:
        return rq.Worker.count(connection=connection) > 0
    finally:
        connection.close()


def subscribe_to_webhooks(settings: DemoSettings, signing_key: str) -> None:
    """Subscribe the demo's Xero app to webhooks delivered to the demo app, as one does in Xero's
    developer portal (the sandbox runs Intent to Receive against the app before it answers)."""
    control = SandboxControl(settings.sandbox_url, timeout=30)
    try:
        hook = control.register_webhook(DEMO_CLIENT_ID, settings.app_url + WEBHOOK_PATH, signing_key=signing_key)
    except (SandboxError, requests.RequestException) as exc:
        raise DemoError(f"The sandbox could not subscribe the demo app to webhooks: {exc}") from exc
    finally:
        control.close()
    if hook.get("status") != "OK":
        raise DemoError(f"The sandbox could not deliver webhooks to the demo app: {hook.get('reason')}")


def sandbox_lines(sandbox_url: str) -> list[str]:
    """Who to consent as in the sandbox and which organisations they can pick, for the banner."""
    control = SandboxControl(sandbox_url, timeout=5)
    try:
        world = control.state()
    except (SandboxError, requests.RequestException):
        return [f"  Xero       {sandbox_url}  (the sandbox)"]
    finally:
        control.close()
    lines = [f"  Xero       {sandbox_url}  (the sandbox; its consent page signs you in as:)"]
    lines += [f"               {user['name']} <{user['email']}>" for user in world.get("users", [])]
    lines += [f"             organisation: {org['name']} ({org['country']})" for org in world.get("orgs", [])]
    return lines


def banner(settings: DemoSettings) -> str:
    lines = [
        "",
        "flask-xerosync demo is running",
        f"  Open       {settings.app_url}  (log in, then the gear icon > Accounting Sync)",
    ]
    for email, password, business in DEMO_LOGINS:
        lines.append(f"  Log in as  {email} / {password}  - {business}")
    lines += sandbox_lines(settings.sandbox_url)
    lines.append(f"  Logs       {settings.log_dir}/")
    lines.append(f"  Database   {settings.database_path}")
    lines.append("Press Ctrl-C to stop everything.")
    return "\n".join(lines)


def run(argv: Sequence[str] | None = None) -> int:
    settings = parse_args(argv, os.environ)
    try:
        check_ports(settings)
    except DemoError as exc:
        print(exc, file=sys.stderr)
        return EXIT_UNUSABLE
    if not HTMX_FILE.is_file():
        print(f"{HTMX_FILE} is missing: run 'make vendor' (or 'make demo', which does it).", file=sys.stderr)
        return EXIT_UNUSABLE

    stop_requested = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop_requested.set()

    previous = {signum: signal.signal(signum, request_stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    stack = DemoStack(settings, stop_requested)
    try:
        print(f"Starting Redis, the Xero sandbox, the worker and the app (logs in {settings.log_dir}/)...", flush=True)
        stack.start()
        print(banner(settings), flush=True)
        while not stop_requested.wait(1.0):
            stopped = stack.first_stopped()
            if stopped is not None:
                print(
                    f"The {stopped.name} stopped (exit code {stopped.exit_code()}); stopping the demo. "
                    f"Last lines of {stopped.log_path}:\n{stopped.log_tail()}",
                    file=sys.stderr,
                )
                return EXIT_FAILED
        return EXIT_STOPPED
    except Interrupted:
        return EXIT_STOPPED
    except DemoError as exc:
        print(exc, file=sys.stderr)
        return EXIT_FAILED
    finally:
        print("Stopping the demo...", flush=True)
        stack.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        print("Stopped.", flush=True)


def main() -> None:
    sys.exit(run())
