"""Webhook subscriptions, events and deliveries: the bookkeeping, without any HTTP.

One subscription per app, as in Xero. A change to a connected organisation's
contacts or invoices becomes an event queued for every app with an "OK"
subscription to that category and a connection to that organisation. Events
queued close together (``batch_delay`` sandbox seconds from the first) become
one delivery. A failed delivery is retried with growing delays on the sandbox
clock; one that still fails 24 sandbox hours after its first failure disables
the subscription. Sending is :mod:`.webhook_delivery`'s job.
"""

from __future__ import annotations

import base64
import json
import secrets
import string
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .clock import SandboxClock

CATEGORIES = ("CONTACT", "INVOICE")
RESOURCE_PATHS = {"CONTACT": "Contacts", "INVOICE": "Invoices"}
XERO_API_URL = "https://api.xero.com"
BATCH_DELAY = 1.0  # sandbox seconds
TIMEOUT = 5.0  # real seconds; Xero's limit for an answer
RETRY_DELAYS = (60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0)  # sandbox seconds; the last repeats
GIVE_UP_AFTER = 24 * 3600.0  # sandbox seconds after a delivery's first failure

OK, PENDING, FAILED, DISABLED = "OK", "PENDING", "FAILED", "DISABLED"
WAITING, RETRYING, DELIVERED, ABANDONED = "pending", "retrying", "delivered", "failed"


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat()


