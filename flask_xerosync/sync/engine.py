"""Runs one sync: connect check, clients, items, invoices, reporting progress as it goes.

The engine owns its unit of work: each stage commits after every page or batch (links, record
results, flag updates and the host saves made through ``HostData``), so a killed worker loses at
most one batch and the next run resumes. A stage's sync marks advance only when the stage
finishes without a run-level error. Run-level errors (``ReconnectNeeded``,
``DailyLimitReached``, ``XeroUnavailable``) are raised for the job to report; the uncommitted
rest of the batch is rolled back first. A failure of one record never fails the run.
"""

from __future__ import annotations

from collections.abc import Callable

from ..host import HostData
from ..models import Preferences
from .contacts import ClientsStage
from .context import SyncContext
from .invoices import InvoicesStage
from .items import ItemsStage
from .ports import InvoicePushed, XeroApiPort, ignore_invoice_pushed
from .progress import ProgressEvent
from .store import Scope, SyncStore


class SyncEngine:
    """One sync run of one account with one Xero organisation.

    ``client`` is the organisation's Xero API (:class:`~.ports.XeroApiPort`, in production a
    :class:`~flask_xerosync.xero.api.XeroApi`); its ``calls`` count every request of the run, the
    connect check included. ``connection_checks`` counts the tenant-less ``/connections`` calls
    among them, which Xero (and the sandbox's per-organisation counters) do not count against the
    organisation. ``xero_app_url`` builds the links into Xero stored on pushed invoices (the
    worker passes ``XEROSYNC_XERO_APP_URL``). ``on_invoice_pushed`` is told of each invoice pushed,
    after the batch that pushed it is committed.
    """

    def __init__(
        self,
        *,
        account_id: str,
        tenant_id: str,
        host: HostData,
        client: XeroApiPort,
        store: SyncStore,
        preferences: Preferences,
        run_id: str,
        xero_app_url: str,
        report: Callable[[ProgressEvent], None] = lambda event: None,
        on_invoice_pushed: InvoicePushed = ignore_invoice_pushed,
    ) -> None:
        self.client = client
        self.store = store
        self.preferences = preferences
        self.connection_checks = 0
        self.ctx = SyncContext(
            scope=Scope(account_id, tenant_id),
            run_id=run_id,
            host=host,
            client=client,
            store=store,
            preferences=preferences,
            report=report,
            xero_app_url=xero_app_url.rstrip("/"),
            on_invoice_pushed=on_invoice_pushed,
            calls_before=client.calls,
        )

    def run(self) -> dict[str, dict[str, int]]:
        """Run every stage the preferences turn on; returns the final counts."""
        ctx, account_id = self.ctx, self.ctx.account_id
        try:
            ctx.enter("connect")
            self._check_connection()
            ctx.progress(1, 1)
            if self.preferences.sync_clients:
                self.store.set_marks(account_id, ClientsStage(ctx, self.store.marks(account_id)).run())
                self.store.commit()
            if self.preferences.sync_items:
                self.store.set_marks(account_id, ItemsStage(ctx, self.store.marks(account_id)).run())
                self.store.commit()
            if self.preferences.sync_invoices:
                InvoicesStage(ctx).run()
            ctx.enter("done")
        except BaseException:
            self.store.rollback()
            raise
        return ctx.tally.snapshot()

    def _check_connection(self) -> None:
        """One tenant-less ``GET /connections``: a token can still refresh while the organisation
        was disconnected, so the run confirms the tenant first (raises ``ReconnectNeeded``)."""
        self.connection_checks += 1
        self.client.verify_connection()
