"""Clients ⇄ Xero Contacts: the field mapping and the two-way clients stage.

The stage runs in three streaming steps so memory stays bounded by page and batch size:

1. scan the host clients changed since the last sync into compact indexes (ids, e-mails,
   normalised names), note which linked ones really changed (fingerprint differs), and spool
   them to a temporary file for step 3;
2. pull the Xero contacts changed since the last sync page by page (in ``ContactID`` order,
   see :meth:`XeroApi.iter_contact_pages`): echoes are counted as unchanged and skipped by
   fingerprint, Xero-side edits update the host (or lose to the host under ``host_wins``),
   unlinked contacts are matched to host clients or created in the host;
3. push, in full batches of 50, the writes step 2 decided (deferred to a second spool, so
   batches stay full across pages and a contact we create cannot come back on a later page of
   the same pull), then what the first spool still needs
   (edits of linked clients, and new clients created with ``ContactNumber`` = host id; a new
   client refused because Xero already has its name is looked up and linked when the match
   rules say it is the same client).

The next pull starts from Xero's clock at this pull's first page, less :data:`PULL_MARK_MARGIN`
(not from the newest ``UpdatedDateUTC`` seen): a contact edited in Xero while we page, or one
that joined a page already read, is found by the next pull; re-reading our own writes costs
no change (echo suppression).

Every page and batch is committed before the next call to Xero. So no write transaction is
open while a request runs (a token refresh stores the new token through its own connection,
which SQLite would block), and no host result stream is open across a commit (a commit closes
a server-side cursor on PostgreSQL): step 3 reads the spool, not the host.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import IO, Any

from ..errors import XeroRequestRejected
from ..host import Address, Client, HostData
from ..models import LinkKind, Outcome, utcnow
from ..xero.dates import parse_xero_date
from .context import SyncContext, batched, iso, parse_mark
from .fingerprint import fingerprint
from .matching import Match, MatchIndex, match_record, normalise_email, normalise_name
from .outcomes import TO_HOST, TO_XERO, fix_for, is_name_clash
from .store import LinkConflict

_RULE_ORDER = {"number": 0, "email": 1, "name": 2}
SYNCED_FIELDS = ("name", "email", "phone", "first_name", "last_name", "address", "archived")
_SCAN_CHUNK = 500
PUSH_BATCH = 50
PULL_MARK_MARGIN = timedelta(seconds=1)
"""Taken off Xero's clock for the next pull's ``If-Modified-Since``, which Xero compares to the
second: a contact edited in the second before the first page was served is read again."""


# Mapping


def _phone(contact: dict[str, Any]) -> str:
    phones = [phone for phone in contact.get("Phones") or [] if isinstance(phone, dict)]
    for wanted in ("DEFAULT", "MOBILE", "DDI"):
        for phone in phones:
            if phone.get("PhoneType") == wanted and phone.get("PhoneNumber"):
                parts = (phone.get("PhoneCountryCode"), phone.get("PhoneAreaCode"), phone.get("PhoneNumber"))
                return " ".join(str(part).strip() for part in parts if part and str(part).strip())
    return ""


def _address(contact: dict[str, Any]) -> Address | None:
    addresses = {a.get("AddressType"): a for a in contact.get("Addresses") or [] if isinstance(a, dict)}
    for wanted in ("STREET", "POBOX"):
        raw = addresses.get(wanted)
        if not raw:
            continue
        address = Address(
            line1=str(raw.get("AddressLine1") or "").strip(),
            line2=" ".join(
                str(raw.get(key) or "").strip() for key in ("AddressLine2", "AddressLine3", "AddressLine4")
            ).strip(),
            city=str(raw.get("City") or "").strip(),
            region=str(raw.get("Region") or "").strip(),
            postal_code=str(raw.get("PostalCode") or "").strip(),
            country=str(raw.get("Country") or "").strip(),
        )
        if not address.is_empty():
            return address
    return None


def xero_updated_at(record: dict[str, Any]) -> datetime | None:
    value = record.get("UpdatedDateUTC")
    try:
        return parse_xero_date(value) if value else None
    except ValueError:
        return None


def client_from_contact(contact: dict[str, Any], host_id: str | None = None) -> Client:
    """The host's view of a Xero contact (only the synced fields are meaningful)."""
    return Client(
        id=host_id,
        name=str(contact.get("Name") or "").strip(),
        email=str(contact.get("EmailAddress") or "").strip(),
        phone=_phone(contact),
        first_name=str(contact.get("FirstName") or "").strip(),
        last_name=str(contact.get("LastName") or "").strip(),
        address=_address(contact),
        updated_at=xero_updated_at(contact),
        archived=contact.get("ContactStatus") == "ARCHIVED",
    )


