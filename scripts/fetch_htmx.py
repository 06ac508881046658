"""Put the pinned htmx into ``vendor/htmx.min.js``, taken from the npm registry's ``htmx.org`` package.

The pages load htmx with ``integrity=HTMX_INTEGRITY`` (``flask_xerosync.config``), so a local copy
must be byte for byte the file the CDN serves. This script fetches the package tarball with
``npm pack`` (the ordinary npm client, its registry and cache settings), takes
``package/dist/htmx.min.js`` out of it and refuses to write it unless its hash is the pinned one.
Run it with the project installed (``make vendor/htmx.min.js`` does).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from flask_xerosync.config import HTMX_INTEGRITY, HTMX_VERSION

PACKAGE = "htmx.org"
MEMBER = "package/dist/htmx.min.js"
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "vendor" / "htmx.min.js"


class FetchError(RuntimeError):
    """The file could not be fetched, or it is not the pinned file."""


def sri_digest(data: bytes, algorithm: str) -> str:
    """The Subresource Integrity form of a digest: ``"<algorithm>-<base64 digest>"``."""
    digest = hashlib.new(algorithm, data).digest()
    return f"{algorithm}-{base64.b64encode(digest).decode('ascii')}"


def _algorithm(expected: str) -> str:
    algorithm = expected.partition("-")[0]
    if algorithm not in ("sha256", "sha384", "sha512"):
        raise FetchError(f"Unsupported integrity value {expected!r}: expected sha256-, sha384- or sha512-…")
    return algorithm


def integrity_matches(data: bytes, expected: str) -> bool:
    return sri_digest(data, _algorithm(expected)) == expected


def check_integrity(data: bytes, expected: str) -> None:
    if not integrity_matches(data, expected):
        raise FetchError(
            f"{MEMBER} does not match the pinned hash.\n  expected {expected}\n"
            f"  got      {sri_digest(data, _algorithm(expected))}\n"
            "Either the package changed or HTMX_VERSION and HTMX_INTEGRITY in flask_xerosync/config.py "
            "disagree. Nothing was written."
        )


def npm_pack(spec: str, destination: Path, npm: str = "npm") -> Path:
    """Download ``spec``'s tarball into ``destination`` with ``npm pack`` and return its path."""
    executable = shutil.which(npm)
    if executable is None:
        raise FetchError(f"'{npm}' is not on PATH: install Node.js and npm (Debian: apt-get install npm).")
    completed = subprocess.run(
        [executable, "pack", spec, "--json", "--pack-destination", str(destination)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if completed.returncode != 0:
        raise FetchError(f"npm pack {spec} failed (exit {completed.returncode}):\n{completed.stderr.strip()}")
    try:
        filename = str(json.loads(completed.stdout)[0]["filename"])
    except (ValueError, LookupError, TypeError) as exc:
        raise FetchError(f"npm pack {spec} printed no tarball name: {completed.stdout[:200]!r}") from exc
    tarball = destination / filename
    if not tarball.is_file():
        raise FetchError(f"npm pack {spec} reported {filename} but did not write it.")
    return tarball


def read_member(tarball: Path, member: str) -> bytes:
    with tarfile.open(tarball, "r:gz") as archive:
        try:
            extracted = archive.extractfile(member)
        except KeyError:
            extracted = None
        if extracted is None:
            raise FetchError(f"{tarball.name} has no file {member}.")
        return extracted.read()


def write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", delete=False) as handle:
        handle.write(data)
    os.chmod(handle.name, 0o644)
    os.replace(handle.name, target)


def fetch_htmx(version: str, integrity: str, output: Path, npm: str = "npm") -> bool:
    """Make ``output`` the checked htmx file; return False when it already was (nothing fetched)."""
    if output.is_file() and integrity_matches(output.read_bytes(), integrity):
        return False
    with tempfile.TemporaryDirectory(prefix="xerosync-htmx-") as workdir:
        data = read_member(npm_pack(f"{PACKAGE}@{version}", Path(workdir), npm), MEMBER)
    check_integrity(data, integrity)
    write_atomically(output, data)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--version", default=HTMX_VERSION, help="htmx.org version (default: %(default)s)")
    parser.add_argument("--integrity", default=HTMX_INTEGRITY, help="expected SRI hash (default: the pinned one)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write (default: %(default)s)")
    parser.add_argument("--npm", default="npm", help="the npm executable (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        fetched = fetch_htmx(args.version, args.integrity, args.output, args.npm)
    except FetchError as exc:
        print(f"fetch_htmx: {exc}", file=sys.stderr)
        return 1
    state = "fetched and checked" if fetched else "already present and checked"
    print(f"htmx {args.version}: {args.output} {state} ({args.integrity[:20]}…)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
