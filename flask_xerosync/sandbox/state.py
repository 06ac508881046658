"""The sandbox's in-memory world: apps, users, organisations, connections and tokens.

One re-entrant lock guards the data. Rate-limit bookkeeping lives in
:class:`~.limits.Limiter` with its own lock so in-flight requests stay visible
while another request holds the data lock. Webhook bookkeeping
(:class:`~.webhooks.WebhookHub`) has its own lock as well, taken after the data
lock and never before it, and sends nothing while holding either.
"""

from __future__ import annotations

import secrets
import string
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .charts import default_accounts, default_tax_rates, organisation_record, profile_for
from .clock import SandboxClock
from .faults import FaultBook
from .idempotency import IdempotencyStore
from .limits import Limiter
from .tokens import Signer
from .webhook_delivery import WebhookDispatcher
from .webhooks import WebhookHub


@dataclass
class App:
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    name: str = "Sandbox App"
    bulk_connections: bool = False
    created_after_granular: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "redirect_uris": list(self.redirect_uris),
            "name": self.name,
            "bulk_connections": self.bulk_connections,
            "created_after_granular": self.created_after_granular,
        }


@dataclass
class User:
    user_id: str
    email: str
    first_name: str
    last_name: str
    tenant_ids: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def as_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "email": self.email,
            "name": self.name,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "tenant_ids": list(self.tenant_ids),
        }


@dataclass
class Connection:
    id: str
    client_id: str
    user_id: str
    tenant_id: str
    auth_event_id: str
    created: datetime
    updated: datetime


@dataclass
class Grant:
    """One consent: the scopes a user gave an app, shared by its token chain."""

    grant_id: str
    client_id: str
    user_id: str
    scopes: tuple[str, ...]
    auth_event_id: str
    authorised_at: datetime
    revoked: bool = False


@dataclass
class AuthCode:
    code: str
    grant_id: str
    redirect_uri: str
    issued_at: float
    code_challenge: str | None
    code_challenge_method: str | None
    nonce: str | None
    used: bool = False


@dataclass
class RefreshToken:
    token: str
    grant_id: str
    issued_at: float
    rotated_at: float | None = None
    revoked: bool = False


@dataclass
class AccessToken:
    token: str
    grant_id: str
    expires_at: float


@dataclass
class ConsentPreset:
    action: str
    tenant_ids: list[str] | None
    user_id: str | None


@dataclass
class PendingConsent:
    request_id: str
    client_id: str
    user_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    nonce: str | None
    created: float


class Org:
    """One Xero organisation (tenant) and its accounting data, in insertion order."""

    def __init__(
        self, tenant_id: str, name: str, country: str, currency: str, short_code: str, now: datetime
    ) -> None:
        self.tenant_id = tenant_id
        self.name = name
        self.country = country.upper()
        self.currency = currency
        self.short_code = short_code
        self.profile = profile_for(country)
        self.record = organisation_record(tenant_id, name, country, currency, short_code, now)
        self.accounts: list[dict[str, Any]] = default_accounts(country, now)
        self.tax_rates: list[dict[str, Any]] = default_tax_rates(country)
        self.contacts: dict[str, dict[str, Any]] = {}
        self.items: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.contact_names: dict[str, str] = {}  # normalised ACTIVE name -> ContactID
        self.contact_numbers: dict[str, str] = {}  # ContactNumber -> ContactID (first holder)
        self.item_codes: dict[str, str] = {}  # normalised Code -> ItemID
        self.invoice_numbers: dict[str, str] = {}  # normalised ACCREC InvoiceNumber -> InvoiceID
        self.next_invoice_seq = 1
        self.on_change: Callable[[str, str, str, str], None] | None = None

    def changed(self, category: str, event_type: str, resource_id: str) -> None:
        """A contact or invoice was created or updated (what Xero sends webhooks for)."""
        if self.on_change is not None:
            self.on_change(self.tenant_id, category, event_type, resource_id)

    def account(self, code: str) -> dict[str, Any] | None:
        for account in self.accounts:
            if account["Code"] == code and account["Status"] == "ACTIVE":
                return account
        return None

    def tax_rate(self, tax_type: str) -> dict[str, Any] | None:
        for rate in self.tax_rates:
            if rate["TaxType"] == tax_type and rate["Status"] == "ACTIVE":
                return rate
        return None

    def summary(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "name": self.name,
            "country": self.country,
            "base_currency": self.currency,
            "short_code": self.short_code,
            "contacts": len(self.contacts),
            "items": len(self.items),
            "invoices": len(self.invoices),
        }


def _short_code() -> str:
    return "!" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(5))


