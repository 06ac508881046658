"""The ``xerosync`` Blueprint: CSRF on every POST and the security headers of every response.

CSRF: every state-changing request to the blueprint must carry a Flask-WTF token (form field
``csrf_token`` or header ``X-CSRFToken``), whether or not the host uses ``CSRFProtect`` and even when
the host sets ``WTF_CSRF_ENABLED = False``. Templates get the token from ``xerosync_csrf_token()``.

Framing: every response says that only the app's own pages may frame it
(``Content-Security-Policy: frame-ancestors 'self'``, added next to any policy the host sends,
since browsers enforce every policy they get, and ``X-Frame-Options: SAMEORIGIN`` unless the host
set its own), so another site cannot overlay Connect or Disconnect to trick a click.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, request
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from werkzeug.wrappers import Response
from wtforms.validators import ValidationError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRFToken"
FRAME_ANCESTORS = "frame-ancestors 'self'"


def resource_folders(package_dir: Path | None = None) -> tuple[Path, Path]:
    """The ``templates`` and ``static`` folders: inside the package when installed from the wheel
    (pyproject force-includes them there), at the top of a source checkout otherwise."""
    package_dir = package_dir or Path(__file__).resolve().parent.parent
    for base in (package_dir, package_dir.parent):
        templates, static = base / "templates", base / "static"
        if (templates / "xerosync").is_dir() and (static / "xerosync").is_dir():
            return templates, static
    raise RuntimeError(
        f"flask-xerosync's templates and static files are missing (looked in {package_dir} and "
        f"{package_dir.parent}). Reinstall the package."
    )


_templates, _static = resource_folders()
bp = Blueprint("xerosync", __name__, template_folder=str(_templates), static_folder=str(_static))


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


@bp.before_request
def check_csrf() -> Response | None:
    if request.method in SAFE_METHODS:
        return None
    try:
        validate_csrf(request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER))
    except ValidationError as exc:
        return csrf_refusal(str(exc))
    return None


@bp.errorhandler(CSRFError)
def host_csrf_refusal(error: CSRFError) -> Response:
    """The host's own CSRFProtect refused one of our requests first: answer as we would."""
    return csrf_refusal(error.description)


def csrf_refusal(reason: str) -> Response:
    refused = Response(
        f"This form was refused because its security token is missing or out of date ({reason}). "
        "Go back, reload the page and try again.",
        status=400,
        mimetype="text/plain",
    )
    if is_htmx():
        # htmx swaps no 4xx answer: reload the page instead, which brings a fresh token.
        refused.headers["HX-Refresh"] = "true"
    return refused


@bp.after_request
def forbid_framing(response: Response) -> Response:
    """See the module docstring."""
    response.headers.add("Content-Security-Policy", FRAME_ANCESTORS)
    response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    return response


@bp.app_context_processor
def template_helpers() -> dict[str, Any]:
    return {"xerosync_csrf_token": generate_csrf}
