"""Rendering: the blueprint's pages, and what templates (the extension's and the host's) call.

- :func:`render_page` gives every page ``base_template`` (the host's layout,
  ``XEROSYNC_BASE_TEMPLATE``) and ``xerosync_config``.
- The host's templates (and the blueprint's) get the Jinja globals of :data:`HOST_TEMPLATE_GLOBALS`:
  ``xerosync_invoice_action(invoice_id)``, the Push To Xero control of one invoice,
  ``xerosync_bulk_push()``, the Push To Xero form of an invoice list,
  ``xerosync_head()``, the stylesheet and htmx for a host page that shows it, and
  ``xerosync_time(moment)`` / ``xerosync_date(day)``, the one way times and dates are written.
- The blueprint's templates get the display helpers of runs (``xerosync_time``,
  ``xerosync_stage_label``, ``xerosync_progress_text``, ``xerosync_outcomes``).
- Times are written one way (:mod:`flask_xerosync.timefmt`), in the time zone of the current
  account's business (``@xerosync.timezone_loader``, else ``XEROSYNC_TIMEZONE``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import urlsplit

from flask import g, render_template, request
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from ..models import ConnectionStatus, InvoiceFlag, InvoiceState, Outcome, Run, RunKind, RunStatus
from ..services.connections import connection_of
from ..services.invoice_flags import flag_of, flags_of
from ..services.push_now import MAX_BULK, pushes, waiting_run
from ..services.run_status import Progress, fetch_job
from ..services.runs import active_run, problems
from ..state import current_state
from ..sync.paid import describe_payment
from ..timefmt import format_day, format_moment
from .blueprint import bp

STAGE_LABELS = {
    "connect": "Checking the connection",
    "clients": "Clients",
    "items": "Services & Products",
    "invoices": "Invoices",
    "paid": "Paid status",
    "done": "Finishing",
}
# What the records of a stage are called in "120 of 500 clients".
STAGE_NOUNS = {"clients": "clients", "items": "services & products", "invoices": "invoices", "paid": "invoices"}
# Connection states in which an invoice may be flagged (a reconnect does not lose flags).
FLAGGABLE = (ConnectionStatus.CONNECTED, ConnectionStatus.RECONNECT_NEEDED)


def render_page(template: str, **context: Any) -> str:
    """Render a blueprint template with what every page needs (see the module docstring)."""
    config = current_state().config
    return render_template(template, base_template=config.base_template, xerosync_config=config, **context)


def render_plan_explanation() -> str:
    return render_page("xerosync/settings.html", plan_allowed=False)


def stage_label(stage: str) -> str:
    return STAGE_LABELS.get(stage, stage.title())


def progress_text(progress: Progress) -> str:
    """ "120 of 500 clients", or "" before the stage knows what it has to do."""
    noun = STAGE_NOUNS.get(progress.stage)
    if noun is None:
        return ""
    if progress.total is None:
        return f"{progress.done} {noun} so far"
    return f"{progress.done} of {progress.total} {noun}"


def business_zone() -> tzinfo:
    """The time zone of the current account's business (asked once per request)."""
    if "xerosync_zone" not in g:
        state = current_state()
        g.xerosync_zone = state.timezone_of(state.account_id())
    zone: tzinfo = g.xerosync_zone
    return zone


def time_text(moment: datetime) -> str:
    """``xerosync_time``: a moment on the business's clock, e.g. "3 Dec 2025, 14:05"."""
    return format_moment(moment, business_zone())


@bp.context_processor
def run_helpers() -> dict[str, Any]:
    return {
        "xerosync_stage_label": stage_label,
        "xerosync_progress_text": progress_text,
        "xerosync_outcomes": Outcome.ALL,
        "xerosync_problems": lambda run: problems(current_state().db.session, run),
        "xerosync_problem_filter": problem_filter,
        "xerosync_retry_text": retry_text,
    }


def retry_text(run: Run) -> str:
    """ "Xero is slow: retrying, 2 of 6" while the run's job retries a call Xero did not answer."""
    if run.status not in RunStatus.ACTIVE:
        return ""
    job = fetch_job(current_state().redis, run)
    retry = job.get_meta().get("retry") if job is not None else None
    if not retry:
        return ""
    attempt, attempts = retry
    return f"Xero is slow: retrying, {attempt} of {attempts}"


def problem_filter(run: Run) -> str:
    """The record-log tab that shows a run's problems first: reviews, else failures."""
    reviews = sum(counts.get(Outcome.NEEDS_REVIEW, 0) for counts in (run.counts or {}).values())
    return "needs_review" if reviews else "failed"


def head_assets() -> Markup:
    """The extension's stylesheet and htmx, for the ``<head>`` of a host page that shows the
    invoice action (so it updates in place); the extension's own pages include them already."""
    config = current_state().config
    return Markup(render_template("xerosync/_assets.html", xerosync_config=config))


