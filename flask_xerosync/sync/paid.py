"""Paid status back from Xero (opt-in: ``Preferences.read_paid_status``). Payments are never
written to Xero; this only reads what happened there.

After the invoices stage, the organisation's sales invoices that changed since this stage's mark
(``If-Modified-Since``) and whose status says something about payment — ``AUTHORISED`` (unpaid
or part paid), ``PAID``, ``VOIDED``, ``DELETED`` — are read a page of 100 per call, ordered by
``InvoiceID``. Those this app pushed update their flag (Xero's status, ``AmountPaid``,
``AmountDue``, ``FullyPaidOnDate``); each change is logged, handed to the host's optional
``HostData.mark_invoices_paid`` in the same unit of work, and, for an invoice now fully paid,
announced through ``on_invoice_paid`` once its page is committed.

The first read starts at the first push to the organisation (nothing pushed: no call at all); a
later one at Xero's clock at the first page of the read before, less a second, so an invoice that
changes while we page is read again next time, never missed. A run continued after a pause goes
on from the page after the last one it committed. A preview reads nothing and counts one call.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ..host import PaidStatus
from ..models import InvoiceFlag, Outcome, utcnow
from ..timefmt import format_day
from ..xero.dates import parse_xero_day
from .context import PULL_MARK_MARGIN, SyncContext, iso, parse_mark
from .outcomes import TO_HOST
from .ports import InvoicePageLike

STAGE = "paid"
PAID_MARK = "xero_paid"
STATUSES = ("AUTHORISED", "PAID", "VOIDED", "DELETED")


def paid_status(flag: InvoiceFlag, record: Mapping[str, Any]) -> PaidStatus:
    """What Xero's invoice says of the payment of the host invoice behind ``flag``."""
    paid_on = record.get("FullyPaidOnDate")
    try:
        day = parse_xero_day(paid_on) if paid_on else None
    except ValueError:
        day = None
    return PaidStatus(
        invoice_id=flag.invoice_id,
        xero_invoice_id=str(flag.xero_invoice_id),
        xero_number=str(record.get("InvoiceNumber") or flag.xero_number),
        status=str(record.get("Status") or ""),
        amount_paid=_money(record.get("AmountPaid")),
        amount_due=_money(record.get("AmountDue")),
        paid_on=day if record.get("Status") == "PAID" else None,
    )


def describe_payment(status: str, amount_paid: Decimal | None, amount_due: Decimal | None, paid_on: date | None) -> str:
    """What Xero's status says of an invoice's payment, in words ("" for an unpaid invoice):
    the run log and the invoice's actions menu both say it this way."""
    if status == "PAID":
        return f"Paid in Xero on {format_day(paid_on)}." if paid_on else "Paid in Xero."
    if status in ("VOIDED", "DELETED"):
        return f"{status.capitalize()} in Xero."
    if amount_paid:
        return f"Part paid in Xero: {amount_paid:.2f} paid, {amount_due or 0:.2f} due."
    return ""


def describe(status: PaidStatus) -> str:
    """The run log's words for a status read back."""
    text = describe_payment(status.status, status.amount_paid, status.amount_due, status.paid_on)
    return text or "Not paid yet in Xero."


def _money(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal("0")


def _known(flag: InvoiceFlag) -> tuple[str, Decimal, Any]:
    """What the flag knew of the payment (a flag never read back counts as unpaid)."""
    return flag.xero_status, flag.amount_paid or Decimal("0"), flag.paid_on


class PaidStage:
    def __init__(self, ctx: SyncContext) -> None:
        self.ctx = ctx
        self.cursor = ctx.cursor_of(STAGE)
        self.paid: list[PaidStatus] = []

    def run(self) -> None:
        ctx = self.ctx
        ctx.tally.open_stage(STAGE)
        ctx.enter(STAGE)
        since = self._since()
        if since is None:
            return
        if ctx.dry_run:
            ctx.estimate_calls(STAGE, 1)
            return
        first_page = int(self.cursor.get("pull_page", 0)) + 1
        pages = ctx.api.iter_invoice_pages(since, statuses=STATUSES, start_page=first_page)
        ctx.pull(self.cursor, pages, self._take, PAID_MARK, after_commit=self._announce)
        ctx.commit()

    def _since(self) -> datetime | None:
        """Where this read starts (see the module docstring), kept in the cursor so a continued
        run reads from the same point."""
        ctx = self.ctx
        if "pull_since" not in self.cursor:
            since = parse_mark(ctx.marks.get(PAID_MARK))
            if since is None:
                first = ctx.store.first_push(ctx.scope)
                since = first - PULL_MARK_MARGIN if first is not None else None
            self.cursor["pull_since"] = iso(since)
        return parse_mark(self.cursor["pull_since"])

    def _take(self, page: InvoicePageLike) -> int:
        """Keep what one page says of the invoices this app pushed; returns the page's size."""
        ctx = self.ctx
        by_id = {str(record["InvoiceID"]): record for record in page.invoices if record.get("InvoiceID")}
        changed: list[PaidStatus] = []
        now = utcnow()
        for xero_id, flag in ctx.store.flags_by_xero(ctx.scope, list(by_id)).items():
            status = paid_status(flag, by_id[xero_id])
            news = _known(flag) != (status.status, status.amount_paid, status.paid_on)
            flag.xero_status, flag.paid_on = status.status, status.paid_on
            flag.amount_paid, flag.amount_due, flag.status_read_at = status.amount_paid, status.amount_due, now
            if not news:
                ctx.count(Outcome.UNCHANGED)
                continue
            changed.append(status)
            ctx.record(Outcome.UPDATED, direction=TO_HOST, label=status.xero_number or flag.invoice_id,
                       host_id=flag.invoice_id, xero_id=xero_id, message=describe(status))
        mark_invoices_paid = getattr(ctx.host, "mark_invoices_paid", None)
        if changed and callable(mark_invoices_paid):
            mark_invoices_paid(ctx.account_id, changed)
        self.paid.extend(status for status in changed if status.fully_paid)
        return len(page.invoices)

    def _announce(self) -> None:
        """Tell the run about the invoices of the page just committed that are now fully paid."""
        paid, self.paid = self.paid, []
        for status in paid:
            self.ctx.on_invoice_paid(self.ctx.account_id, status)
