"""A small field-service app (clients, services & products, invoices) that mounts flask-xerosync.

``create_app()`` reads its settings from the environment (see ``make demo``), or from a mapping
passed in (tests).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_login import LoginManager, current_user
from flask_wtf import CSRFProtect

from flask_xerosync import XeroSync

from .host_data import ExampleHostData
from .models import Business, User, db

xerosync = XeroSync()
login_manager = LoginManager()
csrf = CSRFProtect()
login_manager.login_view = "auth.login"

_ENV_KEYS = ("SECRET_KEY", "SQLALCHEMY_DATABASE_URI")


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.update(
        SQLALCHEMY_DATABASE_URI="sqlite:///example.sqlite",
        XEROSYNC_BASE_TEMPLATE="example/base.html",
        XEROSYNC_UPGRADE_URL="/upgrade",
    )
    app.config.update(
        {key: value for key, value in os.environ.items() if value and (key in _ENV_KEYS or key.startswith("XEROSYNC_"))}
    )
    if config:
        app.config.update(config)

    db.init_app(app)
    login_manager.init_app(app)
    csrf.init_app(app)
    xerosync.init_app(app, db=db, host_data=ExampleHostData())

    from . import auth, cli, notices, vendor, views

    app.register_blueprint(auth.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(vendor.bp)
    app.register_blueprint(notices.bp)
    notices.connect_signals(app)
    cli.register(app)
    return app


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


@xerosync.account_loader
def current_business_id() -> str | None:
    if not current_user.is_authenticated:
        return None
    return str(current_user.business_id)


@xerosync.plan_checker
def business_has_xero(account_id: str) -> bool:
    business = db.session.get(Business, int(account_id))
    return business is not None and business.has_xero


@xerosync.timezone_loader
def business_timezone(account_id: str) -> str | None:
    business = db.session.get(Business, int(account_id))
    return business.timezone if business is not None else None
