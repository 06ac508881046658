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
- wall time; the engine's CPU time (``time.process_time`` of the process that runs it, around
  ``SyncEngine.run`` only: start-up, seeding and the sandbox, which is another process, are not
  in it) in total and per record (records = contacts + clients + items + invoices of the data
  set); the resident memory of that process when the phase starts and at its peak
  (``ru_maxrss``). Each phase runs in a forked child, so every phase's peak is its own.

No ``tracemalloc``: it slows the engine several-fold. ``--profile FILE`` writes a cProfile dump
of the first sync's engine, timed in CPU time (``python -m pstats FILE``); ``--database-url`` runs the host and the
extension on another database (PostgreSQL: its tables are dropped and created afresh);
``--first-only`` stops after the first sync.

Usage: ``python benchmarks/sync_benchmark.py [--sizes 2000 10000] [--items 500] [--invoices 1000]
[--time-scale 60] [--database-url URL] [--first-only] [--profile FILE]``. The default is the small
set (2,000 contacts/clients) to stay quick. The issue-10 figures: ``--sizes 5000 --items 200
--invoices 500 --time-scale 600`` (10,700 records) and ``--sizes 100000 --items 0 --invoices 0
--time-scale 600 --first-only``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import os
import re
import resource
import sys
import tempfile
import time
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
from benchmarks.sandbox_process import start_sandbox  # noqa: E402
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
    cpu: float
    records: int
    rss_start_kib: int
    rss_peak_kib: int
    counts: dict[str, dict[str, int]]
    time_scale: float
    by_call: str

    def row(self) -> str:
        scaled_minutes = self.wall * self.time_scale / 60.0
        per_minute = self.calls / scaled_minutes if scaled_minutes else 0.0
        ratio = self.calls / self.floor if self.floor else float("nan")
        per_record = self.cpu * 1000 / self.records if self.records else float("nan")
        return (f"{self.name:<28} {self.calls:>6} {self.floor:>6} {ratio:>8.2f} {self.rate_limited:>5} "
                f"{per_minute:>10.1f}/60 {self.wall:>8.1f}s {self.cpu:>8.2f}s {per_record:>8.3f} "
                f"{self.rss_start_kib / 1024:>7.1f} → {self.rss_peak_kib / 1024:.1f} MiB")


def build_app(sandbox_url: str, redis_url: str, database_url: str, time_scale: float) -> Any:
    from example_app import create_app
    from example_app.models import db
    from example_app.seed import seed_demo
    from flask_xerosync.models import metadata

    app = create_app({
        "TESTING": True, "SECRET_KEY": "bench", "SERVER_NAME": "localhost",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "XEROSYNC_CLIENT_ID": CLIENT_ID, "XEROSYNC_CLIENT_SECRET": CLIENT_SECRET,
        "XEROSYNC_ENCRYPTION_KEY": Fernet.generate_key().decode(), "XEROSYNC_REDIS_URL": redis_url,
        "XEROSYNC_SANDBOX_URL": sandbox_url, "XEROSYNC_HTMX_URL": "/static/htmx.min.js",
        "XEROSYNC_HTMX_INTEGRITY": "", "XEROSYNC_RATE_LIMIT_WINDOW": 60.0 / time_scale,
        "XEROSYNC_PAGE_SIZE": PAGE_SIZE,
        "XEROSYNC_MAX_LIMIT_WAIT": 86400,  # the engine runs in this process, not as a job: wait in place
    })
    with app.app_context():
        metadata.drop_all(db.engine)
        db.drop_all()
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
        if products:
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
        if ids:
            session.execute(insert(InvoiceFlag), [{"account_id": ACCOUNT, "tenant_id": tenant_id,
                                                   "invoice_id": str(i), "state": "flagged"} for i in ids])
        session.commit()


