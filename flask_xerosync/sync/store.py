"""Every database access of the engine: links, record results, sync marks, flags, org lists.

Goes through the host's SQLAlchemy session. The engine owns its unit of work: it commits after
each batch (links + record results + flag updates + the host saves made through HostData), so a
killed worker loses at most one batch and the next run resumes from there.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, scoped_session

from ..models import (
    Connection,
    InvoiceFlag,
    InvoiceState,
    Link,
    OrgCache,
    Preferences,
    RecordResult,
    default_preferences,
    utcnow,
)
from .outcomes import RecordOutcome

_IN_CHUNK = 500

T = TypeVar("T")


def _chunks(values: Sequence[T], size: int = _IN_CHUNK) -> Iterable[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


@dataclass(frozen=True)
class Scope:
    """Whose data a sync touches: one host account and one Xero organisation."""

    account_id: str
    tenant_id: str


class LinkConflict(Exception):
    """The Xero record is already linked to another host record."""


class SyncStore:
    def __init__(self, db_session: Session | scoped_session[Any]) -> None:
        self.session = db_session

    def commit(self) -> None:
        self.session.commit()

    def flush(self) -> None:
        """Write pending rows without ending the transaction (open host result streams survive)."""
        self.session.flush()

    def rollback(self) -> None:
        self.session.rollback()

    def _links(self, scope: Scope, kind: str, column: Any, values: Iterable[str]) -> list[Link]:
        unique = sorted({value for value in values if value})
        found: list[Link] = []
        for chunk in _chunks(unique):
            found.extend(
                self.session.scalars(
                    select(Link).where(
                        Link.account_id == scope.account_id,
                        Link.tenant_id == scope.tenant_id,
                        Link.kind == kind,
                        column.in_(chunk),
                    )
                )
            )
        return found

    def links_by_host(self, scope: Scope, kind: str, host_ids: Iterable[str]) -> dict[str, Link]:
        return {link.host_id: link for link in self._links(scope, kind, Link.host_id, host_ids)}

    def links_by_xero(self, scope: Scope, kind: str, xero_ids: Iterable[str]) -> dict[str, Link]:
        return {link.xero_id: link for link in self._links(scope, kind, Link.xero_id, xero_ids)}

    def links_by_key(self, scope: Scope, kind: str, keys: Iterable[str]) -> dict[str, Link]:
        return {link.xero_key: link for link in self._links(scope, kind, Link.xero_key, keys)}

    def save_link(
        self,
        scope: Scope,
        kind: str,
        host_id: str,
        xero_id: str,
        *,
        fingerprint: str,
        xero_key: str = "",
        xero_updated_at: datetime | None = None,
    ) -> Link:
        """Create or move the host record's link; refuses a Xero record linked to another one."""
        found = list(
            self.session.scalars(
                select(Link).where(
                    Link.account_id == scope.account_id,
                    Link.tenant_id == scope.tenant_id,
                    Link.kind == kind,
                    or_(Link.host_id == host_id, Link.xero_id == xero_id),
                )
            )
        )
        holder = next((link for link in found if link.xero_id == xero_id), None)
        if holder is not None and holder.host_id != host_id:
            raise LinkConflict(f"{kind} {xero_id} is linked to host record {holder.host_id}")
        link = holder or next((link for link in found if link.host_id == host_id), None)
        if link is None:
            link = Link(account_id=scope.account_id, tenant_id=scope.tenant_id, kind=kind, host_id=host_id)
            self.session.add(link)
        link.xero_id = xero_id
        link.fingerprint = fingerprint
        link.xero_key = xero_key[:255]
        link.xero_updated_at = xero_updated_at
        link.synced_at = utcnow()
        return link

    def add_record(self, run_id: str, record: RecordOutcome) -> None:
        self.session.add(
            RecordResult(
                run_id=run_id,
                stage=record.stage,
                direction=record.direction,
                outcome=record.outcome,
                label=record.label[:255],
                host_id=record.host_id,
                xero_id=record.xero_id,
                message=record.message,
                fix=record.fix,
                details=record.details,
            )
        )

    def connection(self, account_id: str) -> Connection | None:
        return self.session.scalars(select(Connection).where(Connection.account_id == account_id)).first()

    def marks(self, account_id: str) -> dict[str, str]:
        connection = self.connection(account_id)
        return dict(connection.sync_marks or {}) if connection else {}

    def set_marks(self, account_id: str, updates: dict[str, str]) -> None:
        connection = self.connection(account_id)
        if connection is None:
            return
        connection.sync_marks = {**(connection.sync_marks or {}), **updates}

    def preferences(self, account_id: str) -> Preferences:
        """The account's saved preferences, or the defaults (unsaved) when it has none yet."""
        found = self.session.get(Preferences, account_id)
        return found if found is not None else default_preferences(account_id)

    def flagged_invoice_ids(self, account_id: str) -> list[str]:
        return list(
            self.session.scalars(
                select(InvoiceFlag.invoice_id)
                .where(InvoiceFlag.account_id == account_id, InvoiceFlag.state == InvoiceState.FLAGGED)
                .order_by(InvoiceFlag.id)
            )
        )

    def flags(self, account_id: str, invoice_ids: Sequence[str]) -> dict[str, InvoiceFlag]:
        found: dict[str, InvoiceFlag] = {}
        for chunk in _chunks(list(invoice_ids)):
            for flag in self.session.scalars(
                select(InvoiceFlag).where(InvoiceFlag.account_id == account_id, InvoiceFlag.invoice_id.in_(chunk))
            ):
                found[flag.invoice_id] = flag
        return found

    def org_list(self, tenant_id: str, kind: str) -> list[dict[str, Any]] | None:
        cached = self.session.scalars(
            select(OrgCache).where(OrgCache.tenant_id == tenant_id, OrgCache.kind == kind)
        ).first()
        return list(cached.payload) if cached is not None else None