def synced_values(client: Client) -> dict[str, Any]:
    address = client.address if client.address is not None and not client.address.is_empty() else None
    return {
        "name": client.name.strip(),
        "email": client.email.strip().casefold(),
        "phone": client.phone.strip(),
        "first_name": client.first_name.strip(),
        "last_name": client.last_name.strip(),
        "address": None
        if address is None
        else [address.line1, address.line2, address.city, address.region, address.postal_code, address.country],
        "archived": bool(client.archived),
    }


def client_fingerprint(client: Client) -> str:
    return fingerprint(synced_values(client))


def contact_payload(client: Client, contact_id: str | None) -> dict[str, Any]:
    """The Xero contact for a host client: ``ContactID`` when linked, else ``ContactNumber`` =
    host id (a re-run after a crash finds the contact by it, through the pull's number rule or
    the name-clash lookup, instead of creating it twice)."""
    address = client.address or Address()
    payload: dict[str, Any] = {
        "Name": client.name.strip(),
        "FirstName": client.first_name.strip(),
        "LastName": client.last_name.strip(),
        "EmailAddress": client.email.strip(),
        "ContactStatus": "ARCHIVED" if client.archived else "ACTIVE",
        "Phones": [{"PhoneType": "DEFAULT", "PhoneNumber": client.phone.strip()}],
        "Addresses": [
            {
                "AddressType": "STREET",
                "AddressLine1": address.line1,
                "AddressLine2": address.line2,
                "City": address.city,
                "Region": address.region,
                "PostalCode": address.postal_code,
                "Country": address.country,
            }
        ],
    }
    if contact_id:
        payload["ContactID"] = contact_id
    else:
        payload["ContactNumber"] = str(client.id)
    return payload


def take_synced(base: Client, source: Client) -> Client:
    """``base`` (a host client: id and host-only fields kept) with ``source``'s synced values."""
    return replace(base, **{name: getattr(source, name) for name in SYNCED_FIELDS})


def merge_for_link(winner: Client, loser: Client, base: Client) -> Client:
    """First link of two records: the winner's values, the loser's where the winner has none."""
    merged = {
        name: getattr(winner, name) if (getattr(winner, name) or name == "archived") else getattr(loser, name)
        for name in SYNCED_FIELDS
    }
    return replace(base, **merged)


def _display(value: Any) -> Any:
    if isinstance(value, Address):
        return ", ".join(part for part in (value.line1, value.line2, value.city, value.region,
                                           value.postal_code, value.country) if part)
    return value


def losing_values(kept: Client, other: Client) -> dict[str, Any]:
    """The other side's values that did not survive, field by field."""
    kept_values, other_values = synced_values(kept), synced_values(other)
    return {
        name: _display(getattr(other, name))
        for name in SYNCED_FIELDS
        if kept_values[name] != other_values[name]
    }


def candidate_of_client(client: Client) -> dict[str, Any]:
    return {"host_id": client.id, "name": client.name, "email": client.email}


def candidate_of_contact(contact: dict[str, Any]) -> dict[str, Any]:
    return {
        "xero_id": contact.get("ContactID"),
        "name": contact.get("Name") or "",
        "email": contact.get("EmailAddress") or "",
    }


