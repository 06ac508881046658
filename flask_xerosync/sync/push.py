"""The stages of a push run: only what a few invoices need, by the same rules as a sync.

A push run (``RunKind.PUSH``) names its invoices in its cursor (:func:`.scope.push_cursor`). Its
items stage settles only the services & products on those invoices that are not linked to Xero
yet (none → no call at all); its invoices stage pushes only those invoices, linking (or creating)
their clients first as every invoices stage does. A client that needs a person's decision is not
guessed: the invoice stays flagged and waits (:data:`WAITING_FOR_CLIENT`), and is logged as skipped
with the client's review in the same run.
"""

from __future__ import annotations

from sqlalchemy import select

from ..host import Invoice
from ..models import InvoiceFlag, LinkKind, Outcome, RecordResult, Side
from .context import SyncContext, batched
from .invoices import BATCH, InvoicesStage
from .items import ItemsStage, values_of_item
from .known import KnownRow
from .outcomes import TO_XERO
from .rules import code_key, name_key
from .scope import pushed_invoices

WAITING_FOR_CLIENT = "Waiting for your decision about its client"
WAITING_FIX = "Decide about the client in this run's review, then push the invoice again."


def push_invoice_ids(ctx: SyncContext) -> list[str]:
    """The run's invoices that are still flagged (a continued run skips those already pushed)."""
    wanted = set(pushed_invoices(ctx.cursor) or ())
    return [invoice_id for invoice_id in ctx.store.flagged_invoice_ids(ctx.scope) if invoice_id in wanted]


class PushItemsStage(ItemsStage):
    """Links (or creates in Xero) the services & products the run's invoices use and lack."""

    def run(self) -> None:
        ctx = self.ctx
        ctx.enter("items")
        invoices = ctx.host.get_invoices(ctx.account_id, push_invoice_ids(ctx))
        used = {str(line.item_id) for invoice in invoices for line in invoice.lines if line.item_id}
        needed = sorted(used - set(ctx.store.links_by_host(ctx.scope, LinkKind.ITEM, used)))
        if not needed:
            ctx.progress(0, total=0)
            return
        if not self.cursor.get("read"):
            self._read()
        self._know_host_items(needed)
        rows = [row for row in self.known.by_ids(Side.HOST, needed).values()
                if row.pending and row.handled_run != ctx.run_id]
        ctx.progress(0, total=len(rows))
        for chunk in batched(rows, BATCH):
            self._settle(Side.HOST, chunk)

    def _know_host_items(self, item_ids: list[str]) -> None:
        """Host items the incremental read did not bring (unchanged since an earlier read) are
        known already; any still missing (e.g. items were never synced) are read here."""
        missing = set(item_ids) - set(self.known.by_ids(Side.HOST, item_ids, full=False))
        if not missing:
            return
        rows = []
        for item_id, item in self._host_items(sorted(missing)).items():
            values = values_of_item(item)
            rows.append(KnownRow(item_id, values["name"], "", name_key(values["name"]), code_key(values["code"]),
                                 False, values, {"kind": item.kind}, pending=True,
                                 source_updated_at=item.updated_at))
        self.known.write(Side.HOST, rows)
        self.ctx.commit()


class PushInvoicesStage(InvoicesStage):
    """Pushes the run's invoices; one whose client waits for a review stays flagged."""

    def __init__(self, ctx: SyncContext) -> None:
        super().__init__(ctx)
        self.waiting: set[str] = set()

    def run(self) -> None:
        invoice_ids = push_invoice_ids(self.ctx)
        self.ctx.enter("invoices", len(invoice_ids))
        for batch in batched(invoice_ids, BATCH):
            self._push_batch(batch)

    def _client_links(self, invoices: list[Invoice]) -> dict[str, str]:
        contacts = super()._client_links(invoices)
        unlinked = {invoice.client_id for invoice in invoices if invoice.client_id not in contacts}
        in_review = self._clients_in_review(unlinked) if unlinked else set()
        self.waiting = {invoice.id for invoice in invoices if invoice.client_id in in_review}
        return contacts

    def _clients_in_review(self, client_ids: set[str]) -> set[str]:
        """The clients this run put in review (their records are committed first)."""
        ctx = self.ctx
        ctx.commit()
        return set(ctx.store.session.scalars(
            select(RecordResult.host_id).where(
                RecordResult.run_id == ctx.run_id, RecordResult.stage == "clients",
                RecordResult.outcome == Outcome.NEEDS_REVIEW, RecordResult.host_id.in_(sorted(client_ids)))
        ))

    def _reject(self, flag: InvoiceFlag, *, label: str, messages: list[str], message: str, fix: str) -> None:
        if flag.invoice_id not in self.waiting:
            super()._reject(flag, label=label, messages=messages, message=message, fix=fix)
            return
        flag.message, flag.fix = WAITING_FOR_CLIENT, WAITING_FIX
        self.ctx.record(Outcome.SKIPPED, direction=TO_XERO, label=label, host_id=flag.invoice_id,
                        xero_id=flag.xero_invoice_id, message=WAITING_FOR_CLIENT, fix=WAITING_FIX)