class SandboxState:
    """Everything the sandbox knows; reset wipes it back to empty."""

    def __init__(self, clock: SandboxClock) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.limiter = Limiter(clock)
        self.faults = FaultBook()
        self.idempotency = IdempotencyStore(clock)
        self.signer = Signer()
        self.webhooks = WebhookHub(clock, self.connected_clients)
        self.dispatcher = WebhookDispatcher(self.webhooks)
        self._init_data()

    def _init_data(self) -> None:
        self.apps: dict[str, App] = {}
        self.users: dict[str, User] = {}
        self.orgs: dict[str, Org] = {}
        self.connections: dict[str, Connection] = {}
        self.grants: dict[str, Grant] = {}
        self.codes: dict[str, AuthCode] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.consent_presets: dict[str, ConsentPreset] = {}
        self.pending: dict[str, PendingConsent] = {}
        self.signed_in_user: str | None = None

    def reset(self) -> None:
        with self.lock:
            self._init_data()
            self.limiter.reset()
            self.faults.reset()
            self.idempotency.reset()
            self.webhooks.reset()
            self.dispatcher.paused = False
            self.clock.reset()

    def close(self) -> None:
        """Stop the background webhook sender (the sandbox is shutting down)."""
        self.dispatcher.close()

    # --- registry -----------------------------------------------------------------
    def register_app(
        self,
        client_id: str,
        client_secret: str,
        redirect_uris: list[str],
        name: str = "Sandbox App",
        bulk_connections: bool = False,
        created_after_granular: bool = True,
    ) -> App:
        with self.lock:
            app = App(client_id, client_secret, list(redirect_uris), name, bulk_connections,
                      created_after_granular)
            self.apps[client_id] = app
            return app

    def create_user(
        self,
        email: str,
        name: str = "Sandbox User",
        tenant_ids: list[str] | None = None,
        user_id: str | None = None,
    ) -> User:
        first, _, last = name.partition(" ")
        with self.lock:
            for existing in self.users.values():
                if existing.email.lower() == email.lower():
                    raise ValueError(f"a user with e-mail {email} already exists")
            for tenant_id in tenant_ids or []:
                if tenant_id not in self.orgs:
                    raise KeyError(f"unknown organisation {tenant_id}")
            user = User(user_id or str(uuid.uuid4()), email, first, last, list(dict.fromkeys(tenant_ids or [])))
            self.users[user.user_id] = user
            if self.signed_in_user is None:
                self.signed_in_user = user.user_id
            return user

    def grant_access(self, user_id: str, tenant_id: str) -> None:
        with self.lock:
            if tenant_id not in self.orgs:
                raise KeyError(f"unknown organisation {tenant_id}")
            user = self.users.get(user_id)
            if user is not None and tenant_id not in user.tenant_ids:
                user.tenant_ids.append(tenant_id)

    def find_user(self, ref: str | None) -> User | None:
        """A user by id or e-mail (case-insensitive); ``None`` for the signed-in user."""
        with self.lock:
            if ref is None:
                return self.users.get(self.signed_in_user or "")
            if ref in self.users:
                return self.users[ref]
            for user in self.users.values():
                if user.email.lower() == ref.lower():
                    return user
            return None

    def create_org(
        self,
        name: str,
        country: str = "NZ",
        base_currency: str | None = None,
        short_code: str | None = None,
        user_ids: list[str] | None = None,
        tenant_id: str | None = None,
    ) -> Org:
        country = "GB" if country.upper() == "UK" else country.upper()  # Xero's CountryCode is ISO 3166
        with self.lock:
            tenant_id = tenant_id or str(uuid.uuid4())
            currency = base_currency or profile_for(country).currency
            org = Org(tenant_id, name, country, currency, short_code or _short_code(), self.clock.now())
            org.on_change = self.webhooks.record
            self.orgs[tenant_id] = org
            for ref in user_ids or []:
                user = self.find_user(ref)
                if user is None:
                    raise KeyError(f"unknown user {ref}")
                if tenant_id not in user.tenant_ids:
                    user.tenant_ids.append(tenant_id)
            return org

    def org(self, tenant_id: str) -> Org:
        org = self.orgs.get(tenant_id)
        if org is None:
            raise KeyError(f"unknown organisation {tenant_id}")
        return org

    # --- connections ----------------------------------------------------------------
    def connect(self, client_id: str, user_id: str, tenant_ids: list[str], auth_event_id: str) -> None:
        """Create or refresh the connections a consent approved (same id on reconnect)."""
        now = self.clock.now()
        with self.lock:
            for tenant_id in tenant_ids:
                existing = self.find_connection(client_id, user_id, tenant_id)
                if existing:
                    existing.auth_event_id = auth_event_id
                    existing.updated = now
                    continue
                conn = Connection(str(uuid.uuid4()), client_id, user_id, tenant_id, auth_event_id, now, now)
                self.connections[conn.id] = conn

    def find_connection(self, client_id: str, user_id: str, tenant_id: str) -> Connection | None:
        for conn in self.connections.values():
            if (conn.client_id, conn.user_id, conn.tenant_id) == (client_id, user_id, tenant_id):
                return conn
        return None

    def connected_clients(self, tenant_id: str) -> set[str]:
        """The apps connected to an organisation (by any user)."""
        with self.lock:
            return {c.client_id for c in self.connections.values() if c.tenant_id == tenant_id}

    def connections_for(self, client_id: str, user_id: str) -> list[Connection]:
        with self.lock:
            return [
                c for c in self.connections.values() if c.client_id == client_id and c.user_id == user_id
            ]

    def connection_json(self, conn: Connection) -> dict[str, Any]:
        org = self.orgs.get(conn.tenant_id)
        return {
            "id": conn.id,
            "authEventId": conn.auth_event_id,
            "tenantId": conn.tenant_id,
            "tenantType": "ORGANISATION",
            "tenantName": org.name if org else "",
            "createdDateUtc": _iso(conn.created),
            "updatedDateUtc": _iso(conn.updated),
        }

    def remove_connections(
        self, tenant_id: str | None = None, client_id: str | None = None, user_id: str | None = None
    ) -> int:
        with self.lock:
            doomed = [
                cid
                for cid, c in self.connections.items()
                if (tenant_id is None or c.tenant_id == tenant_id)
                and (client_id is None or c.client_id == client_id)
                and (user_id is None or c.user_id == user_id)
            ]
            for cid in doomed:
                del self.connections[cid]
            return len(doomed)


def _iso(moment: datetime) -> str:
    """Connections use ISO dates with 7 fractional digits and no offset (see the identity spec)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0"
