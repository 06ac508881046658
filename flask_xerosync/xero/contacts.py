"""Xero contacts: the paged pull, reads by id, number and name, and the writes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from ..errors import XeroNotFound
from .dates import parse_xero_date
from .results import ContactPage, WriteResult
from .transport import IDS_PER_REQUEST, XeroTransport, chunks


class ContactsApi(XeroTransport):
    def iter_contact_pages(
        self, modified_since: datetime | None, *, include_archived: bool = True, start_page: int = 1
    ) -> Iterator[ContactPage]:
        """Contacts changed since ``modified_since`` (all when ``None``), one page at a time.

        Yields one :class:`ContactPage` per page fetched, the first one even when nothing
        changed, so the caller always learns Xero's clock at the start of the pull.

        Pages are ordered by ``ContactID``, which an edit does not change. The set being paged
        only grows while we read (a contact edited or created in Xero joins it; nothing leaves
        it, as contacts are archived, never deleted), so a contact can only move to a later
        page: one already read may come back, and is dropped here; one that joins on a page
        already read is missed by this pull, but it changed after the pull started, so a next
        pull ``If-Modified-Since`` Xero's clock at the first page (minus a safety margin) finds
        it. Memory: the ``ContactID`` s read so far (about 100 bytes each). ``start_page`` goes on
        with a pull that stopped after the page before it.
        """
        seen: set[str] = set()
        page = start_page
        while True:
            params: dict[str, Any] = {"page": page, "pageSize": self.page_size, "order": "ContactID ASC"}
            if include_archived:
                params["includeArchived"] = "true"
            body = self._get("/Contacts", params=params, modified_since=modified_since)
            contacts = self._collection(body, "Contacts")
            fresh = [contact for contact in contacts if _contact_key(contact) not in seen]
            seen.update(key for contact in fresh if (key := _contact_key(contact)))
            yield ContactPage(page, fresh, _xero_time(body))
            pagination = body.get("pagination") if isinstance(body, dict) else None
            page_count = pagination.get("pageCount") if isinstance(pagination, dict) else None
            if isinstance(page_count, int):
                if page >= page_count:
                    return
            elif len(contacts) < self.page_size:
                return
            page += 1

    def get_contacts(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The contacts with these ``ContactID`` s (archived included); unknown IDs are skipped."""
        found: list[dict[str, Any]] = []
        for chunk in chunks(ids, IDS_PER_REQUEST):
            body = self._get("/Contacts", params={"IDs": ",".join(chunk), "includeArchived": "true"})
            found.extend(self._collection(body, "Contacts"))
        return found

    def get_contact(self, contact_id_or_number: str) -> dict[str, Any] | None:
        """One contact by ``ContactID`` or ``ContactNumber`` (Xero accepts either), or ``None``."""
        try:
            body = self._get(f"/Contacts/{quote(contact_id_or_number, safe='')}")
        except XeroNotFound:
            return None
        contacts = self._collection(body, "Contacts")
        return contacts[0] if contacts else None

    def find_contacts_by_name(self, name: str) -> list[dict[str, Any]]:
        """The active contacts called ``name`` (Xero compares names case-insensitively): one
        ``GET /Contacts?where=Name=="…"``, the form Xero documents for ``where``.

        A double quote or backslash inside the name is escaped with a backslash, as string
        literals in Xero's (.NET Dynamic LINQ) ``where`` expressions are written.
        """
        literal = name.strip().replace("\\", "\\\\").replace('"', '\\"')
        body = self._get("/Contacts", params={"where": f'Name=="{literal}"', "includeArchived": "false"})
        return self._collection(body, "Contacts")

    def upsert_contacts(self, records: Sequence[dict[str, Any]]) -> list[WriteResult]:
        return self.write_batches("contacts", records)

    def create_contacts(self, records: Sequence[dict[str, Any]]) -> list[WriteResult]:
        """Create new contacts with ``PUT`` (create only). A ``POST`` without ``ContactID`` matches
        an existing contact by name and silently overwrites it; ``PUT`` refuses a taken name with
        "The contact name … is already assigned to another contact", so the caller can decide."""
        return self.write_batches("contacts", records, create_only=True)


def _contact_key(contact: dict[str, Any]) -> str:
    return str(contact.get("ContactID") or "").lower()


def _xero_time(body: Any) -> datetime | None:
    """Xero's clock when it answered: the ``DateTimeUTC`` of the response envelope."""
    value = body.get("DateTimeUTC") if isinstance(body, dict) else None
    if not isinstance(value, str):
        return None
    try:
        return parse_xero_date(value)
    except ValueError:
        return None
