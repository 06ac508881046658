"""Sandbox time: real time sped up by ``time_scale`` plus manual advances.

Every window and lifetime in the sandbox (rate-limit minutes and days, token,
code and grace lifetimes, idempotency retention) is measured with this clock, so
tests can shrink a "minute" or jump a whole day without waiting.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone


class SandboxClock:
    """A monotonic clock whose seconds run ``time_scale`` times faster than real ones."""

    def __init__(self, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        self._lock = threading.Lock()
        self._time_scale = float(time_scale)
        self._origin_wall = time.time()
        self._origin_mono = time.monotonic()
        self._advanced = 0.0

    @property
    def time_scale(self) -> float:
        return self._time_scale

    def set_time_scale(self, time_scale: float) -> None:
        """Change the speed from now on without jumping the current sandbox time."""
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        with self._lock:
            current = self._timestamp_locked()
            self._origin_mono = time.monotonic()
            self._origin_wall = current - self._advanced
            self._time_scale = float(time_scale)

    def _timestamp_locked(self) -> float:
        elapsed = (time.monotonic() - self._origin_mono) * self._time_scale
        return self._origin_wall + elapsed + self._advanced

    def timestamp(self) -> float:
        """Sandbox time as POSIX seconds."""
        with self._lock:
            return self._timestamp_locked()

    def now(self) -> datetime:
        """Sandbox time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.timestamp(), tz=timezone.utc)

    def advance(self, seconds: float) -> datetime:
        """Jump sandbox time forward by ``seconds`` sandbox seconds."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._advanced += float(seconds)
        return self.now()

    def reset(self) -> None:
        """Forget manual advances (sandbox time returns to scaled real time)."""
        with self._lock:
            self._origin_wall = time.time()
            self._origin_mono = time.monotonic()
            self._advanced = 0.0

    def to_real_seconds(self, sandbox_seconds: float) -> float:
        return max(0.0, sandbox_seconds) / self._time_scale

    def format_retry_after(self, sandbox_seconds: float) -> str:
        """``Retry-After`` in real seconds: an integer at real speed, else a decimal string."""
        real = self.to_real_seconds(sandbox_seconds)
        if self._time_scale == 1.0:
            whole = int(real) if real == int(real) else int(real) + 1
            return str(max(1, whole))
        return f"{max(real, 0.001):.3f}"
