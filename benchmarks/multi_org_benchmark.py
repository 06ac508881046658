"""Many organisations, one worker pool: throughput against Xero's limits, fairness, 429s.

N organisations (one host business each, connected through the real OAuth flow) with M records
each (half Xero contacts seeded in the sandbox, half host clients), optionally one big organisation
of ``--big`` records whose run is queued first; W real ``flask xerosync worker`` processes (RQ
workers with RQ's scheduler, in the example app's context) run every first sync at once. The
sandbox runs in its own process with Xero's limits on a shrunk time scale (``--time-scale``
sandbox seconds per real second; the limiter's window and ``XEROSYNC_MAX_LIMIT_WAIT`` shrink with
it). A twin of a small organisation is synced alone first: its time is "alone".

Prints: total calls, calls per (scaled) minute against ``min(app limit, per-minute × N)``, 429s of
each kind (must be 0), the ideal time (the larger of the per-organisation bound, the busiest
organisation's calls at its minute rate, and the app-wide bound, every call at the app's minute
rate, both counted in sliding windows) and the measured time with their ratio, the slowest small organisation against its time
alone, and the workers' busy share. Failed runs are printed with their traceback.

Usage: ``python benchmarks/multi_org_benchmark.py --orgs 20 --records 500 --workers 2``
(``--big 5000`` adds a big organisation; ``--per-minute`` shrinks the organisation minute so
small syncs need several windows; ``--database-url`` uses PostgreSQL instead of SQLite).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from sqlalchemy import insert, select, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flask_xerosync.sandbox.control import SandboxControl  # noqa: E402
from benchmarks.sandbox_process import start_sandbox  # noqa: E402
from flask_xerosync.testing import RedisServer  # noqa: E402

CLIENT_ID, CLIENT_SECRET = "multi-org-bench", "multi-org-secret"
CALLBACK = "http://localhost/settings/accounting-sync/callback"
PASSWORD = "bench-password"
CONFIG_ENV = "MULTI_ORG_BENCH_CONFIG"


def worker_app() -> Any:
    """The app of a worker process (``flask --app multi_org_benchmark:worker_app() xerosync worker``)."""
    from example_app import create_app

    return create_app(json.loads(Path(os.environ[CONFIG_ENV]).read_text()))


@dataclass
class Org:
    name: str
    records: int
    account_id: str = ""
    tenant_id: str = ""


def app_config(args: argparse.Namespace, sandbox_url: str, redis_url: str, database_url: str) -> dict[str, Any]:
    scale = args.time_scale
    config: dict[str, Any] = {
        "TESTING": True, "SECRET_KEY": "bench", "SERVER_NAME": "localhost",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "XEROSYNC_CLIENT_ID": CLIENT_ID, "XEROSYNC_CLIENT_SECRET": CLIENT_SECRET,
        "XEROSYNC_ENCRYPTION_KEY": Fernet.generate_key().decode(), "XEROSYNC_REDIS_URL": redis_url,
        "XEROSYNC_SANDBOX_URL": sandbox_url, "XEROSYNC_HTMX_URL": "/static/htmx.min.js", "XEROSYNC_HTMX_INTEGRITY": "",
        "XEROSYNC_RATE_LIMIT_WINDOW": 60.0 / scale, "XEROSYNC_RATE_LIMIT_PER_MINUTE": args.per_minute,
        "XEROSYNC_APP_RATE_LIMIT_PER_MINUTE": args.app_per_minute, "XEROSYNC_MAX_LIMIT_WAIT": args.max_wait / scale,
        "XEROSYNC_PAGE_SIZE": args.page_size,
    }
    if database_url.startswith("sqlite"):
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": 60}}
    return config


def prepare_host(app: Any, orgs: list[Org]) -> None:
    """Fresh tables (SQLite in WAL mode for concurrent workers), one Pro business with a user and
    half of its records as host clients per organisation."""
    from example_app.models import Business, Client, User, db
    from example_app.seed import create_tables

    with app.app_context():
        create_tables(fresh=True)
        if db.engine.dialect.name == "sqlite":
            with db.engine.connect() as conn:
                conn.execute(text("PRAGMA journal_mode=WAL"))
        for number, org in enumerate(orgs):
            business = Business(name=org.name, plan="pro", timezone="UTC")
            db.session.add(business)
            db.session.flush()
            user = User(email=f"owner{number}@bench.example", name=f"Owner {number}", business_id=business.id)
            user.set_password(PASSWORD)
            db.session.add(user)
            org.account_id = str(business.id)
            host = org.records // 2
            if host:
                db.session.execute(insert(Client), [
                    {"business_id": business.id, "name": f"{org.name} client {n:06d}",
                     "email": f"c{n}.b{business.id}@host.example", "city": "Auckland", "country": "New Zealand"}
                    for n in range(host)])
        db.session.commit()


def connect_all(app: Any, control: SandboxControl, orgs: list[Org]) -> None:
    """Each business connects its own organisation (seeded with the other half of its records)
    through the real OAuth flow, and is marked previewed so Sync Now! syncs."""
    from flask_xerosync.models import Run, RunKind, RunStatus, utcnow

    control.register_app(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=[CALLBACK])
    for number, org in enumerate(orgs):
        email = f"owner{number}@bench.example"
        user = control.create_user(name=f"Owner {number}", email=email)
        org.tenant_id = control.create_org(name=org.name, country="NZ", users=[user["user_id"]])
        contacts = [{"Name": f"{org.name} contact {n:06d}", "EmailAddress": f"x{n}.o{number}@xero.example",
                     "IsCustomer": True} for n in range(org.records - org.records // 2)]
        for start in range(0, len(contacts), 1000):
            control.seed_contacts(org.tenant_id, contacts[start:start + 1000])
        client = app.test_client()
        token = _csrf(client.get("/login").get_data(as_text=True))
        client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
        token = _csrf(client.get("/settings/accounting-sync/").get_data(as_text=True))
        start = client.post("/settings/accounting-sync/connect", data={"csrf_token": token})
        callback = urlsplit(control.authorize(start.headers["Location"], tenant_ids=[org.tenant_id], user=email))
        client.get(f"{callback.path}?{callback.query}")
    with app.app_context():
        from example_app.models import db

        db.session.add_all([Run(account_id=org.account_id, tenant_id=org.tenant_id, kind=RunKind.PREVIEW,
                                status=RunStatus.DONE, counts={}, finished_at=utcnow() - timedelta(days=1))
                            for org in orgs])
        db.session.commit()


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no CSRF token"
    return match.group(1)


def start_workers(count: int, config_path: Path, logs: Path) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, CONFIG_ENV: str(config_path),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "benchmarks"), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return [subprocess.Popen([sys.executable, "-m", "flask", "--app", "multi_org_benchmark:worker_app()",
                              "xerosync", "worker"], cwd=ROOT, env=env,
                             stdout=(logs / f"worker-{n}.log").open("wb"), stderr=subprocess.STDOUT)
            for n in range(count)]


def wait_for_workers(redis: Any, count: int) -> None:
    from rq import Worker

    deadline = time.monotonic() + 60
    while Worker.count(connection=redis) < count:
        if time.monotonic() > deadline:
            raise RuntimeError("the workers did not start; see their logs")
        time.sleep(0.2)


def busy_seconds(redis: Any) -> float:
    from rq import Worker

    return sum(worker.total_working_time for worker in Worker.all(connection=redis))


def sync_all(app: Any, orgs: list[Org]) -> dict[str, str]:
    """Sync Now! for every organisation, in order; their run ids by account."""
    from flask_xerosync.services.sync_now import request_sync
    from flask_xerosync.state import current_state

    runs = {}
    with app.app_context():
        state = current_state()
        for org in orgs:
            request = request_sync(state, org.account_id)
            assert request.started and request.run is not None, request.refusal
            runs[org.account_id] = request.run.id
            state.db.session.remove()
    return runs


def wait_for_runs(app: Any, run_ids: list[str], timeout: float) -> list[Any]:
    from flask_xerosync.models import Run, RunStatus
    from flask_xerosync.state import current_state

    deadline = time.monotonic() + timeout
    while True:
        with app.app_context():
            session = current_state().db.session
            rows = list(session.scalars(select(Run).where(Run.id.in_(run_ids))))
            session.expunge_all()
            session.remove()
        if all(row.status in RunStatus.FINISHED for row in rows) or time.monotonic() > deadline:
            return rows
        time.sleep(0.25)


def print_failures(app: Any, rows: list[Any], logs: Path) -> None:
    from rq.job import Job

    from flask_xerosync.models import RunStatus
    from flask_xerosync.state import current_state

    failed = [row for row in rows if row.status != RunStatus.DONE]
    if not failed:
        return
    with app.app_context():
        redis = current_state().redis
        for row in failed:
            print(f"\nrun {row.id} (account {row.account_id}): {row.status}: {row.error}")
            try:
                result = Job.fetch(row.job_id, connection=redis).latest_result()
                print(result.exc_string if result is not None and result.exc_string else "(no traceback in RQ)")
            except Exception as exc:  # noqa: BLE001 - a benchmark report, whatever RQ kept
                print(f"(job {row.job_id} not readable: {exc})")
    for log in sorted(logs.glob("worker-*.log")):
        tracebacks = log.read_text(errors="replace").split("Traceback")[1:]
        for part in tracebacks[:3]:
            print(f"\n{log.name}: Traceback{part[:3000]}")


def bench(args: argparse.Namespace) -> int:
    scale = args.time_scale
    window = 60.0 / scale
    smalls = [Org(f"Org {n:03d}", args.records) for n in range(args.orgs)]
    big = [Org("Big org", args.big)] if args.big else []
    twin = Org("Twin org", args.records)
    orgs = [twin, *big, *smalls]
    process, sandbox_url = start_sandbox(scale)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        with RedisServer() as redis_server, tempfile.TemporaryDirectory() as folder:
            logs = Path(folder)
            database_url = args.database_url or f"sqlite:///{logs / 'host.sqlite'}"
            config = app_config(args, sandbox_url, redis_server.url, database_url)
            config_path = logs / "config.json"
            config_path.write_text(json.dumps(config))
            from example_app import create_app
            from flask_xerosync.state import current_state

            app = create_app(config)
            control = SandboxControl(sandbox_url)
            control.set_default_limits(per_minute=args.per_minute, app_per_minute=args.app_per_minute)
            prepare_host(app, orgs)
            connect_all(app, control, orgs)
            with app.app_context():
                redis = current_state().redis
            workers = start_workers(args.workers, config_path, logs)
            wait_for_workers(redis, args.workers)

            started = time.monotonic()
            alone_rows = wait_for_runs(app, list(sync_all(app, [twin]).values()), args.timeout)
            alone = time.monotonic() - started
            for org in orgs:
                control.reset_counters(org.tenant_id)
            busy_before = busy_seconds(redis)

            started = time.monotonic()
            run_ids = sync_all(app, [*big, *smalls])
            rows = wait_for_runs(app, list(run_ids.values()), args.timeout)
            measured = time.monotonic() - started
            busy = busy_seconds(redis) - busy_before
            report(args, control, orgs[1:], rows, alone, measured, busy, window)
            print_failures(app, alone_rows + rows, logs)
            return 0 if all(row.status == "done" for row in alone_rows + rows) else 1
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
        process.terminate()
        process.wait(timeout=10)


def report(args: argparse.Namespace, control: SandboxControl, orgs: list[Org], rows: list[Any], alone: float,
           measured: float, busy: float, window: float) -> None:
    by_tenant = {row.tenant_id: row for row in rows}
    counters = {org.tenant_id: control.counters(org.tenant_id) for org in orgs}
    calls = {org.tenant_id: int(counters[org.tenant_id]["total_calls"]) for org in orgs}
    total = sum(calls.values())
    problems: dict[str, int] = {}
    for data in counters.values():
        for problem, count in data["rate_limited_by_problem"].items():
            problems[problem] = problems.get(problem, 0) + count
    app_refused = control.app_limits(CLIENT_ID)["rate_limited"]
    n = len(orgs)
    pool_rate = min(args.app_per_minute, args.per_minute * n)
    per_org_bound = max(max(0, calls[t] - 1) // args.per_minute for t in calls) * window
    # Sliding windows: a limit of L a minute lets the first L calls go at once, so C calls need
    # (C - 1) // L whole windows after the first, per organisation and for the app alike.
    app_bound = max(0, total - 1) // args.app_per_minute * window
    ideal = max(per_org_bound, app_bound, alone)
    scaled_minutes = measured / window
    small_ids = {org.tenant_id for org in orgs if org.name.startswith("Org ")}
    small_times = [(by_tenant[t].finished_at - by_tenant[t].created_at).total_seconds() for t in small_ids]
    print(f"{n} organisations ({len(small_ids)} of {args.records} records"
          f"{f', 1 of {args.big}' if args.big else ''}), {args.workers} workers; time scale {args.time_scale:g} "
          f"(a Xero minute lasts {window:.2f} s); limits {args.per_minute}/min per organisation, "
          f"{args.app_per_minute}/min for the app; page size {args.page_size}")
    print(f"runs done:               {sum(1 for row in rows if row.status == 'done')} of {len(rows)}")
    print(f"total calls:             {total} accounting calls (+ {sum(row.api_calls for row in rows) - total} "
          f"connection checks, one per run part)")
    print(f"calls per scaled minute: {total / scaled_minutes:.1f} against min({args.app_per_minute}, "
          f"{args.per_minute} x {n}) = {pool_rate}")
    print(f"429s:                    {sum(problems.values())} {problems or ''} (app refusals: {app_refused})")
    print(f"ideal time:              {ideal:.1f} s = max(per organisation {per_org_bound:.1f} s, app-wide "
          f"{app_bound:.1f} s, one small sync alone {alone:.1f} s)")
    print(f"measured time:           {measured:.1f} s ({scaled_minutes:.1f} scaled minutes); "
          f"measured / ideal = {measured / ideal:.2f}")
    if small_times:
        slowest = max(small_times)
        small_times.sort()
        print(f"slowest small org:       {slowest:.1f} s from Sync Now! to done, against {alone:.1f} s alone "
              f"(+{(slowest - alone) / window:.2f} scaled minutes); median {small_times[len(small_times) // 2]:.1f} s")
    if args.big:
        big = next(row for row in rows if row.tenant_id == orgs[0].tenant_id)
        print(f"big org:                 {(big.finished_at - big.created_at).total_seconds():.1f} s, "
              f"{calls[orgs[0].tenant_id]} calls")
    print(f"worker busy share:       {busy / (args.workers * measured):.0%} "
          f"({busy:.1f} s of job time over {args.workers} x {measured:.1f} s; the pool's own bound, job time / "
          f"workers, is {busy / args.workers:.1f} s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orgs", type=int, default=20, help="small organisations")
    parser.add_argument("--records", type=int, default=500, help="records of each small organisation")
    parser.add_argument("--big", type=int, default=0, help="records of one big organisation, queued first")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--time-scale", type=float, default=10.0, help="sandbox seconds per real second")
    parser.add_argument("--per-minute", type=int, default=60, help="calls a minute per organisation")
    parser.add_argument("--app-per-minute", type=int, default=10000, help="calls a minute for the app")
    parser.add_argument("--max-wait", type=float, default=5.0, help="XEROSYNC_MAX_LIMIT_WAIT in Xero seconds")
    parser.add_argument("--page-size", type=int, default=100, help="XEROSYNC_PAGE_SIZE")
    parser.add_argument("--database-url", default="", help="default: SQLite in a temporary folder")
    parser.add_argument("--timeout", type=float, default=1800.0, help="real seconds to wait for the runs")
    return bench(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
