"""Whose data a sync touches, and which of it one run takes on."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

PUSH_KEY = "push"
"""The key of a push run's cursor that names the invoices it pushes (see :func:`push_cursor`)."""


@dataclass(frozen=True)
class Scope:
    """One host account and one Xero organisation: every link, known record, decision and mark
    belongs to exactly one, so nothing of one organisation is ever used for another."""

    account_id: str
    tenant_id: str


def push_cursor(invoice_ids: Iterable[str]) -> dict[str, Any]:
    """The starting cursor of a push run: the invoices it pushes (kept in the run's cursor, so a
    push run continued after a pause or a lost worker still pushes only them)."""
    return {PUSH_KEY: list(dict.fromkeys(str(invoice_id) for invoice_id in invoice_ids))}


def pushed_invoices(cursor: Mapping[str, Any] | None) -> list[str] | None:
    """The invoices a push run pushes; ``None`` for any other run (a sync or a preview)."""
    if not cursor or PUSH_KEY not in cursor:
        return None
    return [str(invoice_id) for invoice_id in cursor[PUSH_KEY] or []]

