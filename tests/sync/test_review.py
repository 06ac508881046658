"""Settling what needs a person: link to one of the records listed, create as new, leave out, or
take one side's values for the differences of a first link. The decision is kept and the next sync
carries it out (against the sandbox, through the run page's service)."""

from __future__ import annotations

import pytest

from flask_xerosync.errors import XeroSyncError
from flask_xerosync.models import RecordResult, Run
from flask_xerosync.services import review
from flask_xerosync.state import current_state
from tests.sync.conftest import Rig


def _decide(rig: Rig, record_id: int, action: str, target: str | None = None) -> str:
    with rig.app.app_context():
        session = current_state().db.session
        record = session.get(RecordResult, record_id)
        assert record is not None
        run = session.get(Run, record.run_id)
        assert run is not None
        if action in ("use_xero", "use_host"):
            return review.settle(session, run, record, action)
        return review.decide(session, run, record, action, target)


def test_link_one_to_the_chosen_contact_and_create_the_other_as_new(rig: Rig) -> None:
    [contact] = rig.seed_contacts({"Name": "Acme Services", "EmailAddress": "", "Phones": [
        {"PhoneType": "DEFAULT", "PhoneNumber": "555 0111", "PhoneAreaCode": "09", "PhoneCountryCode": "64"}]})
    first = rig.add_client("Acme Services", "one@acme.example")
    second = rig.add_client("Acme  Services", "two@acme.example")
    result = rig.sync(sync_items=False, sync_invoices=False)
    rows = {r.host_id: r for r in result.rows("needs_review") if r.host_id}
    assert [c["id"] for c in review.candidates_of(rows[first])] == [contact["ContactID"]]
    assert not rig.links("client") and len(rig.contacts()) == 1

    assert "linked" in _decide(rig, rows[first].id, "link", contact["ContactID"])
    rig.edit_client(second, name="Acme Widgets")
    with pytest.raises(XeroSyncError, match="one of the records listed"):
        _decide(rig, rows[second].id, "link", "not-a-candidate")
    _decide(rig, rows[second].id, "create")
    with pytest.raises(XeroSyncError, match="does not need a decision"):
        _decide(rig, rows[second].id, "create")

    after = rig.sync(sync_items=False, sync_invoices=False)

    links = {link.host_id: link.xero_id for link in rig.links("client")}
    assert links[first] == contact["ContactID"]
    assert rig.contact_named("Acme Services")["EmailAddress"] == "one@acme.example"  # filled from here
    assert rig.client_named("Acme Services").phone == "09 555 0111"  # filled from Xero
    assert sorted(c["Name"] for c in rig.contacts()) == ["Acme Services", "Acme Widgets"]
    assert after.of("clients", "needs_review") == 0
    assert rig.sync(sync_items=False, sync_invoices=False).changes() == 0


def test_a_contact_can_be_created_here_and_a_client_linked_by_choice(rig: Rig) -> None:
    ltd, plain = rig.seed_contacts(
        {"Name": "Kauri Builders Ltd", "EmailAddress": ""},
        {"Name": "Kauri Builders", "EmailAddress": "office@kauri.example"},
    )
    client_id = rig.add_client("Kauri Builders Ltd", "office@kauri.example")
    result = rig.sync(sync_items=False, sync_invoices=False)
    reviews = {(r.host_id or r.xero_id): r for r in result.rows("needs_review")}
    assert set(reviews) == {client_id, ltd["ContactID"], plain["ContactID"]}

    _decide(rig, reviews[client_id].id, "link", plain["ContactID"])
    _decide(rig, reviews[ltd["ContactID"]].id, "create")
    rig.sync(sync_items=False, sync_invoices=False)

    assert sorted(c.name for c in rig.clients()) == ["Kauri Builders Ltd", "Kauri Builders Ltd"]
    links = {link.xero_id: link.host_id for link in rig.links("client")}
    assert links[plain["ContactID"]] == client_id and ltd["ContactID"] in links
    assert rig.sync(sync_items=False, sync_invoices=False).changes() == 0


def test_leaving_out_and_taking_one_side_s_values(rig: Rig) -> None:
    rig.seed_contacts({"Name": "greenleaf  landscaping", "EmailAddress": "hello@greenleaf.example"},
                      {"Name": "Office Supplies Co", "IsSupplier": True, "IsCustomer": True,
                       "EmailAddress": "orders@office.example"})
    rig.add_client("Greenleaf Landscaping", "hello@greenleaf.example")
    rig.add_client("Office Supplies", "orders@office.example")
    rig.add_client("Office Supplies Co", "orders@office.example")
    result = rig.sync(sync_items=False, sync_invoices=False)
    [greenleaf] = [r for r in result.rows("linked") if r.label == "Greenleaf Landscaping"]
    [office] = [r for r in result.rows("needs_review") if r.xero_id]

    _decide(rig, greenleaf.id, "use_xero")
    _decide(rig, office.id, "leave_out")
    after = rig.sync(sync_items=False, sync_invoices=False)

    assert rig.client_named("greenleaf landscaping").email == "hello@greenleaf.example"
    assert [r.message for r in after.rows("skipped")] == ["Left out of the sync by your decision."]
    assert "Office Supplies Co" not in {c["Name"] for c in rig.contacts() if c.get("ContactNumber")}
