from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable
from datetime import datetime

import pytest

from flask_xerosync.sandbox import SandboxError

from .conftest import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, WEBHOOK_KEY as KEY, World, connect
from .webhook_receiver import Answer, Received, Receiver, signature

EVENT_KEYS = ["resourceUrl", "resourceId", "eventDateUtc", "eventType", "eventCategory", "tenantId", "tenantType"]


def _contact(world: World, name: str = "Harbour Cafe") -> str:
    response = world.api.put("Contacts", {"Contacts": [{"Name": name}]})
    assert response.status_code == 200, response.text
    return response.json()["Contacts"][0]["ContactID"]


def _failing_deliveries(status: int) -> Callable[[Received], Answer]:
    def behave(received: Received) -> Answer:
        if received.is_intent_to_receive:
            return (200 if received.signed_correctly else 401), b"", 0.0
        return status, b"", 0.0

    return behave


def test_intent_to_receive_passes_for_a_receiver_that_checks_signatures(world: World, receiver: Receiver) -> None:
    subscription = world.control.register_webhook(CLIENT_ID, receiver.url, signing_key=KEY)
    assert (subscription["status"], subscription["reason"]) == ("OK", "Intent to Receive passed")
    assert subscription["signing_key"] == KEY and subscription["categories"] == ["CONTACT", "INVOICE"]
    intents = receiver.intents()
    assert len(intents) == len(subscription["intent_to_receive"]) == 4
    assert sorted(r.signed_correctly for r in intents) == [False, False, True, True]
    for intent in intents:
        payload = intent.payload
        assert list(payload) == ["events", "firstEventSequence", "lastEventSequence", "entropy"]
        assert (payload["events"], payload["firstEventSequence"], payload["lastEventSequence"]) == ([], 0, 0)
        assert re.fullmatch(r"[A-Z]{20}", payload["entropy"])
        assert intent.headers["content-type"] == "application/json"
    assert len({r.payload["entropy"] for r in intents}) == 4
    assert world.control.webhook(CLIENT_ID)["status"] == "OK"


def test_a_generated_signing_key_is_returned(world: World, receiver: Receiver) -> None:
    receiver.key = "ignored-until-known"
    subscription = world.control.register_webhook(CLIENT_ID, receiver.url)
    assert subscription["status"] == "FAILED" and len(subscription["signing_key"]) == 88
    receiver.key = subscription["signing_key"]
    assert world.control.update_webhook(CLIENT_ID, enabled=True)["status"] == "OK"


def _always(status: int, body: bytes = b"", delay: float = 0.0) -> Callable[[Received], Answer]:
    return lambda received: (status, body, delay)


def _verifying_with_body(received: Received) -> Answer:
    return (200, b"ok", 0.0) if received.signed_correctly else (401, b"", 0.0)


@pytest.mark.parametrize(("behave", "reason"), [
    (_always(200), "answered 200 to an incorrectly signed payload (expected 401)"),
    (_always(401), "answered 401 to a correctly signed payload (expected 200)"),
    (_always(500), "answered 500 to a"),
    (_verifying_with_body, "answered 200 with a body (Xero expects an empty body)"),
    (_always(200, delay=0.6), "no answer within 0.3 s"),
])
def test_intent_to_receive_failures(world: World, receiver: Receiver, behave: Callable[[Received], Answer],
                                    reason: str) -> None:
    receiver.behave = behave
    subscription = world.control.register_webhook(CLIENT_ID, receiver.url, signing_key=KEY, timeout=0.3)
    assert subscription["status"] == "FAILED"
    assert subscription["reason"].startswith("Intent to Receive failed: ") and reason in subscription["reason"]
    assert subscription["intent_to_receive"][-1]["ok"] is False
    _contact(world)
    assert world.control.flush_webhooks() == [] and world.control.webhook(CLIENT_ID)["pending_events"] == 0


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_intent_to_receive_fails_when_nothing_listens(world: World) -> None:
    subscription = world.control.register_webhook(CLIENT_ID, f"http://127.0.0.1:{_closed_port()}/hook")
    assert subscription["status"] == "FAILED" and "connection failed" in subscription["reason"]


