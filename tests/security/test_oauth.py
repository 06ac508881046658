"""The connect flow: ``state`` is single-use and bound to the browser session that started the flow,
PKCE S256 with a verifier that never leaves the server, no token in the session cookie, and no
redirect of the blueprint leaves the app."""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from example_app import xerosync
from flask_xerosync.models import Connection
from flask_xerosync.services import connect as flow
from flask_xerosync.state import current_state
from flask_xerosync.web.rendering import safe_next

from .conftest import (
    HARBOUR_ACCOUNT,
    HARBOUR_LOGIN,
    SETTINGS,
    OrgSetup,
    Seeded,
    blueprint_routes,
    connect_account,
    connection_token,
    consent,
    is_on_this_host,
    login,
    notices,
    redis_dump,
    request,
    secret_fragments,
    session_cookie_text,
    session_token,
    start_flow,
    url_of,
)

REFUSED = "does not match a connection started from this page"
EVIL_TARGETS = (
    "https://evil.example/",
    "http://evil.example",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "https:evil.example",
    "javascript:alert(1)",
    " //evil.example",
    "evil.example",
)


def stored_token(app: Flask) -> str | None:
    with app.app_context():
        connection = current_state().db.session.scalar(
            select(Connection).where(Connection.account_id == HARBOUR_ACCOUNT)
        )
        return None if connection is None else connection.token_encrypted


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def test_a_callback_replayed_with_the_same_state_is_refused(
    app: Flask, harbour_client: FlaskClient, sandbox_org: OrgSetup
) -> None:
    authorize_url = start_flow(harbour_client)
    cookie_of_the_flow = harbour_client.get_cookie("session", domain="localhost").value
    assert harbour_client.get(consent(sandbox_org, authorize_url)).status_code == 302
    first = stored_token(app)
    assert first is not None

    # The same callback again, in the same browser.
    replay = consent(sandbox_org, authorize_url)
    assert harbour_client.get(replay).status_code == 302
    assert any(REFUSED in notice for notice in notices(harbour_client.get(SETTINGS).get_data(as_text=True)))
    # And with the session cookie as it was before the first callback, and a fresh code Xero issued
    # for the same state: the state was used up on the server, whatever the cookie says.
    harbour_client.set_cookie("session", cookie_of_the_flow, domain="localhost")
    response = harbour_client.get(consent(sandbox_org, authorize_url))

    assert response.status_code == 302
    assert stored_token(app) == first
    assert any(REFUSED in notice for notice in notices(harbour_client.get(SETTINGS).get_data(as_text=True)))


def test_a_callback_in_a_session_that_never_started_a_flow_is_refused(
    app: Flask, harbour_client: FlaskClient, sandbox_org: OrgSetup
) -> None:
    callback = consent(sandbox_org, start_flow(harbour_client))
    other_browser = app.test_client()
    login(other_browser, *HARBOUR_LOGIN)  # the same user, even

    response = other_browser.get(callback)

    assert response.status_code == 302
    assert stored_token(app) is None
    assert any(REFUSED in notice for notice in notices(other_browser.get(SETTINGS).get_data(as_text=True)))
    # The refusal did not spoil the flow of the browser that started it.
    assert harbour_client.get(callback).status_code == 302
    assert stored_token(app) is not None


def test_a_callback_with_a_wrong_state_leaves_the_flow_in_progress(
    app: Flask, harbour_client: FlaskClient, sandbox_org: OrgSetup
) -> None:
    """A forged or stale ``/callback?state=…`` in the user's own browser (a link someone sent them)
    is refused without consuming the connect they have in progress."""
    callback = consent(sandbox_org, start_flow(harbour_client))

    forged = harbour_client.get(SETTINGS + "callback?state=forged&code=stolen")

    assert forged.status_code == 302
    assert stored_token(app) is None
    assert harbour_client.get(callback).status_code == 302
    assert stored_token(app) is not None


