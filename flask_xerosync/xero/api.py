"""``XeroApi``: Xero's accounting API for one organisation, as the sync and the pages use it.

It is the :class:`~.transport.XeroTransport` (HTTP, retries, the shared limiter, batch writes)
with every resource's calls on it, under flat names (``get_contacts``, ``upsert_items``,
``verify_connection``…): each resource module adds its own calls to the transport, and this class
puts them together.
"""

from __future__ import annotations

from .contacts import ContactsApi
from .invoices import InvoicesApi
from .items import ItemsApi
from .organisation import OrganisationApi


class XeroApi(ContactsApi, ItemsApi, InvoicesApi, OrganisationApi):
    """Calls Xero's accounting API for one organisation (``tenant_id``) through ``session``; see
    :class:`~.transport.XeroTransport` for the constructor's options."""