def _rss_kib() -> int:
    """The resident memory of this process now (KiB)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _engine_phase(app: Any, tenant_id: str, profile: str | None) -> dict[str, Any]:
    """Run the engine once (in the forked child): its counts, CPU time and memory."""
    from flask_xerosync.models import Connection, Run
    from flask_xerosync.services.xero_api import open_api
    from flask_xerosync.state import current_state
    from flask_xerosync.sync.engine import SyncEngine
    from flask_xerosync.sync.store import SyncStore

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
        rss_start = _rss_kib()
        profiler = cProfile.Profile(time.process_time) if profile else None
        started, cpu_started = time.perf_counter(), time.process_time()
        if profiler is not None:
            profiler.enable()
        counts = engine.run()
        if profiler is not None:
            profiler.disable()
        cpu = time.process_time() - cpu_started
        wall = time.perf_counter() - started
        if profiler is not None and profile:
            profiler.dump_stats(profile)
        session.remove()
    # One tenant-less ``GET /connections`` per run (the sandbox counts accounting calls only).
    return {"counts": counts, "wall": wall, "cpu": cpu, "rss_start": rss_start,
            "rss_peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "checks": 1}


def run_phase(app: Any, control: SandboxControl, tenant_id: str, name: str, floor: int, time_scale: float,
              records: int, profile: str | None = None) -> Phase:
    """One phase in a forked child, so that its peak memory is its own."""
    from flask_xerosync.state import current_state

    control.reset_counters(tenant_id)
    with app.app_context():
        current_state().db.engine.dispose()
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(reader)
        status = 0
        try:
            result = _engine_phase(app, tenant_id, profile)
        except BaseException as error:  # noqa: BLE001 - reported to the parent
            result, status = {"error": repr(error)}, 1
        with os.fdopen(writer, "w") as out:
            json.dump(result, out)
        os._exit(status)
    os.close(writer)
    with os.fdopen(reader) as incoming:
        result = json.load(incoming)
    os.waitpid(child, 0)
    if "error" in result:
        raise RuntimeError(f"{name}: {result['error']}")
    counters = control.counters(tenant_id)
    calls = int(counters["total_calls"]) + int(result["checks"])
    by_call = ", ".join(f"{c['method']} {c['path'].rsplit('/', 1)[-1]}: {c['count']}" for c in counters["calls"])
    return Phase(name, calls, floor, int(counters["rate_limited"]), result["wall"], result["cpu"], records,
                 result["rss_start"], result["rss_peak"], result["counts"], time_scale, by_call)


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


def bench(size: int, items: int, invoices: int, time_scale: float, *, database_url: str | None = None,
          first_only: bool = False, profile: str | None = None) -> list[Phase]:
    _CONTACT_IDS.clear()
    process, sandbox_url = start_sandbox(time_scale)
    records = 2 * size + items + invoices
    try:
        with RedisServer() as redis_server, tempfile.TemporaryDirectory() as folder:
            control = SandboxControl(sandbox_url)
            url = database_url or f"sqlite:///{Path(folder) / 'bench.sqlite'}"
            app = build_app(sandbox_url, redis_server.url, url, time_scale)
            tenant_id = connect(app, control)
            seed(app, control, tenant_id, size, items, invoices)
            host_items = items - items // 2
            initial_floor = floor_of(size, size, host_items - host_items // 10, invoices, 1 if invoices else 0)
            phases = [run_phase(app, control, tenant_id, f"{size} initial", initial_floor, time_scale, records,
                                profile)]
            if first_only:
                return phases
            echoes = changed_since_mark(app, control, tenant_id)
            phases.append(run_phase(app, control, tenant_id, f"{size} re-sync, echoes only",
                                    floor_of(echoes, 0, 0, 0, 0), time_scale, records))
            phases.append(run_phase(app, control, tenant_id, f"{size} re-sync, no change",
                                    floor_of(0, 0, 0, 0, 0), time_scale, records))
            changed_host = change_one_percent(app, control, tenant_id, size)
            phases.append(run_phase(app, control, tenant_id, f"{size} re-sync, 1% changed",
                                    floor_of(math.ceil(size / 100), changed_host, 0, 0, 0), time_scale, records))
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
    parser.add_argument("--database-url", default=None, help="SQLAlchemy URL (default: a temporary SQLite file)")
    parser.add_argument("--first-only", action="store_true", help="run the first sync only")
    parser.add_argument("--profile", default=None, metavar="FILE", help="cProfile dump of the first sync's engine")
    args = parser.parse_args(argv)
    print(f"time scale {args.time_scale:g} (a Xero minute lasts {60 / args.time_scale:.2f} s); "
          f"limits 60/min, 5 concurrent, 5000/day; {args.items} items, {args.invoices} flagged invoices")
    print(f"database: {args.database_url or 'SQLite (temporary file)'}; records = contacts + clients + items + "
          "invoices; CPU = the engine's process CPU time")
    print(f"{'phase':<28} {'calls':>6} {'floor':>6} {'calls/fl':>8} {'429s':>5} {'calls/min':>13} "
          f"{'wall':>9} {'CPU':>9} {'ms/rec':>8} {'RSS start → peak':>20}")
    for size in args.sizes:
        for phase in bench(size, args.items, args.invoices, args.time_scale, database_url=args.database_url,
                           first_only=args.first_only, profile=args.profile):
            print(phase.row(), flush=True)
            print(f"{'':<28} calls: /connections: 1, {phase.by_call}", flush=True)
            print(f"{'':<28} counts: {phase.counts}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
