"""The wheel holds the templates and static files, installs into a fresh virtualenv and renders the
settings page from the installed copy, not from this checkout.

To stay quick and offline-friendly the fresh virtualenv gets the wheel alone (``--no-deps``) and
sees its dependencies through a ``.pth`` line pointing at this test run's site-packages; the
script it runs checks that every declared dependency is satisfied there and that
``flask_xerosync`` was imported from the new virtualenv.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SMOKE_APP = textwrap.dedent('''
    """Mount flask-xerosync in a bare Flask app and render the settings page as a logged-in user."""
    import re
    import sys
    from importlib.metadata import requires, version
    from pathlib import Path

    from packaging.requirements import Requirement

    import flask_xerosync

    installed_at = Path(flask_xerosync.__file__).resolve()
    assert installed_at.is_relative_to(Path(sys.prefix).resolve()), f"imported from {installed_at}"
    for line in requires("flask-xerosync") or []:
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            assert requirement.specifier.contains(version(requirement.name), prereleases=True), line

    from cryptography.fernet import Fernet
    from flask import Flask, url_for
    from flask_login import LoginManager, UserMixin, current_user, login_user
    from flask_sqlalchemy import SQLAlchemy

    from flask_xerosync import XeroSync
    from flask_xerosync.testing import RedisServer


    class Owner(UserMixin):
        id = "7"


    class NoHostData:
        def list_clients(self, account_id, changed_since):
            return []

        def save_clients(self, account_id, clients):
            return []

        def list_items(self, account_id, changed_since):
            return []

        def save_items(self, account_id, items):
            return []

        def get_invoices(self, account_id, invoice_ids):
            return []


    db = SQLAlchemy()
    xerosync = XeroSync()
    login_manager = LoginManager()


    @login_manager.user_loader
    def load_user(user_id):
        return Owner() if user_id == Owner.id else None


    @xerosync.account_loader
    def current_account_id():
        return "acme" if current_user.is_authenticated else None


    with RedisServer() as redis_server:
        app = Flask("smoke")
        app.config.update(
            SECRET_KEY="smoke-secret-key",
            SQLALCHEMY_DATABASE_URI="sqlite:///" + str(Path.cwd() / "smoke.sqlite"),
            XEROSYNC_CLIENT_ID="smoke-client",
            XEROSYNC_CLIENT_SECRET="smoke-client-secret",
            XEROSYNC_ENCRYPTION_KEY=Fernet.generate_key().decode(),
            XEROSYNC_REDIS_URL=redis_server.url,
        )
        db.init_app(app)
        login_manager.init_app(app)
        xerosync.init_app(app, db=db, host_data=NoHostData())

        @app.get("/login-as-owner")
        def login_as_owner():
            login_user(Owner())
            return "logged in"

        result = app.test_cli_runner().invoke(args=["xerosync", "create-tables"])
        assert result.exit_code == 0, result.output

        client = app.test_client()
        anonymous = client.get("/settings/accounting-sync/")
        assert anonymous.status_code in (302, 401), anonymous.status_code
        assert client.get("/login-as-owner").status_code == 200
        with app.test_request_context():
            settings_url = url_for("xerosync.settings")
        page = client.get(settings_url)
        html = page.get_data(as_text=True)
        assert page.status_code == 200, (page.status_code, html[:500])
        assert "Connect to Xero" in html, html[:2000]
        stylesheet = re.search(r'href="([^"]*xerosync\\.css[^"]*)"', html)
        assert stylesheet, "the settings page links no xerosync.css"
        assert client.get(stylesheet.group(1)).status_code == 200
    print("SMOKE OK", installed_at)
''')


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    checkout = Path(__file__).resolve().parents[2]
    outdir = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(outdir), str(checkout)],
        check=True, capture_output=True, text=True,
    )
    (built,) = outdir.glob("flask_xerosync-*.whl")
    return built


@pytest.fixture(scope="module")
def fresh_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A virtualenv with the wheel installed and this run's site-packages visible for its dependencies."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", str(wheel)],
        check=True, capture_output=True, text=True,
    )
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    (Path(purelib) / "_xerosync_test_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    yield venv


def test_the_wheel_holds_templates_and_static_files(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "flask_xerosync/__init__.py" in names
    assert "flask_xerosync/templates/xerosync/settings.html" in names
    assert "flask_xerosync/templates/xerosync/base.html" in names
    assert any(name.startswith("flask_xerosync/static/xerosync/") and name.endswith(".css") for name in names)
    assert any(name.startswith("flask_xerosync/sandbox/") for name in names)
    assert not any(name.startswith(("example_app/", "tests/", "templates/", "static/")) for name in names)


def test_the_sdist_holds_the_sources_and_builds_the_same_wheel(tmp_path: Path) -> None:
    """``python -m build`` without flags builds the wheel from the sdist, as pip does from an sdist."""
    checkout = Path(__file__).resolve().parents[2]
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(tmp_path), str(checkout)],
        check=True, capture_output=True, text=True,
    )
    (sdist,) = tmp_path.glob("flask_xerosync-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for expected in ("pyproject.toml", "README.md", "Makefile", "templates/xerosync/settings.html",
                     "example_app/demo.py", "flask_xerosync/__init__.py"):
        assert expected in names, expected
    (wheel,) = tmp_path.glob("flask_xerosync-*.whl")
    assert "flask_xerosync/templates/xerosync/settings.html" in zipfile.ZipFile(wheel).namelist()


def test_the_installed_wheel_renders_the_settings_page(fresh_venv: Path, tmp_path: Path) -> None:
    script = tmp_path / "smoke_app.py"
    script.write_text(SMOKE_APP)
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    result = subprocess.run(
        [str(fresh_venv / "bin" / "python"), str(script)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SMOKE OK" in result.stdout
    assert str(fresh_venv.resolve()) in result.stdout