def invoice_action(invoice_id: Any, next_url: str | None = None) -> Markup:
    """The Push To Xero control of one host invoice of the current account, for the host's
    invoice actions menu (empty without an account or a plan). ``next_url`` (default: the current
    page) is where a plain form post returns to."""
    state = current_state()
    account_id = state.account_id()
    if account_id is None or not state.plan_allows(account_id):
        return Markup("")
    back_to = safe_next(next_url) or safe_next(request.full_path.rstrip("?"))
    return Markup(
        render_template("xerosync/_invoice_action.html", **invoice_action_context(account_id, str(invoice_id), back_to))
    )


def invoice_action_context(account_id: str, invoice_id: str, next_url: str | None) -> dict[str, Any]:
    """What ``xerosync/_invoice_action.html`` shows for one invoice."""
    session = current_state().db.session
    connection = connection_of(session, account_id)
    status = connection.status if connection is not None else ConnectionStatus.DISCONNECTED
    flag = flag_of(session, account_id, connection.tenant_id if connection is not None else None, invoice_id)
    flagged = flag is not None and flag.state == InvoiceState.FLAGGED
    running = active_run(session, account_id) if flagged else None
    if running is not None and running.tenant_id != (connection.tenant_id if connection is not None else None):
        running = None
    return {
        "invoice_id": invoice_id,
        "flag": flag,
        # "pushing": a push run of this invoice is going; "with_sync": the sync that is going
        # will push it; "after_run": a preview or another push is going, so it is pushed after it.
        "pushing": pushes(running, invoice_id),
        "with_sync": running is not None and running.kind == RunKind.SYNC,
        "after_run": running is not None and running.kind != RunKind.SYNC and not pushes(running, invoice_id),
        "waiting_run": waiting_run(session, flag) if flagged and running is None else None,
        "xero_link": _web_link(flag.xero_url) if flag is not None else "",
        "paid_text": describe_payment(flag.xero_status, flag.amount_paid, flag.amount_due, flag.paid_on)
        if flag is not None else "",
        "can_flag": status in FLAGGABLE,
        "reconnect_needed": status == ConnectionStatus.RECONNECT_NEEDED,
        "csrf_token": generate_csrf(),
        "next_url": next_url or "",
    }


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this host ("/invoices/7?tab=1"), else None."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _web_link(url: str) -> str:
    """Only http(s) links into Xero are rendered as links."""
    return url if urlsplit(url).scheme in ("http", "https") else ""


def invoice_statuses(invoice_ids: Any) -> dict[str, str]:
    """``xerosync_invoice_statuses(ids)``: a few words per host invoice for an invoice list, by
    invoice id as text ("In Xero: HFS-1003 (draft)", "To be pushed", "Refused by Xero"; no entry
    for an invoice never pushed), read in one query. Empty without an account, a plan or an
    organisation."""
    state = current_state()
    account_id = state.account_id()
    if account_id is None or not state.plan_allows(account_id):
        return {}
    session = state.db.session
    connection = connection_of(session, account_id)
    tenant_id = connection.tenant_id if connection is not None else None
    flags = flags_of(session, account_id, tenant_id, [str(invoice_id) for invoice_id in invoice_ids])
    return {invoice_id: _status_words(flag) for invoice_id, flag in flags.items()}


def _status_words(flag: InvoiceFlag) -> str:
    if flag.state == InvoiceState.FLAGGED:
        return "To be pushed"
    if flag.state == InvoiceState.REJECTED:
        return "Refused by Xero"
    paid = describe_payment(flag.xero_status, flag.amount_paid, flag.amount_due, flag.paid_on)
    status = f" ({flag.xero_status.lower()})" if flag.xero_status and not paid else ""
    return f"In Xero: {flag.xero_number}{status}" + (f". {paid}" if paid else "")


def bulk_push(next_url: str | None = None) -> Markup:
    """``xerosync_bulk_push()``: the Push To Xero form of the host's invoice list (empty without an
    account or a plan). It renders the form (``id="xerosync-bulk-push"``) with its button; the
    host's checkboxes join it wherever they are with ``form="xerosync-bulk-push"
    name="invoice_id" value="<invoice id>"``. At most :data:`MAX_BULK` invoices at once."""
    state = current_state()
    account_id = state.account_id()
    if account_id is None or not state.plan_allows(account_id):
        return Markup("")
    back_to = safe_next(next_url) or safe_next(request.full_path.rstrip("?"))
    return Markup(render_template("xerosync/_bulk_push.html", csrf_token=generate_csrf(), next_url=back_to or "",
                                  max_bulk=MAX_BULK, result=None))


HOST_TEMPLATE_GLOBALS: dict[str, Callable[..., Any]] = {
    "xerosync_invoice_action": invoice_action,
    "xerosync_bulk_push": bulk_push,
    "xerosync_invoice_statuses": invoice_statuses,
    "xerosync_head": head_assets,
    "xerosync_time": time_text,
    "xerosync_date": format_day,
}
"""The Jinja globals ``init_app`` registers on the host app."""
