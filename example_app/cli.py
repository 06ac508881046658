"""``flask --app example_app seed-demo``: create every table and the demo data."""

from __future__ import annotations

import click
from flask import Flask

from .seed import DEMO_LOGINS, create_tables, seed_demo


def register(app: Flask) -> None:
    @app.cli.command("seed-demo")
    def seed_demo_command() -> None:
        """Create the app's and the extension's tables and load the demo data."""
        create_tables()
        seed_demo()
        for email, password, business in DEMO_LOGINS:
            click.echo(f"  {email} / {password}  ({business})")
