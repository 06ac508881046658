"""One Accounting API call as the handlers see it, and the query helpers they share."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import request

from .jsonfmt import ms_date, parse_http_datetime
from .state import Grant, Org, SandboxState

Result = tuple[int, "dict[str, Any] | None"]


@dataclass
class Call:
    """Everything a handler needs about one API request."""

    state: SandboxState
    org: Org
    grant: Grant
    resource: str
    ref: str | None
    method: str
    body: bytes

    @property
    def args(self) -> Any:
        return request.args

    @property
    def unitdp4(self) -> bool:
        return request.args.get("unitdp") == "4"

    @property
    def now(self) -> datetime:
        return self.state.clock.now()

    def bool_arg(self, name: str) -> bool:
        return request.args.get(name, "").lower() == "true"

    def modified_since(self) -> datetime | None:
        """``If-Modified-Since`` truncated to the second (Xero is "accurate to the second")."""
        raw = request.headers.get("If-Modified-Since")
        if not raw:
            return None
        parsed = parse_http_datetime(raw)
        return parsed.replace(microsecond=0) if parsed else None

    def envelope(self, payload: dict[str, Any]) -> dict[str, Any]:
        app = self.state.apps.get(self.grant.client_id)
        return {
            "Id": str(uuid.uuid4()),
            "Status": "OK",
            "ProviderName": app.name if app else "Xero Sandbox",
            "DateTimeUTC": ms_date(self.now, with_offset=False),
            **payload,
        }
