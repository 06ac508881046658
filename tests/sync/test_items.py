"""Services & Products: pull sellable Xero items, push host items Xero lacks, codes and clashes."""

from __future__ import annotations

from decimal import Decimal

from tests.sync.conftest import Rig


def test_pull_then_push_with_generated_codes(rig: Rig) -> None:
    rig.control.seed_items(rig.tenant, [
        {"Code": "CALLOUT", "Name": "Call-out fee", "SalesDetails": {"UnitPrice": "65.1234"}},
        {"Code": "NEWXERO", "Name": "Gutter clean", "Description": "Per house", "SalesDetails": {"UnitPrice": "120"}},
        {"Code": "BOUGHT", "Name": "Bought only", "IsSold": False},
    ])
    callout = rig.add_product("Call out", "callout", "60.00")
    boiler = rig.add_product("Annual boiler service", "", "189.00")
    rig.add_product("Annual boiler service (large)", "", "239.50")
    bought = rig.add_product("Bought only", "", "5")  # no code: the unsold Xero item of that name is it

    result = rig.sync(sync_clients=False, sync_invoices=False)

    assert result.of("items", "linked") == 2 and result.of("items", "created") == 3, result.counts
    products = {p.name: p for p in rig.products()}
    # Linked by code: the first link keeps each side's values and lists the differences.
    assert (str(products["Call out"].id), products["Call out"].unit_price) == (callout, Decimal("60.00"))
    [linked] = [r for r in result.rows("linked") if r.host_id == callout]
    assert {d["field"]: (d["host"], d["xero"]) for d in linked.details["differences"]} == {
        "name": ("Call out", "Call-out fee"), "unit_price": ("60.0000", "65.1234")}
    assert products["Gutter clean"].code == "NEWXERO"
    assert products["Annual boiler service"].code == "ANNUAL-BOILER-SERVICE"
    assert len(products["Annual boiler service (large)"].code) <= 30
    codes = sorted(item["Code"] for item in rig.items())
    assert codes == sorted(["CALLOUT", "NEWXERO", "BOUGHT", "ANNUAL-BOILER-SERVICE",
                            products["Annual boiler service (large)"].code])
    assert (str(products["Bought only"].id), products["Bought only"].code) == (bought, "BOUGHT"), \
        "linked by name, its empty code filled from Xero"
    pushed = [i for i in rig.items() if i["Code"] == "ANNUAL-BOILER-SERVICE"][0]
    assert Decimal(str(pushed["SalesDetails"]["UnitPrice"])) == Decimal("189.00")
    assert str(products["Annual boiler service"].id) == boiler
    assert rig.sync(sync_clients=False, sync_invoices=False).changes() == 0


def test_generated_codes_stay_unique_with_a_numeric_suffix(rig: Rig) -> None:
    rig.add_product("Hourly rate", "", "1")
    rig.add_product("Hourly  rate!", "", "2")
    rig.sync(sync_clients=False, sync_invoices=False)
    assert sorted(item["Code"] for item in rig.items()) == ["HOURLY-RATE", "HOURLY-RATE-2"]


def test_a_code_used_by_another_xero_item_waits_for_review_and_the_same_item_is_linked(rig: Rig) -> None:
    rig.control.seed_items(rig.tenant, [
        {"Code": "PIPE15", "Name": "Copper pipe 15mm", "IsSold": False},
        {"Code": "ALARM", "Name": "Smoke alarm", "IsSold": False},
    ])
    other = rig.add_product("Pipe fitting kit", "PIPE15", "12.50")
    same = rig.add_product("smoke  alarm", "ALARM", "49.90")

    result = rig.sync(sync_clients=False, sync_invoices=False)

    [review] = [row for row in result.rows("needs_review") if row.host_id]
    assert review.host_id == other
    assert "PIPE15" in review.message and "Copper pipe 15mm" in review.message
    [linked] = result.rows("linked")
    assert linked.host_id == same
    pipe = [i for i in rig.items() if i["Code"] == "PIPE15"][0]
    assert pipe["Name"] == "Copper pipe 15mm"  # never overwritten
    assert len(rig.items()) == 2
