"""The Xero accounting API client, its shared rate limiter, and Xero's date formats."""

from __future__ import annotations

from .client import XeroClient
from .dates import format_date, http_if_modified_since, parse_xero_date, parse_xero_day
from .ratelimit import RateLimiter
from .results import LimitHeaders, WriteResult

__all__ = [
    "LimitHeaders",
    "RateLimiter",
    "WriteResult",
    "XeroClient",
    "format_date",
    "http_if_modified_since",
    "parse_xero_date",
    "parse_xero_day",
]
