"""Automatic sync (opt-in per business): on a schedule, through RQ's scheduler, and soon after
Xero's webhooks say an organisation changed.

**Schedules.** A business that chose hourly or daily has exactly one scheduled RQ job, waiting in
RQ's ``ScheduledJobRegistry`` until it is due (``Queue.enqueue_at``); the scheduler that every
``flask xerosync worker`` runs (``with_scheduler``) moves it to the queue then. The job's id
carries its due time (``xerosync-schedule-<account>-<epoch>``), so arming the same occurrence twice
is one job, and the account's current id is kept in Redis (:data:`SCHEDULE_KEY`): a job that is no
longer the current one (the owner changed the schedule) does nothing. Each job arms the next
occurrence before it syncs, so a failing sync never ends the schedule; saving the preference arms
or cancels it, and a starting worker re-arms any account whose job Redis lost.

**Webhooks.** An event only says "this organisation changed" (its payload is not trusted beyond
that): each account that opted in and syncs with that organisation gets one incremental run,
:data:`XEROSYNC_WEBHOOK_DELAY <flask_xerosync.config.XeroSyncConfig.webhook_delay>` seconds after
the first event. A Redis key per account (:data:`PENDING_KEY`, set only if absent) makes every
event until that run starts join it: a burst of events is one run. The job releases the key before
it syncs, so events during the run make one more run after it.

**Reconcile.** Not every change in Xero raises an event or moves ``UpdatedDateUTC`` (a contact's
balance, ``IsCustomer``/``IsSupplier``, …). So an automatic run once every
``XEROSYNC_RECONCILE_HOURS`` first clears the organisation's Xero pull marks: that run reads every
Xero contact and item again (a page of 1,000 contacts per call) and settles what drifted, with the
same matching rules as any run. Paid status keeps its mark (a payment moves ``UpdatedDateUTC``).

An automatic run starts only for a connected account whose plan allows it and that has synced by
hand once (the first Sync Now! of an organisation is a preview the owner reviews); it is
:func:`~.sync_now.request_sync`, so it never runs beside another run of the account.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, time, timedelta, tzinfo

from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry
from sqlalchemy import func, select

from ..models import Connection, ConnectionStatus, Preferences, SyncMode, default_preferences, utcnow
from ..state import XeroSyncState
from ..sync.engine import RECONCILE_MARKS
from .connections import connection_of
from .preferences import preferences_for
from .runs import active_run, has_synced
from .sync_now import RESULT_TTL, sync_queue, request_sync

logger = logging.getLogger(__name__)

SCHEDULED_SYNC = "flask_xerosync.worker.automatic.scheduled_sync"
WEBHOOK_SYNC = "flask_xerosync.worker.automatic.webhook_sync"
SCHEDULE_KEY = "xerosync:schedule:{account_id}"
PENDING_KEY = "xerosync:webhook-pending:{account_id}"
# A pending key outlives its job's delay by this much: if no worker ever runs the job, later
# events can still schedule one.
PENDING_SLACK = 3600
# A reconcile is due once 95% of its interval has passed, so a daily schedule reconciles daily
# even when its runs start a few seconds apart.
RECONCILE_DUE = 0.95
# Seconds an automatic job may take: it only decides, and queues the run (the run has its own).
AUTOMATIC_JOB_TIMEOUT = 600
LIVE_STATUSES = (JobStatus.SCHEDULED, JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED)

STARTED = "started"
BUSY = "busy"


def next_due(mode: str, hour: int, zone: tzinfo, now: datetime) -> datetime | None:
    """When a schedule fires next after ``now`` (UTC): the next whole hour, or the next ``hour``
    o'clock in the business's time zone; ``None`` for manual."""
    if mode == SyncMode.HOURLY:
        return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if mode != SyncMode.DAILY:
        return None
    day = now.astimezone(zone).date()
    for offset in (0, 1, 2):
        due = datetime.combine(day + timedelta(days=offset), time(hour), tzinfo=zone)
        if due > now:
            return due.astimezone(now.tzinfo)
    raise AssertionError("a day has an hour o'clock within two days")


def next_sync_at(state: XeroSyncState, preferences: Preferences, now: datetime | None = None) -> datetime | None:
    """When the account's schedule fires next after ``now`` (``None``: manual only)."""
    zone = state.timezone_of(preferences.account_id)
    return next_due(preferences.sync_mode, preferences.sync_hour, zone, now or utcnow())


def arm_schedule(state: XeroSyncState, account_id: str, *, now: datetime | None = None) -> datetime | None:
    """Schedule the account's next automatic sync as its preferences say (cancelling one that is
    no longer due); returns when it will run, ``None`` for manual."""
    due = next_sync_at(state, preferences_for(state.db.session, account_id), now)
    key = SCHEDULE_KEY.format(account_id=account_id)
    job_id = f"xerosync-schedule-{account_id}-{int(due.timestamp())}" if due is not None else None
    previous = _text(state.redis.get(key))
    if previous and previous != job_id:
        _cancel_scheduled(state, previous)
    if due is None:
        state.redis.delete(key)
        return None
    sync_queue(state).enqueue_at(
        due, SCHEDULED_SYNC, account_id, job_id=job_id, job_timeout=AUTOMATIC_JOB_TIMEOUT,
        result_ttl=RESULT_TTL, failure_ttl=RESULT_TTL, description=f"flask-xerosync: scheduled sync of account {account_id}",
    )
    state.redis.set(key, job_id)
    return due


