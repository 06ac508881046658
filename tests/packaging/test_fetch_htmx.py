"""``scripts/fetch_htmx.py`` against a stand-in ``npm`` that packs a tarball like the registry's, and,
without npm, against a local HTTP server standing in for a registry and for the CDN."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from flask_xerosync.config import HTMX_INTEGRITY

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fetch_htmx.py"
CONTENT = b"/* htmx stand-in */ var htmx = {};\n"


def sri_of(data: bytes) -> str:
    import base64
    import hashlib

    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


@pytest.fixture
def fake_npm(tmp_path: Path) -> Path:
    """An ``npm`` whose ``pack`` writes a tarball holding package/dist/htmx.min.js = CONTENT.

    Each call is appended to ``calls.log``; FAKE_NPM_FAIL=1 makes it fail like an unknown version.
    """
    npm = tmp_path / "bin" / "npm"
    npm.parent.mkdir()
    npm.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import io, json, os, sys, tarfile
        from pathlib import Path
        with open({str(tmp_path / "calls.log")!r}, "a") as log:
            log.write(" ".join(sys.argv[1:]) + "\\n")
        if os.environ.get("FAKE_NPM_FAIL"):
            sys.stderr.write("npm error 404 No match found for version 9.9.9\\n")
            sys.exit(1)
        destination = Path(sys.argv[sys.argv.index("--pack-destination") + 1])
        name = "htmx.org-" + sys.argv[2].split("@")[1] + ".tgz"
        data = {CONTENT!r}
        with tarfile.open(destination / name, "w:gz") as archive:
            info = tarfile.TarInfo("package/dist/htmx.min.js")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        print(json.dumps([{{"filename": name}}]))
        """))
    npm.chmod(0o755)
    return npm


def fetch(npm: Path, output: Path, integrity: str, *extra: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the script with no registry configured unless ``env`` names one (HOME is the test's
    own folder, so the user's ``~/.npmrc`` is not read)."""
    clean = {k: v for k, v in os.environ.items() if k.lower() != "npm_config_registry"}
    clean["HOME"] = str(output.parent)
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--npm", str(npm), "--version", "2.0.11",
         "--integrity", integrity, "--output", str(output), *extra],
        capture_output=True, text=True, env={**clean, **env}, check=False,
    )


def tarball_of(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("package/dist/htmx.min.js")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class Files(ThreadingHTTPServer):
    """A local HTTP server answering GET with the bytes stored for a path (404 otherwise)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _FileHandler)
        self.files: dict[str, bytes] = {}
        self.requested: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _FileHandler(BaseHTTPRequestHandler):
    server: Files

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.server.requested.append(self.path)
        body = self.server.files.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def files() -> Iterator[Files]:
    server = Files()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


REGISTRY_TARBALL = "/registry/htmx.org/-/htmx.org-2.0.11.tgz"
CDN_FILE = "/npm/htmx.org@2.0.11/dist/htmx.min.js"


def test_fetches_checks_and_writes_the_file(fake_npm: Path, tmp_path: Path) -> None:
    output = tmp_path / "vendor" / "htmx.min.js"
    result = fetch(fake_npm, output, sri_of(CONTENT))
    assert result.returncode == 0, result.stderr
    assert output.read_bytes() == CONTENT
    assert output.stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "calls.log").read_text().split()[:2] == ["pack", "htmx.org@2.0.11"]


def test_a_present_file_with_the_right_hash_is_not_fetched_again(fake_npm: Path, tmp_path: Path) -> None:
    output = tmp_path / "htmx.min.js"
    output.write_bytes(CONTENT)
    result = fetch(fake_npm, output, sri_of(CONTENT))
    assert result.returncode == 0, result.stderr
    assert "already present" in result.stdout
    assert not (tmp_path / "calls.log").exists()


def test_a_present_file_with_another_hash_is_replaced(fake_npm: Path, tmp_path: Path) -> None:
    output = tmp_path / "htmx.min.js"
    output.write_bytes(b"tampered")
    result = fetch(fake_npm, output, sri_of(CONTENT))
    assert result.returncode == 0, result.stderr
    assert output.read_bytes() == CONTENT


def test_a_hash_mismatch_fails_loudly_and_writes_nothing(fake_npm: Path, tmp_path: Path) -> None:
    output = tmp_path / "vendor" / "htmx.min.js"
    result = fetch(fake_npm, output, HTMX_INTEGRITY)
    assert result.returncode == 1
    assert "does not match the pinned hash" in result.stderr
    assert HTMX_INTEGRITY in result.stderr
    assert not output.exists()


def test_an_npm_failure_is_reported(fake_npm: Path, tmp_path: Path) -> None:
    output = tmp_path / "htmx.min.js"
    result = fetch(fake_npm, output, sri_of(CONTENT), FAKE_NPM_FAIL="1")
    assert result.returncode == 1
    assert "npm pack htmx.org@2.0.11 failed" in result.stderr
    assert "No match found" in result.stderr
    assert not output.exists()


def fetch_without_npm(files: Files, tmp_path: Path, **env: str) -> list[str]:
    """Fetch with no npm on PATH and the CDN at ``files``; check the pinned file was written and
    return the paths that were requested."""
    output = tmp_path / "htmx.min.js"
    result = fetch(tmp_path / "no-such-npm", output, sri_of(CONTENT), "--cdn-url", files.url + CDN_FILE, **env)
    assert result.returncode == 0, result.stderr
    assert output.read_bytes() == CONTENT
    return files.requested


def test_without_npm_the_tarball_comes_from_the_registry_in_the_environment(files: Files, tmp_path: Path) -> None:
    files.files[REGISTRY_TARBALL] = tarball_of(CONTENT)
    assert fetch_without_npm(files, tmp_path, NPM_CONFIG_REGISTRY=files.url + "/registry/") == [REGISTRY_TARBALL]


def test_without_npm_the_registry_of_npmrc_is_used(files: Files, tmp_path: Path) -> None:
    files.files[REGISTRY_TARBALL] = tarball_of(CONTENT)
    (tmp_path / ".npmrc").write_text(f"fund=false\nregistry = {files.url}/registry\n")
    assert fetch_without_npm(files, tmp_path) == [REGISTRY_TARBALL]


def test_without_npm_or_a_registry_the_cdn_file_is_used(files: Files, tmp_path: Path) -> None:
    files.files[CDN_FILE] = CONTENT
    assert fetch_without_npm(files, tmp_path) == [CDN_FILE]


def test_a_downloaded_file_with_another_hash_writes_nothing(files: Files, tmp_path: Path) -> None:
    files.files[REGISTRY_TARBALL] = tarball_of(b"/* not htmx */")
    output = tmp_path / "vendor" / "htmx.min.js"
    result = fetch(tmp_path / "no-such-npm", output, sri_of(CONTENT), npm_config_registry=files.url + "/registry")
    assert result.returncode == 1
    assert "does not match the pinned hash" in result.stderr
    assert not output.exists()


def test_a_missing_npm_and_a_failed_download_are_named(files: Files, tmp_path: Path) -> None:
    result = fetch(tmp_path / "no-such-npm", tmp_path / "htmx.min.js", sri_of(CONTENT),
                   "--cdn-url", files.url + "/gone.js")
    assert result.returncode == 1
    assert "is not on PATH" in result.stderr and "404" in result.stderr


def test_an_unsupported_integrity_algorithm_is_refused(fake_npm: Path, tmp_path: Path) -> None:
    result = fetch(fake_npm, tmp_path / "htmx.min.js", "md5-abc")
    assert result.returncode == 1
    assert "Unsupported integrity value" in result.stderr
