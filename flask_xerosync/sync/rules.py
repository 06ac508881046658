"""The match rules: when a host record and a Xero record are the same, and what to do otherwise.

This module is the one statement of the rules (the README repeats it for people). Everything else
in the engine asks it.

**Keys.** Records are compared by three keys:

- *number*: a Xero contact's ``ContactNumber`` (shown in Xero as "Contact Code") equals the host
  client's id. The sync writes it on every client it creates in Xero, so it is the strongest
  rule: it finds our own earlier write after a crash. For items it is the item code (Xero's codes
  are unique, compared trimmed and case-insensitively).
- *e-mail*: trimmed and case-folded.
- *name*: accents removed, case-folded, "&" read as "and", punctuation dropped, whitespace
  collapsed, and a trailing legal form dropped ("Ltd", "Limited", "Inc", "LLC", "Pty", "Co", …)
  so "Coastal Cafe Ltd", "coastal  café" and "Coastal Cafe" have the same key.

**Candidates.** A record's candidates are the records of the other side that share any key with it
(linked, archived and supplier-only ones included).

**Decisions** for a record that is not linked yet, in this order:

1. the owner decided (in a preview or a run's review list): link to the chosen record, create it
   as new, or leave it out — honoured as long as it can be (the chosen record still exists and is
   not linked to another);
2. no candidate at all: create it on the other side (unless a filter or its archived state says
   to skip it, with that reason);
3. a Xero contact whose ``ContactNumber`` is this client's id, that number on no other contact, the
   name or e-mail agreeing, and neither of them archived or linked to another: link them;
4. exactly one candidate, that candidate has exactly this record as its only candidate, neither is
   linked or archived, and they do not carry two different e-mail addresses: link them;
5. anything else — several candidates, a candidate claimed by several records, a candidate that is
   linked to another record or archived, a name match with different e-mails — needs review:
   nothing is created or linked for any of them until a person decides.

So a record is created on the other side only when no record there is a candidate by any rule,
and links are one-to-one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

LEGAL_FORMS = frozenset(
    {"ltd", "limited", "llc", "inc", "incorporated", "pty", "plc", "corp", "corporation", "co", "company", "gmbh"}
)
_NOT_WORD = re.compile(r"[^\w\s]+")


def name_key(text: str) -> str:
    """The name key (see the module docstring); "" for a name with no letters or digits."""
    text = text.replace("&", " and ")
    if text.isascii():
        # NFKD leaves ASCII as it is and it has no combining marks: skip the per-character pass.
        plain = text.lower()
    else:
        decomposed = unicodedata.normalize("NFKD", text)
        plain = "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()
    words = _NOT_WORD.sub(" ", plain).replace("_", " ").split()
    while len(words) > 1 and words[-1] in LEGAL_FORMS:
        words.pop()
    if len(words) > 1 and words[0] == "the":
        words.pop(0)
    return " ".join(words)


def email_key(text: str) -> str:
    return text.strip().casefold()


def code_key(text: str) -> str:
    """Xero compares item codes trimmed and case-insensitively."""
    return text.strip().casefold()


# The rules, by strength: what a link or a candidate was found by.
NUMBER = "number"
EMAIL = "email"
NAME = "name"
CODE = "code"
DECISION = "decision"
RULE_LABELS = {
    DECISION: "your decision",
    NUMBER: "the Xero contact code is this client's id",
    EMAIL: "same e-mail address",
    NAME: "same name",
    CODE: "same item code",
}

# Why a record needs review (``Verdict.reason``; the run log words them for the record's side).
SEVERAL = "several"
CLAIMED = "claimed"
LINKED_ELSEWHERE = "linked_elsewhere"
ARCHIVED = "archived"
OTHER_EMAIL = "other_email"
TWINS = "twins"
CODE_LINKED = "code_linked"
CODE_ARCHIVED = "code_archived"
CODE_OTHERWISE_DIFFERENT = "code_otherwise_different"

# What the owner can decide for a record in review.
LINK_TO = "link"
CREATE_NEW = "create"
LEAVE_OUT = "leave_out"
DECISIONS = (LINK_TO, CREATE_NEW, LEAVE_OUT)


@dataclass(frozen=True)
class Keys:
    """What the rules know of one record: its side's id, keys and state."""

    record_id: str
    email: str = ""
    name: str = ""
    number: str = ""
    archived: bool = False
    linked_to: str | None = None


