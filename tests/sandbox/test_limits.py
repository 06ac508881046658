from __future__ import annotations

import threading

import pytest
import requests

from flask_xerosync.sandbox import SandboxError

from .conftest import CLIENT_ID, REDIRECT_URI, Api, World, connect, token_request


def test_limit_headers_on_every_tenant_response(world: World) -> None:
    response = world.api.get("Contacts")
    assert response.headers["X-MinLimit-Remaining"] == "59"
    assert response.headers["X-DayLimit-Remaining"] == "4999"
    assert response.headers["X-AppMinLimit-Remaining"] == "9999"
    error = world.api.put("Contacts", {"Contacts": [{}]})
    assert error.status_code == 400 and error.headers["X-MinLimit-Remaining"] == "58"


def test_minute_limit_fixed_window_with_scaled_time(world: World) -> None:
    world.control.set_time_scale(60.0)  # a sandbox minute lasts one real second
    world.control.set_limits(world.tenant_id, per_minute=3)
    assert [world.api.get("Contacts").status_code for _ in range(3)] == [200, 200, 200]
    limited = world.api.get("Contacts")
    assert limited.status_code == 429
    assert limited.headers["X-Rate-Limit-Problem"] == "minute"
    assert limited.headers["X-MinLimit-Remaining"] == "0"
    retry = float(limited.headers["Retry-After"])
    assert 0 < retry <= 1.0 and "." in limited.headers["Retry-After"], "real seconds, decimal when scaled"
    assert limited.json()["Status"] == 429
    world.control.advance_clock(60)
    assert world.api.get("Contacts").status_code == 200
    counters = world.control.counters(world.tenant_id)
    assert counters["rate_limited"] == 1 and counters["rate_limited_by_problem"] == {"minute": 1}
    assert [w["calls"] for w in counters["calls_per_window"]] == [3, 1]


def test_retry_after_is_whole_seconds_at_real_speed(world: World) -> None:
    world.control.set_limits(world.tenant_id, per_minute=1)
    world.api.get("Contacts")
    limited = world.api.get("Contacts")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"].isdigit() and 1 <= int(limited.headers["Retry-After"]) <= 60


def test_day_limit(world: World) -> None:
    world.control.set_limits(world.tenant_id, per_day=2)
    world.api.get("Contacts")
    assert world.api.get("Contacts").headers["X-DayLimit-Remaining"] == "0"
    limited = world.api.get("Contacts")
    assert limited.status_code == 429 and limited.headers["X-Rate-Limit-Problem"] == "day"
    assert int(limited.headers["Retry-After"]) > 80000
    world.control.advance_clock(86400)
    refreshed = token_request(world.base, {"grant_type": "refresh_token",
                                           "refresh_token": world.token["refresh_token"]}).json()
    world.api.access_token = refreshed["access_token"]
    assert world.api.get("Contacts").status_code == 200


def test_limits_are_per_organisation(world: World) -> None:
    world.control.set_limits(world.tenant_id, per_minute=1)
    world.api.get("Contacts")
    assert world.api.get("Contacts").status_code == 429
    token = connect(world.sandbox, [world.other_tenant_id])
    headers = {"Authorization": f"Bearer {token['access_token']}", "xero-tenant-id": world.other_tenant_id}
    assert requests.get(f"{world.base}/api.xro/2.0/Contacts", headers=headers, timeout=5).status_code == 200


def test_app_minute_limit(world: World) -> None:
    world.control.set_app_limit(CLIENT_ID, 2)
    world.api.get("Contacts")
    world.api.get("Items")
    limited = world.api.get("Contacts")
    assert limited.status_code == 429
    assert limited.headers["X-Rate-Limit-Problem"] == "appminute"
    assert "Retry-After" not in limited.headers


def test_concurrent_limit_with_latency(world: World) -> None:
    world.control.faults(world.tenant_id, latency_ms=1500, methods=["GET"])
    barrier = threading.Barrier(6)
    results: list[requests.Response] = []
    lock = threading.Lock()

    def call() -> None:
        barrier.wait()
        response = world.api.get("Organisation")
        with lock:
            results.append(response)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] * 5 + [429]
    [limited] = [r for r in results if r.status_code == 429]
    assert limited.headers["X-Rate-Limit-Problem"] == "concurrent"
    assert "Retry-After" not in limited.headers
    counters = world.control.counters(world.tenant_id)
    assert counters["max_concurrency"] == 5
    assert counters["in_flight"] == 0


