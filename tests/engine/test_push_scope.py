"""A push run on fakes: it goes through only what its invoices need (the items they use and lack, their
clients, the invoices themselves), by the sync's rules, and goes on from where it stopped."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from flask_xerosync.host import Invoice, InvoiceLine
from flask_xerosync.models import Preferences, RecordResult, Run, default_preferences
from flask_xerosync.sync.engine import SyncEngine, planned_stages
from flask_xerosync.sync.progress import ProgressEvent
from flask_xerosync.sync.push import WAITING_FOR_CLIENT
from flask_xerosync.sync.scope import Scope, push_cursor
from flask_xerosync.sync.store import SyncStore

from .fakes import ACCOUNT, TENANT, XERO_APP_URL, FakeXeroApi, MemoryHost, flag_invoice, memory_store, run_engine


@pytest.fixture
def host() -> MemoryHost:
    return MemoryHost()


@pytest.fixture
def api() -> FakeXeroApi:
    return FakeXeroApi()


@pytest.fixture
def store() -> SyncStore:
    return memory_store()


def push_run(host: MemoryHost, api: FakeXeroApi, store: SyncStore, invoice_ids: list[str],
             cursor: dict[str, Any] | None = None, **preferences: Any) -> tuple[dict[str, dict[str, int]],
                                                                              list[ProgressEvent], str]:
    """One push run of ``invoice_ids`` (flagged first, as Push To Xero does)."""
    for invoice_id in invoice_ids:
        flagged = store.flags(Scope(ACCOUNT, TENANT), [invoice_id])
        if not flagged:
            flag_invoice(store, invoice_id)
    run = Run(account_id=ACCOUNT, tenant_id=TENANT, kind="push", status="running")
    store.session.add(run)
    store.session.commit()
    chosen: Preferences = default_preferences(ACCOUNT)
    for name, value in preferences.items():
        setattr(chosen, name, value)
    events: list[ProgressEvent] = []
    counts = SyncEngine(
        account_id=ACCOUNT, tenant_id=TENANT, host=host, api=api, store=store, preferences=chosen, run_id=run.id,
        xero_app_url=XERO_APP_URL, report=events.append, cursor=cursor or push_cursor(invoice_ids),
    ).run()
    return counts, events, run.id


def invoice(host: MemoryHost, invoice_id: str, number: str, client_id: str, *item_ids: str) -> str:
    lines = tuple(InvoiceLine(f"Line {n}", Decimal("1"), Decimal("50.00"), item_id=item_id)
                  for n, item_id in enumerate(item_ids or (None,), 1))
    return host.add_invoice(Invoice(id=invoice_id, number=number, client_id=client_id,
                                    issue_date=date(2026, 11, 2), due_date=None, lines=lines))


def test_planned_stages_of_a_push_run() -> None:
    preferences = default_preferences(ACCOUNT)
    preferences.read_paid_status = True
    assert planned_stages(preferences) == ["connect", "clients", "items", "invoices", "paid"]
    assert planned_stages(preferences, push_cursor(["1"])) == ["connect", "items", "invoices"]
    preferences.sync_items = False
    assert planned_stages(preferences, push_cursor(["1"])) == ["connect", "invoices"]


def test_a_push_run_takes_only_what_its_invoice_needs(host: MemoryHost, api: FakeXeroApi, store: SyncStore) -> None:
    cafe = host.add_client("Coastal Cafe", "manager@coastalcafe.example")
    host.add_client("Greenleaf Landscaping", "hello@greenleaf.example")
    labour, callout = host.add_item("Labour", "LAB"), host.add_item("Call-out", "CALL")
    host.add_item("Copper pipe", "PIPE")
    pushed = invoice(host, "inv-1", "HFS-1", cafe, labour, callout)
    other = invoice(host, "inv-2", "HFS-2", cafe, labour)
    flag_invoice(store, other)

    counts, events, _ = push_run(host, api, store, [pushed], read_paid_status=True)

    assert [c["Name"] for c in api.contacts.values()] == ["Coastal Cafe"]
    assert sorted(i["Code"] for i in api.items.values()) == ["CALL", "LAB"]
    assert [i["InvoiceNumber"] for i in api.invoices.values()] == ["HFS-1"]
    assert store.flags(Scope(ACCOUNT, TENANT), [other])[other].state == "flagged", "not given: not pushed"
    assert "paid" not in counts and counts["items"]["created"] == 2 and counts["clients"]["created"] == 1
    assert [stage for stage in dict.fromkeys(event.stage for event in events)] == ["connect", "items", "invoices", "done"]
    # connect, organisation, items read + create, contacts read + create, invoices upsert
    assert api.calls == 7


def test_items_already_linked_cost_no_call(host: MemoryHost, api: FakeXeroApi, store: SyncStore) -> None:
    cafe = host.add_client("Coastal Cafe", "manager@coastalcafe.example")
    labour = host.add_item("Labour", "LAB")
    run_engine(host, api, store, sync_invoices=False)
    api.calls = 0
    first = invoice(host, "inv-1", "HFS-1", cafe, labour)

    counts, _, _ = push_run(host, api, store, [first])

    assert counts["invoices"]["created"] == 1
    assert api.calls == 2, "the connect check and the invoice: organisation cached, client and item linked"


def test_progress_per_batch_and_agreeing_counts(host: MemoryHost, api: FakeXeroApi, store: SyncStore) -> None:
    cafe = host.add_client("Coastal Cafe", "manager@coastalcafe.example")
    ids = [invoice(host, f"inv-{n}", f"HFS-{n}", cafe) for n in range(1, 61)]

    counts, events, _ = push_run(host, api, store, ids, sync_items=False)

    invoice_events = [event for event in events if event.stage == "invoices"]
    progress = [(event.done, event.total) for event in invoice_events]
    assert progress[0] == (0, 60) and (50, 60) in progress and progress[-1] == (60, 60), "one step per batch"
    assert all(done <= total for done, total in progress), "clients linked on the way are not counted as invoices"
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)
    assert invoice_events[-1].counts["invoices"] == counts["invoices"]
    assert counts["invoices"]["created"] == 60


def test_a_continued_push_run_skips_what_it_pushed(host: MemoryHost, api: FakeXeroApi, store: SyncStore) -> None:
    cafe = host.add_client("Coastal Cafe", "manager@coastalcafe.example")
    first, second = invoice(host, "inv-1", "HFS-1", cafe), invoice(host, "inv-2", "HFS-2", cafe)
    push_run(host, api, store, [first])
    api.calls = 0

    counts, _, _ = push_run(host, api, store, [second], cursor={**push_cursor([first, second]), "finished": ["items"]})

    assert counts["invoices"]["created"] == 1 and len(api.invoices) == 2


def test_an_ambiguous_client_leaves_the_invoice_waiting(host: MemoryHost, api: FakeXeroApi, store: SyncStore) -> None:
    api.seed_contact("Coastal Cafe", "manager@coastalcafe.example")
    api.seed_contact("Coastal Cafe Ltd", "manager@coastalcafe.example")
    cafe = host.add_client("Coastal Cafe", "manager@coastalcafe.example")
    waiting = invoice(host, "inv-1", "HFS-1", cafe)

    counts, _, run_id = push_run(host, api, store, [waiting], sync_items=False)

    assert not api.invoices and len(api.contacts) == 2
    flag = store.flags(Scope(ACCOUNT, TENANT), [waiting])[waiting]
    assert flag.state == "flagged" and flag.message == WAITING_FOR_CLIENT
    assert counts["invoices"]["skipped"] == 1 and counts["invoices"].get("failed", 0) == 0
    records = list(store.session.scalars(select(RecordResult).where(RecordResult.run_id == run_id)))
    assert {(r.stage, r.outcome) for r in records} >= {("clients", "needs_review"), ("invoices", "skipped")}
