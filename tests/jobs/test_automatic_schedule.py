"""Automatic sync on a schedule: the preference, the occurrence waiting in RQ's scheduler, the run
it starts through a real worker with the scheduler, and the periodic reconcile."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue, SimpleWorker
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from flask_xerosync.models import Connection, RunKind, RunStatus, SyncMode, utcnow
from flask_xerosync.services import automatic
from flask_xerosync.state import current_state

from .conftest import HARBOUR_ACCOUNT, HTMX, SETTINGS, all_runs, csrf_token, sync_now, work_queue

AUCKLAND = ZoneInfo("Pacific/Auckland")
UTC = timezone.utc


@pytest.mark.parametrize(("mode", "hour", "now", "expected"), [
    ("manual", 6, datetime(2026, 3, 1, 9, 30, tzinfo=UTC), None),
    ("hourly", 6, datetime(2026, 3, 1, 9, 30, tzinfo=UTC), datetime(2026, 3, 1, 10, 0, tzinfo=UTC)),
    ("hourly", 6, datetime(2026, 3, 1, 10, 0, tzinfo=UTC), datetime(2026, 3, 1, 11, 0, tzinfo=UTC)),
    # 06:00 in Auckland (NZDT, +13) is 17:00 UTC the day before
    ("daily", 6, datetime(2026, 3, 1, 9, 30, tzinfo=UTC), datetime(2026, 3, 1, 17, 0, tzinfo=UTC)),
    ("daily", 6, datetime(2026, 3, 1, 17, 0, tzinfo=UTC), datetime(2026, 3, 2, 17, 0, tzinfo=UTC)),
    # daylight saving ends at 03:00 on 5 April 2026: 17:30 UTC is 05:30 NZST, and 06:00 is 18:00 UTC
    ("daily", 6, datetime(2026, 4, 4, 17, 30, tzinfo=UTC), datetime(2026, 4, 4, 18, 0, tzinfo=UTC)),
])
def test_next_occurrence(mode: str, hour: int, now: datetime, expected: datetime | None) -> None:
    assert automatic.next_due(mode, hour, AUCKLAND, now) == expected


def scheduled(app: Flask) -> dict[str, datetime]:
    with app.app_context():
        state = current_state()
        registry = ScheduledJobRegistry(state.config.queue_name, connection=state.redis)
        return {job_id: registry.get_scheduled_time(job_id) for job_id in registry.get_job_ids()
                if job_id.startswith("xerosync-schedule-")}


def save_when(client: FlaskClient, mode: str, hour: int = 6) -> str:
    response = client.post(SETTINGS + "automatic", headers=HTMX,
                           data={"csrf_token": csrf_token(client), "sync_mode": mode, "sync_hour": str(hour)})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def work_with_scheduler(app: Flask) -> None:
    with app.app_context():
        state = current_state()
        SimpleWorker([Queue(state.config.queue_name, connection=state.redis)], connection=state.redis).work(
            burst=True, with_scheduler=True)


def test_saving_a_daily_schedule_waits_in_rqs_scheduler(connected: Any, app: Flask, harbour_client: FlaskClient) -> None:
    html = save_when(harbour_client, "daily", 6)
    [(job_id, due)] = scheduled(app).items()
    local = due.astimezone(AUCKLAND)
    assert (local.hour, local.minute) == (6, 0) and due > utcnow()
    assert job_id == f"xerosync-schedule-{HARBOUR_ACCOUNT}-{int(due.timestamp())}"
    assert "Saved." in html and re.search(r"next automatic sync is on <time[^>]*>\d{1,2} \w{3} \d{4}, 06:00<", html)

    save_when(harbour_client, "hourly")
    [(_, hourly)] = scheduled(app).items()
    assert hourly.minute == 0 and hourly - utcnow() <= timedelta(hours=1)

    save_when(harbour_client, "manual")
    assert scheduled(app) == {}
    with app.app_context():
        assert current_state().redis.get(automatic.SCHEDULE_KEY.format(account_id=HARBOUR_ACCOUNT)) is None


def test_a_schedule_fires_through_rqs_scheduler(connected: Any, app: Flask, harbour_client: FlaskClient) -> None:
    sync_now(harbour_client)
    work_queue(app)
    before = len(all_runs(app))
    with app.app_context():
        state = current_state()
        automatic.save_sync_mode(state, HARBOUR_ACCOUNT, SyncMode.HOURLY, 6)
        # the occurrence armed as if an hour ago: it is due now
        due = automatic.arm_schedule(state, HARBOUR_ACCOUNT, now=utcnow() - timedelta(hours=1))
        assert due is not None and due <= utcnow()

    work_with_scheduler(app)

    runs = all_runs(app)
    assert len(runs) == before + 1 and runs[-1].status == RunStatus.DONE and runs[-1].kind == RunKind.SYNC
    [(_, following)] = scheduled(app).items()
    assert following > utcnow()


def test_an_older_occurrence_does_nothing(connected: Any, app: Flask, harbour_client: FlaskClient) -> None:
    sync_now(harbour_client)
    work_queue(app)
    with app.app_context():
        state = current_state()
        automatic.save_sync_mode(state, HARBOUR_ACCOUNT, SyncMode.HOURLY, 6)
        # an occurrence left from before the owner's last change, due now
        Queue(state.config.queue_name, connection=state.redis).enqueue_at(
            utcnow() - timedelta(minutes=1), automatic.SCHEDULED_SYNC, HARBOUR_ACCOUNT, job_id="xerosync-schedule-old")
    before = len(all_runs(app))
    work_with_scheduler(app)
    assert len(all_runs(app)) == before


def test_no_automatic_sync_before_a_sync_by_hand(connected: Any, app: Flask) -> None:
    with app.app_context():
        state = current_state()
        automatic.save_sync_mode(state, HARBOUR_ACCOUNT, SyncMode.DAILY, 6)
        assert automatic.start_automatic_run(state, HARBOUR_ACCOUNT) == "no sync by hand yet"


def test_a_starting_worker_rearms_lost_schedules(connected: Any, app: Flask) -> None:
    with app.app_context():
        state = current_state()
        automatic.save_sync_mode(state, HARBOUR_ACCOUNT, SyncMode.DAILY, 6)
        assert automatic.arm_missing_schedules(state) == 0
        state.redis.flushdb()
        assert automatic.arm_missing_schedules(state) == 1
    assert len(scheduled(app)) == 1


def test_reconcile_pulls_everything_once_a_day(connected: Any, app: Flask, harbour_client: FlaskClient) -> None:
    sync_now(harbour_client)
    work_queue(app)
    connected.sandbox.control.advance_clock(60)  # the syncs' own writes are older than the next read
    with app.app_context():
        state = current_state()
        automatic.save_sync_mode(state, HARBOUR_ACCOUNT, SyncMode.HOURLY, 6)
        assert "xero_contacts" in (_connection().sync_marks or {})  # no items in Xero: no items mark

        assert automatic.start_automatic_run(state, HARBOUR_ACCOUNT) == automatic.STARTED
        connection = _connection()
        assert connection.reconciled_at is not None
        assert not {"xero_contacts", "xero_items"} & set(connection.sync_marks or {})
        assert "host_clients" in (connection.sync_marks or {})
    work_queue(app)
    connected.sandbox.control.advance_clock(60)
    with app.app_context():
        state = current_state()
        assert "xero_contacts" in (_connection().sync_marks or {})
        assert automatic.start_automatic_run(state, HARBOUR_ACCOUNT) == automatic.STARTED
        assert "xero_contacts" in (_connection().sync_marks or {})  # not due again yet
    work_queue(app)
    by_hand, reconciled, incremental = (run.counts["clients"] for run in all_runs(app))
    assert reconciled.get("unchanged") == by_hand["created"]  # every Xero contact read again
    assert not incremental.get("unchanged")


def _connection() -> Connection:
    session = current_state().db.session
    session.expire_all()
    connection = session.scalar(select(Connection).where(Connection.account_id == HARBOUR_ACCOUNT))
    assert connection is not None
    return connection
