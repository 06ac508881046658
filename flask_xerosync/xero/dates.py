"""Xero's date formats: MS-JSON (``/Date(ms±hhmm)/``) and ISO on read, ``YYYY-MM-DD`` on write.

In MS-JSON the number is always milliseconds since the Unix epoch in UTC; the optional offset only
says in which zone the moment was meant (a Xero organisation's local zone). So the *instant* is
the number alone (:func:`parse_xero_date`), while the *calendar day* of a date-only field such as
``DueDate`` is the day at that offset (:func:`parse_xero_day`): ``/Date(1419937200000+1300)/`` is
2014-12-30 11:00 UTC, which is 31 December in the organisation. Reading the day in UTC is the
classic off-by-one bug.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

_MS_JSON = re.compile(r"^\\?/Date\((?P<millis>-?\d+)(?P<offset>[+-]\d{4})?\)\\?/$")


def _ms_json_parts(text: str) -> tuple[datetime, timezone] | None:
    match = _MS_JSON.match(text)
    if match is None:
        return None
    instant = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=int(match["millis"]))
    offset = match["offset"] or "+0000"
    sign = -1 if offset[0] == "-" else 1
    zone = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])))
    return instant, zone


def _parse_iso(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a Xero date: {text!r}") from None
    return parsed


def parse_xero_date(value: str | datetime) -> datetime:
    """The instant a Xero date stands for, as an aware UTC datetime.

    Accepts MS-JSON with or without an offset and ISO 8601 strings; an ISO value without a zone
    (Xero's ``UpdatedDateUTCString``, ``DateString``) is UTC. Raises ``ValueError`` for anything
    else.
    """
    if isinstance(value, datetime):
        moment = value
    else:
        text = value.strip()
        parts = _ms_json_parts(text)
        if parts is not None:
            return parts[0]
        moment = _parse_iso(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def parse_xero_day(value: str | date) -> date:
    """The calendar day of a date-only Xero field (``Date``, ``DueDate``), read at its own offset.

    ``DateString`` values (``2014-12-31T00:00:00``) and ``YYYY-MM-DD`` are taken as written.
    """
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = value.strip()
    parts = _ms_json_parts(text)
    if parts is not None:
        instant, zone = parts
        return instant.astimezone(zone).date()
    return _parse_iso(text).date()


def format_date(day: date) -> str:
    """``YYYY-MM-DD``, the only date form to write to Xero (a datetime keeps its own day)."""
    if isinstance(day, datetime):
        day = day.date()
    return day.isoformat()


def http_if_modified_since(moment: datetime) -> str:
    """An ``If-Modified-Since`` value in the form Xero's API description documents: ISO 8601
    date-time with its offset (``2020-02-06T20:17:43+00:00``), always in UTC.

    Xero compares to the second, so the fraction is dropped (which can only widen the window).
    A naive datetime is taken as UTC, as every timestamp the extension stores is (SQLite hands
    them back without a zone); it is never read as local time, the classic "If-Modified-Since is
    ignored" bug.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat()
