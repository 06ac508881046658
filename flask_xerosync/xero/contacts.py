"""Xero contacts: the paged pull, reads by id, number and name, and the writes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from ..errors import XeroNotFound
from .paging import PagedReads
from .results import ContactPage, WriteResult
from .transport import IDS_PER_REQUEST, chunks


class ContactsApi(PagedReads):
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
        params: dict[str, Any] = {"order": "ContactID ASC"}
        if include_archived:
            params["includeArchived"] = "true"
        for page in self._iter_pages("/Contacts", "Contacts", "ContactID", params, modified_since,
                               page_size=self.page_size, start_page=start_page):
            yield ContactPage(page.number, page.records, page.xero_time)

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

