"""Connect, choose an organisation, reconnect and disconnect: the services behind the connect views.

The authorisation-code flow uses ``state`` and PKCE S256. Between the redirect to Xero and the
callback, the code verifier and the account id wait server-side in Redis under a key derived from
the state (``FLOW_KEY``, expiring after ``FLOW_TTL``), and the state itself in the user's session
(the ``flow_session`` mapping the view passes: Flask's ``session``). The callback must come back
to the session that started the flow (the state in its session) and takes the Redis entry
atomically, so each state completes at most one connection, even when an old session cookie is
replayed; the verifier is never sent to the browser (Flask's default session is a cookie the user
can read). A reply whose state does not match leaves the flow in progress untouched.

Which organisations the consent connected is :mod:`flask_xerosync.oauth.consent`'s business.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping, MutableMapping
from typing import Any

import requests
from authlib.common.security import generate_token
from sqlalchemy import select
from authlib.integrations.base_client import OAuthError
from redis.exceptions import RedisError

from .. import signals
from ..crypto import TokenDecryptError
from ..errors import XeroSyncError
from ..models import Connection, ConnectionStatus, Link, Run, utcnow
from ..oauth.client import authorization_session
from ..oauth.consent import ConsentUnreadable, Organisation, auth_event_id, organisations_of_consent
from ..state import XeroSyncState, announce
from .connections import DbSession, connection_of
from .preferences import forget_foreign_codes

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


FlowSession = MutableMapping[str, Any]
"""Where the flow's ``state`` waits between Connect and the callback: the user's Flask session."""


def start_authorization(
    state: XeroSyncState, account_id: str, *, redirect_uri: str, flow_session: FlowSession
) -> str:
    """The Xero authorise URL to redirect to; remembers the flow (see the module docstring)."""
    verifier = generate_token(CODE_VERIFIER_LENGTH)
    oauth = authorization_session(state.config, redirect_uri)
    url, flow_state = oauth.create_authorization_url(state.config.authorize_url, code_verifier=verifier)
    pending = json.dumps({"verifier": verifier, "account_id": account_id})
    superseded = flow_session.get(SESSION_KEY)
    try:
        if isinstance(superseded, dict) and superseded.get("state"):
            state.redis.delete(_flow_key(str(superseded["state"])))  # one flow per session
        state.redis.set(_flow_key(flow_state), pending, ex=FLOW_TTL)
    except RedisError:
        raise FlowRefused(
            "The connection to Xero could not be started because the app's job store (Redis) did not "
            "answer. Nothing was changed. Try again in a moment."
        ) from None
    flow_session[SESSION_KEY] = {"state": flow_state}
    return str(url)


def complete_authorization(
    state: XeroSyncState,
    account_id: str,
    args: Mapping[str, str],
    *,
    redirect_uri: str,
    flow_session: FlowSession,
) -> Connection:
    """Handle Xero's redirect back: check state, exchange the code, find the consent's tenants.

    Returns the connection, ``connected`` (one organisation) or ``choosing`` (several, or one that
    is not the organisation this account synced with: the owner confirms the switch first). Raises
    :class:`FlowRefused` with a plain message, having stored nothing, in every other case. The
    flow is taken out of ``flow_session`` only when the reply's state is its own.
    """
    started = flow_session.get(SESSION_KEY)
    returned_state = args.get("state", "")
    if (
        not isinstance(started, dict)
        or not returned_state
        or not hmac.compare_digest(str(started.get("state", "")), returned_state)
    ):
        raise FlowRefused(NOT_THIS_FLOW)
    del flow_session[SESSION_KEY]
    pending = _take_flow(state, returned_state)
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

    oauth = authorization_session(state.config, redirect_uri)
    try:
        token = dict(
            oauth.fetch_token(state.config.token_url, code=code, code_verifier=pending.get("verifier"))
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

    try:
        organisations = organisations_of_consent(state.config, token)
    except ConsentUnreadable:
        raise FlowRefused(
            "Xero could not list the organisations you connected. Nothing was changed. Try again."
        ) from None
    if not organisations:
        raise FlowRefused(
            "No Xero organisation was connected. Nothing was changed. Click Connect to Xero and "
            "tick an organisation on Xero's page."
        )

    connection = connection_of(state.db.session, account_id)
    if connection is None:
        connection = Connection(account_id=account_id, status=ConnectionStatus.DISCONNECTED)
        state.db.session.add(connection)
    state.tokens.encrypt_into(connection, token)
    connection.auth_event_id = auth_event_id(token)
    if len(organisations) == 1 and not switches_organisation(state.db.session, connection, organisations[0].tenant_id):
        _attach(state, connection, organisations[0])
    else:
        connection.status = ConnectionStatus.CHOOSING
        connection.status_reason = ""
        connection.pending_tenants = [organisation.as_dict() for organisation in organisations]
    state.db.session.commit()
    if connection.status == ConnectionStatus.CONNECTED:
        _send_connected(connection)
    return connection


def choose_organisation(state: XeroSyncState, account_id: str, tenant_id: str) -> Connection:
    """Finish a several-organisation consent with the one this account syncs with."""
    connection = connection_of(state.db.session, account_id)
    if connection is None or connection.status != ConnectionStatus.CHOOSING:
        raise FlowRefused("There is no organisation to choose right now. Click Connect to Xero to start again.")
    offered = [Organisation.from_dict(entry) for entry in connection.pending_tenants or []]
    chosen = next((organisation for organisation in offered if organisation.tenant_id == tenant_id), None)
    if chosen is None:
        raise FlowRefused("Choose one of the organisations listed.")
    _attach(state, connection, chosen)
    state.db.session.commit()
    _send_connected(connection)
    return connection


def disconnect(state: XeroSyncState, account_id: str) -> list[str]:
    """Remove the Xero connection, revoke the token set, forget the tokens; keep links and history.

    Returns notes about anything Xero could not be told (the local disconnect happens regardless).
    """
    connection = connection_of(state.db.session, account_id)
    if connection is None or connection.status == ConnectionStatus.DISCONNECTED:
        return []
    notes: list[str] = []
    try:
        token = state.tokens.token_of(connection)
    except TokenDecryptError:
        token = None
    if token is not None:
        notes.extend(_tell_xero(state, connection, token))
    tenant_id = connection.tenant_id
    connection.token_encrypted = None
    connection.token_expires_at = None
    connection.pending_tenants = None
    connection.status = ConnectionStatus.DISCONNECTED
    connection.status_reason = ""
    state.db.session.commit()
    logger.info("Account %s disconnected from Xero organisation %s", account_id, tenant_id)
    announce(signals.disconnected, account_id=account_id, tenant_id=tenant_id, reason="user")
    return notes


def _tell_xero(state: XeroSyncState, connection: Connection, token: dict[str, Any]) -> list[str]:
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
        try:
            response = authorization_session(state.config).revoke_token(
                state.config.revocation_url, token=refresh_token, token_type_hint="refresh_token"
            )
            if not response.ok:
                notes.append(f"Xero answered {response.status_code} when asked to revoke access.")
        except requests.RequestException:
            notes.append("Xero could not be reached to revoke access.")
    if notes:
        notes.append("To be sure, remove the app under Settings > Connected Apps in Xero.")
    return notes


def switches_organisation(session: DbSession, connection: Connection, tenant_id: str) -> bool:
    """Whether connecting ``tenant_id`` leaves an organisation this account has synced with."""
    previous = connection.tenant_id
    if not previous or previous == tenant_id:
        return False
    return has_history(session, connection.account_id, previous)


def has_history(session: DbSession, account_id: str, tenant_id: str) -> bool:
    """Whether the account ever ran a sync (or preview) or linked a record with the organisation."""
    for model in (Run, Link):
        if session.scalar(select(model.id).where(model.account_id == account_id, model.tenant_id == tenant_id)
                          .limit(1)) is not None:
            return True
    return False


def _attach(state: XeroSyncState, connection: Connection, organisation: Organisation) -> None:
    if connection.tenant_id != organisation.tenant_id:
        # Another organisation starts fresh: nothing of the last one (marks, a paused day, account
        # and tax codes it does not know) is carried over. Links, flags and history stay with it.
        connection.sync_marks = None
        connection.paused_until = None
        forget_foreign_codes(state.db.session, connection.account_id, organisation.tenant_id)
    connection.tenant_id = organisation.tenant_id
    connection.tenant_name = organisation.name
    connection.xero_connection_id = organisation.connection_id
    connection.status = ConnectionStatus.CONNECTED
    connection.status_reason = ""
    connection.pending_tenants = None
    connection.connected_at = utcnow()


def _send_connected(connection: Connection) -> None:
    logger.info("Account %s connected to Xero organisation %s", connection.account_id, connection.tenant_id)
    announce(
        signals.connected,
        account_id=connection.account_id,
        tenant_id=connection.tenant_id,
        tenant_name=connection.tenant_name,
    )


def _flow_key(flow_state: str) -> str:
    return FLOW_KEY.format(digest=hashlib.sha256(flow_state.encode()).hexdigest())


def _take_flow(state: XeroSyncState, flow_state: str) -> dict[str, Any] | None:
    """The pending flow of a state, removed in the same transaction: only one caller gets it."""
    pipeline = state.redis.pipeline(transaction=True)
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
