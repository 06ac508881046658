"""The owner's answers to what a sync (or a preview) could not decide alone.

From a run's record log the owner can settle a record in review — link it to one of the records
listed, create it as new on the other side, or leave it out — and, for a pair linked with
differences, take Xero's values or this app's. Nothing is written to either side here: the decision
is kept (``sync.decisions``) and the next sync, and every preview until then, carries it out.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, scoped_session

from ..errors import XeroSyncError
from ..models import Outcome, RecordResult, Run
from ..sync import decisions
from ..sync.rules import CREATE_NEW, LEAVE_OUT, LINK_TO
from ..sync.scope import Scope
from ..sync.store import SyncStore
from .connections import connection_of

CHOICES = {
    LINK_TO: "It will be linked to the record you chose at the next sync.",
    CREATE_NEW: "It will be created as a new record at the next sync.",
    LEAVE_OUT: "It is left out of the sync; it will not be linked or created.",
    decisions.USE_XERO: "Xero's values will be written here at the next sync.",
    decisions.USE_HOST: "This app's values will be written to Xero at the next sync.",
}


def candidates_of(record: RecordResult) -> list[dict[str, Any]]:
    """The records a record in review could be (each with ``side``, ``id``, ``label``, ``email``,
    the ``rules`` it matched by, and what it is linked to)."""
    return [c for c in (record.details or {}).get("candidates") or [] if c.get("id")]


def reviewable(record: RecordResult) -> bool:
    return record.outcome == Outcome.NEEDS_REVIEW and not record.resolved and bool((record.details or {}).get("record"))


def has_differences(record: RecordResult) -> bool:
    return record.outcome == Outcome.LINKED and not record.resolved and bool((record.details or {}).get("differences"))


def _scope(session: Session | scoped_session[Any], run: Run) -> Scope:
    connection = connection_of(session, run.account_id)
    if connection is None or connection.tenant_id != run.tenant_id:
        raise XeroSyncError(
            "This sync was with another Xero organisation than the one connected now, so its records "
            "cannot be decided here."
        )
    return Scope(run.account_id, run.tenant_id)


def decide(session: Session | scoped_session[Any], run: Run, record: RecordResult, action: str,
           target_id: str | None = None) -> str:
    """Keep the owner's decision about a record in review; returns what will happen."""
    if not reviewable(record):
        raise XeroSyncError("This record does not need a decision any more.")
    if record.stage != "clients":
        raise XeroSyncError("Give each of these services or products its own code, then sync again.")
    subject = (record.details or {})["record"]
    if action == LINK_TO and target_id not in {str(c["id"]) for c in candidates_of(record)
                                               if c.get("side") != subject.get("side")}:
        raise XeroSyncError("Choose one of the records listed.")
    try:
        decisions.decide(SyncStore(session), _scope(session, run), str(subject["side"]), str(subject["id"]),
                         action, target_id)
    except decisions.DecisionError as exc:
        raise XeroSyncError(str(exc)) from None
    _resolved(session, record, {"decision": action, "target": target_id})
    return CHOICES[action]


def settle(session: Session | scoped_session[Any], run: Run, record: RecordResult, choice: str) -> str:
    """Keep the owner's choice of side for the differences a first link kept."""
    if not has_differences(record) or not record.host_id:
        raise XeroSyncError("This record has no differences left to settle.")
    try:
        decisions.settle_differences(SyncStore(session), _scope(session, run), str(record.host_id), choice)
    except decisions.DecisionError as exc:
        raise XeroSyncError(str(exc)) from None
    _resolved(session, record, {"decision": choice})
    return CHOICES[choice]


def _resolved(session: Session | scoped_session[Any], record: RecordResult, resolution: dict[str, Any]) -> None:
    record.resolved = True
    record.details = {**(record.details or {}), "resolution": resolution}
    session.commit()

