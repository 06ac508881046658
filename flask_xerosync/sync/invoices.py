"""Flagged host invoices → Xero ACCREC invoices.

Per batch of at most 50 flagged invoices: link their clients first (pushing the missing ones,
even when the clients preference is off), read the Xero invoices pushed before in one batched
GET (a paid one is reported and never altered; an unpaid one is updated with its
``LineItemID``s), upsert the batch by ``InvoiceNumber``, then record the outcome on each
invoice's flag and commit. As in the clients stage, pending rows are committed before each
call to Xero.

Non-taxable lines get the organisation's zero tax rate: ``NONE`` ("No GST"/"Tax Exempt") when
the organisation has it, else the first active revenue rate whose effective rate is 0, read from
the cached TaxRates (or from Xero once per run when the cache lacks them).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..host import Invoice, InvoiceLine
from ..models import InvoiceFlag, InvoiceState, LinkKind, Outcome, utcnow
from .clients.stage import ClientsStage
from .context import SyncContext, batched
from .rules import code_key, name_key
from .outcomes import (
    GENERIC_FIX,
    PAID_IN_XERO,
    TO_XERO,
    fix_for,
    has_payment,
    line_tax_type_fix,
    rejected_tax_type,
)

BATCH = 50
TAX_RATES = "tax_rates"
_ZERO_PREFERENCE = ("NONE", "ZERORATEDOUTPUT", "EXEMPTOUTPUT", "EXEMPTINCOME")
TAX_EXAMPLES = 2


def sales_tax_rates(tax_rates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The active tax rates a sales line can use."""
    return [
        rate for rate in tax_rates
        if rate.get("TaxType") and rate.get("Status", "ACTIVE") == "ACTIVE"
        and rate.get("CanApplyToRevenue", True) is not False
    ]


def zero_rate_tax_type(tax_rates: list[dict[str, Any]]) -> str | None:
    """The organisation's tax type for lines that carry no tax (see the module docstring)."""
    usable = sales_tax_rates(tax_rates)
    zero = [rate for rate in usable if Decimal(str(rate.get("EffectiveRate", "1") or "0")) == 0]
    for wanted in _ZERO_PREFERENCE:
        for rate in zero:
            if rate["TaxType"] == wanted:
                return wanted
    return str(zero[0]["TaxType"]) if zero else None


def is_paid(record: dict[str, Any]) -> bool:
    return (
        record.get("Status") == "PAID"
        or Decimal(str(record.get("AmountPaid") or 0)) > 0
        or Decimal(str(record.get("AmountCredited") or 0)) > 0
    )


def _money(value: Any) -> Decimal | None:
    return Decimal(str(value)) if value is not None else None


def _line_key(line: dict[str, Any]) -> tuple[str, str]:
    return name_key(str(line.get("Description") or "")), code_key(str(line.get("ItemCode") or ""))


def line_item_ids(sent: list[dict[str, Any]], existing: list[dict[str, Any]]) -> list[str | None]:
    """The Xero ``LineItemID`` each line to send keeps (``None``: a new line).

    Xero removes every line an update does not send, so each host line that is still one of the
    Xero lines must carry its ID. First lines with the same description and item code pair up in
    order (a line inserted or removed elsewhere moves nothing); the rest pair by position (a line
    edited in place). Xero lines left unpaired are the ones the host removed.
    """
    ids: list[str | None] = [None] * len(sent)
    free = [index for index, line in enumerate(existing) if line.get("LineItemID")]
    for position, line in enumerate(sent):
        same = next((index for index in free if _line_key(existing[index]) == _line_key(line)), None)
        if same is not None:
            ids[position] = str(existing[same]["LineItemID"])
            free.remove(same)
    for position in range(len(sent)):
        if ids[position] is None and position in free:
            ids[position] = str(existing[position]["LineItemID"])
            free.remove(position)
    return ids


