"""``--seed demo``: a demo user with two organisations of realistic data and the demo app.

The first organisation deliberately collides with the example host app's demo clients so each of
the sync's match rules can be seen at work on the first sync:

- *Bright Spark Electrical Ltd* has the e-mail of the app's *Bright Spark Electrical* (e-mail rule;
  the names and phones differ and are both kept);
- *greenleaf  landscaping* has the name of *Greenleaf Landscaping* (name rule; its missing e-mail is
  filled from the app);
- *Summit Fitness* carries contact code ``7``, the app's id of *Summit Fitness Studio*, as if an
  earlier sync had created it and stopped before recording the link (contact-code rule);
- *Coastal Cafe Ltd* and *Coastal Café Group* share the e-mail of the app's *Coastal Cafe*: several
  candidates, so all three wait for review and nothing is created for them;
- *Office Supplies Co* is a supplier only and *Old Mill Joinery* is archived: both are skipped,
  saying why; the other contacts are new to the app and come in.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from . import contacts, invoices, items
from .invoice_actions import apply_payment
from .state import SandboxState

DEMO_CLIENT_ID = "xerosync-demo"
DEMO_CLIENT_SECRET = "xerosync-demo-secret"
DEMO_REDIRECT_URIS = (
    "http://127.0.0.1:5000/settings/accounting-sync/callback",
    "http://localhost:5000/settings/accounting-sync/callback",
)
DEMO_USER_EMAIL = "demo@sandbox.example"


def _address(line1: str, city: str, postcode: str, country: str = "New Zealand") -> list[dict[str, Any]]:
    return [
        {"AddressType": "STREET", "AddressLine1": line1, "City": city, "Region": "", "PostalCode": postcode,
         "Country": country},
        {"AddressType": "POBOX", "AddressLine1": line1, "City": city, "Region": "", "PostalCode": postcode,
         "Country": country},
    ]


def _phone(area: str, number: str, country: str = "64") -> list[dict[str, Any]]:
    return [{"PhoneType": "DEFAULT", "PhoneNumber": number, "PhoneAreaCode": area, "PhoneCountryCode": country}]


_NZ_CONTACTS: list[dict[str, Any]] = [
    {"Name": "Bright Spark Electrical Ltd", "EmailAddress": "accounts@brightspark.example",
     "FirstName": "Aroha", "LastName": "Ngata", "Addresses": _address("14 Volt Lane", "Auckland", "1010"),
     "Phones": _phone("09", "555 0142")},
    {"Name": "greenleaf  landscaping", "Addresses": _address("3 Fern Road", "Hamilton", "3204"),
     "Phones": _phone("07", "555 0190")},
    {"Name": "Coastal Cafe Ltd", "EmailAddress": "manager@coastalcafe.example",
     "Addresses": _address("1 Marine Parade", "Napier", "4110"), "Phones": _phone("06", "555 0111")},
    {"Name": "Coastal Café Group", "EmailAddress": "manager@coastalcafe.example",
     "Addresses": _address("88 Esplanade", "Nelson", "7010"), "Phones": _phone("03", "555 0188")},
    {"Name": "Office Supplies Co", "EmailAddress": "orders@officesupplies.example", "IsSupplier": True,
     "IsCustomer": False, "Addresses": _address("200 Industrial Drive", "Auckland", "2013"),
     "Phones": _phone("09", "555 0300")},
    {"Name": "Old Mill Joinery", "EmailAddress": "admin@oldmill.example", "ContactStatus": "ARCHIVED",
     "Addresses": _address("5 Mill Street", "Whanganui", "4500")},
    {"Name": "Tui Ridge Vineyard", "EmailAddress": "office@tuiridge.example", "FirstName": "Sam",
     "LastName": "Kerr", "Addresses": _address("412 State Highway 2", "Martinborough", "5711"),
     "Phones": _phone("06", "555 0420")},
    {"Name": "Kauri Street Dental", "EmailAddress": "reception@kauridental.example",
     "Addresses": _address("9 Kauri Street", "Whangarei", "0110"), "Phones": _phone("09", "555 0199")},
    {"Name": "Wharf Road Motors", "EmailAddress": "service@wharfmotors.example",
     "Addresses": _address("71 Wharf Road", "Tauranga", "3110"), "Phones": _phone("07", "555 0771")},
    {"Name": "Pohutukawa Property Trust", "EmailAddress": "trustee@pohutukawa.example",
     "Addresses": _address("22 Beach Road", "Paihia", "0200"), "Phones": _phone("09", "555 0222")},
    {"Name": "Riverside Physiotherapy", "EmailAddress": "hello@riversidephysio.example",
     "Addresses": _address("5 River Lane", "Christchurch", "8011"), "Phones": _phone("03", "555 0505")},
    {"Name": "Summit Fitness", "EmailAddress": "admin@summitfitness.example", "ContactNumber": "7",
     "Addresses": _address("77 Summit Drive", "Auckland", "1010"), "Phones": _phone("09", "555 0107")},
    {"Name": "Summit Builders Ltd", "EmailAddress": "jobs@summitbuilders.example", "ContactNumber": "SB-100",
     "Addresses": _address("60 Summit Road", "Queenstown", "9300"), "Phones": _phone("03", "555 0660")},
    {"Name": "Blue Cod Fish & Chips", "EmailAddress": "fryer@bluecod.example",
     "Addresses": _address("2 Harbour Street", "Bluff", "9814"), "Phones": _phone("03", "555 0202")},
    {"Name": "Matai Early Learning Centre", "EmailAddress": "centre@matai.example",
     "Addresses": _address("14 Matai Crescent", "Palmerston North", "4410"), "Phones": _phone("06", "555 0414")},
]

_NZ_ITEMS: list[dict[str, Any]] = [
    {"Code": "LAB-HR", "Name": "Labour (per hour)", "Description": "Qualified technician labour, per hour",
     "SalesDetails": {"UnitPrice": Decimal("95.00"), "AccountCode": "200", "TaxType": "OUTPUT2"},
     "IsPurchased": False},
    {"Code": "CALLOUT", "Name": "Call-out fee", "Description": "Standard call-out within city limits",
     "SalesDetails": {"UnitPrice": Decimal("65.00"), "AccountCode": "200", "TaxType": "OUTPUT2"},
     "IsPurchased": False},
    {"Code": "ELEC-INSP", "Name": "Electrical safety inspection", "Description": "Electrical WOF inspection",
     "SalesDetails": {"UnitPrice": Decimal("180.00"), "AccountCode": "200", "TaxType": "OUTPUT2"},
     "IsPurchased": False},
    {"Code": "GUTTER", "Name": "Gutter clean", "Description": "Gutter clean, single storey",
     "SalesDetails": {"UnitPrice": Decimal("140.00"), "AccountCode": "200", "TaxType": "OUTPUT2"},
     "IsPurchased": False},
    {"Code": "HWC-SERV", "Name": "Hot water cylinder service", "Description": "Service and flush",
     "SalesDetails": {"UnitPrice": Decimal("210.00"), "AccountCode": "200", "TaxType": "OUTPUT2"},
     "IsPurchased": False},
    {"Code": "MAT-SUNDRY", "Name": "Sundry materials", "Description": "Fixings, sealants and consumables",
     "SalesDetails": {"UnitPrice": Decimal("12.50"), "AccountCode": "200", "TaxType": "OUTPUT2"},
     "PurchaseDetails": {"UnitPrice": Decimal("8.00"), "AccountCode": "310", "TaxType": "INPUT2"}},
    {"Code": "PIPE-15MM", "Name": "15mm copper pipe (per m)", "IsSold": False,
     "PurchaseDescription": "15mm copper pipe, per metre",
     "PurchaseDetails": {"UnitPrice": Decimal("9.3750"), "AccountCode": "310", "TaxType": "INPUT2"}},
    {"Code": "FILTER-CART", "Name": "Filter cartridge", "IsSold": False,
     "PurchaseDescription": "Replacement water filter cartridge",
     "PurchaseDetails": {"UnitPrice": Decimal("22.00"), "AccountCode": "310", "TaxType": "INPUT2"}},
]

_AU_CONTACTS: list[dict[str, Any]] = [
    {"Name": "Harbour Bridge Strata", "EmailAddress": "strata@harbourbridge.example",
     "Addresses": _address("1 Bradfield Highway", "Sydney", "2000", "Australia"),
     "Phones": _phone("02", "5550 1000", "61")},
    {"Name": "Wattle Grove Aged Care", "EmailAddress": "facilities@wattlegrove.example",
     "Addresses": _address("40 Wattle Street", "Melbourne", "3000", "Australia"),
     "Phones": _phone("03", "5550 4000", "61")},
    {"Name": "Sunshine Coast Pools", "EmailAddress": "admin@scpools.example",
     "Addresses": _address("7 Ocean Drive", "Maroochydore", "4558", "Australia"),
     "Phones": _phone("07", "5550 7000", "61")},
]

_AU_ITEMS: list[dict[str, Any]] = [
    {"Code": "LAB-HR", "Name": "Labour (per hour)", "Description": "Technician labour, per hour",
     "SalesDetails": {"UnitPrice": Decimal("110.00"), "AccountCode": "200", "TaxType": "OUTPUT"},
     "IsPurchased": False},
    {"Code": "CALLOUT", "Name": "Call-out fee", "Description": "Metro call-out",
     "SalesDetails": {"UnitPrice": Decimal("85.00"), "AccountCode": "200", "TaxType": "OUTPUT"},
     "IsPurchased": False},
]


def seed_demo(state: SandboxState, extra_redirect_uris: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Create the demo app, user and organisations; returns what a host app needs to connect."""
    now = state.clock.now()
    today = now.date()
    with state.lock:
        uris = list(dict.fromkeys([*DEMO_REDIRECT_URIS, *extra_redirect_uris]))
        app = state.register_app(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, uris, name="Flask XeroSync Demo")
        nz = state.create_org("Harbour Field Services Ltd", country="NZ")
        au = state.create_org("Harbour Holdings", country="AU")
        user = state.create_user(DEMO_USER_EMAIL, "Demo User", [nz.tenant_id, au.tenant_id])
        state.signed_in_user = user.user_id

        nz_ids: dict[str, str] = {}
        for element in _NZ_CONTACTS:
            result = contacts.write_contact(nz, element, "upsert", now, seed=True)
            nz_ids[element["Name"]] = result.element["ContactID"]
        for element in _NZ_ITEMS:
            items.write_item(nz, element, "upsert", now, unitdp4=True, seed=True)
        demo_invoices: list[tuple[str, str, list[tuple[str, float]], int, bool]] = [
            ("Bright Spark Electrical Ltd", "AUTHORISED", [("LAB-HR", 3), ("CALLOUT", 1)], 30, True),
            ("Tui Ridge Vineyard", "AUTHORISED", [("ELEC-INSP", 1), ("MAT-SUNDRY", 4)], 14, False),
            ("Kauri Street Dental", "DRAFT", [("HWC-SERV", 1), ("LAB-HR", 1.5)], 7, False),
            ("Riverside Physiotherapy", "AUTHORISED", [("GUTTER", 1)], 3, False),
        ]
        for name, status, lines, age, paid in demo_invoices:
            element = {
                "Type": "ACCREC",
                "Contact": {"ContactID": nz_ids[name]},
                "Date": (today - timedelta(days=age)).isoformat(),
                "DueDate": (today - timedelta(days=age) + timedelta(days=20)).isoformat(),
                "Status": status,
                "Reference": f"Job {1000 + age}",
                "LineItems": [{"ItemCode": code, "Quantity": Decimal(str(qty))} for code, qty in lines],
            }
            invoice = invoices.write_invoice(nz, element, "create", now, unitdp4=True).element
            if paid:
                apply_payment(nz, invoice, invoice["AmountDue"], today - timedelta(days=age - 5), now)

        au_ids: dict[str, str] = {}
        for element in _AU_CONTACTS:
            au_ids[element["Name"]] = contacts.write_contact(au, element, "upsert", now, seed=True).element["ContactID"]
        for element in _AU_ITEMS:
            items.write_item(au, element, "upsert", now, unitdp4=True, seed=True)
        invoices.write_invoice(
            au,
            {"Type": "ACCREC", "Contact": {"ContactID": au_ids["Harbour Bridge Strata"]}, "Status": "AUTHORISED",
             "Date": (today - timedelta(days=10)).isoformat(), "DueDate": (today + timedelta(days=20)).isoformat(),
             "LineItems": [{"ItemCode": "LAB-HR", "Quantity": Decimal("2")}]},
            "create", now, unitdp4=True,
        )
    return {
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "redirect_uris": uris,
        "user": user.as_dict(),
        "orgs": [nz.summary(), au.summary()],
    }
