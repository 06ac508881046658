"""Step 3 of the clients stage: carry out the units in batches (or, in a preview, report them).

Units wait in a buffer. When 50 of them write to Xero the same way (``PUT`` creates, or ``POST``
updates by ``ContactID``), those are sent in one call, together with every unit that writes only
to the host; then the host saves go in one ``save_clients`` call, and the links, the record log
and the cache's settled marks are written set by set and committed. Pending database work is
committed before each call to Xero, so no transaction is open while Xero answers.

A new client is created with ``PUT`` and ``ContactNumber`` = its host id: a ``POST`` without a
``ContactID`` would merge it into any Xero contact with its name, and a run repeated after a crash
finds its earlier write by that number. When Xero refuses a name because an active contact
already has it (one added in Xero since the cache last read it), that contact is read into the
cache and the client waits for review.

Whatever fails keeps its records unsettled: the next run tries again. A preview goes through the
same steps without writing to either side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ...errors import XeroRequestRejected
from ...models import LinkKind, Outcome, Side
from ...xero.results import WriteResult
from ..context import SyncContext
from ..known import KnownRecords
from ..outcomes import TO_XERO, RecordOutcome, fix_for, is_name_clash
from ..rules import email_key, name_key
from ..store import LinkRow
from . import mapping
from .reading import Reader
from .units import CREATE_HERE, CREATE_IN_XERO, LINK, REVIEW, SKIP, UNCHANGED, UPDATE, Unit

BATCH = 50
HOST_ONLY_LIMIT = 200
FRESH_STATISTICS = 1000
"""Records written by a run (known records by the read step; links: this many, then ten times as
many, …) after which the database refreshes its statistics (``SyncStore.refresh_statistics``)."""

_OUTCOMES = {
    CREATE_IN_XERO: Outcome.CREATED, CREATE_HERE: Outcome.CREATED, LINK: Outcome.LINKED, UPDATE: Outcome.UPDATED,
    UNCHANGED: Outcome.UNCHANGED, REVIEW: Outcome.NEEDS_REVIEW, SKIP: Outcome.SKIPPED,
}


class Writer:
    """Buffers units and writes them in full batches (see the module docstring)."""

    def __init__(self, ctx: SyncContext, known: KnownRecords, reader: Reader) -> None:
        self.ctx = ctx
        self.known = known
        self.reader = reader
        self.units: list[Unit] = []
        self.resolved_hosts: set[str] = set()
        self.remember_resolved = False
        self.links_written = 0
        self.fresh_statistics_at = FRESH_STATISTICS
        """Whether to keep ``resolved_hosts`` (only :meth:`ClientsStage.link_clients` needs them:
        kept for a whole stage, they would grow with every client linked or created)."""

    def add(self, units: Sequence[Unit]) -> None:
        """Buffer ``units``; write every full batch they make."""
        self.units.extend(units)
        while True:
            creates, updates, host_only = self._queues()
            if len(creates) >= BATCH:
                self._flush(creates[:BATCH] + host_only[:HOST_ONLY_LIMIT])
            elif len(updates) >= BATCH:
                self._flush(updates[:BATCH] + host_only[:HOST_ONLY_LIMIT])
            elif len(host_only) >= HOST_ONLY_LIMIT:
                self._flush(host_only[:HOST_ONLY_LIMIT])
            else:
                return

    def finish(self) -> None:
        """Write everything still buffered (partial batches included)."""
        while self.units:
            creates, updates, host_only = self._queues()
            self._flush(creates[:BATCH] + updates[:BATCH] + host_only[:HOST_ONLY_LIMIT])

    def _queues(self) -> tuple[list[Unit], list[Unit], list[Unit]]:
        """The buffered units that create in Xero, that update Xero, and that write here only."""
        creates = [u for u in self.units if u.creates_in_xero]
        updates = [u for u in self.units if u.writes_xero and not u.creates_in_xero]
        host_only = [u for u in self.units if not u.writes_xero]
        return creates, updates, host_only

    def _flush(self, batch: list[Unit]) -> None:
        """Write ``batch`` (at most one Xero call of each kind, and one host save)."""
        taken = {id(unit) for unit in batch}
        self.units = [u for u in self.units if id(u) not in taken]
        ctx = self.ctx
        ctx.commit()
        results = self._write_xero([u for u in batch if u.creates_in_xero], create=True)
        results.update(self._write_xero([u for u in batch if u.writes_xero and not u.creates_in_xero], create=False))
        saved = self._save_host([u for u in batch if u.save_host is not None])
        finished = _Finished(self._taken(batch))
        for unit in batch:
            self._finish(unit, results.get(id(unit)), saved.get(id(unit)), finished)
        self._store(finished)
        ctx.commit()
        ctx.progress(len(batch))

    # Writes

    def _write_xero(self, units: list[Unit], *, create: bool) -> dict[int, WriteResult]:
        if not units:
            return {}
        ctx = self.ctx
        if ctx.dry_run:
            ctx.estimate_calls("clients", 1)
            return {id(u): WriteResult(index=i, ok=True, record=dict(u.xero_payload or {})) for i, u in enumerate(units)}
        payloads = [unit.xero_payload or {} for unit in units]
        written = ctx.api.create_contacts(payloads) if create else ctx.api.upsert_contacts(payloads)
        return {id(unit): result for unit, result in zip(units, written, strict=True)}

    def _save_host(self, units: list[Unit]) -> dict[int, str | None]:
        if not units:
            return {}
        if self.ctx.dry_run:
            return {id(unit): unit.host_id for unit in units}
        ids = self.ctx.host.save_clients(self.ctx.account_id, [unit.save_host for unit in units if unit.save_host])
        return {id(unit): str(host_id) for unit, host_id in zip(units, ids, strict=True)}

    def _taken(self, units: list[Unit]) -> set[tuple[str, str]]:
        """(side, id) of records in ``units`` already linked to a record other than their partner."""
        ctx = self.ctx
        by_host = ctx.store.links_by_host(ctx.scope, LinkKind.CLIENT, [u.host_id for u in units if u.host_id])
        by_xero = ctx.store.links_by_xero(ctx.scope, LinkKind.CLIENT, [u.xero_id for u in units if u.xero_id])
        taken = set()
        for unit in units:
            host_link, xero_link = by_host.get(str(unit.host_id)), by_xero.get(str(unit.xero_id))
            if host_link is not None and unit.xero_id and host_link.xero_id != unit.xero_id:
                taken.add((Side.HOST, str(unit.host_id)))
            if xero_link is not None and unit.host_id and xero_link.host_id != unit.host_id:
                taken.add((Side.XERO, str(unit.xero_id)))
        return taken

    # Outcomes

    def _finish(self, unit: Unit, result: WriteResult | None, saved_id: str | None, done: _Finished) -> None:
        ctx = self.ctx
        if result is not None and not result.ok:
            self._refused(unit, result, done)
            return
        if unit.action == CREATE_IN_XERO and result is not None:
            contact = result.record
            unit.xero_id = str(contact.get("ContactID") or "") or None
            unit.xero_values = mapping.of_contact(contact, ctx.region) if not ctx.dry_run else unit.host_values
        if unit.action == CREATE_HERE:
            unit.host_id = saved_id
            if unit.save_host is not None:
                unit.host_values = mapping.of_client(replace(unit.save_host, id=saved_id))
        if unit.action in (CREATE_IN_XERO, CREATE_HERE, LINK, UPDATE, UNCHANGED) and unit.host_id and unit.xero_id:
            if not done.claim(unit):
                self._already_linked(unit, done)
                return
            done.links.append(LinkRow(
                host_id=unit.host_id, xero_id=unit.xero_id, xero_key=mapping_key(unit),
                host_values=unit.host_values, xero_values=unit.xero_values, xero_updated_at=unit.xero_updated_at,
            ))
            done.decided.extend(((Side.HOST, unit.host_id), (Side.XERO, unit.xero_id)))
        if unit.action in (CREATE_IN_XERO, CREATE_HERE, LINK) and unit.host_id and self.remember_resolved:
            self.resolved_hosts.add(unit.host_id)
        if unit.action in (LINK, UPDATE):
            if unit.save_host is not None and unit.host_values is not None:
                done.overlays[Side.HOST][str(unit.host_id)] = unit.host_values
            if unit.xero_payload is not None and unit.xero_values is not None:
                done.overlays[Side.XERO][str(unit.xero_id)] = unit.xero_values
        stays = unit.action == REVIEW
        done.handle(unit, pending=stays)
        done.record(unit, _OUTCOMES[unit.action])

    def _refused(self, unit: Unit, result: WriteResult, done: _Finished) -> None:
        """Xero refused the unit's write: the records stay unsettled and the log says why."""
        if unit.action == CREATE_IN_XERO and is_name_clash(result.messages):
            self._name_taken(unit, result.messages, done)
            return
        unit.message, unit.fix = "; ".join(result.messages), fix_for(result.messages)
        done.handle(unit, pending=True)
        done.record(unit, Outcome.FAILED)

    def _name_taken(self, unit: Unit, messages: list[str], done: _Finished) -> None:
        """Xero refused a new client's name: an active contact has it, added in Xero since the
        sync read Xero. That contact is read into the cache as unsettled, and the client is left
        unsettled too (nothing is recorded for it yet): the rules decide the two together — later in
        this run, from the contact's side, or in the next run."""
        name = str((unit.xero_payload or {}).get("Name") or unit.label)
        try:
            found = self.ctx.api.find_contacts_by_name(name)
        except XeroRequestRejected:
            found = []
        if not found:
            unit.message, unit.fix = "; ".join(messages), fix_for(messages)
            done.handle(unit, pending=True)
            done.record(unit, Outcome.FAILED)
            return
        self.reader.take_contacts(found)

    def _already_linked(self, unit: Unit, done: _Finished) -> None:
        unit.message = "One of the two records was linked to another one during this sync."
        unit.fix = "Sync again: the next sync decides this record afresh."
        done.handle(unit, pending=True)
        done.record(unit, Outcome.NEEDS_REVIEW)

    def _store(self, done: _Finished) -> None:
        ctx = self.ctx
        for side, values_of in done.overlays.items():
            if values_of:
                self.known.overlay(side, values_of, keys_of)
        if not ctx.dry_run:
            ctx.store.save_links(ctx.scope, LinkKind.CLIENT, done.links)
            self.links_written += len(done.links)
            if self.links_written >= self.fresh_statistics_at:
                ctx.store.refresh_statistics()
                self.fresh_statistics_at *= 10
            for side in (Side.HOST, Side.XERO):
                ctx.store.drop_decisions(ctx.scope, LinkKind.CLIENT, side,
                                         [record_id for s, record_id in done.decided if s == side])
        for side in (Side.HOST, Side.XERO):
            for pending in (True, False):
                ids = [record_id for s, record_id, p in done.handled if s == side and p == pending]
                self.known.handled(side, ids, ctx.run_id, pending=None if ctx.dry_run else pending)
        for record in done.records:
            ctx.tally.add("clients", record.outcome)
        ctx.log([record for record in done.records if record.outcome != Outcome.UNCHANGED])


