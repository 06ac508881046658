"""Reads against the sandbox: paging, If-Modified-Since, ID chunking, items, settings, errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

from flask_xerosync.errors import ReconnectNeeded, XeroNotFound, XeroRequestRejected
from flask_xerosync.xero.api import XeroApi
from flask_xerosync.xero.dates import parse_xero_date

from .support import Org


def seed_contacts(org: Org, count: int, prefix: str = "Customer") -> list[dict]:
    return org.control.seed_contacts(
        org.tenant_id, [{"Name": f"{prefix} {n:03d}", "EmailAddress": f"c{n}@example.com"} for n in range(count)]
    )


def api_calls(org: Org, path: str) -> int:
    counters = org.control.counters(org.tenant_id)
    return sum(row["count"] for row in counters["calls"] if row["path"].lower().endswith(path.lower()))


def contact_id(n: int) -> str:
    """ContactIDs whose order is the order of ``n`` (the pull pages by ContactID)."""
    return f"00000000-0000-4000-8000-{n:012d}"


def test_contact_pages_stop_on_page_count(org: Org, make_client: Callable[..., XeroApi]) -> None:
    seed_contacts(org, 25)
    session = org.session()
    client = make_client(page_size=10, session=session)
    pages = list(client.iter_contact_pages(None))
    assert [len(page.contacts) for page in pages] == [10, 10, 5]
    assert [page.number for page in pages] == [1, 2, 3]
    assert client.calls == 3
    ids = [c["ContactID"] for page in pages for c in page.contacts]
    assert ids == sorted(ids) and len(set(ids)) == 25
    assert all(parse_qs(urlsplit(r.request.url).query)["order"] == ["ContactID ASC"] for r in session.responses)
    assert client.last_limits is not None and client.last_limits.minute_remaining is not None


def test_each_page_carries_xeros_clock(org: Org, make_client: Callable[..., XeroApi]) -> None:
    seed_contacts(org, 3)
    org.control.advance_clock(3600)
    sandbox_now = datetime.fromisoformat(org.control.now().replace("Z", "+00:00"))
    [page] = list(make_client().iter_contact_pages(None))
    assert page.xero_time is not None
    assert abs(page.xero_time - sandbox_now) < timedelta(minutes=5), "the sandbox's clock, not ours"


def test_a_contact_edited_while_paging_keeps_its_place(org: Org, make_client: Callable[..., XeroApi]) -> None:
    org.control.seed_contacts(org.tenant_id, [{"ContactID": contact_id(n), "Name": f"Customer {n:03d}"}
                                              for n in range(1, 26)])
    org.control.advance_clock(60)
    client = make_client(page_size=10)
    pages = client.iter_contact_pages(None)
    seen = [c["ContactID"] for c in next(pages).contacts]
    org.control.edit_contact(org.tenant_id, contact_id(3), Name="AAA Renamed")
    for page in pages:
        seen.extend(c["ContactID"] for c in page.contacts)
    assert seen == [contact_id(n) for n in range(1, 26)]


def test_a_contact_shifted_onto_the_next_page_is_not_read_twice(
    org: Org, make_client: Callable[..., XeroApi]
) -> None:
    org.control.seed_contacts(org.tenant_id, [{"ContactID": contact_id(n), "Name": f"Customer {n:03d}"}
                                              for n in range(10, 35)])
    client = make_client(page_size=10)
    pages = client.iter_contact_pages(None)
    first = next(pages)
    org.control.seed_contacts(org.tenant_id, [{"ContactID": contact_id(n), "Name": f"New {n:03d}"}
                                              for n in (1, 2, 40)])
    rest = list(pages)
    read = [c["ContactID"] for page in [first, *rest] for c in page.contacts]
    assert read == [contact_id(n) for n in [*range(10, 35), 40]], "shifted ones once, new ones behind us next time"
    assert [page.number for page in rest] == [2, 3]
    assert [len(page.contacts) for page in rest] == [8, 8]


def test_exact_multiple_of_page_size_needs_no_extra_call(org: Org, make_client: Callable[..., XeroApi]) -> None:
    seed_contacts(org, 20)
    client = make_client(page_size=10)
    assert [len(page.contacts) for page in client.iter_contact_pages(None)] == [10, 10]
    assert client.calls == 2


def test_archived_contacts_are_included_unless_asked_not_to(org: Org, make_client: Callable[..., XeroApi]) -> None:
    seeded = seed_contacts(org, 3)
    org.control.archive_contact(org.tenant_id, seeded[0]["ContactID"])
    client = make_client()
    assert sum(len(p.contacts) for p in client.iter_contact_pages(None)) == 3
    assert sum(len(p.contacts) for p in client.iter_contact_pages(None, include_archived=False)) == 2


def test_if_modified_since_narrows_the_pull(org: Org, make_client: Callable[..., XeroApi]) -> None:
    seeded = seed_contacts(org, 5)
    org.control.advance_clock(3600)
    since = datetime.fromisoformat(org.control.now().replace("Z", "+00:00"))
    org.control.advance_clock(5)
    org.control.edit_contact(org.tenant_id, seeded[2]["ContactID"], Name="Customer 002 (renamed)")
    client = make_client()
    changed = [c for page in client.iter_contact_pages(since) for c in page.contacts]
    assert [c["Name"] for c in changed] == ["Customer 002 (renamed)"]
    assert parse_xero_date(changed[0]["UpdatedDateUTC"]) >= since
    later = since + timedelta(hours=1)
    [empty] = list(client.iter_contact_pages(later))
    assert empty.contacts == [] and empty.xero_time is not None, "nothing changed, but Xero's clock is known"


def test_contacts_by_id_are_fetched_in_chunks_of_50(org: Org, make_client: Callable[..., XeroApi]) -> None:
    seeded = seed_contacts(org, 120)
    session = org.session()
    client = make_client(session=session)
    found = client.get_contacts([c["ContactID"] for c in seeded] + [seeded[0]["ContactID"]])
    assert client.calls == 3
    urls = [r.request.url for r in session.responses]
    assert [u.count(",") for u in urls] == [49, 49, 19]  # literal commas keep 50 GUIDs under 2 KB
    assert all(len(u) < 2048 for u in urls)
    assert sorted(c["ContactID"] for c in found) == sorted(c["ContactID"] for c in seeded)
    assert client.get_contacts([]) == []
    assert client.calls == 3


def test_one_contact_by_number_or_none(org: Org, make_client: Callable[..., XeroApi]) -> None:
    org.control.seed_contacts(org.tenant_id, [{"Name": "Ada", "ContactNumber": "host-17"}])
    client = make_client()
    contact = client.get_contact("host-17")
    assert contact is not None and contact["Name"] == "Ada"
    assert client.get_contact("host-404") is None


def test_items_keep_four_decimal_places_and_filter_on_where(org: Org, make_client: Callable[..., XeroApi]) -> None:
    org.control.seed_items(
        org.tenant_id,
        [
            {"Code": "HR-1", "Name": "Labour hour", "SalesDetails": {"UnitPrice": "85.1234"}},
            {"Code": "PIPE", "Name": "Copper pipe", "IsSold": False},
        ],
    )
    client = make_client()
    items = client.get_items(None)
    assert [i["Code"] for i in items] == ["HR-1"]
    assert items[0]["SalesDetails"]["UnitPrice"] == Decimal("85.1234")
    assert {i["Code"] for i in client.get_items(None, where=None)} == {"HR-1", "PIPE"}


def test_a_bad_where_is_rejected_with_xeros_message(org: Org, make_client: Callable[..., XeroApi]) -> None:
    client = make_client()
    with pytest.raises(XeroRequestRejected) as raised:
        client.get_items(None, where="Colour==\"red\"")
    assert raised.value.status == 400
    assert raised.value.messages and "Colour" in raised.value.messages[0]
    assert "Colour" in str(raised.value)
    assert client.calls == 1  # a rejected request is not retried


def test_settings_reads(org: Org, make_client: Callable[..., XeroApi]) -> None:
    client = make_client()
    assert client.get_organisation()["Name"] == "Client Tests Ltd"
    assert any(a.get("Code") for a in client.get_accounts())
    assert any(t.get("TaxType") for t in client.get_tax_rates())


def test_disconnected_organisation_needs_reconnecting(org: Org, make_client: Callable[..., XeroApi]) -> None:
    client = make_client(tenant_name="Harbour <Books> Ltd")
    org.control.revoke_connection(tenant_id=org.tenant_id)
    with pytest.raises(ReconnectNeeded) as raised:
        client.get_organisation()
    assert "Xero refused access to the Xero organisation Harbour <Books> Ltd" in str(raised.value)
    assert org.tenant_id not in str(raised.value)
    assert "Reconnect" in str(raised.value)
    assert org.token["access_token"] not in str(raised.value)


def test_unknown_endpoint_is_not_found(org: Org, make_client: Callable[..., XeroApi]) -> None:
    client = make_client()
    with pytest.raises(XeroNotFound):
        client._get("/Quotes")  # the sandbox serves no Quotes


def test_contacts_are_found_by_name_in_one_call(org: Org, make_client: Callable[..., XeroApi]) -> None:
    seeded = org.control.seed_contacts(org.tenant_id, [
        {"Name": 'Dave "The Plumber" Smith', "EmailAddress": "dave@x.example"},
        {"Name": "Back\\slash Ltd"},
        {"Name": "Dave Smith"},
        {"Name": "Gone Ltd"},
    ])
    org.control.archive_contact(org.tenant_id, seeded[3]["ContactID"])
    session = org.session()
    client = make_client(session=session)

    quoted = client.find_contacts_by_name('  dave "the plumber" smith ')
    slashed = client.find_contacts_by_name("Back\\slash Ltd")
    archived = client.find_contacts_by_name("Gone Ltd")

    assert [c["ContactID"] for c in quoted] == [seeded[0]["ContactID"]]
    assert [c["ContactID"] for c in slashed] == [seeded[1]["ContactID"]]
    assert archived == [] and client.find_contacts_by_name("Nobody") == []
    assert client.calls == 4
    query = parse_qs(urlsplit(session.responses[0].request.url).query)
    assert query["where"] == ['Name=="dave \\"the plumber\\" smith"'] and query["includeArchived"] == ["false"]
