"""The owner's view of Xero's limits: calls used today against the organisation's daily allowance,
and what the next sync will take.

The day's count is the one the shared limiter keeps in Redis for every worker
(:class:`flask_xerosync.xero.ratelimit.RateLimiter`: the hash ``xerosync:ratelimit:{<tenant>}:day``,
fields ``used`` and ``reset_at``, corrected from Xero's ``X-DayLimit-Remaining`` on every answer).
It is only read here. "The next sync" is the estimate of the newest preview, while no sync has run
since it; otherwise the last sync's own count is the best guide.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import select

from ..models import Run, RunKind, RunStatus
from .connections import DbSession
from .runs import last_preview

DAY_KEY = "xerosync:ratelimit:{{{tenant_id}}}:day"
"""The limiter's day counter of an organisation (``RateLimiter``'s key, read-only here)."""


@dataclass(frozen=True)
class DailyCalls:
    """Calls made to one organisation in its current day window (``resets_at``: when the window
    ends; ``None`` when no call was made in it, or Redis could not be read: ``unknown``)."""

    used: int
    limit: int
    resets_at: datetime | None = None
    unknown: bool = False

    @property
    def left(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.used / self.limit)) if self.limit else 100


@dataclass(frozen=True)
class NextSync:
    """What the next sync will take: ``estimate`` calls (from ``preview``), else the calls of the
    ``last`` sync."""

    estimate: int | None
    preview: Run | None
    last: Run | None


def calls_today(redis: Redis, tenant_id: str, limit: int, now: datetime | None = None) -> DailyCalls:
    """The organisation's calls in its current day window, as the limiter counts them."""
    try:
        raw = redis.hmget(DAY_KEY.format(tenant_id=tenant_id), "used", "reset_at")
    except RedisError:
        return DailyCalls(0, limit, unknown=True)
    used, reset_at = (float(value) if value is not None else None for value in raw)
    moment = (now or datetime.now(timezone.utc)).timestamp()
    if used is None or reset_at is None or reset_at <= moment:
        return DailyCalls(0, limit)
    return DailyCalls(int(used), limit, datetime.fromtimestamp(reset_at, tz=timezone.utc))


def next_sync(session: DbSession, account_id: str, tenant_id: str) -> NextSync:
    """The estimate of the newest preview that no sync followed yet, and the last sync."""
    preview = last_preview(session, account_id, tenant_id)
    last_sync = session.scalar(
        select(Run).where(Run.account_id == account_id, Run.tenant_id == tenant_id, Run.kind == RunKind.SYNC,
                          Run.status == RunStatus.DONE)
        .order_by(Run.created_at.desc()).limit(1)
    )
    if preview is None or (last_sync is not None and last_sync.created_at > preview.created_at):
        return NextSync(None, None, last_sync)
    estimate = (preview.estimate or {}).get("calls")
    return NextSync(int(estimate) if estimate is not None else None, preview, last_sync)
