"""Per-organisation and app-wide call limiter shared by every worker through Redis.

Xero counts calls per organisation in a *fixed* minute window that starts at a moment we cannot
see, allows 5 calls in flight and a daily allowance. To never exceed the fixed window, the
limiter enforces a stricter *sliding* one: at most ``per_minute`` calls in any ``window_seconds``
span. Each call is logged while in flight with a score in the future (so it always counts) and,
when it completes, at its completion time. The completion time is no earlier than the moment Xero
counted the call, so any ``per_minute + 1`` calls that Xero could see in one of its windows would
also fall in one of ours. The cost is one round-trip's latency per window (about 99% of the rate).

Why Lua scripts rather than the ``limits`` package: ``limits`` has a Redis moving window but
only whole-second granularity (tests and benchmarks shrink a minute to fractions of a second
through the sandbox's time scale), no semaphore, no way to tell *how long* to wait, and it is one
more dependency; three short scripts do all of it atomically in one round-trip each.

The app-wide minute (10,000 calls across every organisation of one Xero app) is a second sliding
window of the same kind, keyed by the app's client id and checked in the same script, so a call is
admitted under both at once. (The script touches one organisation's keys and the app's, so the
keys do not share a Redis Cluster slot: the limiter needs one Redis server, as RQ does.)

A wait longer than ``max_wait`` seconds raises :class:`LimitWait` instead of sleeping: a sync run
then hands its worker back and continues when the limit allows (see
:mod:`flask_xerosync.worker.job`); shorter waits sleep in place.

The clock is the caller's (``clock()``, by default ``time.time``): all workers must share a
reasonably synchronised clock, as they do on one host or with NTP.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone

import redis

from ..errors import DailyLimitReached, LimitWait
from .results import LimitHeaders

_ACQUIRE = """
local now, window, per_minute = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local concurrent, per_day, day_seconds = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local token, lease, app_per_minute = ARGV[7], tonumber(ARGV[8]), tonumber(ARGV[9])
local reset_at = tonumber(redis.call('HGET', KEYS[3], 'reset_at') or '0')
local used = 0
if reset_at > now then
  used = tonumber(redis.call('HGET', KEYS[3], 'used') or '0')
end
if used >= per_day then
  return {'day', tostring(reset_at - now)}
end
local paused = tonumber(redis.call('GET', KEYS[4]) or '0')
if paused > now then
  return {'window', tostring(paused - now)}
end
local app_paused = tonumber(redis.call('GET', KEYS[6]) or '0')
if app_paused > now then
  return {'app', tostring(app_paused - now)}
end
-- Seconds until a sliding window of `limit` calls has room (0: room now).
local function window_wait(key, limit)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  if count < limit then
    return 0
  end
  local oldest = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
  return tonumber(oldest[2]) + window - now
end
local wait = window_wait(KEYS[1], per_minute)
if wait > 0 then
  return {'window', tostring(wait)}
end
wait = window_wait(KEYS[5], app_per_minute)
if wait > 0 then
  return {'app', tostring(wait)}
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= concurrent then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {'busy', tostring(tonumber(first[2]) - now)}
end
redis.call('ZADD', KEYS[2], now + lease, token)
redis.call('PEXPIRE', KEYS[2], math.ceil(lease * 1000) + 1000)
redis.call('ZADD', KEYS[1], now + lease, token)
redis.call('PEXPIRE', KEYS[1], math.ceil((lease + window) * 1000) + 1000)
redis.call('ZADD', KEYS[5], now + lease, token)
redis.call('PEXPIRE', KEYS[5], math.ceil((lease + window) * 1000) + 1000)
if reset_at > now then
  redis.call('HINCRBY', KEYS[3], 'used', 1)
else
  redis.call('HSET', KEYS[3], 'used', 1, 'reset_at', tostring(now + day_seconds))
  redis.call('PEXPIRE', KEYS[3], math.ceil(day_seconds * 1000) + 1000)
end
return {'ok', '0'}
"""

_RELEASE = """
local now, window, token, concurrent = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
redis.call('ZREM', KEYS[2], token)
redis.call('ZADD', KEYS[1], 'XX', now, token)
redis.call('ZADD', KEYS[4], 'XX', now, token)
redis.call('LPUSH', KEYS[3], '1')
redis.call('LTRIM', KEYS[3], 0, concurrent - 1)
redis.call('PEXPIRE', KEYS[3], math.ceil(window * 1000) + 1000)
return 1
"""

_OBSERVE = """
local now, window, per_minute = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local per_day, day_seconds = tonumber(ARGV[4]), tonumber(ARGV[5])
local minute_left, day_left = tonumber(ARGV[6]), tonumber(ARGV[7])
local app_left, app_per_minute = tonumber(ARGV[8]), tonumber(ARGV[9])
if day_left >= 0 then
  local target = per_day - day_left
  local reset_at = tonumber(redis.call('HGET', KEYS[3], 'reset_at') or '0')
  if reset_at <= now then
    redis.call('HSET', KEYS[3], 'used', target, 'reset_at', tostring(now + day_seconds))
    redis.call('PEXPIRE', KEYS[3], math.ceil(day_seconds * 1000) + 1000)
  else
    redis.call('HSET', KEYS[3], 'used', target)
  end