def host_clients_by_id(host: HostData, account_id: str, ids: Iterable[str]) -> dict[str, Client]:
    """Host clients by id: ``host.get_clients`` when the host offers it, else one scan of all
    clients keeping only the wanted ones (memory stays bounded by ``ids``)."""
    wanted = set(ids)
    if not wanted:
        return {}
    get_clients = getattr(host, "get_clients", None)
    if callable(get_clients):
        return {client.id: client for client in get_clients(account_id, sorted(wanted)) if client.id in wanted}
    return {client.id: client for client in host.list_clients(account_id, None) if client.id in wanted}


def _read_spool(spool: IO[bytes]) -> Iterator[Any]:
    """The records a spool holds, in the order they were written (it is our own temporary file)."""
    while True:
        try:
            yield pickle.load(spool)
        except EOFError:
            return


def passes_filter(contact: dict[str, Any], contact_filter: str) -> bool:
    """Which Xero contacts come into the host (``Preferences.contact_filter``)."""
    customer, supplier = bool(contact.get("IsCustomer")), bool(contact.get("IsSupplier"))
    if contact_filter == "customers":
        return customer
    if contact_filter == "all":
        return True
    return customer or not supplier


# Pushing


@dataclass
class _Push:
    client: Client
    contact_id: str | None
    outcome: str
    details: dict[str, Any] | None


