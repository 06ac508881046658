"""A small local webhook receiver for the sandbox's webhook tests.

By default it behaves like a correct Xero webhook endpoint: 200 with no body for a
payload signed with its key, 401 otherwise. ``behave`` replaces that answer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    signed_correctly: bool

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def is_intent_to_receive(self) -> bool:
        return self.payload["events"] == []


Answer = tuple[int, bytes, float]  # status, body, seconds to wait before answering
Behaviour = Callable[[Received], Answer]


def signature(body: bytes, key: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def verifying(received: Received) -> Answer:
    return (200 if received.signed_correctly else 401), b"", 0.0


class Receiver:
    def __init__(self, key: str) -> None:
        self.key = key
        self.behave: Behaviour = verifying
        self.received: list[Received] = []
        self.arrived = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                sent = headers.get("x-xero-signature", "")
                received = Received(headers, body, hmac.compare_digest(sent, signature(body, receiver.key)))
                with receiver._lock:
                    receiver.received.append(received)
                receiver.arrived.set()
                status, answer, delay = receiver.behave(received)
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass  # the sandbox gave up waiting

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/xero/webhooks"

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def intents(self) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.is_intent_to_receive]

    def deliveries(self) -> list[Received]:
        with self._lock:
            return [r for r in self.received if not r.is_intent_to_receive]

    def events(self) -> list[dict[str, Any]]:
        return [event for r in self.deliveries() for event in r.payload["events"]]

    def wait_for_deliveries(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            delivered = self.deliveries()
            if len(delivered) >= count:
                return delivered
            time.sleep(0.02)
        raise AssertionError(f"expected {count} deliveries, got {len(self.deliveries())}")
