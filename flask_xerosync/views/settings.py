"""The Accounting Sync settings page and its preferences form (htmx, with plain-POST fallbacks)."""

from __future__ import annotations

from typing import Any

from flask import request, session
from werkzeug.wrappers import Response

from .. import settings_service
from ..blueprint import account_required, bp, is_htmx, plan_required, render_page
from ..extension import current_state
from ..forms import PreferencesForm
from ..models import Connection, ConnectionStatus, Preferences
from ..oauth import flow
from .connect import NOTICE_KEY, back_to_settings, notify


@bp.get("/")
@account_required
def settings(account_id: str) -> str:
    if not current_state().plan_allows(account_id):
        return render_page("xerosync/settings.html", plan_allowed=False)
    connection = flow.connection_for(account_id)
    context: dict[str, Any] = {}
    if connection is not None and connection.status == ConnectionStatus.CONNECTED:
        lists = settings_service.reference_lists(connection)
        preferences = settings_service.preferences_for(account_id)
        form = PreferencesForm(obj=preferences, formdata=None)
        _offer_choices(form, lists, saved=preferences)
        context = {"form": form, "lists": lists, "saved": False}
    return render_page(
        "xerosync/settings.html",
        plan_allowed=True,
        connection=connection,
        account_id=account_id,
        notice=session.pop(NOTICE_KEY, None),
        **context,
    )


@bp.post("/preferences")
@plan_required
def save_preferences(account_id: str) -> Response | str | tuple[str, int]:
    connection = _connected(account_id)
    if connection is None:
        notify("Connect to Xero before choosing what to sync.", "error")
        return back_to_settings()
    lists = settings_service.reference_lists(connection)
    form = PreferencesForm(formdata=request.form)
    _offer_choices(form, lists, saved=settings_service.preferences_for(account_id))
    if form.validate():
        settings_service.save_preferences(account_id, form.data)
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
    lists = settings_service.reference_lists(connection, refresh=True)
    if not is_htmx():
        if lists.error:
            notify(lists.error, "error")
        else:
            notify("The organisation's accounts and tax rates were read again from Xero.")
        return back_to_settings()
    preferences = settings_service.preferences_for(account_id)
    form = PreferencesForm(obj=preferences, formdata=None)
    _offer_choices(form, lists, saved=preferences)
    return _preferences_fragment(form, lists, connection, saved=False)


def _connected(account_id: str) -> Connection | None:
    connection = flow.connection_for(account_id)
    if connection is None or connection.status != ConnectionStatus.CONNECTED:
        return None
    return connection


def _offer_choices(form: PreferencesForm, lists: settings_service.ReferenceLists, saved: Preferences) -> None:
    """Offer the organisation's lists; when Xero could not be read, keep the saved values valid."""
    accounts, tax_rates = list(lists.accounts), list(lists.tax_rates)
    if lists.error:
        if saved.sales_account_code and not any(a["Code"] == saved.sales_account_code for a in accounts):
            accounts.append({"Code": saved.sales_account_code, "Name": "(saved)"})
        if saved.tax_type and not any(r["TaxType"] == saved.tax_type for r in tax_rates):
            tax_rates.append({"TaxType": saved.tax_type, "Name": f"{saved.tax_type} (saved)"})
    form.set_reference_choices(accounts, tax_rates)


def _preferences_fragment(
    form: PreferencesForm, lists: settings_service.ReferenceLists, connection: Connection, saved: bool
) -> str:
    return render_page("xerosync/_preferences.html", form=form, lists=lists, connection=connection, saved=saved)
