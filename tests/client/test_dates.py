from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from flask_xerosync.xero.dates import format_date, http_if_modified_since, parse_xero_date, parse_xero_day

UTC = timezone.utc


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/Date(1439434356790)/", datetime(2015, 8, 13, 2, 52, 36, 790000, tzinfo=UTC)),
        ("/Date(1419937200000+0000)/", datetime(2014, 12, 30, 11, 0, tzinfo=UTC)),
        # The number is UTC whatever the offset: the offset does not move the instant.
        ("/Date(1419937200000+1300)/", datetime(2014, 12, 30, 11, 0, tzinfo=UTC)),
        ("/Date(1419937200000-0530)/", datetime(2014, 12, 30, 11, 0, tzinfo=UTC)),
        ("\\/Date(1419937200000+0000)\\/", datetime(2014, 12, 30, 11, 0, tzinfo=UTC)),
        ("/Date(-86400000)/", datetime(1969, 12, 31, tzinfo=UTC)),
        ("2026-07-14T03:04:05", datetime(2026, 7, 14, 3, 4, 5, tzinfo=UTC)),
        ("2026-07-14T03:04:05.123Z", datetime(2026, 7, 14, 3, 4, 5, 123000, tzinfo=UTC)),
        ("2020-02-06T12:17:43.202-08:00", datetime(2020, 2, 6, 20, 17, 43, 202000, tzinfo=UTC)),
        ("2026-07-14", datetime(2026, 7, 14, tzinfo=UTC)),
    ],
)
def test_parse_xero_date_gives_the_instant_in_utc(text: str, expected: datetime) -> None:
    parsed = parse_xero_date(text)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


def test_parse_xero_date_makes_aware_datetimes_utc() -> None:
    local = datetime(2026, 1, 1, 13, 0, tzinfo=timezone(timedelta(hours=13)))
    assert parse_xero_date(local) == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    assert parse_xero_date(datetime(2026, 1, 1)).tzinfo == UTC


@pytest.mark.parametrize("text", ["", "yesterday", "/Date(abc)/", "/Date(123+13)/"])
def test_parse_xero_date_refuses_what_is_not_a_date(text: str) -> None:
    with pytest.raises(ValueError):
        parse_xero_date(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # 2014-12-30 11:00 UTC is already 31 December in a +13:00 organisation (pitfall 5).
        ("/Date(1419937200000+1300)/", date(2014, 12, 31)),
        ("/Date(1419937200000+0000)/", date(2014, 12, 30)),
        ("/Date(1419937200000-1200)/", date(2014, 12, 29)),
        ("/Date(1419984000000)/", date(2014, 12, 31)),
        ("2014-12-31T00:00:00", date(2014, 12, 31)),
        ("2014-12-31", date(2014, 12, 31)),
    ],
)
def test_parse_xero_day_reads_the_calendar_day_at_the_given_offset(text: str, expected: date) -> None:
    assert parse_xero_day(text) == expected


def test_format_date_writes_iso_days() -> None:
    assert format_date(date(2026, 3, 9)) == "2026-03-09"
    assert format_date(datetime(2026, 3, 9, 23, 59, tzinfo=UTC)) == "2026-03-09"


def test_if_modified_since_is_utc_to_the_second() -> None:
    moment = datetime(2026, 7, 14, 15, 4, 5, 999999, tzinfo=timezone(timedelta(hours=12)))
    assert http_if_modified_since(moment) == "2026-07-14T03:04:05+00:00"


def test_if_modified_since_reads_naive_datetimes_as_utc_never_local() -> None:
    assert http_if_modified_since(datetime(2026, 7, 14, 3, 4, 5)) == "2026-07-14T03:04:05+00:00"
