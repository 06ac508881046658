"""The Xero accounting API client: everything about the wire for one organisation.

Reads page, chunk and filter; writes are ``POST`` upserts in batches with ``summarizeErrors=false``
and a deterministic ``Idempotency-Key`` (tenant, scope, path, body); every HTTP request takes a
place from the shared
:class:`~.ratelimit.RateLimiter`. Failures become the plain-language errors of
:mod:`flask_xerosync.errors`:

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
  :class:`WriteResult` s); 404: :class:`XeroNotFound` (``get_contact`` returns ``None`` instead).

Tenacity rather than urllib3's ``Retry``: the session is the host's OAuth session (its adapters
are not ours to mount), the decision needs the response *body* (``TokenExpired``,
``X-Rate-Limit-Problem``) and every attempt must go back through the limiter.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote, urlencode

import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    wait_random_exponential,
)

from ..errors import (
    ReconnectNeeded,
    ScopeMissing,
    XeroNotFound,
    XeroRequestRejected,
    XeroUnavailable,
    XeroUnexpectedResponse,
)
from .dates import http_if_modified_since, parse_xero_date
from .payloads import Batch, decode_json, idempotency_key, split_batches
from .ratelimit import RateLimiter
from .results import LimitHeaders, WriteResult, element_result, error_messages

logger = logging.getLogger(__name__)

API_PATH = "/api.xro/2.0"
CONNECTIONS_PATH = "/connections"
IDS_PER_REQUEST = 50
"""Xero's URLs hold about 52 GUIDs; 50 per ``IDs=`` / ``InvoiceNumbers=`` request."""


class OAuthSession(Protocol):
    """What the client needs from the host's authenticated session (an Authlib ``OAuth2Session``)."""

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

_SCOPE_AREAS = {
    "contacts": "contacts (accounting.contacts)",
    "items": "items (accounting.settings or accounting.invoices)",
    "accounts": "chart of accounts (accounting.settings)",
    "taxrates": "tax rates (accounting.settings)",
    "organisation": "organisation settings (accounting.settings)",
    "invoices": "invoices (accounting.transactions or accounting.invoices)",
}


@dataclass(frozen=True)
class ContactPage:
    """One page of a contacts pull: its number, the contacts on it that this pull had not read
    yet, and Xero's clock when it answered (the envelope's ``DateTimeUTC``; ``None`` when the
    answer carried none, e.g. a ``304 Not Modified``)."""

    number: int
    contacts: list[dict[str, Any]]
    xero_time: datetime | None


class _Retryable(Exception):
    """An attempt that failed in a way worth trying again."""


class _TransientFailure(_Retryable):
    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class _Throttled(_Retryable):
    def __init__(self, retry_after: float | None, problem: str) -> None:
        super().__init__(f"rate limited ({problem or 'unspecified limit'})")
        self.retry_after = retry_after
        self.problem = problem


class _RetryPolicy:
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
        if isinstance(error, _Throttled):
            self.throttled += 1
            return self.throttled > self.max_throttled
        self.failures += 1
        return self.failures > self.max_retries

    def wait(self, retry_state: RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, _Throttled) and error.retry_after is not None:
            return error.retry_after
        if isinstance(error, _Throttled):
            return self._throttle_backoff(retry_state)
        return self._backoff(retry_state)


def _area(path: str) -> str:
    first = path.strip("/").split("/")[0].split("?")[0].lower()
    return _SCOPE_AREAS.get(first, first or "this data")


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(0.0, seconds)


def _query(params: Mapping[str, Any]) -> str:
    """The query string, sorted, with commas left as they are: ``IDs=`` lists stay short
    (Xero's URLs hold about 52 GUIDs)."""
    return urlencode(sorted((name, str(value)) for name, value in params.items()), safe=",")


def _chunks(values: Sequence[str], size: int) -> Iterator[list[str]]:
    unique = list(dict.fromkeys(v for v in values if v))
    for start in range(0, len(unique), size):
        yield unique[start : start + size]


