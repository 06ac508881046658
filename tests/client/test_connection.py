"""The connect check: one tenant-less ``GET /connections`` through the client's session."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis

from flask_xerosync.errors import ReconnectNeeded, XeroUnavailable
from flask_xerosync.xero.api import XeroApi
from flask_xerosync.xero.ratelimit import RateLimiter

from .support import CLIENT_ID, Org, SleepRecorder


def test_a_connected_organisation_is_confirmed_in_one_counted_call(
    org: Org, make_client: Callable[..., XeroApi]
) -> None:
    session = org.session()
    client = make_client(session=session)

    entry = client.verify_connection()

    assert entry["tenantId"] == org.tenant_id and entry["tenantName"] == "Client Tests Ltd"
    assert client.calls == 1
    [response] = session.responses
    assert response.request.url == f"{org.sandbox.url}/connections"
    assert "xero-tenant-id" not in {name.lower() for name in response.request.headers}
    assert org.control.counters(org.tenant_id)["total_calls"] == 0  # not the organisation's budget


def test_the_check_takes_no_place_in_the_organisations_minute(org: Org, redis_client: redis.Redis) -> None:
    sleep = SleepRecorder(really=False)
    limiter = RateLimiter(redis_client, org.tenant_id, per_minute=1, sleep=sleep)
    client = XeroApi(org.session(), org.tenant_id, api_url=org.sandbox.url, limiter=limiter, sleep=sleep)

    client.verify_connection()
    client.verify_connection()
    client.get_organisation()

    assert sleep.waits == [] and client.calls == 3


def test_a_disconnected_organisation_needs_reconnecting(org: Org, make_client: Callable[..., XeroApi]) -> None:
    session = org.session()
    org.control.revoke_connection(tenant_id=org.tenant_id)
    client = make_client(session=session)

    with pytest.raises(ReconnectNeeded, match="no longer connected") as raised:
        client.verify_connection()
    assert session.token["access_token"] not in str(raised.value)


def test_an_expired_token_is_refreshed_for_the_check(org: Org, make_client: Callable[..., XeroApi]) -> None:
    session = org.session()
    org.control.expire_access_token(session.token["access_token"])
    client = make_client(session=session)

    assert client.verify_connection()["tenantId"] == org.tenant_id
    assert session.refreshes == 1 and client.calls == 2


def test_an_app_wide_429_is_waited_out_without_pausing_the_organisation(
    org: Org, make_client: Callable[..., XeroApi], redis_client: redis.Redis
) -> None:
    org.control.set_app_limit(CLIENT_ID, 1)
    try:
        sleep = SleepRecorder(really=False)
        client = make_client(limiter=RateLimiter(redis_client, org.tenant_id, sleep=sleep), sleep=sleep,
                             max_rate_limit_retries=1)
        client.verify_connection()

        with pytest.raises(XeroUnavailable, match="rate limit"):
            client.verify_connection()
        assert client.calls == 3 and len(sleep.waits) == 1
        assert redis_client.get(f"xerosync:ratelimit:{{{org.tenant_id}}}:paused-until") is None
    finally:
        org.control.set_app_limit(CLIENT_ID, 10000)
