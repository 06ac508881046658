"""Sync benchmark: API calls against the floor, 429s, rate use, wall time and memory.

Runs the real engine against the sandbox (in its own process, real limits, time-scaled) and a
private Redis, with the example host app on a separate SQLite file. Four phases per size: the
initial sync; a re-sync that only reads back the initial sync's own writes (echoes, 0 changes);
a re-sync with nothing changed; one with 1% of the records changed on each side. Prints:

- API calls: accounting calls counted by the sandbox + the tenant-less ``/connections`` check;
- the floor of DESIGN.md ("The call budget"): ``ceil(changed Xero contacts / pageSize)`` (at
  least 1: one read learns that nothing changed) ``+ ceil(changed host clients / 50) + 1
  (items) + ceil(new host items / 50) + ceil(flagged invoices / 50) + preference reads`` (the
  TaxRates read, when invoices have untaxed lines), and calls/floor;
- 429s received (sandbox counters); effective calls per scaled minute against the limit;
- wall time, and the engine's peak Python memory (tracemalloc) during the run.

Usage: ``python benchmarks/sync_benchmark.py [--sizes 2000 10000] [--items 500] [--invoices 1000]
[--time-scale 60]``. The default is the small set (2,000 contacts/clients) to stay quick.
"""

from __future__ import annotations

import argparse
import math
import re
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from sqlalchemy import insert, select, update

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flask_xerosync.sandbox.control import SandboxControl  # noqa: E402
from flask_xerosync.testing import RedisServer  # noqa: E402

CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-secret"
CALLBACK = "http://localhost/settings/accounting-sync/callback"
ACCOUNT = "1"
PAGE_SIZE = 1000
BATCH = 50


@dataclass
class Phase:
    name: str
    calls: int
    floor: int
    rate_limited: int
    wall: float
    peak_bytes: int
    counts: dict[str, dict[str, int]]
    time_scale: float
    by_call: str

    def row(self) -> str:
        scaled_minutes = self.wall * self.time_scale / 60.0
        per_minute = self.calls / scaled_minutes if scaled_minutes else 0.0
        ratio = self.calls / self.floor if self.floor else float("nan")
        return (f"{self.name:<28} {self.calls:>6} {self.floor:>6} {ratio:>8.2f} {self.rate_limited:>5} "
                f"{per_minute:>10.1f}/60 {self.wall:>8.1f}s {self.peak_bytes / 1_048_576:>9.1f} MiB")


def start_sandbox(time_scale: float) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "flask_xerosync.sandbox", "--port", "0", "--time-scale", str(time_scale)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    threading.Thread(target=process.stdout.read, daemon=True).start()
    match = re.search(r"running at (http://\S+)", line)
    if match is None:
        process.kill()
        raise RuntimeError(f"the sandbox did not start: {line!r}")
    return process, match.group(1)


def build_app(sandbox_url: str, redis_url: str, db_path: Path, time_scale: float) -> Any:
    from example_app import create_app
    from example_app.models import db
    from example_app.seed import seed_demo
    from flask_xerosync.models import metadata

    app = create_app({
        "TESTING": True, "SECRET_KEY": "bench", "SERVER_NAME": "localhost",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}",
        "XEROSYNC_CLIENT_ID": CLIENT_ID, "XEROSYNC_CLIENT_SECRET": CLIENT_SECRET,
        "XEROSYNC_ENCRYPTION_KEY": Fernet.generate_key().decode(), "XEROSYNC_REDIS_URL": redis_url,
        "XEROSYNC_SANDBOX_URL": sandbox_url, "XEROSYNC_HTMX_URL": "/static/htmx.min.js",
        "XEROSYNC_HTMX_INTEGRITY": "", "XEROSYNC_RATE_LIMIT_WINDOW": 60.0 / time_scale,
        "XEROSYNC_PAGE_SIZE": PAGE_SIZE,
        "XEROSYNC_MAX_LIMIT_WAIT": 86400,  # the engine runs in this process, not as a job: wait in place
    })
    with app.app_context():
        db.create_all()
        metadata.create_all(db.engine)
        seed_demo()
    return app


