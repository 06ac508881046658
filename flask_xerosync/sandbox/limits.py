"""Xero's API limits (per organisation and per app) and the per-organisation call counters.

The limiter has its own lock, separate from the data lock, so that requests that
are sleeping (injected latency) or waiting for the data lock still count as
"in flight" and the concurrency limit is observable.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .clock import SandboxClock

MINUTE = 60.0
DAY = 86400.0
APP_PER_MINUTE = 10000
# Xero has not published the X-Rate-Limit-Problem value of the app-wide minute limit;
# "appminute" follows the header that counts it down (X-AppMinLimit-Remaining).
APP_MINUTE_PROBLEM = "appminute"


@dataclass
class OrgLimits:
    per_minute: int = 60
    per_day: int = 5000
    concurrent: int = 5


@dataclass
class _Window:
    """A fixed window that starts at the first call made after the previous one ended."""

    length: float
    start: float | None = None
    count: int = 0

    def roll(self, now: float) -> bool:
        """Start a new window if the current one is over; True when a new one started."""
        if self.start is None or now >= self.start + self.length:
            self.start = now
            self.count = 0
            return True
        return False

    def remaining_seconds(self, now: float) -> float:
        if self.start is None:
            return 0.0
        return max(0.0, self.start + self.length - now)

    def used(self, now: float) -> int:
        if self.start is None or now >= self.start + self.length:
            return 0
        return self.count


@dataclass
class Counters:
    calls: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    rate_limited: Counter[str] = field(default_factory=Counter)
    max_concurrency: int = 0
    windows: list[dict[str, Any]] = field(default_factory=list)

    def snapshot(self, clock: SandboxClock) -> dict[str, Any]:
        return {
            "total_calls": sum(self.calls.values()),
            "calls": [
                {"method": m, "path": p, "status": s, "count": n}
                for (m, p, s), n in sorted(self.calls.items())
            ],
            "by_method": dict(_sum_by(self.calls, 0)),
            "by_status": {str(k): v for k, v in _sum_by(self.calls, 2).items()},
            "rate_limited": sum(self.rate_limited.values()),
            "rate_limited_by_problem": dict(self.rate_limited),
            "max_concurrency": self.max_concurrency,
            "calls_per_window": [
                {
                    "window_start": datetime.fromtimestamp(w["start"], tz=timezone.utc).isoformat(),
                    "calls": w["calls"],
                }
                for w in self.windows
            ],
            "time_scale": clock.time_scale,
        }


def _sum_by(calls: Counter[tuple[str, str, int]], index: int) -> Counter[Any]:
    out: Counter[Any] = Counter()
    for key, n in calls.items():
        out[key[index]] += n
    return out


@dataclass
class Decision:
    """Outcome of :meth:`Limiter.acquire`."""

    allowed: bool
    problem: str | None = None
    retry_after: float | None = None  # sandbox seconds
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _TenantState:
    overrides: dict[str, int] = field(default_factory=dict)  # set_limits; the rest follow the defaults
    minute: _Window = field(default_factory=lambda: _Window(MINUTE))
    day: _Window = field(default_factory=lambda: _Window(DAY))
    in_flight: int = 0
    counters: Counters = field(default_factory=Counters)


@dataclass
class _AppState:
    per_minute: int | None = None  # set_app_limit; None follows the default
    minute: _Window = field(default_factory=lambda: _Window(MINUTE))
    rate_limited: int = 0


class Limiter:
    """Fixed-window minute/day limits and an in-flight cap per tenant, and a minute cap per app.

    Xero's values are the defaults; ``set_defaults`` scales them for every tenant and
    app without limits of its own (benchmarks, tests), ``set_limits``/``set_app_limit``
    for one.
    """

    def __init__(self, clock: SandboxClock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._tenants: dict[str, _TenantState] = {}
        self._apps: dict[str, _AppState] = {}
        self._defaults = OrgLimits()
        self._default_app_per_minute = APP_PER_MINUTE

    def reset(self) -> None:
        with self._lock:
            self._tenants.clear()
            self._apps.clear()
            self._defaults = OrgLimits()
            self._default_app_per_minute = APP_PER_MINUTE

    def _tenant(self, tenant_id: str) -> _TenantState:
        state = self._tenants.get(tenant_id)
        if state is None:
            state = self._tenants[tenant_id] = _TenantState()
        return state

    def _app(self, client_id: str) -> _AppState:
        state = self._apps.get(client_id)
        if state is None:
            state = self._apps[client_id] = _AppState()
        return state

    def _limits(self, state: _TenantState) -> OrgLimits:
        return OrgLimits(**{**vars(self._defaults), **state.overrides})

    def _app_limit(self, state: _AppState) -> int:
        return self._default_app_per_minute if state.per_minute is None else state.per_minute

    def defaults(self) -> dict[str, int]:
        with self._lock:
            return {**vars(self._defaults), "app_per_minute": self._default_app_per_minute}

    def set_defaults(
        self,
        per_minute: int | None = None,
        per_day: int | None = None,
        concurrent: int | None = None,
        app_per_minute: int | None = None,
    ) -> dict[str, int]:
        with self._lock:
            for name, value in (("per_minute", per_minute), ("per_day", per_day), ("concurrent", concurrent)):
                if value is not None:
                    setattr(self._defaults, name, _count(name, value))
            if app_per_minute is not None:
                self._default_app_per_minute = _count("app_per_minute", app_per_minute)
        return self.defaults()

    def set_limits(
        self,
        tenant_id: str,
        per_minute: int | None = None,
        per_day: int | None = None,
        concurrent: int | None = None,
    ) -> OrgLimits:
        with self._lock:
            state = self._tenant(tenant_id)
            for name, value in (("per_minute", per_minute), ("per_day", per_day), ("concurrent", concurrent)):
                if value is not None:
                    state.overrides[name] = _count(name, value)
            return self._limits(state)

    def get_limits(self, tenant_id: str) -> OrgLimits:
        with self._lock:
            return self._limits(self._tenant(tenant_id))

    def set_app_limit(self, client_id: str, per_minute: int | None) -> None:
        """The app's own minute limit; ``None`` goes back to the default."""
        with self._lock:
            self._app(client_id).per_minute = None if per_minute is None else _count("per_minute", per_minute)

    def app_limits(self, client_id: str) -> dict[str, Any]:
        now = self._clock.timestamp()
        with self._lock:
            state = self._app(client_id)
            limit = self._app_limit(state)
            used = state.minute.used(now)
            return {"client_id": client_id, "per_minute": limit, "used": used,
                    "remaining": max(0, limit - used), "rate_limited": state.rate_limited}

    def app_call(self, client_id: str) -> Decision:
        """A tenant-less call (``/connections``): only the app-wide minute limit applies."""
        now = self._clock.timestamp()
        with self._lock:
            app = self._app(client_id)
            app.minute.roll(now)
            limit = self._app_limit(app)
            if app.minute.count >= limit:
                app.rate_limited += 1
                return Decision(False, APP_MINUTE_PROBLEM, app.minute.remaining_seconds(now),
                                {"X-AppMinLimit-Remaining": "0"})
            app.minute.count += 1
            return Decision(True, headers={"X-AppMinLimit-Remaining": str(limit - app.minute.count)})

    def acquire(self, tenant_id: str, client_id: str) -> Decision:
        """Count one call against every limit, or refuse it (a refused call is not counted)."""
        now = self._clock.timestamp()
        with self._lock:
            state = self._tenant(tenant_id)
            limits = self._limits(state)
            if state.minute.roll(now):
                state.counters.windows.append({"start": now, "calls": 0})
                del state.counters.windows[:-1000]
            state.day.roll(now)
            app = self._app(client_id)
            app.minute.roll(now)
            app_limit = self._app_limit(app)

            problem: str | None = None
            retry: float | None = None
            if state.day.count >= limits.per_day:
                problem, retry = "day", state.day.remaining_seconds(now)
            elif state.minute.count >= limits.per_minute:
                problem, retry = "minute", state.minute.remaining_seconds(now)
            elif app.minute.count >= app_limit:
                problem = APP_MINUTE_PROBLEM
                app.rate_limited += 1
            elif state.in_flight >= limits.concurrent:
                problem = "concurrent"
            if problem is None:
                state.minute.count += 1
                state.day.count += 1
                app.minute.count += 1
                state.in_flight += 1
                state.counters.max_concurrency = max(state.counters.max_concurrency, state.in_flight)
                if state.counters.windows:
                    state.counters.windows[-1]["calls"] += 1
            else:
                state.counters.rate_limited[problem] += 1
            headers = {
                "X-DayLimit-Remaining": str(max(0, limits.per_day - state.day.count)),
                "X-MinLimit-Remaining": str(max(0, limits.per_minute - state.minute.count)),
                "X-AppMinLimit-Remaining": str(max(0, app_limit - app.minute.count)),
            }
            return Decision(problem is None, problem, retry, headers)

    def release(self, tenant_id: str) -> None:
        with self._lock:
            state = self._tenant(tenant_id)
            state.in_flight = max(0, state.in_flight - 1)

    def record(self, tenant_id: str, method: str, path: str, status: int) -> None:
        with self._lock:
            self._tenant(tenant_id).counters.calls[(method, path, status)] += 1

    def counters(self, tenant_id: str) -> dict[str, Any]:
        with self._lock:
            state = self._tenant(tenant_id)
            limits = self._limits(state)
            data = state.counters.snapshot(self._clock)
            now = self._clock.timestamp()
            data["in_flight"] = state.in_flight
            data["limits"] = vars(limits)
            data["remaining"] = {
                "minute": max(0, limits.per_minute - state.minute.used(now)),
                "day": max(0, limits.per_day - state.day.used(now)),
            }
            return data

    def reset_counters(self, tenant_id: str) -> None:
        with self._lock:
            self._tenant(tenant_id).counters = Counters()


def _count(name: str, value: int) -> int:
    """A limit: 0 refuses every call (handy to provoke a 429)."""
    number = int(value)
    if number < 0:
        raise ValueError(f"{name} must not be negative")
    return number
