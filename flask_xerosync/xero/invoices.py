"""Xero ACCREC invoices: reads by number and by id (with their lines), and the upserts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .results import WriteResult
from .transport import IDS_PER_REQUEST, XeroTransport, chunks


class InvoicesApi(XeroTransport):
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

    def upsert_invoices(self, records: Sequence[dict[str, Any]]) -> list[WriteResult]:
        return self.write_batches("invoices", records)
