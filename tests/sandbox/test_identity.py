from __future__ import annotations

import base64
import json
import re

import requests

from .conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    SCOPES,
    USER_EMAIL,
    Api,
    World,
    authorize_url,
    connect,
    pkce_pair,
    query_of,
    token_request,
)


def _jwt_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _code(world: World, **extra: str) -> str:
    world.control.set_consent(CLIENT_ID, "authorise", tenant_ids=[world.tenant_id])
    location = world.control.authorize(authorize_url(world.base, **extra))
    world.control.clear_consent(CLIENT_ID)
    return query_of(location)["code"]


def _exchange(world: World, code: str, **extra: str) -> requests.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, **extra}
    return token_request(world.base, data)


def test_discovery_points_at_this_origin(world: World) -> None:
    doc = requests.get(f"{world.base}/.well-known/openid-configuration", timeout=5).json()
    assert doc["issuer"] == world.base
    assert doc["authorization_endpoint"] == f"{world.base}/identity/connect/authorize"
    assert doc["token_endpoint"] == f"{world.base}/connect/token"
    assert doc["revocation_endpoint"] == f"{world.base}/connect/revocation"
    keys = requests.get(doc["jwks_uri"], timeout=5).json()["keys"]
    assert keys[0]["kty"] == "RSA"


def test_consent_page_is_accessible_form(world: World) -> None:
    page = requests.get(authorize_url(world.base), timeout=5)
    assert page.status_code == 200
    html = page.text
    assert '<html lang="en">' in html
    assert "<main>" in html and "<h1>" in html
    assert "<fieldset>" in html and "<legend>" in html
    assert 'type="radio"' in html and 'type="checkbox"' not in html
    assert "Acme Plumbing Ltd" in html and "Acme Holdings Pty" in html
    assert USER_EMAIL in html and "accounting.contacts" in html
    assert re.search(r'<label for="org-1">', html)
    assert '<button type="submit" class="primary" name="action" value="authorise">Authorise</button>' in html
    assert 'value="cancel">Cancel</button>' in html
    assert '<form method="post"' in html


def test_bulk_connections_app_gets_checkboxes(world: World) -> None:
    world.control.register_app("bulk-app", "s", [REDIRECT_URI], bulk_connections=True)
    html = requests.get(authorize_url(world.base, client_id="bulk-app"), timeout=5).text
    assert html.count('type="checkbox"') == 2
    location = world.control.authorize(
        authorize_url(world.base, client_id="bulk-app"), tenant_ids=[world.tenant_id, world.other_tenant_id]
    )
    code = query_of(location)["code"]
    token = token_request(world.base, {"grant_type": "authorization_code", "code": code,
                                       "redirect_uri": REDIRECT_URI}, "bulk-app", "s").json()
    conns = requests.get(f"{world.base}/connections", headers={"Authorization": f"Bearer {token['access_token']}"},
                         timeout=5).json()
    assert {c["tenantId"] for c in conns} == {world.tenant_id, world.other_tenant_id}
    assert len({c["authEventId"] for c in conns}) == 1


def test_authorise_redirects_with_code_and_unchanged_state(world: World) -> None:
    location = world.control.authorize(authorize_url(world.base, state="a b/c+d"))
    assert location.startswith(REDIRECT_URI + "?")
    params = query_of(location)
    assert params["state"] == "a b/c+d"
    assert params["code"]


def test_cancel_redirects_with_access_denied(world: World) -> None:
    location = world.control.authorize(authorize_url(world.base, state="s1"), action="cancel")
    params = query_of(location)
    assert params == {"error": "access_denied", "state": "s1"}


def test_non_bulk_app_cannot_choose_two_orgs(world: World) -> None:
    page = requests.get(authorize_url(world.base), timeout=5).text
    request_id = re.search(r'name="request_id" value="([^"]*)"', page).group(1)
    response = requests.post(
        f"{world.base}/identity/connect/authorize",
        data=[("request_id", request_id), ("action", "authorise"), ("tenant_id", world.tenant_id),
              ("tenant_id", world.other_tenant_id)],
        allow_redirects=False, timeout=5,
    )
    assert response.status_code == 400
    assert 'role="alert"' in response.text


def test_bad_authorize_parameters_render_500_page_and_never_redirect(world: World) -> None:
    world.control.register_app("old-app", "s", [REDIRECT_URI], created_after_granular=False)
    cases = [
        (authorize_url(world.base, client_id="nope"), "unauthorized_client"),
        (authorize_url(world.base, redirect_uri=REDIRECT_URI + "/x"), "invalid_request"),
        (authorize_url(world.base, redirect_uri=REDIRECT_URI.upper()), "invalid_request"),
        (authorize_url(world.base, response_type="token"), "unsupported_response_type"),
        (authorize_url(world.base, scope="offline_access accounting.everything"), "invalid_scope"),
        (authorize_url(world.base, scope="offline_access accounting.transactions"), "unauthorized_client"),
        (authorize_url(world.base, code_challenge="abc", code_challenge_method="plain"), "invalid_request"),
    ]
    for url, error in cases:
        response = requests.get(url, allow_redirects=False, timeout=5)
        assert response.status_code == 500, url
        assert error in response.text
        assert "Location" not in response.headers
    broad = requests.get(authorize_url(world.base, scope="offline_access accounting.transactions"),
                         allow_redirects=False, timeout=5)
    assert "Invalid scope for client" in broad.text
    old = requests.get(authorize_url(world.base, client_id="old-app", scope="accounting.transactions"),
                       allow_redirects=False, timeout=5)
    assert old.status_code == 200


