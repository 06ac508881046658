"""A person in Xero pays, voids and deletes invoices; the API and webhooks show it."""

from __future__ import annotations

import itertools
from datetime import datetime
from email.utils import format_datetime
from typing import Any

import pytest

from flask_xerosync.sandbox import SandboxError

from .conftest import World
from .webhook_receiver import Receiver

_NAMES = itertools.count(1)
LINE = {"Description": "Service", "Quantity": 1, "UnitAmount": 100, "AccountCode": "200"}


def _invoice(world: World, status: str = "AUTHORISED", **fields: Any) -> dict[str, Any]:
    contact = world.control.seed_contacts(world.tenant_id, [{"Name": f"Customer {next(_NAMES)}"}])[0]
    body = {"Invoices": [{"Type": "ACCREC", "Contact": {"ContactID": contact["ContactID"]}, "LineItems": [LINE],
                          "Status": status, **fields}]}
    response = world.api.put("Invoices", body)
    assert response.status_code == 200, response.text
    return response.json()["Invoices"][0]


def _since(world: World) -> str:
    return format_datetime(datetime.fromisoformat(world.control.now()), usegmt=True)


def _error(caught: pytest.ExceptionInfo[SandboxError]) -> str:
    assert caught.value.status == 400
    return str(caught.value.body["error"])


def test_part_payment_then_full_payment(world: World) -> None:
    invoice = _invoice(world)
    assert invoice["Total"] == 115 and invoice["Payments"] == [] and "FullyPaidOnDate" not in invoice
    world.control.advance_clock(5)
    part = world.control.add_payment(world.tenant_id, invoice["InvoiceNumber"], amount="15.50", date="2026-03-01",
                                     reference="Bank deposit")
    assert (part["Status"], part["AmountPaid"], part["AmountDue"]) == ("AUTHORISED", 15.5, 99.5)
    assert "FullyPaidOnDate" not in part
    [payment] = part["Payments"]
    assert payment["Amount"] == 15.5 and payment["Reference"] == "Bank deposit" and payment["PaymentID"]
    assert payment["Date"] == "/Date(1772323200000+0000)/"
    assert part["UpdatedDateUTC"] != invoice["UpdatedDateUTC"]

    paid = world.control.add_payment(world.tenant_id, invoice["InvoiceID"], date="2026-03-09")
    assert (paid["Status"], paid["AmountPaid"], paid["AmountDue"]) == ("PAID", 115, 0)
    assert paid["FullyPaidOnDate"] == "/Date(1773014400000+0000)/"
    assert [p["Amount"] for p in paid["Payments"]] == [15.5, 99.5] and "Reference" not in paid["Payments"][1]


def test_payment_rules(world: World) -> None:
    invoice = _invoice(world)
    draft = _invoice(world, "DRAFT")
    with pytest.raises(SandboxError) as over:
        world.control.add_payment(world.tenant_id, invoice["InvoiceID"], amount="115.01")
    assert _error(over) == "Payment amount exceeds the amount outstanding on this document."
    with pytest.raises(SandboxError) as not_approved:
        world.control.add_payment(world.tenant_id, draft["InvoiceID"], amount="1")
    assert _error(not_approved) == "Payments can only be made against Authorised documents"
    with pytest.raises(SandboxError) as zero:
        world.control.add_payment(world.tenant_id, invoice["InvoiceID"], amount="0")
    assert _error(zero) == "The payment amount must be greater than zero."
    with pytest.raises(SandboxError) as unknown:
        world.control.add_payment(world.tenant_id, "INV-9999")
    assert unknown.value.status == 404


def test_void_and_delete(world: World) -> None:
    approved, draft, submitted = _invoice(world), _invoice(world, "DRAFT"), _invoice(world, "SUBMITTED")
    with pytest.raises(SandboxError) as approved_delete:
        world.control.delete_invoice(world.tenant_id, approved["InvoiceID"])
    assert _error(approved_delete) == "Invoice not of valid status for modification"
    with pytest.raises(SandboxError) as draft_void:
        world.control.void_invoice(world.tenant_id, draft["InvoiceID"])
    assert _error(draft_void) == "Invoice not of valid status for modification"
    assert world.control.void_invoice(world.tenant_id, approved["InvoiceID"])["Status"] == "VOIDED"
    assert world.control.delete_invoice(world.tenant_id, draft["InvoiceID"])["Status"] == "DELETED"
    assert world.control.delete_invoice(world.tenant_id, submitted["InvoiceNumber"])["Status"] == "DELETED"
    paid = _invoice(world)
    world.control.add_payment(world.tenant_id, paid["InvoiceID"], amount="1")
    with pytest.raises(SandboxError) as paid_void:
        world.control.void_invoice(world.tenant_id, paid["InvoiceID"])
    assert _error(paid_void) == "This document cannot be edited as it has a payment or credit note allocated to it."


