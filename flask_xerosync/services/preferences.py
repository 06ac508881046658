"""Preferences of an account, and the organisation's reference lists (sales accounts, tax rates).

The lists are read from Xero (``GET /Accounts``, ``GET /TaxRates``) through the connection's
authorised session, filtered to what a sales invoice can use, and cached per organisation in
``OrgCache`` until the user clicks **Refresh lists**. The settings page reads them on a GET, so the
cache is written in a short session of its own: rendering a page never commits the host's
``db.session`` (a cache that cannot be written now is simply read from Xero again next time).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ..errors import ReconnectNeeded, XeroSyncError
from ..models import Connection, LinkKind, OrgCache, Preferences, Side, default_preferences, utcnow
from ..sync.known import KnownRecords
from ..sync.scope import Scope
from ..state import XeroSyncState
from .connections import DbSession
from .xero_api import open_api

logger = logging.getLogger(__name__)

ACCOUNTS = "accounts"
TAX_RATES = "tax_rates"
PREFERENCE_FIELDS = (
    "sync_clients",
    "sync_items",
    "sync_invoices",
    "invoice_status",
    "sales_account_code",
    "tax_type",
    "conflict_policy",
    "contact_filter",
    "read_paid_status",
)
ACCOUNT_FIELDS = ("AccountID", "Code", "Name", "Type", "Class", "Status", "TaxType")
TAX_RATE_FIELDS = ("TaxType", "Name", "Status", "DisplayTaxRate", "EffectiveRate", "CanApplyToRevenue")

@dataclass
class ReferenceLists:
    accounts: list[dict[str, Any]] = field(default_factory=list)
    tax_rates: list[dict[str, Any]] = field(default_factory=list)
    fetched_at: datetime | None = None
    error: str = ""


def preferences_for(session: DbSession, account_id: str) -> Preferences:
    """The saved preferences, or the defaults (not added to the session) when none were saved."""
    saved = session.get(Preferences, account_id)
    return saved if saved is not None else default_preferences(account_id)


def save_preferences(
    session: DbSession, account_id: str, values: Mapping[str, Any], *, tenant_id: str | None = None
) -> Preferences:
    """Store validated preferences in one commit (the extension's own unit of work). A new contact
    filter makes the organisation's contacts that are not linked yet be decided again by the
    next sync (one left out before may come in now, and the reverse)."""
    preferences = session.get(Preferences, account_id)
    if preferences is None:
        preferences = Preferences(account_id=account_id)
        session.add(preferences)
    filter_changed = (preferences.contact_filter or "not_suppliers") != values["contact_filter"]
    for name in PREFERENCE_FIELDS:
        setattr(preferences, name, values[name])
    preferences.saved_at = utcnow()
    if filter_changed and tenant_id:
        KnownRecords(session, Scope(account_id, tenant_id), LinkKind.CLIENT).reopen(Side.XERO)
    session.commit()
    return preferences


def forget_foreign_codes(session: DbSession, account_id: str, tenant_id: str) -> list[str]:
    """Clear the sales account and tax rate preferences that the organisation ``tenant_id`` does not
    have (another organisation's codes would be sent to it otherwise); returns what was cleared.
    The caller commits."""
    preferences = session.get(Preferences, account_id)
    if preferences is None:
        return []
    lists = {row.kind: row.payload for row in session.scalars(select(OrgCache).where(OrgCache.tenant_id == tenant_id))}
    accounts = {str(account.get("Code")) for account in lists.get(ACCOUNTS, [])}
    tax_types = {str(rate.get("TaxType")) for rate in lists.get(TAX_RATES, [])}
    cleared = []
    if preferences.sales_account_code and preferences.sales_account_code not in accounts:
        preferences.sales_account_code = ""
        cleared.append("sales account")
    if preferences.tax_type and preferences.tax_type not in tax_types:
        preferences.tax_type = ""
        cleared.append("tax rate")
    return cleared


def reference_lists(state: XeroSyncState, connection: Connection, refresh: bool = False) -> ReferenceLists:
    """Sales accounts and tax rates of the connection's organisation: cached, or read from Xero."""
    tenant_id = connection.tenant_id
    if not tenant_id:
        return ReferenceLists(error="No organisation is connected.")
    cached = {
        row.kind: row
        for row in state.db.session.scalars(select(OrgCache).where(OrgCache.tenant_id == tenant_id))
    }
    if not refresh and ACCOUNTS in cached and TAX_RATES in cached:
        return ReferenceLists(
            accounts=cached[ACCOUNTS].payload,
            tax_rates=cached[TAX_RATES].payload,
            fetched_at=min(cached[ACCOUNTS].fetched_at, cached[TAX_RATES].fetched_at),
        )
    try:
        api = open_api(state, connection)
        accounts, tax_rates = sales_accounts(api.get_accounts()), sales_tax_rates(api.get_tax_rates())
    except ReconnectNeeded as exc:
        return ReferenceLists(error=str(exc))
    except XeroSyncError:
        lists = ReferenceLists(
            error="Xero could not be reached to read the organisation's accounts and tax rates. "
            "Try Refresh lists in a minute."
        )
        if ACCOUNTS in cached and TAX_RATES in cached:
            lists.accounts, lists.tax_rates = cached[ACCOUNTS].payload, cached[TAX_RATES].payload
            lists.fetched_at = cached[ACCOUNTS].fetched_at
        return lists
    fetched_at = _cache(state, tenant_id, {ACCOUNTS: accounts, TAX_RATES: tax_rates})
    return ReferenceLists(accounts=accounts, tax_rates=tax_rates, fetched_at=fetched_at)


def _cache(state: XeroSyncState, tenant_id: str, lists: Mapping[str, list[dict[str, Any]]]) -> datetime:
    """Store the lists in a short session of their own (see the module docstring)."""
    now = utcnow()
    try:
        with Session(state.db.engine) as session:
            rows = {
                row.kind: row
                for row in session.scalars(select(OrgCache).where(OrgCache.tenant_id == tenant_id))
            }
            for kind, payload in lists.items():
                row = rows.get(kind)
                if row is None:
                    session.add(OrgCache(tenant_id=tenant_id, kind=kind, payload=payload, fetched_at=now))
                else:
                    row.payload = payload
                    row.fetched_at = now
            session.commit()
    except SQLAlchemyError:
        logger.warning("xerosync: could not cache the reference lists of organisation %s", tenant_id, exc_info=True)
    return now


def sales_accounts(accounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Active revenue-class accounts (types REVENUE, SALES, OTHERINCOME), by code."""
    chosen = [
        {name: account.get(name) for name in ACCOUNT_FIELDS}
        for account in accounts
        if account.get("Class") == "REVENUE" and account.get("Status") == "ACTIVE" and account.get("Code")
    ]
    return sorted(chosen, key=lambda account: str(account["Code"]))


def sales_tax_rates(tax_rates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Active tax rates that can apply to revenue (when Xero says; otherwise every active one)."""
    return [
        {name: _json_safe(rate.get(name)) for name in TAX_RATE_FIELDS}
        for rate in tax_rates
        if rate.get("Status") == "ACTIVE" and rate.get("CanApplyToRevenue", True) is not False and rate.get("TaxType")
    ]


def _json_safe(value: Any) -> Any:
    """Rates arrive as ``Decimal``; the cache is JSON, so they are kept as their exact text."""
    return str(value) if isinstance(value, Decimal) else value
