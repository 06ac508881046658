"""What the engine needs from the world outside it, and what it tells it.

The engine is given an object with the calls of :class:`XeroApiPort` (in production a
:class:`flask_xerosync.xero.api.XeroApi`; in the engine's unit tests an in-memory fake), so it
depends on no HTTP library. The types it exchanges with that object (:class:`ContactPage`,
:class:`WriteResult`) are plain dataclasses of :mod:`flask_xerosync.xero.results`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol

from ..xero.results import ContactPage, WriteResult


class XeroApiPort(Protocol):
    """The calls the engine (and the needs-review resolutions) make to Xero for one organisation."""

    @property
    def calls(self) -> int:
        """Requests sent so far (the run's API-call count)."""

    def verify_connection(self) -> dict[str, Any]: ...

    def iter_contact_pages(
        self, modified_since: datetime | None, *, include_archived: bool = True
    ) -> Iterator[ContactPage]: ...

    def get_contacts(self, ids: Sequence[str]) -> list[dict[str, Any]]: ...

    def find_contacts_by_name(self, name: str) -> list[dict[str, Any]]: ...

    def create_contacts(self, records: Sequence[dict[str, Any]]) -> list[WriteResult]: ...

    def upsert_contacts(self, records: Sequence[dict[str, Any]]) -> list[WriteResult]: ...

    def get_items(self, modified_since: datetime | None, *, where: str | None = ...) -> list[dict[str, Any]]: ...

    def upsert_items(self, records: Sequence[dict[str, Any]]) -> list[WriteResult]: ...

    def get_invoices(self, ids: Sequence[str]) -> list[dict[str, Any]]: ...

    def upsert_invoices(self, records: Sequence[dict[str, Any]]) -> list[WriteResult]: ...

    def get_tax_rates(self) -> list[dict[str, Any]]: ...


InvoicePushed = Callable[[str, str, str, str], None]
"""Told ``(account_id, invoice_id, xero_invoice_id, xero_number)`` for each invoice pushed, once the
batch that pushed it is committed (the worker sends ``signals.invoice_pushed`` from it)."""


def ignore_invoice_pushed(account_id: str, invoice_id: str, xero_invoice_id: str, xero_number: str) -> None:
    """The default ``on_invoice_pushed``: nobody to tell."""
