"""Xero items (Services & Products): the pull, the creates and the upserts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from .results import WriteResult
from .transport import XeroTransport


class ItemsApi(XeroTransport):
    def get_items(self, modified_since: datetime | None, *, where: str | None = "IsSold==true") -> list[dict[str, Any]]:
        """Items changed since ``modified_since`` (Items are not paged), at four decimal places."""
        params: dict[str, Any] = {"unitdp": 4}
        if where:
            params["where"] = where
        return self._collection(self._get("/Items", params=params, modified_since=modified_since), "Items")

    def upsert_items(self, records: Sequence[dict[str, Any]]) -> list[WriteResult]:
        return self.write_batches("items", records)

    def create_items(self, records: Sequence[dict[str, Any]]) -> list[WriteResult]:
        """Create new items with ``PUT`` (create only): a ``POST`` would update whichever item
        already has the code; ``PUT`` refuses it with "Price List Item with Code '…' already
        exists", so an item added in Xero meanwhile is never overwritten."""
        return self.write_batches("items", records, create_only=True)
