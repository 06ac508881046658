from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from flask_xerosync.sandbox import XeroSandbox
from flask_xerosync.sandbox.server import is_loopback


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "192.0.2.10"])
def test_other_hosts_are_not_loopback(host: str) -> None:
    assert not is_loopback(host)


def test_binding_beyond_loopback_warns_in_the_log_and_on_stderr(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    with caplog.at_level(logging.WARNING, logger="flask_xerosync.sandbox"):
        with XeroSandbox(host="0.0.0.0") as sandbox:
            port = sandbox.url.rsplit(":", 1)[1]
    [record] = [r for r in caplog.records if r.name == "flask_xerosync.sandbox"]
    assert record.levelno == logging.WARNING
    assert f"0.0.0.0:{port}" in record.getMessage() and "must never be exposed" in record.getMessage()
    assert "tests and demos only" in capsys.readouterr().err


def test_loopback_start_is_silent(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    with caplog.at_level(logging.WARNING, logger="flask_xerosync.sandbox"):
        with XeroSandbox():
            pass
    assert not [r for r in caplog.records if r.name == "flask_xerosync.sandbox"]
    assert "never be exposed" not in capsys.readouterr().err


def test_command_line_warns_when_bound_to_every_interface() -> None:
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-m", "flask_xerosync.sandbox", "--host", "0.0.0.0", "--port", "0"],
        cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        assert line.startswith("WARNING: The Xero sandbox is listening on 0.0.0.0:")
        assert "tests and demos only" in line
    finally:
        process.terminate()
        process.wait(timeout=10)
