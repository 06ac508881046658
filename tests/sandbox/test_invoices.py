from __future__ import annotations

import re
from typing import Any

import requests

from .conftest import World

PAYMENT_LOCK = "This document cannot be edited as it has a payment or credit note allocated to it."
BAD_STATUS = "Invoice not of valid status for modification"


def _contact(world: World, name: str = "Customer Ltd") -> str:
    return world.control.seed_contacts(world.tenant_id, [{"Name": name}])[0]["ContactID"]


def _invoice(world: World, contact_id: str, lines: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    body = {"Invoices": [{"Type": "ACCREC", "Contact": {"ContactID": contact_id}, "LineItems": lines, **fields}]}
    response = world.api.put("Invoices", body)
    assert response.status_code == 200, response.text
    return response.json()["Invoices"][0]


def _errors(response: requests.Response) -> list[str]:
    assert response.status_code == 400, response.text
    return [m["Message"] for e in response.json()["Elements"] for m in e["ValidationErrors"]]


def test_totals_tax_per_line_rounded_half_up(world: World) -> None:
    contact = _contact(world)
    invoice = _invoice(world, contact, [
        {"Description": "A", "Quantity": 1, "UnitAmount": 10.03, "AccountCode": "200"},
        {"Description": "B", "Quantity": 3, "UnitAmount": 0.333, "AccountCode": "200"},
    ], Total=999)
    lines = invoice["LineItems"]
    assert lines[0]["TaxAmount"] == 1.50  # 10.03 * 15% = 1.5045 -> 1.50
    assert lines[1]["UnitAmount"] == 0.33 and lines[1]["LineAmount"] == 0.99
    assert lines[1]["TaxAmount"] == 0.15  # 0.1485 -> 0.15 (half-up)
    assert lines[0]["TaxType"] == "OUTPUT2", "defaults from the account's tax type"
    assert invoice["SubTotal"] == 11.02 and invoice["TotalTax"] == 1.65 and invoice["Total"] == 12.67
    assert invoice["AmountDue"] == 12.67 and invoice["AmountPaid"] == 0
    assert invoice["LineAmountTypes"] == "Exclusive" and invoice["Status"] == "DRAFT"
    assert invoice["InvoiceNumber"] == "INV-0001"
    assert re.match(r"^/Date\(\d+\+0000\)/$", invoice["Date"]) and invoice["DateString"].endswith("T00:00:00")


def test_inclusive_and_no_tax_and_discount(world: World) -> None:
    contact = _contact(world)
    inclusive = _invoice(world, contact, [{"Description": "Inc", "Quantity": 1, "UnitAmount": 115}],
                         LineAmountTypes="Inclusive")
    assert inclusive["TotalTax"] == 15 and inclusive["SubTotal"] == 100 and inclusive["Total"] == 115
    notax = _invoice(world, contact, [{"Description": "No", "Quantity": 2, "UnitAmount": 50, "TaxType": "OUTPUT2"}],
                     LineAmountTypes="NoTax")
    assert notax["TotalTax"] == 0 and notax["Total"] == 100 and notax["LineItems"][0]["TaxType"] == "NONE"
    discounted = _invoice(world, contact, [{"Description": "D", "Quantity": 2, "UnitAmount": 50, "DiscountRate": 10}])
    assert discounted["LineItems"][0]["LineAmount"] == 90 and discounted["Total"] == 103.5
    assert discounted["IsDiscounted"] is True
    dates = _invoice(world, contact, [{"Description": "x"}], Date="2026-03-01", DueDate="2026-03-31")
    assert dates["DateString"] == "2026-03-01T00:00:00" and dates["DueDateString"] == "2026-03-31T00:00:00"


def test_invoice_number_rules(world: World) -> None:
    contact = _contact(world)
    first = _invoice(world, contact, [{"Description": "x"}])
    second = _invoice(world, contact, [{"Description": "x"}], InvoiceNumber="HOST-42")
    third = _invoice(world, contact, [{"Description": "x"}])
    assert (first["InvoiceNumber"], second["InvoiceNumber"], third["InvoiceNumber"]) == ("INV-0001", "HOST-42",
                                                                                         "INV-0002")
    dup = world.api.put("Invoices", {"Invoices": [{"Type": "ACCREC", "Contact": {"ContactID": contact},
                                                   "InvoiceNumber": "HOST-42", "LineItems": [{"Description": "x"}]}]})
    assert _errors(dup) == ["Invoice # must be unique."]
    upsert = world.api.post("Invoices", {"Invoices": [{"Type": "ACCREC", "InvoiceNumber": "HOST-42",
                                                       "Reference": "again"}]})
    assert upsert.json()["Invoices"][0]["InvoiceID"] == second["InvoiceID"]
    bill = _invoice(world, contact, [{"Description": "x"}], Type="ACCPAY", InvoiceNumber="HOST-42")
    assert bill["Type"] == "ACCPAY"
    numbers = world.api.get("Invoices", params={"InvoiceNumbers": "HOST-42,INV-0002"}).json()["Invoices"]
    assert len(numbers) == 3
    assert world.api.get("Invoices/HOST-42").json()["Invoices"][0]["InvoiceID"] == second["InvoiceID"]


def test_contact_identification_and_name_pitfall(world: World) -> None:
    contact = _contact(world, "Original Name")
    missing = world.api.put("Invoices", {"Invoices": [{"Type": "ACCREC", "Contact": {},
                                                       "LineItems": [{"Description": "x"}]}]})
    assert _errors(missing) == ["The Contact must contain at least 1 of the following elements to identify the "
                                "contact: Name, ContactID, ContactNumber"]
    unknown = world.api.put("Invoices", {"Invoices": [{"Type": "ACCREC", "Contact": {
        "ContactID": "11111111-1111-1111-1111-111111111111"}, "LineItems": [{"Description": "x"}]}]})
    assert len(_errors(unknown)) == 1
    _invoice(world, contact, [{"Description": "x"}], Contact={"ContactID": contact, "Name": "Overwritten Name"})
    renamed = world.api.get(f"Contacts/{contact}").json()["Contacts"][0]
    assert renamed["Name"] == "Overwritten Name", "sending Name with ContactID renames the contact"
    assert renamed["IsCustomer"] is True
    by_name = _invoice(world, contact, [{"Description": "x"}], Contact={"Name": "overwritten name"})
    assert by_name["Contact"]["ContactID"] == contact
    new = _invoice(world, contact, [{"Description": "x"}], Contact={"Name": "Brand New Customer"})
    assert new["Contact"]["ContactID"] != contact
    bad_type = world.api.put("Invoices", {"Invoices": [{"Type": "ACCRECCREDIT", "Contact": {"ContactID": contact},
                                                        "LineItems": [{"Description": "x"}]}]})
    assert bad_type.status_code == 400


def test_line_validation_messages(world: World) -> None:
    contact = _contact(world)
    world.control.seed_items(world.tenant_id, [{"Code": "CALLOUT", "Name": "Call-out", "Description": "Call-out fee",
                                                "SalesDetails": {"UnitPrice": "65", "AccountCode": "200",
                                                                 "TaxType": "OUTPUT2"}}])
    response = world.api.put("Invoices", {"Invoices": [
        {"Type": "ACCREC", "Contact": {"ContactID": contact}, "LineItems": [{"ItemCode": "NOPE"}]},
        {"Type": "ACCREC", "Contact": {"ContactID": contact}, "LineItems": [{"Description": "x", "TaxType": "GST"}]},
        {"Type": "ACCREC", "Contact": {"ContactID": contact}, "Status": "AUTHORISED",
         "LineItems": [{"Description": "x", "UnitAmount": 5}]},
        {"Type": "ACCREC", "Contact": {"ContactID": contact}, "LineItems": []},
        {"Type": "ACCREC", "Contact": {"ContactID": contact}, "LineItems": [{"ItemCode": "CALLOUT"}]},
        {"Type": "ACCREC", "Contact": {"ContactID": contact}, "Status": "PAID", "LineItems": [{"Description": "x"}]},
    ]}, params={"summarizeErrors": "false"})
    elements = response.json()["Invoices"]
    messages = [[m["Message"] for m in e.get("ValidationErrors", [])] for e in elements]
    assert messages[0] == ["Item code 'NOPE' is not valid"]
    assert messages[1] == ["The TaxType code 'GST' is not valid."]
    assert len(messages[2]) == 1 and "Account Code" in messages[2][0]
    assert len(messages[3]) == 1
    assert elements[4]["StatusAttributeString"] == "OK"
    line = elements[4]["LineItems"][0]
    assert (line["UnitAmount"], line["AccountCode"], line["Description"], line["Item"]["Code"]) == (
        65, "200", "Call-out fee", "CALLOUT")
    assert elements[5]["StatusAttributeString"] == "ERROR"


def test_status_transitions(world: World) -> None:
    contact = _contact(world)
    line = [{"Description": "x", "Quantity": 1, "UnitAmount": 10, "AccountCode": "200"}]
    inv = _invoice(world, contact, line)
    url = f"Invoices/{inv['InvoiceID']}"
    assert world.api.post(url, {"Invoices": [{"Status": "SUBMITTED"}]}).json()["Invoices"][0]["Status"] == "SUBMITTED"
    assert world.api.post(url, {"Invoices": [{"Status": "DRAFT"}]}).json()["Invoices"][0]["Status"] == "DRAFT"
    assert world.api.post(url, {"Invoices": [{"Status": "AUTHORISED"}]}).json()["Invoices"][0]["Status"] == "AUTHORISED"
    assert _errors(world.api.post(url, {"Invoices": [{"Status": "DRAFT"}]})) == [BAD_STATUS]
    assert _errors(world.api.post(url, {"Invoices": [{"Status": "DELETED"}]})) == [BAD_STATUS]
    assert world.api.post(url, {"Invoices": [{"Status": "VOIDED"}]}).json()["Invoices"][0]["Status"] == "VOIDED"
    assert _errors(world.api.post(url, {"Invoices": [{"Reference": "late"}]})) == [BAD_STATUS]
    draft = _invoice(world, contact, line)
    deleted = world.api.post(f"Invoices/{draft['InvoiceID']}", {"Invoices": [{"Status": "DELETED"}]})
    assert deleted.json()["Invoices"][0]["Status"] == "DELETED"
    assert _errors(world.api.post(f"Invoices/{draft['InvoiceID']}", {"Invoices": [{"Status": "DRAFT"}]})) == [BAD_STATUS]


def test_payment_locks_invoice_and_paid_status(world: World) -> None:
    contact = _contact(world)
    inv = _invoice(world, contact, [{"Description": "x", "Quantity": 1, "UnitAmount": 100, "AccountCode": "200"}],
                   Status="AUTHORISED")
    part = world.control.add_payment(world.tenant_id, inv["InvoiceID"], amount="15.00", date="2026-01-02")
    assert part["AmountPaid"] == 15 and part["AmountDue"] == 100 and part["Status"] == "AUTHORISED"
    url = f"Invoices/{inv['InvoiceID']}"
    assert _errors(world.api.post(url, {"Invoices": [{"Reference": "edit"}]})) == [PAYMENT_LOCK]
    assert _errors(world.api.post(url, {"Invoices": [{"Status": "VOIDED"}]})) == [PAYMENT_LOCK]
    paid = world.control.add_payment(world.tenant_id, inv["InvoiceID"])
    assert paid["Status"] == "PAID" and paid["AmountDue"] == 0 and paid["FullyPaidOnDate"]
    fetched = world.api.get(url).json()["Invoices"][0]
    assert fetched["Status"] == "PAID" and len(fetched["Payments"]) == 2
    other = _invoice(world, contact, [{"Description": "x", "Quantity": 1, "UnitAmount": 5, "AccountCode": "200"}],
                     Status="AUTHORISED")
    assert world.control.void_invoice(world.tenant_id, other["InvoiceID"])["Status"] == "VOIDED"


def test_update_replaces_line_items(world: World) -> None:
    contact = _contact(world)
    inv = _invoice(world, contact, [
        {"Description": "Keep", "Quantity": 1, "UnitAmount": 10},
        {"Description": "Drop", "Quantity": 1, "UnitAmount": 20},
    ])
    keep_id = inv["LineItems"][0]["LineItemID"]
    updated = world.api.post(f"Invoices/{inv['InvoiceID']}", {"Invoices": [{"LineItems": [
        {"LineItemID": keep_id, "Quantity": 2},
        {"Description": "New", "Quantity": 1, "UnitAmount": 5},
    ]}]}).json()["Invoices"][0]
    lines = updated["LineItems"]
    assert [line["Description"] for line in lines] == ["Keep", "New"]
    assert lines[0]["LineItemID"] == keep_id and lines[0]["LineAmount"] == 20
    assert updated["SubTotal"] == 25 and updated["Total"] == 28.75
    untouched = world.api.post(f"Invoices/{inv['InvoiceID']}", {"Invoices": [{"Reference": "R"}]}).json()["Invoices"][0]
    assert [line["LineItemID"] for line in untouched["LineItems"]] == [line["LineItemID"] for line in lines]


def test_reading_invoices(world: World) -> None:
    contact = _contact(world)
    other = _contact(world, "Other")
    for i in range(5):
        _invoice(world, contact if i % 2 else other, [{"Description": f"L{i}", "UnitAmount": 10, "AccountCode": "200"}],
                 Reference=f"REF-{i}", Status="DRAFT" if i < 3 else "SUBMITTED")
    unpaged = world.api.get("Invoices").json()
    assert "pagination" not in unpaged and all("LineItems" not in i for i in unpaged["Invoices"])
    paged = world.api.get("Invoices", params={"page": 1, "pageSize": 2}).json()
    assert paged["pagination"] == {"page": 1, "pageSize": 2, "pageCount": 3, "itemCount": 5}
    assert all(len(i["LineItems"]) == 1 for i in paged["Invoices"])
    assert len(world.api.get("Invoices", params={"Statuses": "SUBMITTED"}).json()["Invoices"]) == 2
    assert len(world.api.get("Invoices", params={"ContactIDs": contact}).json()["Invoices"]) == 2
    assert len(world.api.get("Invoices", params={"searchTerm": "ref-4"}).json()["Invoices"]) == 1
    assert len(world.api.get("Invoices", params={"where": 'Status=="DRAFT" && Type=="ACCREC"'}).json()["Invoices"]) == 3
    where_contact = world.api.get("Invoices", params={"where": f'Contact.ContactID==guid("{contact}")'})
    assert len(where_contact.json()["Invoices"]) == 2
    ordered = world.api.get("Invoices", params={"order": "InvoiceNumber DESC"}).json()["Invoices"]
    assert ordered[0]["InvoiceNumber"] == "INV-0005"
    summary = world.api.get("Invoices", params={"summaryOnly": "true", "page": 1}).json()["Invoices"][0]
    assert "LineItems" not in summary


def test_invoice_ui_page_escapes_data(world: World) -> None:
    contact = _contact(world, "<script>alert(1)</script> & Co")
    inv = _invoice(world, contact, [{"Description": "<b>bold</b>", "UnitAmount": 1}])
    page = requests.get(f"{world.base}/AccountsReceivable/View.aspx", params={"InvoiceID": inv["InvoiceID"]}, timeout=5)
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text
    assert "&lt;b&gt;bold&lt;/b&gt;" in page.text and inv["InvoiceNumber"] in page.text
    assert requests.get(f"{world.base}/AccountsReceivable/View.aspx", params={"InvoiceID": "nope"},
                        timeout=5).status_code == 404
