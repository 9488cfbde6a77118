"""Traffic, for blast radius ("3% of checkout requests fail") and release health (crash-free sessions).

Ingest reduces `session`/`sessions` items and transactions to small traffic records on the stream; the
processor adds them, and the events' routes, to hourly counters per release and per route. Session and
transaction payloads themselves are not stored.
"""

from __future__ import annotations

from typing import Any

# Names of the counters a traffic record adds to.
SESSIONS, ERRORED, CRASHED, REQUESTS, ERRORS = "sessions", "errored", "crashed", "requests", "errors"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def session_traffic(item_type: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Traffic records from a `session` (application mode) or `sessions` (request mode aggregates) item."""
    attrs = payload.get("attrs")
    if not isinstance(attrs, dict):
        attrs = {}
    release = _text(attrs.get("release"))
    environment = _text(attrs.get("environment"))
    counts: dict[str, int] = {SESSIONS: 0, ERRORED: 0, CRASHED: 0}
    if item_type == "sessions":
        for aggregate in payload.get("aggregates") or []:
            if not isinstance(aggregate, dict):
                continue
            numbers = {k: aggregate.get(k) for k in ("exited", "errored", "crashed", "abnormal")}
            values = {k: v if isinstance(v, int) and v > 0 else 0 for k, v in numbers.items()}
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


def transaction_traffic(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """A transaction is one request of a route (its name): counted, not kept."""
    route = _text(payload.get("transaction"))
    if route is None:
        return []
    return [
        {
            "release": _text(payload.get("release")),
            "environment": _text(payload.get("environment")),
            "route": route[:200],
            REQUESTS: 1,
        }
    ]
