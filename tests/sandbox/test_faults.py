from __future__ import annotations

import time

import pytest
import requests

from .conftest import World


def test_fail_next_statuses(world: World) -> None:
    world.control.faults(world.tenant_id, fail_next=[503, 500, 429])
    first, second, third = (world.api.get("Contacts") for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (503, 500, 429)
    assert first.json()["Status"] == 503 and "X-MinLimit-Remaining" in first.headers
    assert third.headers["X-Rate-Limit-Problem"] == "minute" and third.headers["Retry-After"]
    assert world.api.get("Contacts").status_code == 200


def test_error_rate_is_deterministic_with_seed(world: World) -> None:
    def run() -> list[int]:
        world.control.faults(world.tenant_id, error_rate=0.5, error_statuses=[500, 503], seed=7)
        return [world.api.get("Organisation").status_code for _ in range(20)]

    first, second = run(), run()
    assert first == second
    assert set(first) == {200, 500, 503}
    world.control.clear_faults(world.tenant_id)
    assert all(world.api.get("Organisation").status_code == 200 for _ in range(5))


def test_latency_is_added(world: World) -> None:
    world.control.faults(world.tenant_id, latency_ms=300)
    started = time.monotonic()
    assert world.api.get("Organisation").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_dropped_response_commits_the_write(world: World) -> None:
    world.control.faults(world.tenant_id, drop_next=1)
    with pytest.raises(requests.ConnectionError):
        world.api.put("Contacts", {"Contacts": [{"Name": "Committed"}]}, headers={"Idempotency-Key": "k-1"})
    assert [c["Name"] for c in world.control.contacts(world.tenant_id)] == ["Committed"]
    retry = world.api.put("Contacts", {"Contacts": [{"Name": "Committed"}]}, headers={"Idempotency-Key": "k-1"})
    assert retry.status_code == 200, "the same key replays the committed result instead of failing on the name"
    assert len(world.control.contacts(world.tenant_id)) == 1
    assert world.api.get("Contacts").status_code == 200, "reads are never dropped"


def test_fault_plan_validation(world: World) -> None:
    from flask_xerosync.sandbox import SandboxError

    with pytest.raises(SandboxError):
        world.control.faults(world.tenant_id, error_rate=2)
    with pytest.raises(SandboxError):
        world.control.faults(world.tenant_id, fail_next=[200])
