from __future__ import annotations

from .conftest import World


def test_items_create_unique_code_and_no_paging(world: World) -> None:
    response = world.api.put("Items", {"Items": [
        {"Code": "LAB-HR", "Name": "Labour", "Description": "Labour per hour",
         "SalesDetails": {"UnitPrice": 95.125, "AccountCode": "200", "TaxType": "OUTPUT2"}},
    ]})
    assert response.status_code == 200, response.text
    [item] = response.json()["Items"]
    assert item["SalesDetails"]["UnitPrice"] == 95.13, "rounded to 2 dp without unitdp=4"
    assert item["IsSold"] is True and item["IsPurchased"] is True
    dup = world.api.put("Items", {"Items": [{"Code": "LAB-HR", "Name": "Again"}]})
    assert dup.status_code == 400
    assert dup.json()["Elements"][0]["ValidationErrors"] == [{"Message": "Price List Item with Code 'LAB-HR' already exists"}]
    world.control.seed_items(world.tenant_id, [{"Code": f"C{i}", "Name": f"Item {i}"} for i in range(150)])
    listing = world.api.get("Items", params={"page": 1, "pageSize": 10}).json()
    assert "pagination" not in listing and len(listing["Items"]) == 151


def test_item_validation(world: World) -> None:
    response = world.api.put("Items", {"Items": [
        {"Name": "No code"},
        {"Code": "X" * 31, "Name": "Long code"},
        {"Code": "LONGNAME", "Name": "N" * 51},
        {"Code": "BADTAX", "SalesDetails": {"TaxType": "GST on Income"}},
    ]}, params={"summarizeErrors": "false"})
    elements = response.json()["Items"]
    assert [e["StatusAttributeString"] for e in elements] == ["ERROR"] * 4
    assert elements[3]["ValidationErrors"] == [{"Message": "The TaxType code 'GST on Income' is not valid."}]


def test_unitdp4_round_trip(world: World) -> None:
    world.api.put("Items", {"Items": [{"Code": "P4", "SalesDetails": {"UnitPrice": 1.23456}}]},
                  params={"unitdp": "4"})
    assert world.api.get("Items/P4", params={"unitdp": "4"}).json()["Items"][0]["SalesDetails"]["UnitPrice"] == 1.2346
    assert world.api.get("Items/P4").json()["Items"][0]["SalesDetails"]["UnitPrice"] == 1.23


def test_is_sold_false_nulls_sales_fields_and_upsert_by_code(world: World) -> None:
    world.api.put("Items", {"Items": [{"Code": "GUT", "Name": "Gutter", "Description": "Clean",
                                       "SalesDetails": {"UnitPrice": 140}}]})
    updated = world.api.post("Items", {"Items": [{"Code": "GUT", "IsSold": False}]}).json()["Items"][0]
    assert updated["IsSold"] is False
    assert "Description" not in updated and updated["SalesDetails"] == {}
    assert len(world.api.get("Items").json()["Items"]) == 1
    assert [i["Code"] for i in world.api.get("Items", params={"where": "IsSold==true"}).json()["Items"]] == []


def test_update_by_id_and_delete(world: World) -> None:
    [item] = world.api.put("Items", {"Items": [{"Code": "DEL", "Name": "Delete me"}]}).json()["Items"]
    renamed = world.api.post(f"Items/{item['ItemID']}", {"Items": [{"Name": "Renamed"}]}).json()["Items"][0]
    assert renamed["Name"] == "Renamed" and renamed["ItemID"] == item["ItemID"]
    assert world.api.request("DELETE", f"Items/{item['ItemID']}").status_code == 204
    assert world.api.get(f"Items/{item['ItemID']}").status_code == 404
    assert world.api.request("DELETE", f"Items/{item['ItemID']}").status_code == 404
    person = world.control.seed_items(world.tenant_id, [{"Code": "P", "Name": "P"}])[0]
    assert world.control.edit_item(world.tenant_id, person["ItemID"], Name="Edited")["Name"] == "Edited"
