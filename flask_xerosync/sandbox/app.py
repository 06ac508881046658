"""The sandbox Flask application (one origin for identity, API, UI and control)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, request

from .api import DROP_FLAG
from .state import SandboxState

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class DropResponseMiddleware:
    """Closes the socket instead of answering when a "response dropped" fault fired.

    The write has already been committed; the client sees the connection reset
    (``requests`` raises ``ConnectionError``), as if the network lost the reply.
    """

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        result = self.app(environ, start_response)
        sock = environ.get("werkzeug.socket")
        if environ.get(DROP_FLAG) and sock is not None:
            close = getattr(result, "close", None)
            if close is not None:
                close()
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return []
        return result


def create_app(state: SandboxState) -> Flask:
    from . import (
        api,
        control_clock,
        control_consent,
        control_faults,
        control_limits,
        control_person,
        control_registry,
        control_seeding,
        control_webhooks,
        identity_connections,
        identity_consent,
        identity_tokens,
        ui,
    )

    app = Flask("flask_xerosync.sandbox")
    app.extensions["xero_sandbox"] = state
    for module in (identity_consent, identity_tokens, identity_connections, api, ui, control_registry,
                   control_seeding, control_person, control_consent, control_limits, control_faults,
                   control_clock, control_webhooks):
        app.register_blueprint(module.bp)

    @app.before_request
    def _remember_origin() -> None:
        """Webhook ``resourceUrl``s point at this sandbox (XeroSandbox sets it on start)."""
        if not state.webhooks.base_url:
            state.webhooks.base_url = request.host_url.rstrip("/")

    app.wsgi_app = DropResponseMiddleware(app.wsgi_app)  # type: ignore[method-assign]
    return app
