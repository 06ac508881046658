"""Whose data a sync touches."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scope:
    """One host account and one Xero organisation: every link, known record, decision and mark
    belongs to exactly one, so nothing of one organisation is ever used for another."""

    account_id: str
    tenant_id: str
