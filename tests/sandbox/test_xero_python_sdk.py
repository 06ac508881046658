"""The official xero-python SDK must parse every sandbox response."""

from __future__ import annotations

import time
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from .conftest import CLIENT_ID, CLIENT_SECRET, World

from xero_python.accounting import (
    AccountingApi,
    Contact,
    Contacts,
    Invoice,
    Invoices,
    Item,
    Items,
    LineItem,
    Purchase,
)
from xero_python.api_client import ApiClient
from xero_python.api_client.configuration import Configuration
from xero_python.api_client.oauth2 import OAuth2Token
from xero_python.identity import IdentityApi


@pytest.fixture
def sdk(world: World) -> tuple[AccountingApi, IdentityApi]:
    store: dict[str, Any] = {}
    api_client = ApiClient(
        Configuration(oauth2_token=OAuth2Token(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)),
        pool_threads=1,
        oauth2_token_getter=lambda: store["token"],
        oauth2_token_saver=lambda token: store.__setitem__("token", token),
    )
    api_client.set_oauth2_token({**world.token, "expires_at": time.time() + 1800})
    return (AccountingApi(api_client, base_url=f"{world.base}/api.xro/2.0"),
            IdentityApi(api_client, base_url=world.base))


def test_sdk_round_trip(world: World, sdk: tuple[AccountingApi, IdentityApi]) -> None:
    accounting, identity = sdk
    tenant = world.tenant_id
    [connection] = identity.get_connections()
    assert connection.tenant_id == tenant and isinstance(connection.updated_date_utc, datetime)

    created = accounting.create_contacts(
        tenant, Contacts(contacts=[Contact(name=f"SDK Contact {i}", email_address=f"c{i}@sdk.example",
                                           contact_number=f"SDK-{i}") for i in range(7)]),
        summarize_errors=False,
    )
    assert all(c.status_attribute_string == "OK" for c in created.contacts)
    assert isinstance(created.contacts[0].updated_date_utc, datetime)

    page = accounting.get_contacts(tenant, page=2, page_size=3)
    assert page.pagination.item_count == 7 and page.pagination.page_count == 3
    assert [c.name for c in page.contacts] == ["SDK Contact 3", "SDK Contact 4", "SDK Contact 5"]

    contact_id = created.contacts[0].contact_id
    updated = accounting.update_contact(tenant, contact_id, Contacts(contacts=[Contact(first_name="Ada")]))
    assert updated.contacts[0].first_name == "Ada"
    dup = accounting.create_contacts(tenant, Contacts(contacts=[Contact(name="SDK Contact 1")]),
                                     summarize_errors=False)
    assert dup.contacts[0].status_attribute_string == "ERROR"
    assert "already assigned" in dup.contacts[0].validation_errors[0].message

    items = accounting.create_items(tenant, Items(items=[
        Item(code="SDK-1", name="SDK item", description="Made by the SDK",
             sales_details=Purchase(unit_price=12.345, account_code="200", tax_type="OUTPUT2")),
    ]), summarize_errors=False, unitdp=4)
    assert items.items[0].sales_details.unit_price == Decimal("12.345")
    upsert = accounting.update_or_create_items(tenant, Items(items=[Item(code="SDK-1", name="Renamed")]))
    assert upsert.items[0].name == "Renamed" and isinstance(upsert.items[0].updated_date_utc, datetime)
    assert len(accounting.get_items(tenant).items) == 1

    invoices = accounting.create_invoices(tenant, Invoices(invoices=[
        Invoice(type="ACCREC", contact=Contact(contact_id=contact_id), date=date(2026, 3, 1),
                due_date=date(2026, 3, 31), status="AUTHORISED", reference="SDK",
                line_items=[LineItem(item_code="SDK-1", quantity=2, account_code="200")]),
    ]), summarize_errors=False)
    invoice = invoices.invoices[0]
    assert invoice.status_attribute_string == "OK"
    assert invoice.total == Decimal("28.41")  # 2 x 12.35 (2 dp) + 3.71 tax
    assert invoice.invoice_number == "INV-0001"
    assert invoice.date == date(2026, 3, 1) and isinstance(invoice.updated_date_utc, datetime)

    fetched = accounting.get_invoices(tenant, page=1, page_size=10)
    assert fetched.pagination.item_count == 1
    assert fetched.invoices[0].line_items[0].item_code == "SDK-1"
    changed = accounting.update_invoice(tenant, invoice.invoice_id, Invoices(invoices=[Invoice(reference="Edited")]))
    assert changed.invoices[0].reference == "Edited"
    assert accounting.get_invoice(tenant, invoice.invoice_id).invoices[0].reference == "Edited"

    assert accounting.get_organisations(tenant).organisations[0].name == "Acme Plumbing Ltd"
    assert any(a.code == "200" for a in accounting.get_accounts(tenant).accounts)
    assert any(r.tax_type == "OUTPUT2" for r in accounting.get_tax_rates(tenant).tax_rates)
    since = accounting.get_contacts(tenant, if_modified_since=datetime(2000, 1, 1), page=1, page_size=100)
    assert since.pagination.item_count == 7


def test_sdk_sees_rate_limit_problem(world: World, sdk: tuple[AccountingApi, IdentityApi]) -> None:
    from xero_python.exceptions import HTTPStatusException

    accounting, _ = sdk
    world.control.set_limits(world.tenant_id, concurrent=0)
    with pytest.raises(HTTPStatusException) as caught:
        accounting.get_organisations(world.tenant_id)
    assert caught.value.status == 429
    assert caught.value.rate_limit == "concurrent"