class XeroClient:
    """Calls Xero's accounting API for one organisation (``tenant_id``) through ``session``.

    Safe to share between threads as far as the client goes (counters are locked); whether the
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

    # Connection

    def verify_connection(self) -> dict[str, Any]:
        """This organisation's entry in ``GET /connections``; :class:`ReconnectNeeded` when the
        organisation is no longer connected (a token can still refresh after that).

        The call is tenant-less: Xero counts it against the app-wide minute only, so it takes no
        place from the organisation's limiter (it is still counted in :attr:`calls`).
        """
        body = self._json(self._request("GET", CONNECTIONS_PATH, tenant_less=True), CONNECTIONS_PATH)
        if not isinstance(body, list):
            raise XeroUnexpectedResponse("Xero's answer about this app's connections was not a list.")
        for entry in body:
            if isinstance(entry, dict) and entry.get("tenantId") == self.tenant_id:
                return entry
        raise ReconnectNeeded(
            f"{self.org_label[0].upper()}{self.org_label[1:]} is no longer connected to this app (it was "
            "disconnected in Xero, or your access changed). Reconnect to Xero to continue."
        )

    # Reads

    def iter_contact_pages(
        self, modified_since: datetime | None, *, include_archived: bool = True, start_page: int = 1
    ) -> Iterator[ContactPage]:
        """Contacts changed since ``modified_since`` (all when ``None``), one page at a time.

        Yields one :class:`ContactPage` per page fetched, the first one even when nothing
        changed, so the caller always learns Xero's clock at the start of the pull.

        Pages are ordered by ``ContactID``, which an edit does not change. The set being paged
        only grows while we read (a contact edited or created in Xero joins it; nothing leaves
        it, as contacts are archived, never deleted), so a contact can only move to a later
        page: one already read may come back, and is dropped here; one that joins on a page
        already read is missed by this pull, but it changed after the pull started, so a next
        pull ``If-Modified-Since`` Xero's clock at the first page (minus a safety margin) finds
        it. Memory: the ``ContactID`` s read so far (about 100 bytes each). ``start_page`` goes on
        with a pull that stopped after the page before it.
        """
        seen: set[str] = set()
        page = start_page
        while True:
            params: dict[str, Any] = {"page": page, "pageSize": self.page_size, "order": "ContactID ASC"}
            if include_archived:
                params["includeArchived"] = "true"
            body = self._get("/Contacts", params=params, modified_since=modified_since)
            contacts = self._collection(body, "Contacts")
            fresh = [contact for contact in contacts if _contact_key(contact) not in seen]
            seen.update(key for contact in fresh if (key := _contact_key(contact)))
            yield ContactPage(page, fresh, _xero_time(body))
            pagination = body.get("pagination") if isinstance(body, dict) else None
            page_count = pagination.get("pageCount") if isinstance(pagination, dict) else None
            if isinstance(page_count, int):
                if page >= page_count:
                    return
            elif len(contacts) < self.page_size:
                return
            page += 1

    def get_contacts(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The contacts with these ``ContactID`` s (archived included); unknown IDs are skipped."""
        found: list[dict[str, Any]] = []
        for chunk in _chunks(ids, IDS_PER_REQUEST):
            body = self._get("/Contacts", params={"IDs": ",".join(chunk), "includeArchived": "true"})
            found.extend(self._collection(body, "Contacts"))
        return found

    def get_contact(self, contact_id_or_number: str) -> dict[str, Any] | None:
        """One contact by ``ContactID`` or ``ContactNumber`` (Xero accepts either), or ``None``."""
        try:
            body = self._get(f"/Contacts/{quote(contact_id_or_number, safe='')}")
        except XeroNotFound:
            return None
        contacts = self._collection(body, "Contacts")
        return contacts[0] if contacts else None

    def find_contacts_by_name(self, name: str) -> list[dict[str, Any]]:
        """The active contacts called ``name`` (Xero compares names case-insensitively): one
        ``GET /Contacts?where=Name=="…"``, the form Xero documents for ``where``.

        A double quote or backslash inside the name is escaped with a backslash, as string
        literals in Xero's (.NET Dynamic LINQ) ``where`` expressions are written.
        """
        literal = name.strip().replace("\\", "\\\\").replace('"', '\\"')
        body = self._get("/Contacts", params={"where": f'Name=="{literal}"', "includeArchived": "false"})
        return self._collection(body, "Contacts")

    def get_items(self, modified_since: datetime | None, *, where: str | None = "IsSold==true") -> list[dict[str, Any]]:
        """Items changed since ``modified_since`` (Items are not paged), at four decimal places."""
        params: dict[str, Any] = {"unitdp": 4}
        if where:
            params["where"] = where
        return self._collection(self._get("/Items", params=params, modified_since=modified_since), "Items")

    def get_invoices_by_number(self, numbers: Sequence[str]) -> list[dict[str, Any]]:
        """Invoices by ``InvoiceNumber`` (the push's upsert key), 50 numbers a request.

        Xero separates the numbers with commas, so a number containing one cannot be found here.
        """
        found: list[dict[str, Any]] = []
        for chunk in _chunks(numbers, IDS_PER_REQUEST):
            body = self._get("/Invoices", params={"InvoiceNumbers": ",".join(chunk), "unitdp": 4})
            found.extend(self._collection(body, "Invoices"))
        return found

    def get_invoices(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """Invoices by ``InvoiceID`` with their line items, payments and totals, 50 IDs a request.

        Xero includes ``LineItems`` in a list only when it is paged ("Up to 100 … with line items
        included for each invoice"), so each chunk asks for ``page=1``: 50 IDs always fit on it.
        """
        found: list[dict[str, Any]] = []
        for chunk in _chunks(ids, IDS_PER_REQUEST):
            body = self._get("/Invoices", params={"IDs": ",".join(chunk), "page": 1, "unitdp": 4})
            found.extend(self._collection(body, "Invoices"))
        return found

    def get_accounts(self) -> list[dict[str, Any]]:
        return self._collection(self._get("/Accounts"), "Accounts")

    def get_tax_rates(self) -> list[dict[str, Any]]:
        return self._collection(self._get("/TaxRates"), "TaxRates")

    def get_organisation(self) -> dict[str, Any]:
        organisations = self._collection(self._get("/Organisation"), "Organisations")
        if not organisations:
            raise XeroUnexpectedResponse("Xero returned no organisation details for this connection.")
        return organisations[0]

    # Writes

    def upsert_contacts(self, records: Sequence[dict[str, Any]]) -> list[WriteResult]:
        return self.write_batches("contacts", records)

    def create_contacts(self, records: Sequence[dict[str, Any]]) -> list[WriteResult]:
        """Create new contacts with ``PUT`` (create only). A ``POST`` without ``ContactID`` matches
        an existing contact by name and silently overwrites it; ``PUT`` refuses a taken name with
        "The contact name … is already assigned to another contact", so the caller can decide."""
        return self.write_batches("contacts", records, create_only=True)

    def upsert_items(self, records: Sequence[dict[str, Any]]) -> list[WriteResult]:
        return self.write_batches("items", records)

    def upsert_invoices(self, records: Sequence[dict[str, Any]]) -> list[WriteResult]:
        return self.write_batches("invoices", records)

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
            f"{self.tenant_id}|{self._idempotency_scope}", method, f"{API_PATH}{path}?{_query(params)}", batch.body
        )
        response = self._request(
            method, path, params=params, body=batch.body, idempotency=key, element_errors_ok=True
        )
        body = self._json(response, path)
        if response.status_code == 400:
            elements = _validation_elements(body) or []
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

    # HTTP

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
            raise XeroUnexpectedResponse(f"Xero's answer about {_area(path)} was not JSON.") from None

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
        policy = _RetryPolicy(self.max_retries, self.max_rate_limit_retries, self._backoff, self._backoff_max)
        started = self._clock()
        retrying = Retrying(
            retry=retry_if_exception_type(_Retryable),
            stop=policy.stop,
            wait=policy.wait,
            sleep=self._sleep,
            before_sleep=lambda state: _log_retry(method, path, state),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._attempt(method, path, params, request_headers, body, element_errors_ok, tenant_less)
        except _Throttled as throttled:
            raise XeroUnavailable(
                f"Xero kept refusing {method} {_area(path)} for exceeding its rate limit "
                f"({throttled.problem or 'unspecified limit'}) after {policy.throttled} waits "
                f"over {self._clock() - started:.0f} s."
            ) from None
        except _TransientFailure as failure:
            raise XeroUnavailable(
                f"Xero did not answer {method} {_area(path)} after {policy.failures} tries over "
                f"{self._clock() - started:.0f} s (last: {failure.description}). "
                "Nothing was lost; try again later."
            ) from None
        raise AssertionError("unreachable: tenacity either returns or raises")

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
            if element_errors_ok and response.status_code == 400 and _validation_elements(_body(response)):
                return response
            if response.status_code == 401 and _detail(response).startswith("TokenExpired") and not refreshed:
                self._session.force_refresh()
                refreshed = True
                continue
            raise self._failure(method, path, response, tenant_less)

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
                    params=_query(params) if params else None,
                    data=body,
                    timeout=self.timeout,
                )
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                raise _TransientFailure(f"{type(exc).__name__}: no complete answer from Xero") from exc
        if response.status_code == 429 or tenant_less:
            limits = LimitHeaders.from_headers(response.headers)  # Retry-After rules, see _failure
        else:
            limits = self._limiter.observe(response.headers)
        with self._lock:
            self._last_limits = limits
        return response

    def _failure(self, method: str, path: str, response: requests.Response, tenant_less: bool) -> Exception:
        """The exception for an error response (retryable ones are private markers). A 429 on a
        tenant-less call is the app-wide limit: it waits, but pauses no organisation."""
        status = response.status_code
        body = _body(response)
        messages = error_messages(body)
        detail = _detail(response)
        area = _area(path)
        if status == 429:
            problem = (response.headers.get("X-Rate-Limit-Problem") or "").strip().lower()
            retry_after = _retry_after(response.headers)
            if problem in ("day", "daily") and not tenant_less:
                return self._limiter.exhaust_day(retry_after if retry_after is not None else self._limiter.day_seconds)
            if retry_after is not None and not tenant_less:
                self._limiter.pause(retry_after)
            return _Throttled(retry_after, problem)
        if status >= 500:
            return _TransientFailure(f"HTTP {status}{': ' + messages[0] if messages else ''}")
        if status == 401:
            if detail.startswith("TokenExpired"):
                return ReconnectNeeded(
                    "Xero did not accept the access token even after refreshing it. Reconnect to Xero."
                )
            if detail.startswith("AuthorizationUnsuccessful") or "scope" in detail.lower():
                return ScopeMissing(
                    f"Xero refused access to {area}: this connection was not granted that permission. "
                    f"Reconnect to Xero and allow access to {area}."
                )
            return ReconnectNeeded("Xero did not accept this connection's access token. Reconnect to Xero.")
        if status == 403:
            return ReconnectNeeded(
                f"Xero refused access to {self.org_label}: the organisation was disconnected "
                "or your access changed. Reconnect to Xero to continue."
            )
        if status == 404:
            return XeroNotFound(
                f"Xero has no such record or endpoint: {method} {path}.", messages, status
            )
        summary = "; ".join(messages) or f"HTTP {status}"
        return XeroRequestRejected(f"Xero rejected {method} {area}: {summary}", messages, status)


