"""Connect to Xero, the OAuth callback, choosing an organisation, and disconnecting."""

from __future__ import annotations

from flask import redirect, request, session, url_for
from werkzeug.wrappers import Response

from ..blueprint import bp, plan_required, render_page
from ..models import Connection, ConnectionStatus
from ..oauth import flow

NOTICE_KEY = "xerosync_notice"


def notify(message: str, kind: str = "info") -> None:
    """Leave a plain message for the settings page to show once (``kind``: info or error)."""
    session[NOTICE_KEY] = {"message": message, "kind": kind}


def back_to_settings() -> Response:
    return redirect(url_for("xerosync.settings"))


@bp.post("/connect")
@plan_required
def connect(account_id: str) -> Response:
    """Connect and Reconnect: start the authorisation-code flow at Xero."""
    try:
        return redirect(flow.start_authorization(account_id))
    except flow.FlowRefused as exc:
        notify(str(exc), "error")
        return back_to_settings()


@bp.get("/callback")
@plan_required
def callback(account_id: str) -> Response:
    try:
        connection = flow.complete_authorization(account_id, request.args)
    except flow.FlowRefused as exc:
        notify(str(exc), "error")
        return back_to_settings()
    if connection.status == ConnectionStatus.CHOOSING:
        return redirect(url_for("xerosync.choose"))
    notify(f"Connected to {connection.tenant_name}.")
    return back_to_settings()


@bp.get("/choose")
@plan_required
def choose(account_id: str) -> Response | str:
    connection = flow.connection_for(account_id)
    if connection is None or connection.status != ConnectionStatus.CHOOSING:
        return back_to_settings()
    return _choose_page(connection, error="")


@bp.post("/choose")
@plan_required
def choose_submit(account_id: str) -> Response | tuple[str, int]:
    try:
        connection = flow.choose_organisation(account_id, request.form.get("tenant_id", ""))
    except flow.FlowRefused as exc:
        connection = flow.connection_for(account_id)
        if connection is None or connection.status != ConnectionStatus.CHOOSING:
            notify(str(exc), "error")
            return back_to_settings()
        return _choose_page(connection, error=str(exc)), 422
    notify(f"Connected to {connection.tenant_name}.")
    return back_to_settings()


def _choose_page(connection: Connection, *, error: str) -> str:
    """The organisations the last consent offered, to pick the one this account syncs with."""
    organisations = [flow.Organisation.from_dict(entry) for entry in connection.pending_tenants or []]
    return render_page("xerosync/choose_org.html", connection=connection, organisations=organisations, error=error)


@bp.get("/disconnect")
@plan_required
def confirm_disconnect(account_id: str) -> Response | str:
    connection = flow.connection_for(account_id)
    if connection is None or connection.status == ConnectionStatus.DISCONNECTED:
        return back_to_settings()
    return render_page("xerosync/settings.html", plan_allowed=True, connection=connection, confirm_disconnect=True)


@bp.post("/disconnect")
@plan_required
def disconnect(account_id: str) -> Response:
    notes = flow.disconnect(account_id)
    message = "Disconnected from Xero. Your links and sync history are kept for when you reconnect."
    notify(" ".join([message, *notes]), "error" if notes else "info")
    return back_to_settings()
