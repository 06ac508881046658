"""``Idempotency-Key`` replay store (retention measured in sandbox time)."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

from .clock import SandboxClock

RETENTION_SECONDS = 6 * 60
MAX_KEY_LENGTH = 128


@dataclass
class StoredResponse:
    fingerprint: str
    status: int
    body: bytes
    content_type: str
    expires_at: float


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.upper(), path.lower(), query):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(body)
    return digest.hexdigest()


class IdempotencyStore:
    """First responses by (app, tenant, key), kept for six sandbox minutes."""

    def __init__(self, clock: SandboxClock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str, str], StoredResponse] = {}

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()

    def lookup(self, scope: tuple[str, str, str]) -> StoredResponse | None:
        now = self._clock.timestamp()
        with self._lock:
            entry = self._entries.get(scope)
            if entry is not None and entry.expires_at <= now:
                del self._entries[scope]
                return None
            return entry

    def store(self, scope: tuple[str, str, str], entry: StoredResponse) -> None:
        now = self._clock.timestamp()
        with self._lock:
            if len(self._entries) > 10000:
                for key in [k for k, v in self._entries.items() if v.expires_at <= now]:
                    del self._entries[key]
            self._entries[scope] = entry

    def expiry(self) -> float:
        return self._clock.timestamp() + RETENTION_SECONDS
