"""The extension's tables (prefix ``xerosync_``) in the host's database.

They are declared on a metadata of their own, not on the host's ``db.Model``, so importing this
module has no side effects and the extension works with any Flask-SQLAlchemy instance. Queries go
through the host's ``db.session`` (Flask-SQLAlchemy binds unknown metadata to the default engine).
``flask xerosync create-tables`` creates them; Alembic users add :data:`metadata` to
``target_metadata`` (see the README).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import false

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_id() -> str:
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the offset).

    A ``TypeDecorator``, not a ``DateTime`` subclass: dialects adapt a ``DateTime`` subclass to
    their own type, which would skip these conversions (SQLite then returned naive datetimes).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is not None and dialect.name == "sqlite":
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    metadata = metadata


class ConnectionStatus:
    CHOOSING = "choosing"
    CONNECTED = "connected"
    RECONNECT_NEEDED = "reconnect_needed"
    DISCONNECTED = "disconnected"


class Connection(Base):
    """One host account's link to one Xero organisation, with its encrypted token set."""

    __tablename__ = "xerosync_connection"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=ConnectionStatus.DISCONNECTED)
    status_reason: Mapped[str] = mapped_column(Text, default="")
    tenant_id: Mapped[str | None] = mapped_column(String(64))
    tenant_name: Mapped[str] = mapped_column(String(255), default="")
    xero_connection_id: Mapped[str | None] = mapped_column(String(64))
    auth_event_id: Mapped[str | None] = mapped_column(String(64))
    # Tenants offered by the last consent while the user chooses one: [{"tenantId", "tenantName", "id"}].
    pending_tenants: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)
    token_encrypted: Mapped[str | None] = mapped_column(Text)
    token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    scopes: Mapped[str] = mapped_column(Text, default="")
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    # High-water marks of the last successful sync per side and stage: {"contacts": iso, ...}.
    sync_marks: Mapped[dict[str, str] | None] = mapped_column(JSON)
    # Set while Xero's daily limit is exhausted: the next run may not call Xero before this.
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When an automatic sync last pulled everything from Xero again (see services.automatic).
    reconciled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SyncMode:
    """When an account syncs: only on Sync Now!, or also hourly / daily and on Xero's webhooks."""

    MANUAL = "manual"
    HOURLY = "hourly"
    DAILY = "daily"

    ALL = (MANUAL, HOURLY, DAILY)


PREFERENCE_DEFAULTS: dict[str, Any] = {
    "sync_clients": True,
    "sync_items": True,
    "sync_invoices": True,
    "invoice_status": "DRAFT",
    "sales_account_code": "",
    "tax_type": "",
    "conflict_policy": "xero_wins",
    "contact_filter": "not_suppliers",
    "read_paid_status": False,
    "sync_mode": SyncMode.MANUAL,
    "sync_hour": 6,
}
"""The preferences of an account that saved none: the one place they are written down."""


class Preferences(Base):
    """What an account syncs and how; saved before the first sync and kept."""

    __tablename__ = "xerosync_preferences"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sync_clients: Mapped[bool] = mapped_column(Boolean, default=PREFERENCE_DEFAULTS["sync_clients"])
    sync_items: Mapped[bool] = mapped_column(Boolean, default=PREFERENCE_DEFAULTS["sync_items"])
    sync_invoices: Mapped[bool] = mapped_column(Boolean, default=PREFERENCE_DEFAULTS["sync_invoices"])
    invoice_status: Mapped[str] = mapped_column(String(20), default=PREFERENCE_DEFAULTS["invoice_status"])
    sales_account_code: Mapped[str] = mapped_column(String(20), default=PREFERENCE_DEFAULTS["sales_account_code"])
    tax_type: Mapped[str] = mapped_column(String(40), default=PREFERENCE_DEFAULTS["tax_type"])
    conflict_policy: Mapped[str] = mapped_column(String(20), default=PREFERENCE_DEFAULTS["conflict_policy"])
    contact_filter: Mapped[str] = mapped_column(String(20), default=PREFERENCE_DEFAULTS["contact_filter"])
    # Added after the first release: server defaults let a migration add them to existing rows.
    # Read back Status, AmountPaid, AmountDue and FullyPaidOnDate of pushed invoices (opt-in).
    read_paid_status: Mapped[bool] = mapped_column(Boolean, default=PREFERENCE_DEFAULTS["read_paid_status"],
                                                   server_default=false())
    sync_mode: Mapped[str] = mapped_column(String(10), default=PREFERENCE_DEFAULTS["sync_mode"],
                                           server_default=PREFERENCE_DEFAULTS["sync_mode"])
    # The hour (0-23, in the business's time zone) of a daily sync.
    sync_hour: Mapped[int] = mapped_column(Integer, default=PREFERENCE_DEFAULTS["sync_hour"],
                                           server_default=str(PREFERENCE_DEFAULTS["sync_hour"]))
    saved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


