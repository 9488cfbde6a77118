"""End-to-end figures of the local stack, from one run: crash-to-API latency with the real sentry-sdk, and
sustained throughput of envelopes through ingest -> Kinesis -> processor -> DynamoDB.

    uv run python bench/pipeline.py [--latency-samples 30] [--events 2000] [--fingerprints 50]

The local stack is moto over HTTP on loopback, so these are figures of the code plus moto, not of AWS.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests
import sentry_sdk

from errata_local.stack import DEV_EVENT_SOURCE, LocalStack


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _total_events(base_url: str, token: str) -> int:
    response = requests.get(
        f"{base_url}/api/projects/1/issues",
        params={"limit": 100},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    return sum(issue["count"] for issue in response.json()["issues"])


def crash_to_api_latency(dsn: str, base_url: str, token: str, samples: int) -> list[float]:
    sentry_sdk.init(dsn=dsn, release="bench@1.0.0", default_integrations=False)
    latencies = []
    for n in range(samples):
        before = _total_events(base_url, token)
        started = time.perf_counter()
        try:
            raise TimeoutError(f"upstream {n} timed out")
        except TimeoutError as exc:
            sentry_sdk.capture_exception(exc)
        sentry_sdk.flush(timeout=5)
        while _total_events(base_url, token) <= before:
            if time.perf_counter() - started > 30:
                raise SystemExit("an event did not arrive within 30 s")
            time.sleep(0.01)
        latencies.append(time.perf_counter() - started)
    sentry_sdk.get_client().close()
    return latencies


def throughput(dsn: str, base_url: str, token: str, events: int, fingerprints: int) -> tuple[float, float]:
    key = dsn.split("//", 1)[1].split("@", 1)[0]
    url = f"{base_url}/api/1/envelope/"
    headers = {"X-Sentry-Auth": f"Sentry sentry_key={key}", "Content-Encoding": "gzip"}
    before = _total_events(base_url, token)

    def send(n: int) -> int:
        event = {
            "event_id": uuid.uuid4().hex,
            "exception": {
                "values": [
                    {
                        "type": f"Error{n % fingerprints}",
                        "value": f"request {n} failed",
                        "stacktrace": {"frames": [{"function": "handle", "module": "app.views", "in_app": True}]},
                    }
                ]
            },
            "user": {"id": f"user-{n % 500}"},
            "release": "bench@1.0.0",
        }
        payload = json.dumps(event).encode()
        body = b"{}\n" + json.dumps({"type": "event", "length": len(payload)}).encode() + b"\n" + payload
        return requests.post(url, data=gzip.compress(body), headers=headers, timeout=30).status_code

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(send, range(events)))
    ingest_seconds = time.perf_counter() - started
    if any(status != 200 for status in statuses):
        raise SystemExit(f"ingest answered {sorted(set(statuses))}")
    while _total_events(base_url, token) < before + events:
        if time.perf_counter() - started > 600:
            raise SystemExit("the processor did not catch up within 10 minutes")
        time.sleep(0.05)
    total_seconds = time.perf_counter() - started
    return events / ingest_seconds, events / total_seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-samples", type=int, default=30)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--fingerprints", type=int, default=50)
    args = parser.parse_args()
    stack = LocalStack(port=0, event_source=DEV_EVENT_SOURCE, processor_process=True)  # as `make dev` runs
    info = stack.start()
    try:
        latencies = crash_to_api_latency(info.dsn, info.base_url, info.api_token, args.latency_samples)
        ingest_rate, end_to_end_rate = throughput(
            info.dsn, info.base_url, info.api_token, args.events, args.fingerprints
        )
    finally:
        stack.stop()
    print(f"crash -> visible in API (sentry-sdk, {len(latencies)} samples):")
    p50, p95 = statistics.median(latencies) * 1000, _percentile(latencies, 0.95) * 1000
    print(f"  p50 {p50:.0f} ms   p95 {p95:.0f} ms   max {max(latencies) * 1000:.0f} ms")
    print(f"throughput ({args.events} events over {args.fingerprints} fingerprints, 8 concurrent clients):")
    print(f"  ingest accepted {ingest_rate:.0f} events/s")
    print(f"  end to end (counted in DynamoDB) {end_to_end_rate:.0f} events/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
