"""How the demo launcher stops a child: SIGTERM to its process group, SIGKILL after the grace period,
then a sweep of whatever is left in the group."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from example_app.demo import ManagedProcess

IGNORE_SIGTERM = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)"


def await_log(process: ManagedProcess, text: str, timeout: float = 30.0) -> str:
    """The child's log once it contains ``text`` (bounded polling: a log file cannot be awaited)."""
    deadline = time.monotonic() + timeout
    while text not in (log := process.log_path.read_text()):
        assert process.exit_code() is None, log
        assert time.monotonic() < deadline, f"no {text!r} in {process.log_path}: {log!r}"
        time.sleep(0.05)
    return log


def is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    script = f"{IGNORE_SIGTERM}; import time; print('ready', flush=True); time.sleep(120)"
    process = ManagedProcess("stubborn", [sys.executable, "-c", script], dict(os.environ), tmp_path / "stubborn.log")
    process.start()
    assert process.pid is not None and os.getpgid(process.pid) == process.pid
    await_log(process, "ready")
    pid = process.pid

    process.stop(timeout=0.5)

    assert process.exit_code() == -signal.SIGKILL
    assert not is_running(pid)
    assert process.pid is None


def test_what_is_left_of_the_group_is_swept(tmp_path: Path) -> None:
    """The leader exits on SIGTERM but leaves a child that ignores it: the sweep kills that child."""
    grandchild = f"{IGNORE_SIGTERM}; import os, time; print('grandchild', os.getpid(), flush=True); time.sleep(120)"
    script = f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {grandchild!r}]); time.sleep(120)"
    process = ManagedProcess("leader", [sys.executable, "-c", script], dict(os.environ), tmp_path / "leader.log")
    process.start()
    log = await_log(process, "grandchild")
    grandchild_pid = int(log.split("grandchild", 1)[1].split()[0])
    assert is_running(grandchild_pid)

    process.stop(timeout=10)

    assert process.exit_code() == -signal.SIGTERM
    deadline = time.monotonic() + 10
    while is_running(grandchild_pid):
        assert time.monotonic() < deadline, "the grandchild survived the sweep"
        time.sleep(0.05)


def test_stopping_a_child_that_already_exited_is_harmless(tmp_path: Path) -> None:
    process = ManagedProcess("quick", [sys.executable, "-c", "print('bye')"], dict(os.environ), tmp_path / "quick.log")
    process.start()
    await_log(process, "bye")
    process.stop()
    process.stop()
    assert process.exit_code() == 0
    assert process.pid is None
