"""Retries, rate limits, token expiry and scopes against the sandbox."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
import redis
import requests

from flask_xerosync.errors import (
    DailyLimitReached,
    ReconnectNeeded,
    ScopeMissing,
    XeroUnavailable,
)
from flask_xerosync.testing import free_port
from flask_xerosync.xero.api import XeroApi
from flask_xerosync.xero.ratelimit import RateLimiter

from .support import CLIENT_ID, CLIENT_SECRET, Org, SleepRecorder, TokenSession, obtain_token


def test_a_5xx_storm_is_retried_with_backoff_then_succeeds(org: Org, make_client: Callable[..., XeroApi]) -> None:
    org.control.faults(org.tenant_id, fail_next=[500, 503, 502, 504])
    recorder = SleepRecorder(really=False)
    client = make_client(sleep=recorder, backoff=0.5, backoff_max=30.0)
    assert client.get_organisation()["Name"] == "Client Tests Ltd"
    assert client.calls == 5
    assert len(recorder.waits) == 4
    assert all(0 <= wait <= 0.5 * 2**n for n, wait in enumerate(recorder.waits, start=1))


def test_retries_exhausted_raise_xero_unavailable(org: Org, make_client: Callable[..., XeroApi]) -> None:
    org.control.faults(org.tenant_id, fail_next=[503] * 10)
    client = make_client(max_retries=3)
    with pytest.raises(XeroUnavailable) as raised:
        client.get_accounts()
    assert client.calls == 4
    message = str(raised.value)
    assert "4 tries" in message and "HTTP 503" in message and "chart of accounts" in message


def test_timeouts_are_retried_and_reported(org: Org, make_client: Callable[..., XeroApi]) -> None:
    org.control.faults(org.tenant_id, latency_ms=400)
    client = make_client(timeout=0.05, max_retries=1)
    with pytest.raises(XeroUnavailable, match="ReadTimeout"):
        client.get_tax_rates()
    assert client.calls == 2


def test_a_write_retried_after_a_server_error_keeps_its_key(org: Org, make_client: Callable[..., XeroApi]) -> None:
    org.control.faults(org.tenant_id, fail_next=[503], methods=["POST"])
    session = org.session()
    client = make_client(session=session)
    [result] = client.upsert_contacts([{"Name": "Retry Me", "ContactNumber": "host-9"}])
    assert result.ok
    keys = [r.request.headers["Idempotency-Key"] for r in session.responses]
    assert len(keys) == 2 and keys[0] == keys[1]
    assert len(org.control.contacts(org.tenant_id)) == 1


def test_an_unreachable_server_raises_xero_unavailable(org: Org, redis_client: redis.Redis) -> None:
    client = XeroApi(
        org.session(), org.tenant_id, api_url=f"http://127.0.0.1:{free_port()}",
        limiter=RateLimiter(redis_client, org.tenant_id), max_retries=2, sleep=SleepRecorder(really=False),
    )
    with pytest.raises(XeroUnavailable, match="ConnectionError"):
        client.get_organisation()
    assert client.calls == 3


def test_429_waits_for_retry_after_then_no_further_429(org: Org, redis_client: redis.Redis) -> None:
    org.control.set_time_scale(60.0)  # a sandbox minute lasts one real second
    org.control.set_limits(org.tenant_id, per_minute=3)
    session = org.session()
    recorder = SleepRecorder(really=True)
    # A limiter that knows neither the limit nor the window, so Xero's 429 stops the 4th call.
    blind = RateLimiter(redis_client, org.tenant_id, per_minute=100, window_seconds=0.001)
    client = XeroApi(session, org.tenant_id, api_url=org.sandbox.url, limiter=blind, sleep=recorder)
    for _ in range(5):
        client.get_organisation()
    statuses = [r.status_code for r in session.responses]
    assert statuses == [200, 200, 200, 429, 200, 200]
    throttled = session.responses[3]
    assert throttled.headers["X-Rate-Limit-Problem"] == "minute"
    advertised = float(throttled.headers["Retry-After"])
    assert 0 < advertised <= 1.0
    assert recorder.waits == [pytest.approx(advertised)]
    assert org.control.counters(org.tenant_id)["rate_limited"] == 1


def test_an_injected_429_is_honoured_and_not_counted_as_a_failure(
    org: Org, make_client: Callable[..., XeroApi]
) -> None:
    org.control.set_time_scale(60.0)
    org.control.faults(org.tenant_id, fail_next=[429, 429])
    session = org.session()
    recorder = SleepRecorder(really=True)
    client = make_client(session=session, sleep=recorder, max_retries=0)
    assert client.get_organisation()["Name"] == "Client Tests Ltd"
    advertised = [float(r.headers["Retry-After"]) for r in session.responses if r.status_code == 429]
    assert recorder.waits == [pytest.approx(a) for a in advertised] and len(advertised) == 2


def test_too_many_429s_give_up_with_a_clear_message(org: Org, make_client: Callable[..., XeroApi]) -> None:
    org.control.set_time_scale(600.0)
    org.control.faults(org.tenant_id, fail_next=[429] * 5)
    client = make_client(sleep=SleepRecorder(really=True), max_rate_limit_retries=2)
    with pytest.raises(XeroUnavailable, match="rate limit"):
        client.get_organisation()
    assert client.calls == 3


def test_xeros_spent_minute_makes_the_limiter_wait_instead_of_a_429(org: Org, redis_client: redis.Redis) -> None:
    org.control.set_time_scale(60.0)
    org.control.set_limits(org.tenant_id, per_minute=3)
    recorder = SleepRecorder(really=True)
    # The limiter knows the window but thinks 100 calls fit: Xero's X-MinLimit-Remaining: 0 pauses it.
    limiter = RateLimiter(redis_client, org.tenant_id, per_minute=100, window_seconds=1.0, sleep=recorder)
    client = XeroApi(org.session(), org.tenant_id, api_url=org.sandbox.url, limiter=limiter)
    for _ in range(4):
        client.get_organisation()
    assert org.control.counters(org.tenant_id)["rate_limited"] == 0
    assert len(recorder.waits) == 1 and 0 < recorder.waits[0] <= 1.0


def test_a_429_for_the_day_stops_with_the_time_it_comes_back(org: Org, make_client: Callable[..., XeroApi]) -> None:
    session = org.session()
    client = make_client(session=session)
    client.get_organisation()
    client.get_organisation()
    org.control.set_limits(org.tenant_id, per_day=2)  # lowered behind the limiter's back
    before = datetime.now(timezone.utc)
    with pytest.raises(DailyLimitReached) as raised:
        client.get_organisation()
    refused = session.responses[-1]
    assert refused.status_code == 429 and refused.headers["X-Rate-Limit-Problem"] == "day"
    advertised = timedelta(seconds=float(refused.headers["Retry-After"]))
    assert before + advertised - timedelta(seconds=2) <= raised.value.retry_at <= before + advertised + timedelta(seconds=2)
    assert "resume" in str(raised.value)
    calls = client.calls
    with pytest.raises(DailyLimitReached):  # the shared limiter remembers: no further call is sent
        make_client().get_accounts()
    assert client.calls == calls
    assert org.control.counters(org.tenant_id)["by_status"].get("429") == 1


def test_day_remaining_zero_stops_before_xero_has_to_refuse(org: Org, make_client: Callable[..., XeroApi]) -> None:
    org.control.set_limits(org.tenant_id, per_day=2)
    client = make_client()
    client.get_organisation()
    client.get_organisation()  # answered with X-DayLimit-Remaining: 0
    assert client.last_limits is not None and client.last_limits.day_remaining == 0
    with pytest.raises(DailyLimitReached):
        client.get_organisation()
    assert org.control.counters(org.tenant_id)["rate_limited"] == 0


def test_eight_threads_sharing_one_limiter_stay_within_five_in_flight(org: Org, redis_url: str) -> None:
    org.control.faults(org.tenant_id, latency_ms=60)
    errors: list[BaseException] = []

    def worker() -> None:
        limiter = RateLimiter(redis.Redis.from_url(redis_url), org.tenant_id, concurrent=5)
        client = XeroApi(org.session(), org.tenant_id, api_url=org.sandbox.url, limiter=limiter)
        try:
            for _ in range(3):
                client.get_organisation()
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    counters = org.control.counters(org.tenant_id)
    assert counters["total_calls"] == 24
    assert counters["rate_limited"] == 0
    assert 2 <= counters["max_concurrency"] <= 5


def test_a_long_run_fills_every_xero_minute_without_a_429(org: Org, redis_client: redis.Redis) -> None:
    """Sliding window vs Xero's fixed one: every Xero window but the last is full (≥ 90% use)."""
    time_scale = 120.0
    org.control.set_time_scale(time_scale)
    org.control.set_limits(org.tenant_id, per_minute=10)
    limiter = RateLimiter(redis_client, org.tenant_id, per_minute=10, window_seconds=60.0 / time_scale)
    client = XeroApi(org.session(), org.tenant_id, api_url=org.sandbox.url, limiter=limiter)
    for _ in range(40):
        client.get_organisation()
    counters = org.control.counters(org.tenant_id)
    assert counters["rate_limited"] == 0
    windows = [w["calls"] for w in counters["calls_per_window"]]
    assert sum(windows) == 40
    assert sum(windows[:-1]) >= 0.9 * 10 * (len(windows) - 1)


