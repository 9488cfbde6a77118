"""What Errata's SDK costs the application, next to sentry-sdk measured in the same run.

    uv run python bench/sdk_overhead.py [--captures 300] [--requests 20000]

- capture_exception: median and p95 time on the calling thread (both SDKs point at a closed port, so no
  network time is counted; Errata's cost includes its durable write to the SQLite spool).
- WSGI middleware: added time per request when no error happens.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import errata_sdk
import sentry_sdk
from errata_sdk.frameworks import ErrataWsgiMiddleware
from sentry_sdk.integrations.wsgi import SentryWsgiMiddleware

from errata_local.aws import free_port


def _raise_and_capture(capture: Callable[[BaseException], Any]) -> float:
    try:
        raise ValueError("order 42 failed")
    except ValueError as error:
        started = time.perf_counter()
        capture(error)
        return time.perf_counter() - started


def capture_costs(capture: Callable[[BaseException], Any], count: int) -> list[float]:
    for _ in range(20):  # warm up
        _raise_and_capture(capture)
    return [_raise_and_capture(capture) for _ in range(count)]


def _app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def request_cost(app: Callable[..., Any], count: int) -> float:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/items/7",
        "QUERY_STRING": "",
        "SERVER_NAME": "bench",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "HTTP_HOST": "bench",
        "HTTP_USER_AGENT": "bench",
    }
    started = time.perf_counter()
    for _ in range(count):
        for _chunk in app(dict(environ), lambda *args: None):
            pass
    return (time.perf_counter() - started) / count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--captures", type=int, default=300)
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args()
    dead = f"http://{'a' * 32}@127.0.0.1:{free_port()}/1"

    errata_sdk.init(dsn=dead, buffer_dir=tempfile.mkdtemp(), max_buffer_mb=200)
    errata = capture_costs(errata_sdk.capture_exception, args.captures)
    errata_request = request_cost(ErrataWsgiMiddleware(_app), args.requests)
    errata_sdk.close(0.1)

    sentry_sdk.init(dsn=dead, default_integrations=False, traces_sample_rate=0)
    sentry = capture_costs(sentry_sdk.capture_exception, args.captures)
    sentry_request = request_cost(SentryWsgiMiddleware(_app), args.requests)
    sentry_sdk.get_client().close(timeout=0.1)

    bare = request_cost(_app, args.requests)

    def row(name: str, costs: list[float], request: float) -> str:
        p95 = sorted(costs)[int(0.95 * (len(costs) - 1))]
        return (
            f"| {name} | {statistics.median(costs) * 1e6:.0f} µs | {p95 * 1e6:.0f} µs | "
            f"{(request - bare) * 1e6:.1f} µs |"
        )

    print(
        f"capture_exception on the calling thread ({args.captures} captures) and WSGI middleware overhead per "
        f"request without error ({args.requests} requests), Python {sys.version.split()[0]}:"
    )
    print("| SDK | capture median | capture p95 | middleware per request |")
    print("|---|---|---|---|")
    print(row("errata-sdk (durable SQLite spool)", errata, errata_request))
    print(row(f"sentry-sdk {sentry_sdk.VERSION} (in-memory queue)", sentry, sentry_request))
    return 0


if __name__ == "__main__":
    sys.exit(main())
