"""Aggregate: a batch's staged records summed per item they add to, so each item is written once per batch.

An item's sum is made from any subset of its records (`records_by_key` gives them all; a write that finds an
item already holding the batch's first records sums only the later ones, errata.store.shard_marks)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from errata.processing.staged import Staged, StagedEvent, StagedTraffic, WriteKey, issue_tags
from errata.store.issues import IssueDelta


def records_by_key(records: list[Staged]) -> dict[WriteKey, list[Staged]]:
    """Each item the records add to, with its records in stream order."""
    by_key: dict[WriteKey, list[Staged]] = {}
    for record in sorted(records, key=lambda r: r.sequence_number):
        for key in record.write_keys():
            by_key.setdefault(key, []).append(record)
    return by_key


@dataclass
class Tally:
    """What records add to one counter item."""

    moment: datetime
    last: datetime
    events: int = 0
    users: set[str] = field(default_factory=set)
    increments: Counter[str] = field(default_factory=Counter)
    tag_values: Counter[tuple[str, str]] = field(default_factory=Counter)


def tally_of(key: WriteKey, records: list[Staged]) -> Tally:
    kind = key[0]
    tally = Tally(moment=min(r.received_at for r in records), last=max(r.received_at for r in records))
    for record in records:
        if isinstance(record, StagedTraffic):
            tally.increments.update(record.counts)
            continue
        tally.events += 1
        if kind == "traffic":
            tally.increments.update(record.increments())
        identity = record.identity
        if identity and ((kind == "window" and key[1].startswith("issue#")) or kind in ("release", "users", "sketch")):
            tally.users.add(identity)
        if kind == "tags":
            tally.tag_values.update(record.tag_values.items())
    return tally


@dataclass
class IssueAggregate:
    """What a batch's events add to one issue."""

    first: StagedEvent
    last: StagedEvent
    count: int = 0
    first_release: str | None = None
    last_release: str | None = None
    users: set[str] = field(default_factory=set)
    releases: list[str] = field(default_factory=list)  # in stream order, for regressions

    @classmethod
    def of(cls, records: list[StagedEvent]) -> IssueAggregate:
        aggregate = cls(first=records[0], last=records[0])
        for record in records:
            aggregate.add(record)
        return aggregate

    def add(self, staged: StagedEvent) -> None:
        self.count += 1
        if staged.received_at < self.first.received_at:
            self.first = staged
        if staged.sequence_number >= self.last.sequence_number:
            self.last = staged
        release = staged.event.release
        if release:
            self.first_release = self.first_release or release
            self.last_release = release
            self.releases.append(release)
        if staged.identity:
            self.users.add(staged.identity)

    def delta(self, payload_key: str | None) -> IssueDelta:
        """The issue's change; `payload_key` names the representative the batch kept, if it kept one."""
        latest = self.last
        return IssueDelta(
            project_id=latest.project_id,
            issue_id=latest.issue_id,
            grouping_config=latest.grouping.config,
            type=latest.grouping.type,
            title=latest.grouping.title,
            culprit=latest.grouping.culprit,
            level=latest.event.level,
            count=self.count,
            first_seen=self.first.received_at,
            last_seen=latest.received_at,
            first_release=self.first_release,
            last_release=self.last_release,
            last_event_id=latest.event_id,
            payload_key=payload_key,
            environment=latest.event.environment,  # within its limits already (errata.normalization)
            tags=issue_tags(latest.payload),
            route=latest.event.transaction or None,
            root_cause=latest.grouping.root_cause,
        )
