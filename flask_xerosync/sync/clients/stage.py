"""The clients stage: Clients ⇄ Xero Contacts, both ways, in three steps.

1. ``reading``: what changed on each side goes into the known-records cache;
2. ``deciding``: every unsettled record is decided — linked pairs merge field by field, the others
   go through the match rules against every record known on the other side;
3. ``writing``: the decisions are carried out in full batches of 50 per Xero call.

Memory stays bounded by the batch size: the cache is in the database, and each step reads it a
batch at a time. Every batch is committed with where the run stands, so a run that stops for any
reason goes on from there.
"""

from __future__ import annotations

from collections.abc import Iterable

from ...models import LinkKind, Side
from ..context import SyncContext
from ..known import KnownRecords
from .deciding import Decider
from .reading import Reader
from .writing import FRESH_STATISTICS, Writer

SETTLE_BATCH = 500


class ClientsStage:
    def __init__(self, ctx: SyncContext) -> None:
        self.ctx = ctx
        self.known = KnownRecords(ctx.store.session, ctx.scope, LinkKind.CLIENT, preview=ctx.dry_run)
        self.reader = Reader(ctx, self.known)
        self.decider = Decider(ctx, self.known)
        self.writer = Writer(ctx, self.known, self.reader)

    def run(self) -> None:
        self.ctx.enter("clients")
        self.reader.scan_host()
        self.reader.pull_xero()
        if self.known.written >= FRESH_STATISTICS:
            self.ctx.store.refresh_statistics()
            self.ctx.commit()
        self.settle()

    def settle(self) -> None:
        """Decide and write every unsettled record this run has not handled yet: the linked ones
        first (their new values are what the match rules then see), then the others, host side
        first."""
        ctx = self.ctx
        waiting = sum(self.known.count_pending(side, ctx.run_id) for side in (Side.HOST, Side.XERO))
        ctx.progress(0, total=ctx.done + waiting)
        for linked in (True, False):
            for side in (Side.HOST, Side.XERO):
                after = 0
                while rows := self.known.pending(side, ctx.run_id, after, SETTLE_BATCH, linked=linked):
                    after = rows[-1].id
                    self.writer.add(self.decider.units_for(side, rows, linked=linked))
                self.writer.finish()

    def link_clients(self, host_ids: Iterable[str]) -> set[str]:
        """Link (or create in Xero) these host clients now, by the same rules: the invoices stage
        needs their contacts. Clients this run already handled (in review, refused) are left as
        they are, so each is reported once. Returns those that are (or, in a preview, would be)
        linked."""
        wanted = sorted({str(host_id) for host_id in host_ids})
        self.reader.pull_xero()
        self.reader.scan_host(only=wanted)
        known = self.known.by_ids(Side.HOST, wanted)
        rows = [row for row in known.values() if row.pending and row.handled_run != self.ctx.run_id]
        if rows:
            self.writer.remember_resolved = True
            self.writer.add(self.decider.units_for(Side.HOST, rows, linked=False))
            self.writer.finish()
        return self.writer.resolved_hosts & set(wanted)
