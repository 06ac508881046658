"""In-memory stand-ins for what the sync engine talks to, so engine rules can be tested in
milliseconds: no Flask app, Redis, HTTP or OAuth.

- :class:`MemoryHost` is a :class:`flask_xerosync.HostData` over dicts (one account or many).
- :class:`FakeXeroApi` has the calls of :class:`flask_xerosync.sync.ports.XeroApiPort` and
  enough of Xero's behaviour for the engine's rules: contacts paged by ``ContactID`` with
  ``If-Modified-Since``, ``PUT`` create-only refusing a taken name with Xero's text, ``POST``
  upserts by ``ContactID`` (else ``ContactNumber``, else name, as Xero merges), items upserted by
  ``Code``, invoices by ``InvoiceNumber`` with totals and line ids, and a call counter.
- :func:`memory_store` is a :class:`~flask_xerosync.sync.store.SyncStore` on SQLite in memory
  with the extension's tables, and :func:`run_engine` runs one sync with all of the above.

The lead's engine tests can build on these; nothing here imports Flask.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from flask_xerosync.host import Client, Invoice, Item
from flask_xerosync.models import (
    Connection,
    ConnectionStatus,
    InvoiceFlag,
    Preferences,
    RecordResult,
    Run,
    default_preferences,
    metadata,
)
from flask_xerosync.sync.engine import SyncEngine
from flask_xerosync.sync.progress import ProgressEvent
from flask_xerosync.sync.store import SyncStore
from flask_xerosync.xero.results import ContactPage, WriteResult

ACCOUNT = "acct-1"
TENANT = "tenant-1"
XERO_APP_URL = "https://xero.invalid"
NAME_TAKEN = (
    "The contact name {name} is already assigned to another contact. The contact name must be unique "
    "across all active contacts."
)
BATCH = 50
EPOCH = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


class Clock:
    """A clock that moves one second each time it is read, so every write has its own moment."""

    def __init__(self, start: datetime = EPOCH) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@dataclass
class MemoryHost:
    """The host's records in dicts, by account; ids are "1", "2"… across all kinds."""

    clock: Clock = field(default_factory=Clock)
    clients: dict[str, dict[str, Client]] = field(default_factory=dict)
    items: dict[str, dict[str, Item]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Invoice]] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def add_client(self, name: str, email: str = "", account_id: str = ACCOUNT, **fields: Any) -> str:
        return self.save_clients(account_id, [Client(id=None, name=name, email=email, **fields)])[0]

    def add_item(self, name: str, code: str = "", price: str = "10.00", account_id: str = ACCOUNT) -> str:
        return self.save_items(account_id, [Item(id=None, code=code, name=name, unit_price=Decimal(price))])[0]

    def add_invoice(self, invoice: Invoice, account_id: str = ACCOUNT) -> str:
        self.invoices.setdefault(account_id, {})[invoice.id] = invoice
        return invoice.id

    def client_named(self, name: str, account_id: str = ACCOUNT) -> Client:
        [found] = [c for c in self.clients.get(account_id, {}).values() if c.name == name]
        return found

    # HostData

    def list_clients(self, account_id: str, changed_since: datetime | None) -> list[Client]:
        return _changed(self.clients.get(account_id, {}).values(), changed_since)

    def save_clients(self, account_id: str, clients: Sequence[Client]) -> list[str]:
        return [self._save(self.clients.setdefault(account_id, {}), client) for client in clients]

    def list_items(self, account_id: str, changed_since: datetime | None) -> list[Item]:
        return _changed(self.items.get(account_id, {}).values(), changed_since)

    def save_items(self, account_id: str, items: Sequence[Item]) -> list[str]:
        return [self._save(self.items.setdefault(account_id, {}), item) for item in items]

    def get_invoices(self, account_id: str, invoice_ids: Sequence[str]) -> list[Invoice]:
        own = self.invoices.get(account_id, {})
        return [own[invoice_id] for invoice_id in invoice_ids if invoice_id in own]

    def _save(self, records: dict[str, Any], record: Any) -> str:
        record_id = record.id or str(next(self._ids))
        records[record_id] = replace(record, id=record_id, updated_at=self.clock())
        return record_id


def _changed(records: Any, since: datetime | None) -> list[Any]:
    return [r for r in records if since is None or (r.updated_at is not None and r.updated_at > since)]


