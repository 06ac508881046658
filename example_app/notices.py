"""Banners in the app's own layout, from flask-xerosync's signals: a sync that failed, a sync
with records that need the owner, a connection Xero no longer accepts, an invoice paid in Xero.

Run signals are sent in the worker's process, so a receiver stores a :class:`Notice` (in a session
of its own: the sync's unit of work is not this receiver's to commit) and the layout shows the
business's notices on its next page. A notice replaces the one of the same topic; a sync that
goes through, or a new connection, takes the older warning away.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, redirect, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from flask_xerosync import PaidStatus, signals
from flask_xerosync.timefmt import format_day

from .auth import safe_next
from .models import Notice, db

bp = Blueprint("notices", __name__)

SYNC, CONNECTION = "sync", "connection"
SHOWN = 5


def connect_signals(app: Flask) -> None:
    """Listen to this app's signals (``sender=app``: each app only hears its own)."""
    for signal, receiver in (
        (signals.sync_failed, sync_failed),
        (signals.sync_problems, sync_problems),
        (signals.sync_finished, sync_finished),
        (signals.reconnect_needed, reconnect_needed),
        (signals.connected, connected),
        (signals.invoice_paid, invoice_paid),
    ):
        signal.connect(receiver, sender=app)
    app.context_processor(lambda: {"banner_notices": banner_notices})


def sync_failed(sender: Flask, *, account_id: str, run_id: str, error: str, **_: Any) -> None:
    _keep(account_id, SYNC, "error", f"The Xero sync stopped: {error}", "run", run_id)


def sync_problems(sender: Flask, *, account_id: str, run_id: str, problems: int, **_: Any) -> None:
    records = "record needs" if problems == 1 else "records need"
    _keep(account_id, SYNC, "warning", f"The Xero sync finished, but {problems} {records} you.", "run", run_id)


def sync_finished(sender: Flask, *, account_id: str, **_: Any) -> None:
    _forget(account_id, SYNC)


def reconnect_needed(sender: Flask, *, account_id: str, reason: str, **_: Any) -> None:
    _keep(account_id, CONNECTION, "error", f"Xero needs you to reconnect: {reason}", "settings", "")


def connected(sender: Flask, *, account_id: str, **_: Any) -> None:
    _forget(account_id, CONNECTION)


def invoice_paid(sender: Flask, *, account_id: str, status: PaidStatus, **_: Any) -> None:
    when = f" on {format_day(status.paid_on)}" if status.paid_on else ""
    _keep(account_id, f"paid-{status.invoice_id}", "info", f"Invoice {status.xero_number} was paid in Xero{when}.",
          "invoice", status.invoice_id)


def _keep(account_id: str, topic: str, kind: str, message: str, link: str, ref: str) -> None:
    with Session(db.engine) as session:
        session.execute(delete(Notice).where(Notice.business_id == int(account_id), Notice.topic == topic))
        session.add(Notice(business_id=int(account_id), topic=topic, kind=kind, message=message, link=link, ref=ref))
        session.commit()


def _forget(account_id: str, topic: str) -> None:
    with Session(db.engine) as session:
        session.execute(delete(Notice).where(Notice.business_id == int(account_id), Notice.topic == topic))
        session.commit()


def banner_notices() -> list[tuple[Notice, str]]:
    """The logged-in business's newest notices, each with where it links."""
    if not current_user.is_authenticated:
        return []
    rows = db.session.scalars(select(Notice).where(Notice.business_id == current_user.business_id)
                              .order_by(Notice.created_at.desc(), Notice.id.desc()).limit(SHOWN))
    return [(notice, _href(notice)) for notice in rows]


def _href(notice: Notice) -> str:
    if notice.link == "run":
        return url_for("xerosync.run_detail", run_id=notice.ref)
    if notice.link == "invoice":
        return url_for("example.invoice", invoice_id=int(notice.ref))
    return url_for("xerosync.settings")


@bp.post("/notices/<int:notice_id>/dismiss")
@login_required
def dismiss(notice_id: int) -> Response:
    notice = db.session.get(Notice, notice_id)
    if notice is None or notice.business_id != current_user.business_id:
        abort(404)
    db.session.delete(notice)
    db.session.commit()
    return redirect(safe_next(request.form.get("next")) or url_for("example.index"))
