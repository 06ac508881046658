"""``python -m example_app`` (``make demo``) on free ports: it starts every part, a person can connect
and sync with what it starts, and SIGINT, SIGTERM or a part dying stops them all, leaving no process
behind; busy ports are refused before anything starts."""

from __future__ import annotations

import base64
import hashlib
import os
import queue
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from example_app.seed import DEMO_LOGINS
from flask_xerosync.config import HTMX_INTEGRITY
from flask_xerosync.sandbox.control import SandboxControl
from flask_xerosync.testing import free_port

pytestmark = pytest.mark.slow

CHECKOUT = Path(__file__).resolve().parents[2]
READY_MARKER = "Press Ctrl-C to stop everything."
STARTUP_TIMEOUT = 120.0
STOP_TIMEOUT = 60.0


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state first, then the parent pid)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rsplit(")", 1)[1].split()


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None and int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def descendants(pid: int) -> list[int]:
    found = []
    pending = children(pid)
    while pending:
        child = pending.pop()
        found.append(child)
        pending.extend(children(child))
    return found


def is_running(pid: int) -> bool:
    fields = _stat_fields(pid)
    return fields is not None and fields[0] != "Z"


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError):
        return ""


@dataclass
class RunningDemo:
    process: subprocess.Popen[str]
    app_url: str
    sandbox_url: str
    run_dir: Path
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    output: list[str] = field(default_factory=list)

    def read_until(self, marker: str, timeout: float) -> None:
        """Block on the launcher's output until a line contains ``marker`` (or it ends)."""
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                pytest.fail(f"no {marker!r} within {timeout}s; output so far:\n{self.transcript()}")
            if line is None:
                pytest.fail(f"the launcher ended before {marker!r}:\n{self.transcript()}")
            self.output.append(line)
            if marker in line:
                return

    def wait(self) -> int:
        code = self.process.wait(timeout=STOP_TIMEOUT)
        while (line := self.lines.get(timeout=STOP_TIMEOUT)) is not None:
            self.output.append(line)
        return code

    def transcript(self) -> str:
        return "".join(self.output)

    def child_pids(self) -> dict[int, str]:
        return {pid: command_line(pid) for pid in descendants(self.process.pid)}

    def part_pids(self) -> dict[int, str]:
        """The parts the launcher started (its children; the worker's own child, RQ's scheduler,
        lives in the worker's process group)."""
        return {pid: command_line(pid) for pid in children(self.process.pid)}


def launch(run_dir: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "example_app", "--run-dir", str(run_dir), *args],
        cwd=CHECKOUT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[RunningDemo]:
    app_port = free_port()
    sandbox_port = free_port()
    assert app_port != sandbox_port
    process = launch(tmp_path / "run", "--port", str(app_port), "--sandbox-port", str(sandbox_port))
    running = RunningDemo(
        process, f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{sandbox_port}", tmp_path / "run"
    )

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            running.lines.put(line)
        running.lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    leftovers: dict[int, str] = {}
    try:
        running.read_until(READY_MARKER, STARTUP_TIMEOUT)
        leftovers = running.child_pids()
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for pid in leftovers:
            if is_running(pid):
                with suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def assert_every_part_started(children_by_pid: dict[int, str]) -> None:
    commands = list(children_by_pid.values())
    for part in ("redis-server", "flask_xerosync.sandbox", "xerosync worker", "example_app run"):
        assert any(part in command for command in commands), f"no {part} among {commands}"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_stops_every_part(demo: RunningDemo, signum: signal.Signals) -> None:
    assert requests.get(f"{demo.app_url}/login", timeout=10).status_code == 200
    htmx = requests.get(f"{demo.app_url}/vendor/htmx.min.js", timeout=10)
    assert htmx.status_code == 200
    assert "sha384-" + base64.b64encode(hashlib.sha384(htmx.content).digest()).decode() == HTMX_INTEGRITY
    started = demo.child_pids()
    assert_every_part_started(started)
    parts = demo.part_pids()
    assert all(os.getpgid(pid) == pid for pid, command in parts.items() if "redis-server" not in command)

    demo.process.send_signal(signum)

    assert demo.wait() == 0, demo.transcript()
    assert "Stopped." in demo.transcript()
    assert [pid for pid in started if is_running(pid)] == []
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{demo.app_url}/login", timeout=5)


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, html[:2000]
    return match.group(1)


