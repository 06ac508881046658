"""The one question asked everywhere: what is the Xero connection of an account?"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, scoped_session

from ..models import Connection

DbSession = Session | scoped_session[Any]
"""A SQLAlchemy session, or Flask-SQLAlchemy's scoped ``db.session``."""


def connection_of(session: DbSession, account_id: str) -> Connection | None:
    """The account's connection row (whatever its status), or ``None`` when it never connected."""
    return session.scalar(select(Connection).where(Connection.account_id == account_id))
