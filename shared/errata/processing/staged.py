"""Stage: a Kinesis record decoded, prepared and named by the items it adds to (its write keys)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from errata.grouping.fingerprint import Grouping
from errata.models.event import SentryEvent
from errata.store.counters import issue_key, window_key
from errata.store.user_issues import alias_keys, primary_key
from errata.traffic import CRASHED, ERRORED, ERRORS, MAX_TRAFFIC_COUNT, REQUESTS, SESSIONS

TRAFFIC_COUNTS = (SESSIONS, ERRORED, CRASHED, REQUESTS)
# An item a batch adds to: its kind first ("issue", "window", "user", "users", "active", "release",
# "traffic", "alias", "sketch"), then what names it.
WriteKey = tuple[str, ...]


@dataclass
class StagedEvent:
    sequence_number: int
    record: Any
    project_id: str
    event_id: str
    grouping: Grouping
    event: SentryEvent
    payload: dict[str, Any]
    received_at: datetime
    # The issue the event joins: the grouping's id, or the issue an earlier config's id names (IssueAliases).
    issue_id: str = ""
    tag_values: dict[str, str] = field(default_factory=dict)  # errata.tag_values: the issue's breakdown

    def __post_init__(self) -> None:
        self.issue_id = self.issue_id or self.grouping.issue_id

    @property
    def identity(self) -> str | None:
        return self.event.user.identity() if self.event.user else None

    @property
    def issue(self) -> tuple[str, str]:
        return (self.project_id, self.issue_id)

    def write_keys(self) -> set[WriteKey]:
        """Every item this event adds to (its samples item is written apart: only when a slot is filled)."""
        keys: set[WriteKey] = {("issue", *self.issue)}
        # The issue's hour, which counts its minutes and tag values too (errata.store.counters).
        keys.add(("window", issue_key(*self.issue), "hour", window_key(self.received_at, "hour")))
        primary = primary_key(self.project_id, self.event.user)
        if primary is not None:
            keys.add(("user", primary, self.issue_id))
            keys.update(("alias", alias, primary) for alias in alias_keys(self.project_id, self.event.user))
        keys.add(("active", self.project_id, window_key(self.received_at, "minute")))
        if self.identity:
            keys.add(("users", self.project_id, window_key(self.received_at, "hour")))
            keys.add(("sketch", *self.issue))
        if self.event.release:
            keys.add(("release", self.project_id, self.event.release))
        hour = window_key(self.received_at, "hour")
        # Errors per release and per route, beside the requests and sessions counted from traffic records.
        if self.event.release:
            keys.add(("traffic", self.project_id, hour, "release", self.event.release))
        if self.event.transaction:
            keys.add(("traffic", self.project_id, hour, "route", self.event.transaction))
        return keys

    def increments(self) -> dict[str, int]:
        return {ERRORS: 1}


@dataclass
class StagedTraffic:
    """Sessions or a transaction (errata.traffic): counted per release and route, never stored."""

    sequence_number: int
    record: Any
    project_id: str
    event_id: str
    received_at: datetime
    counts: dict[str, int]
    release: str | None
    route: str | None

    def write_keys(self) -> set[WriteKey]:
        hour = window_key(self.received_at, "hour")
        # Active: the minute evaluator visits this project (release health needs only sessions).
        keys: set[WriteKey] = {("active", self.project_id, window_key(self.received_at, "minute"))}
        if self.release:
            keys.add(("traffic", self.project_id, hour, "release", self.release))
        if self.route:
            keys.add(("traffic", self.project_id, hour, "route", self.route))
        return keys

    def increments(self) -> dict[str, int]:
        return self.counts


Staged = StagedEvent | StagedTraffic


def is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_TRAFFIC_COUNT


_MAX_ISSUE_TAGS = 10


def issue_tags(payload: dict[str, Any]) -> dict[str, str]:
    """A few tags of the latest (scrubbed) event, for alert-rule tag filters."""
    raw = payload.get("tags")
    if isinstance(raw, dict):
        pairs = list(raw.items())
    else:
        pairs = [(pair[0], pair[1]) for pair in raw or [] if isinstance(pair, list | tuple) and len(pair) == 2]
    tags: dict[str, str] = {}
    for key, value in pairs:
        if isinstance(key, str) and isinstance(value, str | int | float | bool) and len(tags) < _MAX_ISSUE_TAGS:
            tags[key[:64]] = str(value)[:200]
    return tags