def test_new_url_and_reenabling_rerun_intent_to_receive_a_new_key_does_not(
    subscribed: World, receiver: Receiver
) -> None:
    control = subscribed.control
    assert len(receiver.intents()) == 4
    assert control.update_webhook(CLIENT_ID, signing_key="another-key")["status"] == "OK"
    assert len(receiver.intents()) == 4
    with Receiver("another-key") as second:
        moved = control.update_webhook(CLIENT_ID, url=second.url)
        assert moved["status"] == "OK" and moved["url"] == second.url and len(second.intents()) == 4
        disabled = control.update_webhook(CLIENT_ID, enabled=False)
        assert (disabled["status"], disabled["reason"]) == ("DISABLED", "Disabled through the control API")
        _contact(subscribed)
        assert control.webhook(CLIENT_ID)["pending_events"] == 0
        assert control.update_webhook(CLIENT_ID, enabled=True)["status"] == "OK"
        assert len(second.intents()) == 8
    with pytest.raises(SandboxError) as caught:
        control.update_webhook(CLIENT_ID, timeout=9)
    assert caught.value.status == 400
    control.remove_webhook(CLIENT_ID)
    with pytest.raises(SandboxError) as missing:
        control.webhook(CLIENT_ID)
    assert missing.value.status == 404


def test_api_changes_arrive_as_one_signed_delivery_in_xeros_shape(subscribed: World, receiver: Receiver) -> None:
    world = subscribed
    contact_id = _contact(world)
    world.api.post(f"Contacts/{contact_id}", {"Contacts": [{"EmailAddress": "cafe@example.com"}]})
    world.api.post("Contacts", {"Contacts": [{"ContactID": contact_id, "ContactStatus": "ARCHIVED"}]})
    invoice = world.api.put("Invoices", {"Invoices": [{
        "Type": "ACCREC", "Contact": {"Name": "Walk-in Customer"},
        "LineItems": [{"Description": "Call-out", "Quantity": 1, "UnitAmount": 80, "AccountCode": "200"}],
    }]}).json()["Invoices"][0]
    world.api.post(f"Invoices/{invoice['InvoiceID']}", {"Invoices": [{"Reference": "JOB-7"}]})
    world.api.put("Items", {"Items": [{"Code": "NO-WEBHOOK"}]})

    [sent] = world.control.flush_webhooks()
    [delivery] = receiver.deliveries()
    assert sent["outcome"] == "delivered" and delivery.body.decode() == sent["body"]
    assert delivery.headers["x-xero-signature"] == signature(delivery.body, KEY) and delivery.signed_correctly
    payload = delivery.payload
    assert list(payload) == ["events", "firstEventSequence", "lastEventSequence", "entropy"]
    assert (payload["firstEventSequence"], payload["lastEventSequence"]) == (1, 6)
    walk_in = invoice["Contact"]["ContactID"]
    assert [(e["eventCategory"], e["eventType"], e["resourceId"]) for e in payload["events"]] == [
        ("CONTACT", "CREATE", contact_id),
        ("CONTACT", "UPDATE", contact_id),
        ("CONTACT", "UPDATE", contact_id),
        ("CONTACT", "CREATE", walk_in),
        ("INVOICE", "CREATE", invoice["InvoiceID"]),
        ("INVOICE", "UPDATE", invoice["InvoiceID"]),
    ]
    for event in payload["events"]:
        assert list(event) == EVENT_KEYS
        assert (event["tenantId"], event["tenantType"]) == (world.tenant_id, "ORGANISATION")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}", event["eventDateUtc"])
    first = payload["events"][0]
    assert first["resourceUrl"] == f"{world.base}/api.xro/2.0/Contacts/{contact_id}"
    fetched = world.api.get(first["resourceUrl"].split("/api.xro/2.0/")[1], params={"includeArchived": "true"})
    assert fetched.json()["Contacts"][0]["ContactStatus"] == "ARCHIVED"
    assert payload["events"][4]["resourceUrl"].endswith(f"/api.xro/2.0/Invoices/{invoice['InvoiceID']}")