def test_a_flow_started_for_another_account_is_refused(
    app: Flask, harbour_client: FlaskClient, sandbox_org: OrgSetup
) -> None:
    """The user's account changed between Connect and the callback (the host switched business)."""
    callback = consent(sandbox_org, start_flow(harbour_client))
    loader = xerosync.callbacks.account_loader
    xerosync.account_loader(lambda: "3")
    try:
        harbour_client.get(callback)
    finally:
        xerosync.account_loader(loader)

    with app.app_context():
        assert current_state().db.session.scalar(select(Connection)) is None


def test_the_authorize_url_carries_only_the_s256_challenge(
    app: Flask, harbour_client: FlaskClient, sandbox_org: OrgSetup
) -> None:
    authorize_url = start_flow(harbour_client)
    query = query_of(authorize_url)

    assert query["code_challenge_method"] == ["S256"]
    assert query["response_type"] == ["code"]
    assert "code_verifier" not in query and "client_secret" not in query
    challenge = query["code_challenge"][0]
    verifiers = [
        word for word in _words(redis_dump(app)) if len(word) >= 43 and s256(word) == challenge
    ]
    assert len(verifiers) == 1, "the verifier is kept server-side, in the extension's Redis"
    verifier = verifiers[0]
    assert verifier not in authorize_url
    assert verifier not in session_cookie_text(app, harbour_client)
    # And it is the verifier the token request proves: the flow completes.
    assert harbour_client.get(consent(sandbox_org, authorize_url)).status_code == 302
    assert stored_token(app) is not None
    assert verifier not in redis_dump(app), "the verifier is forgotten once used"


def test_the_session_cookie_holds_no_token(app: Flask, harbour_client: FlaskClient, sandbox_org: OrgSetup) -> None:
    connect_account(harbour_client, sandbox_org)
    harbour_client.get(SETTINGS)
    token = connection_token(app)

    cookie = session_cookie_text(app, harbour_client)

    for fragment in secret_fragments(token):
        assert fragment not in cookie
    assert "access_token" not in cookie and "refresh_token" not in cookie


def test_denied_consent_uses_up_the_state(app: Flask, harbour_client: FlaskClient, sandbox_org: OrgSetup) -> None:
    authorize_url = start_flow(harbour_client)
    cookie_of_the_flow = harbour_client.get_cookie("session", domain="localhost").value
    harbour_client.get(consent(sandbox_org, authorize_url, action="cancel"))

    harbour_client.set_cookie("session", cookie_of_the_flow, domain="localhost")
    harbour_client.get(consent(sandbox_org, authorize_url))

    assert stored_token(app) is None


@pytest.mark.parametrize("target", EVIL_TARGETS)
def test_safe_next_refuses_targets_off_this_host(target: str) -> None:
    assert safe_next(target) is None


@pytest.mark.parametrize("target", ["/invoices/7", "/invoices/7?tab=lines#top", "/"])
def test_safe_next_keeps_paths_of_this_host(target: str) -> None:
    assert safe_next(target) == target


def test_no_route_redirects_off_the_app(
    app: Flask, harbour_client: FlaskClient, connected: OrgSetup, seeded: Seeded
) -> None:
    """Every route, with every evil target in every parameter a redirect could come from."""
    token = session_token(harbour_client)
    authorize_url = current_state_config(app).authorize_url
    failures = []
    for route in blueprint_routes(app):
        if route.endpoint == "xerosync.disconnect":
            continue  # would end the connection the other routes need; it takes no target anyway
        for target in EVIL_TARGETS:
            url = url_of(app, route, seeded) + "?" + "&".join(
                f"{name}={target}" for name in ("next", "next_url", "return_to", "redirect", "url")
            )
            data = {"csrf_token": token, "next": target, "next_url": target, "return_to": target}
            for headers in ({}, {"HX-Request": "true"}):
                response = request(harbour_client, route, url, data, headers)
                location = response.headers.get("Location", "")
                if not location:
                    continue
                if route.endpoint == "xerosync.connect":
                    ok = location.startswith(authorize_url + "?") and "evil" not in location
                else:
                    ok = is_on_this_host(location) and "evil" not in location
                if not ok:
                    failures.append(f"{route} with {target!r}: {location}")
                for header in ("HX-Redirect", "HX-Location"):
                    if "evil" in response.headers.get(header, ""):
                        failures.append(f"{route} with {target!r}: {header}")
    assert not failures, "\n".join(failures)


