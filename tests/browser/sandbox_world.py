"""The Xero side of the journey, set up through the sandbox's control client, and the extra host
business whose owner has access to two organisations.

- Hana Harbour (owner of the demo business "Harbour Field Services") has access to one
  organisation, seeded with a few hundred contacts (some supplier-only, two matching host clients),
  so a first sync takes a few seconds once latency is added.
- Kiri Kowhai (owner of "Kowhai Electrical", a host business on the Xero plan added here) has
  access to two organisations.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import product
from typing import TYPE_CHECKING, Any

from live_stack import LiveStack, SandboxOrg

if TYPE_CHECKING:
    from flask_xerosync.sandbox import SandboxControl

HARBOUR_ORG = "harbour"
KOWHAI_MAIN_ORG = "kowhai-main"
KOWHAI_HOLDINGS_ORG = "kowhai-holdings"

HARBOUR_XERO_USER = ("hana@harbour.example", "Hana Harbour")
KOWHAI_XERO_USER = ("kiri@kowhai.example", "Kiri Kowhai")
KOWHAI_LOGIN = ("owner@kowhai.example", "kowhai-demo")

CUSTOMER_COUNT = 300
SUPPLIER_COUNT = 12


@dataclass(frozen=True)
class SandboxApp:
    client_id: str
    client_secret: str
    name: str


SANDBOX_APP = SandboxApp("fielddesk-browser", "fielddesk-browser-secret", "FieldDesk")

_ADJECTIVES = (
    "Alpine", "Bayview", "Cedar", "Driftwood", "Eastern", "Fern", "Golden", "Harbourside", "Ironbark",
    "Kauri", "Lakeside", "Manuka", "Northern", "Ocean", "Pohutukawa",
)
_TRADES = (
    "Bakery", "Builders", "Cafe", "Dental", "Electrical", "Florist", "Garage", "Hair Studio", "Joinery",
    "Kitchens", "Laundry", "Motors", "Nursery", "Optometrists", "Painters", "Physio", "Roofing",
    "Surveyors", "Tiling", "Vets",
)
_CITIES = ("Auckland", "Wellington", "Christchurch", "Hamilton", "Tauranga", "Dunedin", "Napier", "Nelson")
_STREETS = ("Queen Street", "High Street", "Victoria Road", "Beach Road", "Main Street", "Church Lane")

# Host clients Xero already knows (see example_app.seed): one by e-mail, one by name, one by the
# contact code (the seventh client's id, as if an earlier sync created it and stopped before linking).
MATCHING_CONTACTS = (
    {"Name": "Bright Spark Electrical Ltd", "EmailAddress": "ACCOUNTS@brightspark.example"},
    {"Name": "Greenleaf  landscaping", "EmailAddress": ""},
    {"Name": "Summit Fitness", "EmailAddress": "admin@summitfitness.example", "ContactNumber": "7"},
)
# Two contacts sharing the e-mail of the host's Coastal Cafe: ambiguous, so all three wait for review.
AMBIGUOUS_CONTACTS = (
    {"Name": "Coastal Cafe Ltd", "EmailAddress": "manager@coastalcafe.example"},
    {"Name": "Coastal Café Group", "EmailAddress": "manager@coastalcafe.example"},
)


def _slug(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def customer_contacts() -> list[dict[str, Any]]:
    """Distinct, plausible customers: every adjective with every trade."""
    contacts = []
    for number, (adjective, trade) in enumerate(product(_ADJECTIVES, _TRADES)):
        name = f"{adjective} {trade}"
        city = _CITIES[number % len(_CITIES)]
        contact: dict[str, Any] = {
            "Name": name,
            "EmailAddress": f"accounts@{_slug(name)}.example",
            "IsCustomer": number % 3 != 0,
            "IsSupplier": False,
            "Phones": [{"PhoneType": "DEFAULT", "PhoneAreaCode": "09", "PhoneNumber": f"555 {1000 + number}"}],
            "Addresses": [{
                "AddressType": "STREET",
                "AddressLine1": f"{number + 1} {_STREETS[number % len(_STREETS)]}",
                "City": city,
                "Country": "New Zealand",
            }],
        }
        if number % 4 == 0:
            contact.update({"FirstName": f"{adjective}", "LastName": "Owner"})
        contacts.append(contact)
    return contacts[:CUSTOMER_COUNT]


def supplier_contacts() -> list[dict[str, Any]]:
    """Supplier-only contacts: the default contact filter keeps them out of the host."""
    return [
        {"Name": f"{adjective} Wholesale Supplies", "EmailAddress": f"sales@{_slug(adjective)}wholesale.example",
         "IsSupplier": True, "IsCustomer": False}
        for adjective in _ADJECTIVES[:SUPPLIER_COUNT]
    ]


def build_world(stack: LiveStack) -> None:
    """Register the app, the two Xero users and their organisations, and the Kowhai host business."""
    control = stack.control
    control.register_app(
        client_id=SANDBOX_APP.client_id,
        client_secret=SANDBOX_APP.client_secret,
        redirect_uris=[stack.callback_url],
        name=SANDBOX_APP.name,
        bulk_connections=True,
    )
    hana = _user(control, *HARBOUR_XERO_USER)
    kiri = _user(control, *KOWHAI_XERO_USER)
    stack.users = {"hana": hana, "kiri": kiri}
    stack.orgs = {
        HARBOUR_ORG: _org(control, "Harbour Field Services Ltd", [hana]),
        KOWHAI_MAIN_ORG: _org(control, "Kowhai Electrical Ltd", [kiri]),
        KOWHAI_HOLDINGS_ORG: _org(control, "Kowhai Holdings Ltd", [kiri]),
    }
    harbour = stack.orgs[HARBOUR_ORG].tenant_id
    control.seed_contacts(harbour, customer_contacts() + supplier_contacts() + list(MATCHING_CONTACTS)
                          + list(AMBIGUOUS_CONTACTS))
    _add_kowhai_business(stack)


def _user(control: SandboxControl, email: str, name: str) -> str:
    return str(control.create_user(name=name, email=email)["user_id"])


def _org(control: SandboxControl, name: str, users: list[str]) -> SandboxOrg:
    return SandboxOrg(tenant_id=control.create_org(name=name, country="NZ", users=users), name=name)


def _add_kowhai_business(stack: LiveStack) -> None:
    from example_app.models import Business, User, db

    with stack.app.app_context():
        business = Business(name="Kowhai Electrical", plan="pro")
        db.session.add(business)
        db.session.flush()
        user = User(email=KOWHAI_LOGIN[0], name="Kiri Kowhai", business_id=business.id)
        user.set_password(KOWHAI_LOGIN[1])
        db.session.add(user)
        db.session.commit()


def sign_in_to_xero(stack: LiveStack, user_key: str) -> None:
    """Make the sandbox's consent page act for this Xero user (the sandbox has one browser session)."""
    stack.control.sign_in(stack.users[user_key])


@contextmanager
def slowed_down_xero(stack: LiveStack, org_key: str, latency_ms: int) -> Iterator[None]:
    """Latency on every API call of the organisation meanwhile, so a sync's progress is visible."""
    tenant_id = stack.orgs[org_key].tenant_id
    stack.control.faults(tenant_id, latency_ms=latency_ms)
    try:
        yield
    finally:
        stack.control.clear_faults(tenant_id)


def xero_contacts(stack: LiveStack, org_key: str) -> list[dict[str, Any]]:
    return list(stack.control.contacts(stack.orgs[org_key].tenant_id))


def xero_invoices(stack: LiveStack, org_key: str) -> list[dict[str, Any]]:
    return list(stack.control.invoices(stack.orgs[org_key].tenant_id))
