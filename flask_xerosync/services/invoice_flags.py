"""Push To Xero: flag host invoices to be pushed (by a push run, or the next sync), take a flag back.

The flag row (``xerosync_invoice_flag``) is this service's unit of work, so each change commits it.
Whether the invoice belongs to the account is checked by the caller through the host's
``HostData.get_invoices`` before any of these run.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from ..models import InvoiceFlag, InvoiceState, utcnow
from ..sync.push import WAITING_FOR_CLIENT
from .connections import DbSession


def flag_of(session: DbSession, account_id: str, tenant_id: str | None, invoice_id: str) -> InvoiceFlag | None:
    """The invoice's flag for this organisation (``None`` without one, or without an organisation:
    a push to another organisation is never shown as this one's)."""
    if not tenant_id:
        return None
    return session.scalar(
        select(InvoiceFlag).where(InvoiceFlag.account_id == account_id, InvoiceFlag.tenant_id == tenant_id,
                                  InvoiceFlag.invoice_id == invoice_id)
    )


def flags_of(session: DbSession, account_id: str, tenant_id: str | None,
             invoice_ids: Sequence[str]) -> dict[str, InvoiceFlag]:
    """The flags of several invoices for this organisation, by invoice id, in one query (for an
    invoice list)."""
    if not tenant_id or not invoice_ids:
        return {}
    rows = session.scalars(
        select(InvoiceFlag).where(InvoiceFlag.account_id == account_id, InvoiceFlag.tenant_id == tenant_id,
                                  InvoiceFlag.invoice_id.in_(list(invoice_ids)))
    )
    return {row.invoice_id: row for row in rows}


def flag(session: DbSession, account_id: str, tenant_id: str, invoice_id: str) -> InvoiceFlag:
    """Mark the invoice to be pushed at the next sync.

    Flagging again after a push keeps the Xero invoice id, so the next push updates that invoice
    instead of creating another one; after a rejection it is the Retry.
    """
    return flag_many(session, account_id, tenant_id, [invoice_id])[0]


def flag_many(session: DbSession, account_id: str, tenant_id: str, invoice_ids: Sequence[str]) -> list[InvoiceFlag]:
    """:func:`flag` for several invoices, committed together (Push To Xero of a selection)."""
    existing = {row.invoice_id: row for row in session.scalars(
        select(InvoiceFlag).where(InvoiceFlag.account_id == account_id, InvoiceFlag.tenant_id == tenant_id,
                                  InvoiceFlag.invoice_id.in_(list(invoice_ids))))}
    rows = []
    for invoice_id in invoice_ids:
        row = existing.get(invoice_id)
        if row is None:
            row = existing[invoice_id] = InvoiceFlag(account_id=account_id, tenant_id=tenant_id, invoice_id=invoice_id)
            session.add(row)
        row.state = InvoiceState.FLAGGED
        row.flagged_at = utcnow()
        rows.append(row)
    session.commit()
    return rows


def unflag(session: DbSession, account_id: str, tenant_id: str, invoice_id: str) -> InvoiceFlag | None:
    """Take back a flag that was not pushed yet; the invoice returns to its previous state.

    Never pushed nor rejected → the flag row is removed; pushed before → it shows as pushed again;
    rejected before → it shows the rejection again. Pushed or rejected flags are left as they are.
    """
    row = flag_of(session, account_id, tenant_id, invoice_id)
    if row is None or row.state != InvoiceState.FLAGGED:
        return row
    if row.xero_invoice_id:
        row.state = InvoiceState.PUSHED
    elif row.message and row.message != WAITING_FOR_CLIENT:
        row.state = InvoiceState.REJECTED
    else:
        session.delete(row)
        session.commit()
        return None
    session.commit()
    return row

