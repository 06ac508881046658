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
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..host import HostData
from ..models import Preferences
from .contacts import ClientsStage
from .context import SyncContext
from .invoices import InvoicesStage
from .items import ItemsStage
from .store import Scope, SyncStore

if TYPE_CHECKING:
    from ..xero.client import XeroClient

DEFAULT_XERO_APP_URL = "https://go.xero.com"


@dataclass(frozen=True)
class ProgressEvent:
    """One progress report: ``done`` of ``total`` records of ``stage`` (``total`` None when not
    known yet), the counts so far (stage -> outcome -> number) and the API calls made."""

    stage: str
    done: int
    total: int | None
    counts: dict[str, dict[str, int]]
    api_calls: int


def _configured_app_url() -> str:
    from flask import has_app_context

    if not has_app_context():
        return DEFAULT_XERO_APP_URL
    from ..extension import current_state

    return current_state().config.xero_app_url or DEFAULT_XERO_APP_URL


class SyncEngine:
    """One sync run of one account with one Xero organisation.

    ``client`` is a :class:`~flask_xerosync.xero.client.XeroClient`; its ``calls`` count every
    request of the run, the connect check included. ``connection_checks`` counts the
    tenant-less ``/connections`` calls among them, which Xero (and the sandbox's
    per-organisation counters) do not count against the organisation. ``xero_app_url`` builds
    the links into Xero stored on pushed invoices (default: the app's ``XEROSYNC_XERO_APP_URL``).
    """

    def __init__(
        self,
        *,
        account_id: str,
        tenant_id: str,
        host: HostData,
        client: XeroClient,
        store: SyncStore,
        preferences: Preferences,
        run_id: str,
        report: Callable[[ProgressEvent], None] = lambda event: None,
        xero_app_url: str | None = None,
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
            xero_app_url=(xero_app_url or _configured_app_url()).rstrip("/"),
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
