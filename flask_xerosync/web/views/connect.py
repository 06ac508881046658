"""Connect to Xero, the OAuth callback, choosing an organisation, and disconnecting.

Xero sends the user back to the callback URL: ``XEROSYNC_REDIRECT_URI`` when set, else the
blueprint's ``callback`` route as an absolute URL (which needs ``SERVER_NAME``, or ProxyFix behind a
proxy, for Flask to know the public host and scheme).
"""

from __future__ import annotations

from flask import redirect, request, session, url_for
from werkzeug.wrappers import Response

from ...models import Connection, ConnectionStatus
from ...oauth.consent import Organisation
from ...services import connect as connect_service
from ...services.connect import FlowRefused
from ...services.connections import connection_of
from ...state import current_state
from ..blueprint import bp
from ..guards import plan_required
from ..notices import back_to_settings, notify
from ..rendering import render_page


def callback_url() -> str:
    return current_state().config.redirect_uri or url_for("xerosync.callback", _external=True)


@bp.post("/connect")
@plan_required
def connect(account_id: str) -> Response:
    """Connect and Reconnect: start the authorisation-code flow at Xero."""
    try:
        return redirect(
            connect_service.start_authorization(
                current_state(), account_id, redirect_uri=callback_url(), flow_session=session
            )
        )
    except FlowRefused as exc:
        notify(str(exc), "error")
        return back_to_settings()


@bp.get("/callback")
@plan_required
def callback(account_id: str) -> Response:
    try:
        connection = connect_service.complete_authorization(
            current_state(), account_id, request.args, redirect_uri=callback_url(), flow_session=session
        )
    except FlowRefused as exc:
        notify(str(exc), "error")
        return back_to_settings()
    if connection.status == ConnectionStatus.CHOOSING:
        return redirect(url_for("xerosync.choose"))
    notify(f"Connected to {connection.tenant_name}.")
    return back_to_settings()


@bp.get("/choose")
@plan_required
def choose(account_id: str) -> Response | str:
    connection = connection_of(current_state().db.session, account_id)
    if connection is None or connection.status != ConnectionStatus.CHOOSING:
        return back_to_settings()
    return _choose_page(connection, error="")


@bp.post("/choose")
@plan_required
def choose_submit(account_id: str) -> Response | tuple[str, int]:
    state = current_state()
    try:
        connection = connect_service.choose_organisation(state, account_id, request.form.get("tenant_id", ""))
    except FlowRefused as exc:
        choosing = connection_of(state.db.session, account_id)
        if choosing is None or choosing.status != ConnectionStatus.CHOOSING:
            notify(str(exc), "error")
            return back_to_settings()
        return _choose_page(choosing, error=str(exc)), 422
    notify(f"Connected to {connection.tenant_name}.")
    return back_to_settings()


def _choose_page(connection: Connection, *, error: str) -> str:
    """The organisations the last consent offered, to pick the one this account syncs with; when
    the account synced with another organisation before, what switching means, before it happens."""
    organisations = [Organisation.from_dict(entry) for entry in connection.pending_tenants or []]
    session = current_state().db.session
    previous = connection.tenant_id if connection.tenant_id and connect_service.has_history(
        session, connection.account_id, connection.tenant_id) else None
    return render_page("xerosync/choose_org.html", connection=connection, organisations=organisations, error=error,
                       previous=previous, previous_name=connection.tenant_name if previous else "")


@bp.get("/disconnect")
@plan_required
def confirm_disconnect(account_id: str) -> Response | str:
    connection = connection_of(current_state().db.session, account_id)
    if connection is None or connection.status == ConnectionStatus.DISCONNECTED:
        return back_to_settings()
    return render_page("xerosync/settings.html", plan_allowed=True, connection=connection, confirm_disconnect=True)


@bp.post("/disconnect")
@plan_required
def disconnect(account_id: str) -> Response:
    notes = connect_service.disconnect(current_state(), account_id)
    message = "Disconnected from Xero. Your links and sync history are kept for when you reconnect."
    notify(" ".join([message, *notes]), "error" if notes else "info")
    return back_to_settings()
