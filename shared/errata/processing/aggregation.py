"""Aggregate: a batch's staged records summed per item they add to, so each item is written once per batch.

An item's sum is made from any subset of its records (`records_by_key` gives them all; a write that finds an
item already holding the batch's first records sums only the later ones, errata.store.shard_marks). A sum
carried from earlier invocations of a tumbling window (errata.processing.window) is one more record, placed
at the last sequence number it holds: `PendingTally` for a counter item, `PendingIssue` for an issue."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from errata.processing.staged import Staged, StagedEvent, StagedTraffic, WriteKey, issue_tags
from errata.store.counters import minute_attribute
from errata.store.issues import IssueDelta

# A window's pending releases per issue (for regressions), the latest kept: an issue seen in more releases
# than this within one window is compared on the latest ones.
MAX_PENDING_RELEASES = 20


@dataclass
class Tally:
    """What records add to one counter item."""

    moment: datetime
    last: datetime
    events: int = 0
    users: set[str] = field(default_factory=set)
    increments: Counter[str] = field(default_factory=Counter)
    tag_values: Counter[tuple[str, str]] = field(default_factory=Counter)


@dataclass
class PendingTally:
    """What a window's earlier invocations added to one counter item, not yet written."""

    sequence_number: int  # the last record it holds
    key: WriteKey
    tally: Tally

    def write_keys(self) -> set[WriteKey]:
        return {self.key}


@dataclass
class LatestEvent:
    """What an issue's write takes from its latest event."""

    sequence_number: int
    project_id: str
    issue_id: str
    event_id: str
    received_at: datetime
    grouping_config: str
    type: str
    title: str
    culprit: str | None
    root_cause: str | None
    level: str
    environment: str | None
    release: str | None
    route: str | None
    tags: dict[str, str]

    @classmethod
    def of(cls, staged: StagedEvent) -> LatestEvent:
        return cls(
            sequence_number=staged.sequence_number,
            project_id=staged.project_id,
            issue_id=staged.issue_id,
            event_id=staged.event_id,
            received_at=staged.received_at,
            grouping_config=staged.grouping.config,
            type=staged.grouping.type,
            title=staged.grouping.title,
            culprit=staged.grouping.culprit,
            root_cause=staged.grouping.root_cause,
            level=staged.event.level,
            environment=staged.event.environment,  # within its limits already (errata.normalization)
            release=staged.event.release,
            route=staged.event.transaction or None,
            tags=issue_tags(staged.payload),
        )


@dataclass
class PendingIssue:
    """What a window's earlier invocations added to one issue, not yet written."""

    sequence_number: int
    first_seen: datetime
    latest: LatestEvent
    count: int
    first_release: str | None
    last_release: str | None
    users: set[str]
    releases: list[str]
    payload_key: str | None

    @property
    def issue(self) -> tuple[str, str]:
        return (self.latest.project_id, self.latest.issue_id)

    def write_keys(self) -> set[WriteKey]:
        return {("issue", *self.issue)}


Record = Staged | PendingTally | PendingIssue


def records_by_key(records: Sequence[Record]) -> dict[WriteKey, list[Record]]:
    """Each item the records add to, with its records in stream order."""
    by_key: dict[WriteKey, list[Record]] = {}
    for record in sorted(records, key=lambda r: r.sequence_number):
        for key in record.write_keys():
            by_key.setdefault(key, []).append(record)
    return by_key


def moments_of(record: Record) -> tuple[datetime, datetime]:
    if isinstance(record, PendingTally):
        return record.tally.moment, record.tally.last
    if isinstance(record, PendingIssue):
        return record.first_seen, record.latest.received_at
    return record.received_at, record.received_at