def test_events_go_only_to_subscribed_apps_connected_to_the_organisation(
    subscribed: World, receiver: Receiver
) -> None:
    world = subscribed
    control = world.control
    with Receiver(KEY) as other_receiver:
        control.register_app("other-app", "other-secret", [REDIRECT_URI])
        assert control.register_webhook("other-app", other_receiver.url, signing_key=KEY)["status"] == "OK"
        control.seed_contacts(world.other_tenant_id, [{"Name": "Elsewhere Ltd"}])
        _contact(world)
        control.flush_webhooks()
        assert other_receiver.deliveries() == []
    assert [e["tenantId"] for e in receiver.events()] == [world.tenant_id]
    token = connect(world.sandbox, [world.other_tenant_id], client_id=CLIENT_ID, secret=CLIENT_SECRET)
    assert token["access_token"]
    control.seed_contacts(world.other_tenant_id, [{"Name": "Now Connected Ltd"}])
    control.flush_webhooks()
    assert [e["tenantId"] for e in receiver.events()] == [world.tenant_id, world.other_tenant_id]


def test_deliveries_run_in_the_background_without_blocking_the_api(subscribed: World, receiver: Receiver) -> None:
    world = subscribed

    def slow(received: Received) -> Answer:
        if received.is_intent_to_receive:
            return (200 if received.signed_correctly else 401), b"", 0.0
        return 200, b"", 0.5

    receiver.behave = slow
    world.control.set_time_scale(4)  # the 1 s batch delay lasts 0.25 s
    world.control.pause_webhooks(False)
    receiver.arrived.clear()
    first = _contact(world, "First")
    second = _contact(world, "Second")
    assert receiver.arrived.wait(5)
    started = time.monotonic()
    third = _contact(world, "Third")
    assert time.monotonic() - started < 0.4
    delivered = receiver.wait_for_deliveries(2)
    assert [e["resourceId"] for e in delivered[0].payload["events"]] == [first, second]
    assert [e["resourceId"] for e in delivered[1].payload["events"]] == [third]
    assert delivered[1].payload["firstEventSequence"] == 3


def test_failed_deliveries_are_retried_with_growing_delays(subscribed: World, receiver: Receiver) -> None:
    world = subscribed
    control = world.control
    receiver.behave = _failing_deliveries(503)
    _contact(world)
    [first] = control.flush_webhooks()
    assert first["outcome"] == "retrying" and first["reason"] == "answered 503 (expected 200)"
    assert [a["status"] for a in first["attempts"]] == [503]
    assert control.flush_webhooks() == []
    control.advance_clock(60)
    [second] = control.flush_webhooks()
    assert len(second["attempts"]) == 2
    gaps = [
        (_ts(second["next_attempt_at"]) - _ts(second["attempts"][1]["at"])),
        (_ts(second["attempts"][1]["at"]) - _ts(second["attempts"][0]["at"])),
    ]
    assert gaps[0] == pytest.approx(300, abs=1) and gaps[1] == pytest.approx(60, abs=1)
    receiver.behave = _failing_deliveries(200)
    control.advance_clock(300)
    [third] = control.flush_webhooks()
    assert third["outcome"] == "delivered" and third["next_attempt_at"] is None
    assert len(receiver.deliveries()) == 3
    assert len({r.body for r in receiver.deliveries()}) == 1


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def test_a_day_of_failures_disables_the_subscription(subscribed: World, receiver: Receiver) -> None:
    control = subscribed.control
    receiver.behave = _failing_deliveries(500)
    _contact(subscribed)
    control.flush_webhooks()
    control.advance_clock(24 * 3600)
    [last] = control.flush_webhooks()
    assert last["outcome"] == "failed"
    subscription = control.webhook(CLIENT_ID)
    assert subscription["status"] == "DISABLED" and "24 hours" in subscription["reason"]
    control.seed_contacts(subscribed.tenant_id, [{"Name": "While Disabled"}])
    assert control.webhook(CLIENT_ID)["pending_events"] == 0
    receiver.behave = _failing_deliveries(200)
    assert control.update_webhook(CLIENT_ID, enabled=True)["status"] == "OK"
    control.seed_contacts(subscribed.tenant_id, [{"Name": "After Re-enabling"}])
    [sent] = control.flush_webhooks()
    assert sent["outcome"] == "delivered" and sent["first_event_sequence"] == 2
    assert [d["outcome"] for d in control.webhook_deliveries(CLIENT_ID)] == ["failed", "delivered"]
    assert len(control.webhook_deliveries(outcome="failed")) == 1


