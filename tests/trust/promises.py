"""The sync's promises, checked from the outside: snapshots of both sides before and after a sync,
the links, and the run's log. Written from the README's and DESIGN's words, with a key function of
its own (not the engine's), so the checks do not just repeat the engine's reading of the rules."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from flask_xerosync.models import Link, LinkKind, RecordResult

from .world import ACCOUNT, World

_LEGAL = {"ltd", "limited", "llc", "inc", "incorporated", "pty", "plc", "corp", "corporation", "co", "company", "gmbh"}


def name_key(name: str) -> str:
    """README: accents removed, case-folded, "&" read as "and", punctuation dropped, whitespace
    collapsed, a trailing legal form dropped, a leading "The" dropped."""
    text = unicodedata.normalize("NFKD", name.replace("&", " and "))
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    words = "".join(c if c.isalnum() or c.isspace() else " " for c in text).split()
    while len(words) > 1 and words[-1] in _LEGAL:
        words.pop()
    if len(words) > 1 and words[0] == "the":
        words.pop(0)
    return " ".join(words)


def email_key(email: str) -> str:
    return email.strip().casefold()


@dataclass(frozen=True)
class Side:
    """One side's records as plain dicts: id -> {"name", "email", "archived", "number"}."""

    records: dict[str, dict[str, Any]]


def host_side(world: World) -> Side:
    return Side({cid: {"name": c.name, "email": c.email, "archived": c.archived, "number": "", "phone": c.phone}
                 for cid, c in world.host.clients.get(ACCOUNT, {}).items()})


def xero_side(world: World, tenant_id: str | None = None) -> Side:
    return Side({c["ContactID"]: {"name": c.get("Name", ""), "email": c.get("EmailAddress", ""),
                                  "archived": c.get("ContactStatus") != "ACTIVE",
                                  "number": str(c.get("ContactNumber") or ""), "raw": c}
                 for c in world.contacts(tenant_id)})


def candidates(host_id: str, host: dict[str, Any], xero_id: str, xero: dict[str, Any]) -> bool:
    """README: the same records by the contact code, the e-mail or the name key."""
    if xero["number"] and xero["number"] == host_id:
        return True
    if email_key(host["email"]) and email_key(host["email"]) == email_key(xero["email"]):
        return True
    return bool(name_key(host["name"])) and name_key(host["name"]) == name_key(xero["name"])


def links(world: World, tenant_id: str | None = None) -> dict[str, str]:
    """host id -> ContactID, for the organisation."""
    rows = world.session.scalars(select(Link).where(
        Link.account_id == ACCOUNT, Link.tenant_id == (tenant_id or world.tenant), Link.kind == LinkKind.CLIENT))
    found = {row.host_id: row.xero_id for row in rows}
    return found


@dataclass
class Before:
    host: Side
    xero: Side
    links: dict[str, str]
    journal: int
    saves: int


def before(world: World) -> Before:
    return Before(host_side(world), xero_side(world), links(world), len(world.host.journal), world.host.saves)


