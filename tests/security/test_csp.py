"""The extension's markup works under a strict Content-Security-Policy (``script-src 'self'``) when
``XEROSYNC_HTMX_URL`` is self-hosted: every page and fragment it renders (on its own default base
template, so the host's layout is not what is judged) has no inline ``<script>``, no ``on*=`` event
handler, no ``javascript:`` URL, no ``hx-on`` (htmx evaluates those as code) and no ``js:`` values,
and loads scripts from this host only."""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.wrappers import Response

from flask_xerosync.models import InvoiceFlag, InvoiceState
from flask_xerosync.state import current_state
from flask_xerosync.web.blueprint import forbid_framing

from .conftest import (
    HARBOUR_ACCOUNT,
    SETTINGS,
    OrgSetup,
    Seeded,
    blueprint_routes,
    consent,
    request,
    session_token,
    start_flow,
    url_of,
)

HTMX = {"HX-Request": "true"}


class Markup(HTMLParser):
    """The tags, attributes and inline script bodies of an HTML document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.inline_scripts: list[str] = []
        self._in_script: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        self.tags.append((tag, attributes))
        if tag == "script":
            self._in_script = attributes

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self._in_script = None

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = None

    def handle_data(self, data: str) -> None:
        if self._in_script is not None and data.strip():
            self.inline_scripts.append(data)


def csp_problems(html: str) -> list[str]:
    markup = Markup()
    markup.feed(html)
    markup.close()
    problems = [f"inline script: {body[:60]!r}" for body in markup.inline_scripts]
    for tag, attributes in markup.tags:
        if tag == "script":
            source = attributes.get("src", "")
            if not source:
                problems.append("<script> without src")
            elif not source.startswith("/") or source.startswith("//"):
                problems.append(f"<script src={source!r}> is not on this host")
        for name, value in attributes.items():
            if name.startswith("on"):
                problems.append(f"<{tag} {name}=…> inline event handler")
            if name == "style":
                problems.append(f"<{tag} style=…> inline style (blocked by style-src 'self')")
            if name.startswith(("hx-on", "data-hx-on")):
                problems.append(f"<{tag} {name}=…> htmx inline handler (needs unsafe-eval)")
            if name in ("hx-vals", "hx-headers", "data-hx-vals", "data-hx-headers") and re.match(
                r"\s*(js|javascript):", value
            ):
                problems.append(f"<{tag} {name}> evaluated as JavaScript")
            if name in ("href", "src", "action", "formaction", "hx-get", "hx-post") and re.match(
                r"\s*javascript:", value, re.IGNORECASE
            ):
                problems.append(f"<{tag} {name}=javascript:…>")
    return problems


@pytest.fixture
def own_layout(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """The extension's own base template and a self-hosted htmx."""
    state = app.extensions["xerosync"]
    monkeypatch.setattr(state, "config", dataclasses.replace(
        state.config, base_template="xerosync/base.html", htmx_url="/vendor/htmx.min.js", htmx_integrity=""
    ))


def rendered_by_the_extension(app: Flask, client: FlaskClient, seeded: Seeded) -> dict[str, str]:
    """Every GET page and fragment, and the htmx answers of the POST routes."""
    token = session_token(client)
    pages: dict[str, str] = {}
    for route in blueprint_routes(app):
        url = url_of(app, route, seeded)
        if route.method == "GET":
            for headers in ({}, HTMX):
                pages[f"{route} {headers}"] = request(client, route, url, headers=headers).get_data(as_text=True)
        elif route.endpoint not in ("xerosync.connect", "xerosync.disconnect"):
            data = {"csrf_token": token, "invoice_status": "DRAFT", "conflict_policy": "xero_wins",
                    "contact_filter": "all"}
            pages[f"{route} htmx"] = request(client, route, url, data, HTMX).get_data(as_text=True)
    return pages


def test_every_page_and_fragment_is_strict_csp_ready(
    app: Flask, harbour_client: FlaskClient, connected: OrgSetup, seeded: Seeded, own_layout: None
) -> None:
    pages = rendered_by_the_extension(app, harbour_client, seeded)
    html = harbour_client.get(f"/invoices/{seeded.invoice_id}").get_data(as_text=True)
    partial = re.search(r'<div class="xerosync-invoice-action".*?</div>', html, re.DOTALL)
    assert partial is not None
    pages["invoice partial"] = partial.group(0)
    pages["settings page"] = harbour_client.get(SETTINGS).get_data(as_text=True)

    problems = [f"{where}: {problem}" for where, page in pages.items() for problem in csp_problems(page)]

    assert not problems, "\n".join(problems)
    assert '<script src="/vendor/htmx.min.js"' in pages["settings page"]


