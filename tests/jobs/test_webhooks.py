"""Xero's webhooks end to end: the sandbox delivers to the example app behind a real HTTP server
(registered URL and key, signed raw body, Intent to Receive, retries), the route schedules runs,
a real RQ worker with RQ's scheduler runs them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from flask_xerosync.models import Connection, ConnectionStatus, RunKind
from flask_xerosync.services import automatic
from flask_xerosync.state import current_state
from tests.browser.live_stack import AppServer
from tests.conftest import app_config, build_app, drop_app_tables

from .conftest import HARBOUR_ACCOUNT, all_runs, sync_now, work_queue

KEY = "webhook-signing-key-from-xero"
WEBHOOKS = "/settings/accounting-sync/webhooks"
GREENLEAF = {"Name": "Greenleaf Landscaping Ltd", "EmailAddress": "hello@greenleaf.example"}


@pytest.fixture
def app(sandbox_org: Any, redis_url: str, database_url: str) -> Iterator[Flask]:
    """The example app with the webhook key, and runs that start at once (no delay to wait)."""
    application = build_app(app_config(sandbox_org.sandbox.url, redis_url, database_url,
                                       XEROSYNC_WEBHOOK_KEY=KEY, XEROSYNC_WEBHOOK_DELAY=0))
    yield application
    drop_app_tables(application)


@pytest.fixture
def server(app: Flask) -> Iterator[AppServer]:
    running = AppServer(app)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def subscribed(server: AppServer, sandbox_org: Any) -> Any:
    """The sandbox's webhook of the app, delivering to the live server; deliveries wait for
    ``flush_webhooks`` (no background sender)."""
    control = sandbox_org.sandbox.control
    hook = control.register_webhook(sandbox_org.client_id, server.url + WEBHOOKS, signing_key=KEY)
    assert hook["status"] == "OK", hook["reason"]
    control.pause_webhooks()
    return control


@pytest.fixture
def automatic_account(connected: Any, app: Flask, harbour_client: FlaskClient) -> Any:
    """Harbour, synced once by hand, then set to sync hourly (and on webhooks)."""
    sync_now(harbour_client)
    work_queue(app)
    with app.app_context():
        automatic.save_sync_mode(current_state(), HARBOUR_ACCOUNT, "hourly", 6)
    return connected


def sign(body: bytes, key: str = KEY) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def payload(*tenant_ids: str) -> bytes:
    events = [{"resourceUrl": f"https://api.xero.com/api.xro/2.0/Contacts/{n}", "resourceId": f"{n}",
               "eventDateUtc": "2026-03-01T09:30:12.345", "eventType": "UPDATE", "eventCategory": "CONTACT",
               "tenantId": tenant_id, "tenantType": "ORGANISATION"} for n, tenant_id in enumerate(tenant_ids)]
    return json.dumps({"events": events, "firstEventSequence": 1, "lastEventSequence": len(events),
                       "entropy": "ABCDEFGHIJKLMNOPQRST"}).encode()


def deliver(client: FlaskClient, body: bytes, signature: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["x-xero-signature"] = signature
    return client.post(WEBHOOKS, data=body, headers=headers)


def waiting_webhook_runs(app: Flask) -> list[str]:
    with app.app_context():
        state = current_state()
        registry = ScheduledJobRegistry(state.config.queue_name, connection=state.redis)
        return [job_id for job_id in registry.get_job_ids() if job_id.startswith("xerosync-webhook-")]


def work_with_scheduler(app: Flask) -> None:
    """A burst worker with RQ's scheduler: due scheduled jobs are queued, then everything runs."""
    from rq import Queue, SimpleWorker

    with app.app_context():
        state = current_state()
        SimpleWorker([Queue(state.config.queue_name, connection=state.redis)], connection=state.redis).work(
            burst=True, with_scheduler=True)


def sync_runs(app: Flask) -> int:
    return len([run for run in all_runs(app) if run.kind == RunKind.SYNC])


@pytest.mark.parametrize("signature", ["good", "bad", "missing", "other key"])
def test_signature(app: Flask, signature: str, sandbox_org: Any) -> None:
    body = payload(sandbox_org.tenant_id)
    sent = {"good": sign(body), "bad": sign(body + b" "), "missing": None, "other key": sign(body, "another")}
    response = deliver(app.test_client(), body, sent[signature])
    assert response.status_code == (200 if signature == "good" else 401)
    assert response.get_data() == b"" and "Set-Cookie" not in response.headers


def test_no_webhook_key_configured_refuses_every_delivery(sandbox_org: Any, redis_url: str, database_url: str) -> None:
    plain = build_app(app_config(sandbox_org.sandbox.url, redis_url, database_url))
    try:
        body = payload(sandbox_org.tenant_id)
        assert deliver(plain.test_client(), body, sign(body)).status_code == 401
    finally:
        drop_app_tables(plain)


def test_only_the_webhook_route_is_free_of_csrf(app: Flask, harbour_client: FlaskClient) -> None:
    body = payload("any")
    assert deliver(app.test_client(), body, sign(body)).status_code == 200  # no token, CSRFProtect on
    refused = harbour_client.post("/settings/accounting-sync/sync")
    assert refused.status_code == 400


