"""Xero's app-wide minute (10,000 calls across every organisation of one app): the sandbox enforces
it as Xero does, and the limiter shares it through Redis between the workers of every
organisation, so that they never exceed it together."""

from __future__ import annotations

import threading
from collections.abc import Callable
import pytest
import redis
import requests

from flask_xerosync.errors import LimitWait
from flask_xerosync.xero.api import XeroApi
from flask_xerosync.xero.failures import Throttled, failure_for
from flask_xerosync.xero.ratelimit import RateLimiter

from .support import CLIENT_ID, Org, obtain_token
from .test_ratelimit import FakeTime


@pytest.fixture
def second_org(org: Org) -> Org:
    """Another organisation of another business, connected to the same app."""
    control = org.control
    email = "sam@second-business.example"
    user = control.create_user(email=email, name="Sam Second")
    tenant_id = control.create_org(name="Second Business Ltd", country="NZ", users=[user["user_id"]])
    return Org(org.sandbox, tenant_id, user["user_id"], obtain_token(org.sandbox, tenant_id, email))


def items_call(org: Org) -> requests.Response:
    return org.session().get(f"{org.sandbox.url}/api.xro/2.0/Items", headers={"xero-tenant-id": org.tenant_id},
                             timeout=10)


def test_the_sandbox_refuses_the_app_past_its_minute_as_xero_does(org: Org, second_org: Org) -> None:
    org.control.set_app_limit(CLIENT_ID, 2)
    assert items_call(org).headers["X-AppMinLimit-Remaining"] == "1"
    assert items_call(second_org).headers["X-AppMinLimit-Remaining"] == "0"
    refused = items_call(org)
    assert refused.status_code == 429
    assert refused.headers["X-Rate-Limit-Problem"] == "appminute"
    assert refused.headers["X-AppMinLimit-Remaining"] == "0"
    assert "Retry-After" not in refused.headers  # documented for the minute and day limits only
    assert org.control.counters(org.tenant_id)["rate_limited_by_problem"] == {"appminute": 1}
    assert org.control.app_limits(CLIENT_ID)["rate_limited"] == 1


def test_two_workers_of_two_organisations_share_the_app_minute(
    org: Org, second_org: Org, redis_client: redis.Redis
) -> None:
    """Two workers (two limiters, two threads), one organisation each: together they keep under
    the app's minute, so the sandbox (a sandbox minute is a real second here) refuses nothing."""
    org.control.set_time_scale(60)
    org.control.set_app_limit(CLIENT_ID, 6)
    results: dict[str, int] = {}

    def worker(which: Org) -> None:
        limiter = RateLimiter(redis_client, which.tenant_id, app_id=CLIENT_ID, app_per_minute=6,
                              window_seconds=1.0)
        client = XeroApi(which.session(), which.tenant_id, api_url=which.sandbox.url, limiter=limiter,
                         max_rate_limit_retries=0)
        for _ in range(9):
            client.get_items(None)
        results[which.tenant_id] = client.calls

    threads = [threading.Thread(target=worker, args=(which,)) for which in (org, second_org)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == {org.tenant_id: 9, second_org.tenant_id: 9}
    for which in (org, second_org):
        counters = org.control.counters(which.tenant_id)
        assert counters["rate_limited"] == 0, counters["rate_limited_by_problem"]
        assert counters["total_calls"] == 9
    assert org.control.app_limits(CLIENT_ID)["rate_limited"] == 0


def test_the_app_window_is_counted_across_organisations(redis_client: redis.Redis) -> None:
    fake = FakeTime()
    first = RateLimiter(redis_client, "tenant-one", app_id=CLIENT_ID, app_per_minute=3, clock=fake.clock,
                        sleep=fake.sleep, max_wait=5.0)
    second = RateLimiter(redis_client, "tenant-two", app_id=CLIENT_ID, app_per_minute=3, clock=fake.clock,
                         sleep=fake.sleep, max_wait=5.0)
    other_app = RateLimiter(redis_client, "tenant-two", app_id="another-app", app_per_minute=3, clock=fake.clock,
                            sleep=fake.sleep, max_wait=5.0)
    for limiter in (first, second, first):
        with limiter.slot():
            fake.now += 1.0
    with pytest.raises(LimitWait) as raised:
        with second.slot():
            pass
    assert raised.value.limit == "app"
    assert raised.value.resume_at.timestamp() == pytest.approx(1_800_000_000.0 + 1.0 + 60.0)
    with other_app.slot():  # another app's minute is its own
        pass


def test_a_spent_app_minute_seen_in_a_response_pauses_every_organisation(redis_client: redis.Redis) -> None:
    """``X-AppMinLimit-Remaining: 0`` counted by calls the limiter did not see (another process of
    the app): no organisation of the app calls again for a minute."""
    fake = FakeTime()
    make: Callable[[str], RateLimiter] = lambda tenant: RateLimiter(  # noqa: E731
        redis_client, tenant, app_id=CLIENT_ID, clock=fake.clock, sleep=fake.sleep, max_wait=5.0)
    make("tenant-one").observe({"X-AppMinLimit-Remaining": "0", "X-MinLimit-Remaining": "59"})
    with pytest.raises(LimitWait) as raised:
        with make("tenant-two").slot():
            pass
    assert raised.value.limit == "app"
    assert raised.value.resume_at.timestamp() == pytest.approx(fake.now + 60.0)
    fake.now += 60.0
    with make("tenant-two").slot():
        pass


def test_a_429_for_the_app_minute_pauses_the_app_for_its_retry_after(redis_client: redis.Redis) -> None:
    """The sandbox's app-minute 429 has no ``Retry-After`` (Xero documents it for the minute and day
    only); when Xero sends one, every organisation of the app waits that long."""
    fake = FakeTime()

    def limiter(tenant: str) -> RateLimiter:
        return RateLimiter(redis_client, tenant, app_id=CLIENT_ID, clock=fake.clock, sleep=fake.sleep, max_wait=5.0)

    refused = requests.Response()
    refused.status_code = 429
    refused.headers.update({"X-Rate-Limit-Problem": "AppMinute", "Retry-After": "42", "X-AppMinLimit-Remaining": "0"})
    failure = failure_for("GET", "/Items", refused, limiter=limiter("tenant-one"), tenant_less=False, org_label="x")
    assert isinstance(failure, Throttled) and failure.retry_after == 42.0

    with pytest.raises(LimitWait) as raised:
        with limiter("tenant-two").slot():
            pass
    assert raised.value.limit == "app"
    assert raised.value.resume_at.timestamp() == pytest.approx(fake.now + 42.0)
