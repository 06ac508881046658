"""``XEROSYNC_*`` configuration, read once in ``init_app`` with an error that names any bad key."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.fernet import Fernet

HTMX_VERSION = "2.0.11"
HTMX_CDN_URL = f"https://cdn.jsdelivr.net/npm/htmx.org@{HTMX_VERSION}/dist/htmx.min.js"
HTMX_INTEGRITY = "sha384-2OatzQy1H+Zd/IIrjr1TcuDGqLXeHhbooAyJY1KdQMKnr4LZ22k31GBLdYKHmVjg"

DEFAULT_SCOPES = "offline_access accounting.contacts accounting.invoices accounting.settings.read"

XERO_ENDPOINTS = {
    "XEROSYNC_AUTHORIZE_URL": "https://login.xero.com/identity/connect/authorize",
    "XEROSYNC_TOKEN_URL": "https://identity.xero.com/connect/token",
    "XEROSYNC_REVOCATION_URL": "https://identity.xero.com/connect/revocation",
    "XEROSYNC_API_URL": "https://api.xero.com",
    "XEROSYNC_XERO_APP_URL": "https://go.xero.com",
}
SANDBOX_PATHS = {
    "XEROSYNC_AUTHORIZE_URL": "/identity/connect/authorize",
    "XEROSYNC_TOKEN_URL": "/connect/token",
    "XEROSYNC_REVOCATION_URL": "/connect/revocation",
    "XEROSYNC_API_URL": "",
    "XEROSYNC_XERO_APP_URL": "",
}

INVOICE_STATUSES = ("DRAFT", "SUBMITTED", "AUTHORISED")
CONFLICT_POLICIES = ("xero_wins", "host_wins")
CONTACT_FILTERS = ("not_suppliers", "customers", "all")


class ConfigError(RuntimeError):
    """A ``XEROSYNC_*`` key is missing or malformed; the message names the key and the fix."""


T = TypeVar("T")


@dataclass(frozen=True)
class XeroSyncConfig:
    """The checked settings. The secrets are left out of ``repr`` (debuggers, error reports, logs)."""

    client_id: str
    client_secret: str = field(repr=False)
    encryption_keys: tuple[str, ...] = field(repr=False)
    redis_url: str
    scopes: tuple[str, ...]
    url_prefix: str
    htmx_url: str
    htmx_integrity: str
    authorize_url: str
    token_url: str
    revocation_url: str
    api_url: str
    xero_app_url: str
    base_template: str
    plan_message: str
    queue_name: str
    job_timeout: int
    page_size: int
    batch_size: int
    rate_limit_per_minute: int
    rate_limit_window: float
    concurrent_limit: int
    daily_limit: int
    http_timeout: float
    max_retries: int
    refresh_margin: int
    history_size: int
    redirect_uri: str = ""
    """``XEROSYNC_REDIRECT_URI``; empty: the callback route's absolute URL, as Flask builds it."""
    webhook_key: str = field(default="", repr=False)
    """``XEROSYNC_WEBHOOK_KEY``: the signing key of the app's Xero webhook; empty: webhooks are refused."""
    webhook_delay: float = 60.0
    """Seconds a run waits after the first webhook event, so a burst of events makes one run."""
    reconcile_hours: float = 24.0
    """How often an automatic sync pulls everything from Xero again (changes no event reports)."""
    timezone: str = "UTC"
    """The time zone of businesses the host's ``timezone_loader`` says nothing about."""
    upgrade_url: str = ""
    """Where the plan explanation links to upgrade; empty: no link."""
    app_rate_limit_per_minute: int = 10000
    """``XEROSYNC_APP_RATE_LIMIT_PER_MINUTE``: Xero's app-wide minute limit (all organisations)."""
    max_limit_wait: float = 5.0
    """``XEROSYNC_MAX_LIMIT_WAIT``: the longest a run sleeps in its worker for a limit; a longer
    wait hands the worker back and the run continues when the limit allows."""

    @property
    def connections_url(self) -> str:
        return f"{self.api_url}/connections"

    @property
    def accounting_url(self) -> str:
        return f"{self.api_url}/api.xro/2.0"


def _required_str(config: Mapping[str, Any], key: str) -> str:
    value = config.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ConfigError(f"{key} is not set. flask-xerosync needs it; see the README's config table.")
    if not isinstance(value, str):
        raise ConfigError(f"{key} must be a string, got {type(value).__name__}.")
    return value.strip()


def _optional(config: Mapping[str, Any], key: str, default: T, convert: Callable[[Any], T]) -> T:
    value = config.get(key)
    if value is None:
        return default
    try:
        return convert(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key} is malformed: {exc}") from None


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"expected a whole number, got {value!r}")
    number = int(value)
    if number <= 0:
        raise ValueError(f"expected a number above zero, got {value!r}")
    return number


