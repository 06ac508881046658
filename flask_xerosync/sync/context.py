"""What every stage of one run shares: who, through what, where outcomes and progress go, and
where the run stands (so a run paused for Xero's limits, or whose worker died, goes on from there).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from typing import Any, TypeVar

from ..host import Client, HostData, PaidStatus
from ..models import Preferences
from .outcomes import RecordOutcome, Tally
from .ports import PageLike, XeroApiPort
from .progress import ProgressEvent
from .scope import Scope
from .store import SyncStore

T = TypeVar("T")
P = TypeVar("P", bound=PageLike)

PULL_MARK_MARGIN = timedelta(seconds=1)
"""A paged read of Xero's changes marks where the next one starts this much before Xero's clock at
its first page (``If-Modified-Since`` is accurate to the second)."""


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
    """The run's shared state.

    ``dry_run``: a preview — read both sides, decide, write nothing to either side (the log, the
    cache of what was read and the estimate are the preview's own). ``region``: the organisation's
    country, for phones. ``cursor``: where the run stands, saved with every commit. ``marks``:
    where the next read of each side starts.
    """

    scope: Scope
    run_id: str
    host: HostData
    api: XeroApiPort
    store: SyncStore
    preferences: Preferences
    report: Callable[[ProgressEvent], None]
    xero_app_url: str = ""
    dry_run: bool = False
    region: str | None = None
    cursor: dict[str, Any] = field(default_factory=dict)
    marks: dict[str, str] = field(default_factory=dict)
    on_invoice_pushed: Callable[[str, str, str, str], None] = lambda account, invoice, xero_id, number: None
    on_invoice_paid: Callable[[str, PaidStatus], None] = lambda account, status: None
    tally: Tally = field(default_factory=Tally)
    stage: str = "connect"
    done: int = 0
    total: int | None = None
    calls_before: int = 0
    _log: list[RecordOutcome] = field(default_factory=list)
    _saved_state: str | None = None
    _saved_marks: str | None = None

    @property
    def account_id(self) -> str:
        return self.scope.account_id

    @property
    def api_calls(self) -> int:
        return self.api.calls - self.calls_before

    # Progress and counts

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
        self.tally.add(self.stage, outcome, number)

    def record(self, outcome: str, *, direction: str, label: str, host_id: str | None = None,
               xero_id: str | None = None, message: str = "", fix: str = "",
               details: dict[str, Any] | None = None) -> None:
        """Count an outcome and log it (unchanged records are counted, not logged)."""
        self.count(outcome)
        if outcome != "unchanged":
            self._log.append(RecordOutcome(self.stage, direction, outcome, label, host_id, xero_id, message, fix,
                                           details))

    def log(self, records: Iterable[RecordOutcome]) -> None:
        """Log rows already counted by the caller."""
        self._log.extend(records)

    def estimate_calls(self, stage: str, calls: int) -> None:
        """A preview counts the Xero calls the sync would make where it makes none."""
        estimate = self.cursor.setdefault("estimate", {})
        estimate[stage] = estimate.get(stage, 0) + calls

    # Where the run stands

    def cursor_of(self, stage: str) -> dict[str, Any]:
        return self.cursor.setdefault(stage, {})

    def set_mark(self, name: str, value: str | None) -> None:
        if value:
            self.marks[name] = value

    def pull(self, cursor: dict[str, Any], pages: Iterable[P], take: Callable[[P], int], mark: str,
             after_commit: Callable[[], None] = lambda: None) -> None:
        """Go through a paged read of what changed in Xero, one that can stop and go on: each page
        is taken (``take`` returns how many records it held) and committed with where the read
        stands (``cursor["pull_page"]``; the caller starts the pages after it), then
        ``after_commit`` runs. The read's ``mark`` becomes Xero's clock at its first page less
        :data:`PULL_MARK_MARGIN`: a record changed while we page is read again next time, never
        missed."""
        started = parse_mark(cursor.get("pull_started"))
        for page in pages:
            if started is None and page.xero_time is not None:
                started = page.xero_time
                cursor["pull_started"] = iso(started)
            handled = take(page)
            cursor["pull_page"] = page.number
            self.progress(handled)
            self.commit()
            after_commit()
        if started is not None:
            self.set_mark(mark, iso((started - PULL_MARK_MARGIN).replace(microsecond=0)))

    def commit(self) -> None:
        """Write the log rows and where the run stands (when it moved since the last commit), then
        commit the unit of work."""
        self.store.add_records(self.run_id, self._log)
        self._log = []
        self.cursor["counts"] = self.tally.snapshot()
        state = json.dumps(self.cursor, sort_keys=True, default=str)
        marks = json.dumps(self.marks, sort_keys=True)
        if state != self._saved_state or marks != self._saved_marks:
            self.store.save_run_state(self.run_id, self.scope, self.cursor,
                                      self.marks if marks != self._saved_marks else None)
        self.store.commit()
        self._saved_state, self._saved_marks = state, marks

    # Host lookups

    def host_clients(self, ids: Iterable[str]) -> dict[str, Client]:
        """Host clients by id: ``HostData.get_clients`` when the host offers it, else one scan of
        all clients keeping only the wanted ones (memory stays bounded by ``ids``)."""
        wanted = {str(i) for i in ids if i}
        if not wanted:
            return {}
        get_clients = getattr(self.host, "get_clients", None)
        if callable(get_clients):
            found = get_clients(self.account_id, sorted(wanted))
        else:
            found = self.host.list_clients(self.account_id, None)
        return {str(client.id): client for client in found if str(client.id) in wanted}
