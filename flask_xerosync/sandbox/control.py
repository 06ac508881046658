"""Python client for the ``/_sandbox`` control surface (works against any sandbox process)."""

from __future__ import annotations

import re
from html import unescape
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

_REQUEST_ID_RE = re.compile(r'name="request_id" value="([^"]*)"')
_TENANT_RE = re.compile(r'name="tenant_id"\s+value="([^"]*)"(\s+checked)?')


class SandboxError(RuntimeError):
    """A control call failed; ``status`` and ``body`` say why."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"sandbox control call failed ({status}): {body}")
        self.status = status
        self.body = body


class SandboxControl:
    """Drive a running sandbox: register apps, users and orgs, seed data, limits, faults, clock."""

    def __init__(self, base_url: str, session: requests.Session | None = None, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.timeout = timeout

    def close(self) -> None:
        self.session.close()

    def _call(self, method: str, path: str, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        response = self.session.request(
            method, f"{self.base_url}/_sandbox{path}", json=json, params=params, timeout=self.timeout
        )
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if response.status_code >= 400:
            raise SandboxError(response.status_code, body)
        return body

    # --- world ---------------------------------------------------------------------------
    def reset(self) -> None:
        self._call("POST", "/reset")

    def state(self) -> dict[str, Any]:
        return self._call("GET", "/state")

    def seed_demo(self, redirect_uris: list[str] | None = None) -> dict[str, Any]:
        return self._call("POST", "/seed/demo", {"redirect_uris": redirect_uris or []})

    def register_app(
        self,
        client_id: str,
        client_secret: str,
        redirect_uris: list[str],
        name: str = "Sandbox App",
        bulk_connections: bool = False,
        created_after_granular: bool = True,
        app_per_minute: int | None = None,
    ) -> dict[str, Any]:
        return self._call("POST", "/apps", {
            "client_id": client_id, "client_secret": client_secret, "redirect_uris": redirect_uris,
            "name": name, "bulk_connections": bulk_connections,
            "created_after_granular": created_after_granular, "app_per_minute": app_per_minute,
        })

    def create_user(self, email: str, name: str = "Sandbox User", tenant_ids: list[str] | None = None) -> dict[str, Any]:
        return self._call("POST", "/users", {"email": email, "name": name, "tenant_ids": tenant_ids or []})

    def sign_in(self, user: str) -> dict[str, Any]:
        """Choose the user the consent page acts for (by e-mail or user id)."""
        return self._call("POST", "/session", {"user": user})

    def create_org(
        self,
        name: str,
        country: str = "NZ",
        base_currency: str | None = None,
        short_code: str | None = None,
        users: list[str] | None = None,
    ) -> str:
        """Create an organisation with a default chart of accounts; returns its tenantId."""
        body = self._call("POST", "/orgs", {
            "name": name, "country": country, "base_currency": base_currency, "short_code": short_code,
            "users": users or [],
        })
        return body["tenant_id"]

    def grant_access(self, tenant_id: str, user: str) -> dict[str, Any]:
        return self._call("POST", f"/orgs/{tenant_id}/users", {"user": user})

    # --- data ----------------------------------------------------------------------------
    def seed_contacts(self, tenant_id: str, contacts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self._call("POST", f"/orgs/{tenant_id}/contacts", {"Contacts": contacts})["Contacts"]

    def seed_items(self, tenant_id: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self._call("POST", f"/orgs/{tenant_id}/items", {"Items": items})["Items"]

    def seed_invoices(self, tenant_id: str, invoices: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self._call("POST", f"/orgs/{tenant_id}/invoices", {"Invoices": invoices})["Invoices"]

    def contacts(self, tenant_id: str) -> list[dict[str, Any]]:
        """Every contact (archived too), in Xero's JSON shape."""
        return self._call("GET", f"/orgs/{tenant_id}/contacts")["Contacts"]

    def items(self, tenant_id: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/orgs/{tenant_id}/items")["Items"]

    def invoices(self, tenant_id: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/orgs/{tenant_id}/invoices")["Invoices"]

    def edit_contact(self, tenant_id: str, contact: str, **fields: Any) -> dict[str, Any]:
        """Edit as a person in Xero would (``Name=...``, ``EmailAddress=...``); bumps UpdatedDateUTC."""
        return self._call("PATCH", f"/orgs/{tenant_id}/contacts/{contact}", fields)

    def archive_contact(self, tenant_id: str, contact: str) -> dict[str, Any]:
        return self._call("POST", f"/orgs/{tenant_id}/contacts/{contact}/archive")

    def unarchive_contact(self, tenant_id: str, contact: str) -> dict[str, Any]:
        return self._call("POST", f"/orgs/{tenant_id}/contacts/{contact}/unarchive")

    def merge_contacts(self, tenant_id: str, contact: str, into: str) -> dict[str, Any]:
        """Merge ``contact`` into ``into`` as in Xero: the first is archived with ``MergedToContactID``
        and its invoices move over. Returns ``{"merged": ..., "into": ...}``."""
        return self._call("POST", f"/orgs/{tenant_id}/contacts/{contact}/merge", {"into": into})

    def edit_item(self, tenant_id: str, item: str, **fields: Any) -> dict[str, Any]:
        return self._call("PATCH", f"/orgs/{tenant_id}/items/{item}", fields)

    def add_payment(
        self, tenant_id: str, invoice: str, amount: str | float | None = None, date: str | None = None,
        reference: str = "",
    ) -> dict[str, Any]:
        """Pay an AUTHORISED invoice (the full amount due when ``amount`` is None); PAID when nothing is due."""
        body = {"amount": str(amount) if amount is not None else None, "date": date, "reference": reference}
        return self._call("POST", f"/orgs/{tenant_id}/invoices/{invoice}/payments", body)

    def void_invoice(self, tenant_id: str, invoice: str) -> dict[str, Any]:
        """Void an AUTHORISED invoice without payments."""
        return self._call("POST", f"/orgs/{tenant_id}/invoices/{invoice}/void")

    def delete_invoice(self, tenant_id: str, invoice: str) -> dict[str, Any]:
        """Delete a DRAFT or SUBMITTED invoice (its Status becomes DELETED)."""
        return self._call("POST", f"/orgs/{tenant_id}/invoices/{invoice}/delete")

    # --- identity ------------------------------------------------------------------------
    def set_consent(
        self, client_id: str, action: str = "authorise", tenant_ids: list[str] | None = None,
        user: str | None = None,
    ) -> dict[str, Any]:
        """Make the next authorize requests of ``client_id`` redirect at once with this decision."""
        return self._call("POST", "/consent", {
            "client_id": client_id, "action": action, "tenant_ids": tenant_ids, "user": user,
        })

    def clear_consent(self, client_id: str | None = None) -> None:
        self._call("DELETE", "/consent", params={"client_id": client_id} if client_id else None)

    def authorize(
        self, authorize_url: str, action: str = "authorise", tenant_ids: list[str] | None = None,
        user: str | None = None,
    ) -> str:
        """Complete a consent headlessly and return the redirect URL (the host app's callback).

        Renders the consent page like a browser would, ticks ``tenant_ids`` (default:
        the preselected organisation) and presses Authorise or Cancel. When a consent
        preset is active the authorize request redirects straight away instead.
        """
        if user:
            self.sign_in(user)
        page = self.session.get(authorize_url, allow_redirects=False, timeout=self.timeout)
        if page.status_code in (301, 302, 303):
            return page.headers["Location"]
        if page.status_code != 200:
            raise SandboxError(page.status_code, page.text)
        match = _REQUEST_ID_RE.search(page.text)
        if match is None:
            raise SandboxError(page.status_code, "no consent form on the page")
        offered = [(unescape(t), bool(checked)) for t, checked in _TENANT_RE.findall(page.text)]
        chosen = tenant_ids if tenant_ids is not None else [t for t, checked in offered if checked][:1] or [
            t for t, _ in offered[:1]
        ]
        form = [("request_id", unescape(match.group(1))), ("action", action)]
        form += [("tenant_id", t) for t in chosen]
        parts = urlsplit(authorize_url)
        target = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        decision = self.session.post(target, data=form, allow_redirects=False, timeout=self.timeout)
        if decision.status_code not in (301, 302, 303):
            raise SandboxError(decision.status_code, decision.text)
        return decision.headers["Location"]

    def connections(self) -> list[dict[str, Any]]:
        return self._call("GET", "/connections")

    def revoke_connection(
        self, tenant_id: str | None = None, client_id: str | None = None, user: str | None = None,
        connection_id: str | None = None,
    ) -> int:
        """Disconnect as the user would in Xero: API calls get 403, refresh still works."""
        body = {"tenant_id": tenant_id, "client_id": client_id, "user": user, "connection_id": connection_id}
        return self._call("POST", "/connections/revoke", body)["removed"]

    def expire_refresh_token(self, refresh_token: str) -> int:
        return self._call("POST", "/tokens/expire", {"refresh_token": refresh_token})["expired"]

    def expire_access_token(self, access_token: str) -> int:
        return self._call("POST", "/tokens/expire", {"access_token": access_token})["expired"]

    def expire_tokens(self, client_id: str, user: str | None = None) -> int:
        """Invalidate every refresh token of an app (optionally one user's)."""
        return self._call("POST", "/tokens/expire", {"client_id": client_id, "user": user})["expired"]

    # --- limits, counters, faults, clock -------------------------------------------------
    def counters(self, tenant_id: str) -> dict[str, Any]:
        return self._call("GET", f"/orgs/{tenant_id}/counters")

    def reset_counters(self, tenant_id: str) -> None:
        self._call("DELETE", f"/orgs/{tenant_id}/counters")

    def set_limits(
        self, tenant_id: str, per_minute: int | None = None, concurrent: int | None = None,
        per_day: int | None = None,
    ) -> dict[str, Any]:
        return self._call("PUT", f"/orgs/{tenant_id}/limits", {
            "per_minute": per_minute, "concurrent": concurrent, "per_day": per_day,
        })

    def limits(self, tenant_id: str) -> dict[str, Any]:
        """The organisation's limits in force (its own, else the defaults)."""
        return self._call("GET", f"/orgs/{tenant_id}/limits")

    def set_app_limit(self, client_id: str, per_minute: int | None) -> dict[str, Any]:
        """The app-wide minute limit of one app (across all its tenants); ``None`` restores the default."""
        return self._call("PUT", f"/apps/{client_id}/limits", {"per_minute": per_minute})

    def app_limits(self, client_id: str) -> dict[str, Any]:
        """``{per_minute, used, remaining, rate_limited}`` of the app's current minute."""
        return self._call("GET", f"/apps/{client_id}/limits")

    def set_default_limits(
        self, per_minute: int | None = None, per_day: int | None = None, concurrent: int | None = None,
        app_per_minute: int | None = None,
    ) -> dict[str, Any]:
        """Scale Xero's limits for every organisation and app that has none of its own (until reset)."""
        return self._call("PUT", "/limits", {
            "per_minute": per_minute, "per_day": per_day, "concurrent": concurrent, "app_per_minute": app_per_minute,
        })

    def default_limits(self) -> dict[str, Any]:
        return self._call("GET", "/limits")

    def faults(
        self,
        tenant_id: str,
        error_rate: float = 0.0,
        error_statuses: list[int] | None = None,
        fail_next: list[int] | None = None,
        latency_ms: int = 0,
        drop_next: int = 0,
        drop_rate: float = 0.0,
        methods: list[str] | None = None,
        seed: int | None = None,
    ) -> dict[str, Any]:
        """Replace the organisation's fault plan (see docs/sandbox.md, "Faults")."""
        return self._call("PUT", f"/orgs/{tenant_id}/faults", {
            "error_rate": error_rate, "error_statuses": error_statuses, "fail_next": fail_next,
            "latency_ms": latency_ms, "drop_next": drop_next, "drop_rate": drop_rate, "methods": methods,
            "seed": seed,
        })

    def clear_faults(self, tenant_id: str) -> None:
        self._call("DELETE", f"/orgs/{tenant_id}/faults")

    def now(self) -> str:
        return self._call("GET", "/clock")["now"]

    def advance_clock(self, seconds: float) -> str:
        """Move sandbox time forward by ``seconds`` sandbox seconds; returns the new ISO time."""
        return self._call("POST", "/clock/advance", {"seconds": seconds})["now"]

    def set_time_scale(self, time_scale: float) -> dict[str, Any]:
        return self._call("PUT", "/clock", {"time_scale": time_scale})

    # --- webhooks ------------------------------------------------------------------------
    def register_webhook(
        self, client_id: str, url: str, signing_key: str | None = None, categories: list[str] | None = None,
        batch_delay: float | None = None, timeout: float | None = None,
    ) -> dict[str, Any]:
        """Subscribe an app to webhooks and run Intent to Receive; ``status`` is "OK" or "FAILED".

        ``signing_key`` defaults to a new random key (returned); ``categories`` to CONTACT and
        INVOICE; ``batch_delay`` (sandbox seconds, default 1) groups close events into one
        delivery; ``timeout`` (real seconds, at most and by default Xero's 5).
        """
        return self._call("POST", f"/apps/{client_id}/webhook", {
            "url": url, "signing_key": signing_key, "categories": categories, "batch_delay": batch_delay,
            "timeout": timeout,
        })

    def update_webhook(
        self, client_id: str, url: str | None = None, signing_key: str | None = None, enabled: bool | None = None,
        categories: list[str] | None = None, batch_delay: float | None = None, timeout: float | None = None,
    ) -> dict[str, Any]:
        """Change the subscription; a new URL or ``enabled=True`` (when not OK) reruns Intent to Receive."""
        return self._call("PATCH", f"/apps/{client_id}/webhook", {
            "url": url, "signing_key": signing_key, "enabled": enabled, "categories": categories,
            "batch_delay": batch_delay, "timeout": timeout,
        })

    def webhook(self, client_id: str) -> dict[str, Any]:
        """The subscription: url, signing_key, status, reason, intent_to_receive checks, pending_events."""
        return self._call("GET", f"/apps/{client_id}/webhook")

    def remove_webhook(self, client_id: str) -> None:
        self._call("DELETE", f"/apps/{client_id}/webhook")

    def webhook_deliveries(self, client_id: str | None = None, outcome: str | None = None) -> list[dict[str, Any]]:
        """Deliveries in creation order; ``outcome`` is pending, retrying, delivered or failed."""
        params = {k: v for k, v in {"client_id": client_id, "outcome": outcome}.items() if v}
        return self._call("GET", "/webhooks/deliveries", params=params)

    def webhook_delivery(self, delivery_id: str) -> dict[str, Any]:
        return self._call("GET", f"/webhooks/deliveries/{delivery_id}")

    def pause_webhooks(self, paused: bool = True) -> None:
        """Stop (or restart) the background sender; only ``flush_webhooks``/``replay_webhook`` send then."""
        self._call("PUT", "/webhooks/sender", {"paused": paused})

    def flush_webhooks(self, client_id: str | None = None) -> list[dict[str, Any]]:
        """Send queued events now (ignoring the batch delay) and every delivery due.

        Returns the deliveries this call sent. Unless paused, the background sender may
        have sent some just before; when this returns nothing queued or due is left unsent.
        """
        return self._call("POST", "/webhooks/flush", {"client_id": client_id})["deliveries"]

    def replay_webhook(self, delivery_id: str) -> dict[str, Any]:
        """Send an earlier delivery's exact body again (same events, sequences and entropy)."""
        return self._call("POST", f"/webhooks/deliveries/{delivery_id}/replay")
