"""The wire to Xero's accounting API for one organisation: HTTP, retries, limits, batch writes.

Writes are ``POST`` upserts (``PUT`` creates) in batches with ``summarizeErrors=false`` and a
deterministic ``Idempotency-Key`` (tenant, scope, path, body); every HTTP request takes a place
from the shared :class:`~.ratelimit.RateLimiter`. Failures become the plain-language errors of
:mod:`flask_xerosync.errors` (see :mod:`.failures`):

- 5xx, timeouts and dropped connections are retried with exponential backoff and full jitter
  (tenacity), resending the same key so a write Xero committed is replayed, not repeated; after
  ``max_retries`` retries: :class:`XeroUnavailable`.
- 429 ``minute``: wait ``Retry-After`` (all workers pause) and retry, up to
  ``max_rate_limit_retries`` times, not counted as failures; 429 without ``Retry-After``
  (concurrent or app limit): short jittered backoff; 429 ``day``: :class:`DailyLimitReached`.
- 401 ``TokenExpired``: ``session.force_refresh()`` once, then the request again (still expired:
  :class:`ReconnectNeeded`); 401 ``AuthorizationUnsuccessful``: :class:`ScopeMissing` naming the
  area; other 401s and 403: :class:`ReconnectNeeded`; 400: :class:`XeroRequestRejected`
  (except a batch's per-element validation errors, which come back as failed
  :class:`WriteResult` s); 404: :class:`XeroNotFound`.

Tenacity rather than urllib3's ``Retry``: the session is the host's OAuth session (its adapters
are not ours to mount), the decision needs the response *body* (``TokenExpired``,
``X-Rate-Limit-Problem``) and every attempt must go back through the limiter.

The resources (:mod:`.contacts`, :mod:`.items`, :mod:`.invoices`, :mod:`.organisation`) build on
:class:`XeroTransport`; :class:`~.api.XeroApi` puts them together.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlencode

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception_type

from ..errors import XeroRequestRejected, XeroUnavailable, XeroUnexpectedResponse
from .dates import http_if_modified_since
from .failures import (
    Retryable,
    RetryPolicy,
    Throttled,
    TransientFailure,
    area,
    detail,
    failure_for,
    log_retry,
    response_body,
    validation_elements,
)
from .payloads import Batch, decode_json, idempotency_key, split_batches
from .ratelimit import RateLimiter
from .results import LimitHeaders, WriteResult, element_result, error_messages

API_PATH = "/api.xro/2.0"
IDS_PER_REQUEST = 50
"""Xero's URLs hold about 52 GUIDs; 50 per ``IDs=`` / ``InvoiceNumbers=`` request."""


class OAuthSession(Protocol):
    """What the transport needs from the host's authenticated session (an Authlib ``OAuth2Session``)."""

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response: ...

    def force_refresh(self) -> None: ...


@dataclass(frozen=True)
class Collection:
    """A writable Xero collection: its path and JSON name, ID field, natural key, and whether
    amounts need ``unitdp=4`` to keep four decimal places."""

    name: str
    id_field: str
    natural_key: str
    unitdp: bool


COLLECTIONS: dict[str, Collection] = {
    "contacts": Collection("Contacts", "ContactID", "ContactNumber", unitdp=False),
    "items": Collection("Items", "ItemID", "Code", unitdp=True),
    "invoices": Collection("Invoices", "InvoiceID", "InvoiceNumber", unitdp=True),
}


def query_string(params: Mapping[str, Any]) -> str:
    """The query string, sorted, with commas left as they are: ``IDs=`` lists stay short
    (Xero's URLs hold about 52 GUIDs)."""
    return urlencode(sorted((name, str(value)) for name, value in params.items()), safe=",")


def chunks(values: Sequence[str], size: int) -> Iterator[list[str]]:
    unique = list(dict.fromkeys(v for v in values if v))
    for start in range(0, len(unique), size):
        yield unique[start : start + size]


