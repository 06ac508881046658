"""Every database access of the engine: links, record results, sync marks, flags, org lists.

Goes through the host's SQLAlchemy session. The engine owns its unit of work: it commits after
each batch (links + record results + flag updates + the host saves made through HostData), so a
killed worker loses at most one batch and the next run resumes from there.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session, scoped_session

from ..models import (
    Connection,
    Decision,
    InvoiceFlag,
    InvoiceState,
    KnownRecord,
    Link,
    OrgCache,
    Outcome,
    Preferences,
    RecordResult,
    Run,
    default_preferences,
    utcnow,
)
from .bulk import among, dialect_of, upsert
from .outcomes import RecordOutcome
from .scope import Scope

_LINK_COLUMNS = (Link.host_id, Link.xero_id, Link.xero_key, Link.host_values, Link.xero_values, Link.xero_updated_at)
_LINK_UPDATES = ("xero_id", "xero_key", "host_values", "xero_values", "xero_updated_at", "synced_at")


def json_copy(value: Any) -> Any:
    """A deep copy of a JSON-able value (a mutated dict written twice must not be the same object)."""
    if isinstance(value, dict):
        return {key: json_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_copy(item) for item in value]
    return value


@dataclass(frozen=True)
class LinkRow:
    """A link to write (see :meth:`SyncStore.save_links`)."""

    host_id: str
    xero_id: str
    xero_key: str = ""
    host_values: dict[str, Any] | None = None
    xero_values: dict[str, Any] | None = None
    xero_updated_at: datetime | None = None


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

    def refresh_statistics(self) -> None:
        """Let PostgreSQL plan the engine's lookups from fresh table statistics. A first sync fills
        the known-records cache and the links far faster than autovacuum analyzes them, and without
        statistics the planner takes any index on (account, organisation, kind, side) for a lookup
        by record id, which then reads every record of the organisation. (ANALYZE also drops the
        cached plans of prepared statements.) Other databases: nothing to do."""
        if dialect_of(self.session) == "postgresql":
            self.session.execute(text(f"ANALYZE {KnownRecord.__tablename__}, {Link.__tablename__}"))

    def _links(self, scope: Scope, kind: str, column: Any, values: Iterable[str]) -> list[Any]:
        """Links as plain rows (read-only, with the attributes of :class:`Link`): a sync reads
        thousands, and ORM objects would cost more than the read."""
        found: list[Any] = []
        for condition in among(self.session, column, (value for value in values if value)):
            found.extend(
                self.session.execute(
                    select(*_LINK_COLUMNS).where(
                        Link.account_id == scope.account_id,
                        Link.tenant_id == scope.tenant_id,
                        Link.kind == kind,
                        condition,
                    )
                )
            )
        return found

    def links_by_host(self, scope: Scope, kind: str, host_ids: Iterable[str]) -> dict[str, Link]:
        return {link.host_id: link for link in self._links(scope, kind, Link.host_id, host_ids)}

    def links_by_xero(self, scope: Scope, kind: str, xero_ids: Iterable[str]) -> dict[str, Link]:
        return {link.xero_id: link for link in self._links(scope, kind, Link.xero_id, xero_ids)}

    def save_links(self, scope: Scope, kind: str, rows: Sequence[LinkRow]) -> None:
        """Create or update links by host record, in one statement. The caller has made sure no
        Xero record in ``rows`` is linked to another host record."""
        now = utcnow()
        upsert(
            self.session, Link.__table__,
            [{"account_id": scope.account_id, "tenant_id": scope.tenant_id, "kind": kind, "host_id": row.host_id,
              "xero_id": row.xero_id, "xero_key": row.xero_key[:255],
              "host_values": row.host_values, "xero_values": row.xero_values,
              "xero_updated_at": row.xero_updated_at, "synced_at": now} for row in rows],
            keys=("account_id", "tenant_id", "kind", "host_id"),
            update=_LINK_UPDATES,
        )

    def add_records(self, run_id: str, records: Sequence[RecordOutcome]) -> None:
        """Append rows to the run's record log, in one statement (a Core ``executemany``: the ORM's
        bulk insert would cost more than the rows)."""
        if not records:
            return
        now = utcnow()
        self.session.execute(
            insert(RecordResult.__table__),
            [{"run_id": run_id, "stage": record.stage, "direction": record.direction, "outcome": record.outcome,
              "label": record.label[:255], "host_id": record.host_id, "xero_id": record.xero_id,
              "message": record.message, "fix": record.fix, "details": record.details, "resolved": False,
              "created_at": now} for record in records],
        )

    def refusal(self, run_id: str, stage: str, host_id: str) -> tuple[str, str] | None:
        """(label, Xero's message) of the record of ``stage`` that this run logged as failed, if any."""
        row = self.session.execute(
            select(RecordResult.label, RecordResult.message)
            .where(RecordResult.run_id == run_id, RecordResult.stage == stage, RecordResult.host_id == host_id,
                   RecordResult.outcome == Outcome.FAILED)
            .limit(1)
        ).first()
        return (row.label, row.message) if row is not None else None

    def decisions(self, scope: Scope, kind: str, side: str, record_ids: Iterable[str]) -> dict[str, Decision]:
        """The owner's decisions about these records."""
        found: dict[str, Decision] = {}
        for condition in among(self.session, Decision.record_id, (str(i) for i in record_ids if i)):
            for decision in self.session.scalars(select(Decision).where(
                Decision.account_id == scope.account_id, Decision.tenant_id == scope.tenant_id,
                Decision.kind == kind, Decision.side == side, condition,
            )):
                found[decision.record_id] = decision
        return found

    def drop_decisions(self, scope: Scope, kind: str, side: str, record_ids: Iterable[str]) -> None:
        for condition in among(self.session, Decision.record_id, (str(i) for i in record_ids if i)):
            self.session.execute(delete(Decision).where(
                Decision.account_id == scope.account_id, Decision.tenant_id == scope.tenant_id,
                Decision.kind == kind, Decision.side == side, condition,
            ).execution_options(synchronize_session=False))

    def connection(self, account_id: str) -> Connection | None:
        return self.session.scalars(select(Connection).where(Connection.account_id == account_id)).first()

    def load_marks(self, scope: Scope) -> dict[str, str]:
        """Where the next read of each side starts, for this organisation only (marks written for
        another organisation, or before marks named theirs, start afresh)."""
        connection = self.connection(scope.account_id)
        marks = dict(connection.sync_marks or {}) if connection is not None else {}
        if marks.pop("tenant", None) != scope.tenant_id:
            return {}
        return marks

    def save_run_state(self, run_id: str, scope: Scope, cursor: dict[str, Any], marks: dict[str, str] | None) -> None:
        """Keep where the run stands and (unless ``None``: unchanged) the marks reached, with the
        unit of work being committed."""
        self.session.execute(
            update(Run).where(Run.id == run_id).values(cursor=json_copy(cursor))
            .execution_options(synchronize_session=False)
        )
        if marks is None:
            return
        self.session.execute(
            update(Connection)
            .where(Connection.account_id == scope.account_id, Connection.tenant_id == scope.tenant_id)
            .values(sync_marks={**marks, "tenant": scope.tenant_id})
            .execution_options(synchronize_session=False)
        )

    def preferences(self, account_id: str) -> Preferences:
        """The account's saved preferences, or the defaults (unsaved) when it has none yet."""
        found = self.session.get(Preferences, account_id)
        return found if found is not None else default_preferences(account_id)

    def flagged_invoice_ids(self, scope: Scope) -> list[str]:
        """The invoices flagged for this organisation, oldest flag first."""
        return list(
            self.session.scalars(
                select(InvoiceFlag.invoice_id)
                .where(InvoiceFlag.account_id == scope.account_id, InvoiceFlag.tenant_id == scope.tenant_id,
                       InvoiceFlag.state == InvoiceState.FLAGGED)
                .order_by(InvoiceFlag.id)
            )
        )

    def flags(self, scope: Scope, invoice_ids: Sequence[str]) -> dict[str, InvoiceFlag]:
        found: dict[str, InvoiceFlag] = {}
        for condition in among(self.session, InvoiceFlag.invoice_id, invoice_ids):
            for flag in self.session.scalars(
                select(InvoiceFlag).where(InvoiceFlag.account_id == scope.account_id,
                                          InvoiceFlag.tenant_id == scope.tenant_id, condition)
            ):
                found[flag.invoice_id] = flag
        return found

    def first_push(self, scope: Scope) -> datetime | None:
        """When the first invoice still linked to this organisation was pushed (``None``: none)."""
        return self.session.scalar(
            select(func.min(InvoiceFlag.pushed_at))
            .where(InvoiceFlag.account_id == scope.account_id, InvoiceFlag.tenant_id == scope.tenant_id,
                   InvoiceFlag.xero_invoice_id.is_not(None))
        )

    def flags_by_xero(self, scope: Scope, xero_ids: Sequence[str]) -> dict[str, InvoiceFlag]:
        """The flags of the host invoices pushed as these Xero invoices."""
        found: dict[str, InvoiceFlag] = {}
        for condition in among(self.session, InvoiceFlag.xero_invoice_id, (i for i in xero_ids if i)):
            for flag in self.session.scalars(
                select(InvoiceFlag).where(InvoiceFlag.account_id == scope.account_id,
                                          InvoiceFlag.tenant_id == scope.tenant_id, condition)
            ):
                found[str(flag.xero_invoice_id)] = flag
        return found

    def save_org_list(self, tenant_id: str, kind: str, payload: list[dict[str, Any]]) -> None:
        upsert(self.session, OrgCache.__table__,
               [{"tenant_id": tenant_id, "kind": kind, "payload": payload, "fetched_at": utcnow()}],
               keys=("tenant_id", "kind"), update=("payload", "fetched_at"))

    def org_list(self, tenant_id: str, kind: str) -> list[dict[str, Any]] | None:
        cached = self.session.scalars(
            select(OrgCache).where(OrgCache.tenant_id == tenant_id, OrgCache.kind == kind)
        ).first()
        return list(cached.payload) if cached is not None else None
