"""Xero's wire formats: JSON with exact decimals, MS-JSON dates, money rounding."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any

_DECIMAL_MARK = "\u0000XSD:"
_DECIMAL_RE = re.compile(r'"\\u0000XSD:(-?[0-9]+(?:\.[0-9]+)?)"')
_MS_DATE_RE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")

TWO_DP = Decimal("0.01")
FOUR_DP = Decimal("0.0001")


def round_money(value: Decimal, places: Decimal = TWO_DP) -> Decimal:
    """Round half away from zero, as Xero does for line tax and amounts."""
    return value.quantize(places, rounding=ROUND_HALF_UP)


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return _DECIMAL_MARK + format(obj, "f")
    if isinstance(obj, datetime):
        return ms_date(obj)
    if isinstance(obj, date):
        return ms_date(datetime.combine(obj, time(0), tzinfo=timezone.utc))
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def dumps(payload: Any) -> str:
    """JSON text where ``Decimal`` values are written as exact numbers (``40.00``)."""
    text = json.dumps(payload, default=_default, ensure_ascii=False, separators=(",", ":"))
    return _DECIMAL_RE.sub(r"\1", text)


def loads(text: str | bytes) -> Any:
    """Parse request JSON keeping numbers exact."""
    return json.loads(text, parse_float=Decimal)


def ms_date(moment: datetime, with_offset: bool = True) -> str:
    """``/Date(1551399321043+0000)/`` for an aware datetime."""
    millis = int(round(moment.timestamp() * 1000))
    return f"/Date({millis}+0000)/" if with_offset else f"/Date({millis})/"


def date_string(day: date) -> str:
    """Xero's ``DateString`` helper format: ``2019-03-07T00:00:00``."""
    return f"{day.isoformat()}T00:00:00"


def parse_date(value: Any) -> date | None:
    """Accept ``YYYY-MM-DD``, ``YYYY-MM-DDTHH:MM:SS`` or ``/Date(ms)/``; ``None`` if unparseable."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    match = _MS_DATE_RE.match(text)
    if match:
        return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=timezone.utc).date()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def parse_http_datetime(value: str) -> datetime | None:
    """Parse ``If-Modified-Since``: RFC 1123 or ISO 8601 (naive means UTC)."""
    text = value.strip()
    if not text:
        return None
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        parsed = None
    if parsed is None:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def to_decimal(value: Any) -> Decimal | None:
    """Numbers from request JSON (or numeric strings); ``None`` when absent or invalid."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
