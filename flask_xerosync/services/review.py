"""Resolve a client the sync reported as "needs review": link it to a chosen Xero contact, or
create it as a new record on the other side.

Called from the run page with the app's state: the functions act at once through the connection's
Xero API, commit, and mark the record resolved. A refusal is raised as
:class:`~flask_xerosync.errors.XeroSyncError` with a plain-language message.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..errors import XeroSyncError
from ..host import Client
from ..models import LinkKind, RecordResult, Run
from ..state import XeroSyncState
from ..sync.contacts import (
    client_fingerprint,
    client_from_contact,
    contact_payload,
    host_clients_by_id,
    merge_for_link,
    xero_updated_at,
)
from ..sync.matching import normalise_name
from ..sync.outcomes import TO_HOST, TO_XERO, fix_for
from ..sync.store import LinkConflict, Scope, SyncStore
from .connections import connection_of
from .preferences import preferences_for
from .xero_api import open_api


def candidates_of(record: RecordResult) -> list[dict[str, Any]]:
    """The Xero contacts a host client could be (``xero_id``, ``name``, ``email``)."""
    return [c for c in (record.details or {}).get("candidates") or [] if c.get("xero_id")]


class _Resolver:
    def __init__(self, state: XeroSyncState, record: RecordResult) -> None:
        if record.resolved:
            raise XeroSyncError("This record was already resolved.")
        session = state.db.session
        run = session.get(Run, record.run_id)
        assert run is not None
        self.record = record
        self.scope = Scope(run.account_id, run.tenant_id)
        self.store = SyncStore(session)
        self.host = state.host_data
        self.preferences = preferences_for(session, run.account_id)
        connection = connection_of(session, run.account_id)
        if connection is None or connection.tenant_id != run.tenant_id:
            raise XeroSyncError("This account is no longer connected to the organisation of that sync.")
        self.api = open_api(state, connection)

    def host_client(self) -> Client:
        found = host_clients_by_id(self.host, self.scope.account_id, [str(self.record.host_id)])
        if not found:
            raise XeroSyncError("That client no longer exists here.")
        return found[str(self.record.host_id)]

    def contact(self, contact_id: str) -> dict[str, Any]:
        found = self.api.get_contacts([contact_id])
        if not found:
            raise XeroSyncError("That Xero contact no longer exists.")
        return found[0]

    def push(self, client: Client, contact_id: str | None) -> dict[str, Any]:
        result = self.api.upsert_contacts([contact_payload(client, contact_id)])[0]
        if not result.ok:
            raise XeroSyncError(f"Xero refused it: {'; '.join(result.messages)} {fix_for(result.messages)}")
        return result.record

    def link(self, host: Client, contact_id: str, contact: dict[str, Any], as_in_xero: Client | None = None) -> None:
        """Link; the fingerprint is of the values Xero holds (``as_in_xero``, default: ``host``)."""
        try:
            self.store.save_link(
                self.scope, LinkKind.CLIENT, str(host.id), contact_id,
                fingerprint=client_fingerprint(as_in_xero or host), xero_key=normalise_name(host.name),
                xero_updated_at=xero_updated_at(contact),
            )
        except LinkConflict:
            raise XeroSyncError("That Xero contact is already linked to another client.") from None

    def done(self, resolution: str, xero_id: str | None = None, host_id: str | None = None) -> None:
        self.record.resolved = True
        self.record.details = {**(self.record.details or {}), "resolution": resolution}
        if xero_id:
            self.record.xero_id = xero_id
        if host_id:
            self.record.host_id = host_id
        self.store.commit()


def link_to_contact(state: XeroSyncState, record: RecordResult, xero_id: str) -> None:
    """Link the record's host client to the Xero contact chosen among its candidates; the two
    are merged by the conflict policy (the winner's values, the other's where the winner has none)."""
    if record.direction != TO_XERO or not record.host_id:
        raise XeroSyncError("Only a client of this app can be linked to a chosen Xero contact.")
    if xero_id not in {str(c["xero_id"]) for c in candidates_of(record)}:
        raise XeroSyncError("Choose one of the Xero contacts listed for this client.")
    resolver = _Resolver(state, record)
    host = resolver.host_client()
    contact = resolver.contact(xero_id)
    xero_value = client_from_contact(contact)
    xero_wins = (resolver.preferences.conflict_policy or "xero_wins") == "xero_wins"
    winner, loser = (xero_value, host) if xero_wins else (host, xero_value)
    merged = merge_for_link(winner, loser, host)
    if client_fingerprint(merged) != client_fingerprint(host):
        resolver.host.save_clients(resolver.scope.account_id, [merged])
    resolver.link(merged, xero_id, contact, as_in_xero=xero_value)
    if client_fingerprint(merged) != client_fingerprint(xero_value):
        contact = resolver.push(merged, xero_id)
        resolver.link(merged, xero_id, contact)
    resolver.done("linked", xero_id=xero_id)


def create_new(state: XeroSyncState, record: RecordResult) -> None:
    """Create the record on the other side as a new client / contact, and link the two."""
    resolver = _Resolver(state, record)
    if record.direction == TO_XERO and record.host_id:
        host = resolver.host_client()
        name = normalise_name(host.name)
        if any(normalise_name(c.get("name") or "") == name for c in candidates_of(record)):
            raise XeroSyncError(
                f"A Xero contact is already called {host.name}, and Xero needs contact names to be unique. "
                "Rename this client first, then create it in Xero."
            )
        contact = resolver.push(host, None)
        resolver.link(host, str(contact["ContactID"]), contact)
        resolver.done("created_in_xero", xero_id=str(contact["ContactID"]))
        return
    if record.direction == TO_HOST and record.xero_id:
        contact = resolver.contact(record.xero_id)
        value = replace(client_from_contact(contact), updated_at=None)
        host_id = resolver.host.save_clients(resolver.scope.account_id, [value])[0]
        resolver.link(replace(value, id=str(host_id)), record.xero_id, contact)
        resolver.done("created_here", host_id=str(host_id))
        return
    raise XeroSyncError("This record cannot be created on the other side.")
