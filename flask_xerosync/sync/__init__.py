"""The sync engine: clients two-way, items pull-then-push, flagged invoices pushed.

Entry point: :class:`flask_xerosync.sync.engine.SyncEngine`. The engine talks only to the host's
:class:`~flask_xerosync.host.HostData`, the Xero client and :class:`~.store.SyncStore`; it knows
nothing about Flask requests.
"""