class InvoicesStage:
    def __init__(self, ctx: SyncContext) -> None:
        self.ctx = ctx
        self.zero_rate: str | None = None
        self.zero_rate_known = False
        self.tax_rates: list[dict[str, Any]] | None = None
        self.pushed: list[tuple[str, str, str]] = []
        self.clients: ClientsStage | None = None

    def run(self) -> None:
        ctx = self.ctx
        invoice_ids = ctx.store.flagged_invoice_ids(ctx.scope)
        ctx.enter("invoices", len(invoice_ids))
        for batch in batched(invoice_ids, BATCH):
            self._push_batch(batch)

    def _zero_rate(self) -> str | None:
        if not self.zero_rate_known:
            cached = self.ctx.store.org_list(self.ctx.scope.tenant_id, TAX_RATES)
            if not cached or not all("EffectiveRate" in rate for rate in cached):
                cached = self.ctx.api.get_tax_rates()
            self.tax_rates = cached
            self.zero_rate, self.zero_rate_known = zero_rate_tax_type(cached), True
        return self.zero_rate

    def _fix(self, invoice: Invoice, messages: list[str]) -> str:
        """The fix for Xero's first recognised message. A rejected tax code that the invoice's own
        lines carry (``InvoiceLine.tax_type``) is changed on those lines, not in the preferences."""
        for message in messages:
            code = rejected_tax_type(message)
            if code is not None:
                wanted = code.strip().casefold()
                numbers = [number for number, line in enumerate(invoice.lines, 1)
                           if (line.tax_type or "").strip().casefold() == wanted]
                if numbers:
                    return line_tax_type_fix(code, numbers, self._tax_examples(wanted))
            fix = fix_for([message])
            if fix != GENERIC_FIX:
                return fix
        return GENERIC_FIX

    def _tax_examples(self, rejected: str) -> list[tuple[str, str]]:
        """A couple of the organisation's sales tax rates as (code, name), from the rates this run
        read or the cached list; none when neither is at hand (no call is made for a fix text)."""
        known = self.tax_rates
        if known is None:
            known = self.ctx.store.org_list(self.ctx.scope.tenant_id, TAX_RATES) or []
        usable = [rate for rate in sales_tax_rates(known) if str(rate["TaxType"]).casefold() != rejected]
        return [(str(rate["TaxType"]), str(rate.get("Name") or "")) for rate in usable[:TAX_EXAMPLES]]

    def _client_links(self, invoices: list[Invoice]) -> dict[str, str]:
        """ContactID per host client id. Clients not linked yet are linked (or created in Xero)
        first, by the clients' match rules, so an invoice never creates a duplicate contact."""
        ctx = self.ctx
        client_ids = {invoice.client_id for invoice in invoices}
        links = ctx.store.links_by_host(ctx.scope, LinkKind.CLIENT, client_ids)
        missing = client_ids - set(links)
        if not missing:
            return {host_id: link.xero_id for host_id, link in links.items()}
        self.clients = self.clients or ClientsStage(ctx)
        progress = ctx.done, ctx.total  # the clients linked here are not invoices handled
        resolved = self.clients.link_clients(missing)
        ctx.done, ctx.total = progress
        contacts = {host_id: link.xero_id for host_id, link in
                    ctx.store.links_by_host(ctx.scope, LinkKind.CLIENT, client_ids).items()}
        if ctx.dry_run:
            contacts.update({host_id: f"(new contact for client {host_id})" for host_id in resolved})
        return contacts

    def _line(self, line: InvoiceLine, item_codes: dict[str, str]) -> dict[str, Any]:
        prefs = self.ctx.preferences
        payload: dict[str, Any] = {
            "Description": line.description.strip() or "-",
            "Quantity": line.quantity,
            "UnitAmount": line.unit_price,
        }
        if line.item_id and line.item_id in item_codes:
            payload["ItemCode"] = item_codes[line.item_id]
        if prefs.sales_account_code:
            payload["AccountCode"] = prefs.sales_account_code
        tax_type = line.tax_type or (prefs.tax_type if line.taxable else self._zero_rate())
        if tax_type:
            payload["TaxType"] = tax_type
        return payload

    def _payload(
        self, invoice: Invoice, contact_id: str, item_codes: dict[str, str], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        lines = [self._line(line, item_codes) for line in invoice.lines]
        if existing is not None:
            existing_lines = [line for line in existing.get("LineItems") or [] if isinstance(line, dict)]
            for line, line_item_id in zip(lines, line_item_ids(lines, existing_lines), strict=True):
                if line_item_id:
                    line["LineItemID"] = line_item_id
        payload: dict[str, Any] = {
            "Type": "ACCREC",
            "Contact": {"ContactID": contact_id},
            "InvoiceNumber": invoice.number,
            "Reference": invoice.reference,
            "Date": invoice.issue_date,
            "Status": self.ctx.preferences.invoice_status or "DRAFT",
            "LineAmountTypes": "Exclusive",
            "LineItems": lines,
        }
        if invoice.due_date:
            payload["DueDate"] = invoice.due_date
        if invoice.currency:
            payload["CurrencyCode"] = invoice.currency
        if existing is not None:
            payload["InvoiceID"] = existing["InvoiceID"]
        return payload

    def _push_batch(self, invoice_ids: list[str]) -> None:
        ctx = self.ctx
        flags = ctx.store.flags(ctx.scope, invoice_ids)
        invoices = ctx.host.get_invoices(ctx.account_id, invoice_ids)
        found = {invoice.id for invoice in invoices}
        for invoice_id in invoice_ids:
            if invoice_id not in found:
                self._reject(flags[invoice_id], label=invoice_id, messages=[],
                             message="This invoice no longer exists here.", fix="Nothing to do.")
        contacts = self._client_links(invoices)
        flags = ctx.store.flags(ctx.scope, invoice_ids)  # in one query: linking clients commits, which expires them
        item_ids = {line.item_id for invoice in invoices for line in invoice.lines if line.item_id}
        item_codes = {
            host_id: link.xero_key
            for host_id, link in ctx.store.links_by_host(ctx.scope, LinkKind.ITEM, item_ids).items()
            if link.xero_key
        }
        previous_ids = [str(flags[i.id].xero_invoice_id) for i in invoices if flags[i.id].xero_invoice_id]
        ctx.commit()
        flags = ctx.store.flags(ctx.scope, invoice_ids)
        current: dict[str, dict[str, Any]] = {}
        if previous_ids and ctx.dry_run:
            ctx.estimate_calls("invoices", 1)
        elif previous_ids:
            current = {record["InvoiceID"]: record for record in ctx.api.get_invoices(previous_ids)}
        to_push: list[tuple[Invoice, dict[str, Any], bool]] = []
        for invoice in invoices:
            flag = flags[invoice.id]
            existing = current.get(flag.xero_invoice_id or "")
            if existing is not None and is_paid(existing):
                self._paid(flag, invoice, existing)
                continue
            contact_id = contacts.get(invoice.client_id)
            if contact_id is None:
                self._without_contact(flag, invoice)
                continue
            to_push.append((invoice, self._payload(invoice, contact_id, item_codes, existing), existing is not None))
        if to_push and ctx.dry_run:
            ctx.estimate_calls("invoices", 1)
            for invoice, _, update in to_push:
                ctx.record(Outcome.UPDATED if update else Outcome.CREATED, direction=TO_XERO, label=invoice.number,
                           host_id=invoice.id)
        elif to_push:
            ctx.commit()
            results = ctx.api.upsert_invoices([payload for _, payload, _ in to_push])
            flags = ctx.store.flags(ctx.scope, invoice_ids)
            for (invoice, _, update), result in zip(to_push, results, strict=True):
                flag = flags[invoice.id]
                if result.ok:
                    self._pushed(flag, invoice, result.record, update)
                elif has_payment(result.messages):
                    self._paid(flag, invoice, result.record)
                else:
                    self._reject(flag, label=invoice.number, messages=result.messages,
                                 message="; ".join(result.messages), fix=self._fix(invoice, result.messages))
        if ctx.dry_run:
            ctx.store.rollback()
        ctx.commit()
        self._announce()
        ctx.progress(len(invoice_ids))

    def _pushed(self, flag: InvoiceFlag, invoice: Invoice, record: dict[str, Any], update: bool) -> None:
        ctx = self.ctx
        xero_id = str(record.get("InvoiceID") or "")
        xero_total = _money(record.get("Total"))
        host_total = invoice.total if invoice.total is not None else invoice.subtotal
        message = total_difference(host_total, xero_total, _money(record.get("SubTotal")))
        flag.state = InvoiceState.PUSHED
        flag.xero_invoice_id = xero_id
        flag.xero_number = str(record.get("InvoiceNumber") or invoice.number)
        flag.xero_status = str(record.get("Status") or "")
        flag.xero_url = f"{ctx.xero_app_url}/AccountsReceivable/View.aspx?InvoiceID={xero_id}"
        flag.xero_total = xero_total
        flag.host_total = host_total
        flag.message, flag.fix = message, ""
        flag.pushed_at = utcnow()
        ctx.record(Outcome.UPDATED if update else Outcome.CREATED, direction=TO_XERO, label=invoice.number,
                   host_id=invoice.id, xero_id=xero_id, message=message)
        self.pushed.append((invoice.id, xero_id, flag.xero_number))

    def _paid(self, flag: InvoiceFlag, invoice: Invoice, record: dict[str, Any]) -> None:
        flag.state = InvoiceState.PUSHED
        flag.xero_status = str(record.get("Status") or flag.xero_status or "")
        flag.message = PAID_IN_XERO
        flag.fix = ""
        self.ctx.record(Outcome.SKIPPED, direction=TO_XERO, label=invoice.number, host_id=invoice.id,
                        xero_id=record.get("InvoiceID") or flag.xero_invoice_id, message=PAID_IN_XERO)

    def _without_contact(self, flag: InvoiceFlag, invoice: Invoice) -> None:
        """An invoice whose client has no Xero contact. When Xero refused the client in this run
        (the refusal is already counted and logged with the clients), the invoice is skipped and
        stays flagged, saying why, so it goes with the next sync once the client is fixed."""
        refusal = self.ctx.store.refusal(self.ctx.run_id, "clients", invoice.client_id)
        if refusal is None:
            self._reject(flag, label=invoice.number, messages=[],
                         message="Its client could not be added to Xero (see the clients in this run's log).",
                         fix="Fix the client as the log says, then push the invoice again.")
            return
        client, reason = refusal
        flag.message = (f"Not pushed: its client {client} was refused by Xero: {reason}; "
                        "fix the client, then sync again.")
        flag.fix = "Fix the client as this run's log says; the invoice stays flagged and goes with the next sync."
        self.ctx.record(Outcome.SKIPPED, direction=TO_XERO, label=invoice.number, host_id=invoice.id,
                        message=flag.message, fix=flag.fix)

    def _reject(self, flag: InvoiceFlag, *, label: str, messages: list[str], message: str, fix: str) -> None:
        flag.state = InvoiceState.REJECTED
        flag.message, flag.fix = message, fix
        self.ctx.record(Outcome.FAILED, direction=TO_XERO, label=label, host_id=flag.invoice_id,
                        xero_id=flag.xero_invoice_id, message=message, fix=fix,
                        details={"xero_messages": messages} if messages else None)

    def _announce(self) -> None:
        """Tell the run about the invoices of the batch just committed (so whoever listens sees
        stored state)."""
        pushed, self.pushed = self.pushed, []
        for invoice_id, xero_id, number in pushed:
            self.ctx.on_invoice_pushed(self.ctx.account_id, invoice_id, xero_id, number)


def total_difference(host_total: Decimal | None, xero_total: Decimal | None, xero_subtotal: Decimal | None) -> str:
    """What to tell the user when Xero's totals disagree with the host's, or "" when they agree.

    A host total may or may not include tax, so it agrees when it equals Xero's total or its
    subtotal (before tax); anything else comes from rounding (Xero rounds each line and its tax to
    cents) or from a line that differs, and is reported.
    """
    if host_total is None or xero_total is None or host_total in (xero_total, xero_subtotal):
        return ""
    before_tax = f" ({xero_subtotal:.2f} before tax)" if xero_subtotal is not None else ""
    cents = host_total.quantize(Decimal("0.01"))
    here = f"{cents:.2f}" if cents == host_total else f"{host_total.normalize():f}"
    return (
        f"Xero's total is {xero_total:.2f}{before_tax}, the total here is {here}: Xero rounds "
        "each line and its tax to cents. Check the invoice in Xero before you send it."
    )
