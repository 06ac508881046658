"""``python -m flask_xerosync.sandbox --port 5055 --seed demo``."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flask_xerosync.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--seed", choices=["demo"], default=None)
    parser.add_argument("--time-scale", type=float, default=1.0,
                        help="sandbox seconds per real second (60 = a sandbox minute per real second)")
    parser.add_argument("--redirect-uri", action="append", default=[],
                        help="extra redirect URI for the demo app (repeatable)")
    args = parser.parse_args(argv)

    from .server import XeroSandbox

    sandbox = XeroSandbox(time_scale=args.time_scale, seed=args.seed, host=args.host, port=args.port,
                          redirect_uris=args.redirect_uri, quiet=False)
    sandbox.start()
    print(f"Xero sandbox running at {sandbox.url}", flush=True)
    print(f"  authorize: {sandbox.url}/identity/connect/authorize", flush=True)
    print(f"  token:     {sandbox.url}/connect/token", flush=True)
    print(f"  API:       {sandbox.url}/api.xro/2.0", flush=True)
    print(f"  control:   {sandbox.url}/_sandbox/state", flush=True)
    if sandbox.seed_info:
        info = sandbox.seed_info
        print(f"Demo app: client_id={info['client_id']} client_secret={info['client_secret']}", flush=True)
        for uri in info["redirect_uris"]:
            print(f"  redirect URI: {uri}", flush=True)
        print(f"Demo user: {info['user']['name']} <{info['user']['email']}>", flush=True)
        for org in info["orgs"]:
            print(f"  organisation: {org['name']} ({org['country']}) tenantId={org['tenant_id']}", flush=True)
    try:
        assert sandbox._thread is not None
        while sandbox._thread.is_alive():
            sandbox._thread.join(timeout=1.0)
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
