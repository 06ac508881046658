"""Runs one sync (or its preview): connect check, clients, items, invoices, paid status; or one push
run (:mod:`.push`): connect check, the items its invoices need, its invoices.

The engine owns its unit of work: each stage commits after every page or batch (links, the record
log, flags, the host saves made through ``HostData``, and where the run stands), so a run stopped
for any reason — a worker that died, Xero's limits, a transient outage — goes on from its last
commit when it runs again, on any worker. Run-level errors (``ReconnectNeeded``,
``DailyLimitReached``, ``XeroUnavailable``, a limit wait) are raised for the job to report; the
uncommitted rest of the batch is rolled back first. A failure of one record never fails the run.

A *preview* (``dry_run``) reads both sides, decides every record exactly as the sync would, and
writes nothing to either side: its log lists what the sync would do, and :attr:`SyncEngine.estimate`
the Xero calls the sync would take.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..host import HostData, PaidStatus
from ..models import Preferences
from .clients.reading import XERO_MARK as CONTACTS_MARK
from .clients.stage import ClientsStage
from .context import SyncContext
from .invoices import InvoicesStage
from .items import XERO_ITEMS_MARK, ItemsStage
from .paid import PaidStage
from .ports import XeroApiPort
from .progress import ProgressEvent
from .push import PushInvoicesStage, PushItemsStage
from .scope import Scope, pushed_invoices
from .store import SyncStore

ORGANISATION = "organisation"
ORGANISATION_FIELDS = ("Name", "CountryCode", "BaseCurrency", "Timezone", "ShortCode")
Stage = type[ClientsStage] | type[ItemsStage] | type[InvoicesStage] | type[PaidStage]
STAGES: dict[str, Stage] = {"clients": ClientsStage, "items": ItemsStage, "invoices": InvoicesStage, "paid": PaidStage}
PUSH_STAGES: dict[str, Stage] = {"items": PushItemsStage, "invoices": PushInvoicesStage}
"""A push run's stages (see :mod:`.push`): clients are linked by its invoices stage, as needed."""
RECONCILE_MARKS = (CONTACTS_MARK, XERO_ITEMS_MARK)
"""The marks whose removal makes the next run read every Xero contact and item again (a
reconcile); the paid status keeps its own, as a payment always moves ``UpdatedDateUTC``."""


def planned_stages(preferences: Preferences, cursor: Mapping[str, Any] | None = None) -> list[str]:
    """The stages a run goes through, in order (for the overall progress). A push run (its
    ``cursor`` names its invoices) goes through the items its invoices use, if items are synced,
    and its invoices: never the other clients, the paid status, or invoices it was not given."""
    stages = ["connect"]
    if pushed_invoices(cursor) is not None:
        return stages + [stage for stage in PUSH_STAGES if stage != "items" or preferences.sync_items]
    if preferences.sync_clients:
        stages.append("clients")
    if preferences.sync_items:
        stages.append("items")
    if preferences.sync_invoices:
        stages.append("invoices")
    if preferences.read_paid_status:
        stages.append("paid")
    return stages


class SyncEngine:
    """One run of one account with one Xero organisation.

    ``api`` counts every request of the run in ``calls``, the connect check included.
    ``cursor``: where an earlier attempt of this run stopped (``Run.cursor``); the run goes on from
    there. ``xero_app_url`` builds the links into Xero stored on pushed invoices.
    ``on_invoice_pushed(account_id, invoice_id, xero_invoice_id, xero_number)`` hears of each
    pushed invoice once its batch is committed; ``on_invoice_paid(account_id, status)`` of each
    invoice the paid status read finds fully paid, once its page is committed.
    """

    def __init__(
        self,
        *,
        account_id: str,
        tenant_id: str,
        host: HostData,
        api: XeroApiPort,
        store: SyncStore,
        preferences: Preferences,
        run_id: str,
        xero_app_url: str,
        report: Callable[[ProgressEvent], None] = lambda event: None,
        dry_run: bool = False,
        cursor: dict[str, Any] | None = None,
        on_invoice_pushed: Callable[[str, str, str, str], None] | None = None,
        on_invoice_paid: Callable[[str, PaidStatus], None] | None = None,
    ) -> None:
        scope = Scope(account_id, tenant_id)
        self.preferences = preferences
        self.ctx = SyncContext(
            scope=scope, run_id=run_id, host=host, api=api, store=store, preferences=preferences, report=report,
            xero_app_url=xero_app_url.rstrip("/"), dry_run=dry_run, cursor=dict(cursor or {}),
            marks=store.load_marks(scope), calls_before=api.calls,
        )
        if on_invoice_pushed is not None:
            self.ctx.on_invoice_pushed = on_invoice_pushed
        if on_invoice_paid is not None:
            self.ctx.on_invoice_paid = on_invoice_paid
        self.ctx.tally.restore(self.ctx.cursor.get("counts") or {})

    @property
    def stages(self) -> list[str]:
        return planned_stages(self.preferences, self.ctx.cursor)

    def run(self) -> dict[str, dict[str, int]]:
        """Run (or go on with) every stage the preferences turn on; returns the final counts."""
        ctx = self.ctx
        finished: list[str] = ctx.cursor.setdefault("finished", [])
        classes = PUSH_STAGES if pushed_invoices(ctx.cursor) is not None else STAGES
        try:
            ctx.enter("connect")
            ctx.api.verify_connection()
            ctx.progress(1, 1)
            ctx.region = self._region()
            for stage in self.stages[1:]:
                if stage in finished:
                    continue
                classes[stage](ctx).run()
                finished.append(stage)
                ctx.commit()
            ctx.enter("done")
        except BaseException:
            ctx.store.rollback()
            raise
        return ctx.tally.snapshot()

    @property
    def estimate(self) -> dict[str, Any]:
        """A preview's estimate of the Xero calls the sync after it will take: the connect check,
        one read of each side it pulls (what changed since the preview), and the writes."""
        writes = dict(self.ctx.cursor.get("estimate") or {})
        reads = {"connect": 1, "clients": int("clients" in self.stages), "items": int("items" in self.stages)}
        return {"reads": reads, "writes": writes, "calls": sum(reads.values()) + sum(writes.values())}

    def _region(self) -> str | None:
        """The organisation's country (phones are read and written with it), cached per
        organisation: one call the first time."""
        ctx = self.ctx
        cached = ctx.store.org_list(ctx.scope.tenant_id, ORGANISATION)
        if not cached:
            organisation = ctx.api.get_organisation()
            cached = [{name: organisation.get(name) for name in ORGANISATION_FIELDS}]
            ctx.store.save_org_list(ctx.scope.tenant_id, ORGANISATION, cached)
            ctx.commit()
        country = cached[0].get("CountryCode")
        return str(country) if country else None
