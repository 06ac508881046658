"""Waits for a limit: a short one sleeps in place, a longer one than ``XEROSYNC_MAX_LIMIT_WAIT``
raises :class:`LimitWait` (with when, and which limit) so a run can hand its worker back; the key
is read once and a bad value is named."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Any

import pytest
import redis
from cryptography.fernet import Fernet

from flask_xerosync.config import ConfigError, load_config
from flask_xerosync.errors import LimitWait
from flask_xerosync.xero.ratelimit import RateLimiter

from .test_ratelimit import TENANT, FakeTime

APP = "client-of-the-app"


def limiter(redis_client: redis.Redis, fake: FakeTime, tenant: str = TENANT, **options: Any) -> RateLimiter:
    return RateLimiter(redis_client, tenant, app_id=APP, clock=fake.clock, sleep=fake.sleep, **options)


def test_a_wait_within_the_maximum_sleeps_in_place(redis_client: redis.Redis) -> None:
    fake = FakeTime()
    limit = limiter(redis_client, fake, per_minute=2, window_seconds=4.0, max_wait=5.0)
    for _ in range(3):
        with limit.slot():
            pass
    assert fake.sleeps == [pytest.approx(4.0)]


def test_a_longer_wait_raises_limit_wait_with_when_and_which_limit(redis_client: redis.Redis) -> None:
    fake = FakeTime()
    limit = limiter(redis_client, fake, per_minute=2, window_seconds=60.0, max_wait=5.0)
    for _ in range(2):
        with limit.slot():
            fake.now += 1.0
    with pytest.raises(LimitWait) as raised:
        with limit.slot():
            pytest.fail("the call must not be admitted")
    assert fake.sleeps == []  # nothing slept in the worker
    assert raised.value.limit == "minute"
    # The first call completed at start+1 and leaves the window a minute later.
    assert raised.value.resume_at == datetime.fromtimestamp(1_800_000_000.0 + 61.0, tz=timezone.utc)
    assert "goes on at" in str(raised.value)


def test_waits_add_up_to_the_maximum(redis_client: redis.Redis) -> None:
    """Several short sleeps in one call's wait count together (a paused organisation, then its
    window) against the maximum."""
    fake = FakeTime()
    limit = limiter(redis_client, fake, per_minute=1, window_seconds=6.0, max_wait=5.0)
    with limit.slot():
        pass
    limit.pause(3.0)
    with pytest.raises(LimitWait):
        with limit.slot():
            pass
    assert fake.sleeps == [pytest.approx(3.0)]  # the pause; the window's 3 s more would pass 5 s


def test_without_a_maximum_the_limiter_waits_as_long_as_it_takes(redis_client: redis.Redis) -> None:
    fake = FakeTime()
    limit = limiter(redis_client, fake, per_minute=1, window_seconds=60.0)
    for _ in range(2):
        with limit.slot():
            pass
    assert fake.sleeps == [pytest.approx(60.0)]


def test_calls_in_flight_that_outlast_the_maximum_raise_limit_wait(redis_client: redis.Redis) -> None:
    holder = RateLimiter(redis_client, TENANT, app_id=APP, concurrent=1)
    waiter = RateLimiter(redis_client, TENANT, app_id=APP, concurrent=1, max_wait=0.2)
    with holder.slot():
        with pytest.raises(LimitWait) as raised:
            with waiter.slot():
                pass
    assert raised.value.limit == "concurrent"
    with waiter.slot():  # free again once the holder is done
        pass


def test_a_release_wakes_a_waiter_within_the_maximum(redis_client: redis.Redis) -> None:
    holder = RateLimiter(redis_client, TENANT, app_id=APP, concurrent=1)
    waiter = RateLimiter(redis_client, TENANT, app_id=APP, concurrent=1, max_wait=5.0)
    held, admitted = threading.Event(), threading.Event()

    def hold() -> None:
        with holder.slot():
            held.set()
            admitted.wait(0.3)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(5)
    with waiter.slot():
        admitted.set()
    thread.join()


def test_a_negative_maximum_is_refused(redis_client: redis.Redis) -> None:
    with pytest.raises(ValueError, match="max_wait"):
        RateLimiter(redis_client, TENANT, max_wait=-1.0)


def _config(**keys: Any) -> dict[str, Any]:
    return {
        "XEROSYNC_CLIENT_ID": "client",
        "XEROSYNC_CLIENT_SECRET": "secret",
        "XEROSYNC_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "XEROSYNC_REDIS_URL": "redis://127.0.0.1:1/0",
        **keys,
    }


def test_the_limit_keys_default_to_xeros_values() -> None:
    config = load_config(_config())
    assert config.max_limit_wait == 5.0
    assert config.app_rate_limit_per_minute == 10000
    with pytest.raises(AttributeError):
        config.max_limit_wait = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(("key", "value"), [
    ("XEROSYNC_MAX_LIMIT_WAIT", 0),
    ("XEROSYNC_MAX_LIMIT_WAIT", "2.5"),
    ("XEROSYNC_APP_RATE_LIMIT_PER_MINUTE", "600"),
])
def test_the_limit_keys_accept_their_range(key: str, value: Any) -> None:
    load_config(_config(**{key: value}))


@pytest.mark.parametrize(("key", "value"), [
    ("XEROSYNC_MAX_LIMIT_WAIT", -1),
    ("XEROSYNC_MAX_LIMIT_WAIT", "five seconds"),
    ("XEROSYNC_MAX_LIMIT_WAIT", "inf"),
    ("XEROSYNC_MAX_LIMIT_WAIT", True),
    ("XEROSYNC_APP_RATE_LIMIT_PER_MINUTE", 0),
    ("XEROSYNC_APP_RATE_LIMIT_PER_MINUTE", "10k"),
    ("XEROSYNC_APP_RATE_LIMIT_PER_MINUTE", 99.5),
])
def test_a_bad_limit_key_is_named(key: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=key):
        load_config(_config(**{key: value}))
