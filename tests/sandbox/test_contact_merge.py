"""A person in Xero merges two contacts."""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime

import pytest

from flask_xerosync.sandbox import SandboxError

from .conftest import World
from .webhook_receiver import Receiver


def _setup(world: World) -> tuple[str, str, str]:
    duplicate, kept = world.control.seed_contacts(world.tenant_id, [
        {"Name": "Harbour Cafe (old)", "ContactNumber": "HOST-7"}, {"Name": "Harbour Cafe"}])
    invoice = world.api.put("Invoices", {"Invoices": [{
        "Type": "ACCREC", "Contact": {"ContactID": duplicate["ContactID"]}, "Status": "AUTHORISED",
        "LineItems": [{"Description": "Coffee machine service", "UnitAmount": 120, "AccountCode": "200"}],
    }]}).json()["Invoices"][0]
    return duplicate["ContactID"], kept["ContactID"], invoice["InvoiceID"]


def test_merged_contact_is_archived_and_points_at_the_kept_one(world: World) -> None:
    duplicate, kept, invoice = _setup(world)
    world.control.advance_clock(2)
    since = format_datetime(datetime.fromisoformat(world.control.now()), usegmt=True)
    result = world.control.merge_contacts(world.tenant_id, "HOST-7", kept)
    assert result["merged"]["ContactStatus"] == "ARCHIVED" and result["merged"]["MergedToContactID"] == kept
    assert result["into"]["ContactID"] == kept and result["into"]["IsCustomer"] is True

    def merged_in(params: dict[str, str]) -> dict[str, object]:
        contacts = world.api.get("Contacts", params=params).json()["Contacts"]
        return next(c for c in contacts if c["ContactID"] == duplicate)

    assert "MergedToContactID" not in merged_in({"includeArchived": "true"})
    assert merged_in({"includeArchived": "true", "page": "1"})["MergedToContactID"] == kept
    assert all(c["ContactID"] != duplicate for c in world.api.get("Contacts", params={"page": 1}).json()["Contacts"])
    for ref in (duplicate, "HOST-7"):
        assert world.api.get(f"Contacts/{ref}").json()["Contacts"][0]["MergedToContactID"] == kept
    [moved] = world.api.get("Invoices", headers={"If-Modified-Since": since}).json()["Invoices"]
    assert moved["InvoiceID"] == invoice and moved["Contact"]["ContactID"] == kept
    reused = world.api.put("Contacts", {"Contacts": [{"Name": "Harbour Cafe (old)"}]})
    assert reused.status_code == 200, "the merged contact is archived, so its name is free again"


def test_merge_rules(world: World) -> None:
    duplicate, kept, _ = _setup(world)
    with pytest.raises(SandboxError) as itself:
        world.control.merge_contacts(world.tenant_id, kept, kept)
    assert itself.value.status == 400 and itself.value.body["error"] == "A contact cannot be merged into itself."
    world.control.merge_contacts(world.tenant_id, duplicate, kept)
    with pytest.raises(SandboxError) as twice:
        world.control.merge_contacts(world.tenant_id, duplicate, kept)
    assert twice.value.body["error"] == "This contact has already been merged into another contact."
    [archived] = world.control.seed_contacts(world.tenant_id, [{"Name": "Gone", "ContactStatus": "ARCHIVED"}])
    with pytest.raises(SandboxError) as into_archived:
        world.control.merge_contacts(world.tenant_id, kept, archived["ContactID"])
    assert into_archived.value.body["error"] == "Contacts can only be merged into an active contact."
    with pytest.raises(SandboxError) as unknown:
        world.control.merge_contacts(world.tenant_id, kept, "00000000-0000-0000-0000-000000000000")
    assert unknown.value.status == 404


def test_merge_sends_contact_and_invoice_updates(subscribed: World, receiver: Receiver) -> None:
    duplicate, kept, invoice = _setup(subscribed)
    subscribed.control.flush_webhooks()
    already = len(receiver.events())
    subscribed.control.merge_contacts(subscribed.tenant_id, duplicate, kept)
    subscribed.control.flush_webhooks()
    assert [(e["eventCategory"], e["eventType"], e["resourceId"]) for e in receiver.events()[already:]] == [
        ("CONTACT", "UPDATE", duplicate), ("CONTACT", "UPDATE", kept), ("INVOICE", "UPDATE", invoice)]
