"""The Xero API of a connection, configured from the app's settings."""

from __future__ import annotations

from ..models import Connection
from ..state import XeroSyncState
from ..xero.api import XeroApi
from ..xero.ratelimit import RateLimiter


def open_api(state: XeroSyncState, connection: Connection, *, idempotency_scope: str = "") -> XeroApi:
    """A connection's API. A run passes its id as ``idempotency_scope``: a retry within the
    run replays Xero's first answer, while a later run (after the user fixed something in Xero) is
    answered afresh; natural keys keep that later write an update rather than a duplicate."""
    config = state.config
    tenant_id = connection.tenant_id or ""
    limiter = RateLimiter(
        state.redis,
        tenant_id,
        app_id=config.client_id,
        per_minute=config.rate_limit_per_minute,
        app_per_minute=config.app_rate_limit_per_minute,
        window_seconds=config.rate_limit_window,
        concurrent=config.concurrent_limit,
        per_day=config.daily_limit,
        max_wait=config.max_limit_wait,
        sleep=state.sleep,
    )
    return XeroApi(
        state.xero_session(connection),
        tenant_id,
        api_url=config.api_url,
        limiter=limiter,
        page_size=config.page_size,
        batch_size=config.batch_size,
        timeout=config.http_timeout,
        max_retries=config.max_retries,
        idempotency_scope=idempotency_scope,
        tenant_name=connection.tenant_name,
        sleep=state.sleep,
    )
