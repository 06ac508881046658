"""A host that can fetch clients by id (optional ``get_clients``) spares the engine full scans."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from flask_xerosync.extension import current_state
from flask_xerosync.host import Client
from tests.sync.conftest import Rig


class HostWithLookup:
    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.scans: list[datetime | None] = []
        self.lookups: list[list[str]] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def list_clients(self, account_id: str, changed_since: datetime | None) -> Iterator[Client]:
        self.scans.append(changed_since)
        return self.inner.list_clients(account_id, changed_since)  # type: ignore[attr-defined,no-any-return]

    def get_clients(self, account_id: str, ids: Sequence[str]) -> list[Client]:
        self.lookups.append(list(ids))
        return [c for c in self.inner.list_clients(account_id, None) if c.id in set(ids)]  # type: ignore[attr-defined]


def test_the_engine_uses_get_clients_when_the_host_has_it(rig: Rig) -> None:
    rig.seed_contacts({"Name": "Kiwi Plumbing", "EmailAddress": "kiwi@x.example"})
    host_id = rig.add_client("Kiwi Plumbing Ltd", "kiwi@x.example")
    with rig.app.app_context():
        host = HostWithLookup(current_state().host_data)

    result = rig.sync(host=host, sync_items=False, sync_invoices=False)  # type: ignore[arg-type]

    assert result.of("clients", "linked") == 1
    assert host.lookups == [[host_id]]
    assert host.scans == [None]  # the step-1 scan only: no full scan to find the linked client
