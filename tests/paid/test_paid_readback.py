"""Paid status back from Xero: the real engine against the sandbox, in process (tests/trust's
world), with a person paying, part paying, voiding and deleting invoices in Xero."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from flask_xerosync.host import Invoice, InvoiceLine, PaidStatus
from flask_xerosync.models import InvoiceFlag, Run, default_preferences
from flask_xerosync.sync.engine import SyncEngine
from flask_xerosync.sync.store import SyncStore
from tests.trust.memory_host import MemoryHost
from tests.trust.world import ACCOUNT, World

AUTHORISED = {"sync_items": False, "invoice_status": "AUTHORISED", "sales_account_code": "200",
              "read_paid_status": True}


class PaidHost(MemoryHost):
    """The in-memory host, with the optional ``mark_invoices_paid``."""

    def __init__(self) -> None:
        super().__init__()
        self.marked: list[PaidStatus] = []

    def mark_invoices_paid(self, account_id: str, updates: Sequence[PaidStatus]) -> None:
        assert account_id == ACCOUNT
        self.marked.extend(updates)


@pytest.fixture
def world() -> World:
    world = World(host=PaidHost(), preferences=AUTHORISED)
    world.connect(world.add_org("Harbour NZ"))
    return world


def add_invoices(world: World, count: int, amount: str = "100") -> list[Invoice]:
    client = world.host.add_client(name="Greenleaf Landscaping", email="hello@greenleaf.example")
    invoices = [
        world.host.add_invoice(number=f"INV-{n:04d}", client_id=client.id, issue_date=date(2026, 3, 2), due_date=None,
                               lines=(InvoiceLine("Labour", Decimal("1"), Decimal(amount)),))
        for n in range(1, count + 1)
    ]
    for invoice in invoices:
        world.session.add(InvoiceFlag(account_id=ACCOUNT, tenant_id=world.tenant, invoice_id=invoice.id))
    world.session.commit()
    return invoices


def flag(world: World, invoice: Invoice) -> InvoiceFlag:
    world.session.expire_all()
    row = world.session.scalar(select(InvoiceFlag).where(InvoiceFlag.invoice_id == invoice.id))
    assert row is not None and row.xero_invoice_id
    return row


def sync_hearing_paid(world: World) -> tuple[dict[str, dict[str, int]], int, list[PaidStatus]]:
    """One sync through the engine with an ``on_invoice_paid`` listener."""
    prefs = default_preferences(ACCOUNT)
    for name, value in AUTHORISED.items():
        setattr(prefs, name, value)
    run = Run(account_id=ACCOUNT, tenant_id=world.tenant, status="running", counts={})
    world.session.add(run)
    world.session.commit()
    heard: list[PaidStatus] = []
    api = world.api()
    engine = SyncEngine(account_id=ACCOUNT, tenant_id=world.tenant, host=world.host, api=api,
                        store=SyncStore(world.session), preferences=prefs, run_id=run.id,
                        xero_app_url="https://go.xero.test", on_invoice_paid=lambda account, status: heard.append(status))
    return engine.run(), api.calls, heard


def test_paid_part_paid_voided_and_deleted_come_back(world: World) -> None:
    paid, part_paid, voided, untouched = add_invoices(world, 4)
    world.sync()
    tenant = world.tenant
    world.control.add_payment(tenant, flag(world, paid).xero_invoice_id, date="2026-12-03")
    world.control.add_payment(tenant, flag(world, part_paid).xero_invoice_id, amount="40")
    world.control.void_invoice(tenant, flag(world, voided).xero_invoice_id)

    counts, _, heard = sync_hearing_paid(world)

    assert counts["paid"]["updated"] == 3
    assert flag(world, paid).xero_status == "PAID" and flag(world, paid).paid_on == date(2026, 12, 3)
    assert flag(world, paid).amount_due == 0
    assert (flag(world, part_paid).xero_status, flag(world, part_paid).amount_paid) == ("AUTHORISED", Decimal("40"))
    assert flag(world, part_paid).paid_on is None
    assert flag(world, voided).xero_status == "VOIDED"
    assert flag(world, untouched).amount_paid in (None, 0)
    marked = {status.invoice_id: status for status in world.host.marked}  # type: ignore[attr-defined]
    assert set(marked) == {paid.id, part_paid.id, voided.id}
    assert marked[paid.id].fully_paid and marked[paid.id].paid_on == date(2026, 12, 3)
    assert marked[part_paid.id].amount_paid + marked[part_paid.id].amount_due == Decimal("115")  # with GST
    assert [status.invoice_id for status in heard] == [paid.id]

    again, _, heard_again = sync_hearing_paid(world)
    assert again["paid"].get("updated", 0) == 0 and not heard_again


def test_a_deleted_draft_is_shown_too(world: World) -> None:
    [invoice] = add_invoices(world, 1)
    world.sync(invoice_status="DRAFT")
    world.control.delete_invoice(world.tenant, flag(world, invoice).xero_invoice_id)
    result = world.sync()
    assert flag(world, invoice).xero_status == "DELETED"
    [row] = result.rows("updated", stage="paid")
    assert row.message == "Deleted in Xero." and row.direction == "to_host"


def test_payments_are_never_written_to_xero(world: World) -> None:
    [invoice] = add_invoices(world, 1)
    world.sync()
    xero_id = flag(world, invoice).xero_invoice_id
    world.control.add_payment(world.tenant, xero_id, amount="15")
    before = next(i for i in world.control.invoices(world.tenant) if i["InvoiceID"] == xero_id)
    world.sync()
    after = next(i for i in world.control.invoices(world.tenant) if i["InvoiceID"] == xero_id)
    assert after["Payments"] == before["Payments"] and after["UpdatedDateUTC"] == before["UpdatedDateUTC"]


def test_nothing_pushed_means_no_call(world: World) -> None:
    world.host.add_client(name="Greenleaf Landscaping")
    world.sync()
    second = world.sync()
    assert second.of("paid", "updated") == 0
    without = world.sync(read_paid_status=False)
    assert second.calls == without.calls


@pytest.mark.parametrize("count", [3, 150, 230])
def test_call_count_is_the_floor_plus_one_per_100_invoices(world: World, count: int) -> None:
    invoices = add_invoices(world, count)
    world.sync()
    for invoice in invoices:
        world.control.add_payment(world.tenant, flag(world, invoice).xero_invoice_id)
    with_paid = world.sync()
    assert with_paid.of("paid", "updated") == count
    floor = world.sync(read_paid_status=False).calls  # the same sync without the read-back
    assert with_paid.calls <= floor + max(1, math.ceil(count / 100))


def test_a_preview_reads_nothing_and_counts_one_call(world: World) -> None:
    add_invoices(world, 2)
    world.sync()
    preview = world.sync(preview=True)
    assert preview.estimate is not None and preview.estimate["writes"].get("paid") == 1
    assert not preview.rows(stage="paid")

