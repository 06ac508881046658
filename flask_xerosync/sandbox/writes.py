"""Shared pieces of PUT/POST handling: per-element results and field checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import errors


@dataclass
class WriteResult:
    """The outcome of one element of a batch."""

    ok: bool
    element: dict[str, Any]
    messages: list[str] = field(default_factory=list)


def normalise(text: str) -> str:
    """Xero's uniqueness key: trimmed and case-insensitive."""
    return text.strip().casefold()


def check_lengths(element: dict[str, Any], limits: dict[str, int], messages: list[str]) -> None:
    for name, limit in limits.items():
        value = element.get(name)
        if isinstance(value, str) and len(value) > limit:
            messages.append(errors.MAX_LENGTH.format(field=name, limit=limit))


def echo_error(element: Any, messages: list[str]) -> dict[str, Any]:
    """The element as sent, with Xero's validation markers."""
    echoed = dict(element) if isinstance(element, dict) else {}
    echoed["HasValidationErrors"] = True
    echoed["ValidationErrors"] = [{"Message": m} for m in messages]
    return echoed
