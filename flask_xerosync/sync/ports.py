"""What the engine needs from the Xero API client, as a protocol: the engine runs on
``xero.XeroApi`` in production and on an in-memory fake in its rule tests."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol

from ..xero.results import WriteResult


class PageLike(Protocol):
    number: int
    xero_time: datetime | None


class ContactPageLike(PageLike, Protocol):
    contacts: list[dict[str, Any]]


class InvoicePageLike(PageLike, Protocol):
    invoices: list[dict[str, Any]]


class XeroApiPort(Protocol):
    @property
    def calls(self) -> int: ...

    def verify_connection(self) -> dict[str, Any]: ...

    def get_organisation(self) -> dict[str, Any]: ...

    def get_tax_rates(self) -> list[dict[str, Any]]: ...

    def iter_contact_pages(
        self, modified_since: datetime | None, *, include_archived: bool = True, start_page: int = 1
    ) -> Iterator[ContactPageLike]: ...

    def get_contacts(self, ids: Sequence[str]) -> list[dict[str, Any]]: ...

    def find_contacts_by_name(self, name: str) -> list[dict[str, Any]]: ...

    def create_contacts(self, records: Sequence[dict[str, Any]]) -> list[WriteResult]: ...

    def upsert_contacts(self, records: Sequence[dict[str, Any]]) -> list[WriteResult]: ...

    def get_items(self, modified_since: datetime | None, *, where: str | None = ...) -> list[dict[str, Any]]: ...

    def upsert_items(self, records: Sequence[dict[str, Any]]) -> list[WriteResult]: ...

    def create_items(self, records: Sequence[dict[str, Any]]) -> list[WriteResult]: ...

    def get_invoices(self, ids: Sequence[str]) -> list[dict[str, Any]]: ...

    def upsert_invoices(self, records: Sequence[dict[str, Any]]) -> list[WriteResult]: ...

    def iter_invoice_pages(
        self, modified_since: datetime | None, *, statuses: Sequence[str], start_page: int = 1
    ) -> Iterator[InvoicePageLike]: ...
