"""Deterministic event workloads for the cost and scale benches: realistic Sentry events (Python, Node and
Java stacks of real depth, request, user, tags, contexts, breadcrumbs; 3 to 9 KB as JSON) from a seed.

A fingerprint number decides an event's platform, exception type and in-app frames (so events of one
number group into one issue); the rest (message numbers, user, breadcrumbs, vendor frames' variables) varies
per event, as it does in real traffic.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

PLATFORMS = ("python", "node", "java")
_VERBS = ("load", "save", "charge", "render", "resolve", "sync", "parse", "notify", "price", "ship")
_NOUNS = ("order", "invoice", "cart", "user", "report", "payment", "session", "export", "coupon", "stock")
_PY_ERRORS = ("KeyError", "ValueError", "TypeError", "AttributeError", "ZeroDivisionError", "RuntimeError")
_NODE_ERRORS = ("TypeError", "RangeError", "Error", "SyntaxError", "ReferenceError")
_JAVA_ERRORS = (
    "java.lang.NullPointerException",
    "java.lang.IllegalStateException",
    "java.lang.IllegalArgumentException",
    "java.util.NoSuchElementException",
)
_ROUTES = ("/orders/{id}", "/cart", "/checkout", "/api/v2/invoices/{id}", "/users/{id}/settings", "/search")


@dataclass(frozen=True)
class Workload:
    name: str
    events: int
    fingerprints: int  # distinct fingerprints drawn from (0: every event new)
    zipf_s: float  # 0: uniform
    users: int  # distinct users (0: no user)
    batch_sizes: tuple[int, int]  # the processor's batch size, drawn uniformly from this range
    # The rate the events arrive at on one shard (the cost bench's simulated clock): where tumbling windows and
    # once-a-minute refreshes fall.
    events_per_second: float = 500.0
    # Before the measured events: each of the workload's issues and users sent once (population_events),
    # priced apart. A month of this traffic meets them once; a short run would spread them over its few events.
    seeded: bool = False


def _frame(rng: random.Random, platform: str, name: str, in_app: bool, lineno: int) -> dict[str, Any]:
    if platform == "python":
        module = f"app.{name.split('_')[0]}" if in_app else f"django.core.handlers.{name[:6]}"
        frame: dict[str, Any] = {
            "filename": module.replace(".", "/") + ".py",
            "abs_path": "/srv/app/" + module.replace(".", "/") + ".py",
            "function": name,
            "module": module,
            "lineno": lineno,
            "in_app": in_app,
        }
    elif platform == "node":
        path = f"/srv/app/src/{name.split('_')[0]}.js" if in_app else f"/srv/app/node_modules/express/lib/{name}.js"
        frame = {"filename": path, "abs_path": path, "function": name, "lineno": lineno, "colno": 17, "in_app": in_app}
    else:
        cls = name.split("_")[0].title()
        module = f"com.acme.{name.split('_')[0]}.{cls}Service" if in_app else f"org.springframework.web.{cls}"
        frame = {"filename": f"{cls}Service.java", "module": module, "function": name, "lineno": lineno}
        frame["in_app"] = in_app
    if in_app:
        frame["context_line"] = f"        result = {name}(request, payload)"
        frame["pre_context"] = [f"    def step_{i}(self):" for i in range(3)]
        frame["post_context"] = ["        return result", ""]
        frame["vars"] = {
            "request": f"<Request 'GET /orders/{rng.randrange(10**6)}'>",
            "attempt": str(rng.randrange(5)),
        }
    return frame


def _exception(rng: random.Random, fingerprint: int, platform: str) -> dict[str, Any]:
    shape = random.Random(fingerprint * 7919 + 17)  # the same fingerprint, the same frames
    errors = {"python": _PY_ERRORS, "node": _NODE_ERRORS, "java": _JAVA_ERRORS}[platform]
    depth = shape.randrange(8, 28)
    in_app = [f"{shape.choice(_NOUNS)}_{shape.choice(_VERBS)}_{fingerprint}_{i}" for i in range(shape.randrange(3, 7))]
    vendor = [f"{shape.choice(_VERBS)}{i}" for i in range(depth - len(in_app))]
    frames = [_frame(rng, platform, name, False, 100 + i) for i, name in enumerate(vendor)]
    frames += [_frame(rng, platform, name, True, 10 + i) for i, name in enumerate(in_app)]
    kind = f"{errors[fingerprint % len(errors)]}"
    noun, verb = shape.choice(_NOUNS), shape.choice(_VERBS)
    value = f"{noun} {rng.randrange(10**6)} could not be {verb}ed after {rng.randrange(1, 9)} tries"
    return {
        "type": kind,
        "value": value,
        "mechanism": {"type": "generic", "handled": False},
        "stacktrace": {"frames": frames},
    }


def event(rng: random.Random, fingerprint: int, user: int | None, now: datetime) -> dict[str, Any]:
    platform = PLATFORMS[fingerprint % len(PLATFORMS)]
    route = _ROUTES[fingerprint % len(_ROUTES)]
    payload: dict[str, Any] = {
        "event_id": uuid.UUID(int=rng.getrandbits(128)).hex,
        "timestamp": now.timestamp(),
        "platform": platform,
        "level": "error",
        "logger": "app",
        "server_name": f"web-{rng.randrange(12)}",
        "release": f"shop@2.{fingerprint % 4}.0",
        "environment": "production",
        "transaction": route,
        "exception": {"values": [_exception(rng, fingerprint, platform)]},
        "tags": {"region": "eu-west-1", "feature": rng.choice(("checkout-v2", "search", "legacy"))},
        "contexts": {
            "runtime": {
                "name": {"python": "CPython", "node": "node", "java": "OpenJDK"}[platform],
                "version": "3.12.4",
            },
            "os": {"name": "Linux", "version": "6.8"},
            "trace": {"trace_id": uuid.UUID(int=rng.getrandbits(128)).hex, "span_id": f"{rng.getrandbits(64):016x}"},
        },
        "request": {
            "url": f"https://shop.example.com{route.replace('{id}', str(rng.randrange(10**5)))}",
            "method": rng.choice(("GET", "POST")),
            "headers": {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0", "Accept": "application/json"},
            "query_string": f"page={rng.randrange(9)}",
        },
        "breadcrumbs": {
            "values": [
                {
                    "timestamp": now.timestamp() - 5 + i,
                    "category": rng.choice(("http", "query", "log")),
                    "message": f"{rng.choice(_VERBS)} {rng.choice(_NOUNS)} {rng.randrange(10**4)}",
                    "level": "info",
                }
                for i in range(rng.randrange(3, 12))
            ]
        },
        "sdk": {"name": f"sentry.{platform}", "version": "2.75.0"},
    }
    if user is not None:
        payload["user"] = {
            "id": f"user-{user}",
            "email": f"user-{user}@example.com",
            "ip_address": f"10.{user >> 16 & 255}.{user >> 8 & 255}.{user & 255}",
        }
    return payload


def events(workload: Workload, seed: int) -> Iterator[dict[str, Any]]:
    """The workload's events, the same for the same seed."""
    rng = random.Random(f"{seed}:{workload.name}")
    weights = None
    if workload.fingerprints and workload.zipf_s:
        weights = [1 / rank**workload.zipf_s for rank in range(1, workload.fingerprints + 1)]
    cumulative = None
    if weights:
        total, cumulative = 0.0, []
        for weight in weights:
            total += weight
            cumulative.append(total)
    now = datetime.now(UTC)
    for index in range(workload.events):
        if not workload.fingerprints:
            fingerprint = 10**6 + index
        elif cumulative:
            fingerprint = rng.choices(range(workload.fingerprints), cum_weights=cumulative)[0]
        else:
            fingerprint = rng.randrange(workload.fingerprints)
        user = rng.randrange(workload.users) if workload.users else None
        yield event(rng, fingerprint, user, now)


def population_events(workload: Workload, seed: int) -> list[dict[str, Any]]:
    """Every fingerprint and every user of the workload once (as many events as the larger of the two)."""
    if not workload.fingerprints:
        return []
    rng = random.Random(f"{seed}:{workload.name}:population")
    now = datetime.now(UTC)
    count = max(workload.fingerprints, workload.users)
    return [
        event(rng, n % workload.fingerprints, n % workload.users if workload.users else None, now) for n in range(count)
    ]


def batch_sizes(workload: Workload, seed: int) -> Iterator[int]:
    rng = random.Random(f"{seed}:{workload.name}:batches")
    low, high = workload.batch_sizes
    while True:
        yield rng.randint(low, high)
