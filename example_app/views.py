"""The app's own pages: clients, services & products, invoices (with the Push To Xero action)."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from .models import Client, Invoice, Product, db

bp = Blueprint("example", __name__)


@bp.get("/")
def index() -> Response:
    return redirect(url_for("example.clients"))


@bp.get("/clients")
@login_required
def clients() -> str:
    rows = db.session.scalars(
        select(Client).where(Client.business_id == current_user.business_id).order_by(Client.name)
    ).all()
    return render_template("example/clients.html", clients=rows)


@bp.get("/products")
@login_required
def products() -> str:
    rows = db.session.scalars(
        select(Product).where(Product.business_id == current_user.business_id).order_by(Product.name)
    ).all()
    return render_template("example/products.html", products=rows)


@bp.get("/invoices")
@login_required
def invoices() -> str:
    rows = db.session.scalars(
        select(Invoice).where(Invoice.business_id == current_user.business_id).order_by(Invoice.number)
    ).all()
    return render_template("example/invoices.html", invoices=rows)


@bp.get("/invoices/<int:invoice_id>")
@login_required
def invoice(invoice_id: int) -> str:
    row = db.session.get(Invoice, invoice_id)
    if row is None or row.business_id != current_user.business_id:
        abort(404)
    return render_template("example/invoice.html", invoice=row)


@bp.get("/upgrade")
@login_required
def upgrade() -> str:
    """Where the Accounting Sync page sends a business whose plan lacks Xero sync
    (``XEROSYNC_UPGRADE_URL``)."""
    return render_template("example/upgrade.html")
