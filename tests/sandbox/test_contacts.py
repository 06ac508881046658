from __future__ import annotations

import re
from datetime import datetime, timezone
from email.utils import format_datetime

from .conftest import World

MS_DATE = re.compile(r"^/Date\(\d+\+0000\)/$")
TAKEN = ("The contact name {} is already assigned to another contact. "
         "The contact name must be unique across all active contacts.")


def test_create_and_read_contact_in_xero_shape(world: World) -> None:
    response = world.api.put("Contacts", {"Contacts": [{"Name": "Jane Doe Ltd", "EmailAddress": "jane@x.example",
                                                        "ContactNumber": "HOST-1", "IsCustomer": True}]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["Status"] == "OK" and body["ProviderName"] == "Test App"
    assert re.match(r"^/Date\(\d+\)/$", body["DateTimeUTC"])
    [contact] = body["Contacts"]
    assert contact["ContactStatus"] == "ACTIVE"
    assert contact["IsCustomer"] is False, "IsCustomer is read-only"
    assert MS_DATE.match(contact["UpdatedDateUTC"])
    assert {a["AddressType"] for a in contact["Addresses"]} == {"POBOX", "STREET"}
    by_number = world.api.get("Contacts/HOST-1").json()["Contacts"][0]
    by_id = world.api.get(f"Contacts/{contact['ContactID']}").json()["Contacts"][0]
    assert by_number["ContactID"] == by_id["ContactID"] == contact["ContactID"]
    assert world.api.get("Contacts/00000000-0000-0000-0000-000000000000").status_code == 404


def test_duplicate_active_name_is_rejected_case_and_space_insensitively(world: World) -> None:
    world.api.put("Contacts", {"Contacts": [{"Name": "Buzz Lightyear"}]})
    response = world.api.put("Contacts", {"Contacts": [{"Name": "  buzz lightyear "}]})
    assert response.status_code == 400
    body = response.json()
    assert body["ErrorNumber"] == 10 and body["Type"] == "ValidationException"
    assert body["Message"] == "A validation exception occurred"
    [element] = body["Elements"]
    assert element["HasValidationErrors"] is True
    assert element["ValidationErrors"] == [{"Message": TAKEN.format("  buzz lightyear ")}]


def test_archived_names_can_be_reused_and_archived_hidden(world: World) -> None:
    created = world.api.put("Contacts", {"Contacts": [{"Name": "Old Co"}]}).json()["Contacts"][0]
    archived = world.api.post("Contacts", {"Contacts": [{"ContactID": created["ContactID"],
                                                         "ContactStatus": "ARCHIVED"}]})
    assert archived.json()["Contacts"][0]["ContactStatus"] == "ARCHIVED"
    assert world.api.put("Contacts", {"Contacts": [{"Name": "Old Co"}]}).status_code == 200
    assert len(world.api.get("Contacts").json()["Contacts"]) == 1
    assert len(world.api.get("Contacts", params={"includeArchived": "true"}).json()["Contacts"]) == 2
    unarchive = world.api.post(f"Contacts/{created['ContactID']}", {"Contacts": [{"ContactStatus": "ACTIVE"}]})
    assert unarchive.status_code == 400
    assert unarchive.json()["Elements"][0]["ValidationErrors"][0]["Message"] == TAKEN.format("Old Co")
    assert world.api.request("DELETE", f"Contacts/{created['ContactID']}").status_code == 405


def test_post_upserts_by_id_then_number_then_name(world: World) -> None:
    first = world.api.put("Contacts", {"Contacts": [{"Name": "Alpha", "ContactNumber": "N-1"}]}).json()["Contacts"][0]
    by_number = world.api.post("Contacts", {"Contacts": [{"ContactNumber": "N-1", "Name": "Alpha Renamed"}]})
    assert by_number.json()["Contacts"][0]["ContactID"] == first["ContactID"]
    by_name = world.api.post("Contacts", {"Contacts": [{"Name": "alpha renamed", "EmailAddress": "a@x.example"}]})
    contact = by_name.json()["Contacts"][0]
    assert contact["ContactID"] == first["ContactID"]
    assert contact["EmailAddress"] == "a@x.example" and contact["Name"] == "alpha renamed"
    missing = world.api.post("Contacts", {"Contacts": [{"ContactID": "11111111-1111-1111-1111-111111111111",
                                                        "Name": "Ghost"}]})
    assert missing.status_code == 400
    assert len(world.control.contacts(world.tenant_id)) == 1


def test_put_rejects_contact_id_and_validates_lengths(world: World) -> None:
    response = world.api.put("Contacts", {"Contacts": [
        {"ContactID": "11111111-1111-1111-1111-111111111111", "Name": "X"},
        {"Name": "N" * 256},
        {"Name": "Ok", "ContactNumber": "C" * 51},
        {"EmailAddress": "nameless@x.example"},
    ]}, params={"summarizeErrors": "false"})
    assert response.status_code == 200
    statuses = [c["StatusAttributeString"] for c in response.json()["Contacts"]]
    assert statuses == ["ERROR"] * 4
    assert "must not be more than 255" in response.json()["Contacts"][1]["ValidationErrors"][0]["Message"]


def test_summarize_errors_false_and_default(world: World) -> None:
    world.api.put("Contacts", {"Contacts": [{"Name": "Taken"}]})
    batch = {"Contacts": [{"Name": "Good One"}, {"Name": "Taken"}, {"Name": "Good Two"}]}
    response = world.api.put("Contacts", batch, params={"summarizeErrors": "false"})
    assert response.status_code == 200
    elements = response.json()["Contacts"]
    assert [e["StatusAttributeString"] for e in elements] == ["OK", "ERROR", "OK"]
    assert elements[0]["ContactID"]
    assert elements[1]["ValidationErrors"] == [{"Message": TAKEN.format("Taken")}]

    summarised = world.api.put("Contacts", {"Contacts": [{"Name": "Good Three"}, {"Name": "Taken"}]})
    assert summarised.status_code == 400
    assert [e["Name"] for e in summarised.json()["Elements"]] == ["Taken"]
    names = {c["Name"] for c in world.control.contacts(world.tenant_id)}
    assert "Good Three" in names, "valid elements of a failed batch are still created (Xero behaviour)"


def test_paging(world: World) -> None:
    world.control.seed_contacts(world.tenant_id, [{"Name": f"Contact {i:03d}"} for i in range(250)])
    first = world.api.get("Contacts", params={"page": 1}).json()
    assert first["pagination"] == {"page": 1, "pageSize": 100, "pageCount": 3, "itemCount": 250}
    assert len(first["Contacts"]) == 100
    last = world.api.get("Contacts", params={"page": 3, "pageSize": 100}).json()
    assert len(last["Contacts"]) == 50
    big = world.api.get("Contacts", params={"page": 1, "pageSize": 5000}).json()
    assert big["pagination"]["pageSize"] == 1000 and len(big["Contacts"]) == 250
    beyond = world.api.get("Contacts", params={"page": 9}).json()
    assert beyond["Contacts"] == [] and beyond["pagination"]["page"] == 9
    unpaged = world.api.get("Contacts").json()
    assert "pagination" not in unpaged and len(unpaged["Contacts"]) == 250
    seen = [c["ContactID"] for p in (1, 2, 3) for c in world.api.get("Contacts", params={"page": p}).json()["Contacts"]]
    assert len(set(seen)) == 250


def test_if_modified_since(world: World) -> None:
    world.control.seed_contacts(world.tenant_id, [{"Name": "Before"}])
    world.control.advance_clock(10)
    since = datetime.fromisoformat(world.control.now())
    world.control.advance_clock(2)
    world.api.put("Contacts", {"Contacts": [{"Name": "After"}]})
    rfc = format_datetime(since.astimezone(timezone.utc), usegmt=True)
    for header in (rfc, since.strftime("%Y-%m-%dT%H:%M:%S")):
        names = [c["Name"] for c in world.api.get("Contacts", headers={"If-Modified-Since": header}).json()["Contacts"]]
        assert names == ["After"]
    before = world.control.contacts(world.tenant_id)[0]
    edited = world.control.edit_contact(world.tenant_id, before["ContactID"], EmailAddress="new@x.example")
    assert edited["UpdatedDateUTC"] != before["UpdatedDateUTC"]
    names = {c["Name"] for c in world.api.get("Contacts", headers={"If-Modified-Since": rfc}).json()["Contacts"]}
    assert names == {"Before", "After"}


def test_where_order_search_ids_summary(world: World) -> None:
    seeded = world.control.seed_contacts(world.tenant_id, [
        {"Name": "Charlie", "EmailAddress": "c@x.example", "ContactNumber": "C-3"},
        {"Name": "alpha", "EmailAddress": "a@x.example", "IsSupplier": True},
        {"Name": "Bravo", "EmailAddress": "b@x.example", "ContactStatus": "ARCHIVED"},
    ])
    get = lambda **params: world.api.get("Contacts", params=params)  # noqa: E731
    names = lambda r: [c["Name"] for c in r.json()["Contacts"]]  # noqa: E731
    assert names(get(where='Name=="charlie"')) == ["Charlie"]
    assert names(get(where='IsSupplier==true')) == ["alpha"]
    assert names(get(where='ContactStatus=="ACTIVE" && EmailAddress!="a@x.example"')) == ["Charlie"]
    assert names(get(where='ContactNumber=="C-3" AND Name.StartsWith("Ch")')) == ["Charlie"]
    assert names(get(order="Name ASC", includeArchived="true")) == ["alpha", "Bravo", "Charlie"]
    assert names(get(order="Name DESC")) == ["Charlie", "alpha"]
    assert names(get(searchTerm="A@X")) == ["alpha"]
    assert names(get(IDs=f"{seeded[0]['ContactID']},{seeded[1]['ContactID']}")) == ["Charlie", "alpha"]
    summary = get(summaryOnly="true").json()["Contacts"][0]
    assert "Addresses" not in summary and "Name" in summary
    for bad in ('Name=="a" || Name=="b"', "Name > 3", 'Nope=="x"', "(Name==\"a\")", 'IsSupplier=="true"'):
        response = get(where=bad)
        assert response.status_code == 400, bad
        assert response.json()["Type"] == "QueryParseException"
    assert get(order="Name SIDEWAYS").status_code == 400
    assert get(order="Bogus ASC").status_code == 400


def test_person_in_xero_can_archive_and_edit(world: World) -> None:
    [contact] = world.control.seed_contacts(world.tenant_id, [{"Name": "Edit Me"}])
    archived = world.control.archive_contact(world.tenant_id, contact["ContactID"])
    assert archived["ContactStatus"] == "ARCHIVED"
    assert world.control.unarchive_contact(world.tenant_id, contact["ContactID"])["ContactStatus"] == "ACTIVE"
    renamed = world.control.edit_contact(world.tenant_id, contact["ContactID"], Name="Edited")
    assert renamed["Name"] == "Edited"


def test_where_string_literals_decode_only_escaped_quotes_and_backslashes(world: World) -> None:
    world.control.seed_contacts(world.tenant_id, [
        {"Name": 'José "Joe" Müller'}, {"Name": "Back\\Slash Ltd"}, {"Name": "Line\\nBreak Co"}, {"Name": "Jose Joe"},
    ])
    get = lambda where: world.api.get("Contacts", params={"where": where})  # noqa: E731
    names = lambda r: [c["Name"] for c in r.json()["Contacts"]]  # noqa: E731
    assert names(get('Name=="José \\"Joe\\" Müller"')) == ['José "Joe" Müller']
    assert names(get('Name=="josé \\"joe\\" müller"')) == ['José "Joe" Müller']
    assert names(get('Name.StartsWith("José \\"Jo")')) == ['José "Joe" Müller']
    assert names(get('Name=="Back\\\\Slash Ltd"')) == ["Back\\Slash Ltd"]
    assert names(get('Name.Contains("k\\\\S")')) == ["Back\\Slash Ltd"]
    assert names(get('Name=="Line\\nBreak Co"')) == ["Line\\nBreak Co"], "other escapes are kept as written"


def test_contacts_can_be_ordered_by_contact_id(world: World) -> None:
    ids = [f"00000000-0000-4000-8000-00000000000{n}" for n in (3, 1, 2)]
    world.control.seed_contacts(world.tenant_id, [{"ContactID": i, "Name": f"Id {i[-1]}"} for i in ids])
    world.control.edit_contact(world.tenant_id, ids[1], Name="Id 1 edited")
    response = world.api.get("Contacts", params={"order": "ContactID ASC", "page": 1, "pageSize": 2})
    assert [c["ContactID"] for c in response.json()["Contacts"]] == sorted(ids)[:2]
    assert response.json()["pagination"]["pageCount"] == 2
