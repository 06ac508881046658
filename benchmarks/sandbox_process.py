"""The sandbox as a separate process for the benchmarks (so its CPU is not the engine's)."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def start_sandbox(time_scale: float) -> tuple[subprocess.Popen[str], str]:
    """Start ``python -m flask_xerosync.sandbox`` on a free port; return the process and its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "flask_xerosync.sandbox", "--port", "0", "--time-scale", str(time_scale)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    threading.Thread(target=process.stdout.read, daemon=True).start()
    match = re.search(r"running at (http://\S+)", line)
    if match is None:
        process.kill()
        raise RuntimeError(f"the sandbox did not start: {line!r}")
    return process, match.group(1)
