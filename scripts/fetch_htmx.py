"""Put the pinned htmx into ``vendor/htmx.min.js``, taken from the npm registry's ``htmx.org`` package.

The pages load htmx with ``integrity=HTMX_INTEGRITY`` (``flask_xerosync.config``), so a local copy
must be byte for byte the file the CDN serves. Where it comes from, in this order:

1. ``npm pack`` (the ordinary npm client, with its registry and cache settings): the package
   tarball, from which ``package/dist/htmx.min.js`` is taken;
2. without npm, the same tarball over HTTP(S) from the registry npm would use: the
   ``NPM_CONFIG_REGISTRY`` / ``npm_config_registry`` environment variable, else the
   ``registry=`` line of ``~/.npmrc``;
3. with no registry configured either, the file itself from ``HTMX_CDN_URL`` (``--cdn-url``).

Whatever the source, nothing is written unless the file's hash is the pinned one. Run it with the
project installed (``make vendor/htmx.min.js`` does).
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
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from flask_xerosync.config import HTMX_CDN_URL, HTMX_INTEGRITY, HTMX_VERSION

PACKAGE = "htmx.org"
MEMBER = "package/dist/htmx.min.js"
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "vendor" / "htmx.min.js"
REGISTRY_VARIABLES = ("NPM_CONFIG_REGISTRY", "npm_config_registry")
DOWNLOAD_TIMEOUT = 60


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


def npm_pack(spec: str, destination: Path, executable: str) -> Path:
    """Download ``spec``'s tarball into ``destination`` with ``npm pack`` and return its path."""
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


def configured_registry(environ: Mapping[str, str], npmrc: Path) -> str | None:
    """The registry npm would use: the environment's, else ``~/.npmrc``'s ``registry=`` line."""
    for variable in REGISTRY_VARIABLES:
        if environ.get(variable, "").strip():
            return environ[variable].strip()
    try:
        lines = npmrc.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        name, _, value = line.partition("=")
        if name.strip() == "registry" and value.strip():
            return value.strip()
    return None


def registry_tarball_url(registry: str, version: str) -> str:
    """Where a registry keeps an unscoped package's tarball: ``<registry>/<name>/-/<name>-<version>.tgz``."""
    return f"{registry.rstrip('/')}/{PACKAGE}/-/{PACKAGE}-{version}.tgz"


def download(url: str) -> bytes:
    if urlsplit(url).scheme not in ("http", "https"):
        raise FetchError(f"Refusing to download {url}: only http(s) URLs are fetched.")
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response:
            return bytes(response.read())
    except (urllib.error.URLError, OSError) as exc:
        raise FetchError(f"Could not download {url}: {exc}") from None


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


def fetch_file(version: str, npm: str, cdn_url: str, environ: Mapping[str, str], npmrc: Path) -> tuple[bytes, str]:
    """``dist/htmx.min.js`` of the release, unchecked, and where it came from (module docstring)."""
    executable = shutil.which(npm)
    with tempfile.TemporaryDirectory(prefix="xerosync-htmx-") as workdir:
        if executable is not None:
            tarball = npm_pack(f"{PACKAGE}@{version}", Path(workdir), executable)
            return read_member(tarball, MEMBER), "npm pack"
        registry = configured_registry(environ, npmrc)
        url = cdn_url if registry is None else registry_tarball_url(registry, version)
        try:
            data = download(url)
        except FetchError as exc:
            raise FetchError(f"'{npm}' is not on PATH, so {url} was tried. {exc}") from None
        if registry is None:
            return data, url
        tarball = Path(workdir) / f"{PACKAGE}-{version}.tgz"
        tarball.write_bytes(data)
        return read_member(tarball, MEMBER), url


def fetch_htmx(
    version: str,
    integrity: str,
    output: Path,
    npm: str = "npm",
    cdn_url: str = HTMX_CDN_URL,
    environ: Mapping[str, str] = os.environ,
    npmrc: Path | None = None,
) -> str | None:
    """Make ``output`` the checked htmx file; return where it came from, or None when it already
    was the pinned file (nothing fetched)."""
    if output.is_file() and integrity_matches(output.read_bytes(), integrity):
        return None
    data, source = fetch_file(version, npm, cdn_url, environ, npmrc or Path.home() / ".npmrc")
    check_integrity(data, integrity)
    write_atomically(output, data)
    return source


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--version", default=HTMX_VERSION, help="htmx.org version (default: %(default)s)")
    parser.add_argument("--integrity", default=HTMX_INTEGRITY, help="expected SRI hash (default: the pinned one)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write (default: %(default)s)")
    parser.add_argument("--npm", default="npm", help="the npm executable (default: %(default)s)")
    parser.add_argument("--cdn-url", default=HTMX_CDN_URL,
                        help="the file itself, used without npm and without a registry (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        source = fetch_htmx(args.version, args.integrity, args.output, args.npm, args.cdn_url)
    except FetchError as exc:
        print(f"fetch_htmx: {exc}", file=sys.stderr)
        return 1
    state = f"fetched ({source}) and checked" if source else "already present and checked"
    print(f"htmx {args.version}: {args.output} {state} ({args.integrity[:20]}…)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
