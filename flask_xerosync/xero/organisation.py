"""The organisation: whether it is still connected, its details, accounts and tax rates."""

from __future__ import annotations

from typing import Any

from ..errors import ReconnectNeeded, XeroUnexpectedResponse
from .transport import XeroTransport

CONNECTIONS_PATH = "/connections"


class OrganisationApi(XeroTransport):
    def verify_connection(self) -> dict[str, Any]:
        """This organisation's entry in ``GET /connections``; :class:`ReconnectNeeded` when the
        organisation is no longer connected (a token can still refresh after that).

        The call is tenant-less: Xero counts it against the app-wide minute only, so it takes no
        place from the organisation's limiter (it is still counted in :attr:`calls`).
        """
        body = self._json(self._request("GET", CONNECTIONS_PATH, tenant_less=True), CONNECTIONS_PATH)
        if not isinstance(body, list):
            raise XeroUnexpectedResponse("Xero's answer about this app's connections was not a list.")
        for entry in body:
            if isinstance(entry, dict) and entry.get("tenantId") == self.tenant_id:
                return entry
        raise ReconnectNeeded(
            f"{self.org_label[0].upper()}{self.org_label[1:]} is no longer connected to this app (it was "
            "disconnected in Xero, or your access changed). Reconnect to Xero to continue."
        )

    def get_accounts(self) -> list[dict[str, Any]]:
        return self._collection(self._get("/Accounts"), "Accounts")

    def get_tax_rates(self) -> list[dict[str, Any]]:
        return self._collection(self._get("/TaxRates"), "TaxRates")

    def get_organisation(self) -> dict[str, Any]:
        organisations = self._collection(self._get("/Organisation"), "Organisations")
        if not organisations:
            raise XeroUnexpectedResponse("Xero returned no organisation details for this connection.")
        return organisations[0]
