"""Authlib OAuth sessions configured for Xero (or the sandbox) from ``XeroSyncConfig``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from authlib.integrations.requests_client import OAuth2Session

from ..config import XeroSyncConfig


def authorization_session(config: XeroSyncConfig, redirect_uri: str | None = None) -> OAuth2Session:
    """A session for the authorisation-code flow (and revocation, which needs no ``redirect_uri``):
    PKCE S256, secret sent as a Basic header."""
    return OAuth2Session(
        client_id=config.client_id,
        client_secret=config.client_secret,
        token_endpoint_auth_method="client_secret_basic",
        scope=" ".join(config.scopes),
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        default_timeout=config.http_timeout,
    )


def bearer_headers(token: Mapping[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token['access_token']}", "Accept": "application/json"}