class XeroTransport:
    """Sends requests to Xero's accounting API for one organisation (``tenant_id``) through ``session``.

    Safe to share between threads as far as the transport goes (counters are locked); whether the
    session may be shared is the session's business. Records are plain dicts as Xero sends
    them, with amounts as ``Decimal``; dates stay in Xero's form (see :mod:`.dates`).

    ``idempotency_scope`` (e.g. the run id) is mixed into every Idempotency-Key. Retries inside
    one scope replay a committed write; a new scope (a new run) gets fresh keys, so a batch that
    failed validation and was fixed in Xero is not answered from Xero's replay cache (kept about
    six minutes) with the old error. Natural keys keep a new-scope resend an update.
    """

    def __init__(
        self,
        session: OAuthSession,
        tenant_id: str,
        *,
        api_url: str,
        limiter: RateLimiter,
        page_size: int = 1000,
        batch_size: int = 50,
        timeout: float = 30.0,
        max_retries: int = 5,
        max_rate_limit_retries: int = 10,
        backoff: float = 0.5,
        backoff_max: float = 30.0,
        idempotency_scope: str = "",
        tenant_name: str = "",
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 1 <= batch_size <= 100:
            raise ValueError("batch_size must be between 1 and 100 (Xero advises at most 50)")
        if not 1 <= page_size <= 1000:
            raise ValueError("page_size must be between 1 and 1000")
        if timeout >= limiter.lease_seconds:
            raise ValueError("timeout must be shorter than the limiter's lease_seconds, or a slow call loses its place")
        self.tenant_id = tenant_id
        # How messages meant for the business owner name the organisation.
        self.org_label = f"the Xero organisation {tenant_name}" if tenant_name else "the Xero organisation"
        self.page_size = page_size
        self.batch_size = batch_size
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_rate_limit_retries = max_rate_limit_retries
        self._session = session
        self._root = api_url.rstrip("/")
        self._base = self._root + API_PATH
        self._limiter = limiter
        self._backoff = backoff
        self._backoff_max = backoff_max
        self._idempotency_scope = idempotency_scope
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._calls = 0
        self._last_limits: LimitHeaders | None = None
        # Hears of each retry after a transient failure, before its wait: (2, 6) is "the 2nd of 6 tries".
        self.on_retry: Callable[[int, int], None] = lambda attempt, attempts: None

    @property
    def calls(self) -> int:
        """HTTP requests actually sent, retries and refresh replays included."""
        with self._lock:
            return self._calls

    @property
    def last_limits(self) -> LimitHeaders | None:
        """The limit headers of the last response received."""
        with self._lock:
            return self._last_limits

    def write_batches(
        self,
        kind: str,
        records: Sequence[dict[str, Any]],
        on_batch: Callable[[list[WriteResult]], None] | None = None,
        *,
        create_only: bool = False,
    ) -> list[WriteResult]:
        """Create or update ``records`` of ``kind`` (``contacts``, ``items``, ``invoices``).

        One ``POST`` (``PUT`` with ``create_only``) per batch of at most ``batch_size`` records
        and 3.5 MB; results come back in input order with ``index`` = position in ``records``.
        ``on_batch`` is called after each batch with that batch's results, so progress can be
        recorded before the next request.
        """
        collection = COLLECTIONS.get(kind)
        if collection is None:
            raise ValueError(f"unknown kind {kind!r}; use one of {', '.join(COLLECTIONS)}")
        params = {"summarizeErrors": "false"}
        if collection.unitdp:
            params["unitdp"] = "4"
        results: list[WriteResult] = []
        for batch in split_batches(collection.name, records, batch_size=self.batch_size):
            if batch.oversize:
                batch_results = [self._oversize_result(batch)]
            else:
                batch_results = self._write_batch(collection, batch, params, "PUT" if create_only else "POST")
            results.extend(batch_results)
            if on_batch is not None:
                on_batch(batch_results)
        return results

    def _oversize_result(self, batch: Batch) -> WriteResult:
        megabytes = batch.oversize / 1_000_000
        return WriteResult(
            index=batch.start,
            ok=False,
            record=batch.records[0],
            messages=[
                f"This record is too large to send to Xero ({megabytes:.1f} MB; Xero accepts at most "
                "3.5 MB per request). Shorten its descriptions or split its lines."
            ],
        )

    def _write_batch(
        self, collection: Collection, batch: Batch, params: dict[str, str], method: str
    ) -> list[WriteResult]:
        path = f"/{collection.name}"
        key = idempotency_key(
            f"{self.tenant_id}|{self._idempotency_scope}", method, f"{API_PATH}{path}?{query_string(params)}", batch.body
        )
        response = self._request(
            method, path, params=params, body=batch.body, idempotency=key, element_errors_ok=True
        )
        body = self._json(response, path)
        if response.status_code == 400:
            elements = validation_elements(body) or []
            if len(elements) != len(batch.records):
                messages = error_messages(body)
                raise XeroRequestRejected(
                    f"Xero rejected the batch of {collection.name.lower()}: {'; '.join(messages) or 'HTTP 400'}",
                    messages,
                    400,
                )
        else:
            elements = self._collection(body, collection.name)
        if len(elements) != len(batch.records):
            raise XeroUnexpectedResponse(
                f"Xero answered a batch of {len(batch.records)} {collection.name.lower()} with "
                f"{len(elements)} results, so the results cannot be matched to the records."
            )
        results = []
        for offset, (sent, element) in enumerate(zip(batch.records, elements, strict=True)):
            _check_same_record(collection, sent, element, batch.start + offset)
            results.append(element_result(batch.start + offset, element))
        return results


    def _get(
        self, path: str, *, params: dict[str, Any] | None = None, modified_since: datetime | None = None
    ) -> Any:
        headers = {"If-Modified-Since": http_if_modified_since(modified_since)} if modified_since else {}
        return self._json(self._request("GET", path, params=params, headers=headers), path)

    def _collection(self, body: Any, name: str) -> list[dict[str, Any]]:
        if not isinstance(body, dict):
            raise XeroUnexpectedResponse(f"Xero's answer for {name} was not a JSON object.")
        items = body.get(name)
        if items is None:
            return []
        if not isinstance(items, list):
            raise XeroUnexpectedResponse(f"Xero's answer for {name} did not hold a list of {name}.")
        return items

    def _json(self, response: requests.Response, path: str) -> Any:
        if response.status_code == 304 or not response.content:
            return {}
        try:
            return decode_json(response.content)
        except ValueError:
            raise XeroUnexpectedResponse(f"Xero's answer about {area(path)} was not JSON.") from None

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        idempotency: str | None = None,
        element_errors_ok: bool = False,
        tenant_less: bool = False,
    ) -> requests.Response:
        """Send one logical request: retried, throttled, refreshed, and mapped to our errors.

        With ``element_errors_ok`` a 400 ``ValidationException`` that lists elements is returned
        rather than raised (a batch write maps its elements to results). A ``tenant_less`` request
        (``/connections``) goes to the API root without the tenant header or the limiter.
        """
        request_headers = {"Accept": "application/json", **(headers or {})}
        if not tenant_less:
            request_headers["xero-tenant-id"] = self.tenant_id
        if body is not None:
            request_headers["Content-Type"] = "application/json"
        if idempotency is not None:
            request_headers["Idempotency-Key"] = idempotency
        policy = RetryPolicy(self.max_retries, self.max_rate_limit_retries, self._backoff, self._backoff_max)
        started = self._clock()
        retrying = Retrying(
            retry=retry_if_exception_type(Retryable),
            stop=policy.stop,
            wait=policy.wait,
            sleep=self._sleep,
            before_sleep=lambda state: self._retrying(method, path, state, policy),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._attempt(method, path, params, request_headers, body, element_errors_ok, tenant_less)
        except Throttled as throttled:
            raise XeroUnavailable(
                f"Xero kept refusing {method} {area(path)} for exceeding its rate limit "
                f"({throttled.problem or 'unspecified limit'}) after {policy.throttled} waits "
                f"over {self._clock() - started:.0f} s."
            ) from None
        except TransientFailure as failure:
            raise XeroUnavailable(
                f"Xero did not answer {method} {area(path)} after {policy.failures} tries over "
                f"{self._clock() - started:.0f} s (last: {failure.description}). "
                "Nothing was lost; try again later."
            ) from None
        raise AssertionError("unreachable: tenacity either returns or raises")

    def _retrying(self, method: str, path: str, state: RetryCallState, policy: RetryPolicy) -> None:
        log_retry(method, path, state)
        if not isinstance(state.outcome.exception() if state.outcome else None, Throttled):
            self.on_retry(policy.failures + 1, policy.max_retries + 1)

    def _attempt(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        headers: dict[str, str],
        body: bytes | None,
        element_errors_ok: bool,
        tenant_less: bool,
    ) -> requests.Response:
        refreshed = False
        while True:
            response = self._send(method, path, params, headers, body, tenant_less)
            if response.status_code < 400:
                return response
            if element_errors_ok and response.status_code == 400 and validation_elements(response_body(response)):
                return response
            if response.status_code == 401 and detail(response).startswith("TokenExpired") and not refreshed:
                self._session.force_refresh()
                refreshed = True
                continue
            raise failure_for(
                method, path, response, limiter=self._limiter, tenant_less=tenant_less, org_label=self.org_label
            )

    def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        headers: dict[str, str],
        body: bytes | None,
        tenant_less: bool,
    ) -> requests.Response:
        with nullcontext() if tenant_less else self._limiter.slot():
            with self._lock:
                self._calls += 1
            try:
                response = self._session.request(
                    method,
                    (self._root if tenant_less else self._base) + path,
                    headers=headers,
                    params=query_string(params) if params else None,
                    data=body,
                    timeout=self.timeout,
                )
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                raise TransientFailure(f"{type(exc).__name__}: no complete answer from Xero") from exc
        if response.status_code == 429 or tenant_less:
            limits = LimitHeaders.from_headers(response.headers)  # Retry-After rules, see failure_for
        else:
            limits = self._limiter.observe(response.headers)
        with self._lock:
            self._last_limits = limits
        return response



def _same(a: Any, b: Any) -> bool:
    return str(a).strip().casefold() == str(b).strip().casefold()


def _check_same_record(collection: Collection, sent: dict[str, Any], element: dict[str, Any], index: int) -> None:
    """Xero answers in request order; refuse to map a result whose key says it is another record."""
    for key in (collection.id_field, collection.natural_key):
        if sent.get(key) and element.get(key) and not _same(sent[key], element[key]):
            raise XeroUnexpectedResponse(
                f"Xero's result #{index} is for {key} {element[key]!r} but record #{index} has "
                f"{key} {sent[key]!r}, so the batch's results cannot be trusted."
            )
