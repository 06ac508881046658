"""First sync of clients: matching before creating, so no duplicate appears on either side."""

from __future__ import annotations

from tests.sync.conftest import Rig


def test_first_sync_links_duplicates_by_email_and_name_and_creates_the_rest(rig: Rig) -> None:
    rig.seed_contacts(
        {"Name": "Bright Spark Electrical Ltd", "EmailAddress": "ACCOUNTS@brightspark.example", "IsCustomer": True},
        {"Name": "greenleaf   landscaping", "EmailAddress": "", "IsCustomer": True},
        {"Name": "Only In Xero", "EmailAddress": "xero@only.example"},
    )
    rig.add_client("Bright Spark Electrical", "accounts@brightspark.example", phone="09 555 0101")
    rig.add_client("Greenleaf Landscaping", "hello@greenleaf.example")
    rig.add_client("Only Here", "here@only.example")

    result = rig.sync(sync_items=False, sync_invoices=False)

    assert result.of("clients", "linked") == 2
    assert result.of("clients", "created") == 2
    assert result.of("clients", "failed") == 0
    names = sorted(c["Name"] for c in rig.contacts())
    assert names == ["Bright Spark Electrical Ltd", "Only Here", "Only In Xero", "greenleaf   landscaping"]
    # The first link merges: each side keeps its own name, Xero got the phone it lacked.
    assert sorted(c.name for c in rig.clients()) == [
        "Bright Spark Electrical", "Greenleaf Landscaping", "Only Here", "Only In Xero"]
    spark = rig.contact_named("Bright Spark Electrical Ltd")
    assert [(p["PhoneAreaCode"], p["PhoneNumber"]) for p in spark["Phones"] if p["PhoneType"] == "DEFAULT"] == [
        ("9", "555 0101")]
    linked = {r.label: r for r in result.rows("linked")}
    assert linked["Bright Spark Electrical"].details["rule"] == "email"
    assert [(d["field"], d["host"], d["xero"]) for d in linked["Bright Spark Electrical"].details["differences"]] == [
        ("name", "Bright Spark Electrical", "Bright Spark Electrical Ltd")], "e-mails differing in case are the same"
    assert linked["Greenleaf Landscaping"].details["rule"] == "name"
    only_here = rig.contact_named("Only Here")
    assert only_here["ContactNumber"] == str(rig.client_named("Only Here").id)
    assert not [e for e in result.events if e.total is not None and e.done > e.total and e.stage == "clients"]


def test_ambiguous_matches_need_review_and_create_nothing(rig: Rig) -> None:
    rig.seed_contacts({"Name": "Acme Services", "EmailAddress": ""})
    first = rig.add_client("Acme Services", "one@acme.example")
    second = rig.add_client("ACME  services", "two@acme.example")

    result = rig.sync(sync_items=False, sync_invoices=False)

    reviews = [r for r in result.rows("needs_review") if r.host_id]
    assert {r.host_id for r in reviews} == {first, second}
    for review in reviews:
        assert [c["label"] for c in review.details["candidates"]] == ["Acme Services"]
    assert [c["Name"] for c in rig.contacts()] == ["Acme Services"]
    assert len(rig.clients()) == 2
    assert result.of("clients", "created") == 0 and result.of("clients", "linked") == 0


def test_a_host_client_matching_two_xero_contacts_needs_review(rig: Rig) -> None:
    rig.seed_contacts(
        {"Name": "Twin Peaks Cafe", "EmailAddress": "same@twin.example"},
        {"Name": "Twin Peaks Café", "EmailAddress": "same@twin.example"},
    )
    host_id = rig.add_client("Twin Peaks Cafe", "same@twin.example")

    result = rig.sync(sync_items=False, sync_invoices=False)

    # Both contacts share the e-mail (and the name key: accents are folded): two candidates, so
    # nothing is linked or created for any of the three until a person decides.
    assert result.of("clients", "linked") == 0 and result.of("clients", "created") == 0
    [review] = [r for r in result.rows("needs_review") if r.host_id == host_id]
    assert sorted(c["label"] for c in review.details["candidates"]) == ["Twin Peaks Cafe", "Twin Peaks Café"]
    assert len(rig.contacts()) == 2 and len(rig.clients()) == 1


def test_supplier_only_contacts_stay_out_by_default_and_customers_filter(rig: Rig) -> None:
    rig.seed_contacts(
        {"Name": "Timber Supplies", "IsSupplier": True},
        {"Name": "Both Ways Ltd", "IsSupplier": True, "IsCustomer": True},
        {"Name": "New Prospect"},
    )
    result = rig.sync(sync_items=False, sync_invoices=False)
    assert sorted(c.name for c in rig.clients()) == ["Both Ways Ltd", "New Prospect"]
    assert result.of("clients", "skipped") == 1


def test_customers_only_filter(rig: Rig) -> None:
    rig.seed_contacts(
        {"Name": "Timber Supplies", "IsSupplier": True},
        {"Name": "Paying Customer", "IsCustomer": True},
        {"Name": "New Prospect"},
    )
    rig.sync(sync_items=False, sync_invoices=False, contact_filter="customers")
    assert [c.name for c in rig.clients()] == ["Paying Customer"]


def test_a_supplier_with_the_host_clients_name_is_linked_not_duplicated(rig: Rig) -> None:
    rig.seed_contacts({"Name": "Timber Supplies", "IsSupplier": True})
    rig.add_client("Timber Supplies")
    result = rig.sync(sync_items=False, sync_invoices=False)
    assert result.of("clients", "linked") == 1
    assert len(rig.contacts()) == 1


def test_writes_decided_while_paging_do_not_push_unread_contacts_off_the_pages(rig: Rig) -> None:
    """Pages are ordered by UpdatedDateUTC: a contact written mid-pull would move behind the
    unread pages and slide an unread one onto a page already read."""
    rig.seed_contacts(*({"Name": f"Contact {n:02d}", "EmailAddress": f"c{n}@x.example"} for n in range(12)))
    for n in range(5):  # matches on the first page, each with a phone Xero lacks: a write back to Xero
        rig.add_client(f"Contact {n:02d}", f"c{n}@x.example", phone=f"09 555 01{n:02d}")

    result = rig.sync(page_size=5, sync_items=False, sync_invoices=False)

    assert result.of("clients", "linked") == 5 and result.of("clients", "created") == 7
    assert sorted(c.name for c in rig.clients()) == [f"Contact {n:02d}" for n in range(12)]
    assert all(p["PhoneNumber"] for c in rig.contacts()[:5] for p in c["Phones"] if p["PhoneType"] == "DEFAULT")
