"""The shared limiter against a real Redis, with an injected clock where time matters."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest
import redis

from flask_xerosync.errors import DailyLimitReached
from flask_xerosync.xero.ratelimit import RateLimiter

TENANT = "8c0f7a1e-0000-4000-8000-00000000abcd"


class FakeTime:
    """A clock that only moves when someone sleeps (or a test advances it)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def limiter(redis_client: redis.Redis, fake: FakeTime, **options: float) -> RateLimiter:
    return RateLimiter(redis_client, TENANT, clock=fake.clock, sleep=fake.sleep, **options)  # type: ignore[arg-type]


def test_calls_within_the_window_pass_without_waiting(redis_client: redis.Redis) -> None:
    fake = FakeTime()
    limit = limiter(redis_client, fake, per_minute=5, window_seconds=10.0)
    for _ in range(5):
        with limit.slot():
            pass
    assert fake.sleeps == []


def test_the_next_call_waits_exactly_until_the_oldest_leaves_the_window(redis_client: redis.Redis) -> None:
    fake = FakeTime()
    limit = limiter(redis_client, fake, per_minute=3, window_seconds=10.0)
    for _ in range(3):
        with limit.slot():
            fake.now += 1.0  # each call takes a second; it counts from when it completed
    start = fake.now
    with limit.slot():
        pass
    assert fake.sleeps == [pytest.approx(10.0 - 2.0)]  # first completed at start-2, free at start+8
    assert fake.now == pytest.approx(start + 8.0)


def test_sliding_window_never_lets_more_than_per_minute_calls_into_any_window(redis_client: redis.Redis) -> None:
    """Xero's fixed window can start anywhere: any call started no earlier than
    ``per_minute`` calls before it completed plus a whole window."""
    fake = FakeTime()
    per_minute, window = 4, 6.0
    limit = limiter(redis_client, fake, per_minute=per_minute, window_seconds=window)
    starts, ends = [], []
    for n in range(30):
        with limit.slot():
            starts.append(fake.now)
            fake.now += 0.25 + (n % 3) * 0.1
            ends.append(fake.now)
    for i in range(len(starts) - per_minute):
        assert starts[i + per_minute] >= ends[i] + window - 1e-9
    for moment in starts:
        in_any_window = sum(1 for s in starts if moment <= s < moment + window)
        assert in_any_window <= per_minute
    # Throughput: one window plus one call's latency per ``per_minute`` calls.
    elapsed = ends[-1] - starts[0]
    assert len(starts) / elapsed >= 0.9 * per_minute / (window + 0.45)


def test_in_flight_calls_always_count_in_the_window(redis_client: redis.Redis) -> None:
    fake = FakeTime()
    limit = limiter(redis_client, fake, per_minute=2, window_seconds=5.0, concurrent=5, lease_seconds=100.0)
    with limit.slot():
        fake.now += 20.0  # a slow call that outlives the window still holds its place
        with limit.slot():
            waits_before = list(fake.sleeps)
            assert waits_before == []
        finished_inner = fake.now
        with limit.slot():
            pass
        # the third call had to wait for the inner call's completion + window
        assert fake.now >= finished_inner + 5.0


def test_a_killed_worker_does_not_leak_its_slot(redis_client: redis.Redis) -> None:
    fake = FakeTime()
    limit = limiter(redis_client, fake, per_minute=100, window_seconds=1.0, concurrent=1, lease_seconds=3.0)
    abandoned = limit.slot()
    abandoned.__enter__()  # a worker killed mid-call never releases
    fake.now += 3.5
    with limit.slot():
        pass
    assert fake.sleeps == []


def test_workers_share_the_window_through_redis(redis_url: str) -> None:
    fake = FakeTime()
    workers = [
        RateLimiter(redis.Redis.from_url(redis_url), TENANT, per_minute=3, window_seconds=10.0,
                    clock=fake.clock, sleep=fake.sleep)
        for _ in range(3)
    ]
    for worker in workers:
        with worker.slot():
            pass
    with workers[0].slot():
        pass
    assert fake.sleeps == [pytest.approx(10.0)]
    other = RateLimiter(redis.Redis.from_url(redis_url), "another-tenant", per_minute=3, window_seconds=10.0,
                        clock=fake.clock, sleep=fake.sleep)
    with other.slot():
        pass
    assert len(fake.sleeps) == 1


