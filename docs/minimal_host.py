"""A complete minimal host: one file, SQLite by default, Xero sync on its settings page.

    flask --app docs/minimal_host.py init-db owner@example.com a-password
    flask --app docs/minimal_host.py run               # and, beside it:
    flask --app docs/minimal_host.py xerosync worker

Settings come from the environment: SECRET_KEY, XEROSYNC_CLIENT_ID, XEROSYNC_CLIENT_SECRET,
XEROSYNC_ENCRYPTION_KEY, XEROSYNC_REDIS_URL (and DATABASE_URL, default SQLite).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import click
from flask import Flask, abort, redirect, render_template_string, request, url_for
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, ForeignKey, Numeric, select
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from flask_xerosync import Address, Client, HostData, Invoice, InvoiceLine, Item, XeroSync
from flask_xerosync.models import metadata as xerosync_tables

db = SQLAlchemy()
login_manager = LoginManager()
login_manager.login_view = "login"  # where the extension sends anonymous visitors
xerosync = XeroSync()


def now() -> datetime:
    return datetime.now(timezone.utc)


def utc(moment: datetime) -> datetime:
    """SQLite hands datetimes back without their zone; the sync wants them aware."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class User(UserMixin, db.Model):  # one user, one business: the user's id is the account id
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(unique=True)
    password_hash: Mapped[str]


class Customer(db.Model):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str]
    email: Mapped[str] = mapped_column(default="")
    phone: Mapped[str] = mapped_column(default="")
    city: Mapped[str] = mapped_column(default="")
    archived: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, onupdate=now, index=True)


class Product(db.Model):
    __tablename__ = "products"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code: Mapped[str] = mapped_column(default="")
    name: Mapped[str]
    price: Mapped[Decimal] = mapped_column(Numeric(12, 4), default=Decimal("0"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, onupdate=now, index=True)


class Bill(db.Model):  # an invoice of the host
    __tablename__ = "bills"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    number: Mapped[str]
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    issued_on: Mapped[date]
    lines: Mapped[list[BillLine]] = relationship(order_by="BillLine.id", cascade="all, delete-orphan")


class BillLine(db.Model):
    __tablename__ = "bill_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("bills.id"), index=True)
    description: Mapped[str]
    quantity: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    unit_price: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))


class MinimalHostData(HostData):
    """The sync reads and writes the host's records only through these methods, one account at a
    time. They flush, never commit: the sync commits its own unit of work after each batch."""

    def list_clients(self, account_id: str, changed_since: datetime | None) -> Iterator[Client]:
        for row in db.session.scalars(_owned(Customer, account_id, changed_since)):
            address = Address(city=row.city)
            yield Client(id=str(row.id), name=row.name, email=row.email, phone=row.phone, archived=row.archived,
                         address=None if address.is_empty() else address, updated_at=utc(row.updated_at))

    def save_clients(self, account_id: str, clients: Sequence[Client]) -> list[str]:
        rows = [_row(Customer, account_id, client.id) for client in clients]
        for row, client in zip(rows, clients):
            row.name, row.email, row.phone, row.archived = client.name, client.email, client.phone, client.archived
            row.city = client.address.city if client.address else ""
        db.session.flush()
        return [str(row.id) for row in rows]

    def list_items(self, account_id: str, changed_since: datetime | None) -> Iterator[Item]:
        for row in db.session.scalars(_owned(Product, account_id, changed_since)):
            yield Item(id=str(row.id), code=row.code, name=row.name, unit_price=row.price,
                       updated_at=utc(row.updated_at))

    def save_items(self, account_id: str, items: Sequence[Item]) -> list[str]:
        rows = [_row(Product, account_id, item.id) for item in items]
        for row, item in zip(rows, items):
            row.code, row.name, row.price = item.code, item.name, item.unit_price
        db.session.flush()
        return [str(row.id) for row in rows]

    def get_invoices(self, account_id: str, invoice_ids: Sequence[str]) -> list[Invoice]:
        ids = [int(invoice_id) for invoice_id in invoice_ids if invoice_id.isdigit()]
        bills = db.session.scalars(select(Bill).where(Bill.owner_id == int(account_id), Bill.id.in_(ids)))
        return [
            Invoice(id=str(bill.id), number=bill.number, client_id=str(bill.customer_id), issue_date=bill.issued_on,
                    due_date=None, lines=tuple(
                        InvoiceLine(description=line.description, quantity=line.quantity, unit_price=line.unit_price,
                                    item_id=str(line.product_id) if line.product_id else None)
                        for line in bill.lines))
            for bill in bills
        ]


def _owned(model: Any, account_id: str, changed_since: datetime | None) -> Any:
    query = select(model).where(model.owner_id == int(account_id)).order_by(model.id)
    return query if changed_since is None else query.where(model.updated_at > changed_since)


def _row(model: Any, account_id: str, row_id: str | None) -> Any:
    if row_id is None:
        row = model(owner_id=int(account_id))
        db.session.add(row)
        return row
    return db.session.scalars(select(model).filter_by(id=int(row_id), owner_id=int(account_id))).one()


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


@xerosync.account_loader
def current_account_id() -> str | None:
    """The account the logged-in user manages; None answers 403."""
    return str(current_user.id) if current_user.is_authenticated else None


INVOICE_PAGE = """<!doctype html><title>{{ bill.number }}</title>{{ xerosync_head() }}
<h1>Invoice {{ bill.number }}</h1>
<ul class="actions"><li>{{ xerosync_invoice_action(bill.id) }}</li></ul>
<p><a href="{{ url_for('xerosync.settings') }}">Accounting Sync</a></p>"""
LOGIN_PAGE = """<!doctype html><title>Log in</title><form method="post">
<input name="email" type="email"> <input name="password" type="password"> <button>Log in</button></form>"""


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(SQLALCHEMY_DATABASE_URI=os.environ.get("DATABASE_URL", "sqlite:///minimal_host.sqlite"))
    app.config.update({k: v for k, v in os.environ.items() if k == "SECRET_KEY" or k.startswith("XEROSYNC_")})
    app.config.update(config or {})
    db.init_app(app)
    login_manager.init_app(app)
    xerosync.init_app(app, db=db, host_data=MinimalHostData())

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        if request.method == "POST":
            user = db.session.scalar(select(User).filter_by(email=request.form["email"]))
            if user is not None and check_password_hash(user.password_hash, request.form["password"]):
                login_user(user)
                return redirect(url_for("xerosync.settings"))
        return render_template_string(LOGIN_PAGE)

    @app.get("/invoices/<int:bill_id>")
    @login_required
    def invoice(bill_id: int) -> str:
        bill = db.session.get(Bill, bill_id)
        if bill is None or bill.owner_id != current_user.id:
            abort(404)
        return render_template_string(INVOICE_PAGE, bill=bill)

    @app.cli.command("init-db")
    @click.argument("email")
    @click.argument("password")
    def init_db(email: str, password: str) -> None:
        """Create the app's and the extension's tables, and a first user."""
        db.create_all()
        xerosync_tables.create_all(db.engine)
        db.session.add(User(email=email, password_hash=generate_password_hash(password)))
        db.session.commit()

    return app
