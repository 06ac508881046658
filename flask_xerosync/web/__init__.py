"""The web layer: the ``xerosync`` blueprint, its guards, rendering, notices, forms and views."""

from __future__ import annotations

from flask import Blueprint

from .blueprint import bp
from .views import connect, invoices, runs, settings  # noqa: F401  (importing registers their routes)


def routed_blueprint() -> Blueprint:
    """The ``xerosync`` blueprint with the routes of every view module registered."""
    return bp
