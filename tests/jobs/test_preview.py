"""The first Sync Now! of an organisation is a preview, on the demo's own data: every match rule at
work, nothing written on either side, decisions taken in it honoured by the sync that follows, and
the sync doing what the preview showed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from example_app import models
from flask_xerosync.models import Link, RecordResult, Run

from tests.conftest import CALLBACK_URL, TEST_CLIENT_ID, TEST_CLIENT_SECRET, app_config, build_app, drop_app_tables
from .conftest import HTMX, SETTINGS, csrf_token, db_session, login, run_id_in, sync_now, work_queue

NZ = "Harbour Field Services Ltd"


@pytest.fixture
def demo_app(xero_sandbox_demo: Any, redis_url: str, database_url: str) -> Iterator[Flask]:
    """The example app (its demo data) against the sandbox's demo organisations."""
    xero_sandbox_demo.control.register_app(TEST_CLIENT_ID, TEST_CLIENT_SECRET, [CALLBACK_URL])
    application = build_app(app_config(xero_sandbox_demo.url, redis_url, database_url))
    yield application
    drop_app_tables(application)


@pytest.fixture
def owner(demo_app: Flask, xero_sandbox_demo: Any) -> FlaskClient:
    """The Harbour owner, logged in and connected to the demo's New Zealand organisation."""
    client = demo_app.test_client()
    login(client, "owner@harbour.example", "harbour-demo")
    start = client.post(SETTINGS + "connect", data={"csrf_token": csrf_token(client)})
    tenant = _tenant(xero_sandbox_demo, NZ)
    back = xero_sandbox_demo.control.authorize(start.headers["Location"], tenant_ids=[tenant],
                                               user="demo@sandbox.example")
    callback = urlsplit(back)
    assert client.get(f"{callback.path}?{callback.query}").status_code == 302
    return client


def _tenant(sandbox: Any, name: str) -> str:
    return next(org["tenant_id"] for org in sandbox.control.state()["orgs"] if org["name"] == name)


def _records(app: Flask, run_id: str) -> list[RecordResult]:
    with db_session(app) as session:
        rows = list(session.scalars(select(RecordResult).where(RecordResult.run_id == run_id)))
        session.expunge_all()
        return rows


def _by_label(rows: list[RecordResult]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for row in rows:
        found.setdefault(row.label, []).append(row.outcome)
    return found


def _client_names(app: Flask) -> list[str]:
    with db_session(app) as session:
        return sorted(session.scalars(select(models.Client.name).where(models.Client.business_id == 1)))


def test_the_first_sync_now_previews_every_rule_and_writes_nothing(
    demo_app: Flask, owner: FlaskClient, xero_sandbox_demo: Any
) -> None:
    tenant = _tenant(xero_sandbox_demo, NZ)
    contacts_before = xero_sandbox_demo.control.contacts(tenant)
    clients_before = _client_names(demo_app)

    run_id = run_id_in(sync_now(owner).get_data(as_text=True))
    work_queue(demo_app)

    with db_session(demo_app) as session:
        run = session.get(Run, run_id)
        assert run is not None and (run.kind, run.status) == ("preview", "done")
        assert run.estimate and run.estimate["calls"] >= 3
    assert xero_sandbox_demo.control.contacts(tenant) == contacts_before, "the preview wrote to Xero"
    assert _client_names(demo_app) == clients_before, "the preview wrote here"
    outcomes = _by_label([r for r in _records(demo_app, run_id) if r.stage == "clients"])
    assert outcomes["Bright Spark Electrical"] == ["linked"]
    assert outcomes["Greenleaf Landscaping"] == ["linked"]
    assert outcomes["Summit Fitness Studio"] == ["linked"]
    assert outcomes["Coastal Cafe"] == ["needs_review"]
    assert outcomes["Coastal Cafe Ltd"] == ["needs_review"] and outcomes["Coastal Café Group"] == ["needs_review"]
    assert outcomes["Office Supplies Co"] == ["skipped"] and outcomes["Old Mill Joinery"] == ["skipped"]
    rules = {r.label: (r.details or {}).get("rule") for r in _records(demo_app, run_id) if r.outcome == "linked"}
    assert {rules["Bright Spark Electrical"], rules["Greenleaf Landscaping"], rules["Summit Fitness Studio"]} == {
        "email", "name", "number"}
    summary = owner.get(SETTINGS).get_data(as_text=True)
    assert "Preview ready" in summary and "need you" in summary


def test_a_decision_in_the_preview_is_honoured_and_the_sync_does_what_it_showed(
    demo_app: Flask, owner: FlaskClient, xero_sandbox_demo: Any
) -> None:
    tenant = _tenant(xero_sandbox_demo, NZ)
    preview_id = run_id_in(sync_now(owner).get_data(as_text=True))
    work_queue(demo_app)
    [cafe] = [r for r in _records(demo_app, preview_id) if r.label == "Coastal Cafe"]
    ltd = next(c for c in cafe.details["candidates"] if c["label"] == "Coastal Cafe Ltd")
    page = f"{SETTINGS}runs/{preview_id}?filter=needs_review"
    decided = owner.post(f"{SETTINGS}runs/{preview_id}/records/{cafe.id}/decide",
                         data={"csrf_token": csrf_token(owner, page), "decision": f"link:{ltd['id']}"})
    assert decided.status_code == 302
    assert "It will be linked to the record you chose" in owner.get(decided.headers["Location"]).get_data(as_text=True)

    again = run_id_in(owner.post(SETTINGS + "sync", data={"csrf_token": csrf_token(owner)},
                                 headers=HTMX).get_data(as_text=True))
    work_queue(demo_app)

    with db_session(demo_app) as session:
        assert session.get(Run, again).kind == "sync"  # type: ignore[union-attr]
        linked = {link.host_id: link.xero_id for link in session.scalars(
            select(Link).where(Link.tenant_id == tenant, Link.kind == "client"))}
    assert linked[str(cafe.host_id)] == ltd["id"]
    names = [c["Name"] for c in xero_sandbox_demo.control.contacts(tenant)]
    assert len(names) == len(set(n.casefold() for n in names)), "no duplicate in Xero"
    clients = _client_names(demo_app)
    assert len(clients) == len(set(clients)), "no duplicate here"
    shown = Counter((r.stage, r.outcome, r.label) for r in _records(demo_app, preview_id)
                    if r.outcome not in ("unchanged", "needs_review") and r.label != "Coastal Cafe")
    done = Counter((r.stage, r.outcome, r.label) for r in _records(demo_app, again)
                   if r.outcome not in ("unchanged", "needs_review") and r.label != "Coastal Cafe")
    assert done == shown
