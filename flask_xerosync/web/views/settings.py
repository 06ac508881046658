"""The Accounting Sync settings page and its preferences form (htmx, with plain-POST fallbacks)."""

from __future__ import annotations

from typing import Any

from flask import request
from werkzeug.wrappers import Response

from ...models import Connection, ConnectionStatus, Preferences
from ...services import preferences as preference_service
from ...services.connections import connection_of
from ...services.preferences import ReferenceLists, preferences_for, reference_lists
from ...state import current_state
from ..blueprint import bp, is_htmx
from ..forms import PreferencesForm
from ..guards import account_required, plan_required
from ..notices import back_to_settings, notify, pop_notice
from ..rendering import render_page


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
        context = {"form": _saved_form(account_id, lists), "lists": lists, "saved": False}
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


def _connected(account_id: str) -> Connection | None:
    connection = connection_of(current_state().db.session, account_id)
    if connection is None or connection.status != ConnectionStatus.CONNECTED:
        return None
    return connection


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
