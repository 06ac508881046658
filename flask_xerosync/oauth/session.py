"""The one authorised session every call to Xero goes through.

:class:`XeroSession` is Authlib's requests ``OAuth2Session`` (``token_endpoint`` + ``update_token``)
with Xero's refresh rules built in (see the design's reliability rules):

- before each request, when the access token expires within ``XEROSYNC_REFRESH_MARGIN`` seconds, it
  takes the per-connection Redis lock ``xerosync:refresh:<connection id>``, re-reads the stored token
  set (another worker may have refreshed meanwhile), refreshes only if that is still needed, and
  commits the new token set before the new access token is used;
- ``force_refresh()`` (after a 401 ``TokenExpired``) takes the same path;
- ``invalid_grant`` or a 403 ``AuthenticationUnsuccessful`` moves the connection to
  ``reconnect_needed``, calls the injected ``on_access_lost(connection, reason)`` (the app's state
  sends ``signals.disconnected`` from there) and raises :class:`~flask_xerosync.errors.ReconnectNeeded`.

Tokens never reach a log or an exception message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, NoReturn

import redis
import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from redis.exceptions import LockError

from ..config import XeroSyncConfig
from ..errors import ReconnectNeeded, XeroSyncError
from ..models import Connection, ConnectionStatus
from .tokens import TokenStore

logger = logging.getLogger(__name__)

REFRESH_LOCK_TIMEOUT = 30

LIVE_STATUSES = (ConnectionStatus.CONNECTED, ConnectionStatus.CHOOSING)

AccessLost = Callable[[Connection, str], None]
"""Called with the connection and the plain-language reason when Xero no longer grants access."""


def _ignore_access_lost(connection: Connection, reason: str) -> None:
    """The default ``on_access_lost``: the connection row already says what happened."""


def refresh_lock_name(connection_id: str) -> str:
    return f"xerosync:refresh:{connection_id}"


def open_session(
    connection: Connection,
    *,
    config: XeroSyncConfig,
    tokens: TokenStore,
    redis_client: redis.Redis,
    on_access_lost: AccessLost = _ignore_access_lost,
) -> XeroSession:
    """The authorised session of a connection; ``ReconnectNeeded`` when it holds no token set."""
    token = tokens.token_of(connection)
    if token is None:
        raise ReconnectNeeded("This account is not connected to Xero. Connect to Xero first.")
    return XeroSession(
        connection, token, config=config, tokens=tokens, redis_client=redis_client, on_access_lost=on_access_lost
    )


class XeroSession(OAuth2Session):
    """A requests session for one connection: bearer token, locked refresh, lost-access detection.

    ``tenant_id`` is the organisation this connection syncs with; callers add the
    ``xero-tenant-id`` header themselves (``/connections`` is tenant-less).
    """

    def __init__(
        self,
        connection: Connection,
        token: dict[str, Any],
        *,
        config: XeroSyncConfig,
        tokens: TokenStore,
        redis_client: redis.Redis,
        on_access_lost: AccessLost = _ignore_access_lost,
    ) -> None:
        self.connection = connection
        self.connection_id = connection.id
        self._config = config
        self._tokens = tokens
        self._redis = redis_client
        self._on_access_lost = on_access_lost
        super().__init__(
            client_id=config.client_id,
            client_secret=config.client_secret,
            token_endpoint_auth_method="client_secret_basic",
            token=token,
            token_endpoint=config.token_url,
            update_token=self._store_refreshed_token,
            leeway=config.refresh_margin,
            default_timeout=config.http_timeout,
        )
        self.headers["Accept"] = "application/json"

    @property
    def tenant_id(self) -> str | None:
        return self.connection.tenant_id

    def ensure_active_token(self, token: Any = None) -> bool:
        if self.token.is_expired(leeway=self.leeway):
            self._refresh_under_lock(stale_access_token=None)
        return True

    def force_refresh(self) -> None:
        """Refresh now (Xero said ``TokenExpired``), unless another worker already did."""
        self._refresh_under_lock(stale_access_token=self.token.get("access_token"))

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        response = super().request(method, url, *args, **kwargs)
        if response.status_code == 403 and _says_authentication_unsuccessful(response):
            self._lose_access(
                f"Xero refused access to {self._org_label()}: the app was disconnected in Xero, "
                "your role there changed, or the organisation is no longer available. "
                "Reconnect to Xero to continue."
            )
        return response

    def _refresh_under_lock(self, stale_access_token: str | None) -> None:
        lock = self._redis.lock(
            refresh_lock_name(self.connection_id),
            timeout=REFRESH_LOCK_TIMEOUT,
            blocking_timeout=REFRESH_LOCK_TIMEOUT,
        )
        try:
            with lock:
                self._refresh_if_still_needed(stale_access_token)
        except LockError:
            raise XeroSyncError(
                "Another worker is refreshing the Xero connection and did not finish in time. "
                "Try again in a minute."
            ) from None

    def _refresh_if_still_needed(self, stale_access_token: str | None) -> None:
        stored = self._tokens.load(self.connection_id)
        if stored is None or stored.token is None or stored.status not in LIVE_STATUSES:
            raise ReconnectNeeded(
                "This account's Xero connection was disconnected or needs reconnecting. "
                "Reconnect to Xero to continue."
            )
        self.token = stored.token
        if stale_access_token is not None:
            needed = stored.token.get("access_token") == stale_access_token
        else:
            needed = bool(self.token.is_expired(leeway=self.leeway))
        if not needed:
            return
        try:
            self.refresh_token(self._config.token_url, refresh_token=stored.token.get("refresh_token"))
        except OAuthError as exc:
            if exc.error == "invalid_grant":
                self._lose_access(
                    f"Xero no longer accepts this app's access to {self._org_label()} (the sign-in "
                    "expired after 60 days unused, or access was revoked). Reconnect to Xero to continue."
                )
            raise XeroSyncError(f"Xero refused to refresh the connection ({exc.error}).") from None
        logger.info("Refreshed the Xero token set of connection %s", self.connection_id)

    def _store_refreshed_token(self, token: dict[str, Any], refresh_token: str | None = None, **_: Any) -> None:
        self._tokens.save(self.connection, dict(token))

    def _lose_access(self, reason: str) -> NoReturn:
        self._tokens.mark_reconnect_needed(self.connection, reason)
        self._on_access_lost(self.connection, reason)
        raise ReconnectNeeded(reason)

    def _org_label(self) -> str:
        return f"“{self.connection.tenant_name}”" if self.connection.tenant_name else "the Xero organisation"


def _says_authentication_unsuccessful(response: requests.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return "AuthenticationUnsuccessful" in response.text
    return isinstance(body, dict) and "AuthenticationUnsuccessful" in str(body.get("Detail", ""))