def test_counters_and_reset(world: World) -> None:
    world.control.seed_contacts(world.tenant_id, [{"Name": "Seeded"}])
    world.api.get("Contacts")
    world.api.put("Contacts", {"Contacts": [{"Name": "X"}]})
    counters = world.control.counters(world.tenant_id)
    assert counters["total_calls"] == 2, "seeding bypasses counters"
    assert {(c["method"], c["path"], c["status"]) for c in counters["calls"]} == {
        ("GET", "/api.xro/2.0/Contacts", 200), ("PUT", "/api.xro/2.0/Contacts", 200)}
    assert counters["by_method"] == {"GET": 1, "PUT": 1}
    world.control.reset_counters(world.tenant_id)
    assert world.control.counters(world.tenant_id)["total_calls"] == 0


def test_app_minute_limit_spans_tenants_and_every_response_counts_it_down(world: World) -> None:
    token = connect(world.sandbox, [world.other_tenant_id])
    other = Api(world.base, token["access_token"], world.other_tenant_id)
    world.control.set_app_limit(CLIENT_ID, 6)
    remaining = [
        world.api.get("Contacts").headers["X-AppMinLimit-Remaining"],
        other.get("Contacts").headers["X-AppMinLimit-Remaining"],
        world.api.put("Contacts", {"Contacts": [{"Name": ""}]}).headers["X-AppMinLimit-Remaining"],  # 400
        world.api.get("Invoices/no-such-invoice").headers["X-AppMinLimit-Remaining"],  # 404
        requests.get(f"{world.base}/connections", timeout=5,
                     headers={"Authorization": f"Bearer {world.token['access_token']}"}).headers[
            "X-AppMinLimit-Remaining"],
    ]
    assert remaining == ["5", "4", "3", "2", "1"]
    world.control.set_limits(world.tenant_id, per_minute=1)
    minute = world.api.get("Items")
    assert minute.status_code == 429 and minute.headers["X-Rate-Limit-Problem"] == "minute"
    assert minute.headers["X-AppMinLimit-Remaining"] == "1", "a refused call is not counted"
    other.get("Items")
    refused = other.get("Items")
    assert refused.status_code == 429 and refused.headers["X-Rate-Limit-Problem"] == "appminute"
    assert refused.headers["X-AppMinLimit-Remaining"] == "0" and "Retry-After" not in refused.headers
    assert refused.json()["Title"] == "Too Many Requests"
    connections = requests.get(f"{world.base}/connections", timeout=5,
                               headers={"Authorization": f"Bearer {world.token['access_token']}"})
    assert connections.status_code == 429 and connections.headers["X-Rate-Limit-Problem"] == "appminute"
    assert world.control.app_limits(CLIENT_ID) == {
        "client_id": CLIENT_ID, "per_minute": 6, "used": 6, "remaining": 0, "rate_limited": 2}
    assert world.control.counters(world.other_tenant_id)["rate_limited_by_problem"] == {"appminute": 1}
    world.control.advance_clock(60)
    assert other.get("Items").headers["X-AppMinLimit-Remaining"] == "5"


def test_default_limits_scale_every_tenant_and_app_until_reset(world: World) -> None:
    control = world.control
    assert control.default_limits() == {"per_minute": 60, "per_day": 5000, "concurrent": 5,
                                        "app_per_minute": 10000}
    assert world.api.get("Contacts").headers["X-AppMinLimit-Remaining"] == "9999"
    control.set_default_limits(app_per_minute=3, per_minute=30)
    response = world.api.get("Contacts")
    assert response.headers["X-AppMinLimit-Remaining"] == "1" and response.headers["X-MinLimit-Remaining"] == "28"
    assert world.api.get("Contacts").status_code == 200
    assert world.api.get("Contacts").headers["X-Rate-Limit-Problem"] == "appminute"
    control.register_app("second-app", "second-secret", [REDIRECT_URI])
    assert control.app_limits("second-app")["per_minute"] == 3
    assert control.set_app_limit(CLIENT_ID, 100)["per_minute"] == 100
    assert world.api.get("Contacts").headers["X-AppMinLimit-Remaining"] == "96"
    assert control.set_app_limit(CLIENT_ID, None)["per_minute"] == 3
    assert control.limits(world.tenant_id) == {"per_minute": 30, "per_day": 5000, "concurrent": 5}
    with pytest.raises(SandboxError):
        control.set_default_limits(per_day=-1)
    control.reset()
    assert control.default_limits()["app_per_minute"] == 10000
