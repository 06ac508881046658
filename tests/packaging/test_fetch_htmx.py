"""``scripts/fetch_htmx.py`` against a stand-in ``npm`` that packs a tarball like the registry's."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
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


def fetch(npm: Path, output: Path, integrity: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--npm", str(npm), "--version", "2.0.11",
         "--integrity", integrity, "--output", str(output)],
        capture_output=True, text=True, env={**os.environ, **env}, check=False,
    )


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


def test_a_missing_npm_is_named(tmp_path: Path) -> None:
    result = fetch(tmp_path / "no-such-npm", tmp_path / "htmx.min.js", sri_of(CONTENT))
    assert result.returncode == 1
    assert "is not on PATH" in result.stderr


def test_an_unsupported_integrity_algorithm_is_refused(fake_npm: Path, tmp_path: Path) -> None:
    result = fetch(fake_npm, tmp_path / "htmx.min.js", "md5-abc")
    assert result.returncode == 1
    assert "Unsupported integrity value" in result.stderr
