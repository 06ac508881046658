"""Batch writes against the sandbox: batching, per-element results, idempotent retries, sizes."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

from flask_xerosync.xero.api import XeroApi
from flask_xerosync.xero.payloads import encode_json, idempotency_key, split_batches
from flask_xerosync.xero.results import WriteResult, element_result

from .support import Org


def contacts(count: int) -> list[dict]:
    return [
        {"Name": f"Host client {n:03d}", "ContactNumber": f"host-{n}", "EmailAddress": f"h{n}@example.com"}
        for n in range(count)
    ]


def test_120_contacts_go_in_3_batches_and_a_bad_one_is_mapped_to_its_index(
    org: Org, make_client: Callable[..., XeroApi]
) -> None:
    org.control.seed_contacts(
        org.tenant_id, [{"Name": "Already In Xero"}, {"Name": "Host client 073", "ContactNumber": "host-73"}]
    )
    records = contacts(120)
    records[73] = {"Name": "already in xero", "ContactNumber": "host-73"}  # renaming onto a taken name
    session = org.session()
    client = make_client(session=session)
    batches: list[list[WriteResult]] = []

    results = client.upsert_contacts(records)

    assert client.calls == 3
    posts = [r.request for r in session.responses]
    assert [p.method for p in posts] == ["POST"] * 3
    for prepared in posts:
        query = parse_qs(urlsplit(prepared.url).query)
        assert query["summarizeErrors"] == ["false"]
        assert len(prepared.headers["Idempotency-Key"]) <= 128
        assert prepared.headers["xero-tenant-id"] == org.tenant_id
    assert len({p.headers["Idempotency-Key"] for p in posts}) == 3
    assert [r.index for r in results] == list(range(120))
    failed = [r for r in results if not r.ok]
    assert [r.index for r in failed] == [73]
    assert failed[0].messages == [
        "The contact name already in xero is already assigned to another contact. "
        "The contact name must be unique across all active contacts."
    ]
    assert all(r.record["ContactID"] and r.record["ContactNumber"] == f"host-{r.index}" for r in results if r.ok)
    assert len(org.control.contacts(org.tenant_id)) == 2 + 119

    client.write_batches("contacts", records[:60], on_batch=batches.append)
    assert [len(b) for b in batches] == [50, 10]
    assert batches[1][0].index == 50


def test_rewriting_the_same_records_updates_instead_of_duplicating(
    org: Org, make_client: Callable[..., XeroApi]
) -> None:
    client = make_client()
    first = client.upsert_contacts(contacts(3))
    renamed = [dict(r, EmailAddress=f"new{n}@example.com") for n, r in enumerate(contacts(3))]
    second = client.upsert_contacts(renamed)
    assert [r.record["ContactID"] for r in first] == [r.record["ContactID"] for r in second]
    assert len(org.control.contacts(org.tenant_id)) == 3


def test_a_new_idempotency_scope_gets_fresh_keys(org: Org, make_client: Callable[..., XeroApi]) -> None:
    keys = []
    for scope in ("run-1", "run-1", "run-2"):
        session = org.session()
        make_client(session=session, idempotency_scope=scope).upsert_contacts(contacts(1))
        keys.append(session.responses[0].request.headers["Idempotency-Key"])
    assert keys[0] == keys[1] != keys[2]
    assert len(org.control.contacts(org.tenant_id)) == 1


def test_after_a_fix_in_xero_a_new_scope_is_not_answered_from_the_replay_cache(
    org: Org, make_client: Callable[..., XeroApi]
) -> None:
    [clash] = org.control.seed_contacts(org.tenant_id, [{"Name": "Ada Lovelace"}])
    record = [{"Name": "Ada Lovelace", "ContactNumber": "host-1"}]
    org.control.seed_contacts(org.tenant_id, [{"Name": "Ada (host)", "ContactNumber": "host-1"}])
    assert not make_client(idempotency_scope="run-1").upsert_contacts(record)[0].ok
    org.control.archive_contact(org.tenant_id, clash["ContactID"])  # the accountant fixes it in Xero
    assert not make_client(idempotency_scope="run-1").upsert_contacts(record)[0].ok  # replayed
    assert make_client(idempotency_scope="run-2").upsert_contacts(record)[0].ok


def test_a_dropped_response_after_commit_is_replayed_not_duplicated(
    org: Org, make_client: Callable[..., XeroApi]
) -> None:
    org.control.faults(org.tenant_id, drop_next=1, methods=["POST"])
    session = org.session()
    client = make_client(session=session, sleep=lambda seconds: None)

    results = client.upsert_contacts(contacts(2))

    assert all(r.ok for r in results)
    assert client.calls == 2  # the dropped attempt and its replay
    assert len(org.control.contacts(org.tenant_id)) == 2
    counters = org.control.counters(org.tenant_id)
    assert counters["by_method"]["POST"] == 2
    created_ids = {c["ContactID"] for c in org.control.contacts(org.tenant_id)}
    assert {r.record["ContactID"] for r in results} == created_ids


def test_items_are_written_at_four_decimal_places(org: Org, make_client: Callable[..., XeroApi]) -> None:
    client = make_client()
    results = client.upsert_items(
        [
            {"Code": "SVC-CALLOUT", "Name": "Call-out", "SalesDetails": {"UnitPrice": Decimal("49.9950")}},
            {"Code": "X" * 31, "Name": "Code too long"},
        ]
    )
    assert results[0].ok and results[0].record["SalesDetails"]["UnitPrice"] == Decimal("49.995")
    assert results[0].record["ItemID"]
    assert not results[1].ok and results[1].messages
    assert [i["Code"] for i in client.get_items(None)] == ["SVC-CALLOUT"]


def test_invoices_come_back_with_xeros_numbers_and_totals(org: Org, make_client: Callable[..., XeroApi]) -> None:
    client = make_client()
    contact = client.upsert_contacts(contacts(1))[0].record
    sales = next(a["Code"] for a in client.get_accounts() if a.get("Type") == "REVENUE")
    invoice = {
        "Type": "ACCREC",
        "Contact": {"ContactID": contact["ContactID"]},
        "InvoiceNumber": "HOST-1001",
        "Date": "2026-07-01",
        "DueDate": "2026-07-31",
        "LineItems": [
            {"Description": "Labour", "Quantity": Decimal("1.5"), "UnitAmount": Decimal("80.1250"), "AccountCode": sales}
        ],
        "Status": "DRAFT",
    }
    [result] = client.upsert_invoices([invoice])
    assert result.ok, result.messages
    assert result.record["InvoiceNumber"] == "HOST-1001"
    assert isinstance(result.record["Total"], Decimal)
    found = client.get_invoices_by_number(["HOST-1001"])
    assert [i["InvoiceID"] for i in found] == [result.record["InvoiceID"]]
    assert client.get_invoices([result.record["InvoiceID"]])[0]["InvoiceNumber"] == "HOST-1001"


def test_invoices_by_id_come_with_their_line_items_in_chunks_of_50(
    org: Org, make_client: Callable[..., XeroApi]
) -> None:
    session = org.session()
    client = make_client(session=session)
    contact = client.upsert_contacts(contacts(1))[0].record
    invoices = [
        {"Type": "ACCREC", "Contact": {"ContactID": contact["ContactID"]}, "InvoiceNumber": f"HOST-{n}",
         "LineItems": [{"Description": "Labour", "Quantity": Decimal(1), "UnitAmount": Decimal("80.1234")},
                       {"Description": "Parts", "Quantity": Decimal(2), "UnitAmount": Decimal(5)}]}
        for n in range(60)
    ]
    written = client.upsert_invoices(invoices)
    ids = [result.record["InvoiceID"] for result in written]
    before = client.calls

    found = client.get_invoices(ids)

    assert client.calls - before == 2
    assert all("page=1" in response.request.url for response in session.responses[-2:])
    assert sorted(i["InvoiceID"] for i in found) == sorted(ids)
    lines = found[0]["LineItems"]
    assert [line["Description"] for line in lines] == ["Labour", "Parts"]
    assert all(line["LineItemID"] for line in lines)
    assert lines[0]["UnitAmount"] == Decimal("80.1234")


def test_a_record_too_large_for_one_request_is_reported_and_not_sent(
    org: Org, make_client: Callable[..., XeroApi]
) -> None:
    client = make_client()
    huge = {"Name": "Huge", "ContactNumber": "host-huge", "Notes": "x" * 3_600_000}
    results = client.upsert_contacts([contacts(1)[0], huge, contacts(2)[1]])
    assert [r.ok for r in results] == [True, False, True]
    assert "too large" in results[1].messages[0]
    assert client.calls == 2


def test_large_records_are_split_to_stay_under_3_5_mb(org: Org, make_client: Callable[..., XeroApi]) -> None:
    session = org.session()
    client = make_client(session=session)
    records = [dict(record, Notes="n" * 1_200_000) for record in contacts(4)]
    results = client.upsert_contacts(records)
    assert all(r.ok for r in results)
    assert [len(r.request.body) <= 3_500_000 for r in session.responses] == [True, True]


def test_batches_split_by_count_and_by_size() -> None:
    records = [{"Name": f"n{n}", "Notes": "y" * 100} for n in range(7)]
    by_count = list(split_batches("Contacts", records, batch_size=3))
    assert [(b.start, len(b.records)) for b in by_count] == [(0, 3), (3, 3), (6, 1)]
    one = len(encode_json(records[0]))
    wrapper = len(encode_json({"Contacts": []}))
    limit = wrapper + 2 * one + 1  # room for exactly two records and their comma
    by_size = list(split_batches("Contacts", records, batch_size=50, max_bytes=limit))
    assert [len(b.records) for b in by_size] == [2, 2, 2, 1]
    assert all(len(b.body) <= limit for b in by_size)
    oversized = list(split_batches("Contacts", records[:2], batch_size=50, max_bytes=wrapper + one - 1))
    assert [b.oversize > 0 for b in oversized] == [True, True]


def test_money_is_sent_as_exact_numbers() -> None:
    body = encode_json({"Items": [{"Code": "A", "SalesDetails": {"UnitPrice": Decimal("0.1000")}, "On": None}]})
    assert body == b'{"Items":[{"Code":"A","On":null,"SalesDetails":{"UnitPrice":0.1000}}]}'
    with pytest.raises(ValueError):
        encode_json({"x": Decimal("NaN")})


def test_idempotency_keys_are_deterministic_and_short() -> None:
    body = encode_json({"Contacts": [{"Name": "A"}]})
    key = idempotency_key("tenant", "POST", "/api.xro/2.0/Contacts?summarizeErrors=false", body)
    assert key == idempotency_key("tenant", "post", "/api.xro/2.0/Contacts?summarizeErrors=false", body)
    assert key != idempotency_key("other", "POST", "/api.xro/2.0/Contacts?summarizeErrors=false", body)
    assert key != idempotency_key("tenant", "POST", "/api.xro/2.0/Contacts?summarizeErrors=false", body + b" ")
    assert key.startswith("xs-") and len(key) <= 128


def test_nested_validation_messages_and_warnings_are_collected() -> None:
    element = {
        "Name": "A",
        "StatusAttributeString": "ERROR",
        "ValidationErrors": [{"Message": "Top"}],
        "Addresses": [{"AddressType": "STREET", "ValidationErrors": [{"Message": "Bad country"}]}],
        "Phones": [{"ValidationErrors": [{"Message": "Top"}]}],
        "LineItems": [{"ValidationErrors": [{"Message": "Bad account"}], "Warnings": [{"Message": "Rounded"}]}],
    }
    result = element_result(4, element)
    assert result == WriteResult(4, False, element, ["Top", "Bad country", "Bad account"], ["Rounded"])
    warned = element_result(0, {"StatusAttributeString": "WARNING", "Warnings": [{"Message": "Check me"}]})
    assert warned.ok and warned.warnings == ["Check me"]


def test_unknown_kind_is_refused(make_client: Callable[..., XeroApi]) -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        make_client().write_batches("payments", [{}])


def test_create_contacts_refuses_a_taken_name_where_an_upsert_would_merge(
    org: Org, make_client: Callable[..., XeroApi]
) -> None:
    session = org.session()
    client = make_client(session=session)
    [existing] = org.control.seed_contacts(org.tenant_id, [{"Name": "Lighthouse Diner", "EmailAddress": "a@x.example"}])

    [refused] = client.create_contacts([{"Name": "lighthouse diner", "ContactNumber": "host-9", "EmailAddress": "b@x"}])
    [created] = client.create_contacts([{"Name": "Lighthouse Cafe", "ContactNumber": "host-10"}])
    [merged] = client.upsert_contacts([{"Name": "lighthouse diner", "ContactNumber": "host-9"}])

    assert not refused.ok
    assert refused.messages == ["The contact name lighthouse diner is already assigned to another contact. "
                                "The contact name must be unique across all active contacts."]
    assert created.ok and created.record["ContactID"] != existing["ContactID"]
    assert merged.ok and merged.record["ContactID"] == existing["ContactID"]  # why new clients are PUT
    assert [r.request.method for r in session.responses] == ["PUT", "PUT", "POST"]
