"""Exceptions the extension raises; catch :class:`XeroSyncError` to handle any of them.

Every message is plain language, fit to show to the business owner as it is.
"""

from __future__ import annotations

from datetime import datetime


class XeroSyncError(Exception):
    """Base class of every error raised by flask-xerosync."""


class ReconnectNeeded(XeroSyncError):
    """Xero no longer accepts this connection (refresh refused, access revoked, organisation gone).

    Whoever catches it moves the connection to ``reconnect_needed`` with this reason (the token
    session does so itself when Xero refuses a refresh); the user must go through Connect to Xero
    again. Links and run history are kept.
    """


class ScopeMissing(ReconnectNeeded):
    """Xero refused a call because the connection was not granted the scope it needs.

    Connecting again with the scope requested fixes it (scopes are added on re-consent).
    """


class DailyLimitReached(XeroSyncError):
    """The organisation's daily call allowance at Xero is used up until ``retry_at`` (aware UTC)."""

    def __init__(self, message: str, retry_at: datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class LimitWait(XeroSyncError):
    """The next call to Xero must wait longer than ``XEROSYNC_MAX_LIMIT_WAIT`` for a limit.

    ``limit`` names it: ``"minute"`` (the organisation's minute), ``"app"`` (the app-wide minute
    across every organisation) or ``"concurrent"`` (calls in flight). ``resume_at`` (aware UTC) is
    the moment the call may be made. A sync run that meets it hands its worker back and continues
    then (see :mod:`flask_xerosync.worker.job`) rather than sleeping in the worker.
    """

    def __init__(self, message: str, resume_at: datetime, limit: str) -> None:
        super().__init__(message)
        self.resume_at = resume_at
        self.limit = limit


class XeroUnavailable(XeroSyncError):
    """Xero kept failing (server errors, timeouts, dropped connections) after every retry."""


class XeroRequestRejected(XeroSyncError):
    """Xero refused a request as invalid; ``messages`` holds Xero's own explanation(s)."""

    def __init__(self, message: str, messages: list[str] | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.messages = list(messages or [])
        self.status = status


class XeroNotFound(XeroRequestRejected):
    """Xero answered 404: the record or endpoint does not exist for this organisation."""


class XeroUnexpectedResponse(XeroSyncError):
    """Xero's answer did not have the shape the request calls for (so nothing in it is trusted)."""
