"""Crash -> notification latency on the local stack, from one run: each of N new issues is one crash sent by
the real sentry-sdk; its latency runs from the capture to the moment its email (the default rule: new
issues by email) is in the outbox. The path is the deployed one: ingest -> Kinesis -> processor (outbox,
PutEvents) -> EventBridge rule -> alert function -> Alert Triggered -> EventBridge rule -> SNS topic ->
notifications queue -> notifier -> email topic -> the outbox.

    uv run python bench/alert_latency.py [--issues 200] [--rate 10]

Local figures: moto over HTTP on loopback and the local dispatcher's polling (20 ms when busy, up to 250 ms
when idle) stand in for EventBridge, SNS and Lambda's event source mappings.
"""

from __future__ import annotations

import argparse
import email
import statistics
import tempfile
import time
from email.policy import default as default_policy
from pathlib import Path

import sentry_sdk

from errata_local.stack import AlertingOptions, LocalStack


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _word(n: int) -> str:
    """A name per issue with no digit or hex letter, so the message's normalization keeps it."""
    return "".join("ghijklmnop"[int(d)] for d in f"{n:04d}")


def _arrivals(outbox: Path, seen: dict[str, float]) -> None:
    for path in outbox.glob("*.eml"):
        if path.name in seen:
            continue
        arrived = path.stat().st_mtime
        subject = str(email.message_from_bytes(path.read_bytes(), policy=default_policy)["Subject"])
        seen[path.name] = arrived
        seen[subject.rsplit(" ", 1)[-1]] = arrived


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--issues", type=int, default=200)
    parser.add_argument("--rate", type=float, default=4.0, help="new issues per second (the local stack sustains ~6)")
    args = parser.parse_args()
    outbox = Path(tempfile.mkdtemp(prefix="errata-alert-bench-"))
    stack = LocalStack(port=0, alerting=AlertingOptions(outbox=outbox, evaluator_seconds=3600))
    info = stack.start()
    try:
        sentry_sdk.init(dsn=info.dsn, release="bench@1.0.0", default_integrations=False)
        sent: dict[str, float] = {}
        for n in range(args.issues):
            word = _word(n)
            with sentry_sdk.new_scope() as scope:
                scope.fingerprint = [f"bench-{word}"]
                sent[word] = time.time()
                sentry_sdk.capture_message(f"bench alert {word}", level="error")
            time.sleep(1 / args.rate)
        sentry_sdk.flush(timeout=30)
        seen: dict[str, float] = {}
        deadline = time.time() + 120
        while time.time() < deadline and not all(word in seen for word in sent):
            _arrivals(outbox, seen)
            time.sleep(0.05)
        latencies = [seen[word] - started for word, started in sent.items() if word in seen]
        missing = len(sent) - len(latencies)
        emails = len(list(outbox.glob("*.eml")))
        print(f"new issues: {len(sent)} at {args.rate:g}/s; notifications: {emails}; missing: {missing}")
        p50, p90, p99 = (_percentile(latencies, q) for q in (0.5, 0.9, 0.99))
        print(
            f"crash -> notification (s): p50 {p50:.3f}, p90 {p90:.3f}, p99 {p99:.3f}, "
            f"max {max(latencies):.3f}, mean {statistics.mean(latencies):.3f}"
        )
        print(f"SUMMARY alert_p50_s={p50:.3f} alert_p99_s={p99:.3f} missing={missing}")
    finally:
        sentry_sdk.get_client().close()
        stack.stop()


if __name__ == "__main__":
    main()
