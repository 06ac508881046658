"""Preferences of an account, and the organisation's reference lists (sales accounts, tax rates).

The lists are read from Xero (``GET /Accounts``, ``GET /TaxRates``) through the connection's
authorised session, filtered to what a sales invoice can use, and cached per organisation in
``OrgCache`` until the user clicks **Refresh lists**.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from .errors import ReconnectNeeded, XeroSyncError
from .extension import current_state
from .models import Connection, OrgCache, Preferences, utcnow

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
)
ACCOUNT_FIELDS = ("AccountID", "Code", "Name", "Type", "Class", "Status", "TaxType")
TAX_RATE_FIELDS = ("TaxType", "Name", "Status", "DisplayTaxRate", "EffectiveRate", "CanApplyToRevenue")


@dataclass
class ReferenceLists:
    accounts: list[dict[str, Any]] = field(default_factory=list)
    tax_rates: list[dict[str, Any]] = field(default_factory=list)
    fetched_at: datetime | None = None
    error: str = ""


def preferences_for(account_id: str) -> Preferences:
    """The saved preferences, or the defaults (not added to the session) when none were saved."""
    db = current_state().db
    saved = db.session.get(Preferences, account_id)
    if saved is not None:
        return saved
    return Preferences(
        account_id=account_id,
        sync_clients=True,
        sync_items=True,
        sync_invoices=True,
        invoice_status="DRAFT",
        sales_account_code="",
        tax_type="",
        conflict_policy="xero_wins",
        contact_filter="not_suppliers",
    )


def save_preferences(account_id: str, values: Mapping[str, Any]) -> Preferences:
    """Store validated preferences in one commit (the extension's own unit of work)."""
    db = current_state().db
    preferences = db.session.get(Preferences, account_id)
    if preferences is None:
        preferences = Preferences(account_id=account_id)
        db.session.add(preferences)
    for name in PREFERENCE_FIELDS:
        setattr(preferences, name, values[name])
    preferences.saved_at = utcnow()
    db.session.commit()
    return preferences


def reference_lists(connection: Connection, refresh: bool = False) -> ReferenceLists:
    """Sales accounts and tax rates of the connection's organisation: cached, or read from Xero."""
    state = current_state()
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
        accounts, tax_rates = _read_from_xero(connection)
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
    now = utcnow()
    for kind, payload in ((ACCOUNTS, accounts), (TAX_RATES, tax_rates)):
        row = cached.get(kind)
        if row is None:
            state.db.session.add(OrgCache(tenant_id=tenant_id, kind=kind, payload=payload, fetched_at=now))
        else:
            row.payload = payload
            row.fetched_at = now
    state.db.session.commit()
    return ReferenceLists(accounts=accounts, tax_rates=tax_rates, fetched_at=now)


def _read_from_xero(connection: Connection) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Two calls through the API client, so they share the organisation's rate limit with syncs."""
    from .jobs import build_client  # jobs reads preferences from this module

    client = build_client(current_state(), connection)
    return sales_accounts(client.get_accounts()), sales_tax_rates(client.get_tax_rates())


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
