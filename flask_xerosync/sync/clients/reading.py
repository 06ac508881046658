"""Step 1 of the clients stage: read what changed on both sides into the known-records cache.

- The host's clients changed since the last scan (``HostData.list_clients``) are read to the end
  of the stream, then committed once (a commit would close a host's server-side cursor).
- Xero's contacts changed since the last pull are read page by page, ordered by ``ContactID``,
  archived ones included, each page committed before the next call. The next pull starts at Xero's
  clock at this pull's first page less a second (``SyncContext.pull``) (a contact edited while we page is
  read again next time, never missed); a run continued after a pause goes on from the page after
  the last one it committed.

A record is *pending* (unsettled) when it is not linked, or when its values differ from those
its link last settled: an echo of the sync's own write is therefore not pending, and is counted
as unchanged here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ...host import Client
from ...models import LinkKind, Outcome, Side, utcnow
from ..context import SyncContext, batched, iso, parse_mark
from ..known import KnownRecords, KnownRow
from ..ports import ContactPageLike
from ..rules import email_key, name_key
from ..xero_dates import xero_updated_at
from . import mapping

SCAN_CHUNK = 500
HOST_MARK = "host_clients"
XERO_MARK = "xero_contacts"


def unchanged(values: Mapping[str, Any], base: Mapping[str, Any] | None, region: str | None) -> bool:
    """Whether ``values`` are the values a link last settled (every field the same)."""
    if base is None:
        return False
    return all(mapping.same(name, values.get(name), base.get(name), region) for name in mapping.FIELDS)


def host_row(client: Client, values: dict[str, Any], *, pending: bool) -> KnownRow:
    return KnownRow(
        record_id=str(client.id), label=values["name"], email_key=email_key(values["email"]),
        name_key=name_key(values["name"]), number="", archived=values["archived"], values=values,
        pending=pending, source_updated_at=client.updated_at,
    )


def xero_row(contact: Mapping[str, Any], values: dict[str, Any], *, pending: bool) -> KnownRow:
    return KnownRow(
        record_id=str(contact["ContactID"]), label=values["name"], email_key=email_key(values["email"]),
        name_key=name_key(values["name"]), number=str(contact.get("ContactNumber") or "").strip(),
        archived=values["archived"], values=values,
        meta={"customer": bool(contact.get("IsCustomer")), "supplier": bool(contact.get("IsSupplier")),
              "status": str(contact.get("ContactStatus") or "ACTIVE"),
              "merged_to": str(contact.get("MergedToContactID") or "") or None},
        pending=pending, source_updated_at=xero_updated_at(contact),
    )


class Reader:
    """Fills the cache for one run of the clients stage (see the module docstring)."""

    def __init__(self, ctx: SyncContext, known: KnownRecords) -> None:
        self.ctx = ctx
        self.known = known
        self.cursor = ctx.cursor_of("clients")

    def scan_host(self, only: Iterable[str] | None = None) -> None:
        """Read the host's changed clients (or, with ``only``, just those clients) into the cache."""
        ctx = self.ctx
        if only is None and self.cursor.get("scanned"):
            return
        started = utcnow()
        if only is None:
            clients: Iterable[Client] = ctx.host.list_clients(ctx.account_id, parse_mark(ctx.marks.get(HOST_MARK)))
        else:
            clients = ctx.host_clients(only).values()
        for chunk in batched(clients, SCAN_CHUNK):
            links = ctx.store.links_by_host(ctx.scope, LinkKind.CLIENT, [str(c.id) for c in chunk])
            rows = []
            for client in chunk:
                link = links.get(str(client.id))
                values = mapping.of_client(client)
                same = link is not None and unchanged(values, link.host_values, ctx.region)
                if same:
                    ctx.tally.add("clients", Outcome.UNCHANGED)
                rows.append(host_row(client, values, pending=not same))
            self.known.write(Side.HOST, rows)
        if only is None:
            ctx.set_mark(HOST_MARK, iso(started))
            self.cursor["scanned"] = True
        ctx.commit()

    def pull_xero(self) -> None:
        """Read Xero's changed contacts into the cache, page by page."""
        ctx = self.ctx
        if self.cursor.get("pulled"):
            return
        since = parse_mark(self.cursor.get("pull_since", ctx.marks.get(XERO_MARK)))
        self.cursor["pull_since"] = iso(since)
        first_page = int(self.cursor.get("pull_page", 0)) + 1
        pages = ctx.api.iter_contact_pages(since, include_archived=True, start_page=first_page)
        ctx.pull(self.cursor, pages, self._take_pulled, XERO_MARK)
        self.cursor["pulled"] = True
        ctx.commit()

    def _take_pulled(self, page: ContactPageLike) -> int:
        self._take_page(page.contacts)
        return len(page.contacts)

    def take_contacts(self, contacts: Sequence[Mapping[str, Any]]) -> None:
        """Put contacts read outside the pull (a name-clash lookup) into the cache."""
        self._take_page(contacts)

    def _take_page(self, contacts: Sequence[Mapping[str, Any]]) -> None:
        ctx = self.ctx
        usable = [contact for contact in contacts if contact.get("ContactID")]
        links = ctx.store.links_by_xero(ctx.scope, LinkKind.CLIENT, [str(c["ContactID"]) for c in usable])
        rows = []
        for contact in usable:
            link = links.get(str(contact["ContactID"]))
            values = mapping.of_contact(contact, ctx.region)
            same = link is not None and unchanged(values, link.xero_values, ctx.region)
            if same:
                ctx.tally.add("clients", Outcome.UNCHANGED)
            rows.append(xero_row(contact, values, pending=not same))
        self.known.write(Side.XERO, rows)