def test_preset_consent_applies_until_cleared(world: World) -> None:
    world.control.set_consent(CLIENT_ID, "cancel")
    for _ in range(2):
        response = requests.get(authorize_url(world.base, state="x"), allow_redirects=False, timeout=5)
        assert response.status_code == 302
        assert query_of(response.headers["Location"])["error"] == "access_denied"
    world.control.clear_consent(CLIENT_ID)
    assert requests.get(authorize_url(world.base), allow_redirects=False, timeout=5).status_code == 200


def test_token_response_shape_and_claims(world: World) -> None:
    token = world.token
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 1800
    assert token["refresh_token"]
    assert token["scope"] == SCOPES
    assert token["id_token"]
    claims = _jwt_claims(token["access_token"])
    conns = requests.get(f"{world.base}/connections", headers={"Authorization": f"Bearer {token['access_token']}"},
                         timeout=5).json()
    assert claims["authentication_event_id"] == conns[0]["authEventId"]
    assert _jwt_claims(token["id_token"])["email"] == USER_EMAIL


def test_no_refresh_token_without_offline_access(world: World) -> None:
    token = connect(world.sandbox, [world.tenant_id], scope="accounting.contacts")
    assert "refresh_token" not in token
    assert "id_token" not in token


def test_client_auth_in_body_and_invalid_client(world: World) -> None:
    code = _code(world)
    bad = token_request(world.base, {"grant_type": "authorization_code", "code": code,
                                     "redirect_uri": REDIRECT_URI}, secret="wrong")
    assert bad.status_code == 401
    assert bad.json() == {"error": "invalid_client"}
    good = token_request(world.base, {"grant_type": "authorization_code", "code": code,
                                      "redirect_uri": REDIRECT_URI}, basic=False)
    assert good.status_code == 200, good.text


def test_code_is_single_use(world: World) -> None:
    code = _code(world)
    assert _exchange(world, code).status_code == 200
    replay = _exchange(world, code)
    assert replay.status_code == 400
    assert replay.json() == {"error": "invalid_grant"}


def test_code_expires_after_five_minutes(world: World) -> None:
    code = _code(world)
    world.control.advance_clock(301)
    assert _exchange(world, code).json() == {"error": "invalid_grant"}


