"""The known-records cache: every host and Xero record the sync has read, with its match keys.

Reads and writes are set-based (one statement per page or batch, upserts where the database has
them), so its cost grows with batches, not with records. See :class:`~..models.KnownRecord`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, exists, func, select, update
from sqlalchemy.orm import Session, scoped_session

from ..models import KnownRecord, Link, Side
from .bulk import among, upsert
from .scope import Scope

_KEYS = (
    KnownRecord.id, KnownRecord.record_id, KnownRecord.label, KnownRecord.email_key, KnownRecord.name_key,
    KnownRecord.number, KnownRecord.archived, KnownRecord.pending, KnownRecord.handled_run,
    KnownRecord.source_updated_at,
)
_COLUMNS = (*_KEYS, KnownRecord.values, KnownRecord.meta)
_UPDATED_ON_CONFLICT = (
    "label", "email_key", "name_key", "number", "archived", "values", "meta", "pending", "source_updated_at",
)


@dataclass(frozen=True)
class KnownRow:
    """One known record, as written."""

    record_id: str
    label: str
    email_key: str
    name_key: str
    number: str
    archived: bool
    values: dict[str, Any]
    meta: dict[str, Any] | None = None
    pending: bool = True
    source_updated_at: datetime | None = None


@dataclass(frozen=True)
class Known(KnownRow):
    """One known record, as read back: with its row id and the run that last handled it."""

    id: int = 0
    handled_run: str = ""

    def flag(self, name: str) -> bool:
        return bool((self.meta or {}).get(name))


def _known(row: Any) -> Known:
    values = getattr(row, "values", None)
    meta = getattr(row, "meta", None)
    return Known(
        id=row.id, record_id=row.record_id, label=row.label, email_key=row.email_key, name_key=row.name_key,
        number=row.number, archived=bool(row.archived), values=dict(values or {}), meta=dict(meta or {}),
        pending=bool(row.pending), handled_run=row.handled_run or "", source_updated_at=row.source_updated_at,
    )


Keys = Callable[[dict[str, Any]], tuple[str, str]]
"""(e-mail key, name key) of a record's values."""


