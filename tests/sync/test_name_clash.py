"""A new client whose name Xero already holds: looked up, linked when it is the same client.

The Xero contact is stamped before the last sync's mark, so the incremental pull does not see it
(as with one created in Xero while that sync ran): only the push meets it, through Xero's
"already assigned to another contact" refusal.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.sync.conftest import Rig

BEFORE_THE_MARK = "2020-01-01T00:00:00Z"


def _after_a_first_sync(rig: Rig) -> None:
    rig.seed_contacts({"Name": "Harbour Master", "EmailAddress": "hm@port.example", "IsCustomer": True})
    rig.add_client("Quay Cafe", "cafe@quay.example")
    rig.sync(sync_items=False, sync_invoices=False)


def _unseen_contact(rig: Rig, **fields: Any) -> dict[str, Any]:
    return rig.seed_contacts({**fields, "UpdatedDateUTC": BEFORE_THE_MARK})[0]


def test_same_email_links_the_new_client_and_fills_the_gaps_on_both_sides(rig: Rig) -> None:
    _after_a_first_sync(rig)
    contact = _unseen_contact(rig, Name="Lighthouse Diner", EmailAddress="Diner@Light.example", FirstName="Lena")
    client_id = rig.add_client("lighthouse diner", "diner@light.example", phone="09 555 0300")

    result = rig.sync(sync_items=False, sync_invoices=False)

    assert result.of("clients", "linked") == 1 and result.of("clients", "failed") == 0
    [row] = result.rows("linked")
    assert row.host_id == client_id and row.xero_id == contact["ContactID"]
    assert row.details["rule"] == "email" and row.details["losing"]["name"] == "lighthouse diner"
    assert [c["ContactID"] for c in rig.contacts() if c["Name"].casefold() == "lighthouse diner"] == [
        contact["ContactID"]]
    assert [str(c.id) for c in rig.clients() if c.name.casefold() == "lighthouse diner"] == [client_id]
    [link] = [link for link in rig.links("client") if link.host_id == client_id]
    assert link.xero_id == contact["ContactID"]
    host = rig.client_named("Lighthouse Diner")  # Xero wins: its name; each side fills the other's gaps
    assert host.first_name == "Lena" and host.phone == "09 555 0300"
    xero = rig.contact_named("Lighthouse Diner")
    assert [p["PhoneNumber"] for p in xero["Phones"] if p["PhoneType"] == "DEFAULT"] == ["09 555 0300"]
    again = rig.sync(sync_items=False, sync_invoices=False)
    assert again.changes() == 0, again.counts


def test_a_client_without_email_links_on_the_name_alone(rig: Rig) -> None:
    _after_a_first_sync(rig)
    contact = _unseen_contact(rig, Name="Tide Tables Ltd", EmailAddress="tides@x.example")
    client_id = rig.add_client("TIDE TABLES LTD")

    result = rig.sync(sync_items=False, sync_invoices=False, conflict_policy="host_wins")

    [row] = result.rows("linked")
    assert row.host_id == client_id and row.details["rule"] == "name"
    assert rig.client_named("TIDE TABLES LTD").email == "tides@x.example"  # host wins, Xero fills the gap
    assert rig.contact_named("TIDE TABLES LTD")["ContactID"] == contact["ContactID"]
    assert len(rig.contacts()) == 3 and len(rig.clients()) == 3


@pytest.mark.parametrize("host_email", ["diner@elsewhere.example", "diner@light.example"])
def test_a_different_or_missing_xero_email_fails_with_the_fix_and_creates_nothing(
    rig: Rig, host_email: str
) -> None:
    _after_a_first_sync(rig)
    xero_email = "" if host_email == "diner@light.example" else "diner@light.example"
    contact = _unseen_contact(rig, Name="Lighthouse Diner", EmailAddress=xero_email)
    client_id = rig.add_client("Lighthouse Diner", host_email)
    contacts_before = rig.contacts()

    result = rig.sync(sync_items=False, sync_invoices=False)

    [failed] = result.rows("failed")
    assert failed.host_id == client_id
    assert "is already assigned to another contact" in failed.message
    assert failed.fix.startswith("A different Xero contact is already called Lighthouse Diner.")
    assert failed.details["not_linked"]
    assert result.of("clients", "linked") == 0 and result.of("clients", "created") == 0
    assert rig.contacts() == contacts_before
    assert rig.contact_named("Lighthouse Diner")["ContactID"] == contact["ContactID"]
    assert [link.host_id for link in rig.links("client")].count(client_id) == 0
    assert len(rig.clients()) == 3