def test_reading_changes_made_in_xero(world: World) -> None:
    untouched = _invoice(world)
    paid, voided, draft = _invoice(world), _invoice(world), _invoice(world, "DRAFT")
    world.control.advance_clock(2)
    since = _since(world)
    world.control.add_payment(world.tenant_id, paid["InvoiceID"])
    world.control.void_invoice(world.tenant_id, voided["InvoiceID"])
    world.control.delete_invoice(world.tenant_id, draft["InvoiceID"])

    changed = world.api.get("Invoices", headers={"If-Modified-Since": since}, params={"page": 1}).json()
    assert [i["InvoiceID"] for i in changed["Invoices"]] == [paid["InvoiceID"], voided["InvoiceID"],
                                                             draft["InvoiceID"]]
    assert changed["pagination"]["itemCount"] == 3
    by_id = {i["InvoiceID"]: i for i in changed["Invoices"]}
    assert by_id[paid["InvoiceID"]]["Status"] == "PAID" and by_id[paid["InvoiceID"]]["AmountDue"] == 0
    assert by_id[paid["InvoiceID"]]["Payments"][0]["Amount"] == 115 and by_id[paid["InvoiceID"]]["FullyPaidOnDate"]
    assert by_id[paid["InvoiceID"]]["LineItems"][0]["Description"] == "Service"

    statuses = world.api.get("Invoices", params={"Statuses": "PAID,VOIDED"}).json()["Invoices"]
    assert {i["Status"] for i in statuses} == {"PAID", "VOIDED"} and len(statuses) == 2
    ids = world.api.get("Invoices", params={"IDs": f"{paid['InvoiceID']},{untouched['InvoiceID']}"}).json()
    assert {i["InvoiceID"] for i in ids["Invoices"]} == {paid["InvoiceID"], untouched["InvoiceID"]}
    numbers = world.api.get("Invoices", params={"InvoiceNumbers": f"{voided['InvoiceNumber']}"}).json()["Invoices"]
    assert [i["Status"] for i in numbers] == ["VOIDED"]
    page = world.api.get("Invoices", params={"page": 2, "pageSize": 3}).json()
    assert page["pagination"] == {"page": 2, "pageSize": 3, "pageCount": 2, "itemCount": 4}
    assert [i["InvoiceID"] for i in page["Invoices"]] == [draft["InvoiceID"]]
    unpaged = world.api.get("Invoices", params={"IDs": paid["InvoiceID"]}).json()["Invoices"][0]
    assert unpaged["AmountPaid"] == 115 and unpaged["Payments"] and "LineItems" not in unpaged


def test_changes_in_xero_send_invoice_update_webhooks(subscribed: World, receiver: Receiver) -> None:
    world = subscribed
    paid, voided, draft = _invoice(world), _invoice(world), _invoice(world, "DRAFT")
    world.control.flush_webhooks()
    first = len(receiver.events())
    world.control.add_payment(world.tenant_id, paid["InvoiceID"], amount="10")
    world.control.add_payment(world.tenant_id, paid["InvoiceID"])
    world.control.void_invoice(world.tenant_id, voided["InvoiceID"])
    world.control.delete_invoice(world.tenant_id, draft["InvoiceID"])
    world.control.flush_webhooks()
    events = receiver.events()[first:]
    assert [(e["eventCategory"], e["eventType"], e["resourceId"]) for e in events] == [
        ("INVOICE", "UPDATE", paid["InvoiceID"]),
        ("INVOICE", "UPDATE", paid["InvoiceID"]),
        ("INVOICE", "UPDATE", voided["InvoiceID"]),
        ("INVOICE", "UPDATE", draft["InvoiceID"]),
    ]
