"""What the clients stage decided for one record (or one linked pair): a *unit* of work.

Deciding (``deciding``) produces units; writing (``writing``) carries them out in batches, or, in
a preview, only reports them. A unit says what to write on each side and what to record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...host import Client

CREATE_IN_XERO = "create_in_xero"
CREATE_HERE = "create_here"
LINK = "link"
UPDATE = "update"
UNCHANGED = "unchanged"
REVIEW = "review"
SKIP = "skip"


@dataclass
class Unit:
    """One record's (or linked pair's) work.

    ``host_id`` / ``xero_id``: the records concerned (``None`` for one still to be created).
    ``host_values`` / ``xero_values``: each side's values once the unit is done (what the link
    keeps). ``save_host``: the host client to save (new when its id is ``None``).
    ``xero_payload``: the contact to send (``PUT`` for :data:`CREATE_IN_XERO`, ``POST`` else).
    ``details`` / ``message`` / ``fix``: what the run log says.
    """

    action: str
    label: str
    host_id: str | None = None
    xero_id: str | None = None
    host_values: dict[str, Any] | None = None
    xero_values: dict[str, Any] | None = None
    save_host: Client | None = None
    xero_payload: dict[str, Any] | None = None
    direction: str = ""
    message: str = ""
    fix: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    xero_updated_at: Any = None

    @property
    def writes_xero(self) -> bool:
        return self.xero_payload is not None

    @property
    def creates_in_xero(self) -> bool:
        return self.action == CREATE_IN_XERO