def finished_runs(database: Path) -> list[tuple[str, str]]:
    with closing(sqlite3.connect(database)) as connection:
        return connection.execute(
            "SELECT kind, status, error FROM xerosync_run WHERE status NOT IN ('queued', 'running') "
            "ORDER BY created_at"
        ).fetchall()


def test_the_demo_connects_to_its_sandbox_and_syncs_through_its_worker(demo: RunningDemo) -> None:
    """What a person does first in the demo, headless: log in, connect, consent, Sync Now!."""
    browser = requests.Session()
    login_page = browser.get(f"{demo.app_url}/login", timeout=10).text
    email, password, _ = DEMO_LOGINS[0]
    logged_in = browser.post(
        f"{demo.app_url}/login", data={"email": email, "password": password, "csrf_token": csrf_token(login_page)},
        allow_redirects=False, timeout=10,
    )
    assert logged_in.status_code == 302
    settings = f"{demo.app_url}/settings/accounting-sync/"
    connect = browser.post(
        settings + "connect", data={"csrf_token": csrf_token(browser.get(settings, timeout=10).text)},
        allow_redirects=False, timeout=10,
    )
    assert connect.headers["Location"].startswith(f"{demo.sandbox_url}/identity/connect/authorize?")

    control = SandboxControl(demo.sandbox_url)
    callback = control.authorize(connect.headers["Location"])
    assert callback.startswith(f"{settings}callback?")
    connected = browser.get(callback, timeout=10)
    assert connected.status_code == 200
    assert "Harbour Field Services Ltd" in connected.text

    database = demo.run_dir / "demo.sqlite"
    for number in (1, 2):  # the first Sync Now! is the preview, the second the sync
        page = browser.get(settings, timeout=10).text
        started = browser.post(settings + "sync", data={"csrf_token": csrf_token(page)}, timeout=10)
        assert started.status_code == 200
        deadline = time.monotonic() + 90
        while len(runs := finished_runs(database)) < number:
            assert time.monotonic() < deadline, "the demo's worker did not finish the run"
            assert demo.process.poll() is None, demo.transcript()
            time.sleep(0.2)
    assert runs == [("preview", "done", ""), ("sync", "done", "")]
    (tenant,) = [org["tenant_id"] for org in control.state()["orgs"] if org["name"] == "Harbour Field Services Ltd"]
    names = [contact["Name"] for contact in control.contacts(tenant)]
    assert {"Harper & Sons Plumbing", "Riverside Veterinary Clinic"} <= set(names)
    assert names.count("Summit Fitness") == 1 and "Summit Fitness Studio" not in names, "linked by its contact code"
    control.close()


def test_a_part_that_dies_stops_the_demo(demo: RunningDemo) -> None:
    started = demo.child_pids()
    (worker,) = [pid for pid, command in demo.part_pids().items() if "xerosync worker" in command]

    os.kill(worker, signal.SIGKILL)

    assert demo.wait() == 1
    assert "The worker stopped (exit code -9)" in demo.transcript()
    assert [pid for pid in started if is_running(pid)] == []


def test_a_busy_port_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "example_app", "--run-dir", str(tmp_path / "run"),
             "--port", str(port), "--sandbox-port", str(free_port())],
            cwd=CHECKOUT, capture_output=True, text=True, timeout=60, check=False,
        )
    assert result.returncode == 2
    assert f"port {port} (the app) is already in use" in result.stderr
    assert "DEMO_PORT=" in result.stderr
    assert not (tmp_path / "run").exists()


def test_one_port_for_both_is_refused(tmp_path: Path) -> None:
    port = free_port()
    result = subprocess.run(
        [sys.executable, "-m", "example_app", "--run-dir", str(tmp_path / "run"),
         "--port", str(port), "--sandbox-port", str(port)],
        cwd=CHECKOUT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 2
    assert f"the app and the sandbox cannot share port {port}" in result.stderr