@dataclass(frozen=True)
class Candidate:
    """A record of the other side sharing a key with the record being decided."""

    keys: Keys
    rules: tuple[str, ...]

    @property
    def record_id(self) -> str:
        return self.keys.record_id


def shared_rules(mine: Keys, theirs: Keys, *, number_rule: bool) -> tuple[str, ...]:
    """The rules by which two records of opposite sides are candidates of each other.

    ``number_rule``: ``theirs.number`` (a Xero ContactNumber) names ``mine.record_id`` (a host
    id), or the reverse; the caller says which way round applies (items use codes instead).
    """
    rules = []
    if number_rule:
        rules.append(NUMBER)
    if mine.email and mine.email == theirs.email:
        rules.append(EMAIL)
    if mine.name and mine.name == theirs.name:
        rules.append(NAME)
    return tuple(rules)


@dataclass(frozen=True)
class Verdict:
    """What the rules decide for one unlinked record.

    ``action``: "link" (with ``partner`` and ``rule``), "create", "review" (``reason``, one of the
    review reasons above, and ``candidates``, or ``twins``: records of the same side that would
    take the same name in Xero) or "leave_out" (the owner's decision; ``reason`` is then the text
    the log shows).
    """

    action: str
    partner: str | None = None
    rule: str = ""
    reason: str = ""
    candidates: tuple[Candidate, ...] = field(default_factory=tuple)
    twins: tuple[str, ...] = ()


def decide(
    record: Keys,
    candidates: Sequence[Candidate],
    candidates_of: Mapping[str, Sequence[Candidate]],
    *,
    decision: tuple[str, str | None] | None = None,
    number_partner: str | None = None,
) -> Verdict:
    """Apply the rules to an unlinked ``record``.

    ``candidates``: the other side's records sharing a key with it. ``candidates_of``: for each of
    those, its own candidates on the record's side (to see whether it is claimed by several).
    ``decision``: the owner's (action, target) for this record, if any. ``number_partner``: the
    one Xero contact whose ContactNumber names this host client (or, seen from a Xero contact,
    the host client its ContactNumber names), when that number is on no other contact.
    """
    by_id = {candidate.record_id: candidate for candidate in candidates}
    if decision is not None:
        verdict = _owner_decision(decision, by_id)
        if verdict is not None:
            return verdict
    if not candidates:
        return Verdict("create")
    if number_partner is not None and number_partner in by_id:
        partner = by_id[number_partner]
        if partner.keys.linked_to is not None:
            return _review(candidates, CODE_LINKED)
        if partner.keys.archived or record.archived:
            return _review(candidates, CODE_ARCHIVED)
        if EMAIL in partner.rules or NAME in partner.rules:
            return Verdict("link", partner=number_partner, rule=NUMBER)
        return _review(candidates, CODE_OTHERWISE_DIFFERENT)
    if len(candidates) > 1:
        return _review(candidates, SEVERAL)
    only = candidates[0]
    if only.keys.linked_to is not None:
        return _review(candidates, LINKED_ELSEWHERE)
    if only.keys.archived or record.archived:
        return _review(candidates, ARCHIVED)
    rivals = [c for c in candidates_of.get(only.record_id, ()) if c.record_id != record.record_id]
    if rivals:
        return _review(candidates, CLAIMED)
    if NUMBER not in only.rules and EMAIL not in only.rules and record.email and only.keys.email:
        return _review(candidates, OTHER_EMAIL)
    return Verdict("link", partner=only.record_id, rule=_strongest(only.rules))


def _strongest(rules: Collection[str]) -> str:
    for rule in (NUMBER, CODE, EMAIL, NAME):
        if rule in rules:
            return rule
    return ""


def _review(candidates: Sequence[Candidate], reason: str) -> Verdict:
    return Verdict("review", reason=reason, candidates=tuple(candidates))


def _owner_decision(decision: tuple[str, str | None], by_id: Mapping[str, Candidate]) -> Verdict | None:
    """The owner's decision, or ``None`` when it can no longer be followed (the rules decide)."""
    action, target = decision
    if action == LEAVE_OUT:
        return Verdict("leave_out", reason="Left out of the sync by your decision.")
    if action == CREATE_NEW:
        return Verdict("create", reason="Created as new by your decision.")
    if action == LINK_TO and target is not None:
        chosen = by_id.get(target)
        if chosen is not None and chosen.keys.linked_to is None:
            return Verdict("link", partner=target, rule=DECISION, reason="Linked by your decision.")
    return None
