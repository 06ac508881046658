"""A host that can fetch clients by id (optional ``get_clients``) spares the engine full scans."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from flask_xerosync.host import Client
from flask_xerosync.state import current_state
from tests.sync.conftest import ACCOUNT, Rig


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
    rig.seed_contacts({"Name": "Kiwi Plumbing", "EmailAddress": "kiwi@x.example",
                       "Phones": [{"PhoneType": "DEFAULT", "PhoneNumber": "555 0101", "PhoneAreaCode": "09",
                                   "PhoneCountryCode": "64"}]})
    host_id = rig.add_client("Kiwi Plumbing Ltd", "kiwi@x.example")  # its empty phone is filled from Xero
    with rig.app.app_context():
        host = HostWithLookup(current_state().host_data)

    result = rig.sync(host=host, sync_items=False, sync_invoices=False)  # type: ignore[arg-type]

    assert result.of("clients", "linked") == 1
    assert host.lookups == [[host_id]]
    assert host.scans == [None]  # the first read only: no full scan to find the client to save
    assert rig.client_named("Kiwi Plumbing Ltd").phone == "09 555 0101"


def test_the_example_host_looks_clients_up_by_id_within_its_business_only(rig: Rig) -> None:
    from example_app.host_data import ExampleHostData

    mine = [rig.add_client(f"Client {n}", f"c{n}@x.example") for n in range(3)]

    def add_elsewhere(models: Any) -> str:
        other = models.db.session.scalar(select(models.Business).where(models.Business.id != int(ACCOUNT)))
        if other is None:
            other = models.Business(name="Other Business")
            models.db.session.add(other)
            models.db.session.flush()
        row = models.Client(business_id=other.id, name="Not Yours")
        models.db.session.add(row)
        models.db.session.flush()
        return str(row.id)

    theirs = rig.host(add_elsewhere)
    with rig.app.app_context():
        found = ExampleHostData().get_clients(ACCOUNT, [mine[2], mine[0], theirs, "999999", "not-an-id"])

    assert [client.id for client in found] == [mine[0], mine[2]]
    assert found[0].name == "Client 0" and found[0].email == "c0@x.example"
