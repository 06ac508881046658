"""The contract between the extension and the host application.

The sync engine never touches the host's models: it reads and writes the host's clients, items and
invoices through a :class:`HostData` implementation that the host passes to ``init_app``. Values
cross that boundary as the frozen dataclasses below. Money is always :class:`~decimal.Decimal`.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, Protocol, runtime_checkable

ItemKind = Literal["service", "product"]


@dataclass(frozen=True)
class Address:
    """A postal or street address. ``country`` is free text as Xero allows."""

    line1: str = ""
    line2: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""

    def is_empty(self) -> bool:
        return not any((self.line1, self.line2, self.city, self.region, self.postal_code, self.country))


@dataclass(frozen=True)
class Client:
    """A customer of the host business (a Xero Contact).

    ``id`` is ``None`` for a client the sync asks the host to create.
    """

    id: str | None
    name: str
    email: str = ""
    phone: str = ""
    company_name: str = ""
    first_name: str = ""
    last_name: str = ""
    address: Address | None = None
    updated_at: datetime | None = None
    archived: bool = False


@dataclass(frozen=True)
class Item:
    """A service or product the host sells (a Xero Item).

    ``code`` may be empty: the sync then generates one (at most 30 characters, unique in Xero).
    """

    id: str | None
    code: str
    name: str
    description: str = ""
    unit_price: Decimal = Decimal("0")
    kind: ItemKind = "service"
    updated_at: datetime | None = None


@dataclass(frozen=True)
class InvoiceLine:
    description: str
    quantity: Decimal
    unit_price: Decimal
    item_id: str | None = None
    taxable: bool = True
    # A Xero TaxType code for this line, overriding the account's preference (rarely needed).
    tax_type: str | None = None

    @property
    def amount(self) -> Decimal:
        return self.quantity * self.unit_price


@dataclass(frozen=True)
class Invoice:
    """A host invoice to push to Xero as an ACCREC invoice. ``total`` is the host's own total."""

    id: str
    number: str
    client_id: str
    issue_date: date
    due_date: date | None
    lines: Sequence[InvoiceLine] = field(default_factory=tuple)
    reference: str = ""
    currency: str = ""
    updated_at: datetime | None = None
    total: Decimal | None = None

    @property
    def subtotal(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0"))


@dataclass(frozen=True)
class PaidStatus:
    """What Xero says of a pushed invoice, read back after the push (see
    ``HostData.mark_invoices_paid``). Payments themselves are never written to Xero.

    ``status`` is Xero's: ``PAID`` (``paid_on`` is Xero's ``FullyPaidOnDate``), ``AUTHORISED``
    (``amount_paid`` above zero: part paid), ``VOIDED`` or ``DELETED``.
    """

    invoice_id: str
    xero_invoice_id: str
    xero_number: str
    status: str
    amount_paid: Decimal
    amount_due: Decimal
    paid_on: date | None = None

    @property
    def fully_paid(self) -> bool:
        return self.status == "PAID"


@runtime_checkable
class HostData(Protocol):
    """What the host application implements so the sync can read and write its records.

    Every method takes the host account (business) id first: one host serves many businesses and
    the extension never mixes their data. Implementations run inside the worker's app context and
    may use the host's ``db.session``; they flush but never commit. The sync owns that unit of
    work: it commits after each batch (the host saves, links and record results of one page or
    batch together) and before each call to Xero, so a stopped worker loses at most one batch
    and no transaction stays open while Xero answers. A commit also ends any open result stream,
    so an iterable returned by ``list_clients`` or ``list_items`` is read to the end before the
    sync commits.

    Optional method (not part of the protocol, so hosts without it still conform):

    ``get_clients(account_id, ids) -> Iterable[Client]``
        The clients of the account with those host ids (unknown ids, and ids of other accounts,
        are left out). When present the sync uses it to fetch the few clients a page of Xero
        contacts concerns; without it the sync scans ``list_clients(account_id, None)`` and
        keeps the wanted ones, which is correct but reads every client.

    ``mark_invoices_paid(account_id, updates: Sequence[PaidStatus]) -> None``
        With the paid status preference on, the sync reads back the status of pushed invoices
        and calls this with the ones Xero changed since the last read (paid, part paid, voided,
        deleted), in the sync's unit of work (flush, don't commit). Without it the status is
        still shown in the invoice's actions menu and sent as ``signals.invoice_paid``.
    """

    def list_clients(self, account_id: str, changed_since: datetime | None) -> Iterable[Client]:
        """Clients of the account, all of them when ``changed_since`` is None, else those changed
        after it (archived ones included, with ``archived=True``)."""
        ...

    def save_clients(self, account_id: str, clients: Sequence[Client]) -> list[str]:
        """Create (``id is None``) or update each client; return the host ids in the same order."""
        ...

    def list_items(self, account_id: str, changed_since: datetime | None) -> Iterable[Item]:
        """Services and products of the account, as ``list_clients``."""
        ...

    def save_items(self, account_id: str, items: Sequence[Item]) -> list[str]:
        """Create or update each item; return the host ids in the same order."""
        ...

    def get_invoices(self, account_id: str, invoice_ids: Sequence[str]) -> list[Invoice]:
        """The invoices with those ids that belong to the account (lines included)."""
        ...


REQUIRED_METHODS = ("list_clients", "save_clients", "list_items", "save_items", "get_invoices")


def check_host_data(host_data: object) -> None:
    """Refuse (``TypeError``) a ``HostData`` whose required methods are not all really there:
    missing, not callable, inherited unchanged from :class:`HostData`, or a stub (a body of only
    a docstring, ``...``, ``pass`` or ``raise NotImplementedError``). The sync would otherwise
    fail in a worker long after the app started."""
    problems = [f"{name} ({why})" for name in REQUIRED_METHODS if (why := _unimplemented(host_data, name))]
    if problems:
        cls = type(host_data)
        raise TypeError(
            f"{cls.__module__}.{cls.__qualname__}, passed to init_app as host_data, does not implement "
            f"{', '.join(problems)}. Every HostData method the sync calls must be implemented: see "
            "flask_xerosync.HostData and the README."
        )


def _unimplemented(host_data: object, name: str) -> str:
    """Why ``host_data.name`` cannot serve, or "" when it can."""
    method = getattr(host_data, name, None)
    if method is None:
        return "missing"
    if not callable(method):
        return "not callable"
    function = getattr(method, "__func__", method)
    if function is getattr(HostData, name):
        return "inherited unchanged from HostData"
    return "a stub" if _is_stub(function) else ""


def _is_stub(function: Callable[..., Any]) -> bool:
    """Whether a function's body does nothing but document itself or refuse. Anything whose source
    cannot be read (a builtin, a lambda's line) counts as implemented."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return False
    definition = tree.body[0] if tree.body else None
    if not isinstance(definition, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    return all(_does_nothing(statement) for statement in definition.body)


def _does_nothing(statement: ast.stmt) -> bool:
    if isinstance(statement, ast.Pass):
        return True
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
        return True  # a docstring, or ``...``
    if isinstance(statement, ast.Raise) and statement.exc is not None:
        raised = statement.exc.func if isinstance(statement.exc, ast.Call) else statement.exc
        return isinstance(raised, ast.Name) and raised.id == "NotImplementedError"
    return False
