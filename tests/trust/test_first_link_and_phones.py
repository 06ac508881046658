"""The first link merges and never overwrites; later edits follow the conflict policy with the
losing value logged; phones go to Xero's three fields and come back unchanged."""

from __future__ import annotations

import phonenumbers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flask_xerosync.models import Side
from flask_xerosync.sync import decisions
from flask_xerosync.sync.scope import Scope
from flask_xerosync.sync.store import SyncStore

from .promises import links
from .world import ACCOUNT, World


def phone(area: str, number: str, country: str = "64") -> list[dict[str, str]]:
    return [{"PhoneType": "DEFAULT", "PhoneNumber": number, "PhoneAreaCode": area, "PhoneCountryCode": country}]


def greenleaf() -> tuple[World, str, str]:
    world = World()
    world.connect(world.add_org("Harbour NZ"))
    client = world.host.add_client(name="Greenleaf Landscaping", phone="09 555 0101", email="hello@greenleaf.example")
    (contact,) = world.seed_contacts({"Name": "greenleaf  landscaping", "Phones": phone("07", "555 0190")})
    return world, str(client.id), contact["ContactID"]


def test_the_first_link_fills_gaps_keeps_both_values_and_lists_the_differences() -> None:
    world, host_id, contact_id = greenleaf()
    result = world.sync()
    client = world.host.clients[ACCOUNT][host_id]
    assert (client.name, client.phone) == ("Greenleaf Landscaping", "09 555 0101")
    contact = world.control.contacts(world.tenant)[0]
    assert contact["Name"] == "greenleaf  landscaping"
    assert contact["EmailAddress"] == "hello@greenleaf.example"
    (linked,) = result.rows("linked")
    differences = {d["field"]: (d["host"], d["xero"]) for d in linked.details["differences"]}
    assert differences == {"name": ("Greenleaf Landscaping", "greenleaf landscaping"),
                           "phone": ("09 555 0101", "07 555 0190")}
    assert [(c["field"], c["side"], c["old"], c["new"]) for c in linked.details["changes"]] == [
        ("email", "xero", "", "hello@greenleaf.example")]
    quiet = world.sync()
    assert not [r for r in quiet.records if r.outcome != "unchanged"]


def test_one_click_takes_xero_s_values_or_this_app_s() -> None:
    world, host_id, contact_id = greenleaf()
    world.sync()
    store, scope = SyncStore(world.session), Scope(ACCOUNT, world.tenant)
    decisions.settle_differences(store, scope, host_id, "use_xero")
    world.session.commit()
    result = world.sync()
    client = world.host.clients[ACCOUNT][host_id]
    assert (client.name, client.phone) == ("greenleaf landscaping", "07 555 0190")
    (updated,) = result.rows("updated")
    assert {(c["field"], c["old"], c["new"]) for c in updated.details["changes"]} == {
        ("name", "Greenleaf Landscaping", "greenleaf landscaping"), ("phone", "09 555 0101", "07 555 0190")}

    world, host_id, contact_id = greenleaf()
    world.sync()
    store, scope = SyncStore(world.session), Scope(ACCOUNT, world.tenant)
    decisions.settle_differences(store, scope, host_id, "use_host")
    world.session.commit()
    world.sync()
    contact = world.control.contacts(world.tenant)[0]
    default = next(p for p in contact["Phones"] if p["PhoneType"] == "DEFAULT")
    assert contact["Name"] == "Greenleaf Landscaping"
    assert (default["PhoneCountryCode"], default["PhoneAreaCode"], default["PhoneNumber"]) == ("64", "9", "555 0101")
    assert not [r for r in world.sync().records if r.outcome != "unchanged"]


