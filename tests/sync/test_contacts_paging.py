"""The contacts pull while someone edits Xero between its pages: no contact is missed (this run
or the next) and none is brought in twice."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from flask_xerosync.models import Connection
from flask_xerosync.state import current_state
from flask_xerosync.sync.context import PULL_MARK_MARGIN
from flask_xerosync.xero.dates import parse_xero_date
from tests.sync.conftest import ACCOUNT, Rig


def contact_id(n: int) -> str:
    """ContactIDs whose order is the order of ``n`` (the pull pages by ContactID)."""
    return f"00000000-0000-4000-8000-{n:012d}"


def after_first_page(action: Callable[[], None]) -> Callable[[Any], Any]:
    """Wraps the run's Xero API so that ``action`` runs once, right after the first page of the
    contacts pull was read (someone editing Xero while the sync pages through it)."""

    def wrap(api: Any) -> Any:
        pages = api.iter_contact_pages

        def paging(*args: Any, **kwargs: Any) -> Iterator[Any]:
            for number, page in enumerate(pages(*args, **kwargs)):
                yield page
                if number == 0:
                    action()

        api.iter_contact_pages = paging
        return api

    return wrap


def xero_mark(rig: Rig) -> datetime:
    with rig.app.app_context():
        session = current_state().db.session
        connection = session.scalar(select(Connection).where(Connection.account_id == ACCOUNT))
        assert connection is not None
        return datetime.fromisoformat(connection.sync_marks["xero_contacts"])


def test_edits_in_xero_between_pages_are_neither_missed_nor_duplicated(rig: Rig) -> None:
    rig.control.seed_contacts(rig.tenant, [
        {"ContactID": contact_id(n), "Name": f"Customer {n}", "EmailAddress": f"c{n}@example.com"}
        for n in range(10, 19)
    ])
    rig.control.advance_clock(60)

    edits: list[dict[str, Any]] = []

    def edit_xero() -> None:
        edits.append(rig.control.edit_contact(rig.tenant, contact_id(11), EmailAddress="edited@example.com"))
        rig.control.seed_contacts(rig.tenant, [
            {"ContactID": contact_id(1), "Name": "New Behind", "EmailAddress": "behind@example.com"},
            {"ContactID": contact_id(99), "Name": "New Ahead", "EmailAddress": "ahead@example.com"},
        ])

    first = rig.sync(wrap_api=after_first_page(edit_xero), page_size=3, sync_items=False, sync_invoices=False)

    names = sorted(c.name for c in rig.clients())
    assert names == sorted([f"Customer {n}" for n in range(10, 19)] + ["New Ahead"]), "every contact, once"
    assert first.of("clients", "created") == 10 and first.changes() == 10
    assert rig.client_named("Customer 11").email == "c11@example.com", "read before the edit"
    mark = xero_mark(rig)
    assert mark <= parse_xero_date(edits[0]["UpdatedDateUTC"]) - PULL_MARK_MARGIN
    assert mark.microsecond == 0

    second = rig.sync(sync_items=False, sync_invoices=False)

    assert rig.client_named("Customer 11").email == "edited@example.com"
    assert rig.client_named("New Behind").email == "behind@example.com"
    assert len(rig.clients()) == 11, [c.name for c in rig.clients()]
    assert second.of("clients", "created") == 1 and second.of("clients", "updated") == 1
    assert second.changes() == 2, second.counts
    assert rig.sync(sync_items=False, sync_invoices=False).changes() == 0


def test_the_next_pull_starts_from_xeros_clock_at_the_first_page(rig: Rig) -> None:
    rig.seed_contacts({"Name": "Old Customer", "EmailAddress": "old@example.com"})
    rig.control.advance_clock(3600)
    rig.sync(sync_items=False, sync_invoices=False)
    mark = xero_mark(rig)
    sandbox_now = datetime.fromisoformat(rig.control.now().replace("Z", "+00:00"))
    assert sandbox_now - timedelta(minutes=5) < mark <= sandbox_now - PULL_MARK_MARGIN

    rig.control.advance_clock(60)
    again = rig.sync(sync_items=False, sync_invoices=False)

    assert again.changes() == 0, "nothing changed since the pull started"
    assert xero_mark(rig) > mark
