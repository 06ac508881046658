"""The example field-service app's own data: businesses, users, clients, products, invoices."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

from flask_login import UserMixin
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import ForeignKey, Numeric, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from flask_xerosync.models import UTCDateTime


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Business(db.Model):  # type: ignore[name-defined]
    __tablename__ = "business"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    plan: Mapped[str] = mapped_column(String(20), default="basic")
    # Where the business is: its times (and its daily Xero sync) are on this clock.
    timezone: Mapped[str] = mapped_column(String(64), default="Pacific/Auckland")

    @property
    def has_xero(self) -> bool:
        return self.plan == "pro"


class User(UserMixin, db.Model):  # type: ignore[name-defined]
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"))

    business: Mapped[Business] = relationship()

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)


class Client(db.Model):  # type: ignore[name-defined]
    __tablename__ = "client"

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(255), default="")
    phone: Mapped[str] = mapped_column(String(50), default="")
    company_name: Mapped[str] = mapped_column(String(255), default="")
    first_name: Mapped[str] = mapped_column(String(255), default="")
    last_name: Mapped[str] = mapped_column(String(255), default="")
    address_line1: Mapped[str] = mapped_column(String(500), default="")
    address_line2: Mapped[str] = mapped_column(String(500), default="")
    city: Mapped[str] = mapped_column(String(255), default="")
    region: Mapped[str] = mapped_column(String(255), default="")
    postal_code: Mapped[str] = mapped_column(String(50), default="")
    country: Mapped[str] = mapped_column(String(50), default="")
    archived: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow, index=True)


class Product(db.Model):  # type: ignore[name-defined]
    """A service or product the business sells ("Services & Products" in the app)."""

    __tablename__ = "product"

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"), index=True)
    code: Mapped[str] = mapped_column(String(30), default="")
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 4), default=Decimal("0"))
    kind: Mapped[str] = mapped_column(String(10), default="service")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow, index=True)


class Invoice(db.Model):  # type: ignore[name-defined]
    __tablename__ = "invoice"

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"), index=True)
    number: Mapped[str] = mapped_column(String(50))
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"))
    issue_date: Mapped[date]
    due_date: Mapped[date | None]
    reference: Mapped[str] = mapped_column(String(255), default="")
    currency: Mapped[str] = mapped_column(String(3), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    # What Xero says of its payment (HostData.mark_invoices_paid): "", PAID, AUTHORISED (part
    # paid), VOIDED or DELETED. Payments are taken in Xero; this app only shows them.
    xero_status: Mapped[str] = mapped_column(String(20), default="")
    amount_paid: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))
    paid_on: Mapped[date | None]

    client: Mapped[Client] = relationship()
    lines: Mapped[list[InvoiceLine]] = relationship(
        order_by="InvoiceLine.position", cascade="all, delete-orphan"
    )

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0"))


class InvoiceLine(db.Model):  # type: ignore[name-defined]
    __tablename__ = "invoice_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    description: Mapped[str] = mapped_column(Text)
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("product.id"))
    taxable: Mapped[bool] = mapped_column(default=True)
    tax_code: Mapped[str | None] = mapped_column(String(40))

    product: Mapped[Product | None] = relationship()

    @property
    def amount(self) -> Decimal:
        return self.quantity * self.unit_price


class Notice(db.Model):  # type: ignore[name-defined]
    """A banner for a business's users, from the Xero sync's signals (see ``notices.py``).
    ``topic`` groups notices that replace each other: one about the sync, one about the
    connection, one per paid invoice."""

    __tablename__ = "notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"), index=True)
    topic: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(10), default="info")
    message: Mapped[str] = mapped_column(Text)
    # Where the banner links: "run" (ref: run id), "settings", or "invoice" (ref: invoice id).
    link: Mapped[str] = mapped_column(String(10), default="")
    ref: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