def event_date(moment: datetime) -> str:
    """Xero's ``eventDateUtc``: UTC, milliseconds, no offset (``2024-06-21T01:15:39.902``)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def entropy() -> str:
    return "".join(secrets.choice(string.ascii_uppercase) for _ in range(20))


def new_signing_key() -> str:
    """A key like the ones Xero shows in the developer portal (88 base64 characters)."""
    return base64.b64encode(secrets.token_bytes(64)).decode()


@dataclass
class Subscription:
    client_id: str
    url: str
    signing_key: str
    categories: tuple[str, ...] = CATEGORIES
    batch_delay: float = BATCH_DELAY
    timeout: float = TIMEOUT
    status: str = PENDING
    reason: str = "Intent to Receive not run yet"
    checks: list[dict[str, Any]] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)
    first_pending_at: float | None = None
    next_sequence: int = 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "url": self.url,
            "signing_key": self.signing_key,
            "categories": list(self.categories),
            "batch_delay": self.batch_delay,
            "timeout": self.timeout,
            "status": self.status,
            "reason": self.reason,
            "intent_to_receive": [dict(c) for c in self.checks],
            "pending_events": len(self.pending),
            "next_event_sequence": self.next_sequence,
        }


@dataclass
class Delivery:
    id: str
    client_id: str
    body: bytes
    first_sequence: int
    last_sequence: int
    created_at: float
    next_attempt_at: float | None
    replay_of: str | None = None
    outcome: str = WAITING
    reason: str = ""
    attempts: list[dict[str, Any]] = field(default_factory=list)
    first_failure_at: float | None = None
    in_flight: bool = False

    def as_dict(self) -> dict[str, Any]:
        payload = json.loads(self.body)
        return {
            "id": self.id,
            "client_id": self.client_id,
            "outcome": self.outcome,
            "reason": self.reason,
            "first_event_sequence": self.first_sequence,
            "last_event_sequence": self.last_sequence,
            "events": payload["events"],
            "entropy": payload["entropy"],
            "body": self.body.decode(),
            "created_at": _iso(self.created_at),
            "next_attempt_at": _iso(self.next_attempt_at) if self.outcome in (WAITING, RETRYING) else None,
            "attempts": [dict(a) for a in self.attempts],
            "replay_of": self.replay_of,
        }


@dataclass
class Claim:
    """A delivery handed to a sender, with what it needs to send it."""

    delivery_id: str
    generation: int
    url: str
    signing_key: str
    timeout: float
    body: bytes


class WebhookHub:
    """Every subscription and delivery; thread-safe, and cheap when nobody subscribed."""

    def __init__(self, clock: SandboxClock, connected_clients: Callable[[str], set[str]]) -> None:
        self._clock = clock
        self._connected_clients = connected_clients
        self._lock = threading.Lock()
        self.base_url = ""
        self.generation = 0
        self._subscriptions: dict[str, Subscription] = {}
        self._deliveries: dict[str, Delivery] = {}
        self._active: dict[str, Delivery] = {}  # pending or retrying: what the sender looks at
        self.on_event: Callable[[], None] = lambda: None

    def reset(self) -> None:
        with self._lock:
            self.generation += 1
            self._subscriptions = {}
            self._deliveries = {}
            self._active = {}

    # --- subscriptions -----------------------------------------------------------------
    def subscribe(self, client_id: str, url: str, signing_key: str | None, categories: list[str] | None,
                  batch_delay: float | None, timeout: float | None) -> Subscription:
        subscription = Subscription(client_id, _check_url(url), signing_key or new_signing_key())
        _configure(subscription, categories, batch_delay, timeout)
        with self._lock:
            self._abandon_locked(client_id, "the webhook was registered again")
            self._subscriptions[client_id] = subscription
        return subscription

    def update(self, client_id: str, url: str | None, signing_key: str | None, enabled: bool | None,
               categories: list[str] | None, batch_delay: float | None, timeout: float | None) -> bool:
        """Change a subscription; True when Intent to Receive must run again (new URL, re-enabled)."""
        with self._lock:
            subscription = self._get_locked(client_id)
            verify = False
            if url is not None and _check_url(url) != subscription.url:
                subscription.url = url
                verify = True
            if signing_key:
                subscription.signing_key = signing_key
            _configure(subscription, categories, batch_delay, timeout)
            if enabled is False:
                self._disable_locked(subscription, "Disabled through the control API")
                return False
            if enabled and subscription.status != OK:
                verify = True
            if verify:
                subscription.status, subscription.reason = PENDING, "Intent to Receive running"
            return verify

    def remove(self, client_id: str) -> None:
        with self._lock:
            self._get_locked(client_id)
            del self._subscriptions[client_id]
            self._abandon_locked(client_id, "the webhook was removed")

    def subscription(self, client_id: str) -> dict[str, Any]:
        with self._lock:
            return self._get_locked(client_id).as_dict()

    def target(self, client_id: str) -> tuple[str, str, float]:
        """URL, signing key and timeout of a subscription."""
        with self._lock:
            subscription = self._get_locked(client_id)
            return subscription.url, subscription.signing_key, subscription.timeout

    def verified(self, client_id: str, url: str, ok: bool, reason: str, checks: list[dict[str, Any]]) -> None:
        """Record an Intent to Receive result (ignored if the URL changed meanwhile)."""
        with self._lock:
            subscription = self._subscriptions.get(client_id)
            if subscription is None or subscription.url != url:
                return
            subscription.status, subscription.reason, subscription.checks = (OK if ok else FAILED), reason, checks

    def has_subscriptions(self) -> bool:
        return bool(self._subscriptions)

    # --- events ---------------------------------------------------------------------
    def record(self, tenant_id: str, category: str, event_type: str, resource_id: str) -> None:
        """Queue one change for every subscribed app connected to the organisation."""
        if not self._subscriptions:
            return
        clients = self._connected_clients(tenant_id)
        now = self._clock.now()
        base = self.base_url or XERO_API_URL
        event = {
            "resourceUrl": f"{base}/api.xro/2.0/{RESOURCE_PATHS[category]}/{resource_id}",
            "resourceId": resource_id,
            "eventDateUtc": event_date(now),
            "eventType": event_type,
            "eventCategory": category,
            "tenantId": tenant_id,
            "tenantType": "ORGANISATION",
        }
        with self._lock:
            for subscription in self._subscriptions.values():
                if subscription.status == OK and category in subscription.categories and (
                    subscription.client_id in clients
                ):
                    if not subscription.pending:
                        subscription.first_pending_at = now.timestamp()
                    subscription.pending.append({**event, "_sequence": subscription.next_sequence})
                    subscription.next_sequence += 1
        self.on_event()

    def batch(self, force: bool = False, client_id: str | None = None) -> None:
        """Turn queued events into deliveries: those waiting ``batch_delay``, or all with ``force``."""
        now = self._clock.timestamp()
        with self._lock:
            for subscription in self._subscriptions.values():
                if not subscription.pending or (client_id and subscription.client_id != client_id):
                    continue
                if not force and (subscription.first_pending_at or 0) + subscription.batch_delay > now:
                    continue
                events = subscription.pending
                subscription.pending, subscription.first_pending_at = [], None
                first, last = events[0]["_sequence"], events[-1]["_sequence"]
                payload = {
                    "events": [{k: v for k, v in e.items() if k != "_sequence"} for e in events],
                    "firstEventSequence": first,
                    "lastEventSequence": last,
                    "entropy": entropy(),
                }
                body = json.dumps(payload, separators=(",", ":")).encode()
                delivery = Delivery(str(uuid.uuid4()), subscription.client_id, body, first, last, now, now)
                self._deliveries[delivery.id] = self._active[delivery.id] = delivery

    # --- deliveries -----------------------------------------------------------------
    def claim_due(self, client_id: str | None = None, delivery_id: str | None = None) -> list[Claim]:
        """Mark the deliveries due now as being sent and hand them out (OK subscriptions only)."""
        now = self._clock.timestamp()
        claims = []
        with self._lock:
            for delivery in self._active.values():
                subscription = self._subscriptions.get(delivery.client_id)
                if (
                    delivery.in_flight
                    or delivery.outcome not in (WAITING, RETRYING)
                    or subscription is None
                    or subscription.status != OK
                    or (client_id and delivery.client_id != client_id)
                    or (delivery_id and delivery.id != delivery_id)
                    or (delivery.next_attempt_at or 0) > now
                ):
                    continue
                delivery.in_flight = True
                claims.append(Claim(delivery.id, self.generation, subscription.url, subscription.signing_key,
                                    subscription.timeout, delivery.body))
        return claims

    def complete(self, claim: Claim, attempt: dict[str, Any], delivered: bool) -> None:
        """Record an attempt; schedule a retry, or give up and disable the subscription after 24 hours."""
        now = self._clock.timestamp()
        with self._lock:
            delivery = self._deliveries.get(claim.delivery_id)
            if claim.generation != self.generation or delivery is None:
                return
            delivery.in_flight = False
            delivery.attempts.append({"at": _iso(now), "url": claim.url, **attempt})
            if delivered:
                delivery.outcome, delivery.reason, delivery.next_attempt_at = DELIVERED, "", None
                self._active.pop(delivery.id, None)
                return
            delivery.reason = attempt.get("error") or f"answered {attempt.get('status')}"
            if delivery.outcome not in (WAITING, RETRYING):
                return
            if delivery.first_failure_at is None:
                delivery.first_failure_at = now
            if now - delivery.first_failure_at >= GIVE_UP_AFTER:
                delivery.outcome, delivery.next_attempt_at = ABANDONED, None
                self._active.pop(delivery.id, None)
                subscription = self._subscriptions.get(delivery.client_id)
                if subscription is not None:
                    self._disable_locked(subscription, "Deliveries failed for 24 hours; re-enable the webhook")
                return
            failures = sum(1 for a in delivery.attempts if not a.get("delivered"))
            delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS)) - 1]
            delivery.outcome = RETRYING
            delivery.next_attempt_at = min(now + delay, delivery.first_failure_at + GIVE_UP_AFTER)

    def replay(self, delivery_id: str) -> str:
        """A new delivery of an earlier one's exact body (same events, sequences and entropy)."""
        now = self._clock.timestamp()
        with self._lock:
            original = self._deliveries.get(delivery_id)
            if original is None:
                raise KeyError(f"unknown delivery {delivery_id}")
            copy = Delivery(str(uuid.uuid4()), original.client_id, original.body, original.first_sequence,
                            original.last_sequence, now, now, replay_of=original.id)
            self._deliveries[copy.id] = self._active[copy.id] = copy
            return copy.id

    def deliveries(self, client_id: str | None = None, outcome: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [
                d.as_dict() for d in self._deliveries.values()
                if (not client_id or d.client_id == client_id) and (not outcome or d.outcome == outcome)
            ]

    def delivery(self, delivery_id: str) -> dict[str, Any]:
        with self._lock:
            delivery = self._deliveries.get(delivery_id)
            if delivery is None:
                raise KeyError(f"unknown delivery {delivery_id}")
            return delivery.as_dict()

    # --- helpers (lock held) ----------------------------------------------------------
    def _get_locked(self, client_id: str) -> Subscription:
        subscription = self._subscriptions.get(client_id)
        if subscription is None:
            raise KeyError(f"no webhook for app {client_id}")
        return subscription

    def _disable_locked(self, subscription: Subscription, reason: str) -> None:
        subscription.status, subscription.reason = DISABLED, reason
        subscription.pending, subscription.first_pending_at = [], None
        self._abandon_locked(subscription.client_id, "the webhook was disabled")

    def _abandon_locked(self, client_id: str, reason: str) -> None:
        for delivery in [d for d in self._active.values() if d.client_id == client_id]:
            delivery.outcome, delivery.reason, delivery.next_attempt_at = ABANDONED, reason, None
            del self._active[delivery.id]


def _check_url(url: str) -> str:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError("the webhook URL must be an http:// or https:// URL")
    return url


def _configure(subscription: Subscription, categories: list[str] | None, batch_delay: float | None,
               timeout: float | None) -> None:
    if categories is not None:
        unknown = [c for c in categories if c not in CATEGORIES]
        if unknown or not categories:
            raise ValueError(f"categories must be a non-empty subset of {', '.join(CATEGORIES)}")
        subscription.categories = tuple(dict.fromkeys(categories))
    if batch_delay is not None:
        if float(batch_delay) < 0:
            raise ValueError("batch_delay must be >= 0")
        subscription.batch_delay = float(batch_delay)
    if timeout is not None:
        if not 0 < float(timeout) <= TIMEOUT:
            raise ValueError(f"timeout must be > 0 and at most Xero's {TIMEOUT:g} s")
        subscription.timeout = float(timeout)
