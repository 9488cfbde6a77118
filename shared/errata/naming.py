"""Physical names of Errata's resources: `<prefix>-<logical name>`, the prefix being `errata-<stage>` in AWS
and `errata-local` in the local stack. Both sides build names here, so they cannot drift apart."""

from __future__ import annotations

EVENTS_STREAM = "events"
EVENT_PAYLOADS_BUCKET = "event-payloads"
SOURCE_MAPS_BUCKET = "source-maps"
DEAD_LETTER_QUEUE = "dead-letters"
EVENT_BUS = "alerts"


def physical_name(prefix: str, logical_name: str) -> str:
    return f"{prefix}-{logical_name.replace('_', '-')}"