end
-- Xero says a minute is spent that our window (`calls`, of `limit`) does not know of: pause it.
local function pause_if_spent(left, calls, limit, pause)
  if left == 0 and redis.call('ZCOUNT', calls, now - window, '+inf') < limit then
    local until_ = now + window
    if until_ > tonumber(redis.call('GET', pause) or '0') then
      redis.call('SET', pause, tostring(until_), 'PX', math.ceil(window * 1000) + 1000)
    end
  end
end
pause_if_spent(minute_left, KEYS[1], per_minute, KEYS[4])
pause_if_spent(app_left, KEYS[5], app_per_minute, KEYS[6])
return 1
"""

_PAUSE = """
local until_, ttl_ms = tonumber(ARGV[1]), tonumber(ARGV[2])
if until_ > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl_ms)
end
return 1
"""

_EXHAUST_DAY = """
redis.call('HSET', KEYS[1], 'used', ARGV[1], 'reset_at', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""


_MAX_BLOCK_SECONDS = 1.0
"""Longest single wait for a free in-flight place: a release wakes a waiter at once, and this cap
re-checks for expired holders (and stays under usual Redis socket timeouts)."""


_APP_PROBLEMS = ("appminute", "appminlimit", "app")
"""``X-Rate-Limit-Problem`` values taken for the app-wide minute (Xero has not published its
spelling; compared without case, spaces or dashes)."""


def is_app_minute(problem: str) -> bool:
    """Whether a 429's ``X-Rate-Limit-Problem`` names the app-wide minute limit."""
    return "".join(ch for ch in problem.lower() if ch.isalnum()) in _APP_PROBLEMS


class RateLimiter:
    """Admits calls for one Xero organisation (``tenant_id``) of one app (``app_id``, its client
    id) across processes.

    ``with limiter.slot():`` waits until a call is allowed (sleeping exactly as long as the
    windows need, or blocking on Redis until an in-flight call ends), then counts it. Holders of
    an in-flight slot expire after ``lease_seconds``, so a killed worker cannot leak one.
    Raises :class:`DailyLimitReached` when the day's allowance is used up, and
    :class:`LimitWait` when the call would have to wait longer than ``max_wait`` seconds in all
    (``None``: wait as long as it takes).
    """

    def __init__(
        self,
        redis: redis.Redis,
        tenant_id: str,
        *,
        app_id: str = "",
        per_minute: int = 60,
        app_per_minute: int = 10000,
        window_seconds: float = 60.0,
        concurrent: int = 5,
        per_day: int = 5000,
        day_seconds: float = 86400.0,
        lease_seconds: float = 120.0,
        max_wait: float | None = None,
        key_prefix: str = "xerosync:ratelimit",
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_minute < 1 or app_per_minute < 1 or concurrent < 1 or per_day < 1:
            raise ValueError("per_minute, app_per_minute, concurrent and per_day must be at least 1")
        if window_seconds <= 0 or day_seconds <= 0 or lease_seconds <= 0:
            raise ValueError("window_seconds, day_seconds and lease_seconds must be positive")
        if max_wait is not None and max_wait < 0:
            raise ValueError("max_wait must not be negative")
        self.tenant_id = tenant_id
        self.per_minute = per_minute
        self.app_per_minute = app_per_minute
        self.max_wait = max_wait
        self.window_seconds = float(window_seconds)
        self.concurrent = concurrent
        self.per_day = per_day
        self.day_seconds = float(day_seconds)
        self.lease_seconds = float(lease_seconds)
        self._redis = redis
        self._clock = clock
        self._sleep = sleep
        base = f"{key_prefix}:{{{tenant_id}}}"
        self._window_key = f"{base}:window"
        self._inflight_key = f"{base}:inflight"
        self._day_key = f"{base}:day"
        self._pause_key = f"{base}:paused-until"
        self._wake_key = f"{base}:wake"
        app_base = f"{key_prefix}:app:{{{app_id}}}"
        self._app_window_key = f"{app_base}:window"
        self._app_pause_key = f"{app_base}:paused-until"
        self._acquire_script = redis.register_script(_ACQUIRE)
        self._release_script = redis.register_script(_RELEASE)
        self._observe_script = redis.register_script(_OBSERVE)
        self._pause_script = redis.register_script(_PAUSE)
        self._exhaust_script = redis.register_script(_EXHAUST_DAY)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one call's place under every limit for the duration of the block."""
        token = self._acquire()
        try:
            yield
        finally:
            self._release_script(
                keys=[self._window_key, self._inflight_key, self._wake_key, self._app_window_key],
                args=[repr(self._clock()), repr(self.window_seconds), token, self.concurrent],
            )

    def _acquire(self) -> str:
        token = uuid.uuid4().hex
        deadline = None if self.max_wait is None else self._clock() + self.max_wait
        while True:
            now = self._clock()
            outcome, wait_text = self._acquire_script(
                keys=[self._window_key, self._inflight_key, self._day_key, self._pause_key,
                      self._app_window_key, self._app_pause_key],
                args=[
                    repr(now),
                    repr(self.window_seconds),
                    self.per_minute,
                    self.concurrent,
                    self.per_day,
                    repr(self.day_seconds),
                    token,
                    repr(self.lease_seconds),
                    self.app_per_minute,
                ],
            )
            outcome = outcome.decode() if isinstance(outcome, bytes) else outcome
            wait = max(0.0, float(wait_text))
            if outcome == "ok":
                return token
            if outcome == "day":
                raise self._daily_limit(now + wait)
            if outcome in ("window", "app"):
                if deadline is not None and now + wait > deadline:
                    raise self._limit_wait(now + wait, "minute" if outcome == "window" else "app")
                self._sleep(min(wait, self.window_seconds))
            else:
                if deadline is not None and now >= deadline:
                    raise self._limit_wait(now + max(1.0, self.max_wait or 0.0), "concurrent")
                block = min(wait, _MAX_BLOCK_SECONDS)
                if deadline is not None:
                    block = min(block, deadline - now)
                self._redis.blpop([self._wake_key], timeout=max(0.01, block))

    def observe(self, headers: Mapping[str, str]) -> LimitHeaders:
        """Adopt what Xero says is left: its count of the day's calls (Xero's own window, which
        may have reset earlier or counted calls we did not make), and a paused minute when Xero's
        minute (the organisation's, or the whole app's: ``X-AppMinLimit-Remaining: 0``) is spent
        by calls this limiter did not see (another app or process).

        A spent day makes the *next* :meth:`slot` raise :class:`DailyLimitReached`, so the
        response that carried the header is still used.
        """
        limits = LimitHeaders.from_headers(headers)
        if limits.minute_remaining is None and limits.day_remaining is None and limits.app_minute_remaining is None:
            return limits
        self._observe_script(
            keys=[self._window_key, self._inflight_key, self._day_key, self._pause_key,
                  self._app_window_key, self._app_pause_key],
            args=[
                repr(self._clock()),
                repr(self.window_seconds),
                self.per_minute,
                self.per_day,
                repr(self.day_seconds),
                -1 if limits.minute_remaining is None else limits.minute_remaining,
                -1 if limits.day_remaining is None else limits.day_remaining,
                -1 if limits.app_minute_remaining is None else limits.app_minute_remaining,
                self.app_per_minute,
            ],
        )
        return limits

    def pause(self, seconds: float, problem: str = "") -> None:
        """Let no worker call this organisation for ``seconds`` (Xero's ``Retry-After``); when
        ``problem`` (the 429's ``X-Rate-Limit-Problem``) is the app-wide minute, no organisation
        of the app."""
        if seconds <= 0:
            return
        until = self._clock() + seconds
        key = self._app_pause_key if is_app_minute(problem) else self._pause_key
        self._pause_script(keys=[key], args=[repr(until), math.ceil(seconds * 1000) + 1000])

    def exhaust_day(self, seconds: float) -> DailyLimitReached:
        """Record that Xero refused the day for ``seconds``; returns the error to raise."""
        resume_at = self._clock() + max(0.0, seconds)
        self._exhaust_script(
            keys=[self._day_key], args=[self.per_day, repr(resume_at), math.ceil(seconds * 1000) + 1000]
        )
        return self._daily_limit(resume_at)

    def _limit_wait(self, resume_at: float, limit: str) -> LimitWait:
        moment = datetime.fromtimestamp(resume_at, tz=timezone.utc)
        what = {
            "minute": "Xero's limit of calls a minute for this organisation",
            "app": "Xero's limit of calls a minute for this app (all organisations together)",
            "concurrent": "Xero's limit of calls at once for this organisation",
        }[limit]
        return LimitWait(f"{what} calls for a wait; syncing goes on at {moment:%H:%M:%S} UTC.", moment, limit)

    def _daily_limit(self, resume_at: float) -> DailyLimitReached:
        retry_at = datetime.fromtimestamp(math.ceil(resume_at), tz=timezone.utc)
        return DailyLimitReached(
            f"Xero's daily allowance of calls for this organisation is used up; "
            f"syncing can resume at {retry_at:%Y-%m-%d %H:%M} UTC.",
            retry_at=retry_at,
        )
