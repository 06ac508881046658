"""Xero ACCREC invoices: reads by number and by id (with their lines), the paged read of what
changed (paid status), and the upserts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from .paging import PagedReads
from .results import InvoicePage, WriteResult
from .transport import IDS_PER_REQUEST, chunks

STATUS_PAGE_SIZE = 100
"""Invoices per page of a status read: Xero's own page of invoices."""


class InvoicesApi(PagedReads):
    def get_invoices_by_number(self, numbers: Sequence[str]) -> list[dict[str, Any]]:
        """Invoices by ``InvoiceNumber`` (the push's upsert key), 50 numbers a request.

        Xero separates the numbers with commas, so a number containing one cannot be found here.
        """
        found: list[dict[str, Any]] = []
        for chunk in chunks(numbers, IDS_PER_REQUEST):
            body = self._get("/Invoices", params={"InvoiceNumbers": ",".join(chunk), "unitdp": 4})
            found.extend(self._collection(body, "Invoices"))
        return found

    def get_invoices(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """Invoices by ``InvoiceID`` with their line items, payments and totals, 50 IDs a request.

        Xero includes ``LineItems`` in a list only when it is paged ("Up to 100 … with line items
        included for each invoice"), so each chunk asks for ``page=1``: 50 IDs always fit on it.
        """
        found: list[dict[str, Any]] = []
        for chunk in chunks(ids, IDS_PER_REQUEST):
            body = self._get("/Invoices", params={"IDs": ",".join(chunk), "page": 1, "unitdp": 4})
            found.extend(self._collection(body, "Invoices"))
        return found

    def iter_invoice_pages(
        self, modified_since: datetime | None, *, statuses: Sequence[str], start_page: int = 1
    ) -> Iterator[InvoicePage]:
        """Sales invoices with one of ``statuses`` changed since ``modified_since``, a page of 100
        per call, ordered by ``InvoiceID`` (as :meth:`~.contacts.ContactsApi.iter_contact_pages`,
        whose reasoning about records that change while we page holds here too). Not
        ``summaryOnly``: Xero does not say that its summaries keep ``AmountDue``/``AmountPaid``."""
        params = {"where": 'Type=="ACCREC"', "Statuses": ",".join(statuses), "order": "InvoiceID ASC"}
        for page in self._iter_pages("/Invoices", "Invoices", "InvoiceID", params, modified_since,
                               page_size=STATUS_PAGE_SIZE, start_page=start_page):
            yield InvoicePage(page.number, page.records, page.xero_time)

    def upsert_invoices(self, records: Sequence[dict[str, Any]]) -> list[WriteResult]:
        return self.write_batches("invoices", records)
