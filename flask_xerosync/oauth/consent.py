"""What one consent at Xero granted: the organisations it connected.

Xero puts ``authentication_event_id`` in the access token (a JWT), and
``GET /connections?authEventId=`` lists the tenants just authorised. When the access token is
opaque (some identity servers issue those), the newest ``authEventId`` among the token's
connections (by ``updatedDateUtc``, which a re-consent also bumps) stands in for it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

from ..config import XeroSyncConfig
from .client import bearer_headers


class ConsentUnreadable(Exception):
    """Xero could not list the organisations of a consent (no answer, or not JSON)."""


@dataclass(frozen=True)
class Organisation:
    tenant_id: str
    name: str
    connection_id: str

    def as_dict(self) -> dict[str, str]:
        return {"tenantId": self.tenant_id, "tenantName": self.name, "id": self.connection_id}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Organisation:
        return cls(str(data["tenantId"]), str(data.get("tenantName") or ""), str(data.get("id") or ""))


def organisations_of_consent(config: XeroSyncConfig, token: Mapping[str, Any]) -> list[Organisation]:
    """The organisations the consent that issued ``token`` connected (``ConsentUnreadable`` when
    Xero cannot say)."""
    event_id = auth_event_id(token)
    params = {"authEventId": event_id} if event_id else {}
    try:
        response = requests.get(
            config.connections_url, params=params, headers=bearer_headers(token), timeout=config.http_timeout
        )
        response.raise_for_status()
        entries = [entry for entry in response.json() if isinstance(entry, dict)]
    except (requests.RequestException, ValueError):
        raise ConsentUnreadable from None
    if not event_id and entries:
        newest = max(entries, key=lambda entry: str(entry.get("updatedDateUtc") or ""))
        entries = [entry for entry in entries if entry.get("authEventId") == newest.get("authEventId")]
    return [
        Organisation.from_dict(entry)
        for entry in entries
        if entry.get("tenantId") and str(entry.get("tenantType", "ORGANISATION")).upper() == "ORGANISATION"
    ]


def auth_event_id(token: Mapping[str, Any]) -> str | None:
    claims = _jwt_claims(str(token.get("access_token", "")))
    event_id = claims.get("authentication_event_id") or token.get("authentication_event_id")
    return str(event_id) if event_id else None


def _jwt_claims(access_token: str) -> dict[str, Any]:
    """The payload of a JWT access token, unverified: it came straight from the token endpoint over
    TLS and is used only to filter ``/connections``, never to grant anything."""
    parts = access_token.split(".")
    if len(parts) != 3:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}
