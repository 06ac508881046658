"""The ``XeroSync`` extension object and its per-app state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis
from flask import Flask, current_app, render_template
from flask_sqlalchemy import SQLAlchemy
from markupsafe import Markup

from .config import XeroSyncConfig, load_config
from .crypto import TokenCipher
from .host import HostData
from .models import Connection
from .oauth.tokens import TokenStore

if TYPE_CHECKING:
    from .oauth.session import XeroSession

EXTENSION_KEY = "xerosync"

AccountLoader = Callable[[], "str | None"]
PlanChecker = Callable[[str], bool]


def resource_folders(package_dir: Path | None = None) -> tuple[Path, Path]:
    """The ``templates`` and ``static`` folders: inside the package when installed from the wheel
    (pyproject force-includes them there), at the top of a source checkout otherwise."""
    package_dir = package_dir or Path(__file__).resolve().parent
    for base in (package_dir, package_dir.parent):
        templates, static = base / "templates", base / "static"
        if (templates / "xerosync").is_dir() and (static / "xerosync").is_dir():
            return templates, static
    raise RuntimeError(
        f"flask-xerosync's templates and static files are missing (looked in {package_dir} and "
        f"{package_dir.parent}). Reinstall the package."
    )


@dataclass
class XeroSyncState:
    """What ``init_app`` keeps in ``app.extensions["xerosync"]``; get it with :func:`current_state`.

    - ``extension``: the :class:`XeroSync` object (account loader, plan checker).
    - ``config``: the checked :class:`~flask_xerosync.config.XeroSyncConfig`.
    - ``db``: the host's ``flask_sqlalchemy.SQLAlchemy``; use ``db.session``.
    - ``host_data``: the host's :class:`~flask_xerosync.host.HostData`.
    - ``redis``: a ``redis.Redis`` for ``XEROSYNC_REDIS_URL`` (connects on first use).
    - ``tokens``: the encrypted :class:`~flask_xerosync.oauth.tokens.TokenStore`.
    - ``xero_session(connection)``: the authorised requests session of a connection.
    - ``account_id()``: the account loader's answer for the current request (``None``: no account).
    - ``plan_allows(account_id)``: the plan checker's answer (``True`` without a checker).
    """

    extension: XeroSync
    config: XeroSyncConfig
    db: SQLAlchemy
    host_data: HostData
    redis: redis.Redis
    tokens: TokenStore = field(repr=False)

    @classmethod
    def build(cls, extension: XeroSync, app_config: Any, db: SQLAlchemy, host_data: HostData) -> XeroSyncState:
        """Read and check the ``XEROSYNC_*`` keys of ``app_config`` and build the state."""
        config = load_config(app_config)
        return cls(
            extension=extension,
            config=config,
            db=db,
            host_data=host_data,
            redis=redis.Redis.from_url(config.redis_url),
            tokens=TokenStore(db, TokenCipher(config.encryption_keys)),
        )

    def xero_session(self, connection: Connection) -> XeroSession:
        from .oauth.session import open_session

        return open_session(connection, config=self.config, tokens=self.tokens, redis_client=self.redis)

    def account_id(self) -> str | None:
        loader = self.extension._account_loader
        if loader is None:
            raise RuntimeError(
                "flask-xerosync needs an account loader: decorate a function returning the current "
                "user's account id with @xerosync.account_loader."
            )
        account_id = loader()
        return None if account_id is None else str(account_id)

    def plan_allows(self, account_id: str) -> bool:
        checker = self.extension._plan_checker
        return True if checker is None else bool(checker(account_id))


def current_state() -> XeroSyncState:
    """The flask-xerosync state of ``current_app``."""
    try:
        return current_app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]
    except KeyError:
        raise RuntimeError(
            "flask-xerosync is not initialised on this app: call xerosync.init_app(app, db=..., host_data=...)."
        ) from None


class XeroSync:
    """The extension: ``XeroSync(app, db=db, host_data=...)`` or ``XeroSync()`` then ``init_app``.

    Register ``@xerosync.account_loader`` (required) and ``@xerosync.plan_checker`` (optional).
    """

    def __init__(
        self, app: Flask | None = None, *, db: SQLAlchemy | None = None, host_data: HostData | None = None
    ) -> None:
        self._account_loader: AccountLoader | None = None
        self._plan_checker: PlanChecker | None = None
        if app is not None:
            self.init_app(app, db=db, host_data=host_data)

    def account_loader(self, loader: AccountLoader) -> AccountLoader:
        """Register the function that returns the current user's account id, or ``None`` (403)."""
        self._account_loader = loader
        return loader

    def plan_checker(self, checker: PlanChecker) -> PlanChecker:
        """Register the function that says whether an account's plan includes Xero sync."""
        self._plan_checker = checker
        return checker

    def init_app(self, app: Flask, *, db: SQLAlchemy | None = None, host_data: HostData | None = None) -> None:
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError(
                "A XeroSync instance is already registered on this app. Call init_app once per app "
                "and reuse that instance."
            )
        if db is None:
            raise TypeError("XeroSync.init_app needs db=, the app's flask_sqlalchemy.SQLAlchemy instance.")
        if host_data is None:
            raise TypeError("XeroSync.init_app needs host_data=, the app's HostData implementation.")
        state = XeroSyncState.build(self, app.config, db, host_data)
        app.extensions[EXTENSION_KEY] = state

        from .cli import xerosync_cli
        from .views import routed_blueprint

        app.register_blueprint(routed_blueprint(), url_prefix=state.config.url_prefix or None)
        app.add_template_global(invoice_action, "xerosync_invoice_action")
        app.add_template_global(head_assets, "xerosync_head")
        app.cli.add_command(xerosync_cli)


def invoice_action(invoice_id: Any) -> Markup:
    """The Push To Xero control of one host invoice, for the host's invoice actions menu."""
    from .views.invoices import render_invoice_action

    return Markup(render_invoice_action(str(invoice_id)))


def head_assets() -> Markup:
    """The extension's stylesheet and htmx, for the ``<head>`` of a host page that shows the
    invoice action (so it updates in place); the extension's own pages include them already."""
    config = current_state().config
    return Markup(render_template("xerosync/_assets.html", xerosync_config=config))
