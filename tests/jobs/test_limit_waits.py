"""Runs that yield instead of sleeping (issue 10, part 2): a run that would wait for Xero's limit
longer than ``XEROSYNC_MAX_LIMIT_WAIT`` keeps what it did, hands its worker back and is continued
by RQ's scheduler at the time it shows, on any worker, with nothing lost or done twice; the daily
pause ends by itself.

Time is never waited for: the limiter's clock is a fake one moved by the test (and by the
limiter's own short sleeps), and the scheduler's step (due jobs from ``ScheduledJobRegistry`` to
the queue) is run here for a given moment, as RQ's scheduler would at that moment.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue, SimpleWorker
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from example_app.models import Client
from flask_xerosync.models import Link, RunStatus, utcnow
from flask_xerosync.services.run_status import ENQUEUE_GRACE, WAIT_LOST, reconcile
from flask_xerosync.services.runs import job_id_for
from flask_xerosync.services.sync_now import RUN_SYNC, whole_second
from flask_xerosync.state import current_state
from flask_xerosync.timefmt import format_moment
from flask_xerosync.xero.ratelimit import RateLimiter
from tests.conftest import app_config, build_app, drop_app_tables

from .conftest import HARBOUR_ACCOUNT, SETTINGS, all_runs, db_session, run_id_in, run_row, sync_now

PROGRESS = "/settings/accounting-sync/runs/{}/progress"
CONTACTS = 18


class FakeTime:
    """The limiter's clock: it moves when the limiter sleeps (a short wait) or the test moves it."""

    def __init__(self) -> None:
        self.now = time.time()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def move_to(self, moment: datetime) -> None:
        self.now = max(self.now, moment.timestamp())


@pytest.fixture
def app(sandbox_org: Any, redis_url: str, database_url: str) -> Iterator[Flask]:
    """Small pages and batches and 4 calls a minute, so a first sync needs several minutes."""
    application = build_app(app_config(
        sandbox_org.sandbox.url, redis_url, database_url,
        XEROSYNC_PAGE_SIZE=5, XEROSYNC_BATCH_SIZE=5, XEROSYNC_RATE_LIMIT_PER_MINUTE=4, XEROSYNC_MAX_LIMIT_WAIT=5,
    ))
    yield application
    drop_app_tables(application)