def check_sync(world: World, was: Before, records: list[RecordResult]) -> None:
    """Every promise about one sync, given the world before it and the run's log.

    The rules decide with the values a sync settles first: a linked pair updated by this sync (an
    edit in Xero flowing here, say) is judged by its new values, every other record by its values
    before the sync.
    """
    now_host, now_xero, now_links = host_side(world), xero_side(world), links(world)
    _one_to_one(now_links)
    updated = [r for r in records if r.outcome == "updated"]
    original = was
    was = Before(
        Side({**was.host.records, **{r.host_id: now_host.records[r.host_id] for r in updated
                                     if r.host_id in was.host.records}}),
        Side({**was.xero.records, **{r.xero_id: now_xero.records[r.xero_id] for r in updated
                                     if r.xero_id in was.xero.records}}),
        was.links, was.journal, was.saves,
    )
    new_links = {h: x for h, x in now_links.items() if was.links.get(h) != x}
    for host_id, xero_id in new_links.items():
        host_new, xero_new = host_id not in was.host.records, xero_id not in was.xero.records
        assert not (host_new and xero_new), "a link between two records that did not exist before the sync"
        if xero_new:
            rivals = [x for x, rec in was.xero.records.items()
                      if candidates(host_id, was.host.records[host_id], x, rec)]
            assert not rivals, f"client {host_id} was created in Xero though {rivals} were candidates"
        elif host_new:
            rivals = [h for h, rec in was.host.records.items()
                      if candidates(h, rec, xero_id, was.xero.records[xero_id])]
            assert not rivals, f"contact {xero_id} was created here though clients {rivals} were candidates"
        else:
            _unambiguous(was, host_id, xero_id)
    for xero_id in set(now_xero.records) - set(was.xero.records):
        assert xero_id in now_links.values(), f"Xero contact {xero_id} was created but is linked to nothing"
    for host_id in set(now_host.records) - set(was.host.records):
        assert host_id in now_links, f"client {host_id} was created here but is linked to nothing"
    _changes_logged(world, original, now_xero, records)


def _one_to_one(found: dict[str, str]) -> None:
    assert len(set(found.values())) == len(found), "a Xero contact is linked to two clients"


def _unambiguous(was: Before, host_id: str, xero_id: str) -> None:
    host, xero = was.host.records[host_id], was.xero.records[xero_id]
    assert not xero["archived"] and not host["archived"], "linked to an archived record without a decision"
    if xero["number"] == host_id and sum(r["number"] == host_id for r in was.xero.records.values()) == 1:
        return
    of_host = [x for x, rec in was.xero.records.items() if candidates(host_id, host, x, rec)]
    of_xero = [h for h, rec in was.host.records.items() if candidates(h, rec, xero_id, xero)]
    assert of_host == [xero_id], f"client {host_id} was linked though it had candidates {of_host}"
    assert of_xero == [host_id], f"contact {xero_id} was linked though clients {of_xero} were candidates"


_XERO_FIELDS = {"Name": "name", "EmailAddress": "email", "FirstName": "first_name", "LastName": "last_name",
                "ContactStatus": "archived"}


def _changes_logged(world: World, was: Before, now_xero: Side, records: list[RecordResult]) -> None:
    """No value changes on either side without its old value in the run's log."""
    logged: set[tuple[str, str, str]] = set()
    for record in records:
        for change in (record.details or {}).get("changes", []):
            owner = record.host_id if change["side"] == "host" else record.xero_id
            logged.add((change["side"], str(owner), change["field"]))
    for write in world.host.journal[was.journal:]:
        assert ("host", write.client_id, write.field) in logged, \
            f"client {write.client_id}'s {write.field} changed from {write.old!r} to {write.new!r} unlogged"
    for xero_id, old in was.xero.records.items():
        new = now_xero.records.get(xero_id)
        assert new is not None
        for key, field in _XERO_FIELDS.items():
            if str(old["raw"].get(key) or "") != str(new["raw"].get(key) or ""):
                assert ("xero", xero_id, field) in logged, \
                    f"contact {xero_id}'s {key} changed from {old['raw'].get(key)!r} to {new['raw'].get(key)!r} unlogged"


def check_quiet(world: World, saves_before: int, counters_before: dict[str, Any], records: list[RecordResult],
                retries: int = 0) -> None:
    """A sync right after a sync writes nothing on either side (it only tries again, once each,
    the ``retries`` writes Xero refused in the sync before)."""
    assert world.host.saves == saves_before, "a second sync saved host records"
    writes = _writes(world.counters()) - _writes(counters_before)
    assert writes <= retries, f"a second sync made {writes} write calls to Xero"
    busy = [(r.outcome, r.label) for r in records if r.outcome in ("created", "updated", "linked")]
    assert not busy, f"a second sync reported writes: {busy}"


def _writes(counters: dict[str, Any]) -> int:
    by_method = counters.get("by_method") or {}
    return int(by_method.get("PUT", 0)) + int(by_method.get("POST", 0))
