"""Set-based reads and writes shared by the engine's stores: ``IN`` lists and upserts.

PostgreSQL and SQLite get one ``INSERT … ON CONFLICT DO UPDATE`` per batch; other databases get
the portable form (a read of the existing keys, then inserts and updates). A list of values to
look up is one array parameter on PostgreSQL (``= ANY(%s)``: the statement's text, and so its
parse, its plan and psycopg's prepared statement, stay the same whatever the list holds), and
``IN`` lists of at most :data:`IN_CHUNK` values elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, FromClause, Table, and_, any_, bindparam, insert, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, scoped_session

IN_CHUNK = 500
"""Values per ``IN (…)`` list: under every database's bound-parameter limit."""

T = TypeVar("T")


def chunks(values: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def dialect_of(session: Session | scoped_session[Any]) -> str:
    return session.get_bind().dialect.name


def among(
    session: Session | scoped_session[Any], column: ColumnElement[Any], values: Iterable[Any]
) -> Iterator[ColumnElement[bool]]:
    """Conditions "``column`` is one of ``values``" that together cover the (deduplicated) values:
    one per statement to run (see the module docstring). None when there are no values. The
    values go in as one expanding parameter, not one coerced literal each."""
    unique = sorted(set(values))
    if not unique:
        return
    if dialect_of(session) == "postgresql":
        yield column == any_(bindparam(None, unique, type_=postgresql.ARRAY(column.type)))
        return
    for chunk in chunks(unique):
        yield column.in_(bindparam(None, list(chunk), type_=column.type, expanding=True))


def upsert(
    session: Session | scoped_session[Any],
    table: FromClause,
    rows: Sequence[Mapping[str, Any]],
    *,
    keys: Sequence[str],
    update: Sequence[str],
) -> None:
    """Insert ``rows``, or update the ``update`` columns of rows whose ``keys`` already exist."""
    if not rows:
        return
    assert isinstance(table, Table), "upserts write to tables"
    dialect = dialect_of(session)
    if dialect in ("postgresql", "sqlite"):
        statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
        statement = statement.on_conflict_do_update(
            index_elements=list(keys), set_={name: statement.excluded[name] for name in update}
        )
        for chunk in chunks(list(rows), 200):
            session.execute(statement, list(chunk))
        return
    _portable_upsert(session, table, rows, keys, update)


def _portable_upsert(
    session: Session | scoped_session[Any], table: Table, rows: Sequence[Mapping[str, Any]],
    keys: Sequence[str], columns: Sequence[str],
) -> None:
    key_columns = [table.c[name] for name in keys]
    wanted = [tuple(row[name] for name in keys) for row in rows]
    existing: set[tuple[Any, ...]] = set()
    for chunk in chunks(wanted, 200):
        existing.update(tuple(found) for found in session.execute(select(*key_columns).where(
            tuple_(*key_columns).in_(list(chunk)))))
    new = [row for row, key in zip(rows, wanted, strict=False) if key not in existing]
    if new:
        session.execute(insert(table), new)
    for row, key in zip(rows, wanted, strict=False):
        if key in existing:
            session.execute(
                update(table).where(and_(*(column == value for column, value in zip(key_columns, key, strict=False))))
                .values({name: row[name] for name in columns})
            )
