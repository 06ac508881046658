"""Xero's record timestamps, read leniently (a record without a readable one is still synced)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..xero.dates import parse_xero_date


def xero_updated_at(record: Mapping[str, Any]) -> datetime | None:
    value = record.get("UpdatedDateUTC")
    try:
        return parse_xero_date(value) if value else None
    except ValueError:
        return None
