"""Every ``XEROSYNC_*`` key that is missing or malformed stops ``init_app`` with a ``ConfigError``
that names the key (and never echoes a secret); values at the limits are accepted."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_xerosync import ConfigError, XeroSync
from tests.engine.fakes import MemoryHost

REQUIRED = ("XEROSYNC_CLIENT_ID", "XEROSYNC_CLIENT_SECRET", "XEROSYNC_ENCRYPTION_KEY", "XEROSYNC_REDIS_URL")
SECRET = "s3cr3t-client-secret-value"

MALFORMED: list[tuple[str, Any]] = [
    ("XEROSYNC_CLIENT_ID", 12345),
    ("XEROSYNC_CLIENT_SECRET", 12345),
    ("XEROSYNC_ENCRYPTION_KEY", "not-a-fernet-key"),
    ("XEROSYNC_ENCRYPTION_KEY", "VALID,"),
    ("XEROSYNC_ENCRYPTION_KEY", 5),
    ("XEROSYNC_ENCRYPTION_KEY", []),
    ("XEROSYNC_REDIS_URL", "localhost:6379"),
    ("XEROSYNC_REDIS_URL", "http://localhost:6379/0"),
    ("XEROSYNC_REDIS_URL", 6379),
    ("XEROSYNC_SCOPES", "accounting.contacts accounting.invoices accounting.settings.read"),
    ("XEROSYNC_SCOPES", ["accounting.contacts"]),
    ("XEROSYNC_SCOPES", ""),
    ("XEROSYNC_SCOPES", 7),
    ("XEROSYNC_PAGE_SIZE", 1001),
    ("XEROSYNC_PAGE_SIZE", "5000"),
    ("XEROSYNC_PAGE_SIZE", 0),
    ("XEROSYNC_PAGE_SIZE", "a hundred"),
    ("XEROSYNC_PAGE_SIZE", 99.5),
    ("XEROSYNC_PAGE_SIZE", True),
    ("XEROSYNC_BATCH_SIZE", 51),
    ("XEROSYNC_BATCH_SIZE", "100"),
    ("XEROSYNC_BATCH_SIZE", -5),
    ("XEROSYNC_BATCH_SIZE", "fifty"),
    ("XEROSYNC_RATE_LIMIT_PER_MINUTE", "sixty"),
    ("XEROSYNC_RATE_LIMIT_PER_MINUTE", 0),
    ("XEROSYNC_CONCURRENT_LIMIT", "five"),
    ("XEROSYNC_DAILY_LIMIT", "5k"),
    ("XEROSYNC_DAILY_LIMIT", [5000]),
    ("XEROSYNC_RATE_LIMIT_WINDOW", "a minute"),
    ("XEROSYNC_RATE_LIMIT_WINDOW", "nan"),
    ("XEROSYNC_RATE_LIMIT_WINDOW", True),
    ("XEROSYNC_HTTP_TIMEOUT", "30s"),
    ("XEROSYNC_HTTP_TIMEOUT", "inf"),
    ("XEROSYNC_HTTP_TIMEOUT", 0),
    ("XEROSYNC_MAX_RETRIES", "many"),
    ("XEROSYNC_REFRESH_MARGIN", "5m"),
    ("XEROSYNC_JOB_TIMEOUT", "3h"),
    ("XEROSYNC_HISTORY_SIZE", -1),
    ("XEROSYNC_URL_PREFIX", "settings/xero"),
    ("XEROSYNC_URL_PREFIX", 5),
    ("XEROSYNC_HTMX_URL", ""),
    ("XEROSYNC_HTMX_URL", "htmx.min.js"),
    ("XEROSYNC_HTMX_URL", "javascript:alert(1)"),
    ("XEROSYNC_HTMX_URL", "//cdn.example/htmx.min.js"),
    ("XEROSYNC_HTMX_URL", 42),
    ("XEROSYNC_HTMX_INTEGRITY", 42),
    ("XEROSYNC_QUEUE_NAME", ""),
    ("XEROSYNC_BASE_TEMPLATE", "  "),
    ("XEROSYNC_PLAN_MESSAGE", 42),
    ("XEROSYNC_AUTHORIZE_URL", "login.xero.com/identity/connect/authorize"),
    ("XEROSYNC_TOKEN_URL", "ftp://identity.xero.com/connect/token"),
    ("XEROSYNC_REVOCATION_URL", "/connect/revocation"),
    ("XEROSYNC_API_URL", "api.xero.com"),
    ("XEROSYNC_XERO_APP_URL", "go.xero.com"),
    ("XEROSYNC_SANDBOX_URL", "localhost:8080"),
    ("XEROSYNC_REDIRECT_URI", "/settings/accounting-sync/callback"),
    ("XEROSYNC_REDIRECT_URI", "javascript:alert(1)"),
    ("XEROSYNC_REDIRECT_URI", 42),
]

ACCEPTED: list[tuple[str, Any]] = [
    ("XEROSYNC_PAGE_SIZE", 1000),
    ("XEROSYNC_PAGE_SIZE", "100"),
    ("XEROSYNC_BATCH_SIZE", 50),
    ("XEROSYNC_BATCH_SIZE", 1),
    ("XEROSYNC_RATE_LIMIT_WINDOW", "0.5"),
    ("XEROSYNC_HTTP_TIMEOUT", 2.5),
    ("XEROSYNC_REDIS_URL", "rediss://:password@redis.example:6380/2"),
    ("XEROSYNC_REDIS_URL", "unix:///run/redis.sock?db=1"),
    ("XEROSYNC_SCOPES", ["offline_access", "accounting.contacts"]),
    ("XEROSYNC_HTMX_URL", "/vendor/htmx.min.js"),
    ("XEROSYNC_HTMX_URL", "https://cdn.example/htmx.min.js"),
    ("XEROSYNC_HTMX_INTEGRITY", ""),
    ("XEROSYNC_URL_PREFIX", "/"),
    ("XEROSYNC_REDIRECT_URI", "https://app.example/settings/accounting-sync/callback"),
]


def base_config() -> dict[str, Any]:
    return {
        "SECRET_KEY": "test",
        "SQLALCHEMY_DATABASE_URI": "sqlite://",
        "XEROSYNC_CLIENT_ID": "client",
        "XEROSYNC_CLIENT_SECRET": SECRET,
        "XEROSYNC_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "XEROSYNC_REDIS_URL": "redis://127.0.0.1:1/0",
    }


def configured(**changes: Any) -> Flask:
    """A bare app with the base config changed (a value of ``...`` removes the key)."""
    app = Flask(__name__)
    config = base_config()
    for key, value in changes.items():
        if value is ...:
            config.pop(key, None)
        elif value == "VALID,":
            config[key] = f"{Fernet.generate_key().decode()},"
        else:
            config[key] = value
    app.config.update(config)
    return app


def init_with(**changes: Any) -> Flask:
    app = configured(**changes)
    XeroSync(app, db=SQLAlchemy(app), host_data=MemoryHost())
    return app


@pytest.mark.parametrize("key", REQUIRED)
@pytest.mark.parametrize("missing", [..., None, "", "   "], ids=["absent", "None", "empty", "blank"])
def test_a_missing_required_key_is_named(key: str, missing: Any) -> None:
    with pytest.raises(ConfigError, match=key):
        init_with(**{key: missing})


@pytest.mark.parametrize(("key", "value"), MALFORMED, ids=[f"{k}={v!r}" for k, v in MALFORMED])
def test_a_malformed_key_is_named(key: str, value: Any) -> None:
    app = configured(**{key: value})
    with pytest.raises(ConfigError, match=key) as refused:
        XeroSync(app, db=SQLAlchemy(app), host_data=MemoryHost())

    assert "xerosync" not in app.extensions
    assert SECRET not in str(refused.value)


@pytest.mark.parametrize(("key", "value"), ACCEPTED, ids=[f"{k}={v!r}" for k, v in ACCEPTED])
def test_values_at_the_limits_are_accepted(key: str, value: Any) -> None:
    assert "xerosync" in init_with(**{key: value}).extensions


def test_a_malformed_encryption_key_is_not_echoed() -> None:
    almost = Fernet.generate_key().decode()[:-3] + "!!="

    with pytest.raises(ConfigError) as refused:
        init_with(XEROSYNC_ENCRYPTION_KEY=f"{Fernet.generate_key().decode()},{almost}")

    assert "XEROSYNC_ENCRYPTION_KEY" in str(refused.value) and "key 2" in str(refused.value)
    assert almost not in str(refused.value)


def test_scopes_without_offline_access_explain_why() -> None:
    with pytest.raises(ConfigError, match="offline_access.*refresh token"):
        init_with(XEROSYNC_SCOPES="accounting.contacts accounting.invoices")


SANDBOX = "http://127.0.0.1:5055"


def test_the_sandbox_is_refused_outside_debug_and_testing() -> None:
    app = configured(XEROSYNC_SANDBOX_URL=SANDBOX)
    with pytest.raises(ConfigError, match="XEROSYNC_SANDBOX_URL") as refused:
        XeroSync(app, db=SQLAlchemy(app), host_data=MemoryHost())
    assert "XEROSYNC_ALLOW_SANDBOX=True" in str(refused.value)
    assert "xerosync" not in app.extensions


@pytest.mark.parametrize(
    "mode",
    [{"TESTING": True}, {"DEBUG": True}, {"XEROSYNC_ALLOW_SANDBOX": True}, {"XEROSYNC_ALLOW_SANDBOX": "true"}],
    ids=["testing", "debug", "allowed", "allowed-from-the-environment"],
)
def test_the_sandbox_is_accepted_in_debug_testing_or_when_allowed(mode: dict[str, Any]) -> None:
    app = init_with(XEROSYNC_SANDBOX_URL=SANDBOX, **mode)
    assert app.extensions["xerosync"].config.api_url == SANDBOX


def test_a_malformed_allow_sandbox_flag_is_named() -> None:
    with pytest.raises(ConfigError, match="XEROSYNC_ALLOW_SANDBOX"):
        init_with(XEROSYNC_SANDBOX_URL=SANDBOX, XEROSYNC_ALLOW_SANDBOX="perhaps")