def test_the_invoice_action_never_renders_an_evil_next(
    app: Flask, harbour_client: FlaskClient, connected: OrgSetup, seeded: Seeded
) -> None:
    from flask_login import login_user

    from example_app.models import User
    from flask_xerosync.web.rendering import invoice_action

    for target in EVIL_TARGETS:
        with app.test_request_context(f"/invoices/{seeded.invoice_id}"):
            login_user(current_state().db.session.get(User, 1))
            html = str(invoice_action(seeded.invoice_id, target))
        assert "evil" not in html, target
        assert f'name="next" value="/invoices/{seeded.invoice_id}"' in html


def current_state_config(app: Flask) -> Any:
    with app.app_context():
        return current_state().config


def _words(text: str) -> list[str]:
    import re

    return re.findall(r"[A-Za-z0-9\-._~]+", text)


def test_flow_state_lives_server_side_with_an_expiry(app: Flask, harbour_client: FlaskClient) -> None:
    start_flow(harbour_client)
    with app.app_context():
        redis = current_state().redis
        keys = list(redis.scan_iter(flow.FLOW_KEY.format(digest="*")))
        assert len(keys) == 1
        assert 0 < redis.ttl(keys[0]) <= flow.FLOW_TTL


def unreachable_redis() -> Any:
    """A Redis client for a port nothing listens on."""
    import socket

    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))


def test_connect_without_redis_explains_and_starts_nothing(
    app: Flask, harbour_client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = session_token(harbour_client)
    monkeypatch.setattr(app.extensions["xerosync"], "redis", unreachable_redis())

    response = harbour_client.post(SETTINGS + "connect", data={"csrf_token": token})

    assert response.status_code == 302 and response.headers["Location"].endswith(SETTINGS)
    monkeypatch.undo()
    page = harbour_client.get(SETTINGS).get_data(as_text=True)
    assert any("could not be started" in notice for notice in notices(page))
    assert "xerosync_oauth" not in session_cookie_text(app, harbour_client)


def test_callback_without_redis_is_refused_and_stores_nothing(
    app: Flask, harbour_client: FlaskClient, sandbox_org: OrgSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    callback = consent(sandbox_org, start_flow(harbour_client))
    monkeypatch.setattr(app.extensions["xerosync"], "redis", unreachable_redis())

    response = harbour_client.get(callback)

    assert response.status_code == 302
    monkeypatch.undo()
    assert stored_token(app) is None
    assert any("could not be checked" in n for n in notices(harbour_client.get(SETTINGS).get_data(as_text=True)))


def test_a_new_flow_replaces_the_previous_one_of_the_session(
    app: Flask, harbour_client: FlaskClient, sandbox_org: OrgSetup
) -> None:
    first = start_flow(harbour_client)
    cookie_of_the_first = harbour_client.get_cookie("session", domain="localhost").value
    second = start_flow(harbour_client)

    with app.app_context():
        assert len(list(current_state().redis.scan_iter(flow.FLOW_KEY.format(digest="*")))) == 1
    assert query_of(second)["state"] != query_of(first)["state"]
    # Even with the first flow's cookie, its state is gone from the server.
    harbour_client.set_cookie("session", cookie_of_the_first, domain="localhost")
    harbour_client.get(consent(sandbox_org, first))
    assert stored_token(app) is None
