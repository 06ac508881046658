"""Xero's webhooks: checking a delivery's signature and turning it into automatic runs.

Xero signs the raw body of each delivery with the app's webhook key: ``x-xero-signature`` is
base64(HMAC-SHA256(body, key)). It expects 200 with no body within 5 seconds for every correctly
signed delivery (the Intent to Receive checks carry no events) and 401 for every other one, and
retries failed deliveries for 24 hours: delivery is at least once, in any order. So a delivery
is trusted for one thing only — which organisations changed — and each is answered by scheduling
(coalesced) incremental runs, never by reading its resources: a run reads Xero's current state,
so a replayed, late or out-of-order event changes nothing a run would not find anyway. A body
already handled (a replay, a retry whose first answer was lost) is recognised by its digest and
schedules nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from typing import Any

from ..state import XeroSyncState
from .automatic import accounts_watching, sync_soon

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "x-xero-signature"
SEEN_KEY = "xerosync:webhook-seen:{digest}"
# Xero retries a delivery for 24 hours; a body seen within a little more is a duplicate.
SEEN_TTL = 25 * 3600


def signature_ok(key: str, body: bytes, signature: str | None) -> bool:
    """Whether ``signature`` is Xero's signature of ``body`` with ``key`` (constant-time)."""
    if not key or not signature:
        return False
    expected = base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, signature.strip().encode())


def changed_organisations(body: bytes) -> set[str]:
    """The organisations (tenant ids) a delivery's events name; empty for Intent to Receive and
    for a body that is not the payload Xero documents."""
    try:
        payload: Any = json.loads(body)
    except ValueError:
        return set()
    events = payload.get("events") if isinstance(payload, dict) else None
    if not isinstance(events, list):
        return set()
    return {
        str(event["tenantId"]).lower()
        for event in events
        if isinstance(event, dict) and isinstance(event.get("tenantId"), str)
        and str(event.get("tenantType", "ORGANISATION")).upper() == "ORGANISATION"
    }


def receive(state: XeroSyncState, body: bytes) -> int:
    """Handle a correctly signed delivery: schedule a run for each account that syncs
    automatically with an organisation it names (see the module docstring). Returns how many
    runs were scheduled (0 for Intent to Receive, a duplicate, or organisations nobody follows)."""
    tenants = changed_organisations(body)
    if not tenants:
        return 0
    seen = SEEN_KEY.format(digest=hashlib.sha256(body).hexdigest())
    if state.redis.exists(seen):
        return 0
    scheduled = sync_soon(state, accounts_watching(state, tenants))
    state.redis.set(seen, 1, ex=SEEN_TTL)
    logger.info("xerosync: webhook for %d organisation(s) scheduled %d run(s)", len(tenants), scheduled)
    return scheduled
