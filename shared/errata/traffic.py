"""Traffic, for blast radius ("3% of checkout requests fail") and release health (crash-free sessions).

Ingest reduces `session`/`sessions` items and transactions to small traffic records on the stream; the
processor adds them, and the events' routes, to hourly counters per release and per route. Session and
transaction payloads themselves are not stored.
"""

from __future__ import annotations

from typing import Any

from errata.errors import InvalidPayload
from errata.normalization import MAX_ENVIRONMENT_CHARS, MAX_RELEASE_CHARS
from errata.scrubbing import scrub_text

# Names of the counters a traffic record adds to.
SESSIONS, ERRORED, CRASHED, REQUESTS, ERRORS = "sessions", "errored", "crashed", "requests", "errors"
# Relay reads session counts as u32; a larger one is not a count (10^45 would not fit a DynamoDB number).
MAX_TRAFFIC_COUNT = 2**32 - 1
MAX_ROUTE_CHARS = 200


def _text(value: Any, limit: int) -> str | None:
    """A release, environment or route: it becomes a key value, so one over its limit is not kept."""
    return value if isinstance(value, str) and value and len(value) <= limit else None


def session_traffic(item_type: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Traffic records from a `session` (application mode) or `sessions` (request mode aggregates) item."""
    attrs = payload.get("attrs")
    if not isinstance(attrs, dict):
        attrs = {}
    release = _text(attrs.get("release"), MAX_RELEASE_CHARS)
    environment = _text(attrs.get("environment"), MAX_ENVIRONMENT_CHARS)
    counts: dict[str, int] = {SESSIONS: 0, ERRORED: 0, CRASHED: 0}
    if item_type == "sessions":
        for aggregate in payload.get("aggregates") or []:
            if not isinstance(aggregate, dict):
                continue
            numbers = {k: aggregate.get(k) for k in ("exited", "errored", "crashed", "abnormal")}
            values = {k: _count(v) for k, v in numbers.items()}
            counts[SESSIONS] += sum(values.values())
            counts[ERRORED] += values["errored"]
            counts[CRASHED] += values["crashed"]
    else:
        status = payload.get("status")
        if payload.get("init") is True:
            counts[SESSIONS] += 1
        if status == "crashed":
            counts[CRASHED] += 1
        elif status in ("exited", "abnormal") and isinstance(payload.get("errors"), int) and payload["errors"] > 0:
            counts[ERRORED] += 1
    if not any(counts.values()):
        return []
    return [{"release": release, "environment": environment, "route": None, **counts}]


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return 0
    if value > MAX_TRAFFIC_COUNT:
        raise InvalidPayload(f"session count {value} is out of range (at most {MAX_TRAFFIC_COUNT})")
    return value


def transaction_traffic(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """A transaction is one request of a route (its name): counted, not kept."""
    name = payload.get("transaction")
    if not isinstance(name, str) or not name:
        return []
    # Scrubbed like an event's transaction (`/reset?token=...`), and cut where the event's is.
    route = scrub_text(name)[:MAX_ROUTE_CHARS]
    return [
        {
            "release": _text(payload.get("release"), MAX_RELEASE_CHARS),
            "environment": _text(payload.get("environment"), MAX_ENVIRONMENT_CHARS),
            "route": route,
            REQUESTS: 1,
        }
    ]
