"""The ``XeroSync`` extension object: the host's decorators, and ``init_app``, which wires the
extension into an app (its state, the blueprint, the CLI and the template globals).

Nothing in the package imports this module: it sits on top of every layer (see
``[tool.importlinter]`` in ``pyproject.toml`` and docs/development.md).
"""

from __future__ import annotations

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from .cli import xerosync_cli
from .config import load_config
from .host import HostData, check_host_data
from .state import EXTENSION_KEY, AccountLoader, HostCallbacks, PlanChecker, TimezoneLoader, XeroSyncState
from .web import routed_blueprint
from .web.rendering import HOST_TEMPLATE_GLOBALS
from .web.views.webhooks import register_webhooks


class XeroSync:
    """The extension: ``XeroSync(app, db=db, host_data=...)`` or ``XeroSync()`` then ``init_app``.

    Register ``@xerosync.account_loader`` (required), ``@xerosync.plan_checker`` and
    ``@xerosync.timezone_loader`` (optional), before or after ``init_app``.
    """

    def __init__(
        self, app: Flask | None = None, *, db: SQLAlchemy | None = None, host_data: HostData | None = None
    ) -> None:
        self.callbacks = HostCallbacks()
        if app is not None:
            self.init_app(app, db=db, host_data=host_data)

    def account_loader(self, loader: AccountLoader) -> AccountLoader:
        """Register the function that returns the current user's account id, or ``None`` (403)."""
        self.callbacks.account_loader = loader
        return loader

    def plan_checker(self, checker: PlanChecker) -> PlanChecker:
        """Register the function that says whether an account's plan includes Xero sync."""
        self.callbacks.plan_checker = checker
        return checker

    def timezone_loader(self, loader: TimezoneLoader) -> TimezoneLoader:
        """Register the function that returns a business's time zone (an IANA name such as
        "Pacific/Auckland", or a ``tzinfo``) from its account id; ``None`` means
        ``XEROSYNC_TIMEZONE``. Pages show times in it and daily syncs run at its hours."""
        self.callbacks.timezone_loader = loader
        return loader

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
        config = load_config(app.config)
        check_host_data(host_data)
        app.extensions[EXTENSION_KEY] = XeroSyncState.build(config, db, host_data, self.callbacks)
        app.register_blueprint(routed_blueprint(), url_prefix=config.url_prefix or None)
        register_webhooks(app, url_prefix=config.url_prefix)
        for name, function in HOST_TEMPLATE_GLOBALS.items():
            app.add_template_global(function, name)
        app.cli.add_command(xerosync_cli)
