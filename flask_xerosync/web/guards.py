"""The guards every view of the blueprint goes through: a logged-in user, an account, a plan.

A page (a GET or HEAD) runs with the host's ``db.session`` not autoflushing: reading the
extension's tables neither flushes nor commits what the host left pending in its session (the
extension's own writes during a page use short sessions of their own).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import abort, current_app, request
from flask_login import current_user
from werkzeug.wrappers import Response

from ..state import current_state
from .blueprint import SAFE_METHODS, is_htmx
from .rendering import render_plan_explanation

View = TypeVar("View", bound=Callable[..., Any])


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
        state = current_state()
        account_id = state.account_id()
        if account_id is None:
            abort(403)
        kwargs["account_id"] = account_id
        if request.method in SAFE_METHODS:
            with state.db.session.no_autoflush:
                return view(*args, **kwargs)
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
        state = current_state()
        if not state.plan_allows(account_id):
            if request.method in SAFE_METHODS:
                return render_plan_explanation(), 403
            return Response(state.config.plan_message, status=403, mimetype="text/plain")
        return view(*args, account_id=account_id, **kwargs)

    return account_required(cast(View, guarded))
