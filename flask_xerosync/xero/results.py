"""What the Xero API hands back: per-element write results, pages of contacts, limit headers, and
Xero's messages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class WriteResult:
    """The outcome of one record of a batch write.

    ``index`` is the record's position in the input of the write call; ``record`` is Xero's
    element as returned (with ``ContactID``/``ItemID``/``InvoiceID``, numbers, totals and status
    when it succeeded, or the echoed element when it failed); ``messages`` are every validation
    message Xero attached, nested ones (addresses, phones, line items) included.
    """

    index: int
    ok: bool
    record: dict[str, Any]
    messages: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ContactPage:
    """One page of a contacts pull: its number, the contacts on it that this pull had not read
    yet, and Xero's clock when it answered (the envelope's ``DateTimeUTC``; ``None`` when the
    answer carried none, e.g. a ``304 Not Modified``)."""

    number: int
    contacts: list[dict[str, Any]]
    xero_time: datetime | None


@dataclass(frozen=True)
class InvoicePage:
    """One page of a paid-status read: its number, the invoices on it that this read had not seen
    yet, and Xero's clock when it answered (as :class:`ContactPage`)."""

    number: int
    invoices: list[dict[str, Any]]
    xero_time: datetime | None


@dataclass(frozen=True)
class LimitHeaders:
    """The remaining allowances Xero reports on a response (``None`` when a header is absent)."""

    minute_remaining: int | None
    day_remaining: int | None
    app_minute_remaining: int | None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> LimitHeaders:
        lowered = {name.lower(): value for name, value in headers.items()}
        return cls(
            minute_remaining=_int_or_none(lowered.get("x-minlimit-remaining")),
            day_remaining=_int_or_none(lowered.get("x-daylimit-remaining")),
            app_minute_remaining=_int_or_none(lowered.get("x-appminlimit-remaining")),
        )


def _int_or_none(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def _messages_under(node: Any, key: str, found: list[str]) -> None:
    if isinstance(node, dict):
        for name, value in node.items():
            if name == key and isinstance(value, list):
                found.extend(
                    str(entry["Message"])
                    for entry in value
                    if isinstance(entry, dict) and entry.get("Message")
                )
            else:
                _messages_under(value, key, found)
    elif isinstance(node, list):
        for entry in node:
            _messages_under(entry, key, found)


def nested_messages(element: Any, key: str = "ValidationErrors") -> list[str]:
    """Every ``<key>[].Message`` in an element and the objects nested in it, in order, once each."""
    found: list[str] = []
    _messages_under(element, key, found)
    return list(dict.fromkeys(found))


def element_result(index: int, element: dict[str, Any]) -> WriteResult:
    """A :class:`WriteResult` from one element of a ``summarizeErrors=false`` response."""
    status = str(element.get("StatusAttributeString") or "").upper()
    if status == "OK" and not element.get("HasValidationErrors") and not element.get("Warnings"):
        return WriteResult(index=index, ok=True, record=element)
    messages = nested_messages(element)
    warnings = nested_messages(element, "Warnings")
    failed = status == "ERROR" or bool(element.get("HasValidationErrors")) or bool(messages)
    return WriteResult(index=index, ok=not failed, record=element, messages=messages, warnings=warnings)


def error_messages(body: Any) -> list[str]:
    """Xero's explanation(s) in an error body, whichever of its two shapes it has.

    ``ValidationException`` bodies carry ``Message`` and per-element ``ValidationErrors``;
    problem bodies (auth, tenant, limits) carry ``Title``/``Detail``.
    """
    if not isinstance(body, dict):
        return []
    found = nested_messages(body.get("Elements") or [])
    if found:
        return found
    for key in ("Detail", "Message", "Title"):
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            return [value.strip()]
    return []