@dataclass
class FakeXeroApi:
    """One organisation's Xero, in memory (see the module docstring)."""

    tenant_id: str = TENANT
    page_size: int = 100
    clock: Clock = field(default_factory=Clock)
    tax_rates: list[dict[str, Any]] = field(default_factory=lambda: [
        {"TaxType": "OUTPUT2", "Name": "GST on Income", "Status": "ACTIVE", "EffectiveRate": Decimal("15"),
         "CanApplyToRevenue": True},
        {"TaxType": "NONE", "Name": "No GST", "Status": "ACTIVE", "EffectiveRate": Decimal("0"),
         "CanApplyToRevenue": True},
    ])
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: int = 0

    # Seeding and reading back (no calls counted)

    def seed_contact(self, name: str, email: str = "", **fields: Any) -> dict[str, Any]:
        contact = {"ContactID": _new_id(), "Name": name, "EmailAddress": email, "ContactStatus": "ACTIVE", **fields}
        return self._stored(self.contacts, contact["ContactID"], contact)

    def seed_item(self, code: str, name: str, price: str = "10.00", **fields: Any) -> dict[str, Any]:
        item = {"ItemID": _new_id(), "Code": code, "Name": name, "IsSold": True,
                "SalesDetails": {"UnitPrice": Decimal(price)}, **fields}
        return self._stored(self.items, item["ItemID"], item)

    def contact_named(self, name: str) -> dict[str, Any]:
        [found] = [c for c in self.contacts.values() if c["Name"] == name]
        return found

    # The calls of XeroApiPort

    def verify_connection(self) -> dict[str, Any]:
        self.calls += 1
        return {"tenantId": self.tenant_id, "tenantType": "ORGANISATION"}

    def get_organisation(self) -> dict[str, Any]:
        self.calls += 1
        return {"Name": "Fake Org", "CountryCode": "NZ", "BaseCurrency": "NZD"}

    def iter_contact_pages(self, modified_since: datetime | None, *, include_archived: bool = True,
                           start_page: int = 1) -> Iterator[ContactPage]:
        changed = sorted(
            (c for c in self.contacts.values()
             if (include_archived or c["ContactStatus"] != "ARCHIVED")
             and (modified_since is None or c["_updated"] > modified_since)),
            key=lambda c: c["ContactID"],
        )
        pages = [changed[start:start + self.page_size] for start in range(0, len(changed), self.page_size)] or [[]]
        for number, page in enumerate(pages, start=1):
            if number < start_page:
                continue
            self.calls += 1
            yield ContactPage(number, [_public(c) for c in page], self.clock.now)

    def get_contacts(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        self.calls += max(1, -(-len(ids) // BATCH)) if ids else 0
        return [_public(self.contacts[i]) for i in ids if i in self.contacts]

    def find_contacts_by_name(self, name: str) -> list[dict[str, Any]]:
        self.calls += 1
        return [_public(c) for c in self._active_named(name)]

    def create_contacts(self, records: Sequence[dict[str, Any]]) -> list[WriteResult]:
        return self._batches(records, lambda record: self._write_contact(record, create_only=True))

    def upsert_contacts(self, records: Sequence[dict[str, Any]]) -> list[WriteResult]:
        return self._batches(records, lambda record: self._write_contact(record, create_only=False))

    def get_items(self, modified_since: datetime | None, *, where: str | None = "IsSold==true") -> list[dict[str, Any]]:
        self.calls += 1
        return [_public(i) for i in self.items.values()
                if (modified_since is None or i["_updated"] > modified_since)
                and (where != "IsSold==true" or i.get("IsSold"))]

    def upsert_items(self, records: Sequence[dict[str, Any]]) -> list[WriteResult]:
        return self._batches(records, self._write_item)

    def create_items(self, records: Sequence[dict[str, Any]]) -> list[WriteResult]:
        return self._batches(records, lambda record: self._write_item(record, create_only=True))

    def get_invoices(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        self.calls += max(1, -(-len(ids) // BATCH)) if ids else 0
        return [_public(self.invoices[i]) for i in ids if i in self.invoices]

    def upsert_invoices(self, records: Sequence[dict[str, Any]]) -> list[WriteResult]:
        return self._batches(records, self._write_invoice)

    def get_tax_rates(self) -> list[dict[str, Any]]:
        self.calls += 1
        return [dict(rate) for rate in self.tax_rates]

    # Xero's rules

    def _batches(self, records: Sequence[dict[str, Any]], write: Any) -> list[WriteResult]:
        results: list[WriteResult] = []
        for start in range(0, len(records), BATCH):
            self.calls += 1
            for offset, record in enumerate(records[start:start + BATCH]):
                ok, stored, messages = write(dict(record))
                results.append(WriteResult(start + offset, ok, _public(stored), messages))
        return results

    def _active_named(self, name: str, other_than: str | None = None) -> list[dict[str, Any]]:
        key = name.strip().casefold()
        return [c for c in self.contacts.values()
                if c["ContactStatus"] == "ACTIVE" and c["Name"].strip().casefold() == key and c["ContactID"] != other_than]

    def _write_contact(self, record: dict[str, Any], *, create_only: bool) -> tuple[bool, dict[str, Any], list[str]]:
        target = self.contacts.get(record.get("ContactID") or "")
        if target is None and not create_only:
            number = record.get("ContactNumber")
            target = next((c for c in self.contacts.values() if number and c.get("ContactNumber") == number), None)
            if target is None and record.get("Name"):
                target = next(iter(self._active_named(record["Name"])), None)  # POST merges by name
        if record.get("ContactID") and target is None:
            return False, record, [f"The contact {record['ContactID']} does not exist."]
        contact_id = target["ContactID"] if target else _new_id()
        name = record.get("Name") or (target or {}).get("Name", "")
        status = record.get("ContactStatus") or (target or {}).get("ContactStatus", "ACTIVE")
        if status == "ACTIVE" and self._active_named(name, other_than=contact_id):
            return False, record, [NAME_TAKEN.format(name=name)]
        merged = {**(target or {}), **record, "ContactID": contact_id, "ContactStatus": status}
        return True, self._stored(self.contacts, contact_id, merged), []

    def _write_item(self, record: dict[str, Any], *, create_only: bool = False) -> tuple[bool, dict[str, Any], list[str]]:
        code = str(record.get("Code") or "").strip()
        if not code:
            return False, record, ["Item code is required."]
        target = self.items.get(record.get("ItemID") or "") or next(
            (i for i in self.items.values() if i["Code"].casefold() == code.casefold()), None)
        if create_only and target is not None:
            return False, record, [f"Price List Item with Code '{code}' already exists"]
        item_id = target["ItemID"] if target else _new_id()
        return True, self._stored(self.items, item_id, {**(target or {}), **record, "ItemID": item_id}), []

    def _write_invoice(self, record: dict[str, Any]) -> tuple[bool, dict[str, Any], list[str]]:
        number = str(record.get("InvoiceNumber") or "")
        target = self.invoices.get(record.get("InvoiceID") or "") or next(
            (i for i in self.invoices.values() if i["InvoiceNumber"] == number), None)
        if (record.get("Contact") or {}).get("ContactID") not in self.contacts:
            return False, record, ["The contact could not be found."]
        rates = {rate["TaxType"]: Decimal(str(rate["EffectiveRate"])) / 100 for rate in self.tax_rates}
        lines, subtotal, tax = [], Decimal("0"), Decimal("0")
        for line in record.get("LineItems") or []:
            if line.get("TaxType") and line["TaxType"] not in rates:
                return False, record, [f"The TaxType code '{line['TaxType']}' does not exist or cannot be used."]
            amount = _cents(Decimal(str(line["Quantity"])) * Decimal(str(line["UnitAmount"])))
            subtotal += amount
            tax += _cents(amount * rates.get(line.get("TaxType") or "", Decimal("0")))
            lines.append({**line, "LineItemID": line.get("LineItemID") or _new_id(), "LineAmount": amount})
        invoice_id = target["InvoiceID"] if target else _new_id()
        stored = {**(target or {}), **record, "InvoiceID": invoice_id, "InvoiceNumber": number, "LineItems": lines,
                  "Status": record.get("Status") or "DRAFT", "SubTotal": subtotal, "TotalTax": tax,
                  "Total": subtotal + tax, "AmountPaid": Decimal("0")}
        return True, self._stored(self.invoices, invoice_id, stored), []

    def _stored(self, records: dict[str, dict[str, Any]], key: str, record: dict[str, Any]) -> dict[str, Any]:
        moment = self.clock()
        record.update(_updated=moment, UpdatedDateUTC=f"/Date({int(moment.timestamp() * 1000)}+0000)/")
        records[key] = record
        return record


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in record.items() if not name.startswith("_")}


def _new_id() -> str:
    return str(uuid.uuid4())


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def memory_store() -> SyncStore:
    """A store on a fresh SQLite database in memory, with the account connected to the tenant."""
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    metadata.create_all(engine)
    session = Session(engine)
    session.add(Connection(account_id=ACCOUNT, tenant_id=TENANT, tenant_name="Fake Org",
                           status=ConnectionStatus.CONNECTED))
    session.commit()
    return SyncStore(session)


@dataclass
class EngineRun:
    counts: dict[str, dict[str, int]]
    events: list[ProgressEvent]
    records: list[RecordResult]
    pushed: list[tuple[str, str, str, str]]

    def of(self, stage: str, outcome: str) -> int:
        return self.counts.get(stage, {}).get(outcome, 0)

    def rows(self, outcome: str) -> list[RecordResult]:
        return [record for record in self.records if record.outcome == outcome]


def run_engine(host: MemoryHost, api: FakeXeroApi, store: SyncStore, **preferences: Any) -> EngineRun:
    """One run of the engine for :data:`ACCOUNT` with the defaults overridden by ``preferences``."""
    session = store.session
    run = Run(account_id=ACCOUNT, tenant_id=TENANT, status="running")
    session.add(run)
    session.commit()
    chosen: Preferences = default_preferences(ACCOUNT)
    for name, value in preferences.items():
        setattr(chosen, name, value)
    events: list[ProgressEvent] = []
    pushed: list[tuple[str, str, str, str]] = []
    counts = SyncEngine(
        account_id=ACCOUNT, tenant_id=TENANT, host=host, api=api, store=store, preferences=chosen,
        run_id=run.id, xero_app_url=XERO_APP_URL, report=events.append,
        on_invoice_pushed=lambda *pushed_invoice: pushed.append(pushed_invoice),
    ).run()
    records = list(session.scalars(select(RecordResult).where(RecordResult.run_id == run.id)))
    return EngineRun(counts, events, records, pushed)


def flag_invoice(store: SyncStore, invoice_id: str) -> None:
    store.session.add(InvoiceFlag(account_id=ACCOUNT, tenant_id=TENANT, invoice_id=invoice_id, state="flagged"))
    store.session.commit()
