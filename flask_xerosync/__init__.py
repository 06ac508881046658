"""flask-xerosync: Accounting Sync with Xero for Flask field-service apps.

::

    from flask_xerosync import XeroSync
    xerosync = XeroSync()
    xerosync.init_app(app, db=db, host_data=MyHostData())

    @xerosync.account_loader
    def current_account_id() -> str | None: ...
"""

from __future__ import annotations

from . import signals
from .config import ConfigError
from .extension import XeroSync
from .host import Address, Client, HostData, Invoice, InvoiceLine, Item

__version__ = "0.1.0"

__all__ = [
    "Address",
    "Client",
    "ConfigError",
    "HostData",
    "Invoice",
    "InvoiceLine",
    "Item",
    "XeroSync",
    "__version__",
    "signals",
]