def tally_of(key: WriteKey, records: list[Record]) -> Tally:
    kind = key[0]
    moments = [moments_of(r) for r in records]
    tally = Tally(moment=min(m[0] for m in moments), last=max(m[1] for m in moments))
    for record in records:
        if isinstance(record, PendingTally):
            tally.events += record.tally.events
            tally.users |= record.tally.users
            tally.increments.update(record.tally.increments)
            tally.tag_values.update(record.tally.tag_values)
            continue
        if isinstance(record, PendingIssue):
            raise TypeError(f"an issue's pending sum in the records of {key}")
        if isinstance(record, StagedTraffic):
            tally.increments.update(record.counts)
            continue
        tally.events += 1
        if kind == "traffic":
            tally.increments.update(record.increments())
        if kind == "window":
            tally.increments[minute_attribute(record.received_at)] += 1
            tally.tag_values.update(record.tag_values.items())
        identity = record.identity
        if identity and kind in ("window", "release", "users", "sketch"):
            tally.users.add(identity)
    return tally


@dataclass
class IssueAggregate:
    """What a batch's events (and a window's pending sum) add to one issue."""

    first_seen: datetime
    latest_record: StagedEvent | LatestEvent  # made a LatestEvent when read: most events are not the latest
    count: int = 0
    first_release: str | None = None
    last_release: str | None = None
    users: set[str] = field(default_factory=set)
    releases: list[str] = field(default_factory=list)  # in stream order, for regressions
    payload_key: str | None = None  # the representative an earlier invocation of the window kept

    @classmethod
    def of(cls, records: list[Record]) -> IssueAggregate:
        first = records[0]
        if isinstance(first, PendingIssue):
            aggregate = cls(first_seen=first.first_seen, latest_record=first.latest)
        elif isinstance(first, StagedEvent):
            aggregate = cls(first_seen=first.received_at, latest_record=first)
        else:
            raise TypeError(f"not an issue's record: {type(first).__name__}")
        for record in records:
            aggregate.add(record)
        return aggregate

    @property
    def latest(self) -> LatestEvent:
        if isinstance(self.latest_record, StagedEvent):
            self.latest_record = LatestEvent.of(self.latest_record)
        return self.latest_record

    def add(self, record: Record) -> None:
        if isinstance(record, PendingIssue):
            self.count += record.count
            self.first_seen = min(self.first_seen, record.first_seen)
            if record.latest.sequence_number >= self.latest_record.sequence_number:
                self.latest_record = record.latest
            self.first_release = self.first_release or record.first_release
            self.last_release = record.last_release or self.last_release
            self.releases.extend(record.releases)
            self.users |= record.users
            self.payload_key = record.payload_key or self.payload_key
            return
        if not isinstance(record, StagedEvent):
            raise TypeError(f"not an issue's record: {type(record).__name__}")
        self.count += 1
        self.first_seen = min(self.first_seen, record.received_at)
        if record.sequence_number >= self.latest_record.sequence_number:
            self.latest_record = record
        release = record.event.release
        if release:
            self.first_release = self.first_release or release
            self.last_release = release
            self.releases.append(release)
        if record.identity:
            self.users.add(record.identity)

    def pending(self, sequence_number: int, payload_key: str | None) -> PendingIssue:
        """This sum, to carry to the window's next invocation; `payload_key`: this batch's representative."""
        releases = list(dict.fromkeys(reversed(self.releases)))[:MAX_PENDING_RELEASES][::-1]  # last sightings
        return PendingIssue(
            sequence_number=sequence_number,
            first_seen=self.first_seen,
            latest=self.latest,
            count=self.count,
            first_release=self.first_release,
            last_release=self.last_release,
            users=set(self.users),
            releases=releases,
            payload_key=payload_key or self.payload_key,
        )

    def delta(self, payload_key: str | None) -> IssueDelta:
        """The issue's change; `payload_key` names the representative the batch kept, if it kept one."""
        latest = self.latest
        return IssueDelta(
            project_id=latest.project_id,
            issue_id=latest.issue_id,
            grouping_config=latest.grouping_config,
            type=latest.type,
            title=latest.title,
            culprit=latest.culprit,
            level=latest.level,
            count=self.count,
            first_seen=self.first_seen,
            last_seen=latest.received_at,
            first_release=self.first_release,
            last_release=self.last_release,
            last_event_id=latest.event_id,
            payload_key=payload_key or self.payload_key,
            environment=latest.environment,
            tags=latest.tags,
            route=latest.route,
            root_cause=latest.root_cause,
        )
