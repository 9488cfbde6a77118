"""Dashboard API latency at size, from one run: 10,000 issues holding 100,000 events in one project,
written straight into the local stack's tables and bucket in the shape the processor writes them (pushing
100,000 events through moto's transactions would take hours), then the API the page calls is timed over
HTTP through the local gateway, and the first page is rendered in headless Chromium.

    uv run python bench/dashboard.py [--issues 10000] [--events 100000] [--requests 200]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests

from errata.impact import impact_after
from errata.store.counters import issue_key, window_key
from errata.store.dynamo import to_item
from errata.store.issues import SORT_INDEXES
from errata.timefmt import iso_utc
from errata_local.stack import AlertingOptions, LocalStack


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _load(stack: LocalStack, issues: int, events: int, rng: random.Random) -> list[str]:
    settings = stack.info.settings  # type: ignore[union-attr]
    dynamodb: Any = stack.client("dynamodb")
    s3: Any = stack.client("s3")
    now = datetime.now(UTC)
    weights = [1 / (n + 1) ** 1.1 for n in range(issues)]
    scale = events / sum(weights)
    ids = [f"{n:032x}" for n in range(issues)]
    items = []
    for n, issue_id in enumerate(ids):
        count = max(1, round(weights[n] * scale))
        last = now - timedelta(minutes=rng.randrange(0, 14 * 24 * 60))
        release = f"shop@2.{rng.randrange(0, 40)}.0"
        items.append(
            {
                "project_id": "1",
                "issue_id": issue_id,
                "title": f"{rng.choice(['KeyError', 'TimeoutError', 'ValueError', 'TypeError'])}: case {n}",
                "culprit": f"shop.module{n % 97} in handler{n % 13}",
                "type": "Error",
                "level": rng.choice(["error", "error", "warning", "fatal"]),
                "status": rng.choice(["unresolved"] * 8 + ["resolved", "ignored"]),
                "event_count": count,
                "user_count": max(1, count // 3),
                "first_seen": iso_utc(last - timedelta(days=rng.randrange(0, 30))),
                "last_seen": iso_utc(last),
                "first_release": release,
                "last_release": release,
                "release_key": f"1#{release}",
                "environment": "production",
                "grouping_config": "errata:2026-12-03",
                "revision": 1,
                "payload_key": f"projects/1/issues/{issue_id}/latest.json",
                "impact": Decimal(str(impact_after(None, max(1, count // 3), count, "error", last))),
            }
        )
        item = items[-1]
        item.update(  # the ranks the listings sort by, as the processor copies them (errata.store.issues)
            rank_events=count,
            rank_users=item["user_count"],
            rank_seen=item["last_seen"],
            rank_impact=item["impact"],
            ranked_at=item["last_seen"],
            totals_ranked_at=item["last_seen"],
        )
    for start in range(0, len(items), 25):
        pending: dict[str, Any] = {
            settings.issues_table: [{"PutRequest": {"Item": to_item(item)}} for item in items[start : start + 25]]
        }
        while pending:
            pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
    # The issues the bench opens get their payload and 24 hours of counters.
    for issue_id in ids[:50]:
        s3.put_object(
            Bucket=settings.event_payloads_bucket,
            Key=f"projects/1/issues/{issue_id}/latest.json",
            Body=json.dumps({"event_id": issue_id, "exception": {"values": [{"type": "KeyError", "value": "'x'"}]}}),
        )
        windows = [
            {
                "PutRequest": {
                    "Item": to_item(
                        {
                            "pk": issue_key("1", issue_id),
                            "sk": window_key(now - timedelta(hours=h), "hour"),
                            "events": 5,
                        }
                    )
                }
            }
            for h in range(24)
        ]
        dynamodb.batch_write_item(RequestItems={settings.counters_table: windows})
    return ids


def _time(session: requests.Session, url: str, **params: Any) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = session.get(url, params=params, timeout=30)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed, response.json()


def _first_render(base_url: str, token: str) -> float | None:
    chromium = shutil.which("chromium")
    if chromium is None:
        return None
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        page = browser.new_page()
        started = time.perf_counter()
        page.goto(f"{base_url}/?token={token}#/projects/1/issues")
        page.locator("#issues tbody tr").first.wait_for()
        elapsed = time.perf_counter() - started
        browser.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--issues", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(7)
    stack = LocalStack(port=0, alerting=AlertingOptions(outbox=Path(tempfile.mkdtemp()), evaluator_seconds=3600))
    info = stack.start()
    try:
        started = time.perf_counter()
        ids = _load(stack, args.issues, args.events, rng)
        print(f"loaded {args.issues} issues / {args.events} events in {time.perf_counter() - started:.1f} s")
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {info.api_token}"
        base = f"{info.base_url}/api/projects/1"
        figures: dict[str, list[float]] = {
            "list": [],
            "list, filtered": [],
            "next page": [],
            "detail": [],
            "counts": [],
            "tags": [],
        }
        for n in range(args.requests):
            sort = ("frequency", "recency", "users", "impact")[n % 4]
            elapsed, page = _time(session, f"{base}/issues", sort=sort, limit=25, query="")
            figures["list"].append(elapsed)
            figures["next page"].append(
                _time(session, f"{base}/issues", sort=sort, limit=25, query="", cursor=page["next_cursor"])[0]
            )
            figures["list, filtered"].append(
                _time(session, f"{base}/issues", sort=sort, limit=25, query="is:unresolved level:error")[0]
            )
            issue_id = ids[n % 50]
            figures["detail"].append(_time(session, f"{base}/issues/{issue_id}")[0])
            figures["counts"].append(_time(session, f"{base}/issues/{issue_id}/counts", window="hour")[0])
            figures["tags"].append(_time(session, f"{base}/issues/{issue_id}/tags")[0])
        for name, values in figures.items():
            p50, p95 = 1000 * _percentile(values, 0.5), 1000 * _percentile(values, 0.95)
            mean = 1000 * statistics.mean(values)
            print(f"{name:>15}: p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  mean {mean:6.1f} ms  ({len(values)} requests)")
        # The floor under the list: the same index Query straight to moto (no gateway, no handler).
        dynamodb: Any = stack.client("dynamodb")
        floor = []
        for _ in range(50):
            started = time.perf_counter()
            dynamodb.query(
                TableName=info.settings.issues_table,
                IndexName=SORT_INDEXES["frequency"].name,
                KeyConditionExpression="project_id = :p",
                ExpressionAttributeValues={":p": {"S": "1"}},
                ScanIndexForward=False,
                Limit=25,
            )
            floor.append(time.perf_counter() - started)
        print(f"moto's index Query alone: p50 {1000 * _percentile(floor, 0.5):.1f} ms (the floor under 'list')")
        render = _first_render(info.base_url, info.api_token)
        print(
            f"first page rendered in Chromium: {render:.2f} s"
            if render is not None
            else "no chromium: render not measured"
        )
        print(
            f"SUMMARY list_p95_ms={1000 * _percentile(figures['list'], 0.95):.0f} "
            f"detail_p95_ms={1000 * _percentile(figures['detail'], 0.95):.0f} "
            f"first_render_s={render if render is not None else float('nan'):.2f}"
        )
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
