"""The ``xerosync`` Blueprint: CSRF on every POST, and the account and plan guards its views use.

CSRF: every state-changing request to the blueprint must carry a Flask-WTF token (form field
``csrf_token`` or header ``X-CSRFToken``), whether or not the host uses ``CSRFProtect`` and even when
the host sets ``WTF_CSRF_ENABLED = False``. Templates get the token from ``xerosync_csrf_token()``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, abort, current_app, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from werkzeug.wrappers import Response
from wtforms.validators import ValidationError

from .extension import current_state, resource_folders

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRFToken"

_templates, _static = resource_folders()
bp = Blueprint("xerosync", __name__, template_folder=str(_templates), static_folder=str(_static))

View = TypeVar("View", bound=Callable[..., Any])


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


@bp.app_context_processor
def template_helpers() -> dict[str, Any]:
    return {"xerosync_csrf_token": generate_csrf}


def account_required(view: View) -> View:
    """Require a logged-in user (else the host's login page, or 401) and an account (else 403).

    The view receives the account id as the keyword argument ``account_id``; it never comes from
    the URL or the form, so a user can only ever act on their own account.
    """

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        login_manager = getattr(current_app, "login_manager", None)
        if login_manager is None:
            abort(401)  # without Flask-Login nobody counts as logged in (``current_user`` needs it)
        if not current_user.is_authenticated:
            return _log_in_again(login_manager.unauthorized())
        account_id = current_state().account_id()
        if account_id is None:
            abort(403)
        kwargs["account_id"] = account_id
        return view(*args, **kwargs)

    return cast(View, guarded)


def _log_in_again(unauthorized: Any) -> Any:
    """For an htmx request (a poll whose session expired), send the whole page to the login page
    rather than let htmx swap the login form into a fragment's place."""
    if is_htmx() and isinstance(unauthorized, Response) and unauthorized.location:
        return Response(status=401, headers={"HX-Redirect": unauthorized.location})
    return unauthorized


def plan_required(view: View) -> View:
    """``account_required``, and the account's plan must include Xero sync: otherwise GET shows
    the plan explanation (403) and any other method is refused (403)."""

    @wraps(view)
    def guarded(*args: Any, account_id: str, **kwargs: Any) -> Any:
        if not current_state().plan_allows(account_id):
            if request.method in SAFE_METHODS:
                return render_plan_explanation(), 403
            return Response(current_state().config.plan_message, status=403, mimetype="text/plain")
        return view(*args, account_id=account_id, **kwargs)

    return account_required(cast(View, guarded))


def render_page(template: str, **context: Any) -> str:
    """Render a blueprint template with what every page needs: ``base_template`` (the host's
    layout, ``XEROSYNC_BASE_TEMPLATE``) and ``xerosync_config``."""
    config = current_state().config
    return render_template(template, base_template=config.base_template, xerosync_config=config, **context)


def render_plan_explanation() -> str:
    return render_page("xerosync/settings.html", plan_allowed=False)
