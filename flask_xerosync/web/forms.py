"""The preferences and automatic-sync forms (Flask-WTF). CSRF is checked for the whole
blueprint, so not again here."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectField, SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, ValidationError

from ..config import CONFLICT_POLICIES, CONTACT_FILTERS, INVOICE_STATUSES
from ..models import SyncMode

INVOICE_STATUS_LABELS = {
    "DRAFT": "Draft",
    "SUBMITTED": "Awaiting approval",
    "AUTHORISED": "Approved",
}
CONFLICT_POLICY_LABELS = {
    "xero_wins": "Xero wins (recommended: your accountant edits there)",
    "host_wins": "This app wins",
}
CONTACT_FILTER_LABELS = {
    "not_suppliers": "Every contact except supplier-only ones",
    "customers": "Customers only",
    "all": "All contacts",
}
STATUSES_NEEDING_CODES = ("SUBMITTED", "AUTHORISED")


class PreferencesForm(FlaskForm):
    class Meta:
        csrf = False

    sync_clients = BooleanField("Clients (two-way with Xero contacts)")
    sync_items = BooleanField("Services & Products")
    sync_invoices = BooleanField("Invoices (push invoices marked Push To Xero)")
    read_paid_status = BooleanField("Paid status of pushed invoices (read back from Xero; payments are never sent)")
    invoice_status = RadioField(
        "Status of invoices in Xero",
        choices=[SelectChoice(status, INVOICE_STATUS_LABELS[status]) for status in INVOICE_STATUSES],
        validators=[InputRequired(message="Choose a status.")],
    )
    sales_account_code = SelectField("Sales account", choices=[], validate_choice=False)
    tax_type = SelectField("Tax rate", choices=[], validate_choice=False)
    conflict_policy = RadioField(
        "When a client changed on both sides",
        choices=[SelectChoice(policy, CONFLICT_POLICY_LABELS[policy]) for policy in CONFLICT_POLICIES],
        validators=[InputRequired(message="Choose which side wins.")],
    )
    contact_filter = RadioField(
        "Which Xero contacts come into this app",
        choices=[SelectChoice(name, CONTACT_FILTER_LABELS[name]) for name in CONTACT_FILTERS],
        validators=[InputRequired(message="Choose which contacts come in.")],
    )

    def set_reference_choices(
        self, accounts: Sequence[dict[str, Any]], tax_rates: Sequence[dict[str, Any]]
    ) -> None:
        """Offer the organisation's own sales accounts and tax rates (plus "not chosen")."""
        self.sales_account_code.choices = [SelectChoice("", "Not chosen")] + [
            SelectChoice(str(account["Code"]), f"{account['Code']} – {account.get('Name', '')}")
            for account in accounts
        ]
        self.tax_type.choices = [SelectChoice("", "Not chosen")] + [
            SelectChoice(str(rate["TaxType"]), _tax_rate_label(rate)) for rate in tax_rates
        ]

    def validate_sales_account_code(self, field: SelectField) -> None:
        self._check_reference(field, "Choose a sales account")

    def validate_tax_type(self, field: SelectField) -> None:
        self._check_reference(field, "Choose a tax rate")

    def _check_reference(self, field: SelectField, missing_message: str) -> None:
        offered = {choice.value for choice in field.choices or [] if choice.value}
        if field.data and field.data not in offered:
            raise ValidationError("That is not one of this organisation's options. Refresh the lists and choose again.")
        if not field.data and self.invoice_status.data in STATUSES_NEEDING_CODES:
            label = INVOICE_STATUS_LABELS[self.invoice_status.data].lower()
            raise ValidationError(f"{missing_message}: Xero needs it for {label} invoices.")


def _tax_rate_label(rate: dict[str, Any]) -> str:
    name = str(rate.get("Name") or rate["TaxType"])
    shown = rate.get("DisplayTaxRate", rate.get("EffectiveRate"))
    try:
        percent = Decimal(str(shown)).normalize()
    except InvalidOperation:
        return name
    return f"{name} ({percent:f}%)"


SYNC_MODE_LABELS = {
    SyncMode.MANUAL: "Only when I press Sync Now!",
    SyncMode.HOURLY: "Every hour",
    SyncMode.DAILY: "Every day, at the hour below",
}
WEBHOOK_NOTE = ", and soon after a change in Xero"


class AutomaticForm(FlaskForm):
    """When the account syncs: by hand only (the default), or also on a schedule (and on Xero's
    webhooks when the app receives them)."""

    class Meta:
        csrf = False

    sync_mode = RadioField("Syncs run", choices=[SelectChoice(mode, SYNC_MODE_LABELS[mode]) for mode in SyncMode.ALL],
                           validators=[InputRequired(message="Choose when to sync.")])
    sync_hour = SelectField("Hour of the daily sync", coerce=int,
                            choices=[SelectChoice(hour, f"{hour:02d}:00") for hour in range(24)])

    def mention_webhooks(self) -> None:
        """Say that the automatic choices also follow Xero's changes (the app receives webhooks)."""
        self.sync_mode.choices = [
            SelectChoice(mode, SYNC_MODE_LABELS[mode] + ("" if mode == SyncMode.MANUAL else WEBHOOK_NOTE))
            for mode in SyncMode.ALL
        ]


class BulkPushForm(FlaskForm):
    """Push To Xero of a selection from the host's invoice list: the invoices' ids, 1 to ``max_bulk``
    of them (whether each is the account's is checked against the host afterwards)."""

    class Meta:
        csrf = False

    invoice_id = SelectMultipleField("Invoices", validate_choice=False)

    def __init__(self, *args: Any, max_bulk: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.invoice_id.validators = [
            Length(min=1, max=max_bulk, message=f"Choose between 1 and {max_bulk} invoices to push.")
        ]

    @property
    def ids(self) -> list[str]:
        return list(dict.fromkeys(str(value).strip() for value in self.invoice_id.data or [] if str(value).strip()))
