"""A ``requests`` adapter that answers from a WSGI app in this process (no socket, no thread):
the Xero sandbox driven at function-call speed, for the engine's generated tests."""

from __future__ import annotations

import time
from io import BytesIO
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from werkzeug.test import Client


class WSGIAdapter(BaseAdapter):
    """``cpu_seconds``: the process time spent answering (the sandbox's share of a measurement)."""

    def __init__(self, app: Any) -> None:
        super().__init__()
        self.client = Client(app)
        self.cpu_seconds = 0.0

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        started = time.process_time()
        try:
            return self._answer(request)
        finally:
            self.cpu_seconds += time.process_time() - started

    def _answer(self, request: requests.PreparedRequest) -> requests.Response:
        parts = urlsplit(request.url or "")
        body = request.body.encode() if isinstance(request.body, str) else request.body
        answer = self.client.open(
            parts.path, method=request.method or "GET", query_string=parts.query,
            headers=list(request.headers.items()), data=body or b"",
        )
        response = requests.Response()
        response.status_code = answer.status_code
        response.headers = CaseInsensitiveDict(dict(answer.headers))
        response.raw = BytesIO(answer.get_data())
        response.url = request.url or ""
        response.request = request
        response.reason = answer.status.split(" ", 1)[-1]
        return response

    def close(self) -> None:
        """Nothing to release."""


def wsgi_session(app: Any, base_url: str) -> requests.Session:
    session = requests.Session()
    session.mount(base_url, WSGIAdapter(app))
    return session
