"""The encrypted token store of Xero connections.

Reads and writes here run in a short session of their own on the host's engine and commit at once:
a refreshed token set must be durable before its access token is used, whatever the caller's own
transaction holds. Callers must therefore not hold uncommitted writes to ``xerosync_connection``
(or, on SQLite, any uncommitted write) while calling Xero.

The caller's copy of the :class:`~flask_xerosync.models.Connection` is brought up to date with
``set_committed_value`` so it neither goes stale nor becomes dirty in the caller's session.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..crypto import TokenCipher
from ..models import Connection, ConnectionStatus, utcnow


@dataclass(frozen=True)
class StoredConnection:
    """A fresh, committed view of a connection, read after taking the refresh lock."""

    id: str
    account_id: str
    status: str
    tenant_id: str | None
    token: dict[str, Any] | None


def token_expiry(token: dict[str, Any]) -> datetime | None:
    expires_at = token.get("expires_at")
    if expires_at is None and token.get("expires_in") is not None:
        expires_at = time.time() + int(token["expires_in"])
    if expires_at is None:
        return None
    return datetime.fromtimestamp(int(expires_at), tz=timezone.utc)


class TokenStore:
    def __init__(self, db: SQLAlchemy, cipher: TokenCipher) -> None:
        self._db = db
        self.cipher = cipher

    def encrypt_into(self, connection: Connection, token: dict[str, Any]) -> None:
        """Put an encrypted token set on a connection the caller will commit."""
        connection.token_encrypted = self.cipher.encrypt(token)
        connection.token_expires_at = token_expiry(token)
        connection.scopes = str(token.get("scope", connection.scopes or ""))

    def token_of(self, connection: Connection) -> dict[str, Any] | None:
        if not connection.token_encrypted:
            return None
        return self.cipher.decrypt(connection.token_encrypted)

    def load(self, connection_id: str) -> StoredConnection | None:
        with Session(self._db.engine) as session:
            row = session.get(Connection, connection_id)
            if row is None:
                return None
            token = self.token_of(row)
            return StoredConnection(row.id, row.account_id, row.status, row.tenant_id, token)

    def save(self, connection: Connection, token: dict[str, Any]) -> None:
        """Store a refreshed token set and commit it, then update the caller's copy."""
        with Session(self._db.engine) as session:
            row = session.get(Connection, connection.id)
            if row is None:
                raise LookupError(f"connection {connection.id} no longer exists")
            self.encrypt_into(row, token)
            row.updated_at = utcnow()
            session.commit()
            values = {
                "token_encrypted": row.token_encrypted,
                "token_expires_at": row.token_expires_at,
                "scopes": row.scopes,
            }
        _sync_copy(connection, values)

    def mark_reconnect_needed(self, connection: Connection, reason: str) -> None:
        with Session(self._db.engine) as session:
            row = session.get(Connection, connection.id)
            if row is None:
                return
            row.status = ConnectionStatus.RECONNECT_NEEDED
            row.status_reason = reason
            row.updated_at = utcnow()
            session.commit()
        _sync_copy(connection, {"status": ConnectionStatus.RECONNECT_NEEDED, "status_reason": reason})

    def rotate_all(self) -> int:
        """Re-encrypt every stored token set with the first key; returns how many were rewritten."""
        rotated = 0
        with Session(self._db.engine) as session:
            rows = session.scalars(select(Connection).where(Connection.token_encrypted.is_not(None)))
            for row in rows.all():
                row.token_encrypted = self.cipher.rotate(row.token_encrypted)
                rotated += 1
            session.commit()
        return rotated


def _sync_copy(connection: Connection, values: dict[str, Any]) -> None:
    for name, value in values.items():
        set_committed_value(connection, name, value)
