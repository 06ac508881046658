"""Fixtures for the Xero client tests: an organisation in the sandbox with a real token, a real
Redis, and a factory for clients on them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from flask_xerosync.xero.api import XeroApi
from flask_xerosync.xero.ratelimit import RateLimiter

from .support import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, Org, SleepRecorder, TokenSession, obtain_token


@pytest.fixture
def org(xero_sandbox: Any) -> Org:
    control = xero_sandbox.control
    control.register_app(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=[REDIRECT_URI])
    email = "pat@client-tests.example"
    user = control.create_user(email=email, name="Pat Tester")
    tenant_id = control.create_org(name="Client Tests Ltd", country="NZ", users=[user["user_id"]])
    return Org(xero_sandbox, tenant_id, user["user_id"], obtain_token(xero_sandbox, tenant_id, email))


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def make_client(org: Org, redis_client: redis.Redis) -> Callable[..., XeroApi]:
    """Build a client on a fresh token session; limiter and client options as keywords."""

    def build(
        *,
        limiter: RateLimiter | None = None,
        session: TokenSession | None = None,
        sleep: Callable[[float], None] | None = None,
        **options: Any,
    ) -> XeroApi:
        recorder = sleep or SleepRecorder(really=False)
        return XeroApi(
            session or org.session(),
            org.tenant_id,
            api_url=org.sandbox.url,
            limiter=limiter or RateLimiter(redis_client, org.tenant_id),
            sleep=recorder,
            **options,
        )

    return build
