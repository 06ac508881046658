"""What ``init_app`` keeps for one app, and how the rest of the extension finds it.

:class:`XeroSyncState` lives in ``app.extensions["xerosync"]``; :func:`current_state` returns the
current app's. The host's account loader and plan checker live on :class:`HostCallbacks`, which
the ``XeroSync`` object owns and every state it builds refers to, so the decorators work whether
they are applied before or after ``init_app``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import redis
from blinker import NamedSignal
from flask import current_app
from flask_sqlalchemy import SQLAlchemy

from . import signals
from .config import XeroSyncConfig
from .crypto import TokenCipher
from .host import HostData
from .models import Connection
from .oauth.session import XeroSession, open_session
from .oauth.tokens import TokenStore

EXTENSION_KEY = "xerosync"

AccountLoader = Callable[[], "str | None"]
PlanChecker = Callable[[str], bool]
TimezoneLoader = Callable[[str], "str | tzinfo | None"]


@dataclass
class HostCallbacks:
    """The host's ``@xerosync.account_loader``, ``@xerosync.plan_checker`` and
    ``@xerosync.timezone_loader`` functions."""

    account_loader: AccountLoader | None = None
    plan_checker: PlanChecker | None = None
    timezone_loader: TimezoneLoader | None = None


@dataclass
class XeroSyncState:
    """The extension's state for one app; get it with :func:`current_state`.

    - ``config``: the checked :class:`~flask_xerosync.config.XeroSyncConfig`.
    - ``db``: the host's ``flask_sqlalchemy.SQLAlchemy``; use ``db.session``.
    - ``host_data``: the host's :class:`~flask_xerosync.host.HostData`.
    - ``redis``: a ``redis.Redis`` for ``XEROSYNC_REDIS_URL`` (connects on first use).
    - ``tokens``: the encrypted :class:`~flask_xerosync.oauth.tokens.TokenStore`.
    - ``callbacks``: the host's account loader and plan checker (see :class:`HostCallbacks`).
    - ``sleep``: how calls to Xero wait (retry backoff, ``Retry-After``, the rate limiter); tests
      that make Xero fail put a recorder here instead of waiting.
    """

    config: XeroSyncConfig
    db: SQLAlchemy
    host_data: HostData
    redis: redis.Redis
    tokens: TokenStore = field(repr=False)
    callbacks: HostCallbacks = field(default_factory=HostCallbacks)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    @classmethod
    def build(
        cls, config: XeroSyncConfig, db: SQLAlchemy, host_data: HostData, callbacks: HostCallbacks
    ) -> XeroSyncState:
        return cls(
            config=config,
            db=db,
            host_data=host_data,
            redis=redis.Redis.from_url(config.redis_url),
            tokens=TokenStore(db, TokenCipher(config.encryption_keys)),
            callbacks=callbacks,
        )

    def xero_session(self, connection: Connection) -> XeroSession:
        """The authorised requests session of a connection; losing access there is announced."""
        return open_session(
            connection,
            config=self.config,
            tokens=self.tokens,
            redis_client=self.redis,
            on_access_lost=self.access_lost,
        )

    def access_lost(self, connection: Connection, reason: str) -> None:
        """Xero no longer grants access to the connection's organisation: tell the host."""
        announce(
            signals.disconnected,
            account_id=connection.account_id,
            tenant_id=connection.tenant_id,
            reason="reconnect_needed",
        )
        announce(signals.reconnect_needed, account_id=connection.account_id, tenant_id=connection.tenant_id,
                 reason=reason)

    def account_id(self) -> str | None:
        """The account loader's answer for the current request (``None``: no account)."""
        loader = self.callbacks.account_loader
        if loader is None:
            raise RuntimeError(
                "flask-xerosync needs an account loader: decorate a function returning the current "
                "user's account id with @xerosync.account_loader."
            )
        account_id = loader()
        return None if account_id is None else str(account_id)

    def plan_allows(self, account_id: str) -> bool:
        """The plan checker's answer (``True`` without a checker)."""
        checker = self.callbacks.plan_checker
        return True if checker is None else bool(checker(account_id))

    def timezone_of(self, account_id: str | None) -> tzinfo:
        """The business's time zone: the timezone loader's answer (a zone name or a ``tzinfo``),
        else ``XEROSYNC_TIMEZONE``. A name the system does not know falls back to the default."""
        loader = self.callbacks.timezone_loader
        answer = loader(account_id) if loader is not None and account_id is not None else None
        if isinstance(answer, tzinfo):
            return answer
        try:
            return ZoneInfo(str(answer).strip()) if answer else ZoneInfo(self.config.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo(self.config.timezone)


def current_state() -> XeroSyncState:
    """The flask-xerosync state of ``current_app``."""
    try:
        return current_app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]
    except KeyError:
        raise RuntimeError(
            "flask-xerosync is not initialised on this app: call xerosync.init_app(app, db=..., host_data=...)."
        ) from None


def announce(signal: NamedSignal, **details: Any) -> None:
    """Send one of :mod:`flask_xerosync.signals` with the current app as sender."""
    signal.send(current_app._get_current_object(), **details)  # type: ignore[attr-defined]
