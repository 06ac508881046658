"""The extension object: init_app once, config errors that name their key, the template/static
finder, the public exports and the invoice-action global."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy

import flask_xerosync
from flask_xerosync import ConfigError, HostData, XeroSync
from flask_xerosync.state import current_state
from flask_xerosync.web.blueprint import resource_folders
from tests.engine.fakes import MemoryHost


def base_config(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "SECRET_KEY": "test",
        "SQLALCHEMY_DATABASE_URI": "sqlite://",
        "XEROSYNC_CLIENT_ID": "client",
        "XEROSYNC_CLIENT_SECRET": "secret",
        "XEROSYNC_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "XEROSYNC_REDIS_URL": "redis://127.0.0.1:1/0",
    }
    config.update(overrides)
    return {key: value for key, value in config.items() if value is not None}


def make_app(**overrides: Any) -> tuple[Flask, SQLAlchemy]:
    app = Flask(__name__)
    app.config.update(base_config(**overrides))
    db = SQLAlchemy(app)
    LoginManager(app).user_loader(lambda user_id: None)
    return app, db


def test_public_names() -> None:
    for name in ("XeroSync", "HostData", "Client", "Item", "Invoice", "InvoiceLine", "Address", "ConfigError"):
        assert hasattr(flask_xerosync, name)
    assert flask_xerosync.signals.connected is not None
    assert flask_xerosync.__version__


def test_init_app_stores_state_without_connecting_to_redis() -> None:
    app, db = make_app()
    extension = XeroSync(app, db=db, host_data=MemoryHost())  # Redis at port 1 is never reached

    with app.app_context():
        state = current_state()
        assert state.callbacks is extension.callbacks and state.db is db
        assert state.config.client_id == "client"
        assert "xerosync" in app.blueprints
        assert "xerosync" in app.cli.commands
        assert state.plan_allows("any-account") is True


def test_mounting_twice_fails() -> None:
    app, db = make_app()
    extension = XeroSync()
    extension.init_app(app, db=db, host_data=MemoryHost())

    with pytest.raises(RuntimeError, match="already registered"):
        extension.init_app(app, db=db, host_data=MemoryHost())
    with pytest.raises(RuntimeError, match="already registered"):
        XeroSync(app, db=db, host_data=MemoryHost())


def test_one_extension_serves_several_apps() -> None:
    extension = XeroSync()
    for prefix in ("/a", "/b/c"):
        app, db = make_app(XEROSYNC_URL_PREFIX=prefix, SERVER_NAME="localhost")
        extension.init_app(app, db=db, host_data=MemoryHost())
        with app.test_request_context():
            from flask import url_for

            assert url_for("xerosync.settings") == f"{prefix}/"
            assert url_for("xerosync.callback") == f"{prefix}/callback"


def test_db_and_host_data_are_required() -> None:
    app, db = make_app()
    with pytest.raises(TypeError, match="db="):
        XeroSync().init_app(app, host_data=MemoryHost())
    with pytest.raises(TypeError, match="host_data="):
        XeroSync().init_app(app, db=db)


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"XEROSYNC_CLIENT_ID": None}, "XEROSYNC_CLIENT_ID"),
        ({"XEROSYNC_CLIENT_ID": "  "}, "XEROSYNC_CLIENT_ID"),
        ({"XEROSYNC_CLIENT_SECRET": None}, "XEROSYNC_CLIENT_SECRET"),
        ({"XEROSYNC_ENCRYPTION_KEY": None}, "XEROSYNC_ENCRYPTION_KEY"),
        ({"XEROSYNC_ENCRYPTION_KEY": "not-a-fernet-key"}, "XEROSYNC_ENCRYPTION_KEY"),
        ({"XEROSYNC_REDIS_URL": None}, "XEROSYNC_REDIS_URL"),
        ({"XEROSYNC_URL_PREFIX": "settings/xero"}, "XEROSYNC_URL_PREFIX"),
        ({"XEROSYNC_TOKEN_URL": "identity.xero.com/connect/token"}, "XEROSYNC_TOKEN_URL"),
        ({"XEROSYNC_SANDBOX_URL": "ftp://sandbox"}, "XEROSYNC_SANDBOX_URL"),
        ({"XEROSYNC_SCOPES": "accounting.contacts"}, "XEROSYNC_SCOPES"),
    ],
)
def test_bad_config_names_the_key(overrides: dict[str, Any], key: str) -> None:
    app = Flask(__name__)
    app.config.update(base_config())
    for name, value in overrides.items():
        if value is None:
            app.config.pop(name, None)
        else:
            app.config[name] = value
    db = SQLAlchemy(app)

    with pytest.raises(ConfigError, match=key):
        XeroSync(app, db=db, host_data=MemoryHost())
    assert "xerosync" not in app.extensions


def test_second_encryption_key_is_accepted_for_rotation() -> None:
    keys = f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}"
    app, db = make_app(XEROSYNC_ENCRYPTION_KEY=keys)
    XeroSync(app, db=db, host_data=MemoryHost())
    with app.app_context():
        assert len(current_state().config.encryption_keys) == 2


def test_resources_found_in_a_source_checkout() -> None:
    templates, static = resource_folders()
    assert (templates / "xerosync" / "settings.html").is_file()
    assert (static / "xerosync" / "xerosync.css").is_file()


def test_resources_found_inside_an_installed_package(tmp_path: Path) -> None:
    package = tmp_path / "site-packages" / "flask_xerosync"
    (package / "templates" / "xerosync").mkdir(parents=True)
    (package / "static" / "xerosync").mkdir(parents=True)
    (tmp_path / "site-packages" / "templates" / "xerosync").mkdir(parents=True)  # someone else's

    assert resource_folders(package) == (package / "templates", package / "static")


def test_missing_resources_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="templates and static files are missing"):
        resource_folders(tmp_path / "flask_xerosync")


def test_static_and_base_template_are_served() -> None:
    app, db = make_app(SERVER_NAME="localhost", XEROSYNC_HTMX_INTEGRITY="")
    XeroSync(app, db=db, host_data=MemoryHost())
    client = app.test_client()

    assert client.get("/settings/accounting-sync/static/xerosync/xerosync.css").status_code == 200
    with app.test_request_context():
        from flask import render_template_string

        html = render_template_string(
            '{% extends "xerosync/base.html" %}{% block content %}{% include "xerosync/_assets.html" %}{% endblock %}',
            xerosync_config=current_state().config,
        )
    assert "integrity" not in html and 'crossorigin="anonymous"' in html


def test_invoice_action_global_is_registered() -> None:
    app, db = make_app()
    XeroSync(app, db=db, host_data=MemoryHost())
    assert "xerosync_invoice_action" in app.jinja_env.globals


class Stubs(MemoryHost):
    """A host whose methods are the stubs people leave behind."""

    def list_clients(self, account_id: str, changed_since: Any) -> Any:
        ...

    def save_clients(self, account_id: str, clients: Any) -> Any:
        """Create or update clients."""

    def list_items(self, account_id: str, changed_since: Any) -> Any:
        pass

    def save_items(self, account_id: str, items: Any) -> Any:
        raise NotImplementedError

    def get_invoices(self, account_id: str, invoice_ids: Any) -> Any:
        """Not yet."""
        raise NotImplementedError("later")


class HalfDone(HostData):
    """Inherits four of the five methods from the protocol unchanged."""

    def list_clients(self, account_id: str, changed_since: Any) -> Any:
        return []


class Broken:
    list_clients = save_clients = list_items = save_items = "not a method"

    def get_invoices(self, account_id: str, invoice_ids: Any) -> Any:
        return []


def test_init_app_refuses_a_host_data_of_stubs_naming_each_method() -> None:
    app, db = make_app()
    with pytest.raises(TypeError) as refused:
        XeroSync(app, db=db, host_data=Stubs())
    message = str(refused.value)
    assert "Stubs" in message
    for name in ("list_clients", "save_clients", "list_items", "save_items", "get_invoices"):
        assert f"{name} (a stub)" in message
    assert "xerosync" not in app.extensions


def test_init_app_refuses_methods_inherited_from_the_protocol_or_missing_or_not_callable() -> None:
    app, db = make_app()
    with pytest.raises(TypeError, match=r"HalfDone.*save_clients \(inherited unchanged from HostData\)") as half:
        XeroSync(app, db=db, host_data=HalfDone())
    assert "list_clients" not in str(half.value)

    with pytest.raises(TypeError, match=r"Broken.*list_clients \(not callable\)"):
        XeroSync(app, db=db, host_data=Broken())

    with pytest.raises(TypeError, match=r"get_invoices \(missing\)"):
        XeroSync(app, db=db, host_data=type("NoInvoices", (), {name: lambda self, *a: [] for name in (
            "list_clients", "save_clients", "list_items", "save_items")})())


def test_a_host_data_whose_methods_do_something_is_accepted() -> None:
    app, db = make_app()
    XeroSync(app, db=db, host_data=MemoryHost())
    assert "xerosync" in app.extensions
