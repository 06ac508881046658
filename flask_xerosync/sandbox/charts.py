"""Default chart of accounts, tax rates and organisation details per country."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from .jsonfmt import ms_date


@dataclass(frozen=True)
class CountryProfile:
    version: str
    currency: str
    timezone: str
    tax_word: str
    sales_tax: str
    purchases_tax: str
    year_end_month: int
    tax_rates: tuple[tuple[str, str, str, Decimal, bool], ...]  # TaxType, Name, ReportTaxType, rate, revenue


_NZ_RATES = (
    ("OUTPUT2", "15% GST on Income", "OUTPUT", Decimal("15"), True),
    ("INPUT2", "15% GST on Expenses", "INPUT", Decimal("15"), False),
    ("NONE", "No GST", "NONE", Decimal("0"), True),
    ("ZERORATEDOUTPUT", "Zero Rated Income", "OUTPUT", Decimal("0"), True),
    ("ZERORATED", "Zero Rated", "INPUT", Decimal("0"), False),
    ("GSTONIMPORTS", "GST on Imports", "GSTONIMPORTS", Decimal("0"), False),
)
_AU_RATES = (
    ("OUTPUT", "GST on Income", "OUTPUT", Decimal("10"), True),
    ("INPUT", "GST on Expenses", "INPUT", Decimal("10"), False),
    ("EXEMPTOUTPUT", "GST Free Income", "EXEMPTOUTPUT", Decimal("0"), True),
    ("EXEMPTEXPENSES", "GST Free Expenses", "EXEMPTEXPENSES", Decimal("0"), False),
    ("BASEXCLUDED", "BAS Excluded", "BASEXCLUDED", Decimal("0"), True),
    ("INPUTTAXED", "Input Taxed", "INPUTTAXED", Decimal("0"), False),
    ("GSTONIMPORTS", "GST on Imports", "GSTONIMPORTS", Decimal("0"), False),
)
_UK_RATES = (
    ("OUTPUT2", "20% (VAT on Income)", "OUTPUT", Decimal("20"), True),
    ("INPUT2", "20% (VAT on Expenses)", "INPUT", Decimal("20"), False),
    ("RROUTPUT", "5% (VAT on Income)", "OUTPUT", Decimal("5"), True),
    ("ZERORATEDOUTPUT", "Zero Rated Income", "OUTPUT", Decimal("0"), True),
    ("EXEMPTOUTPUT", "Exempt Income", "EXEMPTOUTPUT", Decimal("0"), True),
    ("NONE", "No VAT", "NONE", Decimal("0"), True),
)
_GLOBAL_RATES = (
    ("OUTPUT", "Tax on Sales", "OUTPUT", Decimal("10"), True),
    ("INPUT", "Tax on Purchases", "INPUT", Decimal("10"), False),
    ("NONE", "Tax Exempt", "NONE", Decimal("0"), True),
)

PROFILES: dict[str, CountryProfile] = {
    "NZ": CountryProfile("NZ", "NZD", "NEWZEALANDSTANDARDTIME", "GST", "OUTPUT2", "INPUT2", 3, _NZ_RATES),
    "AU": CountryProfile("AU", "AUD", "AUSEASTERNSTANDARDTIME", "GST", "OUTPUT", "INPUT", 6, _AU_RATES),
    "GB": CountryProfile("UK", "GBP", "GMTSTANDARDTIME", "VAT", "OUTPUT2", "INPUT2", 3, _UK_RATES),
}
_GLOBAL = CountryProfile("GLOBAL", "USD", "UTC", "Tax", "OUTPUT", "INPUT", 12, _GLOBAL_RATES)


def profile_for(country: str) -> CountryProfile:
    code = country.upper()
    return PROFILES.get("GB" if code == "UK" else code, _GLOBAL)


# Code, Name, Type, tax slot ("sales"/"purchases"/"none"), SystemAccount
_ACCOUNTS: tuple[tuple[str, str, str, str, str], ...] = (
    ("090", "Business Bank Account", "BANK", "none", ""),
    ("200", "Sales", "REVENUE", "sales", ""),
    ("260", "Other Revenue", "REVENUE", "sales", ""),
    ("270", "Interest Income", "REVENUE", "none", ""),
    ("310", "Cost of Goods Sold", "DIRECTCOSTS", "purchases", ""),
    ("400", "Advertising", "OVERHEADS", "purchases", ""),
    ("404", "Bank Fees", "OVERHEADS", "none", ""),
    ("408", "Cleaning", "OVERHEADS", "purchases", ""),
    ("412", "Consulting & Accounting", "OVERHEADS", "purchases", ""),
    ("429", "General Expenses", "OVERHEADS", "purchases", ""),
    ("433", "Insurance", "OVERHEADS", "purchases", ""),
    ("445", "Light, Power, Heating", "OVERHEADS", "purchases", ""),
    ("449", "Motor Vehicle Expenses", "OVERHEADS", "purchases", ""),
    ("453", "Office Expenses", "OVERHEADS", "purchases", ""),
    ("461", "Printing & Stationery", "OVERHEADS", "purchases", ""),
    ("469", "Rent", "OVERHEADS", "purchases", ""),
    ("473", "Repairs and Maintenance", "OVERHEADS", "purchases", ""),
    ("485", "Subscriptions", "OVERHEADS", "purchases", ""),
    ("489", "Telephone & Internet", "OVERHEADS", "purchases", ""),
    ("493", "Travel - National", "OVERHEADS", "purchases", ""),
    ("610", "Accounts Receivable", "CURRENT", "none", "DEBTORS"),
    ("620", "Prepayments", "CURRENT", "none", ""),
    ("630", "Inventory", "INVENTORY", "none", ""),
    ("710", "Office Equipment", "FIXED", "purchases", ""),
    ("720", "Computer Equipment", "FIXED", "purchases", ""),
    ("800", "Accounts Payable", "CURRLIAB", "none", "CREDITORS"),
    ("820", "{tax}", "CURRLIAB", "none", "GST"),
    ("960", "Retained Earnings", "EQUITY", "none", "RETAINEDEARNINGS"),
    ("970", "Owner A Funds Introduced", "EQUITY", "none", ""),
)

_CLASS_BY_TYPE = {
    "REVENUE": "REVENUE", "SALES": "REVENUE", "OTHERINCOME": "REVENUE",
    "DIRECTCOSTS": "EXPENSE", "EXPENSE": "EXPENSE", "OVERHEADS": "EXPENSE", "DEPRECIATN": "EXPENSE",
    "BANK": "ASSET", "CURRENT": "ASSET", "INVENTORY": "ASSET", "FIXED": "ASSET",
    "PREPAYMENT": "ASSET", "NONCURRENT": "ASSET",
    "CURRLIAB": "LIABILITY", "LIABILITY": "LIABILITY", "TERMLIAB": "LIABILITY", "PAYG": "LIABILITY",
    "EQUITY": "EQUITY",
}


def default_accounts(country: str, now: datetime) -> list[dict[str, Any]]:
    profile = profile_for(country)
    none_tax = "NONE" if any(r[0] == "NONE" for r in profile.tax_rates) else "BASEXCLUDED"
    accounts = []
    for code, name, acc_type, slot, system in _ACCOUNTS:
        tax = {"sales": profile.sales_tax, "purchases": profile.purchases_tax}.get(slot, none_tax)
        account: dict[str, Any] = {
            "AccountID": str(uuid.uuid4()),
            "Code": code,
            "Name": name.format(tax=profile.tax_word),
            "Status": "ACTIVE",
            "Type": acc_type,
            "TaxType": tax,
            "Class": _CLASS_BY_TYPE[acc_type],
            "EnablePaymentsToAccount": False,
            "ShowInExpenseClaims": acc_type in ("OVERHEADS", "DIRECTCOSTS"),
            "BankAccountType": "BANK" if acc_type == "BANK" else "",
            "ReportingCode": "",
            "HasAttachments": False,
            "UpdatedDateUTC": now,
            "AddToWatchlist": False,
        }
        if system:
            account["SystemAccount"] = system
        if acc_type == "BANK":
            account["BankAccountNumber"] = "0200000000000000"
            account["CurrencyCode"] = profile.currency
        accounts.append(account)
    return accounts


def default_tax_rates(country: str) -> list[dict[str, Any]]:
    rates = []
    for tax_type, name, report, rate, revenue in profile_for(country).tax_rates:
        rates.append(
            {
                "Name": name,
                "TaxType": tax_type,
                "ReportTaxType": report,
                "CanApplyToAssets": not revenue,
                "CanApplyToEquity": not revenue,
                "CanApplyToExpenses": not revenue,
                "CanApplyToLiabilities": not revenue,
                "CanApplyToRevenue": revenue,
                "DisplayTaxRate": rate.quantize(Decimal("0.0000")),
                "EffectiveRate": rate.quantize(Decimal("0.0000")),
                "Status": "ACTIVE",
                "TaxComponents": [
                    {"Name": "GST" if rate else "No Tax", "Rate": rate.quantize(Decimal("0.0000")),
                     "IsCompound": False, "IsNonRecoverable": False}
                ],
            }
        )
    return rates


def organisation_record(
    tenant_id: str, name: str, country: str, currency: str, short_code: str, created: datetime
) -> dict[str, Any]:
    profile = profile_for(country)
    return {
        "OrganisationID": tenant_id,
        "APIKey": "",
        "Name": name,
        "LegalName": name,
        "PaysTax": True,
        "Version": profile.version,
        "OrganisationType": "COMPANY",
        "BaseCurrency": currency,
        "CountryCode": country.upper(),
        "IsDemoCompany": False,
        "OrganisationStatus": "ACTIVE",
        "TaxNumber": "",
        "FinancialYearEndDay": 31 if profile.year_end_month in (3, 12) else 30,
        "FinancialYearEndMonth": profile.year_end_month,
        "SalesTaxBasis": "ACCRUALS" if profile.version != "NZ" else "INVOICE",
        "SalesTaxPeriod": "TWOMONTHS" if profile.version == "NZ" else "QUARTERLY1",
        "DefaultSalesTax": "Tax Exclusive",
        "DefaultPurchasesTax": "Tax Exclusive",
        "CreatedDateUTC": ms_date(created, with_offset=False),  # as in Xero's example: no offset
        "OrganisationEntityType": "COMPANY",
        "Timezone": profile.timezone,
        "ShortCode": short_code,
        "Edition": "BUSINESS",
        "Class": "PREMIUM",
        "LineOfBusiness": "Field services",
        "Addresses": [],
        "Phones": [],
        "ExternalLinks": [],
        "PaymentTerms": {},
    }
