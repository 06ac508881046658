"""The preview: it reads Xero, decides, writes nothing on either side; the sync after it does
exactly what it showed, in about the calls it estimated; decisions taken in it are honoured."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flask_xerosync.models import Side
from flask_xerosync.sync import decisions
from flask_xerosync.sync.scope import Scope
from flask_xerosync.sync.store import SyncStore

from .promises import _writes, links
from .test_promises import EDITS, add_contact, apply, clients, contacts
from .world import ACCOUNT, SyncResult, World


def outcomes(result: SyncResult, leaving_out: frozenset[str] = frozenset()) -> Counter[tuple[str, str, str]]:
    """What a run did, record by record (unchanged reads left out: a preview reads what the sync
    then no longer needs to read)."""
    return Counter((r.stage, r.outcome, r.label) for r in result.records
                   if r.outcome != "unchanged" and r.label not in leaving_out)


def refused_for_a_taken_name(result: SyncResult) -> frozenset[str]:
    """The records Xero refused because another contact, one this incremental run never read, has
    the name they were given: a preview reads and writes nothing, so it cannot see Xero's
    unique-name check. Each must say so and how to fix it."""
    refused = [r for r in result.records if r.outcome == "failed" and "already assigned to another contact" in r.message]
    assert all(r.fix for r in refused), [(r.label, r.message) for r in refused]
    return frozenset(r.label for r in refused)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(host=st.lists(clients(), min_size=1, max_size=8), xero=st.lists(contacts(), min_size=1, max_size=8),
       edits=st.lists(EDITS, max_size=5), synced_first=st.booleans(),
       policy=st.sampled_from(("xero_wins", "host_wins")))
def test_a_preview_writes_nothing_and_the_sync_does_what_it_showed(
    host: list[dict[str, Any]], xero: list[dict[str, Any]], edits: list[tuple[Any, ...]], synced_first: bool,
    policy: str,
) -> None:
    world = World(preferences={"conflict_policy": policy})
    world.connect(world.add_org("Org"))
    for client in host:
        world.host.add_client(**client)
    for contact in xero:
        add_contact(world, contact)
    if synced_first:
        world.sync()
        for edit in edits:
            apply(world, edit)
    saves, writes, contacts_before = world.host.saves, _writes(world.counters()), world.contacts()
    preview = world.sync(preview=True)
    assert world.host.saves == saves, "the preview saved host records"
    assert _writes(world.counters()) == writes, "the preview wrote to Xero"
    assert world.contacts() == contacts_before
    calls_before = world.counters()["total_calls"]
    result = world.sync()
    unseen = refused_for_a_taken_name(result)
    assert outcomes(result, leaving_out=unseen) == outcomes(preview, leaving_out=unseen)
    calls = world.counters()["total_calls"] - calls_before
    assert preview.estimate is not None
    assert calls <= preview.estimate["calls"] + 1, (calls, preview.estimate)


def test_decisions_taken_in_the_preview_are_honoured() -> None:
    world = World()
    world.connect(world.add_org("Org"))
    cafe = world.host.add_client(name="Coastal Cafe", email="manager@coastalcafe.example")
    ltd, group = world.seed_contacts(
        {"Name": "Coastal Cafe Ltd", "EmailAddress": "manager@coastalcafe.example"},
        {"Name": "Coastal Café Group", "EmailAddress": "manager@coastalcafe.example"},
    )
    preview = world.sync(preview=True)
    assert [r.label for r in preview.rows("needs_review")] == ["Coastal Cafe", "Coastal Café Group", "Coastal Cafe Ltd"] \
        or sorted(r.label for r in preview.rows("needs_review")) == ["Coastal Cafe", "Coastal Cafe Ltd", "Coastal Café Group"]
    store, scope = SyncStore(world.session), Scope(ACCOUNT, world.tenant)
    decisions.decide(store, scope, Side.HOST, str(cafe.id), "link", ltd["ContactID"])
    decisions.decide(store, scope, Side.XERO, group["ContactID"], "create")
    world.session.commit()
    again = world.sync(preview=True)
    assert sorted((r.outcome, r.label) for r in again.records if r.outcome != "unchanged") == [
        ("created", "Coastal Café Group"), ("linked", "Coastal Cafe")]
    result = world.sync()
    assert links(world)[str(cafe.id)] == ltd["ContactID"]
    assert sorted(c.name for c in world.host.clients[ACCOUNT].values()) == ["Coastal Cafe", "Coastal Café Group"]
    quiet = world.sync()
    assert not [r for r in quiet.records if r.outcome != "unchanged"], [(r.outcome, r.label) for r in quiet.records]
    assert result.of("clients", "needs_review") == 0


def test_leaving_out_a_record_keeps_it_out() -> None:
    world = World()
    world.connect(world.add_org("Org"))
    world.host.add_client(name="Coastal Cafe", email="manager@coastalcafe.example")
    ltd, group = world.seed_contacts(
        {"Name": "Coastal Cafe Ltd", "EmailAddress": "manager@coastalcafe.example"},
        {"Name": "Coastal Café Group", "EmailAddress": "manager@coastalcafe.example"},
    )
    world.sync()
    store, scope = SyncStore(world.session), Scope(ACCOUNT, world.tenant)
    for contact in (ltd, group):
        decisions.decide(store, scope, Side.XERO, contact["ContactID"], "leave_out")
    world.session.commit()
    result = world.sync()
    skipped = {r.label: r.message for r in result.rows("skipped")}
    assert set(skipped) == {"Coastal Cafe Ltd", "Coastal Café Group"}
    assert all("your decision" in message for message in skipped.values())
    assert len(world.host.clients[ACCOUNT]) == 1
