"""Helpers for the Xero client tests: a real OAuth token from the sandbox and a sleep recorder.

``TokenSession`` is the smallest real stand-in for the core's Authlib session: a
``requests.Session`` that sends the bearer token it got through a headless consent and whose
``force_refresh`` performs a real ``refresh_token`` grant against the sandbox.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

CLIENT_ID = "client-tests-app"
CLIENT_SECRET = "client-tests-secret"
REDIRECT_URI = "http://localhost/callback"
SCOPES = "offline_access accounting.contacts accounting.invoices accounting.settings"


class TokenSession(requests.Session):
    """Adds ``Authorization: Bearer`` to every request; ``force_refresh`` rotates the token."""

    def __init__(self, sandbox_url: str, token: dict[str, Any]) -> None:
        super().__init__()
        self.sandbox_url = sandbox_url
        self.token = token
        self.refreshes = 0
        self.responses: list[requests.Response] = []
        self._lock = threading.Lock()

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        headers = dict(kwargs.pop("headers", None) or {})
        headers["Authorization"] = f"Bearer {self.token['access_token']}"
        response = super().request(method, url, *args, headers=headers, **kwargs)
        with self._lock:
            self.responses.append(response)
        return response

    def force_refresh(self) -> None:
        response = requests.post(
            f"{self.sandbox_url}/connect/token",
            data={"grant_type": "refresh_token", "refresh_token": self.token["refresh_token"]},
            auth=(CLIENT_ID, CLIENT_SECRET),
            timeout=10,
        )
        response.raise_for_status()
        self.token = response.json()
        self.refreshes += 1


@dataclass
class Org:
    sandbox: Any
    tenant_id: str
    user_id: str
    token: dict[str, Any]

    @property
    def control(self) -> Any:
        return self.sandbox.control

    def session(self) -> TokenSession:
        return TokenSession(self.sandbox.url, dict(self.token))


def obtain_token(sandbox: Any, tenant_id: str, user_email: str, scopes: str = SCOPES) -> dict[str, Any]:
    """A token set through the real authorisation-code flow, consented headlessly."""
    control = sandbox.control
    control.set_consent(CLIENT_ID, "authorise", tenant_ids=[tenant_id], user=user_email)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "scope": scopes,
            "state": secrets.token_urlsafe(8),
        }
    )
    location = control.authorize(f"{sandbox.url}/identity/connect/authorize?{query}")
    code = parse_qs(urlsplit(location).query)["code"][0]
    response = requests.post(
        f"{sandbox.url}/connect/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=10,
    )
    response.raise_for_status()
    return response.json()


class SleepRecorder:
    """An injected ``sleep`` that records every wait and really waits (so the sandbox sees time)."""

    def __init__(self, really: bool = True) -> None:
        self.really = really
        self.waits: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.waits.append(seconds)
        if self.really and seconds > 0:
            time.sleep(seconds)
