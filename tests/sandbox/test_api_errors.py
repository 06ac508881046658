from __future__ import annotations

import requests

from .conftest import Api, World, connect


def test_missing_or_invalid_bearer_is_401(world: World) -> None:
    response = requests.get(f"{world.base}/api.xro/2.0/Contacts", headers={"xero-tenant-id": world.tenant_id},
                            timeout=5)
    assert response.status_code == 401
    body = response.json()
    assert body["Type"] is None and body["Title"] == "Unauthorized" and body["Instance"]
    bad = Api(world.base, "not-a-token", world.tenant_id).get("Contacts")
    assert bad.status_code == 401


def test_tenant_header_errors_are_403(world: World) -> None:
    for tenant in ("", "00000000-0000-0000-0000-000000000000", world.other_tenant_id):
        response = world.api.get("Contacts", tenant=tenant)
        assert response.status_code == 403
        assert response.json() == {**response.json(), "Type": None, "Title": "Forbidden", "Status": 403,
                                   "Detail": "AuthenticationUnsuccessful"}


def test_missing_scope_is_401_authorization_unsuccessful(world: World) -> None:
    token = connect(world.sandbox, [world.tenant_id], scope="offline_access accounting.contacts.read")
    api = Api(world.base, token["access_token"], world.tenant_id)
    assert api.get("Contacts").status_code == 200
    for method, path in (("PUT", "Contacts"), ("GET", "Invoices"), ("GET", "Items"), ("GET", "Organisation"),
                         ("GET", "Accounts"), ("GET", "TaxRates")):
        response = api.request(method, path, json={"Contacts": [{"Name": "x"}]})
        assert response.status_code == 401, (method, path)
        assert response.json()["Detail"] == "AuthorizationUnsuccessful"
    items_via_invoices = connect(world.sandbox, [world.tenant_id], scope="accounting.invoices.read")
    assert Api(world.base, items_via_invoices["access_token"], world.tenant_id).get("Items").status_code == 200


def test_old_app_broad_scopes_work(world: World) -> None:
    world.control.register_app("old", "s", ["http://127.0.0.1:8765/settings/accounting-sync/callback"],
                               created_after_granular=False)
    token = connect(world.sandbox, [world.tenant_id], scope="offline_access accounting.transactions", client_id="old",
                    secret="s")
    api = Api(world.base, token["access_token"], world.tenant_id)
    assert api.get("Invoices").status_code == 200 and api.get("Items").status_code == 200
    assert api.get("Contacts").status_code == 401


def test_body_too_large_bad_json_unknown_resource(world: World) -> None:
    huge = b'{"Contacts":[{"Name":"' + b"x" * (3_700_000) + b'"}]}'
    response = world.api.request("PUT", "Contacts", data=huge, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    bad = world.api.request("PUT", "Contacts", data=b"{nope", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and bad.json()["Type"] == "PostDataInvalidException"
    assert world.api.get("BankTransactions").status_code == 404
    assert world.api.request("DELETE", "Invoices/x").status_code == 405


def test_settings_endpoints(world: World) -> None:
    org = world.api.get("Organisation").json()["Organisations"][0]
    assert org["Name"] == "Acme Plumbing Ltd" and org["BaseCurrency"] == "NZD" and org["CountryCode"] == "NZ"
    assert org["OrganisationID"] == world.tenant_id
    accounts = world.api.get("Accounts").json()["Accounts"]
    assert {"200", "260", "610", "800"} <= {a["Code"] for a in accounts}
    assert next(a for a in accounts if a["Code"] == "200")["Type"] == "REVENUE"
    revenue = world.api.get("Accounts", params={"where": 'Type=="REVENUE"'}).json()["Accounts"]
    assert all(a["Class"] == "REVENUE" for a in revenue) and len(revenue) >= 3
    rates = {r["TaxType"]: r for r in world.api.get("TaxRates").json()["TaxRates"]}
    assert rates["OUTPUT2"]["EffectiveRate"] == 15 and rates["OUTPUT2"]["Name"] == "15% GST on Income"
    assert {"NONE", "ZERORATEDOUTPUT", "INPUT2"} <= set(rates)
    token = connect(world.sandbox, [world.other_tenant_id])
    au_rates = Api(world.base, token["access_token"], world.other_tenant_id).get("TaxRates").json()["TaxRates"]
    assert {"OUTPUT", "EXEMPTOUTPUT", "BASEXCLUDED", "INPUT"} <= {r["TaxType"] for r in au_rates}


def test_paths_are_case_insensitive(world: World) -> None:
    assert world.api.get("contacts").status_code == 200
