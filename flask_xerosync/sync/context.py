"""What every stage of one run shares: who, through what, and where outcomes and progress go."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any, TypeVar

from ..host import HostData
from ..models import Outcome, Preferences
from .outcomes import RecordOutcome, Tally
from .ports import InvoicePushed, XeroApiPort, ignore_invoice_pushed
from .progress import ProgressEvent
from .store import Scope, SyncStore

T = TypeVar("T")


def batched(values: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(values)
    while chunk := list(islice(iterator, size)):
        yield chunk


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def parse_mark(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass
class SyncContext:
    scope: Scope
    run_id: str
    host: HostData
    client: XeroApiPort
    store: SyncStore
    preferences: Preferences
    report: Callable[[ProgressEvent], None]
    xero_app_url: str = ""
    on_invoice_pushed: InvoicePushed = ignore_invoice_pushed
    tally: Tally = field(default_factory=Tally)
    stage: str = "connect"
    done: int = 0
    total: int | None = None
    calls_before: int = 0

    @property
    def account_id(self) -> str:
        return self.scope.account_id

    @property
    def api_calls(self) -> int:
        return self.client.calls - self.calls_before

    def enter(self, stage: str, total: int | None = None) -> None:
        self.stage, self.done, self.total = stage, 0, total
        if stage in ("clients", "items", "invoices"):
            self.tally.open_stage(stage)
        self.progress()

    def progress(self, handled: int = 0, total: int | None = None) -> None:
        self.done += handled
        if total is not None:
            self.total = total
        self.report(ProgressEvent(self.stage, self.done, self.total, self.tally.snapshot(), self.api_calls))

    def count(self, outcome: str, number: int = 1) -> None:
        """Count without a log row (unchanged records, and skips that need no explanation)."""
        self.tally.add(self.stage, outcome, number)

    def record(
        self,
        outcome: str,
        *,
        direction: str,
        label: str,
        host_id: str | None = None,
        xero_id: str | None = None,
        message: str = "",
        fix: str = "",
        details: dict[str, Any] | None = None,
    ) -> None:
        self.tally.add(self.stage, outcome)
        if outcome == Outcome.UNCHANGED:
            return
        self.store.add_record(
            self.run_id,
            RecordOutcome(self.stage, direction, outcome, label, host_id, xero_id, message, fix, details),
        )
