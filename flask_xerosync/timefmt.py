"""The one way times and dates are written for people: ``3 Dec 2025, 14:05`` and ``3 Dec 2025``,
in the business's time zone, formatted with Babel. Machine-readable forms (``<time datetime>``,
logs, the CLI) stay ISO 8601 in UTC."""

from __future__ import annotations

from datetime import date, datetime, tzinfo

from babel.dates import format_date, format_datetime

LOCALE = "en"
MOMENT_PATTERN = "d MMM y, HH:mm"
DAY_PATTERN = "d MMM y"


def format_moment(moment: datetime, zone: tzinfo) -> str:
    """A moment (timezone-aware) as the business reads it on its clock."""
    return format_datetime(moment, MOMENT_PATTERN, tzinfo=zone, locale=LOCALE)


def format_day(day: date) -> str:
    """A calendar day (Xero's ``FullyPaidOnDate``, an invoice's date): no time zone applies."""
    return format_date(day, DAY_PATTERN, locale=LOCALE)