class ContactPusher:
    """Buffers host clients to write to Xero and writes them in batches of at most 50: edits of
    linked clients as ``POST`` upserts by ``ContactID``, new clients as ``PUT`` creates (a
    ``POST`` would silently merge a new client into any Xero contact that has its name)."""

    def __init__(self, ctx: SyncContext) -> None:
        self.ctx = ctx
        self.updates: list[_Push] = []
        self.creates: list[_Push] = []

    def add(self, client: Client, contact_id: str | None, outcome: str, details: dict[str, Any] | None = None) -> None:
        """Queue a write; ``outcome`` is recorded on success ("" when another row already tells it)."""
        (self.updates if contact_id else self.creates).append(_Push(client, contact_id, outcome, details))

    def flush(self, *, full_batches_only: bool = False) -> None:
        """Write the queues to Xero (the client sends batches of at most 50), recording each
        result. ``full_batches_only`` keeps a remainder of fewer than 50 queued, so batches stay
        full. The Xero updates that linking a new client may queue are written in the same way."""
        while True:
            updated = self._write(self.updates, full_batches_only, create=False)
            created = self._write(self.creates, full_batches_only, create=True)
            if not (updated or created):
                return

    def _write(self, queue: list[_Push], full_batches_only: bool, *, create: bool) -> bool:
        """Commit what is pending in the database, send the queue's (full) batches, record each
        result and commit again; then look up each new client refused for a name clash (one
        call each, committing after each). Returns whether anything was sent."""
        cut = len(queue) - len(queue) % PUSH_BATCH if full_batches_only else len(queue)
        if not cut:
            return False
        pushes = queue[:cut]
        del queue[:cut]
        ctx = self.ctx
        ctx.store.commit()
        payloads = [contact_payload(p.client, p.contact_id) for p in pushes]
        results = ctx.client.create_contacts(payloads) if create else ctx.client.upsert_contacts(payloads)
        clashes: list[tuple[_Push, list[str]]] = []
        for push, result in zip(pushes, results, strict=True):
            if create and not result.ok and is_name_clash(result.messages):
                clashes.append((push, result.messages))
            else:
                self._apply(push, result.ok, result.record, result.messages)
        ctx.store.commit()
        for push, messages in clashes:
            self._resolve_clash(push, messages)
            ctx.store.commit()
        return True

    def _resolve_clash(self, push: _Push, messages: list[str]) -> None:
        """Xero already has an active contact with this new client's name: link the two when
        they are the same client (see :meth:`_same_client`), else report the plain fix."""
        ctx, client = self.ctx, push.client
        try:
            found = ctx.client.find_contacts_by_name(client.name)
        except XeroRequestRejected as exc:
            contact, rule, why_not = None, "", f"Looking the contact up in Xero failed: {exc}"
        else:
            contact, rule, why_not = self._same_client(client, found)
        if contact is None:
            ctx.record(
                Outcome.FAILED, direction=TO_XERO, label=client.name, host_id=client.id,
                message="; ".join(messages), fix=fix_for(messages),
                details={**(push.details or {}), "not_linked": why_not},
            )
            return
        self._link_existing(push, contact, rule)

    def _same_client(self, client: Client, found: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, str, str]:
        """The Xero contact that is this client, by the match rules: the same normalised name,
        not linked to another client here, and either its ``ContactNumber`` is this client's id
        (written by an earlier run that stopped before recording it) or the same e-mail when both
        have one (a client without an e-mail matches on the name alone). Returns (contact, rule,
        why not)."""
        ctx, key = self.ctx, normalise_name(client.name)
        named = [c for c in found if c.get("ContactID") and normalise_name(str(c.get("Name") or "")) == key
                 and c.get("ContactStatus") != "ARCHIVED"]
        links = ctx.store.links_by_xero(ctx.scope, LinkKind.CLIENT, [c["ContactID"] for c in named])
        free = [c for c in named if c["ContactID"] not in links or links[c["ContactID"]].host_id == str(client.id)]
        if not free:
            why = "it is linked to another client here" if named else "Xero did not return it"
            return None, "", f"The Xero contact with this name was not linked: {why}."
        ours = [c for c in free if str(c.get("ContactNumber") or "") == str(client.id)]
        if len(ours) == 1:
            return ours[0], "number", ""
        host_email = normalise_email(client.email)
        same = [c for c in free if normalise_email(str(c.get("EmailAddress") or "")) == host_email] if host_email \
            else free
        if len(same) != 1:
            return None, "", ("The Xero contact with this name has a different e-mail address, so it may be "
                              "another client." if host_email else "Several Xero contacts have this name.")
        return same[0], "email" if host_email else "name", ""

    def _link_existing(self, push: _Push, contact: dict[str, Any], rule: str) -> None:
        """Link a new client to the Xero contact that already has its name; the conflict policy
        decides whose values win, the other side's fill the gaps, and each side that differs
        from the result is updated (the host now, Xero through the queue)."""
        ctx, client, contact_id = self.ctx, push.client, str(contact["ContactID"])
        xero_value = client_from_contact(contact)
        policy = ctx.preferences.conflict_policy or "xero_wins"
        winner, loser = (xero_value, client) if policy == "xero_wins" else (client, xero_value)
        merged = merge_for_link(winner, loser, client)
        needs_push = client_fingerprint(merged) != client_fingerprint(xero_value)
        try:
            ctx.store.save_link(
                ctx.scope, LinkKind.CLIENT, str(client.id), contact_id,
                fingerprint=client_fingerprint(xero_value if needs_push else merged),
                xero_key=normalise_name(xero_value.name), xero_updated_at=xero_updated_at(contact),
            )
        except LinkConflict:
            ctx.record(
                Outcome.NEEDS_REVIEW, direction=TO_XERO, label=client.name, host_id=client.id, xero_id=contact_id,
                message="Xero has a contact with this name that is already linked to another client.",
                fix="Two clients here look like the same Xero contact. Merge them here, or rename one.",
                details={"candidates": [candidate_of_contact(contact)], "kind": "client"},
            )
            return
        if client_fingerprint(merged) != client_fingerprint(client):
            ctx.host.save_clients(ctx.account_id, [merged])
        if needs_push:
            self.add(merged, contact_id, "")
        details = {**(push.details or {}), "rule": rule, "found_by": "name clash",
                   "losing": losing_values(merged, loser)}
        ctx.record(Outcome.LINKED, direction=TO_XERO, label=merged.name, host_id=client.id, xero_id=contact_id,
                   details=details)

    def _apply(self, push: _Push, ok: bool, record: dict[str, Any], messages: list[str]) -> None:
        ctx, client = self.ctx, push.client
        if not ok:
            ctx.record(
                Outcome.FAILED,
                direction=TO_XERO,
                label=client.name,
                host_id=client.id,
                xero_id=push.contact_id,
                message="; ".join(messages),
                fix=fix_for(messages),
                details=push.details,
            )
            return
        contact_id = str(record.get("ContactID") or push.contact_id or "")
        try:
            ctx.store.save_link(
                ctx.scope,
                LinkKind.CLIENT,
                str(client.id),
                contact_id,
                fingerprint=client_fingerprint(client),
                xero_key=normalise_name(client.name),
                xero_updated_at=xero_updated_at(record),
            )
        except LinkConflict:
            ctx.record(
                Outcome.NEEDS_REVIEW,
                direction=TO_XERO,
                label=client.name,
                host_id=client.id,
                xero_id=contact_id,
                message="Xero matched this client to a contact that is already linked to another client.",
                fix="Two clients here look like the same Xero contact. Merge them here, or rename one.",
                details={"candidates": [candidate_of_contact(record)]},
            )
            return
        if push.outcome:
            ctx.record(push.outcome, direction=TO_XERO, label=client.name, host_id=client.id, xero_id=contact_id,
                       details=push.details)


