"""Demo data: two businesses (one on a plan with Xero sync), their users, clients, products, invoices.

Some clients collide with the sandbox's demo contacts — by e-mail (Bright Spark Electrical), by name
(Greenleaf Landscaping), by contact code (Summit Fitness Studio, the seventh client: its id is the
code on a Xero contact), and ambiguously (Coastal Cafe, whose e-mail two Xero contacts share) — so
the first Sync Now! (a preview) shows every match rule at work; see ``flask_xerosync.sandbox.demo``.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from flask_xerosync.models import metadata as xerosync_metadata

from .models import Business, Client, Invoice, InvoiceLine, Product, User, db

DEMO_LOGINS = (
    ("owner@harbour.example", "harbour-demo", "Harbour Field Services (Pro plan, includes Xero sync)"),
    ("owner@basicplumbing.example", "basic-demo", "Basic Plumbing Co (Basic plan, no Xero sync)"),
)

HARBOUR_CLIENTS = (
    ("Bright Spark Electrical", "accounts@brightspark.example", "09 555 0101", "14 Quay Street", "Auckland"),
    ("Greenleaf Landscaping", "hello@greenleaf.example", "09 555 0102", "3 Fern Lane", "Auckland"),
    ("Harper & Sons Plumbing", "office@harpersons.example", "09 555 0103", "88 Dock Road", "Wellington"),
    ("Coastal Cafe", "manager@coastalcafe.example", "09 555 0104", "1 Beach Parade", "Tauranga"),
    ("Northgate Property Management", "maintenance@northgate.example", "09 555 0105", "200 North Road", "Hamilton"),
    ("Riverside Veterinary Clinic", "frontdesk@riversidevets.example", "07 555 0106", "5 River Road", "Hamilton"),
    ("Summit Fitness Studio", "admin@summitfitness.example", "09 555 0107", "77 Summit Drive", "Auckland"),
)

HARBOUR_PRODUCTS = (
    ("LAB-HR", "Labour (per hour)", "Qualified technician, per hour", "95.00", "service"),
    ("CALLOUT", "Call-out fee", "Attendance within the city", "65.00", "service"),
    ("", "Annual boiler service", "Full service and safety check", "189.00", "service"),
    ("", "Copper pipe 15mm (per metre)", "Type B copper tube", "12.5000", "product"),
    ("", "Smoke alarm (photoelectric)", "10-year lithium battery", "49.90", "product"),
)

BASIC_CLIENTS = (
    ("Westside Dental", "reception@westsidedental.example", "03 555 0201", "9 West Street", "Christchurch"),
    ("Old Mill Bakery", "orders@oldmill.example", "03 555 0202", "2 Mill Lane", "Dunedin"),
)


def create_tables(*, fresh: bool = False) -> None:
    """The app's and the extension's tables, dropped first when ``fresh`` (in an app context)."""
    if fresh:
        drop_tables()
    db.create_all()
    xerosync_metadata.create_all(db.engine)


def drop_tables() -> None:
    db.session.remove()
    xerosync_metadata.drop_all(db.engine)
    db.drop_all()


def seed_demo() -> None:
    """Create the demo businesses and data, once (does nothing when they exist)."""
    if db.session.query(Business).count():
        return
    harbour = Business(name="Harbour Field Services", plan="pro")
    basic = Business(name="Basic Plumbing Co", plan="basic")
    db.session.add_all([harbour, basic])
    db.session.flush()
    _user(harbour, "owner@harbour.example", "Hana Harbour", "harbour-demo")
    _user(basic, "owner@basicplumbing.example", "Ben Basic", "basic-demo")
    clients = [_client(harbour, *row) for row in HARBOUR_CLIENTS]
    for row in BASIC_CLIENTS:
        _client(basic, *row)
    products = [
        Product(business_id=harbour.id, code=code, name=name, description=description,
                unit_price=Decimal(price), kind=kind)
        for code, name, description, price, kind in HARBOUR_PRODUCTS
    ]
    db.session.add_all(products)
    db.session.flush()
    labour, callout, boiler, pipe, alarm = products
    today = date.today()
    _invoice(harbour, "HFS-1001", clients[0], today - timedelta(days=6), [
        ("Call-out: switchboard fault", Decimal("1"), callout.unit_price, callout, None),
        ("Labour", Decimal("2.5"), labour.unit_price, labour, None),
        ("Smoke alarms fitted", Decimal("3"), alarm.unit_price, alarm, None),
    ])
    _invoice(harbour, "HFS-1002", clients[2], today - timedelta(days=3), [
        ("Annual boiler service", Decimal("1"), boiler.unit_price, boiler, None),
        ("Copper pipe", Decimal("4.5"), pipe.unit_price, pipe, None),
    ])
    _invoice(harbour, "HFS-1003", clients[5], today - timedelta(days=1), [
        ("Emergency call-out", Decimal("1"), callout.unit_price, callout, None),
        ("Labour (tax code from the old system)", Decimal("1"), labour.unit_price, labour, "GST15"),
    ])
    _invoice(harbour, "HFS-1004", clients[6], today, [
        ("Labour", Decimal("6"), labour.unit_price, labour, None),
        ("Site clean-up (no item)", Decimal("1"), Decimal("40.00"), None, None),
    ])
    db.session.commit()


def _user(business: Business, email: str, name: str, password: str) -> User:
    user = User(email=email, name=name, business_id=business.id)
    user.set_password(password)
    db.session.add(user)
    return user


def _client(business: Business, name: str, email: str, phone: str, street: str, city: str) -> Client:
    client = Client(business_id=business.id, name=name, email=email, phone=phone,
                    address_line1=street, city=city, country="New Zealand")
    db.session.add(client)
    db.session.flush()
    return client


def _invoice(business: Business, number: str, client: Client, issued: date,
             lines: list[tuple[str, Decimal, Decimal, Product | None, str | None]]) -> Invoice:
    invoice = Invoice(business_id=business.id, number=number, client_id=client.id, issue_date=issued,
                      due_date=issued + timedelta(days=20), reference=f"Job {number[-4:]}")
    invoice.lines = [
        InvoiceLine(position=position, description=description, quantity=quantity, unit_price=price,
                    product_id=product.id if product else None, tax_code=tax_code)
        for position, (description, quantity, price, product, tax_code) in enumerate(lines)
    ]
    db.session.add(invoice)
    return invoice
