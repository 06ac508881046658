"""The sync rules on fakes: the engine alone, with an in-memory host, an in-memory Xero and SQLite
in memory (see ``fakes.py``). The same rules run against the sandbox in ``tests/sync``."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from flask_xerosync.host import Invoice, InvoiceLine
from flask_xerosync.sync.scope import Scope
from flask_xerosync.sync.store import SyncStore

from .fakes import ACCOUNT, TENANT, FakeXeroApi, MemoryHost, flag_invoice, memory_store, run_engine

CLIENTS_ONLY = {"sync_items": False, "sync_invoices": False}


@pytest.fixture
def host() -> MemoryHost:
    return MemoryHost()


@pytest.fixture
def api() -> FakeXeroApi:
    return FakeXeroApi()


@pytest.fixture
def store() -> SyncStore:
    return memory_store()


def test_first_sync_creates_clients_both_ways(host: MemoryHost, api: FakeXeroApi, store: SyncStore) -> None:
    api.seed_contact("Only In Xero", "xero@only.example", IsCustomer=True)
    here = host.add_client("Only Here", "here@only.example")

    result = run_engine(host, api, store, **CLIENTS_ONLY)

    assert result.of("clients", "created") == 2 and result.of("clients", "failed") == 0
    assert sorted(c["Name"] for c in api.contacts.values()) == ["Only Here", "Only In Xero"]
    assert sorted(c.name for c in host.clients[ACCOUNT].values()) == ["Only Here", "Only In Xero"]
    assert api.contact_named("Only Here")["ContactNumber"] == here  # the upsert key of a crash re-run


def test_a_re_sync_does_not_echo_its_own_writes(host: MemoryHost, api: FakeXeroApi, store: SyncStore) -> None:
    api.seed_contact("Only In Xero", "xero@only.example")
    host.add_client("Only Here", "here@only.example")
    run_engine(host, api, store, **CLIENTS_ONLY)
    contacts_before = {key: dict(value) for key, value in api.contacts.items()}

    again = run_engine(host, api, store, **CLIENTS_ONLY)

    changes = {o: n for o, n in again.counts["clients"].items() if o != "unchanged" and n}
    assert changes == {}
    assert api.contacts == contacts_before  # nothing written back to Xero
    assert len(host.clients[ACCOUNT]) == 2


def test_a_name_match_links_instead_of_duplicating(host: MemoryHost, api: FakeXeroApi, store: SyncStore) -> None:
    api.seed_contact("greenleaf   landscaping", "")
    host.add_client("Greenleaf Landscaping", "hello@greenleaf.example")

    result = run_engine(host, api, store, **CLIENTS_ONLY)

    assert result.of("clients", "linked") == 1 and result.of("clients", "created") == 0
    assert len(api.contacts) == 1 and len(host.clients[ACCOUNT]) == 1
    [linked] = result.rows("linked")
    assert linked.details["rule"] == "name"
    # The first link merges: each side keeps its own spelling, the difference is listed, and the
    # e-mail Xero lacked is filled from here.
    assert [c.name for c in host.clients[ACCOUNT].values()] == ["Greenleaf Landscaping"]
    assert [(d["field"], d["host"], d["xero"]) for d in linked.details["differences"]] == [
        ("name", "Greenleaf Landscaping", "greenleaf landscaping")]
    assert api.contact_named("greenleaf   landscaping")["EmailAddress"] == "hello@greenleaf.example"


def test_an_ambiguous_email_needs_review_and_creates_nothing(
    host: MemoryHost, api: FakeXeroApi, store: SyncStore
) -> None:
    """The e-mail is on two Xero contacts (not unique), and so is the name: two candidates."""
    api.seed_contact("Harbour Marine", "office@harbour.example")
    api.seed_contact("HARBOUR  marine", "office@harbour.example")
    client_id = host.add_client("Harbour Marine", "office@harbour.example")

    result = run_engine(host, api, store, **CLIENTS_ONLY)

    reviews = [row for row in result.rows("needs_review") if row.host_id == client_id]
    assert len(reviews) == 1
    assert sorted(c["label"] for c in reviews[0].details["candidates"]) == ["HARBOUR marine", "Harbour Marine"]
    assert len(api.contacts) == 2 and result.of("clients", "linked") == 0


def test_a_new_client_whose_name_xero_has_is_never_merged_silently(
    host: MemoryHost, api: FakeXeroApi, store: SyncStore
) -> None:
    """A contact that joined Xero after the pull: the create-only PUT is refused with Xero's text
    (nothing is merged by a POST), the contact is read into what the sync knows, and the match rules
    link the two in the same run."""
    host.add_client("Late Arrival", "late@arrival.example")
    original = api.iter_contact_pages

    def pages_then_a_late_contact(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        yield from original(*args, **kwargs)  # type: ignore[arg-type]
        api.seed_contact("Late Arrival", "late@arrival.example")

    api.iter_contact_pages = pages_then_a_late_contact  # type: ignore[method-assign]
    result = run_engine(host, api, store, **CLIENTS_ONLY)

    assert len(api.contacts) == 1
    assert result.of("clients", "linked") == 1 and result.of("clients", "failed") == 0
    assert result.of("clients", "needs_review") == 0
    [linked] = result.rows("linked")
    assert linked.details["rule"] == "email"


def test_items_are_pulled_and_the_missing_ones_pushed(host: MemoryHost, api: FakeXeroApi, store: SyncStore) -> None:
    api.seed_item("LAB-HR", "Labour (per hour)", "95.00")
    api.seed_item("OLD", "Not sold", "1.00", IsSold=False)
    host.add_item("Call-out fee", "", "60.00")

    result = run_engine(host, api, store, sync_clients=False, sync_invoices=False)

    assert result.of("items", "failed") == 0
    assert sorted(i.code for i in host.items[ACCOUNT].values()) == ["CALL-OUT-FEE", "LAB-HR"]
    pushed = [i for i in api.items.values() if i["Code"] == "CALL-OUT-FEE"]
    assert len(pushed) == 1 and pushed[0]["SalesDetails"]["UnitPrice"] == Decimal("60.00")
    assert run_engine(host, api, store, sync_clients=False, sync_invoices=False).of("items", "created") == 0


def test_a_flagged_invoice_is_pushed_with_its_client_and_announced(
    host: MemoryHost, api: FakeXeroApi, store: SyncStore
) -> None:
    client_id = host.add_client("Coastal Cafe", "manager@coastalcafe.example")
    labour = host.add_item("Labour (per hour)", "LAB-HR", "95.00")
    invoice_id = host.add_invoice(Invoice(
        id="inv-1", number="HFS-2001", client_id=client_id, issue_date=date(2026, 11, 2), due_date=None,
        lines=(InvoiceLine("Labour", Decimal("2.5"), Decimal("95.00"), item_id=labour),
               InvoiceLine("Council fee", Decimal("1"), Decimal("40.00"), taxable=False)),
    ))
    run_engine(host, api, store, sync_clients=False, sync_invoices=False)  # links the item only
    flag_invoice(store, invoice_id)

    result = run_engine(host, api, store, sync_clients=False, sync_items=False, tax_type="OUTPUT2")

    assert result.of("clients", "created") == 1  # pushed for the invoice although clients are off
    assert result.of("invoices", "created") == 1
    [invoice] = api.invoices.values()
    assert invoice["Contact"]["ContactID"] == api.contact_named("Coastal Cafe")["ContactID"]
    assert [line.get("ItemCode") for line in invoice["LineItems"]] == ["LAB-HR", None]
    assert [line["TaxType"] for line in invoice["LineItems"]] == ["OUTPUT2", "NONE"]
    assert invoice["Total"] == Decimal("313.13")
    assert result.pushed == [(ACCOUNT, invoice_id, invoice["InvoiceID"], "HFS-2001")]
    flag = store.flags(Scope(ACCOUNT, TENANT), [invoice_id])[invoice_id]
    assert flag.state == "pushed" and flag.xero_url.endswith(f"InvoiceID={invoice['InvoiceID']}")
    assert run_engine(host, api, store, sync_clients=False, sync_items=False).of("invoices", "created") == 0
