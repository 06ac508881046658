from __future__ import annotations

from typing import Any

from .conftest import World

PHONE_TYPES = ["DEFAULT", "DDI", "FAX", "MOBILE"]


def _phones(contact: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {p["PhoneType"]: {k: v for k, v in p.items() if k != "PhoneType"} for p in contact["Phones"]}


def test_every_phone_type_is_returned_with_empty_strings_when_unset(world: World) -> None:
    created = world.api.put("Contacts", {"Contacts": [{"Name": "No Phones Ltd"}]}).json()["Contacts"][0]
    assert [p["PhoneType"] for p in created["Phones"]] == PHONE_TYPES
    assert all(list(p) == ["PhoneType", "PhoneNumber", "PhoneAreaCode", "PhoneCountryCode"] for p in created["Phones"])
    assert all(p["PhoneNumber"] == p["PhoneAreaCode"] == p["PhoneCountryCode"] == "" for p in created["Phones"])


def test_phone_parts_are_stored_exactly_as_sent_and_replaced_per_type(world: World) -> None:
    sent = [
        {"PhoneType": "MOBILE", "PhoneNumber": " 021 555 0199 ", "PhoneCountryCode": "+64"},
        {"PhoneType": "DEFAULT", "PhoneNumber": "555-0142", "PhoneAreaCode": "(09)", "PhoneCountryCode": "64"},
    ]
    contact = world.api.put("Contacts", {"Contacts": [{"Name": "Phone Co", "Phones": sent}]}).json()["Contacts"][0]
    phones = _phones(contact)
    assert [p["PhoneType"] for p in contact["Phones"]] == PHONE_TYPES
    assert phones["MOBILE"] == {"PhoneNumber": " 021 555 0199 ", "PhoneAreaCode": "", "PhoneCountryCode": "+64"}
    assert phones["DEFAULT"] == {"PhoneNumber": "555-0142", "PhoneAreaCode": "(09)", "PhoneCountryCode": "64"}
    assert phones["DDI"] == phones["FAX"] == {"PhoneNumber": "", "PhoneAreaCode": "", "PhoneCountryCode": ""}

    updated = world.api.post(f"Contacts/{contact['ContactID']}", {"Contacts": [{"Phones": [
        {"PhoneType": "DEFAULT", "PhoneNumber": "555 0100"},
    ]}]}).json()["Contacts"][0]
    assert _phones(updated)["DEFAULT"] == {"PhoneNumber": "555 0100", "PhoneAreaCode": "", "PhoneCountryCode": ""}
    assert _phones(updated)["MOBILE"] == phones["MOBILE"]
    fetched = world.api.get(f"Contacts/{contact['ContactID']}").json()["Contacts"][0]
    assert fetched["Phones"] == updated["Phones"]


def test_phone_lengths_are_validated_on_the_phone_and_the_contact(world: World) -> None:
    too_long = {"PhoneType": "DEFAULT", "PhoneNumber": "1" * 51, "PhoneAreaCode": "1" * 11,
                "PhoneCountryCode": "1" * 21}
    response = world.api.put("Contacts", params={"summarizeErrors": "false"}, json={"Contacts": [
        {"Name": "Long Phone Ltd", "Phones": [too_long]},
        {"Name": "Exact Phone Ltd", "Phones": [{"PhoneType": "DDI", "PhoneNumber": "1" * 50,
                                               "PhoneAreaCode": "1" * 10, "PhoneCountryCode": "1" * 20}]},
    ]})
    assert response.status_code == 200
    rejected, accepted = response.json()["Contacts"]
    expected = [
        "PhoneNumber must not be more than 50 characters long.",
        "PhoneAreaCode must not be more than 10 characters long.",
        "PhoneCountryCode must not be more than 20 characters long.",
    ]
    assert rejected["StatusAttributeString"] == "ERROR" and rejected["HasValidationErrors"] is True
    assert [e["Message"] for e in rejected["ValidationErrors"]] == expected
    assert [e["Message"] for e in rejected["Phones"][0]["ValidationErrors"]] == expected
    assert accepted["StatusAttributeString"] == "OK"
    assert _phones(accepted)["DDI"]["PhoneNumber"] == "1" * 50


def test_phone_type_must_be_known(world: World) -> None:
    response = world.api.put("Contacts", {"Contacts": [{"Name": "Odd Phone", "Phones": [
        {"PhoneType": "PAGER", "PhoneNumber": "1"}, {"PhoneNumber": "2"}]}]})
    assert response.status_code == 400
    messages = [e["Message"] for e in response.json()["Elements"][0]["ValidationErrors"]]
    assert messages == ["PhoneType 'PAGER' is not valid; use DEFAULT, DDI, MOBILE, FAX or OFFICE.",
                        "A PhoneType must be specified for each phone."]
    office = world.api.put("Contacts", {"Contacts": [{"Name": "Office Phone", "Phones": [
        {"PhoneType": "OFFICE", "PhoneNumber": "3"}]}]}).json()["Contacts"][0]
    assert [p["PhoneType"] for p in office["Phones"]] == [*PHONE_TYPES, "OFFICE"]


def test_person_in_xero_edits_phones_with_the_same_rules(world: World) -> None:
    [contact] = world.control.seed_contacts(world.tenant_id, [{"Name": "Seeded", "Phones": [
        {"PhoneType": "MOBILE", "PhoneNumber": "027 123", "PhoneCountryCode": "64"}]}])
    assert _phones(contact)["MOBILE"]["PhoneNumber"] == "027 123"
    edited = world.control.edit_contact(world.tenant_id, contact["ContactID"],
                                        Phones=[{"PhoneType": "FAX", "PhoneNumber": "09 555"}])
    assert _phones(edited)["FAX"]["PhoneNumber"] == "09 555" and _phones(edited)["MOBILE"]["PhoneNumber"] == "027 123"
