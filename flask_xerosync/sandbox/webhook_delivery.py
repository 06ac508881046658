"""Sending webhooks as Xero does: signed POSTs, the Intent to Receive check, and a background sender.

Signature: header ``x-xero-signature`` = base64(HMAC-SHA256(raw body, signing key)).
A delivery counts as received only on a 200 within the subscription's timeout
(Xero: 5 seconds). Normal traffic is sent by a daemon thread that wakes every
few milliseconds and compares due times with the sandbox clock, so ``time_scale``
and ``advance_clock`` shrink batching delays and retry schedules alike.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests

from .webhooks import Claim, WebhookHub, entropy, new_signing_key

SIGNATURE_HEADER = "x-xero-signature"
# Intent to Receive: correctly (True) and incorrectly (False) signed payloads, shuffled per run.
INTENT_CHECKS = (True, True, False, False)
POLL_SECONDS = 0.02  # real seconds between the sender's looks at the sandbox clock


def sign(body: bytes, key: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


@dataclass
class Answer:
    status: int | None
    error: str | None
    elapsed_ms: int
    has_body: bool = False


def post(url: str, body: bytes, signature: str, timeout: float) -> Answer:
    """POST one payload; a late answer counts as no answer."""
    started = time.monotonic()
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature}
    try:
        with requests.Session() as session:
            session.trust_env = False
            response = session.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
    except requests.Timeout:
        return Answer(None, f"no answer within {timeout:g} s", _ms(started))
    except requests.RequestException as exc:
        return Answer(None, f"connection failed: {type(exc).__name__}", _ms(started))
    elapsed = _ms(started)
    if elapsed > timeout * 1000:
        return Answer(response.status_code, f"answered after {elapsed} ms (limit {timeout:g} s)", elapsed)
    return Answer(response.status_code, None, elapsed, bool(response.content))


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def intent_to_receive(url: str, key: str, timeout: float) -> tuple[bool, str, list[dict[str, Any]]]:
    """Xero's check of a new, changed or re-enabled URL; stops at the first wrong answer."""
    order = list(INTENT_CHECKS)
    random.shuffle(order)
    checks: list[dict[str, Any]] = []
    for correctly_signed in order:
        payload = {"events": [], "firstEventSequence": 0, "lastEventSequence": 0, "entropy": entropy()}
        body = json.dumps(payload, separators=(",", ":")).encode()
        answer = post(url, body, sign(body, key if correctly_signed else new_signing_key()), timeout)
        expected = 200 if correctly_signed else 401
        kind = "a correctly" if correctly_signed else "an incorrectly"
        problem = answer.error
        if problem is None and answer.status != expected:
            problem = f"answered {answer.status} to {kind} signed payload (expected {expected})"
        if problem is None and correctly_signed and answer.has_body:
            problem = "answered 200 with a body (Xero expects an empty body)"
        checks.append({"correctly_signed": correctly_signed, "status": answer.status, "expected": expected,
                       "elapsed_ms": answer.elapsed_ms, "ok": problem is None, "error": problem})
        if problem is not None:
            return False, f"Intent to Receive failed: {problem}", checks
    return True, "Intent to Receive passed", checks


class WebhookDispatcher:
    """Sends deliveries: in the background for normal traffic, on demand for the control API.

    One round at a time (a lock), so a flush returns only after every event queued
    before it was sent once, whoever sent it. ``paused`` stops the background sender
    (flush and replay still send) for tests that want every send to be explicit.
    """

    def __init__(self, hub: WebhookHub) -> None:
        self.hub = hub
        self._round = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.paused = False
        hub.on_event = self._wake.set

    def ensure_running(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._loop, name="xero-sandbox-webhooks", daemon=True)
                self._thread.start()

    def close(self) -> None:
        with self._start_lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            self._wake.set()
            thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()
            if not self._stop.is_set() and not self.paused and self.hub.has_subscriptions():
                self.run_round()

    def run_round(self, force: bool = False, client_id: str | None = None,
                  delivery_id: str | None = None) -> list[str]:
        """Batch queued events (all of them with ``force``), then send every delivery due now."""
        with self._round:
            if delivery_id is None:
                self.hub.batch(force=force, client_id=client_id)
            claims = self.hub.claim_due(client_id, delivery_id)
            for claim in claims:
                self._send(claim)
            return [claim.delivery_id for claim in claims]

    def _send(self, claim: Claim) -> None:
        answer = post(claim.url, claim.body, sign(claim.body, claim.signing_key), claim.timeout)
        delivered = answer.error is None and answer.status == 200
        error = answer.error if answer.error or delivered else f"answered {answer.status} (expected 200)"
        self.hub.complete(claim, {"status": answer.status, "delivered": delivered, "error": error,
                                  "elapsed_ms": answer.elapsed_ms}, delivered)

    def verify(self, client_id: str) -> None:
        """Run Intent to Receive against the subscription's URL and record the outcome."""
        url, key, timeout = self.hub.target(client_id)
        ok, reason, checks = intent_to_receive(url, key, timeout)
        self.hub.verified(client_id, url, ok, reason, checks)
        self.ensure_running()

    def flush(self, client_id: str | None = None) -> list[str]:
        return self.run_round(force=True, client_id=client_id)

    def replay(self, delivery_id: str) -> str:
        new_id = self.hub.replay(delivery_id)
        self.run_round(delivery_id=new_id)
        return new_id
