"""``flask --app example_app seed-demo``: create every table and the demo data."""

from __future__ import annotations

import click
from flask import Flask

from flask_xerosync.models import metadata as xerosync_metadata

from .models import db
from .seed import DEMO_LOGINS, seed_demo


def register(app: Flask) -> None:
    @app.cli.command("seed-demo")
    def seed_demo_command() -> None:
        """Create the app's and the extension's tables and load the demo data."""
        db.create_all()
        xerosync_metadata.create_all(db.engine)
        seed_demo()
        for email, password, business in DEMO_LOGINS:
            click.echo(f"  {email} / {password}  ({business})")
