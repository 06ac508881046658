"""``/vendor/<file>``: third-party files fetched into the checkout's ``vendor/`` folder.

``make vendor`` puts the pinned htmx there (machines here reach no CDN); the demo and the tests set
``XEROSYNC_HTMX_URL=/vendor/htmx.min.js`` and keep the default SRI hash, so the browser still checks
that the local copy is the pinned file. ``EXAMPLE_VENDOR_DIR`` points elsewhere if needed.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, send_from_directory
from werkzeug.wrappers import Response

bp = Blueprint("vendor", __name__)

DEFAULT_VENDOR_DIR = Path(__file__).resolve().parent.parent / "vendor"


@bp.get("/vendor/<path:filename>")
def vendored_file(filename: str) -> Response:
    folder = current_app.config.get("EXAMPLE_VENDOR_DIR") or DEFAULT_VENDOR_DIR
    return send_from_directory(folder, filename)
