"""Step 2 of the clients stage: decide, for a batch of unsettled records, what each one needs.

Linked records follow the field-by-field merge (``sync.merge``); the others go through the match
rules (``sync.rules``) against *every* record the cache knows on the other side. The lookups are
set-based: a handful of queries per batch, whatever the batch holds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ...host import Client
from ...models import Decision, Link, LinkKind, Side
from .. import merge, rules
from ..context import SyncContext
from ..known import Known, KnownRecords
from ..outcomes import TO_HOST, TO_XERO
from . import mapping
from .units import CREATE_HERE, CREATE_IN_XERO, LINK, REVIEW, SKIP, UNCHANGED, UPDATE, Unit

USE_XERO = "use_xero"
USE_HOST = "use_host"
_FILTER_REASONS = {
    "customers": "Not a customer in Xero (your preference: customers only).",
    "not_suppliers": "A supplier only in Xero (your preference: every contact except supplier-only ones).",
}


def other(side: str) -> str:
    return Side.XERO if side == Side.HOST else Side.HOST


def passes_filter(row: Known, contact_filter: str) -> bool:
    """Which Xero contacts come into the host (``Preferences.contact_filter``)."""
    customer, supplier = row.flag("customer"), row.flag("supplier")
    if contact_filter == "customers":
        return customer
    if contact_filter == "all":
        return True
    return customer or not supplier


def candidate_view(candidate: rules.Candidate, row: Known, side: str, linked_label: str | None) -> dict[str, Any]:
    """A candidate as the run log and the review form show it."""
    return {
        "side": side, "id": row.record_id, "label": row.label, "email": row.values.get("email", ""),
        "rules": list(candidate.rules), "archived": row.archived, "linked_to": linked_label,
    }


def _keys(row: Known, linked_to: str | None) -> rules.Keys:
    return rules.Keys(row.record_id, row.email_key, row.name_key, row.number, row.archived, linked_to)


class KeyIndex:
    """Records of one side by each match key, so each record of the other side finds its
    candidates by lookups rather than by comparing with every record."""

    def __init__(self, rows: Iterable[Known]) -> None:
        self.by_id: dict[str, Known] = {}
        self.by_email: dict[str, list[Known]] = defaultdict(list)
        self.by_name: dict[str, list[Known]] = defaultdict(list)
        self.by_number: dict[str, list[Known]] = defaultdict(list)
        for row in rows:
            if row.record_id in self.by_id:
                continue
            self.by_id[row.record_id] = row
            for key, index in ((row.email_key, self.by_email), (row.name_key, self.by_name),
                               (row.number, self.by_number)):
                if key:
                    index[key].append(row)

    @property
    def rows(self) -> list[Known]:
        return list(self.by_id.values())

    def matches(self, row: Known, side: str) -> dict[str, tuple[Known, tuple[str, ...]]]:
        """The indexed records (of the side opposite ``side``) that share a key with ``row``, with
        the rules they share, strongest first."""
        found: dict[str, list[str]] = defaultdict(list)
        if side == Side.HOST:
            numbered = self.by_number.get(row.record_id, [])
        else:
            numbered = [self.by_id[row.number]] if row.number and row.number in self.by_id else []
        for candidate in numbered:
            found[candidate.record_id].append(rules.NUMBER)
        if row.email_key:
            for candidate in self.by_email.get(row.email_key, ()):
                found[candidate.record_id].append(rules.EMAIL)
        if row.name_key:
            for candidate in self.by_name.get(row.name_key, ()):
                found[candidate.record_id].append(rules.NAME)
        return {record_id: (self.by_id[record_id], tuple(shared)) for record_id, shared in found.items()}


class Decider:
    """Turns unsettled known records into units of work (see the module docstring)."""

    def __init__(self, ctx: SyncContext, known: KnownRecords) -> None:
        self.ctx = ctx
        self.known = known
        self.policy = ctx.preferences.conflict_policy or merge.XERO_WINS
        self.contact_filter = ctx.preferences.contact_filter or "not_suppliers"

    def same(self, name: str, first: Any, second: Any) -> bool:
        return mapping.same(name, first, second, self.ctx.region)

    # Links of either side

    def _links(self, side: str, ids: Sequence[str]) -> dict[str, Link]:
        store, scope = self.ctx.store, self.ctx.scope
        if side == Side.HOST:
            return store.links_by_host(scope, LinkKind.CLIENT, ids)
        return store.links_by_xero(scope, LinkKind.CLIENT, ids)

    @staticmethod
    def _partner(side: str, link: Link) -> str:
        return link.xero_id if side == Side.HOST else link.host_id

    def units_for(self, side: str, rows: Sequence[Known], *, linked: bool) -> list[Unit]:
        """Units for the ``linked`` records among ``rows`` (their changes), or for the others (the
        match rules). A run settles the linked ones first, so the rules see their new values."""
        links = self._links(side, [row.record_id for row in rows])
        if linked:
            chosen = [row for row in rows if row.record_id in links]
            return self._follow(side, chosen, links) if chosen else []
        chosen = [row for row in rows if row.record_id not in links]
        return self._decide(side, chosen) if chosen else []

    # Linked pairs

    def _follow(self, side: str, rows: Sequence[Known], links: Mapping[str, Link]) -> list[Unit]:
        ctx = self.ctx
        partners = self.known.by_ids(other(side), [self._partner(side, links[row.record_id]) for row in rows])
        pairs = []
        for row in rows:
            link = links[row.record_id]
            pairs.append((link, row if side == Side.XERO else partners.get(link.xero_id)))
        decisions = ctx.store.decisions(ctx.scope, LinkKind.CLIENT, Side.HOST, [link.host_id for link, _ in pairs])
        current = ctx.host_clients([link.host_id for link, _ in pairs])
        units = []
        for link, xero_row in pairs:
            client = current.get(link.host_id)
            if client is None:
                units.append(Unit(
                    SKIP, xero_row.label if xero_row else link.host_id, host_id=link.host_id, xero_id=link.xero_id,
                    direction=TO_HOST, message="The client linked to this Xero contact no longer exists here; "
                    "the Xero contact was left as it is.",
                ))
                continue
            units.append(self._pair_unit(link, client, xero_row, decisions.get(link.host_id)))
        return units

    def _pair_unit(self, link: Link, client: Client, xero_row: Known | None, decision: Decision | None) -> Unit:
        host_now = mapping.of_client(client)
        xero_now = xero_row.values if xero_row is not None else dict(link.xero_values or host_now)
        if link.host_values is None or link.xero_values is None:
            result = merge.first_link(host_now, xero_now, mapping.FIELDS, self.same)
        else:
            result = merge.follow_changes(host_now, xero_now, link.host_values, link.xero_values, mapping.FIELDS,
                                          self.same, self.policy)
        if decision is not None and decision.action in (USE_XERO, USE_HOST):
            self._settle_differences(result, host_now, xero_now, decision.action)
        host_after, xero_after = merge.applied(host_now, result.host), merge.applied(xero_now, result.xero)
        unit = Unit(
            UNCHANGED if not result.changes else UPDATE, host_after["name"], host_id=link.host_id,
            xero_id=link.xero_id, host_values=host_after, xero_values=xero_after,
            direction=TO_XERO if result.xero and not result.host else TO_HOST,
            xero_updated_at=xero_row.source_updated_at if xero_row else link.xero_updated_at,
        )
        if result.host:
            unit.save_host = mapping.client_with(client, result.host)
        if result.xero:
            unit.xero_payload = mapping.contact_payload(result.xero, self.ctx.region, contact_id=link.xero_id)
        if result.changes:
            unit.details["changes"] = [self._change(change) for change in result.changes]
            if result.conflicts:
                kept = "Xero's" if self.policy == merge.XERO_WINS else "this app's"
                unit.message = f"Changed here and in Xero; {kept} values were kept (your conflict preference)."
        if decision is not None:
            unit.details["decision"] = decision.action
        return unit

    def _settle_differences(self, result: merge.Merge, host: dict[str, Any], xero: dict[str, Any], action: str) -> None:
        """The owner chose one side's values for the differences kept at the first link."""
        for name in mapping.FIELDS:
            if name in result.host or name in result.xero or self.same(name, host.get(name), xero.get(name)):
                continue
            if action == USE_XERO:
                result.write(merge.HOST, name, host.get(name), xero.get(name))
            else:
                result.write(merge.XERO, name, xero.get(name), host.get(name))

    @staticmethod
    def _change(change: merge.Change) -> dict[str, Any]:
        return {**change.as_dict(), "label": mapping.LABELS.get(change.field, change.field),
                "old": mapping.display(change.field, change.old), "new": mapping.display(change.field, change.new)}

    # Unlinked records: the match rules

    def _decide(self, side: str, rows: Sequence[Known]) -> list[Unit]:
        ctx = self.ctx
        opposite = other(side)
        found = self.known.sharing_keys(
            opposite, emails=[r.email_key for r in rows], names=[r.name_key for r in rows],
            numbers=[r.record_id for r in rows] if side == Side.HOST else (),
        )
        if side == Side.XERO:
            found.extend(self.known.by_ids(Side.HOST, [r.number for r in rows if r.number], full=False).values())
        decisions = ctx.store.decisions(ctx.scope, LinkKind.CLIENT, side, [r.record_id for r in rows])
        targets = {d.target_id for d in decisions.values() if d.target_id}
        if targets:
            found.extend(self.known.by_ids(opposite, targets, full=False).values())
        index = KeyIndex(found)
        rivals = self._rivals(side, index.rows)
        same_number = self._numbers_in_use(side, rows, index.rows)
        link_of = self._links(opposite, list(index.by_id))
        twins = self._name_twins(rows) if side == Side.HOST else {}
        verdicts = []
        for row in rows:
            decided = decisions.get(row.record_id)
            matched = index.matches(row, side)
            if decided is not None and decided.target_id in index.by_id and decided.target_id not in matched:
                matched[decided.target_id] = (index.by_id[decided.target_id], ())
            candidates = []
            for record_id, (candidate_row, shared) in matched.items():
                linked = link_of.get(record_id)
                candidates.append(rules.Candidate(
                    _keys(candidate_row, self._partner(opposite, linked) if linked else None), shared))
            candidates_of = {
                c.record_id: [rules.Candidate(_keys(r, None), shared) for r, shared in rivals.get(c.record_id, ())]
                for c in candidates
            }
            verdict = rules.decide(
                _keys(row, None), candidates, candidates_of,
                decision=(decided.action, decided.target_id) if decided is not None else None,
                number_partner=self._number_partner(side, row, matched, same_number),
            )
            if verdict.action == "create" and not verdict.reason and len(twins.get(row.name_key, ())) > 1:
                verdict = rules.Verdict("review", reason=rules.TWINS, twins=tuple(
                    twin.record_id for twin in twins[row.name_key] if twin.record_id != row.record_id))
            verdicts.append((row, verdict))
        units = self._units(side, verdicts, link_of)
        self._fill_host_clients(units)
        return units

    def _units(self, side: str, verdicts: Sequence[tuple[Known, rules.Verdict]], link_of: Mapping[str, Link]) -> list[Unit]:
        """Units of the verdicts, with the whole records they need (partners to link, candidates
        and twins to show for review) read in one go."""
        opposite = other(side)
        wanted = {verdict.partner for _, verdict in verdicts if verdict.action == "link" and verdict.partner}
        wanted |= {c.record_id for _, verdict in verdicts if verdict.action == "review" for c in verdict.candidates}
        records = self.known.by_ids(opposite, wanted)
        twins = self.known.by_ids(side, {t for _, verdict in verdicts for t in verdict.twins})
        names = self._link_labels(opposite, {k: v for k, v in link_of.items() if k in wanted})
        units = []
        for row, verdict in verdicts:
            if verdict.twins:
                views = [{"side": side, "id": t, "label": twins[t].label, "email": twins[t].values.get("email", ""),
                          "rules": [rules.NAME], "archived": twins[t].archived, "linked_to": None}
                         for t in verdict.twins if t in twins]
            else:
                views = [candidate_view(c, records[c.record_id], opposite, names.get(c.record_id))
                         for c in verdict.candidates if c.record_id in records]
            units.append(self._unit(side, row, verdict, views, records))
        return units

    def _name_twins(self, rows: Sequence[Known]) -> dict[str, list[Known]]:
        """Active host clients sharing a name key with one of ``rows``. Xero keeps contact names
        unique, and two clients with one name may well be one client entered twice, so a client
        with a twin is not created in Xero until a person decides (whether the twin is linked or
        not: the answer must not depend on the order in which the sync meets them)."""
        twins: dict[str, list[Known]] = defaultdict(list)
        for row in self.known.sharing_keys(Side.HOST, names=[r.name_key for r in rows]):
            if not row.archived:
                twins[row.name_key].append(row)
        return twins

    def _rivals(self, side: str, candidates: Sequence[Known]) -> dict[str, list[tuple[Known, tuple[str, ...]]]]:
        """For each candidate (of the other side), the records of ``side`` it matches, with how."""
        emails = [c.email_key for c in candidates]
        names = [c.name_key for c in candidates]
        if side == Side.HOST:
            found = self.known.sharing_keys(Side.HOST, emails=emails, names=names)
            found.extend(self.known.by_ids(Side.HOST, [c.number for c in candidates if c.number]).values())
        else:
            found = self.known.sharing_keys(Side.XERO, emails=emails, names=names,
                                            numbers=[c.record_id for c in candidates])
        index = KeyIndex(found)
        return {c.record_id: list(index.matches(c, other(side)).values()) for c in candidates}

    def _numbers_in_use(self, side: str, rows: Sequence[Known], found: Sequence[Known]) -> dict[str, int]:
        """How many Xero contacts carry each contact number that matters to this batch."""
        xero_rows = rows if side == Side.XERO else found
        numbers = {row.number for row in xero_rows if row.number}
        if side == Side.HOST:
            numbers |= {row.record_id for row in rows}
        counted: dict[str, int] = defaultdict(int)
        for row in self.known.sharing_keys(Side.XERO, numbers=numbers):
            counted[row.number] += 1
        return counted

    @staticmethod
    def _number_partner(side: str, row: Known, matched: Mapping[str, tuple[Known, tuple[str, ...]]],
                        in_use: Mapping[str, int]) -> str | None:
        """The one record the contact-number rule pairs ``row`` with, if any (see ``sync.rules``)."""
        numbered = [record_id for record_id, (_, shared) in matched.items() if rules.NUMBER in shared]
        number = row.record_id if side == Side.HOST else row.number
        return numbered[0] if len(numbered) == 1 and in_use.get(number) == 1 else None

    def _link_labels(self, side: str, links: Mapping[str, Link]) -> dict[str, str]:
        """For linked candidates, the label of the record they are linked to."""
        partners = self.known.by_ids(other(side), [self._partner(side, link) for link in links.values()], full=False)
        return {record_id: (partners[p].label if (p := self._partner(side, link)) in partners else p)
                for record_id, link in links.items()}

    # Units of unlinked records

    def _unit(self, side: str, row: Known, verdict: rules.Verdict, views: list[dict[str, Any]],
              partners: Mapping[str, Known]) -> Unit:
        host_id, xero_id = (row.record_id, None) if side == Side.HOST else (None, row.record_id)
        direction = TO_XERO if side == Side.HOST else TO_HOST
        if verdict.action == "review":
            return Unit(REVIEW, row.label, host_id=host_id, xero_id=xero_id, direction=direction,
                        message=review_reason(verdict, side), fix=_REVIEW_FIX,
                        details={"kind": "client", "side": side, "candidates": views,
                                 "record": {"side": side, "id": row.record_id, "label": row.label,
                                            "email": row.values.get("email", "")}})
        if verdict.action == "leave_out":
            return Unit(SKIP, row.label, host_id=host_id, xero_id=xero_id, direction=direction,
                        message=verdict.reason, details={"decision": rules.LEAVE_OUT})
        if verdict.action == "link":
            partner = partners[str(verdict.partner)]
            return self._first_link(side, row, partner, verdict)
        return self._create(side, row, verdict)

    def _create(self, side: str, row: Known, verdict: rules.Verdict) -> Unit:
        decided = {"decision": rules.CREATE_NEW} if verdict.reason else {}
        if side == Side.HOST:
            if row.archived:
                return Unit(SKIP, row.label, host_id=row.record_id, direction=TO_XERO,
                            message="Archived here, so it is not added to Xero.")
            payload = mapping.contact_payload(row.values, self.ctx.region, contact_number=row.record_id)
            return Unit(CREATE_IN_XERO, row.label, host_id=row.record_id, host_values=dict(row.values),
                        xero_payload=payload, direction=TO_XERO, details=decided)
        if row.flag("merged_to"):
            return Unit(SKIP, row.label, xero_id=row.record_id, direction=TO_HOST,
                        message="Merged into another contact in Xero, so it is not added here.")
        if row.archived:
            return Unit(SKIP, row.label, xero_id=row.record_id, direction=TO_HOST,
                        message="Archived in Xero, so it is not added here.")
        if not decided and not passes_filter(row, self.contact_filter):
            return Unit(SKIP, row.label, xero_id=row.record_id, direction=TO_HOST,
                        message=_FILTER_REASONS.get(self.contact_filter, "Left out by your contact filter."))
        return Unit(CREATE_HERE, row.label, xero_id=row.record_id, xero_values=dict(row.values),
                    save_host=mapping.client_with(Client(id=None, name=""), row.values), direction=TO_HOST,
                    details=decided, xero_updated_at=row.source_updated_at)

    def _first_link(self, side: str, row: Known, partner: Known, verdict: rules.Verdict) -> Unit:
        host_row, xero_row = (row, partner) if side == Side.HOST else (partner, row)
        result = merge.first_link(host_row.values, xero_row.values, mapping.FIELDS, self.same)
        host_after = merge.applied(host_row.values, result.host)
        xero_after = merge.applied(xero_row.values, result.xero)
        unit = Unit(
            LINK, host_after["name"], host_id=host_row.record_id, xero_id=xero_row.record_id,
            host_values=host_after, xero_values=xero_after, direction=TO_XERO if side == Side.HOST else TO_HOST,
            xero_updated_at=xero_row.source_updated_at,
            details={"rule": verdict.rule, "rule_label": rules.RULE_LABELS.get(verdict.rule, verdict.reason),
                     "differences": [{**d.as_dict(), "label": mapping.LABELS.get(d.field, d.field),
                                      "host": mapping.display(d.field, d.host),
                                      "xero": mapping.display(d.field, d.xero)} for d in result.differences],
                     "changes": [self._change(change) for change in result.changes]},
        )
        if result.host:
            unit.details["fill_host"] = result.host
        if result.xero:
            unit.xero_payload = mapping.contact_payload(result.xero, self.ctx.region, contact_id=xero_row.record_id)
        return unit

    def _fill_host_clients(self, units: list[Unit]) -> None:
        """Host saves of first links need the whole host client (its fields the sync does not
        touch are kept), read in one call for the batch."""
        wanted = [str(unit.host_id) for unit in units if unit.action == LINK and unit.details.get("fill_host")]
        if not wanted:
            return
        current = self.ctx.host_clients(wanted)
        for unit in units:
            fill = unit.details.pop("fill_host", None)
            if fill and unit.host_id in current:
                unit.save_host = mapping.client_with(current[unit.host_id], fill)


