"""What an error response from Xero means: retry it (and how long to wait), or which plain-language
error of :mod:`flask_xerosync.errors` to raise.

Retryable attempts are private markers (:class:`Retryable`) that the transport's tenacity loop
catches; everything else is an error for the caller. :class:`RetryPolicy` keeps separate budgets
for transient failures (5xx, timeouts, dropped connections) and for 429s.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import requests
from tenacity import RetryCallState, wait_random_exponential

from ..errors import ReconnectNeeded, ScopeMissing, XeroNotFound, XeroRequestRejected
from .payloads import decode_json
from .ratelimit import RateLimiter, is_app_minute
from .results import error_messages

logger = logging.getLogger(__name__)

_SCOPE_AREAS = {
    "contacts": "contacts (accounting.contacts)",
    "items": "items (accounting.settings or accounting.invoices)",
    "accounts": "chart of accounts (accounting.settings)",
    "taxrates": "tax rates (accounting.settings)",
    "organisation": "organisation settings (accounting.settings)",
    "invoices": "invoices (accounting.transactions or accounting.invoices)",
}


class Retryable(Exception):
    """An attempt that failed in a way worth trying again."""


class TransientFailure(Retryable):
    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class Throttled(Retryable):
    def __init__(self, retry_after: float | None, problem: str) -> None:
        super().__init__(f"rate limited ({problem or 'unspecified limit'})")
        self.retry_after = retry_after
        self.problem = problem


class RetryPolicy:
    """Separate budgets for transient failures and for 429s, and the wait each one calls for."""

    def __init__(self, max_retries: int, max_throttled: int, backoff: float, backoff_max: float) -> None:
        self.max_retries = max_retries
        self.max_throttled = max_throttled
        self.failures = 0
        self.throttled = 0
        self._backoff = wait_random_exponential(multiplier=backoff, max=backoff_max)
        self._throttle_backoff = wait_random_exponential(multiplier=backoff / 2, max=backoff_max / 4)

    def stop(self, retry_state: RetryCallState) -> bool:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, Throttled):
            self.throttled += 1
            return self.throttled > self.max_throttled
        self.failures += 1
        return self.failures > self.max_retries

    def wait(self, retry_state: RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, Throttled) and error.retry_after is not None:
            return error.retry_after
        if isinstance(error, Throttled):
            return self._throttle_backoff(retry_state)
        return self._backoff(retry_state)


def log_retry(method: str, path: str, state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    logger.warning(
        "Xero %s %s: %s; retrying in %.2f s (attempt %d)",
        method,
        path.split("?")[0],
        error,
        state.upcoming_sleep,
        state.attempt_number + 1,
    )


def area(path: str) -> str:
    """What a path reads or writes, in the words of Xero's scopes ("contacts (accounting.contacts)")."""
    first = path.strip("/").split("/")[0].split("?")[0].lower()
    return _SCOPE_AREAS.get(first, first or "this data")


def retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(0.0, seconds)


def response_body(response: requests.Response) -> Any:
    try:
        return decode_json(response.content) if response.content else None
    except ValueError:
        return None


def detail(response: requests.Response) -> str:
    body = response_body(response)
    if isinstance(body, dict) and isinstance(body.get("Detail"), str):
        return body["Detail"].strip()
    return ""


def validation_elements(body: Any) -> list[dict[str, Any]] | None:
    """The per-element results inside a 400 ``ValidationException`` (when it has them)."""
    if isinstance(body, dict) and body.get("Type") == "ValidationException":
        elements = body.get("Elements")
        if isinstance(elements, list) and all(isinstance(e, dict) for e in elements):
            return elements
    return None


def failure_for(
    method: str,
    path: str,
    response: requests.Response,
    *,
    limiter: RateLimiter,
    tenant_less: bool,
    org_label: str,
) -> Exception:
    """The exception for an error response (retryable ones are :class:`Retryable` markers). A 429
    for the app-wide minute pauses every organisation of the app for its ``Retry-After``; any other
    429 on a tenant-less call waits, but pauses no organisation."""
    status = response.status_code
    messages = error_messages(response_body(response))
    reason = detail(response)
    what = area(path)
    if status == 429:
        problem = (response.headers.get("X-Rate-Limit-Problem") or "").strip().lower()
        wait = retry_after(response.headers)
        if problem in ("day", "daily") and not tenant_less:
            return limiter.exhaust_day(wait if wait is not None else limiter.day_seconds)
        if wait is not None and (not tenant_less or is_app_minute(problem)):
            limiter.pause(wait, problem)
        return Throttled(wait, problem)
    if status >= 500:
        return TransientFailure(f"HTTP {status}{': ' + messages[0] if messages else ''}")
    if status == 401:
        if reason.startswith("TokenExpired"):
            return ReconnectNeeded("Xero did not accept the access token even after refreshing it. Reconnect to Xero.")
        if reason.startswith("AuthorizationUnsuccessful") or "scope" in reason.lower():
            return ScopeMissing(
                f"Xero refused access to {what}: this connection was not granted that permission. "
                f"Reconnect to Xero and allow access to {what}."
            )
        return ReconnectNeeded("Xero did not accept this connection's access token. Reconnect to Xero.")
    if status == 403:
        return ReconnectNeeded(
            f"Xero refused access to {org_label}: the organisation was disconnected "
            "or your access changed. Reconnect to Xero to continue."
        )
    if status == 404:
        return XeroNotFound(f"Xero has no such record or endpoint: {method} {path}.", messages, status)
    summary = "; ".join(messages) or f"HTTP {status}"
    return XeroRequestRejected(f"Xero rejected {method} {what}: {summary}", messages, status)
