"""Flagged invoices pushed to Xero as ACCREC invoices: clients first, items by code, tax, re-pushes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from flask_xerosync import signals
from flask_xerosync.models import Connection
from flask_xerosync.services.preferences import reference_lists
from flask_xerosync.state import current_state
from flask_xerosync.sync.invoices import line_item_ids, total_difference
from tests.sync.conftest import Rig


def test_a_flagged_invoice_with_a_new_client_and_an_unlinked_item(rig: Rig) -> None:
    client_id = rig.add_client("Coastal Cafe", "manager@coastalcafe.example")
    labour = rig.add_product("Labour (per hour)", "LAB-HR", "95.00")
    invoice_id = rig.add_invoice("HFS-2001", client_id, [
        ("Labour", "2.5", "95.00", labour, True),
        ("Council fee (no tax)", "1", "40.00", None, False),
    ], reference="Job 2001", currency="NZD")
    rig.sync(sync_clients=False, sync_invoices=False)  # links the item only
    flag_before = rig.flag_of(invoice_id)
    assert flag_before.state == "flagged"

    pushed: list[dict[str, str]] = []

    def receive(sender: object, **fields: str) -> None:
        pushed.append(fields)

    with signals.invoice_pushed.connected_to(receive):
        result = rig.sync(sync_clients=False, sync_items=False, tax_type="OUTPUT2", sales_account_code="200")

    assert result.of("clients", "created") == 1  # pushed for the invoice although clients are off
    assert result.of("invoices", "created") == 1
    [invoice] = rig.invoices()
    contact = rig.contact_named("Coastal Cafe")
    assert invoice["Contact"]["ContactID"] == contact["ContactID"]
    assert invoice["InvoiceNumber"] == "HFS-2001" and invoice["Reference"] == "Job 2001"
    assert invoice["Status"] == "DRAFT" and invoice["LineAmountTypes"] == "Exclusive"
    assert invoice["DateString"].startswith("2026-11-02")
    lines = invoice["LineItems"]
    assert lines[0]["ItemCode"] == "LAB-HR" and lines[0]["TaxType"] == "OUTPUT2"
    assert "ItemCode" not in lines[1] and lines[1]["TaxType"] == "NONE"
    flag = rig.flag_of(invoice_id)
    assert flag.state == "pushed" and flag.xero_invoice_id == invoice["InvoiceID"]
    assert flag.xero_number == "HFS-2001" and flag.xero_status == "DRAFT"
    assert flag.xero_url.endswith(f"/AccountsReceivable/View.aspx?InvoiceID={invoice['InvoiceID']}")
    assert flag.xero_total == Decimal("313.13") and flag.host_total == Decimal("277.50")  # tax rounded per line
    assert flag.message == ""  # the host's total is Xero's subtotal: before tax, not a difference
    assert pushed == [{"account_id": "1", "invoice_id": invoice_id, "xero_invoice_id": invoice["InvoiceID"],
                       "xero_number": "HFS-2001"}]
    assert rig.sync(sync_clients=False, sync_items=False).changes() == 0  # nothing flagged any more


def test_a_bad_tax_type_is_rejected_with_a_fix_and_the_rest_of_the_batch_goes_through(rig: Rig) -> None:
    client_id = rig.add_client("Northgate Property", "maintenance@northgate.example")
    good = rig.add_invoice("HFS-3001", client_id, [("Labour", "1", "100", None, True)])
    bad = rig.add_invoice("HFS-3002", client_id, [("Labour", "1", "100", None, True)])
    rig.host(lambda models: setattr(models.db.session.get(models.Invoice, int(bad)).lines[0], "tax_code", "GST15"))

    result = rig.sync(sync_items=False)

    assert result.of("invoices", "created") == 1 and result.of("invoices", "failed") == 1
    rejected = rig.flag_of(bad)
    assert rejected.state == "rejected"
    assert rejected.message == "The TaxType code 'GST15' is not valid."
    assert rejected.fix.startswith("Line 1 of this invoice carries its own tax code 'GST15' (set in this app, "
                                   "not in the Accounting Sync settings)")
    assert "or clear it so the line uses the tax rate chosen in the Accounting Sync settings" in rejected.fix
    assert "for example" not in rejected.fix, "no tax rates known: none named, and none read for a fix text"
    assert rig.flag_of(good).state == "pushed"
    assert [i["InvoiceNumber"] for i in rig.invoices()] == ["HFS-3001"]


def test_a_rejected_tax_code_of_a_line_names_valid_ones_from_the_cached_tax_rates(rig: Rig) -> None:
    with rig.app.app_context():
        connection = current_state().db.session.scalar(select(Connection).where(Connection.account_id == "1"))
        cached = reference_lists(current_state(), connection, refresh=True).tax_rates
    client_id = rig.add_client("Northgate Property", "maintenance@northgate.example")
    bad = rig.add_invoice("HFS-3003", client_id, [("Labour", "1", "100", None, True),
                                                   ("Parts", "1", "20", None, True),
                                                   ("Travel", "1", "30", None, True)])

    def set_codes(models: Any) -> None:
        lines = models.db.session.get(models.Invoice, int(bad)).lines
        lines[0].tax_code = lines[2].tax_code = "GST15"

    rig.host(set_codes)

    result = rig.sync(sync_items=False)

    rejected = rig.flag_of(bad)
    assert result.of("invoices", "failed") == 1
    assert rejected.fix.startswith("Lines 1 and 3 of this invoice carry their own tax code 'GST15'")
    named = [f"{rate['TaxType']} ({rate['Name']})" for rate in cached[:2]]
    assert len(named) == 2 and f"(for example {named[0]} or {named[1]})" in rejected.fix


def test_a_rejected_tax_code_from_the_preferences_points_to_the_settings(rig: Rig) -> None:
    client_id = rig.add_client("Northgate Property", "maintenance@northgate.example")
    invoice_id = rig.add_invoice("HFS-3004", client_id, [("Labour", "1", "100", None, True)])

    rig.sync(sync_items=False, tax_type="GST15")

    rejected = rig.flag_of(invoice_id)
    assert rejected.state == "rejected"
    assert rejected.message == "The TaxType code 'GST15' is not valid."
    assert rejected.fix == ("Xero does not know the tax type GST15. Pick a tax rate of your Xero organisation in "
                            "the Accounting Sync settings (Refresh lists if you added it recently), then push again.")


def test_a_repush_of_an_unpaid_invoice_updates_its_lines_and_keeps_their_ids(rig: Rig) -> None:
    client_id = rig.add_client("Summit Fitness", "admin@summit.example")
    invoice_id = rig.add_invoice("HFS-4001", client_id, [("Labour", "1", "95", None, True),
                                                          ("Parts", "2", "10", None, True)])
    rig.sync(sync_items=False)
    before = rig.invoices()[0]["LineItems"]
    rig.set_lines(invoice_id, [("Labour", "3", "95"), ("Parts", "2", "10"), ("Disposal", "1", "15")])
    rig.flag(invoice_id)

    result = rig.sync(sync_items=False)

    assert result.of("invoices", "updated") == 1
    [invoice] = rig.invoices()
    after = invoice["LineItems"]
    assert [line["LineItemID"] for line in after[:2]] == [line["LineItemID"] for line in before]
    assert Decimal(str(after[0]["Quantity"])) == 3 and len(after) == 3
    assert after[2]["LineItemID"] not in {line["LineItemID"] for line in before}
    assert rig.flag_of(invoice_id).state == "pushed"


def test_a_repush_after_a_line_was_removed_keeps_the_ids_of_the_lines_left(rig: Rig) -> None:
    client_id = rig.add_client("Summit Fitness", "admin@summit.example")
    invoice_id = rig.add_invoice("HFS-4002", client_id, [("Call-out", "1", "60", None, True),
                                                          ("Labour", "2", "95", None, True),
                                                          ("Parts", "1", "30", None, True)])
    rig.sync(sync_items=False)
    before = {line["Description"]: line["LineItemID"] for line in rig.invoices()[0]["LineItems"]}
    rig.set_lines(invoice_id, [("Labour", "2", "95"), ("Parts (replacement valve)", "1", "45")])
    rig.flag(invoice_id)

    result = rig.sync(sync_items=False)

    assert result.of("invoices", "updated") == 1
    after = rig.invoices()[0]["LineItems"]
    assert [line["Description"] for line in after] == ["Labour", "Parts (replacement valve)"]
    assert after[0]["LineItemID"] == before["Labour"]
    assert after[1]["LineItemID"] not in before.values()  # its position moved: a new line; Xero drops the rest


@pytest.mark.parametrize(
    ("host", "xero", "expected"),
    [
        (["A", "B"], ["A", "B"], ["a", "b"]),
        (["X", "A", "B"], ["A", "B"], [None, "a", "b"]),
        (["B"], ["A", "B"], ["b"]),
        (["A", "B edited"], ["A", "B"], ["a", "b"]),
        (["B", "A"], ["A", "B"], ["b", "a"]),
        (["A", "A"], ["A"], ["a", None]),
        (["A"], [], [None]),
    ],
)
def test_line_item_ids_pair_by_description_then_by_position(
    host: list[str], xero: list[str], expected: list[str | None]
) -> None:
    sent = [{"Description": description} for description in host]
    existing = [{"Description": description, "LineItemID": description.lower()} for description in xero]
    assert line_item_ids(sent, existing) == expected


def test_line_item_ids_tell_lines_apart_by_item_code() -> None:
    sent = [{"Description": "Labour", "ItemCode": "LAB-AH"}, {"Description": "Labour", "ItemCode": "LAB"}]
    existing = [{"Description": "labour", "ItemCode": "lab", "LineItemID": "x1"},
                {"Description": "Labour", "ItemCode": "LAB-AH", "LineItemID": "x2"}]
    assert line_item_ids(sent, existing) == ["x2", "x1"]


def test_a_repush_of_a_paid_invoice_is_reported_and_left_untouched(rig: Rig) -> None:
    client_id = rig.add_client("Riverside Vets", "frontdesk@riverside.example")
    invoice_id = rig.add_invoice("HFS-5001", client_id, [("Labour", "1", "100", None, True)])
    rig.sync(sync_items=False, invoice_status="AUTHORISED", sales_account_code="200")
    xero_invoice = rig.invoices()[0]
    rig.control.add_payment(rig.tenant, xero_invoice["InvoiceID"], amount=str(xero_invoice["Total"]))
    rig.set_lines(invoice_id, [("Labour", "5", "100")])
    rig.flag(invoice_id)

    result = rig.sync(sync_items=False, invoice_status="AUTHORISED", sales_account_code="200")

    [row] = result.rows("skipped", stage="invoices")
    assert row.message == "Paid in Xero; left untouched"
    [after] = rig.invoices()
    assert after["Status"] == "PAID" and after["Total"] == xero_invoice["Total"]
    assert rig.flag_of(invoice_id).message == "Paid in Xero; left untouched"


def test_a_total_that_xero_rounds_differently_is_reported(rig: Rig) -> None:
    client_id = rig.add_client("Coastal Cafe", "manager@coastalcafe.example")
    invoice_id = rig.add_invoice("HFS-2101", client_id, [("Washers", "3", "0.3333", None, False)])
    result = rig.sync(sync_items=False)
    assert result.of("invoices", "created") == 1
    flag = rig.flag_of(invoice_id)
    assert flag.host_total == Decimal("0.9999") and flag.xero_total == Decimal("1.00")
    assert flag.message.startswith("Xero's total is 1.00 (1.00 before tax), the total here is 0.9999:")
    [record] = [r for r in result.rows(stage="invoices") if r.label == "HFS-2101"]
    assert record.message == flag.message


def test_total_difference_accepts_totals_with_or_without_tax() -> None:
    assert total_difference(Decimal("100.00"), Decimal("115.00"), Decimal("100.00")) == ""
    assert total_difference(Decimal("115.00"), Decimal("115.00"), Decimal("100.00")) == ""
    assert total_difference(None, Decimal("115.00"), Decimal("100.00")) == ""
    assert "115.00 (100.00 before tax), the total here is 114.99" in total_difference(
        Decimal("114.99"), Decimal("115.00"), Decimal("100.00")
    )