def connect(app: Any, control: SandboxControl) -> str:
    control.register_app(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=[CALLBACK])
    user = control.create_user(name="Bench User", email="bench@example.com")
    tenant_id = control.create_org(name="Bench Org", country="NZ", users=[user["user_id"]])
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    client.post("/login", data={"email": "owner@harbour.example", "password": "harbour-demo", "csrf_token": token})
    settings = client.get("/settings/accounting-sync/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', settings).group(1)  # type: ignore[union-attr]
    start = client.post("/settings/accounting-sync/connect", data={"csrf_token": token})
    callback = urlsplit(control.authorize(start.headers["Location"], action="authorise"))
    client.get(f"{callback.path}?{callback.query}")
    return tenant_id


def seed(app: Any, control: SandboxControl, tenant_id: str, size: int, items: int, invoices: int) -> None:
    """``size`` Xero contacts and host clients: 20% of the host clients share an e-mail with a
    Xero contact and 5% a name; items half in Xero, half here (10% of those sharing a code and
    name); ``invoices`` flagged host invoices of two lines (one untaxed)."""
    from example_app import models

    contacts = [{"Name": f"Xero Contact {n:06d}", "EmailAddress": f"x{n}@bench.example", "IsCustomer": True}
                for n in range(size)]
    for start in range(0, size, 1000):
        control.seed_contacts(tenant_id, contacts[start:start + 1000])
    xero_items = [{"Code": f"XI-{n:04d}", "Name": f"Xero item {n}", "SalesDetails": {"UnitPrice": "10.5"}}
                  for n in range(items // 2)]
    control.seed_items(tenant_id, xero_items)
    with app.app_context():
        session = models.db.session
        for table in (models.InvoiceLine, models.Invoice, models.Client, models.Product):
            session.execute(table.__table__.delete())
        rows = []
        for n in range(size):
            email, name = f"h{n}@bench.example", f"Host Client {n:06d}"
            if n % 5 == 0:
                email = f"x{n}@bench.example"
            elif n % 20 == 1:
                name = f"Xero Contact {n:06d}"
            rows.append({"business_id": 1, "name": name, "email": email, "phone": "09 555 0000",
                         "address_line1": f"{n} Bench Road", "city": "Auckland", "country": "New Zealand"})
        session.execute(insert(models.Client), rows)
        products = [{"business_id": 1, "name": f"Host product {n}", "code": "", "unit_price": Decimal("12.25"),
                     "kind": "service"} for n in range(items - items // 2)]
        for n in range(len(products) // 10):
            products[n].update(code=f"XI-{n:04d}", name=f"Xero item {n}")
        session.execute(insert(models.Product), products)
        client_ids = list(session.scalars(select(models.Client.id).order_by(models.Client.id)))
        product_ids = list(session.scalars(select(models.Product.id).order_by(models.Product.id)))
        issued = date(2026, 11, 2)
        for n in range(invoices):
            invoice = models.Invoice(business_id=1, number=f"BENCH-{n:05d}", client_id=client_ids[n % len(client_ids)],
                                     issue_date=issued, due_date=issued + timedelta(days=20))
            invoice.lines = [
                models.InvoiceLine(position=0, description="Labour", quantity=Decimal("2"), unit_price=Decimal("95"),
                                   product_id=product_ids[n % len(product_ids)] if product_ids else None),
                models.InvoiceLine(position=1, description="Council fee", quantity=Decimal("1"),
                                   unit_price=Decimal("40"), taxable=False),
            ]
            session.add(invoice)
        session.flush()
        from flask_xerosync.models import InvoiceFlag

        ids = list(session.scalars(select(models.Invoice.id)))
        session.execute(insert(InvoiceFlag), [{"account_id": ACCOUNT, "invoice_id": str(i), "state": "flagged"}
                                              for i in ids])
        session.commit()


def run_phase(app: Any, control: SandboxControl, tenant_id: str, name: str, floor: int, time_scale: float) -> Phase:
    from flask_xerosync.models import Connection, Run
    from flask_xerosync.services.xero_api import open_api
    from flask_xerosync.state import current_state
    from flask_xerosync.sync.engine import SyncEngine
    from flask_xerosync.sync.store import SyncStore

    control.reset_counters(tenant_id)
    with app.app_context():
        state = current_state()
        session = state.db.session
        connection = session.scalar(select(Connection).where(Connection.account_id == ACCOUNT))
        run = Run(account_id=ACCOUNT, tenant_id=tenant_id, status="running")
        session.add(run)
        session.commit()
        store = SyncStore(session)
        engine = SyncEngine(account_id=ACCOUNT, tenant_id=tenant_id, host=state.host_data,
                            api=open_api(state, connection), store=store,
                            preferences=store.preferences(ACCOUNT), run_id=run.id,
                            xero_app_url=state.config.xero_app_url)
        tracemalloc.start()
        started = time.perf_counter()
        counts = engine.run()
        wall = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    counters = control.counters(tenant_id)
    calls = int(counters["total_calls"]) + engine.connection_checks
    by_call = ", ".join(f"{c['method']} {c['path'].rsplit('/', 1)[-1]}: {c['count']}" for c in counters["calls"])
    return Phase(name, calls, floor, int(counters["rate_limited"]), wall, peak, counts, time_scale, by_call)


def changed_since_mark(app: Any, control: SandboxControl, tenant_id: str) -> int:
    """Xero contacts the next sync reads back: changed since its mark, our own writes included
    (they are "changed Xero contacts" of the floor; the engine recognises them by fingerprint)."""
    from flask_xerosync.models import Connection
    from flask_xerosync.state import current_state
    from flask_xerosync.xero.dates import parse_xero_date

    with app.app_context():
        connection = current_state().db.session.scalar(select(Connection).where(Connection.account_id == ACCOUNT))
        mark = parse_xero_date((connection.sync_marks or {})["xero_contacts"])
    return sum(1 for c in control.contacts(tenant_id) if parse_xero_date(c["UpdatedDateUTC"]) >= mark)


def floor_of(changed_xero: int, changed_host: int, new_items: int, flagged: int, pref_reads: int) -> int:
    return (max(1, math.ceil(changed_xero / PAGE_SIZE)) + math.ceil(changed_host / BATCH) + 1
            + math.ceil(new_items / BATCH) + math.ceil(flagged / BATCH) + pref_reads)


def change_one_percent(app: Any, control: SandboxControl, tenant_id: str, size: int) -> int:
    from example_app import models

    step = 100
    for n in range(0, size, step):
        control.edit_contact(tenant_id, control_contact_id(control, tenant_id, n), Phones=[
            {"PhoneType": "DEFAULT", "PhoneNumber": f"021 {n:06d}"}])
    with app.app_context():
        session = models.db.session
        ids = list(session.scalars(select(models.Client.id).order_by(models.Client.id)))[50::step]
        session.execute(update(models.Client).where(models.Client.id.in_(ids)).values(phone="09 999 9999"))
        session.commit()
    return len(ids)


_CONTACT_IDS: dict[int, str] = {}


def control_contact_id(control: SandboxControl, tenant_id: str, number: int) -> str:
    if not _CONTACT_IDS:
        for contact in control.contacts(tenant_id):
            found = re.fullmatch(r"Xero Contact (\d{6})", contact["Name"])
            if found:
                _CONTACT_IDS[int(found.group(1))] = contact["ContactID"]
    return _CONTACT_IDS[number]


def bench(size: int, items: int, invoices: int, time_scale: float) -> list[Phase]:
    _CONTACT_IDS.clear()
    process, sandbox_url = start_sandbox(time_scale)
    try:
        with RedisServer() as redis_server, tempfile.TemporaryDirectory() as folder:
            control = SandboxControl(sandbox_url)
            app = build_app(sandbox_url, redis_server.url, Path(folder) / "bench.sqlite", time_scale)
            tenant_id = connect(app, control)
            seed(app, control, tenant_id, size, items, invoices)
            host_items = items - items // 2
            initial_floor = floor_of(size, size, host_items - host_items // 10, invoices, 1)
            phases = [run_phase(app, control, tenant_id, f"{size} initial", initial_floor, time_scale)]
            echoes = changed_since_mark(app, control, tenant_id)
            phases.append(run_phase(app, control, tenant_id, f"{size} re-sync, echoes only",
                                    floor_of(echoes, 0, 0, 0, 0), time_scale))
            phases.append(run_phase(app, control, tenant_id, f"{size} re-sync, no change",
                                    floor_of(0, 0, 0, 0, 0), time_scale))
            changed_host = change_one_percent(app, control, tenant_id, size)
            phases.append(run_phase(app, control, tenant_id, f"{size} re-sync, 1% changed",
                                    floor_of(math.ceil(size / 100), changed_host, 0, 0, 0), time_scale))
            return phases
    finally:
        process.terminate()
        process.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000],
                        help="contacts in Xero and clients here per run (e.g. 2000 10000)")
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--time-scale", type=float, default=60.0, help="sandbox seconds per real second")
    args = parser.parse_args(argv)
    print(f"time scale {args.time_scale:g} (a Xero minute lasts {60 / args.time_scale:.2f} s); "
          f"limits 60/min, 5 concurrent, 5000/day; {args.items} items, {args.invoices} flagged invoices")
    print(f"{'phase':<28} {'calls':>6} {'floor':>6} {'calls/fl':>8} {'429s':>5} {'calls/min':>13} "
          f"{'wall':>9} {'peak mem':>13}")
    for size in args.sizes:
        for phase in bench(size, args.items, args.invoices, args.time_scale):
            print(phase.row(), flush=True)
            print(f"{'':<28} calls: /connections: 1, {phase.by_call}", flush=True)
            print(f"{'':<28} counts: {phase.counts}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