def test_the_choose_page_and_the_plan_explanation_are_strict_csp_ready(
    app: Flask, harbour_client: FlaskClient, basic_client: FlaskClient, sandbox_org: OrgSetup, own_layout: None
) -> None:
    second = sandbox_org.sandbox.control.create_org(name="Second Org", country="NZ", users=[sandbox_org.user_id])
    authorize_url = start_flow(harbour_client)
    sandbox_org.sandbox.control.set_consent(sandbox_org.client_id, tenant_ids=[sandbox_org.tenant_id, second])
    harbour_client.get(consent(sandbox_org, authorize_url))

    choose = harbour_client.get(SETTINGS + "choose").get_data(as_text=True)
    plan = basic_client.get(SETTINGS).get_data(as_text=True)

    assert "Choose a Xero organisation" in choose
    assert csp_problems(choose) == []
    assert csp_problems(plan) == []


def test_flag_states_render_without_inline_code(
    app: Flask, harbour_client: FlaskClient, connected: OrgSetup, seeded: Seeded, own_layout: None
) -> None:
    for state in (InvoiceState.PUSHED, InvoiceState.REJECTED):
        with app.app_context():
            session = current_state().db.session
            flag = session.query(InvoiceFlag).filter_by(account_id=HARBOUR_ACCOUNT, invoice_id=seeded.invoice_id).one()
            flag.state, flag.xero_invoice_id, flag.xero_url = state, "x-1", "https://go.xero.com/x"
            flag.message = "Xero said no"
            session.commit()
        html = harbour_client.get(f"/invoices/{seeded.invoice_id}").get_data(as_text=True)
        partial = re.search(r'<div class="xerosync-invoice-action".*?</div>', html, re.DOTALL)
        assert partial is not None
        assert csp_problems(partial.group(0)) == [], state


def test_the_scanner_finds_what_it_looks_for() -> None:
    """The control of the scans above."""
    assert csp_problems("<script>alert(1)</script>")
    assert csp_problems('<button onclick="go()">x</button>')
    assert csp_problems('<a href="javascript:go()">x</a>')
    assert csp_problems('<div hx-on:click="go()"></div>')
    assert csp_problems('<span style="width: 40%"></span>')
    assert csp_problems('<div hx-vals="js:{a: go()}"></div>')
    assert csp_problems('<script src="https://cdn.example/htmx.js"></script>')
    assert csp_problems('<script src="/vendor/htmx.min.js"></script>') == []


def test_every_response_of_the_blueprint_forbids_framing_by_other_sites(
    app: Flask, harbour_client: FlaskClient, basic_client: FlaskClient, connected: OrgSetup
) -> None:
    token = session_token(harbour_client)
    responses = {
        "page": harbour_client.get(SETTINGS),
        "fragment": harbour_client.post(SETTINGS + "sync", data={"csrf_token": token}, headers=HTMX),
        "redirect": harbour_client.post(SETTINGS + "sync", data={"csrf_token": token}),
        "refusal": harbour_client.post(SETTINGS + "sync"),
        "plan explanation": basic_client.get(SETTINGS),
        "static file": harbour_client.get(SETTINGS + "static/xerosync/xerosync.css"),
    }
    for what, response in responses.items():
        assert "frame-ancestors 'self'" in response.headers.getlist("Content-Security-Policy"), what
        assert response.headers["X-Frame-Options"] == "SAMEORIGIN", what
    host_page = harbour_client.get("/login")
    assert "Content-Security-Policy" not in host_page.headers  # the host's own pages are left alone


def test_the_framing_headers_are_added_beside_the_hosts_own(app: Flask) -> None:
    host_policy = "default-src 'self'; script-src 'self'"
    response = forbid_framing(Response(headers={"Content-Security-Policy": host_policy, "X-Frame-Options": "DENY"}))

    assert response.headers.getlist("Content-Security-Policy") == [host_policy, "frame-ancestors 'self'"]
    assert response.headers["X-Frame-Options"] == "DENY"
