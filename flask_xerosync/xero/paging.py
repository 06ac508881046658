"""Xero's paged reads (``page``/``pageSize``, the ``pagination`` object), one page per call."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .dates import parse_xero_date
from .transport import XeroTransport


@dataclass(frozen=True)
class Page:
    """A page: its number, the records on it not seen on an earlier page of this read, and Xero's
    clock when it answered (the envelope's ``DateTimeUTC``; ``None`` when the answer had none,
    e.g. a ``304 Not Modified``)."""

    number: int
    records: list[dict[str, Any]]
    xero_time: datetime | None


class PagedReads(XeroTransport):
    """The transport with Xero's paged reads, for the resources that page (contacts, invoices)."""

    def _iter_pages(
        self, path: str, collection: str, key: str, params: dict[str, Any], modified_since: datetime | None,
        *, page_size: int, start_page: int = 1,
    ) -> Iterator[Page]:
        """Every page of ``collection`` at ``path``, from ``start_page``; the first one is yielded
        even when empty, so the caller always learns Xero's clock. A record read on an earlier page
        (it moved while we paged) is dropped by its ``key`` field; memory: the keys read so far."""
        seen: set[str] = set()
        page = start_page
        while True:
            body = self._get(path, params={**params, "page": page, "pageSize": page_size},
                             modified_since=modified_since)
            records = self._collection(body, collection)
            fresh = [record for record in records if _key(record, key) not in seen]
            seen.update(found for record in fresh if (found := _key(record, key)))
            yield Page(page, fresh, xero_time(body))
            pagination = body.get("pagination") if isinstance(body, dict) else None
            page_count = pagination.get("pageCount") if isinstance(pagination, dict) else None
            if isinstance(page_count, int):
                if page >= page_count:
                    return
            elif len(records) < page_size:
                return
            page += 1


def _key(record: dict[str, Any], key: str) -> str | None:
    return str(record.get(key) or "").lower() or None


def xero_time(body: Any) -> datetime | None:
    """Xero's clock when it answered: the ``DateTimeUTC`` of the response envelope."""
    value = body.get("DateTimeUTC") if isinstance(body, dict) else None
    if not isinstance(value, str):
        return None
    try:
        return parse_xero_date(value)
    except ValueError:
        return None
