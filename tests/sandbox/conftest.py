from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from flask_xerosync.sandbox import SandboxControl, XeroSandbox

from .webhook_receiver import Receiver


REDIRECT_URI = "http://127.0.0.1:8765/settings/accounting-sync/callback"
CLIENT_ID = "test-app"
CLIENT_SECRET = "test-secret"
USER_EMAIL = "owner@example.com"
WEBHOOK_KEY = "c2FuZGJveC13ZWJob29rLWtleQ=="
SCOPES = "offline_access openid profile email accounting.contacts accounting.invoices accounting.settings"


def authorize_url(base: str, scope: str = SCOPES, state: str | None = "st-123", client_id: str = CLIENT_ID,
                  redirect_uri: str = REDIRECT_URI, **extra: str) -> str:
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": scope}
    if state is not None:
        params["state"] = state
    params.update(extra)
    return f"{base}/identity/connect/authorize?{urlencode(params)}"


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def token_request(base: str, data: dict[str, str], client_id: str = CLIENT_ID,
                  secret: str = CLIENT_SECRET, basic: bool = True) -> requests.Response:
    headers = {}
    if basic:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    else:
        data = {**data, "client_id": client_id, "client_secret": secret}
    return requests.post(f"{base}/connect/token", data=data, headers=headers, timeout=10)


@dataclass
class Api:
    """A tiny Xero client: bearer token + tenant header against the sandbox."""

    base: str
    access_token: str
    tenant_id: str
    extra_headers: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, tenant: str | None = None, headers: dict[str, str] | None = None,
                **kwargs: Any) -> requests.Response:
        all_headers = {
            "Authorization": f"Bearer {self.access_token}",
            "Accept": "application/json",
            "xero-tenant-id": self.tenant_id if tenant is None else tenant,
            **self.extra_headers,
            **(headers or {}),
        }
        kwargs.setdefault("timeout", 10)
        return requests.request(method, f"{self.base}/api.xro/2.0/{path}", headers=all_headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def put(self, path: str, json: Any, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, json=json, **kwargs)

    def post(self, path: str, json: Any, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, json=json, **kwargs)


@dataclass
class World:
    sandbox: XeroSandbox
    control: SandboxControl
    tenant_id: str
    other_tenant_id: str
    token: dict[str, Any]
    api: Api

    @property
    def base(self) -> str:
        return self.sandbox.url


def connect(sandbox: XeroSandbox, tenant_ids: list[str], scope: str = SCOPES,
            client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET) -> dict[str, Any]:
    """Authorise via a consent preset and exchange the code; returns the token response."""
    control = sandbox.control
    control.set_consent(client_id, "authorise", tenant_ids=tenant_ids)
    try:
        location = control.authorize(authorize_url(sandbox.url, scope=scope, client_id=client_id))
    finally:
        control.clear_consent(client_id)
    code = query_of(location)["code"]
    response = token_request(sandbox.url, {"grant_type": "authorization_code", "code": code,
                                           "redirect_uri": REDIRECT_URI}, client_id, secret)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def world(xero_sandbox: XeroSandbox) -> World:
    control = xero_sandbox.control
    control.register_app(CLIENT_ID, CLIENT_SECRET, [REDIRECT_URI], name="Test App")
    tenant_id = control.create_org("Acme Plumbing Ltd", country="NZ")
    other = control.create_org("Acme Holdings Pty", country="AU")
    control.create_user(USER_EMAIL, "Olive Owner", tenant_ids=[tenant_id, other])
    token = connect(xero_sandbox, [tenant_id])
    api = Api(xero_sandbox.url, token["access_token"], tenant_id)
    return World(xero_sandbox, control, tenant_id, other, token, api)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A local webhook endpoint that checks signatures with ``WEBHOOK_KEY``."""
    with Receiver(WEBHOOK_KEY) as running:
        yield running


@pytest.fixture
def subscribed(world: World, receiver: Receiver) -> World:
    """The world's app subscribed to webhooks, background sender paused: only flush and replay send."""
    assert world.control.register_webhook(CLIENT_ID, receiver.url, signing_key=WEBHOOK_KEY)["status"] == "OK"
    world.control.pause_webhooks()
    return world