def _log_retry(method: str, path: str, state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    logger.warning(
        "Xero %s %s: %s; retrying in %.2f s (attempt %d)",
        method,
        path.split("?")[0],
        error,
        state.upcoming_sleep,
        state.attempt_number + 1,
    )


def _contact_key(contact: dict[str, Any]) -> str:
    return str(contact.get("ContactID") or "").lower()


def _xero_time(body: Any) -> datetime | None:
    """Xero's clock when it answered: the ``DateTimeUTC`` of the response envelope."""
    value = body.get("DateTimeUTC") if isinstance(body, dict) else None
    if not isinstance(value, str):
        return None
    try:
        return parse_xero_date(value)
    except ValueError:
        return None


def _body(response: requests.Response) -> Any:
    try:
        return decode_json(response.content) if response.content else None
    except ValueError:
        return None


def _detail(response: requests.Response) -> str:
    body = _body(response)
    if isinstance(body, dict) and isinstance(body.get("Detail"), str):
        return body["Detail"].strip()
    return ""


def _validation_elements(body: Any) -> list[dict[str, Any]] | None:
    """The per-element results inside a 400 ``ValidationException`` (when it has them)."""
    if isinstance(body, dict) and body.get("Type") == "ValidationException":
        elements = body.get("Elements")
        if isinstance(elements, list) and all(isinstance(e, dict) for e in elements):
            return elements
    return None


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
