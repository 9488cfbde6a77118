"""The tags an issue's breakdown counts, as Sentry's issue page shows them: environment, release, server,
route, runtime and browser, read from the (normalized) event and its contexts."""

from __future__ import annotations

from typing import Any

from errata.models.event import SentryEvent
from errata.store.counters import TAG_VALUE_LENGTH

TAG_KEYS = ("environment", "release", "server", "route", "runtime", "browser")


def _context_name(payload: dict[str, Any], context: str) -> str | None:
    """`<name> <version>` of a context (`contexts.runtime`: "CPython 3.12.1"), or its `name` alone."""
    contexts = payload.get("contexts")
    found = contexts.get(context) if isinstance(contexts, dict) else None
    if not isinstance(found, dict) or not isinstance(found.get("name"), str):
        return None
    version = found.get("version")
    return f"{found['name']} {version}" if isinstance(version, str | int | float) else found["name"]


def tag_values(event: SentryEvent, payload: dict[str, Any]) -> dict[str, str]:
    """The event's value of each breakdown tag it has; an explicit tag of that name wins over the field."""
    values = {
        "environment": event.environment,
        "release": event.release,
        "server": event.server_name,
        "route": event.transaction,
        "runtime": _context_name(payload, "runtime"),
        "browser": _context_name(payload, "browser"),
    }
    for key in TAG_KEYS:
        explicit = event.tags.get(key) or (event.tags.get("server_name") if key == "server" else None)
        if explicit:
            values[key] = explicit
    return {key: value[:TAG_VALUE_LENGTH] for key, value in values.items() if value}