def _positive_float(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError(f"expected a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"expected a number above zero, got {value!r}")
    return number


def _non_negative_float(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError(f"expected a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"expected zero or more, got {value!r}")
    return number


def _secret(value: Any) -> str:
    return _text(value).strip()


def time_zone_name(value: Any) -> str:
    """An IANA time zone name ("Pacific/Auckland"), checked against the system's zone database."""
    name = _text(value).strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"expected an IANA time zone name such as 'Pacific/Auckland', got {value!r}") from None
    return name


def _url(value: Any) -> str:
    text = str(value).strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"expected an absolute http(s) URL, got {value!r}")
    return text


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _name(value: Any) -> str:
    text = _text(value).strip()
    if not text:
        raise ValueError("expected a non-empty name")
    return text


def _url_or_path(value: Any) -> str:
    """An absolute http(s) URL (a CDN) or a path on the host's site ("/static/htmx.min.js",
    "/billing/upgrade"); a relative path would resolve differently on each page."""
    text = _text(value).strip()
    parts = urlsplit(text)
    if parts.scheme in ("http", "https") and parts.netloc:
        return text
    if not parts.scheme and not parts.netloc and text.startswith("/") and "\\" not in text:
        return text
    raise ValueError(f"expected an absolute http(s) URL or a path starting with '/', got {value!r}")


def _redis_url(value: str) -> str:
    if urlsplit(value).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(
            "XEROSYNC_REDIS_URL is malformed: expected a redis://, rediss:// or unix:// URL "
            "(for example redis://localhost:6379/0)."
        )
    return value


def _prefix(value: Any) -> str:
    text = str(value).strip()
    if not text.startswith("/"):
        raise ValueError(f"expected a path starting with '/', got {value!r}")
    return text.rstrip("/") or ""


def _scopes(value: Any) -> tuple[str, ...]:
    scopes = tuple(value.split()) if isinstance(value, str) else tuple(str(s) for s in value)
    if not scopes:
        raise ValueError("expected at least one scope")
    if "offline_access" not in scopes:
        raise ValueError("'offline_access' is required: without it Xero returns no refresh token")
    return scopes


def _encryption_keys(config: Mapping[str, Any]) -> tuple[str, ...]:
    key = "XEROSYNC_ENCRYPTION_KEY"
    raw = config.get(key)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise ConfigError(
            f"{key} is not set. Generate one with: "
            "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        )
    if isinstance(raw, str):
        keys = tuple(k.strip() for k in raw.split(","))
    elif isinstance(raw, (list, tuple)) and raw:
        keys = tuple(raw)
    else:
        raise ConfigError(
            f"{key} is malformed: expected a Fernet key, or several separated by commas, "
            f"got {type(raw).__name__}."
        )
    for position, candidate in enumerate(keys, start=1):
        try:
            Fernet(candidate)
        except (ValueError, TypeError):
            raise ConfigError(
                f"{key} is malformed: key {position} is not a Fernet key (32 url-safe base64-encoded "
                "bytes). List several keys separated by commas to rotate: the first encrypts, all decrypt."
            ) from None
    return keys


def _redirect_uri(value: Any) -> str:
    text = _text(value).strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"expected the absolute http(s) URL Xero sends users back to, got {value!r}")
    return text


def _flag(value: Any) -> bool:
    """A boolean, or its spelling in an environment variable ("true", "1", "no"…)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected True or False, got {value!r}")


def _check_sandbox_allowed(config: Mapping[str, Any]) -> None:
    """The sandbox is a stand-in for Xero: pointing a production app at it is a mistake, unless
    the app says so explicitly."""
    if config.get("DEBUG") or config.get("TESTING"):
        return
    if _optional(config, "XEROSYNC_ALLOW_SANDBOX", False, _flag):
        return
    raise ConfigError(
        "XEROSYNC_SANDBOX_URL is set, but the app is in neither debug nor testing mode: it would send "
        "this app's Xero traffic to the local sandbox. Remove XEROSYNC_SANDBOX_URL to talk to Xero, or "
        "set XEROSYNC_ALLOW_SANDBOX=True if this app really is meant to use the sandbox (a demo)."
    )


def _endpoints(config: Mapping[str, Any]) -> dict[str, str]:
    sandbox = _optional(config, "XEROSYNC_SANDBOX_URL", "", _url) if config.get("XEROSYNC_SANDBOX_URL") else ""
    if sandbox:
        _check_sandbox_allowed(config)
    resolved: dict[str, str] = {}
    for key, default in XERO_ENDPOINTS.items():
        if config.get(key) is not None:
            resolved[key] = _optional(config, key, default, _url)
        elif sandbox:
            resolved[key] = sandbox + SANDBOX_PATHS[key]
        else:
            resolved[key] = default
    return resolved


def load_config(config: Mapping[str, Any]) -> XeroSyncConfig:
    """Read and check every ``XEROSYNC_*`` key of a Flask config."""
    endpoints = _endpoints(config)
    htmx_url = _optional(config, "XEROSYNC_HTMX_URL", HTMX_CDN_URL, _url_or_path)
    return XeroSyncConfig(
        client_id=_required_str(config, "XEROSYNC_CLIENT_ID"),
        client_secret=_required_str(config, "XEROSYNC_CLIENT_SECRET"),
        encryption_keys=_encryption_keys(config),
        redis_url=_redis_url(_required_str(config, "XEROSYNC_REDIS_URL")),
        scopes=_optional(config, "XEROSYNC_SCOPES", _scopes(DEFAULT_SCOPES), _scopes),
        url_prefix=_optional(config, "XEROSYNC_URL_PREFIX", "/settings/accounting-sync", _prefix),
        htmx_url=htmx_url,
        htmx_integrity=_optional(config, "XEROSYNC_HTMX_INTEGRITY", HTMX_INTEGRITY, _text),
        authorize_url=endpoints["XEROSYNC_AUTHORIZE_URL"],
        token_url=endpoints["XEROSYNC_TOKEN_URL"],
        revocation_url=endpoints["XEROSYNC_REVOCATION_URL"],
        api_url=endpoints["XEROSYNC_API_URL"],
        xero_app_url=endpoints["XEROSYNC_XERO_APP_URL"],
        base_template=_optional(config, "XEROSYNC_BASE_TEMPLATE", "xerosync/base.html", _name),
        plan_message=_optional(
            config,
            "XEROSYNC_PLAN_MESSAGE",
            "Xero sync is available on plans that include accounting integrations. "
            "Ask the account owner to upgrade to turn it on.",
            _text,
        ),
        queue_name=_optional(config, "XEROSYNC_QUEUE_NAME", "xerosync", _name),
        job_timeout=_optional(config, "XEROSYNC_JOB_TIMEOUT", 3 * 3600, _positive_int),
        page_size=_optional(config, "XEROSYNC_PAGE_SIZE", 1000, _page_size),
        batch_size=_optional(config, "XEROSYNC_BATCH_SIZE", 50, _batch_size),
        rate_limit_per_minute=_optional(config, "XEROSYNC_RATE_LIMIT_PER_MINUTE", 60, _positive_int),
        rate_limit_window=_optional(config, "XEROSYNC_RATE_LIMIT_WINDOW", 60.0, _positive_float),
        concurrent_limit=_optional(config, "XEROSYNC_CONCURRENT_LIMIT", 5, _positive_int),
        daily_limit=_optional(config, "XEROSYNC_DAILY_LIMIT", 5000, _positive_int),
        http_timeout=_optional(config, "XEROSYNC_HTTP_TIMEOUT", 30.0, _positive_float),
        max_retries=_optional(config, "XEROSYNC_MAX_RETRIES", 5, _positive_int),
        refresh_margin=_optional(config, "XEROSYNC_REFRESH_MARGIN", 300, _positive_int),
        history_size=_optional(config, "XEROSYNC_HISTORY_SIZE", 20, _positive_int),
        redirect_uri=_optional(config, "XEROSYNC_REDIRECT_URI", "", _redirect_uri),
        webhook_key=_optional(config, "XEROSYNC_WEBHOOK_KEY", "", _secret),
        webhook_delay=_optional(config, "XEROSYNC_WEBHOOK_DELAY", 60.0, _non_negative_float),
        reconcile_hours=_optional(config, "XEROSYNC_RECONCILE_HOURS", 24.0, _positive_float),
        timezone=_optional(config, "XEROSYNC_TIMEZONE", "UTC", time_zone_name),
        upgrade_url=_optional(config, "XEROSYNC_UPGRADE_URL", "", _url_or_path),
        app_rate_limit_per_minute=_optional(config, "XEROSYNC_APP_RATE_LIMIT_PER_MINUTE", 10000, _positive_int),
        max_limit_wait=_optional(config, "XEROSYNC_MAX_LIMIT_WAIT", 5.0, _non_negative_float),
    )


def _page_size(value: Any) -> int:
    size = _positive_int(value)
    if size > 1000:
        raise ValueError(f"Xero returns at most 1000 records a page, got {size}")
    return size


def _batch_size(value: Any) -> int:
    size = _positive_int(value)
    if size > 50:
        raise ValueError(f"Xero advises batches of at most 50 elements, got {size}")
    return size
