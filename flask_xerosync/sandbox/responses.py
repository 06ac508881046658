"""What every sandbox view needs: the request's sandbox state and JSON responses."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app

from .jsonfmt import dumps
from .state import SandboxState


def current_state() -> SandboxState:
    """The state of the sandbox serving this request."""
    return current_app.extensions["xero_sandbox"]


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer (exact decimals, MS-JSON dates); ``None`` gives an empty body."""
    response = Response(dumps(payload) if payload is not None else b"", status=status,
                        mimetype="application/json" if payload is not None else None)
    response.headers.update(headers or {})
    return response
