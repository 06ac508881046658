"""A new client whose name Xero already holds: the create-only PUT is refused, the contact is read
into what the sync knows, and the match rules decide — linked when it is the same client.

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
    assert row.details["rule"] == "email"
    assert [(d["field"], d["host"], d["xero"]) for d in row.details["differences"]] == [
        ("name", "lighthouse diner", "Lighthouse Diner")]
    assert [c["ContactID"] for c in rig.contacts() if c["Name"].casefold() == "lighthouse diner"] == [
        contact["ContactID"]]
    [link] = [link for link in rig.links("client") if link.host_id == client_id]
    assert link.xero_id == contact["ContactID"]
    host = rig.client_named("lighthouse diner")  # each side keeps its name and fills the other's gaps
    assert host.first_name == "Lena" and host.phone == "09 555 0300"
    xero = rig.contact_named("Lighthouse Diner")
    assert [(p["PhoneAreaCode"], p["PhoneNumber"]) for p in xero["Phones"] if p["PhoneType"] == "DEFAULT"] == [
        ("9", "555 0300")]
    again = rig.sync(sync_items=False, sync_invoices=False)
    assert again.changes() == 0, again.counts


def test_a_client_without_email_links_on_the_name_alone(rig: Rig) -> None:
    _after_a_first_sync(rig)
    contact = _unseen_contact(rig, Name="Tide Tables Ltd", EmailAddress="tides@x.example")
    client_id = rig.add_client("TIDE TABLES LTD")

    result = rig.sync(sync_items=False, sync_invoices=False, conflict_policy="host_wins")

    [row] = result.rows("linked")
    assert row.host_id == client_id and row.details["rule"] == "name"
    assert rig.client_named("TIDE TABLES LTD").email == "tides@x.example"  # the gap filled from Xero
    assert rig.contact_named("Tide Tables Ltd")["ContactID"] == contact["ContactID"]
    assert len(rig.contacts()) == 3 and len(rig.clients()) == 3


def test_a_different_xero_email_waits_for_review_and_creates_nothing(rig: Rig) -> None:
    _after_a_first_sync(rig)
    contact = _unseen_contact(rig, Name="Lighthouse Diner", EmailAddress="diner@light.example")
    client_id = rig.add_client("Lighthouse Diner", "diner@elsewhere.example")
    contacts_before = rig.contacts()

    result = rig.sync(sync_items=False, sync_invoices=False)

    [review] = result.rows("needs_review")
    assert review.xero_id == contact["ContactID"]
    assert [c["id"] for c in review.details["candidates"]] == [client_id]
    assert "different e-mail" in review.message
    assert result.of("clients", "linked") == 0 and result.of("clients", "created") == 0
    assert rig.contacts() == contacts_before
    assert [link.host_id for link in rig.links("client")].count(client_id) == 0
    assert len(rig.clients()) == 3


def test_a_xero_contact_without_email_links_on_the_name(rig: Rig) -> None:
    _after_a_first_sync(rig)
    contact = _unseen_contact(rig, Name="Lighthouse Diner", EmailAddress="")
    client_id = rig.add_client("Lighthouse Diner", "diner@light.example")

    result = rig.sync(sync_items=False, sync_invoices=False)

    [row] = result.rows("linked")
    assert (row.host_id, row.xero_id, row.details["rule"]) == (client_id, contact["ContactID"], "name")
    assert rig.contact_named("Lighthouse Diner")["EmailAddress"] == "diner@light.example"
    assert len(rig.contacts()) == 3
