"""Shared plumbing of the ``/_sandbox`` control blueprints: JSON in and out, errors, lookups.

The control surface is the sandbox's own (not Xero's). Each concern has its own
blueprint made by :func:`control_blueprint`, so they all answer errors alike:
``{"error": "..."}`` with 400 or 404.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from .jsonfmt import loads
from .responses import current_state, json_response
from .state import App, Org, User

URL_PREFIX = "/_sandbox"


class ControlError(Exception):
    def __init__(self, status: int, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.extra = extra or {}


def _control_error(exc: ControlError) -> Response:
    return json_response({"error": str(exc), **exc.extra}, exc.status)


def _key_error(exc: KeyError) -> Response:
    return json_response({"error": str(exc.args[0]) if exc.args else "not found"}, 404)


def _value_error(exc: ValueError) -> Response:
    return json_response({"error": str(exc)}, 400)


def control_blueprint(name: str) -> Blueprint:
    """A blueprint under ``/_sandbox`` with the control surface's error answers."""
    bp = Blueprint(f"xero_sandbox_{name}", __name__, url_prefix=URL_PREFIX)
    bp.register_error_handler(ControlError, _control_error)
    bp.register_error_handler(KeyError, _key_error)
    bp.register_error_handler(ValueError, _value_error)
    return bp


def ok(payload: Any, status: int = 200) -> Response:
    return json_response(payload, status)


def body() -> Any:
    raw = request.get_data()
    if not raw.strip():
        return {}
    try:
        return loads(raw)
    except ValueError as exc:
        raise ControlError(400, f"invalid JSON: {exc}") from exc


def dict_body() -> dict[str, Any]:
    data = body()
    if not isinstance(data, dict):
        raise ControlError(400, "expected a JSON object")
    return data


def org_or_404(tenant_id: str) -> Org:
    org = current_state().orgs.get(tenant_id.lower())
    if org is None:
        raise ControlError(404, f"unknown organisation {tenant_id}")
    return org


def app_or_404(client_id: str) -> App:
    app = current_state().apps.get(client_id)
    if app is None:
        raise ControlError(404, f"unknown app {client_id}")
    return app


def user_or_404(ref: Any) -> User:
    user = current_state().find_user(str(ref or ""))
    if user is None:
        raise ControlError(404, f"unknown user {ref}" if ref else "unknown user")
    return user