@pytest.fixture
def fake_time(app: Flask, monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr("flask_xerosync.services.xero_api.RateLimiter",
                        functools.partial(RateLimiter, clock=fake.clock))
    with app.app_context():
        current_state().sleep = fake.sleep
    return fake


def seed_contacts(org: Any, count: int) -> None:
    org.sandbox.control.seed_contacts(org.tenant_id, [
        {"Name": f"Waiting Customer {n:02d}", "EmailAddress": f"waiting{n:02d}@sandbox.example", "IsCustomer": True}
        for n in range(count)
    ])


def work(app: Flask, name: str) -> None:
    """Run what is queued with a worker of that name (burst), inside an app context."""
    with app.app_context():
        state = current_state()
        queue = Queue(state.config.queue_name, connection=state.redis)
        SimpleWorker([queue], connection=state.redis, name=name).work(burst=True)


def release_due(app: Flask, moment: datetime) -> list[str]:
    """RQ's scheduler step at ``moment``: the scheduled jobs due by then go to the queue."""
    with app.app_context():
        state = current_state()
        registry = ScheduledJobRegistry(state.config.queue_name, connection=state.redis)
        queue = Queue(state.config.queue_name, connection=state.redis)
        due = [job_id.decode() if isinstance(job_id, bytes) else job_id
               for job_id in registry.get_jobs_to_schedule(int(moment.timestamp()))]
        for job_id in due:
            queue.enqueue_job(Job.fetch(job_id, connection=state.redis))
            registry.remove(job_id)
        return due


def scheduled(app: Flask) -> dict[str, datetime]:
    with app.app_context():
        state = current_state()
        registry = ScheduledJobRegistry(state.config.queue_name, connection=state.redis)
        return {job_id: registry.get_scheduled_time(job_id) for job_id in registry.get_job_ids()}


def job(app: Flask, job_id: str) -> Job:
    with app.app_context():
        return Job.fetch(job_id, connection=current_state().redis)


def continue_until_done(app: Flask, fake: FakeTime, run_id: str) -> list[str]:
    """Continue the run at each time it shows, alternating two workers; the jobs of its parts."""
    parts = [run_row(app, run_id).job_id or ""]
    for turn in range(50):
        work(app, f"worker-{turn % 2}")
        run = run_row(app, run_id)
        if run.status != RunStatus.WAITING:
            return parts
        assert run.resume_at is not None and run.job_id not in parts
        assert release_due(app, run.resume_at - timedelta(seconds=1)) == []  # not before its time
        fake.move_to(run.resume_at)
        assert release_due(app, whole_second(run.resume_at)) == [run.job_id]
        parts.append(run.job_id or "")
    raise AssertionError("the run never finished")


def host_client_names(app: Flask) -> list[str]:
    with db_session(app) as session:
        return list(session.scalars(select(Client.name).where(Client.business_id == 1, Client.archived.is_(False))))


def client_links(app: Flask) -> list[Link]:
    with db_session(app) as session:
        rows = list(session.scalars(select(Link).where(Link.account_id == HARBOUR_ACCOUNT, Link.kind == "client")))
        session.expunge_all()
        return rows


def test_a_run_yields_and_other_workers_continue_it_with_nothing_lost_or_done_twice(
    connected: Any, app: Flask, harbour_client: FlaskClient, fake_time: FakeTime
) -> None:
    seed_contacts(connected, CONTACTS)
    harbour_client.get(SETTINGS)  # the page reads (and caches) the organisation's lists once
    calls_before = connected.sandbox.control.counters(connected.tenant_id)["total_calls"]
    run_id = run_id_in(sync_now(harbour_client).get_data(as_text=True))
    parts = continue_until_done(app, fake_time, run_id)

    run = run_row(app, run_id)
    assert run.status == RunStatus.DONE, run.error
    assert len(parts) >= 3, "4 calls a minute: the run must have waited several times"
    assert len(all_runs(app)) == 1
    assert run.job_id == parts[-1] and all(part.startswith(job_id_for(run_id)) for part in parts)
    workers = {job(app, part).worker_name for part in parts}
    assert workers == {"worker-0", "worker-1"}

    counters = connected.sandbox.control.counters(connected.tenant_id)
    assert counters["rate_limited"] == 0
    # Every call of every part is counted once (the sandbox counts the organisation's calls; the
    # connection check at the start of each part is tenant-less).
    assert run.api_calls == counters["total_calls"] - calls_before + len(parts)

    xero_names = [c["Name"] for c in connected.sandbox.control.contacts(connected.tenant_id)
                  if c.get("ContactStatus") != "ARCHIVED"]
    host_names = host_client_names(app)
    assert sorted(xero_names) == sorted(set(xero_names)), "a contact was created twice in Xero"
    assert sorted(host_names) == sorted(set(host_names)), "a client was created twice in the host"
    assert set(xero_names) == set(host_names)
    links = client_links(app)
    assert len(links) == len(host_names) == len(xero_names)
    assert run.counts["clients"]["created"] == len(host_names)  # each record counted once across parts


def test_the_daily_pause_continues_by_itself_at_the_time_shown(
    connected: Any, app: Flask, harbour_client: FlaskClient, fake_time: FakeTime
) -> None:
    control = connected.sandbox.control
    seed_contacts(connected, 6)
    control.set_limits(connected.tenant_id, per_day=2)
    run_id = run_id_in(sync_now(harbour_client).get_data(as_text=True))
    work(app, "worker-0")

    run = run_row(app, run_id)
    assert run.status == RunStatus.WAITING and run.resume_at is not None
    assert run.resume_at > utcnow() + timedelta(hours=1)  # the organisation's day, not a minute
    with app.app_context():
        shown = format_moment(run.resume_at, current_state().timezone_of(HARBOUR_ACCOUNT))
    fragment = harbour_client.get(PROGRESS.format(run_id)).get_data(as_text=True)
    assert f"Waiting for Xero's limit, continues at <time datetime=\"{run.resume_at.isoformat()}\">{shown}</time>" \
        in fragment
    assert scheduled(app) == {run.job_id: whole_second(run.resume_at)}
    run_page = harbour_client.get(f"/settings/accounting-sync/runs/{run_id}").get_data(as_text=True)
    assert "<dt>Continues by itself at</dt>" in run_page and shown in run_page

    # Xero's new day: the allowance is back at the time shown.
    control.set_limits(connected.tenant_id, per_day=5000)
    control.advance_clock((run.resume_at - utcnow()).total_seconds() + 1)
    assert release_due(app, run.resume_at - timedelta(seconds=1)) == []
    fake_time.move_to(run.resume_at)
    assert release_due(app, whole_second(run.resume_at)) == [run.job_id]
    parts = continue_until_done(app, fake_time, run_id)
    finished = run_row(app, run_id)
    assert finished.status == RunStatus.DONE, finished.error
    assert len(parts) >= 1 and len(all_runs(app)) == 1
    assert control.counters(connected.tenant_id)["rate_limited"] <= 1  # at most the call that found the day spent


def test_a_stale_continuation_does_nothing(
    connected: Any, app: Flask, harbour_client: FlaskClient, fake_time: FakeTime
) -> None:
    seed_contacts(connected, CONTACTS)
    run_id = run_id_in(sync_now(harbour_client).get_data(as_text=True))
    work(app, "worker-0")
    waiting = run_row(app, run_id)
    assert waiting.status == RunStatus.WAITING
    calls = connected.sandbox.control.counters(connected.tenant_id)["total_calls"]

    with app.app_context():  # the run's first job again (a retry, a duplicate): no longer its job
        state = current_state()
        Queue(state.config.queue_name, connection=state.redis).enqueue(
            RUN_SYNC, run_id, job_id=f"{job_id_for(run_id)}-stale")
    fake_time.move_to(waiting.resume_at or utcnow())
    work(app, "worker-1")

    after = run_row(app, run_id)
    assert (after.status, after.job_id, after.api_calls) == (RunStatus.WAITING, waiting.job_id, waiting.api_calls)
    assert connected.sandbox.control.counters(connected.tenant_id)["total_calls"] == calls
    assert job(app, f"{job_id_for(run_id)}-stale").return_value() == {}


def test_sync_now_while_waiting_shows_the_waiting_run_polled_every_five_seconds(
    connected: Any, app: Flask, harbour_client: FlaskClient, fake_time: FakeTime
) -> None:
    seed_contacts(connected, CONTACTS)
    run_id = run_id_in(sync_now(harbour_client).get_data(as_text=True))
    work(app, "worker-0")
    again = sync_now(harbour_client).get_data(as_text=True)
    assert run_id_in(again) == run_id
    assert "Waiting for Xero's limit, continues at" in again
    assert 'hx-trigger="load delay:5s"' in again
    assert len(all_runs(app)) == 1


def test_a_waiting_run_stays_while_its_continuation_is_scheduled_or_due(
    connected: Any, app: Flask, harbour_client: FlaskClient, fake_time: FakeTime
) -> None:
    seed_contacts(connected, CONTACTS)
    run_id = run_id_in(sync_now(harbour_client).get_data(as_text=True))
    work(app, "worker-0")
    with app.app_context():
        state = current_state()
        session = state.db.session
        run = session.get(type(run_row(app, run_id)), run_id)
        assert run is not None
        reconcile(session, state.redis, state.config.queue_name, run)
        assert run.status == RunStatus.WAITING  # scheduled in RQ's ScheduledJobRegistry: alive

        Job.fetch(run.job_id or "", connection=state.redis).delete()  # the continuation is lost
        run.resume_at = datetime.now(timezone.utc) - ENQUEUE_GRACE + timedelta(seconds=30)
        session.commit()
        reconcile(session, state.redis, state.config.queue_name, run)
        assert run.status == RunStatus.WAITING  # within the grace after its time

        run.resume_at = datetime.now(timezone.utc) - ENQUEUE_GRACE - timedelta(seconds=1)
        session.commit()
        reconcile(session, state.redis, state.config.queue_name, run)
        assert (run.status, run.error) == (RunStatus.FAILED, WAIT_LOST)
