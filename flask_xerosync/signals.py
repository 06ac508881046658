"""Signals (blinker, through Flask's namespace) that host apps can subscribe to.

Every signal is sent with the :class:`~flask_xerosync.XeroSync` instance's app as sender
(``current_app._get_current_object()``) and keyword arguments:

=====================  ==========================================================================
``connected``          ``account_id``, ``tenant_id``, ``tenant_name``
``disconnected``       ``account_id``, ``tenant_id``, ``reason`` ("user", "revoked", "reconnect_needed")
``sync_started``       ``account_id``, ``run_id``
``sync_finished``      ``account_id``, ``run_id``, ``counts`` (stage -> outcome -> number)
``sync_failed``        ``account_id``, ``run_id``, ``error`` (plain-language text)
``invoice_pushed``     ``account_id``, ``invoice_id``, ``xero_invoice_id``, ``xero_number``
=====================  ==========================================================================
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

connected = _signals.signal("xerosync-connected")
disconnected = _signals.signal("xerosync-disconnected")
sync_started = _signals.signal("xerosync-sync-started")
sync_finished = _signals.signal("xerosync-sync-finished")
sync_failed = _signals.signal("xerosync-sync-failed")
invoice_pushed = _signals.signal("xerosync-invoice-pushed")
