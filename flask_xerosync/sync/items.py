"""Services & Products ⇄ Xero Items: pull sellable items, then push host items Xero lacks.

Xero items have no active flag, so "active" means ``IsSold``. The pull (one call, Items are not
paged; unsold items are read too and set aside, so a first sync knows every code Xero has)
creates or updates host items by link, then by code. The push writes host items that have no
link; their codes are checked against every code Xero has (on a later sync one more read, only
when there is something to push) so an unrelated Xero item is never overwritten by the upsert,
which matches on ``Code``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ..host import Item
from ..models import LinkKind, Outcome, utcnow
from .contacts import xero_updated_at
from .context import SyncContext, batched, iso, parse_mark
from .fingerprint import fingerprint
from .matching import normalise_code, normalise_name
from .outcomes import TO_HOST, TO_XERO, fix_for

CODE_MAX = 30
BATCH = 50
_SLUG_BREAK = re.compile(r"[^0-9A-Z]+")


def _price(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value is not None else Decimal("0")
    except InvalidOperation:
        return Decimal("0")


def item_from_xero(record: dict[str, Any], host_id: str | None = None, kind: str | None = None) -> Item:
    sales = record.get("SalesDetails") or {}
    return Item(
        id=host_id,
        code=str(record.get("Code") or "").strip(),
        name=str(record.get("Name") or "").strip(),
        description=str(record.get("Description") or "").strip(),
        unit_price=_price(sales.get("UnitPrice")),
        kind=kind or ("product" if record.get("IsTrackedAsInventory") else "service"),  # type: ignore[arg-type]
        updated_at=xero_updated_at(record),
    )


def item_fingerprint(item: Item) -> str:
    return fingerprint(
        {"code": item.code.strip(), "name": item.name.strip(), "description": item.description.strip(),
         "unit_price": item.unit_price}
    )


def item_payload(item: Item, account_code: str, tax_type: str) -> dict[str, Any]:
    sales: dict[str, Any] = {"UnitPrice": item.unit_price}
    if account_code:
        sales["AccountCode"] = account_code
    if tax_type:
        sales["TaxType"] = tax_type
    return {
        "Code": item.code.strip(),
        "Name": item.name.strip(),
        "Description": item.description.strip(),
        "IsSold": True,
        "SalesDetails": sales,
    }


def generate_code(name: str, taken: set[str]) -> str:
    """An upper-case slug of the name, at most 30 characters, unique against ``taken``
    (normalised codes) with a numeric suffix when needed."""
    base = _SLUG_BREAK.sub("-", name.upper()).strip("-")[:CODE_MAX].strip("-") or "ITEM"
    candidate, number = base, 1
    while normalise_code(candidate) in taken:
        number += 1
        suffix = f"-{number}"
        candidate = base[: CODE_MAX - len(suffix)].rstrip("-") + suffix
    return candidate


@dataclass
class _Known:
    """What the stage keeps about host items: ids by normalised code, and every code."""

    by_code: dict[str, list[str]]
    linked: set[str]
    codes: set[str]


class ItemsStage:
    def __init__(self, ctx: SyncContext, marks: dict[str, str]) -> None:
        self.ctx = ctx
        self.xero_mark = parse_mark(marks.get("xero_items"))
        self.claimed: set[str] = set()
        self.newest: datetime | None = self.xero_mark
        self.every_code: dict[str, dict[str, Any]] | None = None

    def run(self) -> dict[str, str]:
        ctx = self.ctx
        started = utcnow()
        changed = ctx.client.get_items(self.xero_mark, where=None)
        self.every_code = None if self.xero_mark is not None else {
            normalise_code(str(record.get("Code") or "")): record for record in changed
        }
        pulled = [record for record in changed if record.get("IsSold") is not False]
        known = self._scan_host()
        ctx.enter("items", len(pulled))
        for record in changed:
            stamp = xero_updated_at(record)
            if stamp is not None and (self.newest is None or stamp > self.newest):
                self.newest = stamp
        for batch in batched(pulled, BATCH):
            self._pull_batch(batch, known)
        self._push_new(known)
        return {"xero_items": iso(self.newest) or "", "host_items": iso(started) or ""}

    def _scan_host(self) -> _Known:
        ctx = self.ctx
        known = _Known(by_code={}, linked=set(), codes=set())
        for chunk in batched(ctx.host.list_items(ctx.account_id, None), 500):
            links = ctx.store.links_by_host(ctx.scope, LinkKind.ITEM, [str(item.id) for item in chunk])
            for item in chunk:
                code = normalise_code(item.code)
                if code:
                    known.codes.add(code)
                if str(item.id) in links:
                    known.linked.add(str(item.id))
                elif code:
                    known.by_code.setdefault(code, []).append(str(item.id))
        return known

    def _host_items(self, ids: Iterable[str]) -> dict[str, Item]:
        wanted = set(ids)
        if not wanted:
            return {}
        return {str(i.id): i for i in self.ctx.host.list_items(self.ctx.account_id, None) if str(i.id) in wanted}

    def _pull_batch(self, records: list[dict[str, Any]], known: _Known) -> None:
        ctx = self.ctx
        links = ctx.store.links_by_xero(ctx.scope, LinkKind.ITEM, [str(r.get("ItemID")) for r in records])
        plans: list[tuple[dict[str, Any], str | None, str]] = []
        for record in records:
            link = links.get(str(record.get("ItemID")))
            if link is not None:
                if item_fingerprint(item_from_xero(record)) == link.fingerprint:
                    ctx.count(Outcome.UNCHANGED)
                else:
                    plans.append((record, link.host_id, Outcome.UPDATED))
                continue
            candidates = [c for c in known.by_code.get(normalise_code(str(record.get("Code") or "")), [])
                          if c not in self.claimed]
            if len(candidates) > 1:
                ctx.record(
                    Outcome.NEEDS_REVIEW, direction=TO_HOST, label=str(record.get("Name") or record.get("Code")),
                    xero_id=record.get("ItemID"),
                    message=f"{len(candidates)} services or products here use the code {record.get('Code')}.",
                    fix="Give each of them its own code, then sync again.",
                    details={"candidates": [{"host_id": c} for c in candidates], "kind": "item"},
                )
                self.claimed.update(candidates)
            elif candidates:
                self.claimed.add(candidates[0])
                plans.append((record, candidates[0], Outcome.LINKED))
            else:
                plans.append((record, None, Outcome.CREATED))
        current = self._host_items(host_id for _, host_id, _ in plans if host_id)
        saves: list[tuple[Item, dict[str, Any], str]] = []
        for record, host_id, outcome in plans:
            if host_id is None:
                saves.append((item_from_xero(record), record, outcome))
                continue
            existing = current.get(host_id)
            if existing is None:
                continue
            pulled = item_from_xero(record, host_id, existing.kind)
            if outcome == Outcome.LINKED and item_fingerprint(pulled) == item_fingerprint(existing):
                self._link(host_id, record, pulled)
                ctx.record(outcome, direction=TO_HOST, label=pulled.name, host_id=host_id, xero_id=record.get("ItemID"))
                continue
            saves.append((replace(existing, code=pulled.code, name=pulled.name, description=pulled.description,
                                  unit_price=pulled.unit_price), record, outcome))
        if saves:
            ids = ctx.host.save_items(ctx.account_id, [item for item, _, _ in saves])
            for host_id, (item, record, outcome) in zip(ids, saves, strict=True):
                self._link(str(host_id), record, item)
                known.codes.add(normalise_code(item.code))
                ctx.record(outcome, direction=TO_HOST, label=item.name, host_id=str(host_id),
                           xero_id=record.get("ItemID"))
        ctx.store.commit()
        ctx.progress(len(records))

    def _link(self, host_id: str, record: dict[str, Any], item: Item) -> None:
        self.claimed.add(host_id)
        self.ctx.store.save_link(
            self.ctx.scope, LinkKind.ITEM, host_id, str(record.get("ItemID")),
            fingerprint=item_fingerprint(item), xero_key=str(record.get("Code") or item.code),
            xero_updated_at=xero_updated_at(record),
        )

    def _push_new(self, known: _Known) -> None:
        ctx = self.ctx
        unlinked = [
            item for item in ctx.host.list_items(ctx.account_id, None)
            if str(item.id) not in known.linked and str(item.id) not in self.claimed
        ]
        if not unlinked:
            return
        ctx.progress(0, total=ctx.done + len(unlinked))
        xero_codes = self.every_code if self.every_code is not None else {
            normalise_code(str(record.get("Code") or "")): record for record in ctx.client.get_items(None, where=None)
        }
        taken = known.codes | set(xero_codes)
        prefs = ctx.preferences
        for batch in batched(unlinked, BATCH):
            to_push: list[tuple[Item, bool]] = []
            for item in batch:
                generated = not item.code.strip()
                code = generate_code(item.name, taken) if generated else item.code.strip()
                taken.add(normalise_code(code))
                item = replace(item, code=code)
                clash = xero_codes.get(normalise_code(code)) if not generated else None
                if clash is not None:
                    self._code_clash(item, clash)
                else:
                    to_push.append((item, generated))
            if to_push:
                ctx.store.commit()
                results = ctx.client.upsert_items(
                    [item_payload(item, prefs.sales_account_code or "", prefs.tax_type or "") for item, _ in to_push]
                )
                renamed: list[Item] = []
                for (item, generated), result in zip(to_push, results, strict=True):
                    if not result.ok:
                        ctx.record(Outcome.FAILED, direction=TO_XERO, label=item.name, host_id=item.id,
                                   message="; ".join(result.messages), fix=fix_for(result.messages),
                                   details={"code": item.code})
                        continue
                    self._link(str(item.id), result.record, item)
                    if generated:
                        renamed.append(item)
                    ctx.record(Outcome.CREATED, direction=TO_XERO, label=item.name, host_id=item.id,
                               xero_id=result.record.get("ItemID"),
                               details={"generated_code": item.code} if generated else None)
                if renamed:
                    ctx.host.save_items(ctx.account_id, renamed)
            ctx.store.commit()
            ctx.progress(len(batch))

    def _code_clash(self, item: Item, clash: dict[str, Any]) -> None:
        """The host item's code is already used in Xero: link when it is clearly the same item."""
        ctx = self.ctx
        taken_by = ctx.store.links_by_xero(ctx.scope, LinkKind.ITEM, [str(clash.get("ItemID"))])
        if normalise_name(str(clash.get("Name") or "")) == normalise_name(item.name) and not taken_by:
            pulled = item_from_xero(clash, str(item.id), item.kind)
            if item_fingerprint(pulled) != item_fingerprint(item):
                ctx.host.save_items(ctx.account_id, [replace(item, name=pulled.name, description=pulled.description,
                                                             unit_price=pulled.unit_price)])
            self._link(str(item.id), clash, pulled)
            ctx.record(Outcome.LINKED, direction=TO_XERO, label=item.name, host_id=item.id,
                       xero_id=clash.get("ItemID"), details={"rule": "code"})
            return
        message = f"Price List Item with Code '{item.code}' already exists"
        ctx.record(Outcome.FAILED, direction=TO_XERO, label=item.name, host_id=item.id,
                   xero_id=clash.get("ItemID"), message=message, fix=fix_for([message]),
                   details={"code": item.code, "xero_name": clash.get("Name") or ""})
