"""The example app serves ``vendor/`` at ``/vendor/<file>``, and pages pointed at the vendored htmx
keep the pinned SRI hash, so the browser checks the local copy too."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from flask_xerosync.config import HTMX_INTEGRITY
from tests.conftest import HARBOUR_LOGIN, app_config, build_app, drop_app_tables, login

CHECKOUT_HTMX = Path(__file__).resolve().parents[2] / "vendor" / "htmx.min.js"


@pytest.fixture
def vendored_app(sandbox_org: Any, redis_url: str, database_url: str, tmp_path: Path) -> Iterator[Flask]:
    vendor_dir = tmp_path / "vendor"
    vendor_dir.mkdir()
    (vendor_dir / "htmx.min.js").write_bytes(b"var htmx = {};")
    config = app_config(
        sandbox_org.sandbox.url, redis_url, database_url,
        EXAMPLE_VENDOR_DIR=str(vendor_dir),
    )
    application = build_app(config)
    yield application
    drop_app_tables(application)


def test_vendored_files_are_served(vendored_app: Flask) -> None:
    client = vendored_app.test_client()
    response = client.get("/vendor/htmx.min.js")
    assert response.status_code == 200
    assert response.get_data() == b"var htmx = {};"
    assert "javascript" in response.content_type


@pytest.mark.parametrize("path", ["/vendor/missing.js", "/vendor/../pyproject.toml", "/vendor/%2e%2e/pyproject.toml"])
def test_missing_files_and_escapes_are_not_found(vendored_app: Flask, path: str) -> None:
    assert vendored_app.test_client().get(path).status_code == 404


def test_pages_load_the_vendored_htmx_with_the_pinned_hash(vendored_app: Flask) -> None:
    client = vendored_app.test_client()
    login(client, *HARBOUR_LOGIN)
    html = client.get("/settings/accounting-sync/").get_data(as_text=True)
    script = re.search(r'<script[^>]*src="/vendor/htmx\.min\.js"[^>]*>', html)
    assert script, html[:2000]
    assert f'integrity="{HTMX_INTEGRITY}"' in script.group(0)
    assert 'crossorigin="anonymous"' in script.group(0)


def test_the_fetched_htmx_is_the_pinned_file() -> None:
    if not CHECKOUT_HTMX.is_file():
        pytest.fail(f"{CHECKOUT_HTMX} is missing: run 'make vendor' (make test does it first).")
    digest = base64.b64encode(hashlib.sha384(CHECKOUT_HTMX.read_bytes()).digest()).decode()
    assert f"sha384-{digest}" == HTMX_INTEGRITY