def test_an_expired_token_is_refreshed_once(org: Org, make_client: Callable[..., XeroApi]) -> None:
    session = org.session()
    org.control.expire_access_token(session.token["access_token"])
    client = make_client(session=session)
    assert client.get_organisation()["Name"] == "Client Tests Ltd"
    assert session.refreshes == 1
    assert client.calls == 2


class StuckSession(TokenSession):
    """A session whose refresh does not help (the new token is expired too)."""

    def force_refresh(self) -> None:
        self.refreshes += 1


def test_a_token_still_expired_after_refresh_needs_reconnecting(org: Org, make_client: Callable[..., XeroApi]) -> None:
    session = StuckSession(org.sandbox.url, dict(org.token))
    org.control.expire_access_token(session.token["access_token"])
    client = make_client(session=session)
    with pytest.raises(ReconnectNeeded) as raised:
        client.get_organisation()
    assert session.refreshes == 1
    assert session.token["access_token"] not in str(raised.value)


def test_a_token_xero_does_not_know_needs_reconnecting(org: Org, make_client: Callable[..., XeroApi]) -> None:
    session = org.session()
    requests.post(
        f"{org.sandbox.url}/connect/revocation",
        data={"token": session.token["access_token"]},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=10,
    ).raise_for_status()
    client = make_client(session=session)
    with pytest.raises(ReconnectNeeded) as raised:
        client.get_organisation()
    assert not isinstance(raised.value, ScopeMissing)
    assert session.refreshes == 0


def test_a_missing_scope_names_the_area(org: Org, make_client: Callable[..., XeroApi]) -> None:
    token = obtain_token(org.sandbox, org.tenant_id, "pat@client-tests.example", scopes="offline_access accounting.contacts")
    client = make_client(session=TokenSession(org.sandbox.url, token))
    assert client.get_contacts([]) == []
    with pytest.raises(ScopeMissing) as raised:
        client.get_tax_rates()
    assert isinstance(raised.value, ReconnectNeeded)
    assert "tax rates" in str(raised.value)
    assert client.calls == 1


def test_client_options_are_checked(org: Org, redis_client: redis.Redis) -> None:
    limiter = RateLimiter(redis_client, org.tenant_id)
    with pytest.raises(ValueError):
        XeroApi(org.session(), org.tenant_id, api_url=org.sandbox.url, limiter=limiter, batch_size=0)
    with pytest.raises(ValueError):
        XeroApi(org.session(), org.tenant_id, api_url=org.sandbox.url, limiter=limiter, page_size=5000)
    with pytest.raises(ValueError, match="lease"):
        XeroApi(org.session(), org.tenant_id, api_url=org.sandbox.url, limiter=limiter, timeout=300.0)
