from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from flask_xerosync.sandbox import SandboxControl, SandboxError, XeroSandbox

from .conftest import REDIRECT_URI, authorize_url, query_of, token_request

HOST_DEMO_CLIENTS = [
    ("Bright Spark Electrical", "accounts@brightspark.example"),
    ("Greenleaf Landscaping", "hello@greenleaf.example"),
    ("Harper & Sons Plumbing", "office@harpersons.example"),
    ("Coastal Cafe", "manager@coastalcafe.example"),
    ("Northgate Property Management", "maintenance@northgate.example"),
]


def test_demo_seed_collides_with_host_demo_clients(xero_sandbox_demo: XeroSandbox) -> None:
    info = xero_sandbox_demo.seed_info
    assert info["client_id"] == "xerosync-demo" and info["client_secret"] == "xerosync-demo-secret"
    assert "http://127.0.0.1:5000/settings/accounting-sync/callback" in info["redirect_uris"]
    assert "http://localhost:5000/settings/accounting-sync/callback" in info["redirect_uris"]
    nz, au = info["orgs"]
    assert (nz["name"], nz["country"], au["name"], au["country"]) == (
        "Harbour Field Services Ltd", "NZ", "Harbour Holdings", "AU")
    contacts = xero_sandbox_demo.control.contacts(nz["tenant_id"])
    by_email: dict[str, list[str]] = {}
    for contact in contacts:
        by_email.setdefault(contact["EmailAddress"].lower(), []).append(contact["Name"])
    assert by_email["accounts@brightspark.example"] == ["Bright Spark Electrical Ltd"]
    assert sorted(by_email["manager@coastalcafe.example"]) == ["Coastal Cafe Ltd", "Coastal Café Group"]
    normalised = {" ".join(c["Name"].split()).casefold() for c in contacts}
    assert "greenleaf landscaping" in normalised
    assert "hello@greenleaf.example" not in by_email
    for name, email in HOST_DEMO_CLIENTS[2:3] + HOST_DEMO_CLIENTS[4:]:
        assert email not in by_email and name.casefold() not in normalised
    supplier = next(c for c in contacts if c["Name"] == "Office Supplies Co")
    assert supplier["IsSupplier"] is True and supplier["IsCustomer"] is False
    assert any(c["ContactStatus"] == "ARCHIVED" for c in contacts)
    customers = [c for c in contacts if c["ContactStatus"] == "ACTIVE" and c["Name"] not in (
        "Bright Spark Electrical Ltd", "greenleaf  landscaping", "Coastal Cafe Ltd", "Coastal Café Group",
        "Office Supplies Co")]
    assert len(customers) >= 8
    assert all(c["Addresses"][0].get("AddressLine1") and c["Phones"][0]["PhoneNumber"] for c in customers)
    items = xero_sandbox_demo.control.items(nz["tenant_id"])
    codes = {i["Code"]: i for i in items}
    assert {"LAB-HR", "CALLOUT"} <= set(codes) and len(items) >= 8
    assert any(i["IsSold"] is False for i in items)
    invoices = xero_sandbox_demo.control.invoices(nz["tenant_id"])
    assert any(i["Status"] == "PAID" for i in invoices) and len(invoices) >= 3


def test_demo_app_full_oauth_with_headless_consent(xero_sandbox_demo: XeroSandbox) -> None:
    info = xero_sandbox_demo.seed_info
    base = xero_sandbox_demo.url
    redirect = info["redirect_uris"][0]
    url = authorize_url(base, client_id="xerosync-demo", redirect_uri=redirect)
    au = info["orgs"][1]["tenant_id"]
    location = xero_sandbox_demo.control.authorize(url, tenant_ids=[au])
    assert location.startswith(redirect)
    code = query_of(location)["code"]
    token = requests.post(f"{base}/connect/token", data={"grant_type": "authorization_code", "code": code,
                                                          "redirect_uri": redirect},
                          auth=("xerosync-demo", "xerosync-demo-secret"), timeout=5).json()
    conns = requests.get(f"{base}/connections", headers={"Authorization": f"Bearer {token['access_token']}"},
                         timeout=5).json()
    assert [c["tenantName"] for c in conns] == ["Harbour Holdings"]


def test_headless_consent_default_picks_first_org(xero_sandbox: XeroSandbox) -> None:
    control = xero_sandbox.control
    control.register_app("app", "secret", [REDIRECT_URI])
    first = control.create_org("First Org")
    control.create_org("Second Org")
    control.create_user("a@x.example", "A User", tenant_ids=[first])
    control.create_user("b@x.example", "B User")
    location = control.authorize(authorize_url(xero_sandbox.url, client_id="app"), user="a@x.example")
    code = query_of(location)["code"]
    assert token_request(xero_sandbox.url, {"grant_type": "authorization_code", "code": code,
                                            "redirect_uri": REDIRECT_URI}, "app", "secret").status_code == 200
    assert [c["tenantId"] for c in control.connections()] == [first]
    with pytest.raises(SandboxError):
        control.set_consent("app", tenant_ids=["not-an-org"], user="a@x.example")
    with pytest.raises(SandboxError):
        control.set_consent("missing-app")


def test_fixture_resets_state(xero_sandbox: XeroSandbox) -> None:
    assert xero_sandbox.control.state()["orgs"] == []
    assert xero_sandbox.control.state()["time_scale"] == 1.0


def test_control_errors_and_state(xero_sandbox: XeroSandbox) -> None:
    control = xero_sandbox.control
    with pytest.raises(SandboxError) as caught:
        control.counters("00000000-0000-0000-0000-000000000000")
    assert caught.value.status == 404
    tenant = control.create_org("Org", country="AU", base_currency="AUD", short_code="!abc")
    with pytest.raises(SandboxError):
        control.seed_contacts(tenant, [{"Name": "Dup"}, {"Name": "dup"}])
    with pytest.raises(SandboxError):
        control.add_payment(tenant, "nope")
    before = control.now()
    assert control.advance_clock(3600) > before
    assert control.set_limits(tenant, per_minute=5)["per_minute"] == 5
    assert control.state()["orgs"][0]["short_code"] == "!abc"


def test_second_sandbox_in_context_manager_with_time_scale() -> None:
    with XeroSandbox(time_scale=120.0) as sandbox:
        control = SandboxControl(sandbox.url)
        assert control.state()["time_scale"] == 120.0
        control.close()
    with pytest.raises(RuntimeError):
        _ = sandbox.url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_command_line_runs_demo() -> None:
    port = _free_port()
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-m", "flask_xerosync.sandbox", "--port", str(port), "--seed", "demo",
         "--time-scale", "2", "--redirect-uri", "http://example.test/cb"],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "organisation: Harbour Holdings" in line:
                break
        output = "".join(lines)
        assert f"http://127.0.0.1:{port}" in output
        assert "client_id=xerosync-demo client_secret=xerosync-demo-secret" in output
        assert "http://example.test/cb" in output
        state = requests.get(f"http://127.0.0.1:{port}/_sandbox/state", timeout=5).json()
        assert state["time_scale"] == 2.0 and len(state["orgs"]) == 2
    finally:
        process.terminate()
        process.wait(timeout=10)
