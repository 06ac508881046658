"""flask-xerosync: Accounting Sync with Xero for Flask field-service apps.

::

    from flask_xerosync import XeroSync
    xerosync = XeroSync()
    xerosync.init_app(app, db=db, host_data=MyHostData())

    @xerosync.account_loader
    def current_account_id() -> str | None: ...
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .host import Address, Client, HostData, Invoice, InvoiceLine, Item, PaidStatus

if TYPE_CHECKING:
    from . import signals
    from .config import ConfigError
    from .extension import XeroSync

__version__ = "0.1.0"

__all__ = [
    "Address",
    "Client",
    "ConfigError",
    "HostData",
    "Invoice",
    "InvoiceLine",
    "Item",
    "PaidStatus",
    "XeroSync",
    "__version__",
    "signals",
]

# Imported on first use, so that importing the package (the sandbox, its pytest plugin, the
# HostData dataclasses) does not pay for Flask-SQLAlchemy, Authlib and RQ up front.
_LAZY = {"XeroSync": ".extension", "ConfigError": ".config", "signals": ".signals"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = import_module(module, __name__)
    return value if name == "signals" else getattr(value, name)