class KnownRecords:
    """The cache of one account and organisation, for one kind of record (``client``, ``item``).

    A run that changes a record's values (a host client updated from Xero, an empty e-mail filled
    at a first link) *overlays* its new values here, so the rest of the run decides with them. A
    sync writes them into the cache with the batch that wrote them to either side (memory stays
    bounded by the batch; the next run reads the record back anyway). A ``preview`` writes nothing
    it did not read, so it keeps the values it would write in memory instead, and decides exactly
    as the sync will.
    """

    def __init__(self, session: Session | scoped_session[Any], scope: Scope, kind: str, *,
                 preview: bool = False) -> None:
        self.session = session
        self.scope = scope
        self.kind = kind
        self.preview = preview
        self.written = 0
        """Rows this object wrote (for :meth:`SyncStore.refresh_statistics`)."""
        self._overlay: dict[tuple[str, str], Known] = {}
        self._overlay_keys: dict[tuple[str, str, str], set[str]] = defaultdict(set)

    def overlay(self, side: str, values_of: Mapping[str, dict[str, Any]], keys: Keys) -> None:
        """Decide with these values of the records (by record id) for the rest of the run."""
        current = self.by_ids(side, values_of)
        updated: list[Known] = []
        for record_id, values in values_of.items():
            known = current.get(record_id)
            if known is None:
                continue
            email, name = keys(values)
            updated.append(replace(known, values=dict(values), email_key=email, name_key=name,
                                   label=str(values.get("name") or known.label), archived=bool(values.get("archived"))))
        if not self.preview:
            self._rewrite(updated)
            return
        for row in updated:
            old = current[row.record_id]
            for kind, key in (("email", old.email_key), ("name", old.name_key)):
                self._overlay_keys[(side, kind, key)].discard(row.record_id)
            self._overlay[(side, row.record_id)] = row
            self._overlay_keys[(side, "email", row.email_key)].add(row.record_id)
            self._overlay_keys[(side, "name", row.name_key)].add(row.record_id)

    def _rewrite(self, rows: Sequence[Known]) -> None:
        """Write new values and keys of known rows, by row id, in one statement."""
        if not rows:
            return
        table = KnownRecord.__table__
        self.session.execute(
            update(table).where(table.c.id == bindparam("row_id")).values(
                values=bindparam("new_values"), email_key=bindparam("new_email"), name_key=bindparam("new_name"),
                label=bindparam("new_label"), archived=bindparam("new_archived"),
            ),
            [{"row_id": row.id, "new_values": row.values, "new_email": row.email_key[:255],
              "new_name": row.name_key[:255], "new_label": row.label[:255], "new_archived": row.archived}
             for row in rows],
        )

    def _overlaid(self, side: str, rows: Iterable[Known]) -> list[Known]:
        return [self._overlay.get((side, row.record_id), row) for row in rows]

    def _where(self, side: str) -> Any:
        return and_(
            KnownRecord.account_id == self.scope.account_id,
            KnownRecord.tenant_id == self.scope.tenant_id,
            KnownRecord.kind == self.kind,
            KnownRecord.side == side,
        )

    def write(self, side: str, rows: Sequence[KnownRow]) -> None:
        """Insert or update ``rows`` (by record id) in one statement."""
        if not rows:
            return
        self.written += len(rows)
        base = {"account_id": self.scope.account_id, "tenant_id": self.scope.tenant_id, "kind": self.kind,
                "side": side, "handled_run": ""}
        upsert(
            self.session, KnownRecord.__table__,
            [{**base, "record_id": row.record_id, "label": row.label[:255], "email_key": row.email_key[:255],
              "name_key": row.name_key[:255], "number": row.number[:255], "archived": row.archived,
              "values": row.values, "meta": row.meta, "pending": row.pending,
              "source_updated_at": row.source_updated_at} for row in rows],
            keys=("account_id", "tenant_id", "kind", "side", "record_id"),
            update=_UPDATED_ON_CONFLICT,
        )

    def by_ids(self, side: str, record_ids: Iterable[str], *, full: bool = True) -> dict[str, Known]:
        """The records with these ids; without ``full``, their keys only (see :meth:`sharing_keys`)."""
        found: dict[str, Known] = {}
        for condition in among(self.session, KnownRecord.record_id, (str(i) for i in record_ids if i)):
            for row in self.session.execute(select(*(_COLUMNS if full else _KEYS)).where(self._where(side), condition)):
                found[row.record_id] = self._overlay.get((side, row.record_id)) or _known(row)
        return found

    def sharing_keys(
        self, side: str, *, emails: Iterable[str] = (), names: Iterable[str] = (), numbers: Iterable[str] = ()
    ) -> list[Known]:
        """The records of ``side`` whose e-mail, name key or number is one of those given, with
        their keys only (``values`` and ``meta`` empty: read them with :meth:`by_ids`)."""
        wanted = {"email": {v for v in emails if v}, "name": {v for v in names if v},
                  "number": {v for v in numbers if v}}
        found: dict[int, Known] = {}
        for column, values in (
            (KnownRecord.email_key, wanted["email"]), (KnownRecord.name_key, wanted["name"]),
            (KnownRecord.number, wanted["number"]),
        ):
            for condition in among(self.session, column, values):
                for row in self.session.execute(select(*_KEYS).where(self._where(side), condition)):
                    found[row.id] = _known(row)
        if not self._overlay:
            return list(found.values())
        seen = {row.record_id for row in found.values()}
        extra = {record_id for kind in ("email", "name") for key in wanted[kind]
                 for record_id in self._overlay_keys.get((side, kind, key), ()) if record_id not in seen}
        rows = self._overlaid(side, found.values()) + [self._overlay[(side, record_id)] for record_id in extra]
        return [row for row in rows if row.email_key in wanted["email"] or row.name_key in wanted["name"]
                or row.number in wanted["number"]]

    def pending(self, side: str, run_id: str, after_id: int, limit: int, *, linked: bool = False) -> list[Known]:
        """Unsettled records of ``side`` this run has not handled yet, in id order after ``after_id``;
        with ``linked``, only those linked to a record of the other side."""
        conditions = [self._where(side), KnownRecord.pending.is_(True), KnownRecord.handled_run != run_id,
                      KnownRecord.id > after_id]
        if linked:
            conditions.append(self._is_linked(side))
        rows = self.session.execute(select(*_COLUMNS).where(*conditions).order_by(KnownRecord.id).limit(limit))
        return self._overlaid(side, (_known(row) for row in rows))

    def _is_linked(self, side: str) -> Any:
        """Whether a known record has a link (an index lookup: links are unique by either side)."""
        own = Link.host_id if side == Side.HOST else Link.xero_id
        return exists(select(Link.id).where(
            Link.account_id == KnownRecord.account_id, Link.tenant_id == KnownRecord.tenant_id,
            Link.kind == KnownRecord.kind, own == KnownRecord.record_id,
        ))

    def count_pending(self, side: str, run_id: str) -> int:
        return int(self.session.scalar(
            select(func.count()).select_from(KnownRecord)
            .where(self._where(side), KnownRecord.pending.is_(True), KnownRecord.handled_run != run_id)
        ) or 0)

    def handled(self, side: str, record_ids: Iterable[str], run_id: str, *, pending: bool | None) -> None:
        """Mark records as handled by ``run_id``; ``pending`` says whether they stay unsettled
        (``None`` leaves that as it is: a preview settles nothing)."""
        values: dict[str, Any] = {"handled_run": run_id}
        if pending is not None:
            values["pending"] = pending
        for condition in among(self.session, KnownRecord.record_id, (str(i) for i in record_ids if i)):
            self.session.execute(
                update(KnownRecord)
                .where(self._where(side), condition)
                .values(**values)
                .execution_options(synchronize_session=False)
            )

    def reopen(self, side: str, record_ids: Iterable[str] | None = None) -> None:
        """Make records unsettled again (all of the side when ``record_ids`` is None), e.g. after an
        owner's decision or a change of the contact filter, so the next run decides them again."""
        condition = [self._where(side)]
        ids = None if record_ids is None else sorted({str(i) for i in record_ids if i})
        if ids is None:
            self.session.execute(
                update(KnownRecord).where(*condition).values(pending=True, handled_run="")
                .execution_options(synchronize_session=False)
            )
            return
        for among_ids in among(self.session, KnownRecord.record_id, ids):
            self.session.execute(
                update(KnownRecord).where(*condition, among_ids)
                .values(pending=True, handled_run="").execution_options(synchronize_session=False)
            )

    def forget(self, side: str, record_ids: Iterable[str]) -> None:
        """Drop records that no longer exist on their side."""
        for condition in among(self.session, KnownRecord.record_id, (str(i) for i in record_ids if i)):
            self.session.execute(
                delete(KnownRecord).where(self._where(side), condition)
                .execution_options(synchronize_session=False)
            )

    def any_known(self, side: str) -> bool:
        return self.session.scalar(select(KnownRecord.id).where(self._where(side)).limit(1)) is not None

