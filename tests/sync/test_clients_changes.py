"""Later syncs: echo suppression, edits on either side, conflicts under each policy, archiving."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sync.conftest import Rig


def _first_sync(rig: Rig) -> tuple[str, dict[str, Any]]:
    contact = rig.seed_contacts({"Name": "Harbour Master", "EmailAddress": "hm@port.example", "IsCustomer": True})[0]
    client_id = rig.add_client("Quay Cafe", "cafe@quay.example", phone="09 555 0199")
    rig.sync(sync_items=False, sync_invoices=False)
    return client_id, contact


def test_a_second_run_right_after_the_first_changes_nothing_in_three_calls(rig: Rig) -> None:
    _first_sync(rig)
    rig.add_product("Labour", "LAB", "95.00")
    rig.sync(sync_invoices=False)

    again = rig.sync()

    assert again.changes() == 0, again.counts
    assert again.rows() == []
    assert again.calls <= 3
    assert again.events[-1].stage == "done" and again.events[-1].api_calls <= 3


def test_an_edit_in_xero_flows_to_the_host_and_an_edit_here_flows_to_xero(rig: Rig) -> None:
    client_id, contact = _first_sync(rig)
    rig.control.edit_contact(rig.tenant, contact["ContactID"], EmailAddress="master@port.example")
    rig.edit_client(client_id, phone="09 555 0200")

    result = rig.sync(sync_items=False, sync_invoices=False)

    assert result.of("clients", "updated") == 2
    assert rig.client_named("Harbour Master").email == "master@port.example"
    cafe = rig.contact_named("Quay Cafe")
    assert [(p["PhoneCountryCode"], p["PhoneAreaCode"], p["PhoneNumber"]) for p in cafe["Phones"]
            if p["PhoneType"] == "DEFAULT"] == [("64", "9", "555 0200")]
    assert rig.client_named("Quay Cafe").phone == "09 555 0200", "the phone typed here is kept as typed"
    directions = sorted(r.direction for r in result.rows("updated"))
    assert directions == ["to_host", "to_xero"]
    assert rig.sync(sync_items=False, sync_invoices=False).changes() == 0


@pytest.mark.parametrize("policy", ["xero_wins", "host_wins"])
def test_both_sides_changed_the_policy_decides_and_the_losing_values_are_kept(rig: Rig, policy: str) -> None:
    rig.preferences["conflict_policy"] = policy
    client_id, _ = _first_sync(rig)
    cafe = rig.contact_named("Quay Cafe")
    rig.control.edit_contact(rig.tenant, cafe["ContactID"], EmailAddress="xero@quay.example")
    rig.edit_client(client_id, email="host@quay.example")

    result = rig.sync(sync_items=False, sync_invoices=False)

    [row] = result.rows("updated")
    winner, loser = ("xero@quay.example", "host@quay.example")
    if policy == "host_wins":
        winner, loser = loser, winner
    [lost] = [change for change in row.details["changes"] if change["lost"]]
    assert (lost["field"], lost["old"], lost["new"]) == ("email", loser, winner)
    assert "Changed here and in Xero" in row.message
    assert rig.client_named("Quay Cafe").email == winner
    assert rig.contact_named("Quay Cafe")["EmailAddress"] == winner
    assert rig.sync(sync_items=False, sync_invoices=False).changes() == 0


def test_archiving_in_xero_archives_the_host_client_and_archiving_here_archives_in_xero(rig: Rig) -> None:
    client_id, contact = _first_sync(rig)
    rig.control.archive_contact(rig.tenant, contact["ContactID"])
    rig.edit_client(client_id, archived=True)

    rig.sync(sync_items=False, sync_invoices=False)

    assert rig.client_named("Harbour Master").archived is True
    assert rig.contact_named("Quay Cafe")["ContactStatus"] == "ARCHIVED"
    assert len(rig.contacts()) == 2 and len(rig.clients()) == 2


def test_new_records_on_both_sides_after_the_first_sync(rig: Rig) -> None:
    _first_sync(rig)
    rig.seed_contacts({"Name": "Late Arrival", "EmailAddress": "late@x.example"})
    rig.add_client("Fresh Client", "fresh@x.example")
    rig.add_client("harbour master", "other@port.example")  # same name as a linked contact

    result = rig.sync(sync_items=False, sync_invoices=False)

    assert result.of("clients", "created") == 2
    [review] = result.rows("needs_review")
    assert review.label == "harbour master"
    assert sorted(c["Name"] for c in rig.contacts()) == ["Fresh Client", "Harbour Master", "Late Arrival", "Quay Cafe"]


def test_renaming_a_client_to_the_name_of_another_xero_contact_fails_with_a_fix(rig: Rig) -> None:
    client_id, _ = _first_sync(rig)
    rig.edit_client(client_id, name="harbour master")

    result = rig.sync(sync_items=False, sync_invoices=False)

    [failed] = result.rows("failed")
    assert failed.host_id == client_id
    assert "is already assigned to another contact" in failed.message
    assert failed.fix.startswith("A different Xero contact is already called harbour master.")
    assert sorted(c["Name"] for c in rig.contacts()) == ["Harbour Master", "Quay Cafe"]