def test_daily_allowance_raises_with_the_moment_it_comes_back(redis_client: redis.Redis) -> None:
    fake = FakeTime(start=1_800_000_000.0)
    limit = limiter(redis_client, fake, per_minute=100, per_day=3, day_seconds=1000.0)
    for _ in range(3):
        with limit.slot():
            pass
    fake.now += 100.0
    with pytest.raises(DailyLimitReached) as raised:
        with limit.slot():
            pass
    assert raised.value.retry_at == datetime.fromtimestamp(1_800_001_000, tz=timezone.utc)
    assert "daily" in str(raised.value)


def test_a_day_refused_by_xero_holds_until_retry_after(redis_client: redis.Redis) -> None:
    fake = FakeTime(start=1_800_000_000.0)
    limit = limiter(redis_client, fake)
    error = limit.exhaust_day(7200.0)
    assert error.retry_at == datetime.fromtimestamp(1_800_007_200, tz=timezone.utc)
    with pytest.raises(DailyLimitReached) as raised:
        with limit.slot():
            pass
    assert raised.value.retry_at == error.retry_at
    fake.now += 7200.0
    with limit.slot():
        pass


def test_xero_day_remaining_is_adopted_and_zero_stops_the_next_call(redis_client: redis.Redis) -> None:
    fake = FakeTime()
    limit = limiter(redis_client, fake, per_minute=100, per_day=5000, day_seconds=86400.0)
    with limit.slot():
        pass
    limits = limit.observe({"X-DayLimit-Remaining": "2", "X-MinLimit-Remaining": "55"})
    assert (limits.day_remaining, limits.minute_remaining) == (2, 55)
    for _ in range(2):
        with limit.slot():
            pass
    with pytest.raises(DailyLimitReached):
        with limit.slot():
            pass


def test_a_day_that_xero_reset_earlier_is_followed(redis_client: redis.Redis) -> None:
    fake = FakeTime()
    limit = limiter(redis_client, fake, per_minute=100, per_day=3)
    for _ in range(3):
        with limit.slot():
            pass
    limit.observe({"X-DayLimit-Remaining": "2"})  # Xero's window rolled over after our 2nd call
    with limit.slot():
        pass


def test_day_remaining_zero_raises_on_the_next_slot_not_on_the_response(redis_client: redis.Redis) -> None:
    fake = FakeTime()
    limit = limiter(redis_client, fake)
    with limit.slot():
        pass
    limit.observe({"x-daylimit-remaining": "0"})  # header names are case-insensitive
    with pytest.raises(DailyLimitReached):
        with limit.slot():
            pass


def test_minute_spent_elsewhere_pauses_for_a_window(redis_client: redis.Redis) -> None:
    fake = FakeTime()
    limit = limiter(redis_client, fake, per_minute=60, window_seconds=60.0)
    with limit.slot():
        pass
    limit.observe({"X-MinLimit-Remaining": "0"})  # Xero counted 60, we made 1: another caller
    with limit.slot():
        pass
    assert fake.sleeps == [pytest.approx(60.0)]


def test_minute_spent_by_our_own_calls_adds_no_extra_pause(redis_client: redis.Redis) -> None:
    fake = FakeTime()
    limit = limiter(redis_client, fake, per_minute=2, window_seconds=10.0)
    with limit.slot():
        fake.now += 1.0
    with limit.slot():
        fake.now += 1.0
    limit.observe({"X-MinLimit-Remaining": "0"})
    with limit.slot():
        pass
    assert fake.sleeps == [pytest.approx(9.0)]  # the window alone: the first call is free 9 s from now


def test_pause_holds_every_worker_for_retry_after(redis_client: redis.Redis) -> None:
    fake = FakeTime()
    limit = limiter(redis_client, fake)
    limit.pause(1.75)
    limit.pause(0.5)  # a shorter pause never shortens a longer one
    with limit.slot():
        pass
    assert fake.sleeps == [pytest.approx(1.75)]


def test_concurrent_callers_never_exceed_the_semaphore(redis_url: str) -> None:
    in_flight = 0
    highest = 0
    lock = threading.Lock()
    release = threading.Event()
    limit = RateLimiter(redis.Redis.from_url(redis_url), TENANT, per_minute=1000, concurrent=2)

    def work() -> None:
        nonlocal in_flight, highest
        with limit.slot():
            with lock:
                in_flight += 1
                highest = max(highest, in_flight)
                if in_flight == 2:
                    release.set()
            release.wait(5)
            with lock:
                in_flight -= 1

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not any(thread.is_alive() for thread in threads)
    assert highest == 2


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        RateLimiter(redis.Redis(), TENANT, per_minute=0)
    with pytest.raises(ValueError):
        RateLimiter(redis.Redis(), TENANT, window_seconds=0)