def keys_of(values: dict[str, object]) -> tuple[str, str]:
    return email_key(str(values.get("email") or "")), name_key(str(values.get("name") or ""))


def mapping_key(unit: Unit) -> str:
    return str((unit.xero_values or unit.host_values or {}).get("name") or unit.label)


class _Finished:
    """What a flush settled: links to write, records handled, log rows."""

    def __init__(self, taken: set[tuple[str, str]]) -> None:
        self.links: list[LinkRow] = []
        self.handled: list[tuple[str, str, bool]] = []
        self.records: list[RecordOutcome] = []
        self.decided: list[tuple[str, str]] = []
        self.overlays: dict[str, dict[str, dict[str, Any]]] = {Side.HOST: {}, Side.XERO: {}}
        self._claimed = set(taken)

    def claim(self, unit: Unit) -> bool:
        """Reserve the unit's pair; ``False`` when one of them is linked to another record."""
        host, xero = (Side.HOST, str(unit.host_id)), (Side.XERO, str(unit.xero_id))
        if host in self._claimed or xero in self._claimed:
            return False
        self._claimed.update((host, xero))
        return True

    def handle(self, unit: Unit, *, pending: bool) -> None:
        if unit.host_id:
            self.handled.append((Side.HOST, unit.host_id, pending))
        if unit.xero_id:
            self.handled.append((Side.XERO, unit.xero_id, pending))

    def record(self, unit: Unit, outcome: str) -> None:
        self.records.append(RecordOutcome(
            "clients", unit.direction or TO_XERO, outcome, unit.label, unit.host_id, unit.xero_id,
            unit.message, unit.fix, dict(unit.details) or None,
        ))

