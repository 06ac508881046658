"""One-time notices: a plain message a view leaves for the settings page to show once."""

from __future__ import annotations

from flask import redirect, session, url_for
from werkzeug.wrappers import Response

NOTICE_KEY = "xerosync_notice"


def notify(message: str, kind: str = "info") -> None:
    """Leave a message for the next page that shows notices (``kind``: info or error)."""
    session[NOTICE_KEY] = {"message": message, "kind": kind}


def pop_notice() -> dict[str, str] | None:
    """The message left by :func:`notify`, taken away (so it shows once)."""
    notice: dict[str, str] | None = session.pop(NOTICE_KEY, None)
    return notice


def back_to_settings() -> Response:
    """Redirect to the settings page, where the notice shows."""
    return redirect(url_for("xerosync.settings"))
