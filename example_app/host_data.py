"""The reference :class:`flask_xerosync.HostData` implementation, over the example app's models.

A host app writes one of these: it converts its own rows to the extension's value types and back,
always scoped to one business (the account id). It flushes but never commits: the sync commits
its own unit of work after each batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import selectinload

from flask_xerosync import Address, Client, HostData, Invoice, InvoiceLine, Item, PaidStatus

from . import models
from .models import db

_YIELD_PER = 500
_LOOKUP_CHUNK = 500


class ExampleHostData(HostData):
    def list_clients(self, account_id: str, changed_since: datetime | None) -> Iterator[Client]:
        query = select(models.Client).where(models.Client.business_id == int(account_id))
        if changed_since is not None:
            query = query.where(models.Client.updated_at > changed_since)
        for row in db.session.scalars(query.order_by(models.Client.id).execution_options(yield_per=_YIELD_PER)):
            yield client_value(row)

    def get_clients(self, account_id: str, ids: Sequence[str]) -> list[Client]:
        """The optional lookup :class:`~flask_xerosync.HostData` documents: these clients of the
        business only, in chunks that stay under every database's bound-parameter limit."""
        wanted = sorted({int(client_id) for client_id in ids if str(client_id).isdigit()})
        found: list[Client] = []
        for start in range(0, len(wanted), _LOOKUP_CHUNK):
            rows = db.session.scalars(
                select(models.Client)
                .where(models.Client.business_id == int(account_id),
                       models.Client.id.in_(wanted[start : start + _LOOKUP_CHUNK]))
                .order_by(models.Client.id)
            )
            found.extend(client_value(row) for row in rows)
        return found

    def save_clients(self, account_id: str, clients: Sequence[Client]) -> list[str]:
        """Updates go through the rows, read in one query; new clients are inserted in one
        statement that returns their ids in order (a first sync creates thousands)."""
        existing = self._owned_rows(models.Client, account_id, [c.id for c in clients if c.id is not None])
        ids: list[str] = []
        new = [client_columns(client) | {"business_id": int(account_id)} for client in clients if client.id is None]
        created = iter(db.session.scalars(
            insert(models.Client).returning(models.Client.id, sort_by_parameter_order=True), new
        ).all() if new else ())
        for client in clients:
            if client.id is None:
                ids.append(str(next(created)))
                continue
            row = self._owned(models.Client, account_id, client.id, existing)
            for name, value in client_columns(client).items():
                setattr(row, name, value)
            ids.append(str(row.id))
        db.session.flush()
        return ids

    def list_items(self, account_id: str, changed_since: datetime | None) -> Iterator[Item]:
        query = select(models.Product).where(models.Product.business_id == int(account_id))
        if changed_since is not None:
            query = query.where(models.Product.updated_at > changed_since)
        for row in db.session.scalars(query.order_by(models.Product.id).execution_options(yield_per=_YIELD_PER)):
            yield item_value(row)

    def save_items(self, account_id: str, items: Sequence[Item]) -> list[str]:
        existing = self._owned_rows(models.Product, account_id, [i.id for i in items if i.id is not None])
        rows = [self._product_row(account_id, item, existing) for item in items]
        for row, item in zip(rows, items):
            row.code = item.code
            row.name = item.name
            row.description = item.description
            row.unit_price = item.unit_price
            row.kind = item.kind
        db.session.flush()
        return [str(row.id) for row in rows]

    def get_invoices(self, account_id: str, invoice_ids: Sequence[str]) -> list[Invoice]:
        ids = [int(invoice_id) for invoice_id in invoice_ids if str(invoice_id).isdigit()]
        if not ids:
            return []
        rows = db.session.scalars(
            select(models.Invoice)
            .where(models.Invoice.business_id == int(account_id), models.Invoice.id.in_(ids))
            .options(selectinload(models.Invoice.lines))
            .order_by(models.Invoice.id)
        )
        return [invoice_value(row) for row in rows]

    def mark_invoices_paid(self, account_id: str, updates: Sequence[PaidStatus]) -> None:
        """The optional method :class:`~flask_xerosync.HostData` documents: what Xero says of the
        payment of invoices pushed there (paid, part paid, voided, deleted), shown on the invoice."""
        for update in updates:
            row = db.session.get(models.Invoice, int(update.invoice_id)) if update.invoice_id.isdigit() else None
            if row is None or row.business_id != int(account_id):
                continue
            row.xero_status, row.amount_paid, row.paid_on = update.status, update.amount_paid, update.paid_on
        db.session.flush()

    def _product_row(self, account_id: str, item: Item, existing: dict[int, Any]) -> models.Product:
        if item.id is None:
            row = models.Product(business_id=int(account_id), name=item.name)
            db.session.add(row)
            return row
        return self._owned(models.Product, account_id, item.id, existing)

    @staticmethod
    def _owned_rows(model: type[models.Client] | type[models.Product], account_id: str,
                    ids: Sequence[str]) -> dict[int, Any]:
        """The business's rows with these ids, read in one query per chunk (not one per row)."""
        wanted = sorted({int(row_id) for row_id in ids if str(row_id).isdigit()})
        found: dict[int, Any] = {}
        for start in range(0, len(wanted), _LOOKUP_CHUNK):
            for row in db.session.scalars(select(model).where(
                model.business_id == int(account_id), model.id.in_(wanted[start : start + _LOOKUP_CHUNK])
            )):
                found[row.id] = row
        return found

    @staticmethod
    def _owned(model: type[models.Client] | type[models.Product], account_id: str, row_id: str,
               existing: dict[int, Any]):  # type: ignore[no-untyped-def]
        row = existing.get(int(row_id)) if str(row_id).isdigit() else None
        if row is None:
            raise LookupError(f"{model.__name__} {row_id} does not belong to business {account_id}")
        return row


def client_columns(client: Client) -> dict[str, Any]:
    """The client table's columns for a client value."""
    address = client.address or Address()
    return {
        "name": client.name, "email": client.email, "phone": client.phone, "company_name": client.company_name,
        "first_name": client.first_name, "last_name": client.last_name, "address_line1": address.line1,
        "address_line2": address.line2, "city": address.city, "region": address.region,
        "postal_code": address.postal_code, "country": address.country, "archived": client.archived,
    }


def client_value(row: models.Client) -> Client:
    address = Address(
        line1=row.address_line1,
        line2=row.address_line2,
        city=row.city,
        region=row.region,
        postal_code=row.postal_code,
        country=row.country,
    )
    return Client(
        id=str(row.id),
        name=row.name,
        email=row.email,
        phone=row.phone,
        company_name=row.company_name,
        first_name=row.first_name,
        last_name=row.last_name,
        address=None if address.is_empty() else address,
        updated_at=row.updated_at,
        archived=row.archived,
    )


def item_value(row: models.Product) -> Item:
    return Item(
        id=str(row.id),
        code=row.code,
        name=row.name,
        description=row.description,
        unit_price=row.unit_price,
        kind="product" if row.kind == "product" else "service",
        updated_at=row.updated_at,
    )


def invoice_value(row: models.Invoice) -> Invoice:
    return Invoice(
        id=str(row.id),
        number=row.number,
        client_id=str(row.client_id),
        issue_date=row.issue_date,
        due_date=row.due_date,
        lines=tuple(
            InvoiceLine(
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                item_id=str(line.product_id) if line.product_id is not None else None,
                taxable=line.taxable,
                tax_type=line.tax_code,
            )
            for line in row.lines
        ),
        reference=row.reference,
        currency=row.currency,
        updated_at=row.updated_at,
        total=row.total,
    )