def test_redirect_uri_must_match_exactly(world: World) -> None:
    code = _code(world)
    response = token_request(world.base, {"grant_type": "authorization_code", "code": code,
                                          "redirect_uri": REDIRECT_URI + "/"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_pkce_s256(world: World) -> None:
    verifier, challenge = pkce_pair()
    code = _code(world, code_challenge=challenge, code_challenge_method="S256")
    assert _exchange(world, code, code_verifier=verifier).status_code == 200

    code = _code(world, code_challenge=challenge, code_challenge_method="S256")
    other, _ = pkce_pair()
    assert _exchange(world, code, code_verifier=other).json() == {"error": "invalid_grant"}

    code = _code(world, code_challenge=challenge, code_challenge_method="S256")
    assert _exchange(world, code).json() == {"error": "invalid_grant"}

    short = "a" * 42
    short_challenge = base64.urlsafe_b64encode(__import__("hashlib").sha256(short.encode()).digest()).rstrip(b"=")
    code = _code(world, code_challenge=short_challenge.decode(), code_challenge_method="S256")
    assert _exchange(world, code, code_verifier=short).json() == {"error": "invalid_grant"}


def test_public_pkce_app_without_secret(world: World) -> None:
    world.control.register_app("spa", "", [REDIRECT_URI])
    verifier, challenge = pkce_pair()
    world.control.set_consent("spa", tenant_ids=[world.tenant_id])
    location = world.control.authorize(
        authorize_url(world.base, client_id="spa", code_challenge=challenge, code_challenge_method="S256"))
    response = requests.post(f"{world.base}/connect/token", data={
        "grant_type": "authorization_code", "code": query_of(location)["code"], "redirect_uri": REDIRECT_URI,
        "client_id": "spa", "code_verifier": verifier}, timeout=5)
    assert response.status_code == 200, response.text


def _refresh(world: World, refresh_token: str) -> requests.Response:
    return token_request(world.base, {"grant_type": "refresh_token", "refresh_token": refresh_token})


def test_refresh_rotates_with_thirty_minute_grace(world: World) -> None:
    first = world.token["refresh_token"]
    rotated = _refresh(world, first)
    assert rotated.status_code == 200
    second = rotated.json()["refresh_token"]
    assert second != first
    world.control.advance_clock(29 * 60)
    retry = _refresh(world, first)
    assert retry.status_code == 200, "old refresh token works inside the grace period"
    assert _refresh(world, first).status_code == 200, "as many times as needed"
    world.control.advance_clock(2 * 60)
    late = _refresh(world, first)
    assert late.status_code == 400
    assert late.json() == {"error": "invalid_grant"}
    assert _refresh(world, second).status_code == 200


def test_refresh_token_expires_after_60_days_unused(world: World) -> None:
    world.control.advance_clock(60 * 86400 + 1)
    assert _refresh(world, world.token["refresh_token"]).json() == {"error": "invalid_grant"}


def test_refresh_errors(world: World) -> None:
    assert _refresh(world, "garbage").json() == {"error": "invalid_grant"}
    response = token_request(world.base, {"grant_type": "client_credentials"})
    assert response.json() == {"error": "unsupported_grant_type"}
    world.control.expire_refresh_token(world.token["refresh_token"])
    assert _refresh(world, world.token["refresh_token"]).json() == {"error": "invalid_grant"}


def test_access_token_expires_after_thirty_minutes(world: World) -> None:
    assert world.api.get("Contacts").status_code == 200
    world.control.advance_clock(30 * 60 + 1)
    response = world.api.get("Contacts")
    assert response.status_code == 401
    body = response.json()
    assert body["Title"] == "Unauthorized" and body["Status"] == 401
    assert body["Detail"].startswith("TokenExpired: token expired at ")
    refreshed = _refresh(world, world.token["refresh_token"]).json()
    assert Api(world.base, refreshed["access_token"], world.tenant_id).get("Contacts").status_code == 200


def test_revocation_revokes_grant_and_removes_connections(world: World) -> None:
    response = requests.post(f"{world.base}/connect/revocation", data={"token": world.token["refresh_token"]},
                             auth=(CLIENT_ID, CLIENT_SECRET), timeout=5)
    assert response.status_code == 200
    assert _refresh(world, world.token["refresh_token"]).json() == {"error": "invalid_grant"}
    assert world.api.get("Contacts").status_code == 401
    assert world.control.connections() == []
    bad = requests.post(f"{world.base}/connect/revocation", data={"token": "x"}, auth=(CLIENT_ID, "no"), timeout=5)
    assert bad.status_code == 401


def test_connections_list_filter_delete_and_reconnect(world: World) -> None:
    headers = {"Authorization": f"Bearer {world.token['access_token']}"}
    conns = requests.get(f"{world.base}/connections", headers=headers, timeout=5)
    assert conns.status_code == 200
    assert "X-AppMinLimit-Remaining" in conns.headers
    assert "X-MinLimit-Remaining" not in conns.headers
    [conn] = conns.json()
    assert set(conn) == {"id", "tenantId", "authEventId", "tenantType", "tenantName", "createdDateUtc",
                         "updatedDateUtc"}
    assert conn["tenantType"] == "ORGANISATION" and conn["tenantName"] == "Acme Plumbing Ltd"
    filtered = requests.get(f"{world.base}/connections", params={"authEventId": "00000000-0000-0000-0000-000000000000"},
                            headers=headers, timeout=5).json()
    assert filtered == []

    world.control.advance_clock(5)
    again = connect(world.sandbox, [world.tenant_id])
    [reconn] = requests.get(f"{world.base}/connections", headers={"Authorization": f"Bearer {again['access_token']}"},
                            timeout=5).json()
    assert reconn["tenantId"] == conn["tenantId"] and reconn["id"] == conn["id"]
    assert reconn["authEventId"] != conn["authEventId"]
    assert reconn["updatedDateUtc"] != conn["updatedDateUtc"]
    assert reconn["createdDateUtc"] == conn["createdDateUtc"]

    assert requests.delete(f"{world.base}/connections/{world.tenant_id}", headers=headers, timeout=5).status_code == 404
    assert requests.delete(f"{world.base}/connections/{conn['id']}", headers=headers, timeout=5).status_code == 204
    assert world.api.get("Contacts").status_code == 403


def test_user_revoking_connection_in_xero(world: World) -> None:
    assert world.control.revoke_connection(tenant_id=world.tenant_id) == 1
    response = world.api.get("Contacts")
    assert response.status_code == 403
    assert response.json()["Detail"] == "AuthenticationUnsuccessful"
    assert _refresh(world, world.token["refresh_token"]).status_code == 200, "refresh still succeeds"


def test_connections_require_a_valid_bearer(world: World) -> None:
    response = requests.get(f"{world.base}/connections", timeout=5)
    assert response.status_code == 401


def test_control_can_expire_an_access_token_and_all_refresh_tokens(world: World) -> None:
    assert world.control.expire_access_token(world.token["access_token"]) == 1
    assert world.api.get("Contacts").json()["Detail"].startswith("TokenExpired")
    assert world.control.expire_tokens(CLIENT_ID, user=USER_EMAIL) == 1
    assert _refresh(world, world.token["refresh_token"]).json() == {"error": "invalid_grant"}