_REASONS = {
    rules.SEVERAL: "{n} {others} look like this {one}.",
    rules.CLAIMED: "The {other} it matches also matches another {one_here}: which is which needs you.",
    rules.LINKED_ELSEWHERE: "It looks like a {other} that is already linked to another {one}.",
    rules.ARCHIVED: "It looks like an archived record; restore it (in Xero or here) or create a new one.",
    rules.OTHER_EMAIL: "Same name, but different e-mail addresses: they may be different businesses.",
    rules.TWINS: "Another client here has the same name: it may be the same client entered twice, and Xero needs "
                 "contact names to be unique.",
    rules.CODE_LINKED: "The Xero contact carrying this client's contact code is linked to another client.",
    rules.CODE_ARCHIVED: "The Xero contact carrying this client's contact code is archived; restore it or create a "
                         "new one.",
    rules.CODE_OTHERWISE_DIFFERENT: "A Xero contact carries this client's contact code, but its name and e-mail are "
                                    "different.",
}
_SIDE_WORDS = {
    Side.HOST: {"one": "client", "other": "Xero contact", "others": "Xero contacts", "one_here": "client here"},
    Side.XERO: {"one": "Xero contact", "other": "client here", "others": "clients here",
                "one_here": "Xero contact"},
}


def review_reason(verdict: rules.Verdict, side: str) -> str:
    """Why a record needs review, in words for its side."""
    template = _REASONS.get(verdict.reason, verdict.reason)
    return template.format(n=len(verdict.candidates), **_SIDE_WORDS[side])

_REVIEW_FIX = (
    "Choose below: link it to one of the records listed, create it as a new record, or leave it out. "
    "The next sync does what you chose."
)
