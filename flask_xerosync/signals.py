"""Signals (blinker, through Flask's namespace) that host apps can subscribe to.

Every signal is sent with the :class:`~flask_xerosync.XeroSync` instance's app as sender
(``current_app._get_current_object()``) and keyword arguments:

======================  =========================================================================
``connected``           ``account_id``, ``tenant_id``, ``tenant_name``
``disconnected``        ``account_id``, ``tenant_id``, ``reason`` ("user", "revoked", "reconnect_needed")
``reconnect_needed``    ``account_id``, ``tenant_id``, ``reason`` (plain-language text): Xero no longer
                        accepts the connection; the owner must reconnect on the settings page
``sync_started``        ``account_id``, ``run_id``
``sync_finished``       ``account_id``, ``run_id``, ``counts`` (stage -> outcome -> number)
``sync_problems``       ``account_id``, ``run_id``, ``problems`` (records that failed or need review):
                        a sync finished, but not everything went through
``sync_failed``         ``account_id``, ``run_id``, ``error`` (plain-language text)
``invoice_pushed``      ``account_id``, ``invoice_id``, ``xero_invoice_id``, ``xero_number``
``invoice_paid``        ``account_id``, ``status`` (a :class:`~flask_xerosync.PaidStatus`): Xero
                        marked a pushed invoice fully paid (read back with the paid status preference)
======================  =========================================================================

Signals of a run are sent by the worker, in the worker's process: a receiver that wants to show
something in the web app stores it (see the example app's banner).
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

connected = _signals.signal("xerosync-connected")
disconnected = _signals.signal("xerosync-disconnected")
reconnect_needed = _signals.signal("xerosync-reconnect-needed")
sync_started = _signals.signal("xerosync-sync-started")
sync_finished = _signals.signal("xerosync-sync-finished")
sync_problems = _signals.signal("xerosync-sync-problems")
sync_failed = _signals.signal("xerosync-sync-failed")
invoice_pushed = _signals.signal("xerosync-invoice-pushed")
invoice_paid = _signals.signal("xerosync-invoice-paid")
