from __future__ import annotations

from .conftest import World


def test_same_key_same_body_replays_byte_for_byte(world: World) -> None:
    body = {"Contacts": [{"Name": "Once Only"}]}
    first = world.api.put("Contacts", body, headers={"Idempotency-Key": "abc"})
    second = world.api.put("Contacts", body, headers={"Idempotency-Key": "abc"})
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert len(world.control.contacts(world.tenant_id)) == 1


def test_errors_are_replayed_too(world: World) -> None:
    body = {"Contacts": [{"EmailAddress": "no-name@x.example"}]}
    first = world.api.put("Contacts", body, headers={"Idempotency-Key": "err"})
    second = world.api.put("Contacts", body, headers={"Idempotency-Key": "err"})
    assert first.status_code == second.status_code == 400 and first.content == second.content


def test_same_key_different_body_is_rejected(world: World) -> None:
    world.api.put("Contacts", {"Contacts": [{"Name": "A"}]}, headers={"Idempotency-Key": "k"})
    response = world.api.put("Contacts", {"Contacts": [{"Name": "B"}]}, headers={"Idempotency-Key": "k"})
    assert response.status_code == 400
    assert "is used with a different request" in response.json()["Detail"]


def test_key_expires_after_six_sandbox_minutes(world: World) -> None:
    body = {"Contacts": [{"Name": "Expiring"}]}
    world.api.put("Contacts", body, headers={"Idempotency-Key": "exp"})
    world.control.advance_clock(5 * 60)
    assert world.api.put("Contacts", body, headers={"Idempotency-Key": "exp"}).status_code == 200
    world.control.advance_clock(61)
    again = world.api.put("Contacts", body, headers={"Idempotency-Key": "exp"})
    assert again.status_code == 400, "re-executed after expiry: the name is now taken"


def test_key_length_and_scope(world: World) -> None:
    assert world.api.put("Contacts", {"Contacts": [{"Name": "L"}]},
                         headers={"Idempotency-Key": "x" * 129}).status_code == 400
    assert world.api.put("Contacts", {"Contacts": [{"Name": "L"}]},
                         headers={"Idempotency-Key": "x" * 128}).status_code == 200
