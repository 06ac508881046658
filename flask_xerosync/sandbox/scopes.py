"""Which OAuth scopes exist, which need an "old" app, and which unlock each API resource."""

from __future__ import annotations

IDENTITY = {"openid", "profile", "email", "offline_access"}
_GRANULAR_BASES = (
    "accounting.contacts",
    "accounting.invoices",
    "accounting.payments",
    "accounting.banktransactions",
    "accounting.manualjournals",
    "accounting.settings",
    "accounting.attachments",
)
GRANULAR = (
    {base for base in _GRANULAR_BASES}
    | {f"{base}.read" for base in _GRANULAR_BASES}
    | {
        "accounting.budgets.read",
        "accounting.journals.read",
        "accounting.reports.aged.read",
        "accounting.reports.balancesheet.read",
        "accounting.reports.profitandloss.read",
        "accounting.reports.trialbalance.read",
        "accounting.reports.banksummary.read",
        "accounting.reports.executivesummary.read",
        "accounting.reports.budgetsummary.read",
        "accounting.reports.taxreports.read",
        "accounting.reports.tenninetynine.read",
    }
)
BROAD = {"accounting.transactions", "accounting.transactions.read", "accounting.reports.read"}
KNOWN = IDENTITY | GRANULAR | BROAD

DESCRIPTIONS = {
    "openid": "Confirm your identity",
    "profile": "See your name",
    "email": "See your e-mail address",
    "offline_access": "Keep access when you are not using the app",
}

# (resource, write?) -> scopes any one of which is enough
_READ_WRITE = {
    "contacts": ({"accounting.contacts", "accounting.contacts.read"}, {"accounting.contacts"}),
    "invoices": (
        {"accounting.invoices", "accounting.invoices.read", "accounting.transactions",
         "accounting.transactions.read"},
        {"accounting.invoices", "accounting.transactions"},
    ),
    "items": (
        {"accounting.settings", "accounting.settings.read", "accounting.invoices", "accounting.invoices.read",
         "accounting.transactions", "accounting.transactions.read"},
        {"accounting.settings", "accounting.invoices", "accounting.transactions"},
    ),
    "organisation": ({"accounting.settings", "accounting.settings.read"}, {"accounting.settings"}),
    "accounts": ({"accounting.settings", "accounting.settings.read"}, {"accounting.settings"}),
    "taxrates": ({"accounting.settings", "accounting.settings.read"}, {"accounting.settings"}),
}


def describe(scope: str) -> str:
    if scope in DESCRIPTIONS:
        return DESCRIPTIONS[scope]
    words = scope.removeprefix("accounting.").split(".")
    if words[-1] == "read":
        return f"View your {' '.join(words[:-1])}"
    return f"View and manage your {' '.join(words)}"


def allowed(resource: str, write: bool, granted: tuple[str, ...]) -> bool:
    read_scopes, write_scopes = _READ_WRITE[resource]
    needed = write_scopes if write else read_scopes
    return any(scope in needed for scope in granted)