def test_retries_follow_the_sandbox_clock_in_the_background(subscribed: World, receiver: Receiver) -> None:
    failures = {"left": 2}

    def flaky(received: Received) -> Answer:
        if received.is_intent_to_receive:
            return (200 if received.signed_correctly else 401), b"", 0.0
        failures["left"] -= 1
        return (500 if failures["left"] >= 0 else 200), b"", 0.0

    receiver.behave = flaky
    subscribed.control.pause_webhooks(False)
    _contact(subscribed)
    subscribed.control.set_time_scale(1200)  # the 60 s and 300 s retry delays take 0.05 s and 0.25 s
    delivered = receiver.wait_for_deliveries(3, timeout=10)
    assert delivered[0].body == delivered[2].body
    [delivery] = subscribed.control.webhook_deliveries(CLIENT_ID)
    assert delivery["outcome"] == "delivered" and [a["status"] for a in delivery["attempts"]] == [500, 500, 200]


def test_delivery_failures_are_recorded_with_their_reason(subscribed: World, receiver: Receiver) -> None:
    control = subscribed.control
    receiver.behave = _failing_deliveries(202)
    _contact(subscribed, "Accepted Only")
    assert control.flush_webhooks()[0]["reason"] == "answered 202 (expected 200)"
    control.update_webhook(CLIENT_ID, timeout=0.2)
    receiver.behave = lambda received: (200, b"", 0.0 if received.is_intent_to_receive else 0.5)
    _contact(subscribed, "Too Slow")
    slow = [d for d in control.flush_webhooks() if d["attempts"][-1]["error"].startswith("no answer")]
    assert slow and slow[0]["attempts"][-1]["error"] == "no answer within 0.2 s"
    receiver.stop()
    _contact(subscribed, "Nobody Home")
    refused = control.flush_webhooks()[-1]
    assert refused["attempts"][-1]["error"].startswith("connection failed")
    assert refused["attempts"][-1]["status"] is None and refused["outcome"] == "retrying"


def test_replay_sends_an_earlier_delivery_again(subscribed: World, receiver: Receiver) -> None:
    control = subscribed.control
    _contact(subscribed, "One")
    [first] = control.flush_webhooks()
    _contact(subscribed, "Two")
    [second] = control.flush_webhooks()
    replayed = control.replay_webhook(first["id"])
    assert replayed["replay_of"] == first["id"] and replayed["outcome"] == "delivered"
    assert replayed["body"] == first["body"] and replayed["id"] != first["id"]
    bodies = [r.body.decode() for r in receiver.deliveries()]
    assert bodies == [first["body"], second["body"], first["body"]]
    assert control.webhook_delivery(replayed["id"]) == replayed
    with pytest.raises(SandboxError) as caught:
        control.replay_webhook("no-such-delivery")
    assert caught.value.status == 404


def test_reset_forgets_webhooks(subscribed: World) -> None:
    subscribed.control.reset()
    assert subscribed.control.webhook_deliveries() == []
    with pytest.raises(SandboxError):
        subscribed.control.webhook(CLIENT_ID)