def default_preferences(account_id: str) -> Preferences:
    """The defaults as an unsaved row (column defaults only apply on insert); every reader of an
    account's preferences falls back to this."""
    return Preferences(account_id=account_id, **PREFERENCE_DEFAULTS)


class OrgCache(Base):
    """Cached reference lists of an organisation (Accounts, TaxRates), refreshable on demand."""

    __tablename__ = "xerosync_org_cache"
    __table_args__ = (UniqueConstraint("tenant_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    payload: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ScopedRow:
    """The columns of a row that belongs to one account, one Xero organisation and one kind of
    record (``LinkKind``): nothing of one organisation is ever read as another's."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(64))
    tenant_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(10))


class LinkKind:
    CLIENT = "client"
    ITEM = "item"
    INVOICE = "invoice"


class Link(ScopedRow, Base):
    """A host record and the Xero record it is synced with, per organisation.

    Links are keyed by tenant: reconnecting to the same organisation finds them again; another
    organisation starts fresh.
    """

    __tablename__ = "xerosync_link"
    __table_args__ = (
        UniqueConstraint("account_id", "tenant_id", "kind", "host_id", name="uq_xerosync_link_host"),
        UniqueConstraint("account_id", "tenant_id", "kind", "xero_id", name="uq_xerosync_link_xero"),
    )

    host_id: Mapped[str] = mapped_column(String(64))
    xero_id: Mapped[str] = mapped_column(String(64))
    xero_key: Mapped[str] = mapped_column(String(255), default="")
    # The synced fields of each side as they were when the sync last settled the pair (clients):
    # a later edit is then known field by field, and a difference kept at the first link stays.
    host_values: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    xero_values: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    xero_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Side:
    HOST = "host"
    XERO = "xero"


class KnownRecord(ScopedRow, Base):
    """What the sync knows of one record of one side, per account and organisation.

    Every host client scanned and every Xero contact pulled is kept here with its match keys and
    synced values, so the match rules see *every* record of the other side on every run (an
    incremental pull only returns what changed) without calling Xero again. ``pending`` marks a
    record the sync has not settled yet (new, changed, in review, or failed); ``handled_run`` is
    the run that last looked at it, so a run continued after a pause does not look twice.
    """

    __tablename__ = "xerosync_known_record"
    __table_args__ = (
        UniqueConstraint("account_id", "tenant_id", "kind", "side", "record_id", name="uq_xerosync_known_record"),
        Index("ix_xerosync_known_email", "account_id", "tenant_id", "kind", "side", "email_key"),
        Index("ix_xerosync_known_name", "account_id", "tenant_id", "kind", "side", "name_key"),
        Index("ix_xerosync_known_number", "account_id", "tenant_id", "kind", "side", "number"),
        Index("ix_xerosync_known_pending", "account_id", "tenant_id", "kind", "side", "pending", "id"),
    )

    side: Mapped[str] = mapped_column(String(4))
    record_id: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(255), default="")
    email_key: Mapped[str] = mapped_column(String(255), default="")
    name_key: Mapped[str] = mapped_column(String(255), default="")
    number: Mapped[str] = mapped_column(String(255), default="")
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    pending: Mapped[bool] = mapped_column(Boolean, default=True)
    handled_run: Mapped[str] = mapped_column(String(32), default="")
    source_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Decision(ScopedRow, Base):
    """An owner's decision about a record the sync could not decide alone (or a difference kept
    at a first link): honoured by the next sync, and by every preview until then."""

    __tablename__ = "xerosync_decision"
    __table_args__ = (
        UniqueConstraint("account_id", "tenant_id", "kind", "side", "record_id", name="uq_xerosync_decision"),
    )

    side: Mapped[str] = mapped_column(String(4))
    record_id: Mapped[str] = mapped_column(String(64))
    # "link" (to ``target_id``), "create", "leave_out", or for a linked pair "use_xero" / "use_host".
    action: Mapped[str] = mapped_column(String(12))
    target_id: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RunKind:
    SYNC = "sync"
    PREVIEW = "preview"
    # Push now: a small run that pushes a few flagged invoices (their clients and items first).
    PUSH = "push"


class RunStatus:
    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    PAUSED = "paused"
    DONE = "done"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    ACTIVE = (QUEUED, RUNNING, WAITING)
    FINISHED = (PAUSED, DONE, FAILED, EXPIRED, CANCELLED)


class Run(Base):
    """One Sync Now! run of one connection: its state, stage counts and per-record log."""

    __tablename__ = "xerosync_run"
    __table_args__ = (Index("ix_xerosync_run_account_started", "account_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(String(64))
    tenant_id: Mapped[str] = mapped_column(String(64))
    tenant_name: Mapped[str] = mapped_column(String(255), default="")
    kind: Mapped[str] = mapped_column(String(10), default=RunKind.SYNC)
    job_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default=RunStatus.QUEUED)
    stage: Mapped[str] = mapped_column(String(20), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    # {"clients": {"created": 3, "updated": 1, ...}, "items": {...}, "invoices": {...}}
    counts: Mapped[dict[str, dict[str, int]]] = mapped_column(JSON, default=dict)
    api_calls: Mapped[int] = mapped_column(Integer, default=0)
    # Where a run continued after a pause or a lost worker picks up: the stages it finished and
    # the position inside the current one (see ``sync.engine``).
    cursor: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # A preview's estimate of what the sync will do and the Xero calls it will take.
    estimate: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    resume_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    records: Mapped[list[RecordResult]] = relationship(
        back_populates="run", cascade="all, delete-orphan", passive_deletes=True
    )


class Outcome:
    CREATED = "created"
    UPDATED = "updated"
    LINKED = "linked"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    FAILED = "failed"
    NEEDS_REVIEW = "needs_review"

    ALL = (CREATED, UPDATED, LINKED, UNCHANGED, SKIPPED, FAILED, NEEDS_REVIEW)


class RecordResult(Base):
    """What one run did to one record, with Xero's message and a plain-language fix on failure."""

    __tablename__ = "xerosync_record_result"
    __table_args__ = (Index("ix_xerosync_record_result_run_outcome", "run_id", "outcome"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("xerosync_run.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(20))
    direction: Mapped[str] = mapped_column(String(10), default="")
    outcome: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(255), default="")
    host_id: Mapped[str | None] = mapped_column(String(64))
    xero_id: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text, default="")
    fix: Mapped[str] = mapped_column(Text, default="")
    # Losing values of a conflict, match candidates for a review, etc.
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    run: Mapped[Run] = relationship(back_populates="records")


class InvoiceState:
    FLAGGED = "flagged"
    PUSHED = "pushed"
    REJECTED = "rejected"


class InvoiceFlag(Base):
    """The Push To Xero flag of a host invoice and the outcome of its last push."""

    __tablename__ = "xerosync_invoice_flag"
    __table_args__ = (
        UniqueConstraint("account_id", "tenant_id", "invoice_id", name="uq_xerosync_invoice_flag"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(64))
    # The organisation the flag and its push belong to: an invoice pushed to one organisation
    # stays there; another organisation starts with no flag.
    tenant_id: Mapped[str] = mapped_column(String(64))
    invoice_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20), default=InvoiceState.FLAGGED)
    flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=utcnow)
    xero_invoice_id: Mapped[str | None] = mapped_column(String(64))
    xero_number: Mapped[str] = mapped_column(String(255), default="")
    xero_url: Mapped[str] = mapped_column(Text, default="")
    xero_status: Mapped[str] = mapped_column(String(20), default="")
    xero_total: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    host_total: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    message: Mapped[str] = mapped_column(Text, default="")
    fix: Mapped[str] = mapped_column(Text, default="")
    pushed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Read back from Xero after the push (``sync.paid``; ``xero_status`` follows Xero too).
    amount_paid: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    amount_due: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    paid_on: Mapped[date | None] = mapped_column(Date)
    status_read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
