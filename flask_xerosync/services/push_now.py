"""Push now: push one invoice (or a few, at most :data:`MAX_BULK`) to Xero at once, in a small run.

The invoices are flagged first (the flag is what every run pushes), then a push run
(``RunKind.PUSH``) names them in its cursor and is queued like any run
(:func:`.sync_now.enqueue_run`), under the same per-connection guard as Sync Now!. When another run
of the connection is queued or running, the invoices stay flagged for it instead (that run is not
interrupted, and a second run never runs beside it). A push run needs no preview: it pushes only
what the invoices need, by the sync's rules (see :mod:`flask_xerosync.sync.push`).

Whether the invoices belong to the account is checked by the caller through the host's
``HostData.get_invoices`` before this runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from ..models import ConnectionStatus, InvoiceFlag, InvoiceState, RecordResult, Run, RunKind, RunStatus, utcnow
from ..state import XeroSyncState
from ..sync.push import WAITING_FOR_CLIENT
from ..sync.scope import push_cursor, pushed_invoices
from .connections import DbSession, connection_of
from .invoice_flags import flag_many
from .run_status import reconcile
from .runs import active_run, create_run
from .sync_now import GUARD_KEY, GUARD_TIMEOUT, GUARD_WAIT, NOT_QUEUED, paused_message, queue_new_run

MAX_BULK = 100
"""The most invoices one push takes (two of Xero's batches of 50)."""
# How far back the invoice menu looks for the run that left an invoice waiting for a client.
WAITING_LOOKBACK = 20


@dataclass(frozen=True)
class PushRequest:
    """The answer to Push To Xero: the run that pushes the invoices (a push run this request
    started, or the run already going that they were flagged for), and when none could be started,
    a plain explanation (the invoices stay flagged for the next sync)."""

    run: Run | None
    started: bool = False
    refusal: str = ""
    invoice_ids: list[str] = field(default_factory=list)


def push_now(state: XeroSyncState, account_id: str, invoice_ids: Sequence[str]) -> PushRequest:
    """Flag the invoices and push them at once in a push run, or leave them flagged for the run
    that is going (see the module docstring)."""
    ids = list(dict.fromkeys(str(invoice_id) for invoice_id in invoice_ids))
    if not ids or len(ids) > MAX_BULK:
        raise ValueError(f"push between 1 and {MAX_BULK} invoices at once")
    session = state.db.session
    connection = connection_of(session, account_id)
    if connection is None or not connection.tenant_id or connection.status not in (
            ConnectionStatus.CONNECTED, ConnectionStatus.RECONNECT_NEEDED):
        return PushRequest(None, refusal="Connect to Xero before pushing invoices.")
    tenant_id = connection.tenant_id
    if connection.status != ConnectionStatus.CONNECTED:
        flag_many(session, account_id, tenant_id, ids)
        return PushRequest(None, refusal="Reconnect to Xero: the invoices are pushed at the next sync after it.",
                           invoice_ids=ids)
    lock = state.redis.lock(
        GUARD_KEY.format(connection_id=connection.id), timeout=GUARD_TIMEOUT, blocking_timeout=GUARD_WAIT
    )
    if not lock.acquire():
        return PushRequest(None, refusal="A sync is being started right now; push again in a moment.")
    try:
        flag_many(session, account_id, tenant_id, ids)
        active = active_run(session, account_id)
        if active is not None:
            reconcile(session, state.redis, state.config.queue_name, active)
            if active.status in RunStatus.ACTIVE:
                return PushRequest(active, invoice_ids=ids)
        paused_until = connection.paused_until
        if paused_until is not None and paused_until > utcnow():
            return PushRequest(None, refusal=paused_message(paused_until), invoice_ids=ids)
        run = create_run(session, account_id, tenant_id, tenant_name=connection.tenant_name, kind=RunKind.PUSH)
        run.cursor = push_cursor(ids)
        if not queue_new_run(state, run):
            return PushRequest(run, refusal=NOT_QUEUED, invoice_ids=ids)
        return PushRequest(run, started=True, invoice_ids=ids)
    finally:
        lock.release()


def pushes(run: Run | None, invoice_id: str) -> bool:
    """Whether ``run`` is a push run of this invoice."""
    return run is not None and run.kind == RunKind.PUSH and invoice_id in (pushed_invoices(run.cursor) or ())


def waiting_run(session: DbSession, flag: InvoiceFlag | None) -> Run | None:
    """The run whose review an invoice waits for (a client to decide), if it waits for one."""
    if flag is None or flag.state != InvoiceState.FLAGGED or flag.message != WAITING_FOR_CLIENT:
        return None
    recent = (select(Run.id).where(Run.account_id == flag.account_id, Run.tenant_id == flag.tenant_id)
              .order_by(Run.created_at.desc()).limit(WAITING_LOOKBACK))
    return session.scalar(
        select(Run).join(RecordResult, RecordResult.run_id == Run.id)
        .where(Run.id.in_(recent.scalar_subquery()), RecordResult.stage == "invoices",
               RecordResult.host_id == flag.invoice_id, RecordResult.message == WAITING_FOR_CLIENT)
        .order_by(Run.created_at.desc()).limit(1)
    )
