"""The owner's decisions about what the sync could not decide alone, kept for the next sync.

A record in review can be linked to one of its candidates, created as a new record on the other
side, or left out; a pair linked with differences can take one side's values for them. Nothing is
written to either side here: the decision is stored and the records concerned are made unsettled
again, so the next sync — and every preview until then — does what the owner chose.
"""

from __future__ import annotations

from sqlalchemy import select

from ..models import Decision, LinkKind, Side, utcnow
from .known import KnownRecords
from .rules import CREATE_NEW, LEAVE_OUT, LINK_TO
from .scope import Scope
from .store import SyncStore

USE_XERO = "use_xero"
USE_HOST = "use_host"


class DecisionError(ValueError):
    """The decision does not fit the record (the message says why, in plain words)."""


def _store(store: SyncStore, scope: Scope, side: str, record_id: str, action: str, target_id: str | None) -> None:
    found = store.session.scalar(select(Decision).where(
        Decision.account_id == scope.account_id, Decision.tenant_id == scope.tenant_id,
        Decision.kind == LinkKind.CLIENT, Decision.side == side, Decision.record_id == record_id,
    ))
    if found is None:
        found = Decision(account_id=scope.account_id, tenant_id=scope.tenant_id, kind=LinkKind.CLIENT, side=side,
                         record_id=record_id)
        store.session.add(found)
    found.action, found.target_id, found.decided_at = action, target_id, utcnow()


def other(side: str) -> str:
    return Side.XERO if side == Side.HOST else Side.HOST


def decide(store: SyncStore, scope: Scope, side: str, record_id: str, action: str, target_id: str | None = None) -> None:
    """Keep the owner's decision about a client (``side`` "host") or contact (``side`` "xero"):
    ``link`` to ``target_id`` (a record of the other side), ``create`` it as new, or
    ``leave_out``. The caller commits."""
    if side not in (Side.HOST, Side.XERO):
        raise DecisionError("Unknown side.")
    known = KnownRecords(store.session, scope, LinkKind.CLIENT)
    if not known.by_ids(side, [record_id]):
        raise DecisionError("That record is no longer known to the sync; sync again first.")
    if action == LINK_TO:
        if not target_id or not known.by_ids(other(side), [target_id]):
            raise DecisionError("Choose one of the records listed.")
        linked = store.links_by_xero(scope, LinkKind.CLIENT, [target_id if side == Side.HOST else record_id])
        linked_hosts = store.links_by_host(scope, LinkKind.CLIENT, [record_id if side == Side.HOST else target_id])
        if linked or linked_hosts:
            raise DecisionError("One of the two is already linked to another record.")
        _store(store, scope, side, record_id, LINK_TO, target_id)
        _store(store, scope, other(side), target_id, LINK_TO, record_id)
        known.reopen(other(side), [target_id])
    elif action in (CREATE_NEW, LEAVE_OUT):
        _store(store, scope, side, record_id, action, None)
    else:
        raise DecisionError("Unknown decision.")
    known.reopen(side, [record_id])


def settle_differences(store: SyncStore, scope: Scope, host_id: str, action: str) -> None:
    """Keep the owner's choice for the differences a first link kept: ``use_xero`` writes Xero's
    values here, ``use_host`` writes this app's values to Xero, at the next sync."""
    if action not in (USE_XERO, USE_HOST):
        raise DecisionError("Unknown choice.")
    if not store.links_by_host(scope, LinkKind.CLIENT, [host_id]):
        raise DecisionError("This client is not linked to a Xero contact any more.")
    _store(store, scope, Side.HOST, host_id, action, None)
    KnownRecords(store.session, scope, LinkKind.CLIENT).reopen(Side.HOST, [host_id])
