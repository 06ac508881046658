"""The Xero accounting API (``XeroApi``), its shared rate limiter, and Xero's date formats."""

from __future__ import annotations

from .api import XeroApi
from .dates import format_date, http_if_modified_since, parse_xero_date, parse_xero_day
from .ratelimit import RateLimiter
from .results import ContactPage, LimitHeaders, WriteResult

__all__ = [
    "ContactPage",
    "LimitHeaders",
    "RateLimiter",
    "WriteResult",
    "XeroApi",
    "format_date",
    "http_if_modified_since",
    "parse_xero_date",
    "parse_xero_day",
]
