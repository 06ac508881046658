"""Resolving "needs review" clients: link to the chosen Xero contact, or create as new."""

from __future__ import annotations

import pytest

from flask_xerosync.errors import XeroSyncError
from flask_xerosync.models import RecordResult
from flask_xerosync.services import review
from flask_xerosync.state import current_state
from tests.sync.conftest import Rig


def _resolve(rig: Rig, record_id: int, action: str, *args: str) -> None:
    with rig.app.app_context():
        record = current_state().db.session.get(RecordResult, record_id)
        assert record is not None
        getattr(review, action)(current_state(), record, *args)


def test_link_one_to_the_chosen_contact_and_create_the_other_as_new(rig: Rig) -> None:
    [contact] = rig.seed_contacts({"Name": "Acme Services", "EmailAddress": "", "Phones": [
        {"PhoneType": "DEFAULT", "PhoneNumber": "09 111"}]})
    first = rig.add_client("Acme Services", "one@acme.example")
    second = rig.add_client("Acme  Services", "two@acme.example")
    result = rig.sync(sync_items=False, sync_invoices=False)
    rows = {r.host_id: r for r in result.rows("needs_review")}
    assert [c["xero_id"] for c in review.candidates_of(rows[first])] == [contact["ContactID"]]

    _resolve(rig, rows[first].id, "link_to_contact", contact["ContactID"])

    [link] = rig.links("client")
    assert (link.host_id, link.xero_id) == (first, contact["ContactID"])
    assert rig.contact_named("Acme Services")["EmailAddress"] == "one@acme.example"  # filled from here
    with pytest.raises(XeroSyncError, match="already called"):
        _resolve(rig, rows[second].id, "create_new")
    rig.edit_client(second, name="Acme Widgets")
    _resolve(rig, rows[second].id, "create_new")
    assert sorted(c["Name"] for c in rig.contacts()) == ["Acme Services", "Acme Widgets"]
    with pytest.raises(XeroSyncError, match="already resolved"):
        _resolve(rig, rows[second].id, "create_new")
    assert rig.sync(sync_items=False, sync_invoices=False).changes() == 0


def test_a_xero_contact_whose_match_is_taken_can_be_created_here(rig: Rig) -> None:
    rig.seed_contacts(  # the name match comes first, but the e-mail match is the stronger rule
        {"Name": "Kauri Builders Ltd", "EmailAddress": ""},
        {"Name": "Kauri Builders", "EmailAddress": "office@kauri.example"},
    )
    rig.add_client("Kauri Builders Ltd", "office@kauri.example")
    result = rig.sync(sync_items=False, sync_invoices=False)
    [row] = result.rows("needs_review")
    assert row.direction == "to_host" and review.candidates_of(row) == []
    with pytest.raises(XeroSyncError):
        _resolve(rig, row.id, "link_to_contact", "anything")

    _resolve(rig, row.id, "create_new")

    assert sorted(c.name for c in rig.clients()) == ["Kauri Builders", "Kauri Builders Ltd"]
    assert len(rig.links("client")) == 2
