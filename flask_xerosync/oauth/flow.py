"""Connect, choose an organisation, reconnect and disconnect: the services behind the views.

The authorisation-code flow uses ``state`` and PKCE S256. Between the redirect to Xero and the
callback, the code verifier and the account id wait server-side in Redis under a key derived from
the state (``FLOW_KEY``, expiring after ``FLOW_TTL``), and the state itself in the Flask session.
The callback must come back to the session that started the flow (the state in its session) and
takes the Redis entry atomically, so each state completes at most one connection, even when an
old session cookie is replayed; the verifier is never sent to the browser (Flask's default session
is a cookie the user can read).

Finding the organisations of *this* consent: Xero puts ``authentication_event_id`` in the access
token (a JWT), and ``GET /connections?authEventId=`` lists the tenants just authorised. When the
access token is opaque (some identity servers issue those), the newest ``authEventId`` among the
token's connections (by ``updatedDateUtc``, which a re-consent also bumps) stands in for it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from flask import current_app, session, url_for
from redis.exceptions import RedisError
from sqlalchemy import select

from .. import signals
from ..crypto import TokenDecryptError
from ..errors import XeroSyncError
from ..extension import current_state
from ..models import Connection, ConnectionStatus, utcnow
from .client import authorization_client, bearer_headers

logger = logging.getLogger(__name__)

SESSION_KEY = "xerosync_oauth"
CODE_VERIFIER_LENGTH = 64
FLOW_KEY = "xerosync:oauth-flow:{digest}"
# Time allowed between Connect to Xero and Xero's redirect back (signing in, MFA, choosing orgs).
FLOW_TTL = 15 * 60

NOT_THIS_FLOW = (
    "That reply from Xero does not match a connection started from this page (it may be old, "
    "already used, or opened in another browser). Nothing was changed. Click Connect to Xero to try again."
)


class FlowRefused(XeroSyncError):
    """The callback cannot complete; the message says why in plain words. Nothing was stored."""


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


def connection_for(account_id: str) -> Connection | None:
    db = current_state().db
    return db.session.scalar(select(Connection).where(Connection.account_id == account_id))


def start_authorization(account_id: str) -> str:
    """The Xero authorise URL to redirect to; remembers the flow (see the module docstring)."""
    state = current_state()
    verifier = generate_token(CODE_VERIFIER_LENGTH)
    client = authorization_client(state.config, redirect_uri=url_for("xerosync.callback", _external=True))
    url, flow_state = client.create_authorization_url(state.config.authorize_url, code_verifier=verifier)
    pending = json.dumps({"verifier": verifier, "account_id": account_id})
    superseded = session.get(SESSION_KEY)
    try:
        if isinstance(superseded, dict) and superseded.get("state"):
            state.redis.delete(_flow_key(str(superseded["state"])))  # one flow per session
        state.redis.set(_flow_key(flow_state), pending, ex=FLOW_TTL)
    except RedisError:
        raise FlowRefused(
            "The connection to Xero could not be started because the app's job store (Redis) did not "
            "answer. Nothing was changed. Try again in a moment."
        ) from None
    session[SESSION_KEY] = {"state": flow_state}
    return str(url)


def complete_authorization(account_id: str, args: Mapping[str, str]) -> Connection:
    """Handle Xero's redirect back: check state, exchange the code, find the consent's tenants.

    Returns the connection, ``connected`` (one organisation) or ``choosing`` (several). Raises
    :class:`FlowRefused` with a plain message, having stored nothing, in every other case.
    """
    started = session.pop(SESSION_KEY, None)
    returned_state = args.get("state", "")
    if (
        not isinstance(started, dict)
        or not returned_state
        or not hmac.compare_digest(str(started.get("state", "")), returned_state)
    ):
        raise FlowRefused(NOT_THIS_FLOW)
    pending = _take_flow(returned_state)
    if pending is None or pending.get("account_id") != account_id:
        raise FlowRefused(NOT_THIS_FLOW)
    if args.get("error"):
        if args["error"] == "access_denied":
            raise FlowRefused("You cancelled in Xero, so nothing was connected.")
        raise FlowRefused(
            f"Xero could not complete the connection ({args['error']}). Nothing was changed. "
            "Try again, and if it keeps failing check the app's settings in Xero."
        )
    code = args.get("code", "")
    if not code:
        raise FlowRefused("Xero's reply carried no authorisation code. Nothing was changed. Try again.")

    state = current_state()
    client = authorization_client(state.config, redirect_uri=url_for("xerosync.callback", _external=True))
    try:
        token = dict(
            client.fetch_token(state.config.token_url, code=code, code_verifier=pending.get("verifier"))
        )
    except OAuthError as exc:
        if exc.error == "invalid_grant":
            raise FlowRefused(
                "Xero did not accept this sign-in (the link was already used or has expired). "
                "Nothing was changed. Click Connect to Xero to try again."
            ) from None
        raise FlowRefused(f"Xero refused the connection ({exc.error}). Nothing was changed.") from None
    except requests.RequestException:
        raise FlowRefused("Xero could not be reached to finish connecting. Nothing was changed. Try again.") from None

    organisations = _organisations_of_consent(token)
    if not organisations:
        raise FlowRefused(
            "No Xero organisation was connected. Nothing was changed. Click Connect to Xero and "
            "tick an organisation on Xero's page."
        )

    connection = connection_for(account_id)
    if connection is None:
        connection = Connection(account_id=account_id, status=ConnectionStatus.DISCONNECTED)
        state.db.session.add(connection)
    state.tokens.encrypt_into(connection, token)
    connection.auth_event_id = _auth_event_id(token)
    if len(organisations) == 1:
        _attach(connection, organisations[0])
    else:
        connection.status = ConnectionStatus.CHOOSING
        connection.status_reason = ""
        connection.pending_tenants = [organisation.as_dict() for organisation in organisations]
    state.db.session.commit()
    if connection.status == ConnectionStatus.CONNECTED:
        _send_connected(connection)
    return connection


def choose_organisation(account_id: str, tenant_id: str) -> Connection:
    """Finish a several-organisation consent with the one this account syncs with."""
    connection = connection_for(account_id)
    if connection is None or connection.status != ConnectionStatus.CHOOSING:
        raise FlowRefused("There is no organisation to choose right now. Click Connect to Xero to start again.")
    offered = [Organisation.from_dict(entry) for entry in connection.pending_tenants or []]
    chosen = next((organisation for organisation in offered if organisation.tenant_id == tenant_id), None)
    if chosen is None:
        raise FlowRefused("Choose one of the organisations listed.")
    _attach(connection, chosen)
    current_state().db.session.commit()
    _send_connected(connection)
    return connection


def disconnect(account_id: str) -> list[str]:
    """Remove the Xero connection, revoke the token set, forget the tokens; keep links and history.

    Returns notes about anything Xero could not be told (the local disconnect happens regardless).
    """
    state = current_state()
    connection = connection_for(account_id)
    if connection is None or connection.status == ConnectionStatus.DISCONNECTED:
        return []
    notes: list[str] = []
    try:
        token = state.tokens.token_of(connection)
    except TokenDecryptError:
        token = None
    if token is not None:
        notes.extend(_tell_xero(connection, token))
    tenant_id = connection.tenant_id
    connection.token_encrypted = None
    connection.token_expires_at = None
    connection.pending_tenants = None
    connection.status = ConnectionStatus.DISCONNECTED
    connection.status_reason = ""
    state.db.session.commit()
    logger.info("Account %s disconnected from Xero organisation %s", account_id, tenant_id)
    signals.disconnected.send(
        current_app._get_current_object(), account_id=account_id, tenant_id=tenant_id, reason="user"
    )
    return notes


def _tell_xero(connection: Connection, token: dict[str, Any]) -> list[str]:
    state = current_state()
    notes: list[str] = []
    if connection.xero_connection_id and connection.status == ConnectionStatus.CONNECTED:
        try:
            response = state.xero_session(connection).delete(
                f"{state.config.connections_url}/{connection.xero_connection_id}"
            )
            if response.status_code not in (200, 204, 404):
                notes.append(f"Xero answered {response.status_code} when asked to remove the connection.")
        except (XeroSyncError, requests.RequestException):
            notes.append("Xero could not be reached to remove the connection.")
        try:
            token = state.tokens.token_of(connection) or token
        except TokenDecryptError:
            pass
    refresh_token = token.get("refresh_token")
    if refresh_token:
        client = authorization_client(state.config, redirect_uri=url_for("xerosync.callback", _external=True))
        try:
            response = client.revoke_token(
                state.config.revocation_url, token=refresh_token, token_type_hint="refresh_token"
            )
            if not response.ok:
                notes.append(f"Xero answered {response.status_code} when asked to revoke access.")
        except requests.RequestException:
            notes.append("Xero could not be reached to revoke access.")
    if notes:
        notes.append("To be sure, remove the app under Settings > Connected Apps in Xero.")
    return notes


def _attach(connection: Connection, organisation: Organisation) -> None:
    if connection.tenant_id != organisation.tenant_id:
        connection.sync_marks = None
        connection.paused_until = None
    connection.tenant_id = organisation.tenant_id
    connection.tenant_name = organisation.name
    connection.xero_connection_id = organisation.connection_id
    connection.status = ConnectionStatus.CONNECTED
    connection.status_reason = ""
    connection.pending_tenants = None
    connection.connected_at = utcnow()


def _send_connected(connection: Connection) -> None:
    logger.info("Account %s connected to Xero organisation %s", connection.account_id, connection.tenant_id)
    signals.connected.send(
        current_app._get_current_object(),
        account_id=connection.account_id,
        tenant_id=connection.tenant_id,
        tenant_name=connection.tenant_name,
    )


def _organisations_of_consent(token: dict[str, Any]) -> list[Organisation]:
    config = current_state().config
    event_id = _auth_event_id(token)
    params = {"authEventId": event_id} if event_id else {}
    try:
        response = requests.get(
            config.connections_url, params=params, headers=bearer_headers(token), timeout=config.http_timeout
        )
        response.raise_for_status()
        entries = [entry for entry in response.json() if isinstance(entry, dict)]
    except (requests.RequestException, ValueError):
        raise FlowRefused(
            "Xero could not list the organisations you connected. Nothing was changed. Try again."
        ) from None
    if not event_id and entries:
        newest = max(entries, key=lambda entry: str(entry.get("updatedDateUtc") or ""))
        entries = [entry for entry in entries if entry.get("authEventId") == newest.get("authEventId")]
    return [
        Organisation.from_dict(entry)
        for entry in entries
        if entry.get("tenantId") and str(entry.get("tenantType", "ORGANISATION")).upper() == "ORGANISATION"
    ]


def _flow_key(flow_state: str) -> str:
    return FLOW_KEY.format(digest=hashlib.sha256(flow_state.encode()).hexdigest())


def _take_flow(flow_state: str) -> dict[str, Any] | None:
    """The pending flow of a state, removed in the same transaction: only one caller gets it."""
    pipeline = current_state().redis.pipeline(transaction=True)
    pipeline.get(_flow_key(flow_state))
    pipeline.delete(_flow_key(flow_state))
    try:
        stored, deleted = pipeline.execute()
    except RedisError:
        raise FlowRefused(
            "Xero's reply could not be checked because the app's job store (Redis) did not answer. "
            "Nothing was changed. Click Connect to Xero to try again."
        ) from None
    if stored is None or not deleted:
        return None
    pending = json.loads(stored)
    return pending if isinstance(pending, dict) else None


def _auth_event_id(token: Mapping[str, Any]) -> str | None:
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