# The stage


@dataclass
class _Decision:
    action: str  # "update", "pair" or "create"
    contact: dict[str, Any]
    value: Client
    host_id: str | None = None
    rule: str = ""


_Save = tuple[Client, _Decision, str, "dict[str, Any] | None"]
"""A host save of step 2: the client, why, the outcome to record and its details."""


class ClientsStage:
    """Two-way sync of host clients and Xero contacts (see the module docstring)."""

    def __init__(self, ctx: SyncContext, marks: dict[str, str]) -> None:
        self.ctx = ctx
        self.host_mark = parse_mark(marks.get("host_clients"))
        self.xero_mark = parse_mark(marks.get("xero_contacts"))
        self.policy = ctx.preferences.conflict_policy or "xero_wins"
        self.contact_filter = ctx.preferences.contact_filter or "not_suppliers"
        self.host_index = MatchIndex()
        self.xero_index = MatchIndex()
        self.host_changed: set[str] = set()
        self.handled: set[str] = set()
        self.held: set[str] = set()
        self.claimed: dict[str, str] = {}
        self.reviewed: set[str] = set()
        self.pull_started: datetime | None = None
        self.pusher = ContactPusher(ctx)
        self.deferred: IO[bytes]
        self.host_total = 0
        self.xero_seen = 0

    def run(self) -> dict[str, str]:
        started = utcnow()
        with tempfile.TemporaryFile() as changed, tempfile.TemporaryFile() as deferred:
            self.deferred = deferred
            self.host_total = self._scan_host(changed)
            self.ctx.enter("clients", self.host_total)
            for page in self.ctx.client.iter_contact_pages(self.xero_mark, include_archived=True):
                if page.number == 1:
                    self.pull_started = page.xero_time
                if page.contacts:
                    self._handle_page(page.contacts)
            deferred.seek(0)
            changed.seek(0)
            self._push(_read_spool(deferred), _read_spool(changed))
        return {"xero_contacts": iso(self._next_xero_mark()) or "", "host_clients": iso(started) or ""}

    def _next_xero_mark(self) -> datetime | None:
        """Where the next pull starts: Xero's clock at this pull's first page less the margin,
        to the second. Without that clock (a ``304``, or an answer without ``DateTimeUTC``)
        the mark stays where it was: the next pull reads more, but misses nothing."""
        if self.pull_started is None:
            return self.xero_mark
        return (self.pull_started - PULL_MARK_MARGIN).replace(microsecond=0)

    def _defer(self, client: Client, contact_id: str, outcome: str, details: dict[str, Any] | None = None) -> None:
        """A write to Xero decided while pulling, sent after the pull (see the module docstring)."""
        pickle.dump(_Push(client, contact_id, outcome, details), self.deferred, protocol=pickle.HIGHEST_PROTOCOL)

    # Step 1

    def _scan_host(self, spool: IO[bytes]) -> int:
        ctx, total = self.ctx, 0
        for chunk in batched(ctx.host.list_clients(ctx.account_id, self.host_mark), _SCAN_CHUNK):
            links = ctx.store.links_by_host(ctx.scope, LinkKind.CLIENT, [str(c.id) for c in chunk])
            for client in chunk:
                total += 1
                pickle.dump(client, spool, protocol=pickle.HIGHEST_PROTOCOL)
                link = links.get(str(client.id))
                if link is not None:
                    if client_fingerprint(client) != link.fingerprint:
                        self.host_changed.add(str(client.id))
                elif not client.archived:
                    self.host_index.add(str(client.id), client.email, client.name)
        return total

    # Step 2

    def _handle_page(self, page: Sequence[dict[str, Any]]) -> None:
        ctx = self.ctx
        contacts = [contact for contact in page if contact.get("ContactID")]
        links = ctx.store.links_by_xero(ctx.scope, LinkKind.CLIENT, [c["ContactID"] for c in contacts])
        for contact in contacts:
            if contact["ContactID"] not in links and contact.get("ContactStatus") != "ARCHIVED":
                self.xero_index.add(contact["ContactID"], contact.get("EmailAddress") or "", contact.get("Name") or "")
        decisions: list[_Decision] = []
        wanted: set[str] = set()
        reviews: list[tuple[dict[str, Any], list[str]]] = []
        unlinked: list[tuple[dict[str, Any], Client, Match]] = []
        for contact in contacts:
            value = client_from_contact(contact)
            link = links.get(contact["ContactID"])
            if link is not None:
                if client_fingerprint(value) == link.fingerprint:
                    ctx.count(Outcome.UNCHANGED)
                else:
                    decisions.append(_Decision("update", contact, value, link.host_id))
                    wanted.add(link.host_id)
            elif value.archived:
                ctx.count(Outcome.SKIPPED)
            else:
                found = match_record(
                    record_id=contact["ContactID"], email=value.email, name=value.name,
                    own_side=self.xero_index, other_side=self.host_index,
                    number_hint=str(contact.get("ContactNumber") or ""),
                )
                unlinked.append((contact, value, found))
        # Stronger rules claim their host client first: ContactNumber, then e-mail, then name.
        unlinked.sort(key=lambda entry: _RULE_ORDER.get(entry[2].rule, len(_RULE_ORDER)))
        for contact, value, found in unlinked:
            single = found.candidates[0] if len(found.candidates) == 1 else None
            if single is not None and not found.rivals and single not in self.claimed and single not in self.held:
                self.claimed[single] = contact["ContactID"]
                decisions.append(_Decision("pair", contact, value, single, found.rule))
                wanted.add(single)
            elif single is not None and found.rivals:
                self.held.add(single)
                wanted.add(single)
                reviews.append((contact, [single]))
            elif found.candidates:
                self.held.update(found.candidates)
                wanted.update(found.candidates)
                reviews.append((contact, list(found.candidates)))
            elif passes_filter(contact, self.contact_filter):
                decisions.append(_Decision("create", contact, value))
            else:
                ctx.count(Outcome.SKIPPED)
        host_values = host_clients_by_id(ctx.host, ctx.account_id, wanted)
        by_id = {contact["ContactID"]: contact for contact in contacts}
        for contact, candidate_ids in reviews:
            self._review(contact, candidate_ids, host_values, by_id)
        self._apply(decisions, host_values)
        ctx.store.commit()
        self.xero_seen += len(contacts)
        ctx.progress(len(contacts), total=self.host_total + self.xero_seen)

    def _review(self, contact: dict[str, Any], candidate_ids: list[str], host_values: dict[str, Client],
                page: dict[str, dict[str, Any]]) -> None:
        """Ambiguous matches: one row per host client, listing the Xero contacts it could be.

        A Xero contact whose only candidate is already matched to another contact gets a row of
        its own (it can then be created here as a new client).
        """
        ctx = self.ctx
        candidates = [host_values[i] for i in candidate_ids if i in host_values]
        if len(candidates) == 1 and candidates[0].id in self.claimed:
            ctx.record(
                Outcome.NEEDS_REVIEW, direction=TO_HOST, label=contact.get("Name") or "",
                xero_id=contact["ContactID"],
                message=f"Looks like {candidates[0].name}, who is already linked to another Xero contact.",
                fix="Merge the two contacts in Xero, or create this one here as a new client.",
                details={"kind": "client", "candidates": [], "xero_contact": candidate_of_contact(contact),
                         "matched": [candidate_of_client(candidates[0])]},
            )
            return
        if len(candidates) == 1:
            rivals = self.xero_index.with_name(candidates[0].name) or [contact["ContactID"]]
            xero_candidates = [candidate_of_contact(page[r]) if r in page else
                               {"xero_id": r, "name": candidates[0].name, "email": ""} for r in rivals]
        else:
            xero_candidates = [candidate_of_contact(contact)]
        for client in candidates:
            if str(client.id) in self.reviewed:
                continue
            self.reviewed.add(str(client.id))
            ctx.record(
                Outcome.NEEDS_REVIEW, direction=TO_XERO, label=client.name, host_id=client.id,
                message="Other clients here look like the same Xero contact." if len(candidates) > 1
                else f"{len(xero_candidates)} Xero contacts look like this client.",
                fix="Pick the Xero contact it is, or create it in Xero as a new contact.",
                details={"kind": "client", "candidates": xero_candidates},
            )

    def _apply(self, decisions: list[_Decision], host_values: dict[str, Client]) -> None:
        ctx = self.ctx
        saves: list[_Save] = []
        for decision in decisions:
            contact_id = decision.contact["ContactID"]
            if decision.action == "create":
                saves.append((replace(decision.value, id=None, updated_at=None), decision, Outcome.CREATED, None))
                continue
            host_id = str(decision.host_id)
            self.handled.add(host_id)
            current = host_values.get(host_id)
            if current is None:
                ctx.record(
                    Outcome.FAILED, direction=TO_HOST, label=decision.value.name, host_id=host_id, xero_id=contact_id,
                    message="The client linked to this Xero contact no longer exists here.",
                    fix="Nothing to do if it was deleted on purpose; the Xero contact is left as it is.",
                )
                continue
            if decision.action == "update":
                saves.extend(self._update(current, decision))
            else:
                saves.extend(self._pair(current, decision))
        if not saves:
            return
        host_ids = ctx.host.save_clients(ctx.account_id, [client for client, *_ in saves])
        for host_id, (client, decision, outcome, details) in zip(host_ids, saves, strict=True):
            saved = replace(client, id=str(host_id))
            contact_id = decision.contact["ContactID"]
            if not (details and details.get("pushed")):
                ctx.store.save_link(
                    ctx.scope, LinkKind.CLIENT, str(host_id), contact_id,
                    fingerprint=client_fingerprint(saved), xero_key=normalise_name(saved.name),
                    xero_updated_at=xero_updated_at(decision.contact),
                )
            self.handled.add(str(host_id))
            ctx.record(outcome, direction=TO_HOST, label=saved.name, host_id=str(host_id), xero_id=contact_id,
                       details={k: v for k, v in (details or {}).items() if k != "pushed"} or None)

    def _update(self, current: Client, decision: _Decision) -> list[_Save]:
        """A linked contact edited in Xero (and maybe in the host too: a conflict)."""
        conflict = str(current.id) in self.host_changed
        if conflict and self.policy == "host_wins":
            self._defer(
                current, decision.contact["ContactID"], Outcome.UPDATED,
                {"conflict": "Changed here and in Xero; this app's values were kept (policy: this app wins).",
                 "losing": losing_values(current, decision.value)},
            )
            return []
        updated = take_synced(current, decision.value)
        details = None
        if conflict:
            details = {"conflict": "Changed here and in Xero; Xero's values were kept (policy: Xero wins).",
                       "losing": losing_values(updated, current)}
        return [(updated, decision, Outcome.UPDATED, details)]

    def _pair(self, current: Client, decision: _Decision) -> list[_Save]:
        """First link of a host client and a Xero contact found by the match rules."""
        ctx, xero_value = self.ctx, decision.value
        contact_id = decision.contact["ContactID"]
        details: dict[str, Any] = {"rule": decision.rule}
        if client_fingerprint(current) == client_fingerprint(xero_value):
            ctx.store.save_link(
                ctx.scope, LinkKind.CLIENT, str(current.id), contact_id,
                fingerprint=client_fingerprint(current), xero_key=normalise_name(current.name),
                xero_updated_at=xero_updated_at(decision.contact),
            )
            ctx.record(Outcome.LINKED, direction=TO_HOST, label=current.name, host_id=current.id,
                       xero_id=contact_id, details=details)
            return []
        winner, loser = (xero_value, current) if self.policy == "xero_wins" else (current, xero_value)
        merged = merge_for_link(winner, loser, current)
        details["losing"] = losing_values(merged, loser)
        ctx.store.save_link(
            ctx.scope, LinkKind.CLIENT, str(current.id), contact_id,
            fingerprint=client_fingerprint(xero_value), xero_key=normalise_name(xero_value.name),
            xero_updated_at=xero_updated_at(decision.contact),
        )
        needs_push = client_fingerprint(merged) != client_fingerprint(xero_value)
        if client_fingerprint(merged) != client_fingerprint(current):
            if needs_push:
                self._defer(merged, contact_id, "")
                details["pushed"] = True
            return [(merged, decision, Outcome.LINKED, details)]
        self._defer(merged, contact_id, Outcome.LINKED, details)
        return []

    # Step 3

    def _push(self, deferred: Iterator[_Push], changed: Iterator[Client]) -> None:
        ctx, pusher = self.ctx, self.pusher
        ctx.progress(0, total=self.host_total + self.xero_seen)
        for push in deferred:
            pusher.add(push.client, push.contact_id, push.outcome, push.details)
            pusher.flush(full_batches_only=True)
        pushed_names: set[str] = set()
        for chunk in batched(changed, PUSH_BATCH):
            links = ctx.store.links_by_host(ctx.scope, LinkKind.CLIENT, [str(c.id) for c in chunk])
            new_clients: list[Client] = []
            for client in chunk:
                host_id = str(client.id)
                if host_id in self.handled or host_id in self.held:
                    continue
                link = links.get(host_id)
                if link is not None:
                    if client_fingerprint(client) != link.fingerprint:
                        pusher.add(client, link.xero_id, Outcome.UPDATED)
                elif client.archived:
                    ctx.count(Outcome.SKIPPED)
                else:
                    new_clients.append(client)
            taken = ctx.store.links_by_key(ctx.scope, LinkKind.CLIENT, [normalise_name(c.name) for c in new_clients])
            for client in new_clients:
                key = normalise_name(client.name)
                holder = taken.get(key)
                if holder is not None or key in pushed_names:
                    ctx.record(
                        Outcome.NEEDS_REVIEW if holder is not None else Outcome.FAILED,
                        direction=TO_XERO, label=client.name, host_id=client.id,
                        xero_id=holder.xero_id if holder is not None else None,
                        message=f"Another client called {client.name} is already in Xero.",
                        fix=f"A different Xero contact is already called {client.name}. Rename one of them, "
                        "or link this client to it, then sync again.",
                        details={"candidates": [{"xero_id": holder.xero_id, "name": client.name, "email": ""}],
                                 "kind": "client"}
                        if holder is not None else None,
                    )
                    continue
                pushed_names.add(key)
                pusher.add(client, None, Outcome.CREATED)
            pusher.flush(full_batches_only=True)
            ctx.store.commit()
            ctx.progress(len(chunk))
        pusher.flush()
