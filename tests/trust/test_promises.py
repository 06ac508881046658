"""The promises of the clients sync, on generated worlds (Hypothesis: generated scenarios, and a
stateful machine for longer sequences of edits).

Both sides are generated from small pools so that they collide: shared and case-changed e-mails,
names that differ in case, spacing, accents and legal suffixes, archived and supplier-only
contacts, duplicates within one side; then edits on either or both sides between syncs, and a
switch to another organisation. Every sync is a real sync against the sandbox, and after each one:

- no record is created on the other side where a candidate existed;
- an ambiguous record is never linked (nor created);
- links are one-to-one;
- no host or Xero value changes without its old value in the run's log;
- a sync right after it writes nothing;
- nothing of one organisation reaches another.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from .promises import before, check_quiet, check_sync, links, xero_side
from .world import ACCOUNT, World

BASES = ("Acme Plumbing", "Coastal Cafe", "Bright Spark", "Tui Ridge")
EMAILS = ("info@acme.example", "hello@coastal.example", "shared@group.example", "")
PHONES = ("", "09 555 0101", "(09) 555-0101", "021 123 4567", "+44 20 7946 0958", "ext 5 ask for Jo")


@st.composite
def names(draw: st.DrawFn) -> str:
    base = draw(st.sampled_from(BASES))
    if draw(st.booleans()):
        base = base.replace("Cafe", "Café")
    style = draw(st.sampled_from(("as is", "lower", "upper", "spaced")))
    base = {"lower": base.lower(), "upper": base.upper(), "spaced": base.replace(" ", "  ")}.get(style, base)
    suffix = draw(st.sampled_from(("", "", " Ltd", " Limited", " & Co", " Group")))
    return base + suffix


@st.composite
def emails(draw: st.DrawFn) -> str:
    email = draw(st.sampled_from(EMAILS))
    return email.upper() if draw(st.booleans()) else email


@st.composite
def clients(draw: st.DrawFn) -> dict[str, Any]:
    email = draw(emails())
    return {"name": draw(names()), "email": email, "phone": draw(st.sampled_from(PHONES)),
            "archived": draw(st.booleans()) and draw(st.booleans())}


@st.composite
def contacts(draw: st.DrawFn) -> dict[str, Any]:
    supplier = draw(st.booleans())
    contact: dict[str, Any] = {"Name": draw(names()), "EmailAddress": draw(emails()).lower(),
                               "IsSupplier": supplier, "IsCustomer": not supplier or draw(st.booleans()),
                               "ContactStatus": "ARCHIVED" if draw(st.integers(0, 4)) == 0 else "ACTIVE"}
    phone = draw(st.sampled_from(PHONES))
    if phone:
        contact["Phones"] = [{"PhoneType": "DEFAULT", "PhoneNumber": phone}]
    if draw(st.integers(0, 5)) == 0:
        contact["ContactNumber"] = str(draw(st.integers(1, 8)))
    return contact


EDITS = st.one_of(
    st.tuples(st.just("client"), clients()),
    st.tuples(st.just("contact"), contacts()),
    st.tuples(st.just("edit client"), st.integers(0, 20), st.sampled_from(("name", "email", "phone")), names(),
              emails(), st.sampled_from(PHONES)),
    st.tuples(st.just("edit contact"), st.integers(0, 20), st.sampled_from(("Name", "EmailAddress")), names(),
              emails()),
    st.tuples(st.just("archive contact"), st.integers(0, 20)),
    st.tuples(st.just("edit both"), st.integers(0, 20), emails(), emails()),
)


def add_contact(world: World, contact: dict[str, Any]) -> None:
    """A person adds a contact in Xero (whose names are unique among active contacts)."""
    if contact["ContactStatus"] == "ACTIVE" and name_taken(world, contact["Name"]):
        return
    world.seed_contacts(contact)


def name_taken(world: World, name: str, except_id: str | None = None) -> bool:
    key = name.strip().casefold()
    return any(c["Name"].strip().casefold() == key and c["ContactStatus"] == "ACTIVE" and c["ContactID"] != except_id
               for c in world.contacts())


def apply(world: World, edit: tuple[Any, ...]) -> None:
    kind = edit[0]
    host_ids = sorted(world.host.clients.get(ACCOUNT, {}), key=int)
    found = world.contacts()
    if kind == "client":
        world.host.add_client(**edit[1])
    elif kind == "contact":
        add_contact(world, edit[1])
    elif kind == "edit client" and host_ids:
        _, index, field, name, email, phone = edit
        world.host.edit_client(host_ids[index % len(host_ids)], **{field: {"name": name, "email": email,
                                                                            "phone": phone}[field]})
    elif kind == "edit contact" and found:
        _, index, field, name, email = edit
        contact = found[index % len(found)]
        value = name if field == "Name" else email.lower()
        if field == "Name" and (contact["ContactStatus"] != "ACTIVE" or name_taken(world, value, contact["ContactID"])):
            return
        world.control.edit_contact(world.tenant, contact["ContactID"], **{field: value})
    elif kind == "archive contact" and found:
        world.control.archive_contact(world.tenant, found[edit[1] % len(found)]["ContactID"])
    elif kind == "edit both":
        pairs = sorted(links(world).items())
        if pairs:
            host_id, contact_id = pairs[edit[1] % len(pairs)]
            world.host.edit_client(host_id, email=edit[2])
            world.control.edit_contact(world.tenant, contact_id, EmailAddress=edit[3].lower())


def sync_and_check(world: World) -> None:
    was = before(world)
    result = world.sync()
    event(f"reviews: {min(result.of('clients', 'needs_review'), 3)}")
    event(f"links made: {min(result.of('clients', 'linked'), 3)}")
    check_sync(world, was, result.records)
    saves, counters = world.host.saves, world.counters()
    again = world.sync()
    check_quiet(world, saves, counters, again.records, retries=len(result.rows("failed")))


@settings(max_examples=120, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink], suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(host=st.lists(clients(), min_size=1, max_size=8), xero=st.lists(contacts(), min_size=1, max_size=8),
       rounds=st.lists(st.lists(EDITS, max_size=5), max_size=3),
       policy=st.sampled_from(("xero_wins", "host_wins")), contact_filter=st.sampled_from(("not_suppliers", "all")),
       switch=st.booleans())
def test_generated_scenarios(host: list[dict[str, Any]], xero: list[dict[str, Any]],
                             rounds: list[list[tuple[Any, ...]]], policy: str, contact_filter: str,
                             switch: bool) -> None:
    world = World(preferences={"conflict_policy": policy, "contact_filter": contact_filter})
    first = world.add_org("First Org")
    world.connect(first)
    for client in host:
        world.host.add_client(**client)
    for contact in xero:
        add_contact(world, contact)
    sync_and_check(world)
    for edits in rounds:
        for edit in edits:
            apply(world, edit)
        sync_and_check(world)
    if switch:
        first_contacts = set(xero_side(world, first).records)
        world.connect(world.add_org("Second Org"))
        assert not links(world), "links of the first organisation were carried into the second"
        was = before(world)
        result = world.sync()
        check_sync(world, was, result.records)
        leaked = [r.xero_id for r in result.records if r.xero_id in first_contacts]
        assert not leaked, f"the second organisation's sync reported the first's contacts {leaked}"


class SyncMachine(RuleBasedStateMachine):
    """One account, one or two organisations, and what people do on both sides between syncs."""

    def __init__(self) -> None:
        super().__init__()
        self.world = World()
        self.orgs = [self.world.add_org("First Org")]
        self.world.connect(self.orgs[0])
        self.synced = False

    @initialize(policy=st.sampled_from(("xero_wins", "host_wins")),
                contact_filter=st.sampled_from(("not_suppliers", "all")))
    def preferences(self, policy: str, contact_filter: str) -> None:
        self.world.preferences = {"conflict_policy": policy, "contact_filter": contact_filter}

    # People on the host side

    @rule(name=names(), email=emails(), phone=st.sampled_from(PHONES), archived=st.booleans())
    def add_client(self, name: str, email: str, phone: str, archived: bool) -> None:
        self.world.host.add_client(name=name, email=email, phone=phone, archived=archived and email == "")

    @precondition(lambda self: bool(self.world.host.clients.get(ACCOUNT)))
    @rule(data=st.data(), field=st.sampled_from(("name", "email", "phone")))
    def edit_client(self, data: st.DataObject, field: str) -> None:
        client_id = data.draw(st.sampled_from(sorted(self.world.host.clients[ACCOUNT])))
        value = data.draw({"name": names(), "email": emails(), "phone": st.sampled_from(PHONES)}[field])
        self.world.host.edit_client(client_id, **{field: value})

    # People in Xero

    @rule(name=names(), email=emails(), phone=st.sampled_from(PHONES), archived=st.booleans(),
          supplier=st.booleans())
    def add_contact(self, name: str, email: str, phone: str, archived: bool, supplier: bool) -> None:
        if not archived and self._name_taken(name):
            return
        contact: dict[str, Any] = {"Name": name, "EmailAddress": email.lower(), "IsSupplier": supplier,
                                   "IsCustomer": not supplier, "ContactStatus": "ARCHIVED" if archived else "ACTIVE"}
        if phone:
            contact["Phones"] = [{"PhoneType": "DEFAULT", "PhoneNumber": phone}]
        self.world.seed_contacts(contact)

    @precondition(lambda self: bool(self.world.contacts()))
    @rule(data=st.data(), field=st.sampled_from(("Name", "EmailAddress")))
    def edit_contact(self, data: st.DataObject, field: str) -> None:
        contact = data.draw(st.sampled_from(self.world.contacts()))
        value = data.draw(names() if field == "Name" else emails())
        if field == "Name" and (contact["ContactStatus"] != "ACTIVE" or self._name_taken(value, contact["ContactID"])):
            return
        self.world.control.edit_contact(self.world.tenant, contact["ContactID"], **{field: value})

    @precondition(lambda self: bool(self.world.contacts()))
    @rule(data=st.data())
    def archive_contact(self, data: st.DataObject) -> None:
        contact = data.draw(st.sampled_from(self.world.contacts()))
        self.world.control.archive_contact(self.world.tenant, contact["ContactID"])

    @precondition(lambda self: bool(links(self.world)))
    @rule(data=st.data(), host_email=emails(), xero_email=emails())
    def edit_both_sides(self, data: st.DataObject, host_email: str, xero_email: str) -> None:
        """The same field of a linked pair changed on both sides before the next sync."""
        host_id, contact_id = data.draw(st.sampled_from(sorted(links(self.world).items())))
        self.world.host.edit_client(host_id, email=host_email)
        self.world.control.edit_contact(self.world.tenant, contact_id, EmailAddress=xero_email.lower())

    # Syncing

    @rule()
    def sync(self) -> None:
        was = before(self.world)
        result = self.world.sync()
        event(f"sync of {len(was.host.records)} clients, {len(was.xero.records)} contacts")
        event(f"reviews: {min(result.of('clients', 'needs_review'), 3)}")
        check_sync(self.world, was, result.records)
        saves, counters = self.world.host.saves, self.world.counters()
        again = self.world.sync()
        check_quiet(self.world, saves, counters, again.records)
        self.synced = True

    @precondition(lambda self: self.synced and len(self.orgs) == 1)
    @rule()
    def switch_organisation(self) -> None:
        """Connect another organisation: it starts fresh, and nothing of the first reaches it."""
        first = self.orgs[0]
        first_contacts = set(xero_side(self.world, first).records)
        second = self.world.add_org("Second Org")
        self.orgs.append(second)
        self.world.connect(second)
        was = before(self.world)
        assert not was.links, "links of the first organisation were carried into the second"
        result = self.world.sync()
        check_sync(self.world, was, result.records)
        leaked = [r.xero_id for r in result.records if r.xero_id in first_contacts]
        assert not leaked, f"the second organisation's sync reported the first's contacts {leaked}"
        assert not set(links(self.world).values()) & first_contacts

    @invariant()
    def links_are_one_to_one(self) -> None:
        found = links(self.world)
        assert len(set(found.values())) == len(found)

    def _name_taken(self, name: str, except_id: str | None = None) -> bool:
        key = name.strip().casefold()
        return any(c["Name"].strip().casefold() == key and c["ContactStatus"] == "ACTIVE"
                   and c["ContactID"] != except_id for c in self.world.contacts())


SyncMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=12, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TestSyncPromises = SyncMachine.TestCase
