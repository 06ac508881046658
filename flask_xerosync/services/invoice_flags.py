"""Push To Xero: flag a host invoice for the next sync (Retry of a rejected one is flagging it again),
take the flag back.

The flag row (``xerosync_invoice_flag``) is this service's unit of work, so each change commits it.
Whether the invoice belongs to the account is checked by the caller through the host's
``HostData.get_invoices`` before any of these run.
"""

from __future__ import annotations

from sqlalchemy import select

from ..models import InvoiceFlag, InvoiceState, utcnow
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


def flag(session: DbSession, account_id: str, tenant_id: str, invoice_id: str) -> InvoiceFlag:
    """Mark the invoice to be pushed at the next sync.

    Flagging again after a push keeps the Xero invoice id, so the next push updates that invoice
    instead of creating another one; after a rejection it is the Retry.
    """
    row = flag_of(session, account_id, tenant_id, invoice_id)
    if row is None:
        row = InvoiceFlag(account_id=account_id, tenant_id=tenant_id, invoice_id=invoice_id)
        session.add(row)
    row.state = InvoiceState.FLAGGED
    row.flagged_at = utcnow()
    session.commit()
    return row


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
    elif row.message:
        row.state = InvoiceState.REJECTED
    else:
        session.delete(row)
        session.commit()
        return None
    session.commit()
    return row

