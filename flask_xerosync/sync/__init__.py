"""The sync engine: clients two-way, items pull-then-push, flagged invoices pushed.

Entry point: :class:`flask_xerosync.sync.engine.SyncEngine`. The engine talks only to the host's
:class:`~flask_xerosync.host.HostData`, the organisation's Xero API (the calls of
:class:`~.ports.XeroApiPort`) and :class:`~.store.SyncStore` (a SQLAlchemy session); it imports
nothing of Flask, RQ, Redis or HTTP (an import-linter contract in ``pyproject.toml`` keeps it so).
"""