def save_sync_mode(state: XeroSyncState, account_id: str, mode: str, hour: int) -> datetime | None:
    """Keep when the account syncs (its own commit) and arm or cancel its schedule; returns when
    the next automatic sync will run."""
    session = state.db.session
    preferences = session.get(Preferences, account_id)
    if preferences is None:
        preferences = default_preferences(account_id)
        session.add(preferences)
    preferences.sync_mode, preferences.sync_hour = mode, hour
    session.commit()
    return arm_schedule(state, account_id)


def is_current_schedule(state: XeroSyncState, account_id: str, job_id: str) -> bool:
    """Whether ``job_id`` is the account's armed occurrence (an older one does nothing)."""
    return _text(state.redis.get(SCHEDULE_KEY.format(account_id=account_id))) == job_id


def arm_missing_schedules(state: XeroSyncState) -> int:
    """Arm the schedule of every automatic account whose job Redis does not hold (a flushed or
    restored Redis); a starting worker calls this. Returns how many were armed."""
    accounts = state.db.session.scalars(select(Preferences.account_id).where(Preferences.sync_mode != SyncMode.MANUAL))
    armed = 0
    for account_id in list(accounts):
        job_id = _text(state.redis.get(SCHEDULE_KEY.format(account_id=account_id)))
        if job_id is None or _job_status(state, job_id) not in LIVE_STATUSES:
            arm_schedule(state, account_id)
            armed += 1
    return armed


def accounts_watching(state: XeroSyncState, tenant_ids: Iterable[str]) -> list[str]:
    """The accounts that sync automatically with one of these organisations right now."""
    wanted = sorted({tenant_id.lower() for tenant_id in tenant_ids if tenant_id})
    if not wanted:
        return []
    return list(state.db.session.scalars(
        select(Connection.account_id)
        .join(Preferences, Preferences.account_id == Connection.account_id)
        .where(func.lower(Connection.tenant_id).in_(wanted), Connection.status == ConnectionStatus.CONNECTED,
               Preferences.sync_mode != SyncMode.MANUAL)
        .order_by(Connection.account_id)
    ))


def sync_soon(state: XeroSyncState, account_ids: Iterable[str]) -> int:
    """Schedule one incremental run per account after the webhook delay, unless one is pending
    already (see the module docstring); returns how many were scheduled."""
    delay = state.config.webhook_delay
    scheduled = 0
    for account_id in account_ids:
        job_id = f"xerosync-webhook-{account_id}-{uuid.uuid4().hex[:12]}"
        key = PENDING_KEY.format(account_id=account_id)
        if not state.redis.set(key, job_id, nx=True, ex=int(delay) + PENDING_SLACK):
            continue
        sync_queue(state).enqueue_in(
            timedelta(seconds=delay), WEBHOOK_SYNC, account_id, job_id=job_id, job_timeout=AUTOMATIC_JOB_TIMEOUT,
            result_ttl=RESULT_TTL, failure_ttl=RESULT_TTL, description=f"flask-xerosync: webhook sync of account {account_id}",
        )
        scheduled += 1
    return scheduled


def release_pending(state: XeroSyncState, account_id: str) -> None:
    """The pending webhook run is starting: later events schedule the next one."""
    state.redis.delete(PENDING_KEY.format(account_id=account_id))


def start_automatic_run(state: XeroSyncState, account_id: str) -> str:
    """Start an incremental run for an account that syncs automatically, reconciling first when
    due. Returns :data:`STARTED`, :data:`BUSY` (a run of the account is active) or why nothing
    started."""
    session = state.db.session
    connection = connection_of(session, account_id)
    preferences = preferences_for(session, account_id)
    why_not = _why_not(state, connection, preferences)
    if why_not or connection is None:
        logger.info("xerosync: no automatic sync for account %s: %s", account_id, why_not)
        return why_not
    if active_run(session, account_id) is not None:
        return BUSY
    _reconcile_if_due(state, connection)
    request = request_sync(state, account_id)
    if request.started:
        return STARTED
    return BUSY if request.run is not None else request.refusal


def _why_not(state: XeroSyncState, connection: Connection | None, preferences: Preferences) -> str:
    if preferences.sync_mode == SyncMode.MANUAL:
        return "manual only"
    if connection is None or connection.status != ConnectionStatus.CONNECTED:
        return "not connected"
    if not state.plan_allows(connection.account_id):
        return "plan"
    if not has_synced(state.db.session, connection.account_id, connection.tenant_id):
        return "no sync by hand yet"
    return ""


def _reconcile_if_due(state: XeroSyncState, connection: Connection) -> None:
    """Clear the Xero pull marks once per reconcile interval (see the module docstring)."""
    now = utcnow()
    interval = timedelta(hours=state.config.reconcile_hours) * RECONCILE_DUE
    if connection.reconciled_at is not None and now - connection.reconciled_at < interval:
        return
    marks = dict(connection.sync_marks or {})
    connection.sync_marks = {name: value for name, value in marks.items() if name not in RECONCILE_MARKS}
    connection.reconciled_at = now
    state.db.session.commit()


def _cancel_scheduled(state: XeroSyncState, job_id: str) -> None:
    """Drop a scheduled occurrence that has not started (a running one is left to finish)."""
    registry = ScheduledJobRegistry(state.config.queue_name, connection=state.redis)
    if job_id in registry:
        registry.remove(job_id, delete_job=True)


def _job_status(state: XeroSyncState, job_id: str) -> JobStatus | None:
    try:
        return Job.fetch(job_id, connection=state.redis).get_status()
    except NoSuchJobError:
        return None


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value