def test_later_edits_follow_the_policy_and_the_losing_value_is_logged() -> None:
    for policy, winner in (("xero_wins", "xero@greenleaf.example"), ("host_wins", "here@greenleaf.example")):
        world, host_id, contact_id = greenleaf()
        world.sync()
        world.host.edit_client(host_id, email="here@greenleaf.example", phone="09 555 0199")
        world.control.edit_contact(world.tenant, contact_id, EmailAddress="xero@greenleaf.example")
        result = world.sync(conflict_policy=policy)
        client = world.host.clients[ACCOUNT][host_id]
        contact = world.control.contacts(world.tenant)[0]
        assert client.email == contact["EmailAddress"] == winner
        default = next(p for p in contact["Phones"] if p["PhoneType"] == "DEFAULT")
        assert default["PhoneNumber"] == "555 0199", "a field changed on one side only flows to the other"
        assert client.name == "Greenleaf Landscaping", "a difference kept at the first link stays"
        (updated,) = result.rows("updated")
        lost = [c for c in updated.details["changes"] if c["lost"]]
        assert [(c["field"], c["old"], c["new"]) for c in lost] == [
            ("email", *( ("here@greenleaf.example", winner) if policy == "xero_wins"
                        else ("xero@greenleaf.example", winner)))]


def test_switching_organisation_starts_fresh() -> None:
    world, host_id, contact_id = greenleaf()
    world.sync()
    second = world.add_org("Harbour AU", country="AU")
    world.connect(second)
    assert not links(world)
    result = world.sync()
    assert [r.label for r in result.rows("created")] == ["Greenleaf Landscaping"]
    contact = world.control.contacts(second)[0]
    assert contact["ContactNumber"] == host_id
    default = next(p for p in contact["Phones"] if p["PhoneType"] == "DEFAULT")
    parts = (default["PhoneCountryCode"], default["PhoneAreaCode"], default["PhoneNumber"])
    assert parts == ("", "", "09 555 0101"), "not a valid number in an Australian organisation: kept as typed"


REGIONS = ("NZ", "AU", "GB", "US")
FORMATS = (phonenumbers.PhoneNumberFormat.NATIONAL, phonenumbers.PhoneNumberFormat.INTERNATIONAL,
           phonenumbers.PhoneNumberFormat.E164)


@st.composite
def typed_phones(draw: st.DrawFn) -> str:
    """Phones as people type them: example numbers of several countries in several formats, with
    punctuation, and text that is not a phone at all."""
    if draw(st.integers(0, 5)) == 0:
        return draw(st.sampled_from(("ext 5 ask for Jo", "555 0101", "call reception", "0")))
    region = draw(st.sampled_from(REGIONS))
    kind = draw(st.sampled_from((phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE)))
    number = phonenumbers.example_number_for_type(region, kind)
    text = phonenumbers.format_number(number, draw(st.sampled_from(FORMATS)))
    if draw(st.booleans()):
        text = text.replace(" ", "-")
    return text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(typed=st.lists(typed_phones(), min_size=1, max_size=6), country=st.sampled_from(("NZ", "AU")))
def test_a_host_phone_pushed_and_read_back_is_unchanged(typed: list[str], country: str) -> None:
    world = World()
    world.connect(world.add_org("Org", country=country))
    ids = [str(world.host.add_client(name=f"Client {n}", phone=text).id) for n, text in enumerate(typed)]
    world.sync()
    world.sync()
    assert [world.host.clients[ACCOUNT][i].phone for i in ids] == typed
    contacts = {c["ContactNumber"]: c for c in world.contacts()}
    for host_id, text in zip(ids, typed):
        default = next(p for p in contacts[host_id]["Phones"] if p["PhoneType"] == "DEFAULT")
        parts = (default["PhoneCountryCode"], default["PhoneAreaCode"], default["PhoneNumber"])
        try:
            parsed = phonenumbers.parse(text, country)
            valid = phonenumbers.is_valid_number(parsed)
        except phonenumbers.NumberParseException:
            valid = False
        if valid:
            assert parts[0] == str(parsed.country_code), (text, parts)
        else:
            assert parts == ("", "", text), "a phone that is not a valid number is kept as typed"
    world.control.edit_contact(world.tenant, world.contacts()[0]["ContactID"], Name="Renamed in Xero")
    world.sync()
    assert [world.host.clients[ACCOUNT][i].phone for i in ids] == typed, "an edit in Xero leaves phones alone"
