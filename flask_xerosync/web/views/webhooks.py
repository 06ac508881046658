"""The route Xero's webhooks are delivered to: ``POST <XEROSYNC_URL_PREFIX>/webhooks``.

A machine callback, on a blueprint of its own (``xerosync_webhooks``) so that none of the
settings pages' machinery applies: no login, no CSRF (it carries Xero's signature instead; a
host's ``CSRFProtect`` is told to leave this blueprint alone, whichever was set up first), no
session, no cookies. It answers at once, with no body: 401 unless the signature is right, else
200 after scheduling what the delivery asks for (:mod:`flask_xerosync.services.webhooks`).
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, request
from werkzeug.wrappers import Response

from ...services import webhooks
from ...state import current_state

MAX_BODY = 1_000_000
"""Xero's deliveries are a few kilobytes; anything far larger is not one."""

webhooks_bp = Blueprint("xerosync_webhooks", __name__)


@webhooks_bp.post("/webhooks")
def receive_webhook() -> Response:
    if (request.content_length or 0) > MAX_BODY:
        return Response(status=413)
    state = current_state()
    body = request.get_data(cache=False)  # the raw bytes Xero signed, before any parsing
    if not webhooks.signature_ok(state.config.webhook_key, body, request.headers.get(webhooks.SIGNATURE_HEADER)):
        return Response(status=401)
    webhooks.receive(state, body)
    return Response(status=200)


def register_webhooks(app: Flask, *, url_prefix: str) -> None:
    """Mount the webhook route next to the settings pages and keep a host's CSRFProtect off it."""
    app.register_blueprint(webhooks_bp, url_prefix=url_prefix or None)
    # First in line, so it runs before CSRFProtect's own check whenever that was set up.
    app.before_request_funcs.setdefault(None, []).insert(0, _exempt_from_host_csrf)


def _exempt_from_host_csrf() -> None:
    if request.blueprint == webhooks_bp.name:
        csrf = current_app.extensions.get("csrf")
        if csrf is not None:
            csrf.exempt(webhooks_bp)
