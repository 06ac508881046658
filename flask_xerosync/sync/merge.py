"""Field-by-field merging of a host record and its Xero record.

Records are compared as *values*: a mapping of the synced fields (see ``clients.mapping``). A
link keeps both sides' values as they were when the two last agreed with the sync (the *bases*),
so every later change is known field by field:

- :func:`first_link` — two existing records are linked for the first time. No side wins: each
  side's empty fields are filled from the other, both sides' non-empty values are kept, and every
  field that still differs is listed for the owner to settle.
- :func:`follow_changes` — a linked pair after edits. A field changed on one side only flows to the
  other; a field changed on both sides to different values is a conflict that the conflict policy
  settles, and the losing value is reported. Fields neither side changed stay as they are, even
  where the two differ (a difference kept at the first link stays until the owner settles it).

Every value that changes on either side is reported with its old value (:class:`Change`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

HOST = "host"
XERO = "xero"
XERO_WINS = "xero_wins"
HOST_WINS = "host_wins"

Values = Mapping[str, Any]
Same = Callable[[str, Any, Any], bool]


@dataclass(frozen=True)
class Change:
    """One field written on one ``side``: from ``old`` to ``new``. ``lost`` marks a conflict's
    losing value (the other side changed it too, and the policy chose the other side)."""

    field: str
    side: str
    old: Any
    new: Any
    lost: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "side": self.side, "old": self.old, "new": self.new, "lost": self.lost}


@dataclass(frozen=True)
class Difference:
    """A field whose host and Xero values both exist and differ (kept at a first link)."""

    field: str
    host: Any
    xero: Any

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "host": self.host, "xero": self.xero}


@dataclass
class Merge:
    """What a merge decided: the fields to write on each side, with their old values."""

    host: dict[str, Any] = field(default_factory=dict)
    xero: dict[str, Any] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)

    def write(self, side: str, name: str, old: Any, new: Any, *, lost: bool = False) -> None:
        (self.host if side == HOST else self.xero)[name] = new
        self.changes.append(Change(name, side, old, new, lost))

    @property
    def conflicts(self) -> list[Change]:
        return [change for change in self.changes if change.lost]


def is_empty(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return not any(is_empty(part) for part in value)
    return value is None or value == "" or value is False


def first_link(host: Values, xero: Values, fields: Sequence[str], same: Same) -> Merge:
    """Merge two records linked for the first time (see the module docstring). A flag such as
    ``archived`` is never filled: a different flag is a difference like any other."""
    merge = Merge()
    for name in fields:
        mine, theirs = host.get(name), xero.get(name)
        if same(name, mine, theirs):
            continue
        flag = isinstance(mine, bool) or isinstance(theirs, bool)
        if not flag and is_empty(mine):
            merge.write(HOST, name, mine, theirs)
        elif not flag and is_empty(theirs):
            merge.write(XERO, name, theirs, mine)
        else:
            merge.differences.append(Difference(name, mine, theirs))
    return merge


def follow_changes(
    host: Values, xero: Values, host_base: Values, xero_base: Values, fields: Sequence[str], same: Same, policy: str
) -> Merge:
    """Merge a linked pair after edits (see the module docstring)."""
    merge = Merge()
    for name in fields:
        mine, theirs = host.get(name), xero.get(name)
        host_changed = not same(name, mine, host_base.get(name))
        xero_changed = not same(name, theirs, xero_base.get(name))
        if same(name, mine, theirs) or not (host_changed or xero_changed):
            continue
        if host_changed and xero_changed:
            if policy == HOST_WINS:
                merge.write(XERO, name, theirs, mine, lost=True)
            else:
                merge.write(HOST, name, mine, theirs, lost=True)
        elif xero_changed:
            merge.write(HOST, name, mine, theirs)
        else:
            merge.write(XERO, name, theirs, mine)
    return merge


def applied(values: Values, updates: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with ``updates`` written over them."""
    return {**values, **updates}
