"""The blueprint's views; importing this package registers their routes on ``blueprint.bp``."""

from __future__ import annotations

from flask import Blueprint


def routed_blueprint() -> Blueprint:
    """The ``xerosync`` blueprint with the routes of every view module registered."""
    from ..blueprint import bp
    from . import connect, invoices, runs, settings  # noqa: F401  (importing registers their routes)

    return bp
