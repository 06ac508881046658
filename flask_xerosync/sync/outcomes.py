"""Per-record outcomes, and one table turning Xero's error texts into plain-language fixes."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

TO_XERO = "to_xero"
TO_HOST = "to_host"

PAID_IN_XERO = "Paid in Xero; left untouched"

_NAME_CLASH = re.compile(r"The contact name (?P<name>.+?) is already assigned to another contact", re.DOTALL)
_TAX_TYPE_INVALID = re.compile(r"The TaxType code '(?P<code>.*?)' is not valid")

_FIXES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        _NAME_CLASH,
        "A different Xero contact is already called {name}. Rename one of them (in Xero or here), "
        "or archive the one in Xero you no longer use, then sync again.",
    ),
    (
        re.compile(r"Price List Item with Code '+(?P<code>.*?)'+ already exists"),
        "A different Xero item already uses the code {code}. Change the code of one of them, then sync again.",
    ),
    (
        _TAX_TYPE_INVALID,
        "Xero does not know the tax type {code}. Pick a tax rate of your Xero organisation in the "
        "Accounting Sync settings (Refresh lists if you added it recently), then push again.",
    ),
    (
        re.compile(r"Account code '(?P<code>.*?)' is not a valid code"),
        "Xero does not accept the account {code} for sales. Pick a revenue account of your Xero "
        "organisation in the Accounting Sync settings, then push again.",
    ),
    (
        re.compile(r"An Account Code is required"),
        "Approved invoices need a sales account. Choose one in the Accounting Sync settings, or push "
        "invoices as drafts.",
    ),
    (
        re.compile(r"Invoice # must be unique"),
        "Xero already has a different invoice with this number. Renumber this invoice, or void the "
        "other one in Xero, then push again.",
    ),
    (
        re.compile(r"cannot be edited as it has a payment or credit note allocated"),
        "This invoice has a payment in Xero, so it was left as it is. Remove the payment in Xero first "
        "if it really must change, or issue a credit note.",
    ),
    (
        re.compile(r"not of valid status for modification"),
        "The invoice's status in Xero (approved, voided or deleted) no longer allows changes. Void it "
        "in Xero and push it again, or leave it as it is.",
    ),
    (
        re.compile(r"contact with ContactID '.*?' could not be found|must contain at least 1 of the following"),
        "The client's Xero contact no longer exists. Sync clients again so it is linked or re-created, "
        "then push the invoice again.",
    ),
    (
        re.compile(r"Item code '(?P<code>.*?)' is not valid"),
        "Xero has no item with the code {code}. Sync Services & Products, then push again.",
    ),
    (
        re.compile(r"(?P<field>\w+) must not be more than (?P<limit>\d+) characters long"),
        "Xero allows at most {limit} characters in {field}. Shorten it here, then sync again.",
    ),
    (
        re.compile(r"[Ee]mail address.*(not valid|invalid)|EmailAddress.*(not valid|invalid)"),
        "Xero did not accept the e-mail address. Correct it here, then sync again.",
    ),
    (
        re.compile(r"The contact name must be specified|Item Code is required"),
        "A name (or code) is required by Xero. Fill it in here, then sync again.",
    ),
)

GENERIC_FIX = "Correct the record as Xero's message says, then sync again."


def fix_for(messages: list[str]) -> str:
    """The plain-language fix for Xero's first recognised message (a generic one otherwise)."""
    for message in messages:
        for pattern, template in _FIXES:
            found = pattern.search(message)
            if found:
                return template.format(**found.groupdict())
    return GENERIC_FIX


def rejected_tax_type(message: str) -> str | None:
    """The tax code of Xero's "The TaxType code '…' is not valid" message (``None`` for others)."""
    found = _TAX_TYPE_INVALID.search(message)
    return found["code"] if found else None


def line_tax_type_fix(code: str, line_numbers: Sequence[int], examples: Sequence[tuple[str, str]]) -> str:
    """The fix when Xero rejects a tax code that invoice lines carry themselves (the host's
    ``InvoiceLine.tax_type``): the preference is not what to change. ``line_numbers`` count from
    1; ``examples`` are (code, name) of the organisation's tax rates, when known."""
    numbers = [str(number) for number in line_numbers]
    if len(numbers) == 1:
        which, carry, lines, use = f"Line {numbers[0]}", "carries its", "the line", "uses"
    else:
        which = f"Lines {', '.join(numbers[:-1])} and {numbers[-1]}"
        carry, lines, use = "carry their", "those lines", "use"
    named = " or ".join(f"{example} ({name})" if name else example for example, name in examples)
    suggestion = f" (for example {named})" if named else ""
    return (
        f"{which} of this invoice {carry} own tax code '{code}' (set in this app, not in the "
        f"Accounting Sync settings), and your Xero organisation has no such tax rate. Change the tax code of "
        f"{lines} to one of the organisation's tax rates{suggestion}, or clear it so {lines} {use} the tax rate "
        "chosen in the Accounting Sync settings, then push again."
    )


def is_name_clash(messages: list[str]) -> bool:
    """Xero refused a contact because an active contact already has its name."""
    return any(_NAME_CLASH.search(message) for message in messages)


def has_payment(messages: list[str]) -> bool:
    return any("has a payment or credit note allocated" in message for message in messages)


@dataclass
class RecordOutcome:
    """One row of the run's record log, before it is stored."""

    stage: str
    direction: str
    outcome: str
    label: str
    host_id: str | None = None
    xero_id: str | None = None
    message: str = ""
    fix: str = ""
    details: dict[str, Any] | None = None


@dataclass
class Tally:
    """Counts per stage and outcome, as the run and its progress events show them."""

    counts: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))

    def add(self, stage: str, outcome: str, number: int = 1) -> None:
        stage_counts = self.counts.setdefault(stage, {})
        stage_counts[outcome] = stage_counts.get(outcome, 0) + number

    def restore(self, counts: dict[str, dict[str, int]]) -> None:
        """Start from the counts an earlier attempt of the run reached."""
        for stage, outcomes in counts.items():
            for outcome, number in outcomes.items():
                self.add(stage, outcome, number)

    def open_stage(self, stage: str) -> None:
        self.counts.setdefault(stage, {})

    def snapshot(self) -> dict[str, dict[str, int]]:
        return {stage: dict(outcomes) for stage, outcomes in self.counts.items()}
