"""An in-memory host for the engine's generated tests: clients, items and invoices of one or more
accounts, with an ``updated_at`` on every write, and a journal of every field the sync changed
(so a test can check that no value changed without the old one in the run log)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from flask_xerosync.host import Client, HostData, Invoice, Item

SYNCED = ("name", "first_name", "last_name", "email", "phone", "address", "archived")


@dataclass(frozen=True)
class Write:
    """One field of one client that a ``save_clients`` call changed."""

    client_id: str
    field: str
    old: object
    new: object


class MemoryHost(HostData):
    def __init__(self) -> None:
        self.clients: dict[str, dict[str, Client]] = {}
        self.items: dict[str, dict[str, Item]] = {}
        self.invoices: dict[str, dict[str, Invoice]] = {}
        self.journal: list[Write] = []
        self.saves = 0
        self._ids = itertools.count(1)
        self._last = datetime.now(timezone.utc)

    def _now(self) -> datetime:
        self._last = max(datetime.now(timezone.utc), self._last + timedelta(microseconds=1))
        return self._last

    # What tests do as the host's users

    def add_client(self, account_id: str = "1", **fields: object) -> Client:
        client = Client(id=str(next(self._ids)), **{"name": "", **fields}, updated_at=self._now())  # type: ignore[arg-type]
        self.clients.setdefault(account_id, {})[str(client.id)] = client
        return client

    def edit_client(self, client_id: str, account_id: str = "1", **fields: object) -> Client:
        client = replace(self.clients[account_id][client_id], **fields, updated_at=self._now())  # type: ignore[arg-type]
        self.clients[account_id][client_id] = client
        return client

    def add_item(self, account_id: str = "1", **fields: object) -> Item:
        item = Item(id=str(next(self._ids)), **{"code": "", "name": "", **fields}, updated_at=self._now())  # type: ignore[arg-type]
        self.items.setdefault(account_id, {})[str(item.id)] = item
        return item

    def add_invoice(self, account_id: str = "1", **fields: object) -> Invoice:
        invoice = Invoice(id=str(next(self._ids)), **fields, updated_at=self._now())  # type: ignore[arg-type]
        self.invoices.setdefault(account_id, {})[invoice.id] = invoice
        return invoice

    # HostData

    def list_clients(self, account_id: str, changed_since: datetime | None) -> Iterator[Client]:
        for client in sorted(self.clients.get(account_id, {}).values(), key=lambda c: int(str(c.id))):
            if changed_since is None or (client.updated_at is not None and client.updated_at > changed_since):
                yield client

    def get_clients(self, account_id: str, ids: Sequence[str]) -> list[Client]:
        known = self.clients.get(account_id, {})
        return [known[i] for i in ids if i in known]

    def save_clients(self, account_id: str, clients: Sequence[Client]) -> list[str]:
        self.saves += 1
        saved = []
        for client in clients:
            known = self.clients.setdefault(account_id, {})
            if client.id is None:
                client = replace(client, id=str(next(self._ids)))
            elif client.id not in known:
                raise LookupError(f"client {client.id} is not of account {account_id}")
            else:
                old = known[str(client.id)]
                self.journal.extend(Write(str(client.id), name, getattr(old, name), getattr(client, name))
                                    for name in SYNCED if getattr(old, name) != getattr(client, name))
            client = replace(client, updated_at=self._now())
            known[str(client.id)] = client
            saved.append(str(client.id))
        return saved

    def list_items(self, account_id: str, changed_since: datetime | None) -> Iterator[Item]:
        for item in sorted(self.items.get(account_id, {}).values(), key=lambda i: int(str(i.id))):
            if changed_since is None or (item.updated_at is not None and item.updated_at > changed_since):
                yield item

    def save_items(self, account_id: str, items: Sequence[Item]) -> list[str]:
        self.saves += 1
        saved = []
        for item in items:
            known = self.items.setdefault(account_id, {})
            if item.id is None:
                item = replace(item, id=str(next(self._ids)))
            item = replace(item, updated_at=self._now())
            known[str(item.id)] = item
            saved.append(str(item.id))
        return saved

    def get_invoices(self, account_id: str, invoice_ids: Sequence[str]) -> list[Invoice]:
        known = self.invoices.get(account_id, {})
        return [known[i] for i in invoice_ids if i in known]
