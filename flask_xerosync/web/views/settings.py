"""The Accounting Sync settings page, its preferences and automatic-sync forms (htmx, with
plain-POST fallbacks), and the owner's view of Xero's limits.

Once connected the page opens with Sync Now!; the connection, Xero's limits and the two forms
(folded) come after it. Each form is swapped in place on save, and keeps the ids of its controls,
so focus stays on the control the owner used.
"""

from __future__ import annotations

from typing import Any

from flask import request
from werkzeug.wrappers import Response

from ...models import Connection, ConnectionStatus, Preferences, SyncMode
from ...services import automatic
from ...services import preferences as preference_service
from ...services.connections import connection_of
from ...services.limits import calls_today, next_sync
from ...services.preferences import ReferenceLists, preferences_for, reference_lists
from ...services.runs import has_synced
from ...state import current_state
from ..blueprint import bp, is_htmx
from ..forms import AutomaticForm, PreferencesForm
from ..guards import account_required, plan_required
from ..notices import back_to_settings, notify, pop_notice
from ..rendering import business_zone, render_page


@bp.get("/")
@account_required
def settings(account_id: str) -> str:
    state = current_state()
    if not state.plan_allows(account_id):
        return render_page("xerosync/settings.html", plan_allowed=False)
    connection = connection_of(state.db.session, account_id)
    context: dict[str, Any] = {}
    if connection is not None and connection.status == ConnectionStatus.CONNECTED:
        lists = reference_lists(state, connection)
        context = {"form": _saved_form(account_id, lists), "lists": lists, "saved": False,
                   **_connected_context(connection)}
    return render_page(
        "xerosync/settings.html",
        plan_allowed=True,
        connection=connection,
        account_id=account_id,
        notice=pop_notice(),
        **context,
    )


@bp.post("/preferences")
@plan_required
def save_preferences(account_id: str) -> Response | str | tuple[str, int]:
    state = current_state()
    connection = _connected(account_id)
    if connection is None:
        notify("Connect to Xero before choosing what to sync.", "error")
        return back_to_settings()
    lists = reference_lists(state, connection)
    form = PreferencesForm(formdata=request.form)
    _offer_choices(form, lists, saved=preferences_for(state.db.session, account_id))
    if form.validate():
        preference_service.save_preferences(state.db.session, account_id, form.data, tenant_id=connection.tenant_id)
        if not is_htmx():
            notify("Preferences saved.")
            return back_to_settings()
        return _preferences_fragment(form, lists, connection, saved=True)
    if is_htmx():
        return _preferences_fragment(form, lists, connection, saved=False)
    page = render_page(
        "xerosync/settings.html",
        plan_allowed=True,
        connection=connection,
        account_id=account_id,
        form=form,
        lists=lists,
        saved=False,
        notice={"message": "Nothing was saved: please fix the fields marked below.", "kind": "error"},
        **_connected_context(connection),
    )
    return page, 422


@bp.post("/lists/refresh")
@plan_required
def refresh_lists(account_id: str) -> Response | str:
    connection = _connected(account_id)
    if connection is None:
        return back_to_settings()
    lists = reference_lists(current_state(), connection, refresh=True)
    if not is_htmx():
        if lists.error:
            notify(lists.error, "error")
        else:
            notify("The organisation's accounts and tax rates were read again from Xero.")
        return back_to_settings()
    return _preferences_fragment(_saved_form(account_id, lists), lists, connection, saved=False)


@bp.post("/automatic")
@plan_required
def save_automatic(account_id: str) -> Response | str:
    """Sync only by hand, or also hourly / daily (and on Xero's webhooks)."""
    connection = _connected(account_id)
    if connection is None:
        notify("Connect to Xero before choosing when to sync.", "error")
        return back_to_settings()
    form = _automatic_form(formdata=request.form)
    saved = form.validate()
    if saved:
        automatic.save_sync_mode(current_state(), account_id, form.sync_mode.data, form.sync_hour.data or 0)
    if not is_htmx():
        if not saved:
            notify("Nothing was saved: choose when to sync.", "error")
        else:
            notify("Automatic sync saved." if form.sync_mode.data != SyncMode.MANUAL else "Syncing only by hand now.")
        return back_to_settings()
    return render_page("xerosync/_automatic.html", **_automatic_context(connection, form, saved=saved))


def _connected(account_id: str) -> Connection | None:
    connection = connection_of(current_state().db.session, account_id)
    if connection is None or connection.status != ConnectionStatus.CONNECTED:
        return None
    return connection


def _connected_context(connection: Connection) -> dict[str, Any]:
    """What the page shows of a connected account besides the preferences: when it syncs, and
    Xero's limits."""
    state = current_state()
    tenant_id = connection.tenant_id or ""
    return {
        **_automatic_context(connection, _automatic_form(obj=preferences_for(state.db.session, connection.account_id))),
        "calls_today": calls_today(state.redis, tenant_id, state.config.daily_limit),
        "next_run": next_sync(state.db.session, connection.account_id, tenant_id),
    }


def _automatic_form(**kwargs: Any) -> AutomaticForm:
    form = AutomaticForm(**({"formdata": None} | kwargs))
    if current_state().config.webhook_key:
        form.mention_webhooks()
    return form


def _automatic_context(connection: Connection, form: AutomaticForm, saved: bool = False) -> dict[str, Any]:
    state = current_state()
    preferences = preferences_for(state.db.session, connection.account_id)
    return {
        "automatic_form": form,
        "automatic_saved": saved,
        "next_automatic": automatic.next_sync_at(state, preferences),
        "zone_name": str(business_zone()),
        "webhooks_on": bool(state.config.webhook_key),
        "synced_by_hand": has_synced(state.db.session, connection.account_id, connection.tenant_id),
    }


def _saved_form(account_id: str, lists: ReferenceLists) -> PreferencesForm:
    """The form showing the saved preferences (or the defaults), offering the organisation's lists."""
    preferences = preferences_for(current_state().db.session, account_id)
    form = PreferencesForm(obj=preferences, formdata=None)
    _offer_choices(form, lists, saved=preferences)
    return form


def _offer_choices(form: PreferencesForm, lists: ReferenceLists, saved: Preferences) -> None:
    """Offer the organisation's lists; when Xero could not be read, keep the saved values valid."""
    accounts, tax_rates = list(lists.accounts), list(lists.tax_rates)
    if lists.error:
        if saved.sales_account_code and not any(a["Code"] == saved.sales_account_code for a in accounts):
            accounts.append({"Code": saved.sales_account_code, "Name": "(saved)"})
        if saved.tax_type and not any(r["TaxType"] == saved.tax_type for r in tax_rates):
            tax_rates.append({"TaxType": saved.tax_type, "Name": f"{saved.tax_type} (saved)"})
    form.set_reference_choices(accounts, tax_rates)


def _preferences_fragment(form: PreferencesForm, lists: ReferenceLists, connection: Connection, saved: bool) -> str:
    return render_page("xerosync/_preferences.html", form=form, lists=lists, connection=connection, saved=saved)
