"""Services & Products ⇄ Xero Items: pull Xero's items, then push the host items Xero lacks.

Xero items have no active flag, so "active" means ``IsSold``. One call reads every item changed
since the last pull (Items are not paged; unsold ones are read too, so their codes are known) into
the known-records cache, with the host items changed since the last scan. Then, by the same kind of
rules as clients (``sync.rules``), keyed on the item code (and on the name for a host item without
a code):

- a linked item edited in Xero updates the host item (items flow from Xero once linked);
- an unlinked item with exactly one candidate on the other side, which has only it, is linked
  (the host's empty fields are filled from Xero; differences are listed) — unless the Xero item is
  not sold and its name is another: a purchase-only item that happens to use the code waits for
  review;
- a Xero item with no candidate is created here when it is sold (an unsold one is skipped, saying
  so); a host item with no candidate is created in Xero with ``PUT`` (create only, so an item with
  the same code added in Xero meanwhile is never overwritten), with a code generated from its name
  when it has none (at most 30 characters, unique against every code known on both sides);
- anything else needs review.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any

from ..host import Item
from ..models import LinkKind, Outcome, Side, utcnow
from . import merge
from .context import SyncContext, batched, iso, parse_mark
from .known import Known, KnownRecords, KnownRow
from .outcomes import TO_HOST, TO_XERO, RecordOutcome, fix_for
from .rules import code_key, name_key
from ..xero.results import WriteResult
from .store import LinkRow
from .xero_dates import xero_updated_at

CODE_MAX = 30
BATCH = 50
XERO_ITEMS_MARK = "xero_items"
FIELDS = ("code", "name", "description", "unit_price")
LABELS = {"code": "Code", "name": "Name", "description": "Description", "unit_price": "Unit price"}
_SLUG_BREAK = re.compile(r"[^0-9A-Z]+")
_OTHER_ITEM = ("Xero's item with the code {code} is called {name} and is not sold: it may be another item, so "
               "the two were not linked and nothing was created.")


def _price(value: Any) -> str:
    try:
        return format(Decimal(str(value)).quantize(Decimal("0.0001")), "f") if value not in (None, "") else "0.0000"
    except InvalidOperation:
        return "0.0000"


def values_of_xero(record: Mapping[str, Any]) -> dict[str, Any]:
    sales = record.get("SalesDetails") or {}
    return {"code": str(record.get("Code") or "").strip(), "name": " ".join(str(record.get("Name") or "").split()),
            "description": str(record.get("Description") or "").strip(), "unit_price": _price(sales.get("UnitPrice"))}


def values_of_item(item: Item) -> dict[str, Any]:
    return {"code": item.code.strip(), "name": " ".join(item.name.split()), "description": item.description.strip(),
            "unit_price": _price(item.unit_price)}


def same(field: str, first: Any, second: Any) -> bool:
    if field == "code":
        return code_key(str(first or "")) == code_key(str(second or ""))
    if field == "unit_price":
        return _price(first) == _price(second)
    return " ".join(str(first or "").split()) == " ".join(str(second or "").split())


def item_with(base: Item, values: Mapping[str, Any]) -> Item:
    changes: dict[str, Any] = {name: values[name] for name in ("code", "name", "description") if name in values}
    if "unit_price" in values:
        changes["unit_price"] = Decimal(str(values["unit_price"]))
    return replace(base, **changes)


def item_payload(values: Mapping[str, Any], account_code: str, tax_type: str) -> dict[str, Any]:
    sales: dict[str, Any] = {"UnitPrice": Decimal(str(values["unit_price"]))}
    if account_code:
        sales["AccountCode"] = account_code
    if tax_type:
        sales["TaxType"] = tax_type
    return {"Code": values["code"], "Name": values["name"][:50], "Description": values["description"],
            "IsSold": True, "SalesDetails": sales}


def generate_code(name: str, taken: set[str]) -> str:
    """An upper-case slug of the name, at most 30 characters, unique against ``taken`` (code
    keys) with a numeric suffix when needed."""
    base = _SLUG_BREAK.sub("-", name.upper()).strip("-")[:CODE_MAX].strip("-") or "ITEM"
    candidate, number = base, 1
    while code_key(candidate) in taken:
        number += 1
        suffix = f"-{number}"
        candidate = base[: CODE_MAX - len(suffix)].rstrip("-") + suffix
    return candidate


class ItemsStage:
    def __init__(self, ctx: SyncContext) -> None:
        self.ctx = ctx
        self.known = KnownRecords(ctx.store.session, ctx.scope, LinkKind.ITEM)
        self.cursor = ctx.cursor_of("items")
        self.log: list[RecordOutcome] = []
        self.link_rows: list[LinkRow] = []
        self.handled: dict[tuple[str, str], bool | None] = {}

    def run(self) -> None:
        ctx = self.ctx
        ctx.enter("items")
        if not self.cursor.get("read"):
            self._read()
        waiting = sum(self.known.count_pending(side, ctx.run_id) for side in (Side.XERO, Side.HOST))
        ctx.progress(0, total=waiting)
        for side in (Side.XERO, Side.HOST):
            after = 0
            while rows := self.known.pending(side, ctx.run_id, after, BATCH):
                after = rows[-1].id
                self._settle(side, rows)

    # Reading

    def _read(self) -> None:
        ctx = self.ctx
        started = utcnow()
        pulled = ctx.api.get_items(parse_mark(ctx.marks.get(XERO_ITEMS_MARK)), where=None)
        links = ctx.store.links_by_xero(ctx.scope, LinkKind.ITEM, [str(r.get("ItemID")) for r in pulled])
        rows = []
        for record in pulled:
            values = values_of_xero(record)
            link = links.get(str(record.get("ItemID")))
            settled = link is not None and link.xero_values is not None and all(
                same(f, values[f], link.xero_values.get(f)) for f in FIELDS)
            if settled:
                ctx.count(Outcome.UNCHANGED)
            rows.append(KnownRow(str(record.get("ItemID")), values["name"], "", name_key(values["name"]),
                                 code_key(values["code"]), False, values, {"sold": record.get("IsSold") is not False},
                                 pending=not settled, source_updated_at=xero_updated_at(record)))
        self.known.write(Side.XERO, rows)
        stamps = [row.source_updated_at for row in rows if row.source_updated_at is not None]
        if stamps:
            ctx.set_mark(XERO_ITEMS_MARK, iso(max(stamps)))
        for chunk in batched(ctx.host.list_items(ctx.account_id, parse_mark(ctx.marks.get("host_items"))), 500):
            host_links = ctx.store.links_by_host(ctx.scope, LinkKind.ITEM, [str(item.id) for item in chunk])
            host_rows = []
            for item in chunk:
                values = values_of_item(item)
                link = host_links.get(str(item.id))
                settled = link is not None and link.host_values is not None and all(
                    same(f, values[f], link.host_values.get(f)) for f in FIELDS)
                host_rows.append(KnownRow(str(item.id), values["name"], "", name_key(values["name"]),
                                          code_key(values["code"]), False, values, {"kind": item.kind},
                                          pending=not settled, source_updated_at=item.updated_at))
            self.known.write(Side.HOST, host_rows)
        ctx.set_mark("host_items", iso(started))
        self.cursor["read"] = True
        ctx.commit()

    # Deciding and writing

    def _settle(self, side: str, rows: Sequence[Known]) -> None:
        ctx = self.ctx
        opposite = Side.HOST if side == Side.XERO else Side.XERO
        links = (ctx.store.links_by_xero if side == Side.XERO else ctx.store.links_by_host)(
            ctx.scope, LinkKind.ITEM, [row.record_id for row in rows])
        keyed = self.known.sharing_keys(opposite, numbers=[r.number for r in rows], names=[r.name_key for r in rows])
        found = list(self.known.by_ids(opposite, [f.record_id for f in keyed]).values())
        rivals = self.known.sharing_keys(side, numbers=[f.number for f in found], names=[f.name_key for f in found])
        taken = (ctx.store.links_by_host if opposite == Side.HOST else ctx.store.links_by_xero)(
            ctx.scope, LinkKind.ITEM, [f.record_id for f in found])
        host_ids = [link.host_id for link in links.values()] if side == Side.XERO else [r.record_id for r in rows]
        host_items = self._host_items(host_ids + [f.record_id for f in found if opposite == Side.HOST])
        creates: list[tuple[Known, dict[str, Any]]] = []
        saves: list[tuple[Item, Known | None, Known | None, str, dict[str, Any]]] = []
        for row in rows:
            link = links.get(row.record_id)
            if link is not None:
                self._linked(side, row, link, host_items, saves)
                continue
            candidates = [f for f in found if _matches(side, row, f)]
            claims = {c.record_id: [r for r in rivals if _matches(opposite, c, r)] for c in candidates}
            if not candidates:
                self._unmatched(side, row, creates, saves)
            elif len(candidates) == 1 and candidates[0].record_id not in taken and \
                    [r.record_id for r in claims[candidates[0].record_id]] == [row.record_id]:
                host_row, xero_row = (candidates[0], row) if side == Side.XERO else (row, candidates[0])
                if host_row.number and host_row.name_key != xero_row.name_key and not xero_row.flag("sold"):
                    self._review(side, row, candidates, _OTHER_ITEM.format(code=xero_row.values["code"],
                                                                           name=xero_row.label))
                else:
                    self._first_link(host_row, xero_row, host_items, saves)
            else:
                self._review(side, row, candidates)
        self._write(creates, saves)
        ctx.progress(len(rows))

    def _host_items(self, ids: Sequence[str]) -> dict[str, Item]:
        wanted = {str(i) for i in ids if i}
        if not wanted:
            return {}
        return {str(i.id): i for i in self.ctx.host.list_items(self.ctx.account_id, None) if str(i.id) in wanted}

    def _linked(self, side: str, row: Known, link: Any, host_items: Mapping[str, Item], saves: list[Any]) -> None:
        """Items flow from Xero once linked: a field Xero changed is written here."""
        xero_row = row if side == Side.XERO else self.known.by_ids(Side.XERO, [link.xero_id]).get(link.xero_id)
        item = host_items.get(link.host_id)
        if item is None or xero_row is None:
            self._settled(row, side)
            return
        host_now, xero_now = values_of_item(item), xero_row.values
        result = merge.follow_changes(host_now, xero_now, link.host_values or host_now, link.xero_values or xero_now,
                                      FIELDS, same, merge.XERO_WINS)
        if not result.host:
            self._settled(row, side)
            self.link_rows.append(LinkRow(link.host_id, link.xero_id, xero_now["code"],
                                           host_values=host_now, xero_values=xero_now))
            self.ctx.count(Outcome.UNCHANGED)
            return
        details = {"changes": [_change(c) for c in result.changes if c.side == merge.HOST]}
        saves.append((item_with(item, result.host), None, xero_row, Outcome.UPDATED, details))

    def _unmatched(self, side: str, row: Known, creates: list[Any], saves: list[Any]) -> None:
        if side == Side.XERO:
            if not row.flag("sold"):
                self._report(Outcome.SKIPPED, TO_HOST, row, xero_id=row.record_id,
                             message="Not sold in Xero (purchases only), so it is not added here.")
                self._settled(row, side)
                return
            item = item_with(Item(id=None, code="", name=""), row.values)
            saves.append((item, None, row, Outcome.CREATED, {}))
            return
        creates.append((row, dict(row.values)))

    def _first_link(self, host_row: Known, xero_row: Known, host_items: Mapping[str, Item], saves: list[Any]) -> None:
        result = merge.first_link(host_row.values, xero_row.values, FIELDS, same)
        for field in ("unit_price",):
            if field not in result.host and _price(host_row.values.get(field)) == "0.0000" and \
                    _price(xero_row.values.get(field)) != "0.0000":
                result.write(merge.HOST, field, host_row.values.get(field), xero_row.values.get(field))
                result.differences = [d for d in result.differences if d.field != field]
        details = {"rule": "code", "rule_label": "same item code", "changes": [_change(c) for c in result.changes
                                                                             if c.side == merge.HOST],
                   "differences": [{**d.as_dict(), "label": LABELS[d.field]} for d in result.differences]}
        item = host_items.get(host_row.record_id)
        if item is None:
            return
        saves.append((item_with(item, result.host), host_row, xero_row, Outcome.LINKED, details))

    def _review(self, side: str, row: Known, candidates: Sequence[Known], message: str = "") -> None:
        ids = {"host_id": row.record_id} if side == Side.HOST else {"xero_id": row.record_id}
        self._report(
            Outcome.NEEDS_REVIEW, TO_XERO if side == Side.HOST else TO_HOST, row,
            message=message or "Several services or products share this code (or name), so none was linked or "
            "created.",
            fix="Give each of them its own code, here or in Xero (or the same name if they are one item), then "
            "sync again.",
            details={"kind": "item", "side": side, "candidates": [
                {"side": Side.HOST if side == Side.XERO else Side.XERO, "id": c.record_id, "label": c.label,
                 "code": c.values.get("code", ""), "rules": ["code"]} for c in candidates]},
            **ids,
        )
        self._handle(side, row.record_id, pending=True)

    # Writes

    def _write(self, creates: list[tuple[Known, dict[str, Any]]], saves: list[Any]) -> None:
        ctx = self.ctx
        pushed = self._push(creates)
        host_saves = list(saves) + [(item, row, None, "", values) for item, row, values in pushed]
        ids: list[str | None]
        if ctx.dry_run:
            ids = [item.id for item, *_ in host_saves]
        else:
            ids = [str(i) for i in ctx.host.save_items(ctx.account_id, [item for item, *_ in host_saves])] \
                if host_saves else []
        for host_id, (item, host_row, xero_row, outcome, details) in zip(ids, host_saves, strict=True):
            if not outcome:
                continue
            saved = replace(item, id=host_id)
            host_values = values_of_item(saved)
            if xero_row is not None and host_id:
                self.link_rows.append(LinkRow(str(host_id), xero_row.record_id, xero_row.values["code"],
                                               host_values=host_values, xero_values=xero_row.values,
                                               xero_updated_at=xero_row.source_updated_at))
                self._settled(xero_row, Side.XERO)
            if host_row is not None:
                self._settled(host_row, Side.HOST)
            label = saved.name
            self._report(outcome, TO_HOST, None, label=label, host_id=host_id,
                         xero_id=xero_row.record_id if xero_row else None, details=details or None)
        if not ctx.dry_run:
            ctx.store.save_links(ctx.scope, LinkKind.ITEM, self.link_rows)
        self.link_rows = []
        ctx.log(self.log)
        self.log = []
        self._commit()

    def _push(self, creates: list[tuple[Known, dict[str, Any]]]) -> list[tuple[Item, Known, dict[str, Any]]]:
        """Create host items in Xero (``PUT``); returns the host saves generated codes need."""
        if not creates:
            return []
        ctx = self.ctx
        taken: set[str] = set()
        renamed: list[tuple[Item, Known, dict[str, Any]]] = []
        prefs = ctx.preferences
        to_send: list[tuple[Known, dict[str, Any], bool]] = []
        known_codes = self._codes_like([values["name"] for _, values in creates if not values["code"]])
        for row, values in creates:
            generated = not values["code"]
            if generated:
                values["code"] = generate_code(values["name"], taken | known_codes)
            taken.add(code_key(values["code"]))
            to_send.append((row, values, generated))
        host_items = self._host_items([row.record_id for row, _, generated in to_send if generated])
        self._commit()
        results: Sequence[WriteResult | None]
        if ctx.dry_run:
            ctx.estimate_calls("items", -(-len(to_send) // BATCH))
            results = [None] * len(to_send)
        else:
            results = ctx.api.create_items([item_payload(v, prefs.sales_account_code or "", prefs.tax_type or "")
                                            for _, v, _ in to_send])
        for (row, values, generated), result in zip(to_send, results, strict=True):
            if result is not None and not result.ok:
                self._report(Outcome.FAILED, TO_XERO, row, host_id=row.record_id, message="; ".join(result.messages),
                             fix=fix_for(result.messages), details={"code": values["code"]})
                self._handle(Side.HOST, row.record_id, pending=True)
                continue
            record: dict[str, Any] = result.record if result is not None else {}
            xero_id = str(record.get("ItemID") or "")
            xero_values = values_of_xero(record) if record else dict(values)
            if xero_id:
                self.link_rows.append(LinkRow(row.record_id, xero_id, values["code"], host_values=values,
                                               xero_values=xero_values, xero_updated_at=xero_updated_at(record)))
            self._settled(row, Side.HOST)
            self._report(Outcome.CREATED, TO_XERO, row, host_id=row.record_id, xero_id=xero_id or None,
                         details={"generated_code": values["code"]} if generated else None)
            if generated and row.record_id in host_items:
                renamed.append((replace(host_items[row.record_id], code=values["code"]), row, values))
        return renamed

    def _codes_like(self, names: Sequence[str]) -> set[str]:
        """Code keys known on either side that codes generated from ``names`` could collide with
        (one lookup for the batch: a code generated for one name only ever meets its own stem)."""
        wanted: set[str] = set()
        for name in names:
            stem = code_key(generate_code(name, set()))
            wanted.add(stem)
            wanted.update(f"{stem[: CODE_MAX - len(str(n)) - 1].rstrip('-')}-{n}" for n in range(2, 50))
        found: set[str] = set()
        if wanted:
            for side in (Side.XERO, Side.HOST):
                found.update(row.number for row in self.known.sharing_keys(side, numbers=wanted))
        return found

    def _settled(self, row: Known, side: str) -> None:
        self._handle(side, row.record_id, pending=False)

    def _handle(self, side: str, record_id: str, *, pending: bool) -> None:
        """Mark a record handled by this run (written with the batch, see :meth:`_commit`)."""
        self.handled[(side, record_id)] = None if self.ctx.dry_run else pending

    def _commit(self) -> None:
        """Write the batch's handled marks (one statement each way, the last mark of a record
        winning), then commit."""
        grouped: dict[tuple[str, bool | None], list[str]] = defaultdict(list)
        for (side, record_id), pending in self.handled.items():
            grouped[(side, pending)].append(record_id)
        for (side, pending), record_ids in grouped.items():
            self.known.handled(side, record_ids, self.ctx.run_id, pending=pending)
        self.handled.clear()
        self.ctx.commit()

    def _report(self, outcome: str, direction: str, row: Known | None, *, label: str = "", host_id: str | None = None,
                xero_id: str | None = None, message: str = "", fix: str = "",
                details: dict[str, Any] | None = None) -> None:
        self.ctx.count(outcome)
        self.log.append(RecordOutcome("items", direction, outcome, label or (row.label if row else ""), host_id,
                                      xero_id, message, fix, details))


def _matches(side: str, row: Known, other: Known) -> bool:
    """Item candidates: the same code, or the same name where the host item has no code."""
    if row.number and row.number == other.number:
        return True
    host, xero = (row, other) if side == Side.HOST else (other, row)
    return not host.number and bool(host.name_key) and host.name_key == xero.name_key


def _change(change: merge.Change) -> dict[str, Any]:
    return {**change.as_dict(), "label": LABELS.get(change.field, change.field)}
