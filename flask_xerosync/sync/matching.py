"""The match rules that decide whether a host record and a Xero record are the same.

In order: already linked; the Xero ``ContactNumber`` carries the host id; the e-mail matches
(case-insensitive, unique on both sides); the normalised name matches. A record with more than
one candidate is never created on either side: it needs review.

The indexes hold ids, e-mails and normalised names only (never whole records), so a sync of
100,000 contacts keeps a small, bounded footprint per record.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass


def normalise_name(text: str) -> str:
    """Case-folded, inner whitespace collapsed, trimmed; accents are kept ("José" ≠ "Jose")."""
    return " ".join(text.split()).casefold()


def normalise_email(text: str) -> str:
    return text.strip().casefold()


def normalise_code(text: str) -> str:
    """Xero compares item codes trimmed and case-insensitively."""
    return text.strip().casefold()


class MatchIndex:
    """Ids of one side's records by normalised e-mail and name."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.by_email: defaultdict[str, list[str]] = defaultdict(list)
        self.by_name: defaultdict[str, list[str]] = defaultdict(list)

    def add(self, record_id: str, email: str, name: str) -> None:
        if record_id in self.ids:
            return
        self.ids.add(record_id)
        if normalise_email(email):
            self.by_email[normalise_email(email)].append(record_id)
        if normalise_name(name):
            self.by_name[normalise_name(name)].append(record_id)

    def with_email(self, email: str) -> list[str]:
        key = normalise_email(email)
        return list(self.by_email.get(key, ())) if key else []

    def with_name(self, name: str) -> list[str]:
        key = normalise_name(name)
        return list(self.by_name.get(key, ())) if key else []


@dataclass(frozen=True)
class Match:
    """What the rules found for one record: ``rule`` is "number", "email", "name" or "" (none).

    ``candidates`` are the other side's ids; more than one means the record needs review.
    ``rivals`` are same-side records competing for the single candidate (the candidate then
    needs review, not this record alone).
    """

    rule: str
    candidates: tuple[str, ...] = ()
    rivals: tuple[str, ...] = ()


def match_record(
    *, record_id: str, email: str, name: str, own_side: MatchIndex, other_side: MatchIndex,
    number_hint: str = "",
) -> Match:
    """Apply the rules to one record against the other side's index.

    ``own_side`` holds the records of the record's own side seen so far (it must include the
    record itself) so that "unique on both sides" can be checked.
    """
    if number_hint and number_hint in other_side.ids:
        return Match("number", (number_hint,))
    others = other_side.with_email(email)
    if len(others) == 1 and own_side.with_email(email) == [record_id]:
        return Match("email", (others[0],))
    others = other_side.with_name(name)
    if not others:
        return Match("")
    rivals = tuple(other for other in own_side.with_name(name) if other != record_id)
    return Match("name", tuple(others), rivals)