def test_intent_to_receive(server: AppServer, sandbox_org: Any) -> None:
    control = sandbox_org.sandbox.control
    hook = control.register_webhook(sandbox_org.client_id, server.url + WEBHOOKS, signing_key=KEY)
    assert hook["status"] == "OK", hook["reason"]
    answers = {(check["correctly_signed"], check["status"]) for check in hook["intent_to_receive"]}
    assert answers == {(True, 200), (False, 401)}
    wrong = control.update_webhook(sandbox_org.client_id, url=server.url + WEBHOOKS + "?v=2", signing_key="not ours")
    assert wrong["status"] == "FAILED" and "401" in wrong["reason"]


def test_a_burst_of_events_is_one_run(app: Flask, automatic_account: Any, subscribed: Any) -> None:
    before = sync_runs(app)
    tenant = automatic_account.tenant_id
    contacts = subscribed.seed_contacts(tenant, [{"Name": f"Burst {n}"} for n in range(3)])
    subscribed.flush_webhooks()
    for contact in contacts:
        subscribed.edit_contact(tenant, contact["ContactID"], EmailAddress=f"{contact['ContactID'][:8]}@x.example")
        [delivery] = subscribed.flush_webhooks()
        assert delivery["outcome"] == "delivered", delivery
    assert len(subscribed.webhook_deliveries(outcome="delivered")) == 4
    assert len(waiting_webhook_runs(app)) == 1

    work_with_scheduler(app)

    assert sync_runs(app) == before + 1
    with app.app_context():
        state = current_state()
        assert not state.redis.exists(automatic.PENDING_KEY.format(account_id=HARBOUR_ACCOUNT))
    names = {client.name for client in _clients(app)}
    assert {"Burst 0", "Burst 1", "Burst 2"} <= names


def test_replayed_and_out_of_order_deliveries(app: Flask, automatic_account: Any, subscribed: Any) -> None:
    tenant = automatic_account.tenant_id
    [contact] = subscribed.seed_contacts(tenant, [{"Name": "Tui Ridge Orchard"}])
    [first] = subscribed.flush_webhooks()
    subscribed.edit_contact(tenant, contact["ContactID"], Name="Tui Ridge Orchard Ltd")
    [second] = subscribed.flush_webhooks()
    work_with_scheduler(app)
    runs = sync_runs(app)

    replay = subscribed.replay_webhook(first["id"])  # an old delivery arriving late, again
    assert replay["outcome"] == "delivered"
    assert not waiting_webhook_runs(app)
    work_with_scheduler(app)
    assert sync_runs(app) == runs
    assert "Tui Ridge Orchard Ltd" in {client.name for client in _clients(app)}
    assert second["first_event_sequence"] > first["last_event_sequence"]


def test_events_nobody_follows_are_ignored_safely(app: Flask, automatic_account: Any) -> None:
    client = app.test_client()
    unknown = payload("00000000-0000-0000-0000-000000000000")
    assert deliver(client, unknown, sign(unknown)).status_code == 200
    assert not waiting_webhook_runs(app)
    malformed = b'{"events": "not a list"}'
    assert deliver(client, malformed, sign(malformed)).status_code == 200

    ours = payload(automatic_account.tenant_id)
    with app.app_context():
        automatic.save_sync_mode(current_state(), HARBOUR_ACCOUNT, "manual", 6)
    assert deliver(client, ours, sign(ours)).status_code == 200
    assert not waiting_webhook_runs(app)

    with app.app_context():
        automatic.save_sync_mode(current_state(), HARBOUR_ACCOUNT, "daily", 6)
        _set_status(ConnectionStatus.DISCONNECTED)
    assert deliver(client, ours, sign(ours)).status_code == 200
    assert not waiting_webhook_runs(app)


def test_a_run_already_going_gets_one_more_after_it(app: Flask, automatic_account: Any, harbour_client: FlaskClient) -> None:
    body = payload(automatic_account.tenant_id)
    running = sync_now(harbour_client)  # queued, not worked yet: the account has an active run
    assert running.status_code == 200
    with app.app_context():
        state = current_state()
        automatic.sync_soon(state, [HARBOUR_ACCOUNT])
        assert automatic.start_automatic_run(state, HARBOUR_ACCOUNT) == automatic.BUSY
    assert deliver(app.test_client(), body, sign(body)).status_code == 200
    assert len(waiting_webhook_runs(app)) == 1  # coalesced with the pending one


def test_failed_deliveries_are_retried_by_xero(automatic_account: Any, subscribed: Any) -> None:
    subscribed.update_webhook(automatic_account.client_id, signing_key="rotated in Xero, not here yet")
    subscribed.seed_contacts(automatic_account.tenant_id, [{"Name": "Kauri Builders"}])
    [failed] = subscribed.flush_webhooks()
    assert failed["outcome"] == "retrying" and failed["attempts"][-1]["status"] == 401
    subscribed.update_webhook(automatic_account.client_id, signing_key=KEY)
    subscribed.advance_clock(60)
    [retried] = subscribed.flush_webhooks()
    assert retried["id"] == failed["id"] and retried["outcome"] == "delivered"


def _clients(app: Flask) -> list[Any]:
    from example_app import models

    with app.app_context():
        rows = list(models.db.session.scalars(select(models.Client).where(models.Client.business_id == 1)))
        models.db.session.expunge_all()
        return rows


def _set_status(status: str) -> None:
    session = current_state().db.session
    connection = session.scalar(select(Connection).where(Connection.account_id == HARBOUR_ACCOUNT))
    assert connection is not None
    connection.status = status
    session.commit()

