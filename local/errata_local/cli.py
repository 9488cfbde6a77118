"""`errata`: the command line. `errata dev` runs the whole pipeline locally."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading


def _dev(args: argparse.Namespace) -> int:
    from errata_local.stack import LocalStack

    stack = LocalStack(port=args.port)
    info = stack.start()
    print(f"DSN: {info.dsn}")
    print(f"API token: {info.api_token}")
    print(f"Dashboard: {info.base_url}/")
    print("State lives in memory while this runs. Ctrl-C stops it.", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
        print("Errata stopped.", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="errata", description="Errata: error monitoring on AWS.")
    commands = parser.add_subparsers(dest="command", required=True)
    dev = commands.add_parser("dev", help="run the whole pipeline locally on an embedded AWS (moto)")
    dev.add_argument(
        "--port", type=int, default=int(os.environ.get("PORT", "8000")), help="HTTP port (default 8000)"
    )
    dev.set_defaults(run=_dev)
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
