"""The owner's view of Xero's limits (calls used today, what the next sync will take) and times in
the business's time zone, one format, formatted with Babel."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient

from example_app import models
from flask_xerosync.config import ConfigError, load_config
from flask_xerosync.models import Connection, Run, RunKind, RunStatus
from flask_xerosync.services.limits import DAY_KEY, calls_today
from flask_xerosync.state import current_state
from flask_xerosync.timefmt import format_day, format_moment
from tests.conftest import app_config

from .conftest import HARBOUR_ACCOUNT, SETTINGS, db_session, sync_now, work_queue


def limits_text(client: FlaskClient) -> str:
    html = client.get(SETTINGS).get_data(as_text=True)
    section = re.search(r'<section class="xerosync-card xerosync-limits".*?</section>', html, re.S)
    assert section, html
    return " ".join(re.sub(r"<[^>]+>", "", section.group(0)).split())


def test_calls_used_today_are_the_organisations(connected: Any, app: Flask, harbour_client: FlaskClient) -> None:
    sync_now(harbour_client, htmx=False)
    work_queue(app)
    text = limits_text(harbour_client)
    remaining = connected.sandbox.control.counters(connected.tenant_id)["remaining"]["day"]
    used = 5000 - remaining
    assert used > 0
    assert f"{used} of 5,000 calls to Xero used today ({5000 - used:,} left)" in text
    assert "Xero allows this app 5,000 calls a day with each organisation." in text


def test_what_the_next_sync_will_take_comes_from_the_preview(connected: Any, app: Flask,
                                                              harbour_client: FlaskClient) -> None:
    assert "Preview to see how many calls the first sync will take." in limits_text(harbour_client)
    with db_session(app) as session:
        preview = session.query(Run).filter_by(account_id=HARBOUR_ACCOUNT, kind=RunKind.PREVIEW).one()
        preview.estimate = {"reads": {}, "writes": {}, "calls": 7}
        session.commit()
    assert "The next sync will take about 7 calls (from the preview of" in limits_text(harbour_client)

    sync_now(harbour_client, htmx=False)
    work_queue(app)
    with db_session(app) as session:
        last = session.query(Run).filter_by(account_id=HARBOUR_ACCOUNT, kind=RunKind.SYNC).one()
        assert last.status == RunStatus.DONE
        calls = last.api_calls
    text = limits_text(harbour_client)
    assert f"The last sync took {calls} calls. Preview to see what the next one will take." in text


def test_calls_today_reads_the_limiters_day_window(app: Flask) -> None:
    with app.app_context():
        redis = current_state().redis
        now = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
        assert calls_today(redis, "t-1", 5000, now).used == 0
        redis.hset(DAY_KEY.format(tenant_id="t-1"), mapping={"used": 1234, "reset_at": now.timestamp() + 60})
        today = calls_today(redis, "t-1", 5000, now)
        assert (today.used, today.left, today.percent) == (1234, 3766, 25)
        assert today.resets_at == datetime(2026, 3, 1, 9, 1, tzinfo=timezone.utc)
        assert calls_today(redis, "t-1", 5000, datetime(2026, 3, 1, 9, 2, tzinfo=timezone.utc)).used == 0


def test_one_format_in_the_business_time_zone() -> None:
    moment = datetime(2025, 12, 3, 1, 5, tzinfo=timezone.utc)
    assert format_moment(moment, ZoneInfo("Pacific/Auckland")) == "3 Dec 2025, 14:05"
    assert format_moment(moment, ZoneInfo("America/New_York")) == "2 Dec 2025, 20:05"
    assert format_moment(moment, timezone.utc) == "3 Dec 2025, 01:05"
    assert format_day(date(2025, 12, 3)) == "3 Dec 2025"


def test_pages_show_times_on_the_business_clock(connected: Any, app: Flask, harbour_client: FlaskClient) -> None:
    connected_at = datetime(2025, 12, 3, 1, 5, tzinfo=timezone.utc)
    with db_session(app) as session:
        session.query(Connection).filter_by(account_id=HARBOUR_ACCOUNT).one().connected_at = connected_at
        session.commit()
    html = harbour_client.get(SETTINGS).get_data(as_text=True)
    assert "Connected on <time datetime=\"2025-12-03T01:05:00+00:00\">3 Dec 2025, 14:05</time> (Pacific/Auckland time)" in html
    assert "UTC" not in re.sub(r'datetime="[^"]*"', "", html)

    with app.app_context():
        business = models.db.session.get(models.Business, 1)
        business.timezone = "Australia/Perth"
        models.db.session.commit()
    html = harbour_client.get(SETTINGS).get_data(as_text=True)
    assert ">3 Dec 2025, 09:05</time> (Australia/Perth time)" in html


def test_the_time_zone_default_comes_from_config(sandbox_org: Any, redis_url: str, database_url: str) -> None:
    config = app_config(sandbox_org.sandbox.url, redis_url, database_url)
    assert load_config(config).timezone == "UTC"
    assert load_config({**config, "XEROSYNC_TIMEZONE": "Pacific/Auckland"}).timezone == "Pacific/Auckland"
    with pytest.raises(ConfigError, match="XEROSYNC_TIMEZONE"):
        load_config({**config, "XEROSYNC_TIMEZONE": "Middle/Earth"})
    with pytest.raises(ConfigError, match="XEROSYNC_UPGRADE_URL"):
        load_config({**config, "XEROSYNC_UPGRADE_URL": "upgrade"})
    with pytest.raises(ConfigError, match="XEROSYNC_WEBHOOK_DELAY"):
        load_config({**config, "XEROSYNC_WEBHOOK_DELAY": -1})


def test_a_business_without_a_zone_uses_the_default(app: Flask) -> None:
    with app.test_request_context():
        state = current_state()
        assert str(state.timezone_of(HARBOUR_ACCOUNT)) == "Pacific/Auckland"  # the example app's loader
        assert str(state.timezone_of("999")) == "UTC"  # no such business: XEROSYNC_TIMEZONE
        assert str(state.timezone_of(None)) == "UTC"
