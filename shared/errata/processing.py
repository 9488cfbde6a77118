"""The processor's domain: a Kinesis batch (from one shard) becomes one write per issue, window, user and
release it touches, not one per event.

Each record is staged: decoded, normalized, fingerprinted, scrubbed. Then `commit` writes, per segment of
at most 99 items, the payloads the sampling plan keeps to one S3 object and one DynamoDB transaction holding
every issue's update, its minute and hour counters, its samples' references, the user index, the releases
and the shard's new position. Because the position moves in the same transaction as the counts, a
redelivered record (sequence number at or below the position) is skipped: counts stay exact under Kinesis'
at-least-once delivery, at the cost of one extra item per batch instead of one write per event.
"""

from __future__ import annotations

import hashlib
import logging
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from errata.alerts.announcements import issue_url, publish_announcements
from errata.errors import UnprocessableRecord
from errata.event_preparation import prepare_event
from errata.grouping.fingerprint import Grouping
from errata.impact import impact_after
from errata.issue_status import needs_release_order, status_after
from errata.models.alerts import ISSUE_CREATED, ISSUE_REGRESSED, AlertDetail, BlastRadius, Counts
from errata.models.event import SentryEvent
from errata.models.ingested import IngestedEvent
from errata.sampling import plan_samples
from errata.sketch import merge_users
from errata.store.alert_bus import AlertBus
from errata.store.artifacts import ArtifactUnavailable
from errata.store.counters import CounterStore, UserSketch, Window, issue_key, project_key, tag_day_key, window_key
from errata.store.dead_letters import DeadLetterQueue
from errata.store.event_payloads import EventPayloadStore, batch_key
from errata.store.issues import Announcement, IssueAliases, IssueDelta, IssueState, IssueStore, StatusChange
from errata.store.projects import ProjectSettings
from errata.store.releases import ReleaseStore, ReleaseUsers
from errata.store.stream_positions import RecentEventIds, StreamPositionStore
from errata.store.user_issues import UserIssueStore, identity_keys
from errata.symbolication.symbolicator import Symbolicator
from errata.tag_values import tag_values
from errata.timefmt import iso_utc, utc_now
from errata.traffic import CRASHED, ERRORED, ERRORS, MAX_TRAFFIC_COUNT, REQUESTS, SESSIONS

TRAFFIC_COUNTS = (SESSIONS, ERRORED, CRASHED, REQUESTS)

logger = logging.getLogger(__name__)
WriteKey = tuple[str, ...]
_WINDOWS: tuple[Window, ...] = ("minute", "hour")

# DynamoDB allows 100 items per transaction; two are the shard's position and its recent event ids.
MAX_ITEMS_PER_TRANSACTION = 98
_CONFLICT_ATTEMPTS = 8
# Cancellation reasons that another writer or the table's capacity caused: wait, re-read, try again.
# (docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html, CancellationReasons)
_TRANSIENT_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})
_TRANSIENT_ERRORS = frozenset({"TransactionInProgressException", "IdempotentParameterMismatchException"})
_BACKOFF_BASE_SECONDS = 0.05
_BACKOFF_CAP_SECONDS = 1.0


def transaction_token(items: list[dict[str, Any]], attempt: int) -> str:
    """The ClientRequestToken of one transaction attempt: a digest of its content. DynamoDB answers a token
    reused with other content within ten minutes with IdempotentParameterMismatch, and a Lambda retry of the
    batch rebuilds the content (fresh reads, new timestamps): a token made of the shard and position alone
    would be refused for ten minutes. botocore's own retries of one call resend the same content and token,
    which is what makes them idempotent."""
    return hashlib.sha256(f"{attempt}:{items!r}".encode()).hexdigest()[:36]


class KinesisRecord(Protocol):
    """The part of Powertools' KinesisStreamRecord that the batch reads."""

    @property
    def event_id(self) -> str: ...

    @property
    def event_source_arn(self) -> str: ...

    @property
    def kinesis(self) -> Any: ...


class FailureReporter(Protocol):
    """The part of Powertools' BatchProcessor that reports a record as failed."""

    fail_messages: list[Any]

    def failure_handler(self, record: Any, exception: Any) -> Any: ...


class ConcurrentShardWriter(Exception):
    """The shard's position moved under us: another invocation wrote this range; retry to dedupe."""


@dataclass
class _Staged:
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
        """Every item this event adds to: the segmenter keeps a transaction under 100 of them."""
        # The samples item is written only when the plan fills a slot; counting it always keeps segments safe.
        keys: set[WriteKey] = {("issue", *self.issue), ("samples", issue_key(*self.issue))}
        for window in _WINDOWS:
            moment = window_key(self.received_at, window)
            keys.add(("window", issue_key(*self.issue), window, moment))
            keys.add(("window", project_key(self.project_id), window, moment))
        keys.add(("tags", issue_key(*self.issue), tag_day_key(self.received_at)))
        keys.update(("user", key, self.issue_id) for key in identity_keys(self.project_id, self.event.user))
        keys.add(("active", self.project_id, window_key(self.received_at, "minute")))
        if self.identity:
            keys.add(("users", self.project_id, window_key(self.received_at, "hour")))
        if self.event.release:
            keys.add(("release", self.project_id, self.event.release))
        keys.update(self.traffic_keys())
        return keys

    def traffic_keys(self) -> set[WriteKey]:
        """Errors per release and per route, beside the requests and sessions counted from traffic records."""
        hour = window_key(self.received_at, "hour")
        keys: set[WriteKey] = set()
        if self.event.release:
            keys.add(("traffic", self.project_id, hour, "release", self.event.release))
        if self.event.transaction:
            keys.add(("traffic", self.project_id, hour, "route", self.event.transaction))
        return keys

    def increments(self, key: WriteKey) -> dict[str, int]:
        return {ERRORS: 1}


@dataclass
class _StagedTraffic:
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

    def increments(self, key: WriteKey) -> dict[str, int]:
        return self.counts


@dataclass
class _Tally:
    """Events added to one counter item within a segment."""

    moment: datetime
    last: datetime
    events: int = 0
    users: set[str] = field(default_factory=set)
    increments: Counter[str] = field(default_factory=Counter)
    tag_values: Counter[tuple[str, str]] = field(default_factory=Counter)


@dataclass
class _IssueAggregate:
    first: _Staged
    last: _Staged
    count: int = 0
    first_release: str | None = None
    last_release: str | None = None
    users: set[str] = field(default_factory=set)
    releases: list[str] = field(default_factory=list)  # in stream order, for regressions

    def add(self, staged: _Staged) -> None:
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
        identity = staged.event.user.identity() if staged.event.user else None
        if identity:
            self.users.add(identity)

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
            tags=_issue_tags(latest.payload),
            route=latest.event.transaction or None,
            root_cause=latest.grouping.root_cause,
        )


@dataclass
class BatchSummary:
    events: int = 0
    issues_written: int = 0
    items_written: int = 0
    payloads_dropped: int = 0
    regressions: int = 0
    announced: int = 0
    announcements_pending: int = 0
    duplicates: int = 0  # records redelivered by Kinesis (at or below the shard's position)
    resent: int = 0  # events whose id the shard had already counted (an SDK sending an event again)
    dead_lettered: int = 0
    transactions: int = 0
    conflicts: int = 0  # transactions cancelled by a concurrent writer or throttling, then retried
    failed: int = 0


class IssueBatch:
    """One invocation's batch. `stage` is the Powertools record handler; `commit` runs once at the end."""

    def __init__(
        self,
        *,
        dynamodb: Any,
        issues: IssueStore,
        positions: StreamPositionStore,
        payloads: EventPayloadStore,
        dead_letters: DeadLetterQueue,
        counters: CounterStore,
        user_issues: UserIssueStore,
        releases: ReleaseStore,
        project_settings: Callable[[str], ProjectSettings],
        alert_bus: AlertBus,
        aliases: IssueAliases | None = None,
        symbolicator: Symbolicator | None = None,
        rng: random.Random | None = None,
        dashboard_url: str = "",
        sleep: Callable[[float], None] = time.sleep,
        dead_letter_after: timedelta | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._sleep = sleep
        self._clock = clock
        # A record still failing this long after ingest is dead-lettered with its data instead of retried;
        # the event source mapping's own limit (its maximum record age) is longer, so it never gets there.
        self._dead_letter_after = dead_letter_after
        self._alert_bus = alert_bus
        self._dashboard_url = dashboard_url
        self._project_settings = project_settings
        self._rng = rng or random.Random()
        self._dynamodb = dynamodb
        self._issues = issues
        self._counters = counters
        self._user_issues = user_issues
        self._releases = releases
        self._positions = positions
        self._payloads = payloads
        self._dead_letters = dead_letters
        self._aliases = aliases or IssueAliases(issues)
        self._symbolicator = symbolicator
        self._shard: str | None = None
        self._position: int | None = None
        self._staged: list[_Staged | _StagedTraffic] = []
        self._dead_lettered: list[int] = []
        self._resent: list[int] = []
        self._recent = RecentEventIds()
        self._batch_ids: set[str] = set()
        self.summary = BatchSummary()

    def stage(self, record: KinesisRecord) -> str:
        sequence_number = int(record.kinesis.sequence_number)
        shard = f"{record.event_source_arn}/{record.event_id.split(':', 1)[0]}"
        if self._shard is None:
            self._shard = shard
            state = self._positions.state(shard)
            self._position, self._recent = state.position, state.recent
        elif shard != self._shard:
            raise ValueError(f"a batch holds one shard's records, got {shard} after {self._shard}")
        if self._position is not None and sequence_number <= self._position:
            self.summary.duplicates += 1
            return "duplicate"
        data: bytes = record.kinesis.data_as_bytes()
        try:
            ingested = IngestedEvent.decode(data)
        except UnprocessableRecord as exc:
            self._dead_letter(shard, sequence_number, data, str(exc))
            return "dead-lettered"
        if ingested.event_id in self._batch_ids or self._recent.seen(ingested.event_id):
            self._resent.append(sequence_number)
            self.summary.resent += 1
            return "resent"
        self._batch_ids.add(ingested.event_id)
        if ingested.kind == "traffic":
            payload = ingested.payload
            self._staged.append(
                _StagedTraffic(
                    sequence_number=sequence_number,
                    record=record,
                    project_id=ingested.project_id,
                    event_id=ingested.event_id,
                    received_at=ingested.received_at,
                    counts={k: v for k, v in payload.items() if k in TRAFFIC_COUNTS and _is_count(v)},
                    release=payload.get("release"),
                    route=payload.get("route"),
                )
            )
            return "traffic"
        try:
            prepared = prepare_event(
                ingested.project_id,
                ingested.payload,
                self._project_settings(ingested.project_id),
                self._symbolicator,
            )
        except TRANSIENT_ERRORS as exc:
            # S3 or DynamoDB did not answer: Kinesis redelivers the record, until it is old enough that
            # waiting longer would let the mapping give up on it with only its sequence number.
            if not self._overdue(ingested.received_at):
                raise
            self._dead_letter(shard, sequence_number, data, f"still failing after retries: {_describe(exc)}")
            return "dead-lettered"
        except Exception as exc:
            # The event itself breaks a step (a bug, a hostile value): retrying would fail the same way and
            # hold up the shard. It goes to the dead-letter queue with its data; `errata redrive` replays it
            # once the cause is fixed.
            logger.exception("event dead-lettered", extra={"event_id": ingested.event_id})
            self._dead_letter(shard, sequence_number, data, _describe(exc))
            return "dead-lettered"
        self._staged.append(
            _Staged(
                sequence_number=sequence_number,
                record=record,
                project_id=ingested.project_id,
                event_id=ingested.event_id,
                grouping=prepared.grouping,
                event=prepared.event,
                payload=prepared.payload,
                received_at=ingested.received_at,
                tag_values=tag_values(prepared.event, prepared.payload),
            )
        )
        return prepared.grouping.issue_id

    def _dead_letter(self, shard: str, sequence_number: int, data: bytes, reason: str) -> None:
        self._dead_letters.send(source=shard, sequence_number=str(sequence_number), data=data, reason=reason)
        self._dead_lettered.append(sequence_number)
        self.summary.dead_lettered += 1

    def _overdue(self, received_at: datetime) -> bool:
        return self._dead_letter_after is not None and self._clock() - received_at > self._dead_letter_after

    def commit(self, reporter: FailureReporter) -> BatchSummary:
        """Writes what was staged before the first failed record; reports every record not written."""
        failed = [int(r.kinesis.sequence_number) for r in reporter.fail_messages]
        cutoff = min(failed) if failed else None
        staged = sorted(self._staged, key=lambda s: s.sequence_number)
        committable = [s for s in staged if cutoff is None or s.sequence_number < cutoff]
        if committable:
            try:
                self._aliases.resolve([s for s in committable if isinstance(s, _Staged)])
            except Exception:
                for staged_record in staged:
                    reporter.failure_handler(staged_record.record, sys.exc_info())
                self.summary.failed = len(reporter.fail_messages)
                return self.summary
        # Dead-lettered and resent records are covered by the position of the segment they fall in.
        skipped = [n for n in self._dead_lettered + self._resent if cutoff is None or n < cutoff]
        unwritten = [s for s in staged if cutoff is not None and s.sequence_number >= cutoff]
        segments = _segments(committable, skipped)
        recent = RecentEventIds(list(self._recent.entries))
        for staged_record in committable:
            recent.add(staged_record.event_id, staged_record.received_at)
        for index, (segment, last_sequence) in enumerate(segments):
            try:
                # The recent ids go with the last transaction: only ids whose counts are written.
                self._commit_segment(segment, last_sequence, recent if index == len(segments) - 1 else None)
            except Exception:
                exc_info = sys.exc_info()
                for later_segment, _ in segments[index:]:
                    unwritten.extend(later_segment)
                self._report_unwritten(reporter, sorted(unwritten, key=lambda s: s.sequence_number), exc_info, cutoff)
                self.summary.failed = len(reporter.fail_messages)
                return self.summary
        for staged_record in unwritten:
            reporter.failure_handler(staged_record.record, (ValueError, ValueError("after a failed record"), None))
        self.summary.failed = len(reporter.fail_messages)
        return self.summary

    def _report_unwritten(
        self,
        reporter: FailureReporter,
        unwritten: list[_Staged | _StagedTraffic],
        exc_info: Any,
        cutoff: int | None,
    ) -> None:
        """Reports the records whose counts were not written, for Kinesis to redeliver; the oldest ones, when
        overdue, go to the dead-letter queue with their data instead. Only up to the first one reported:
        the mapping redelivers everything after it, and a record both redelivered and dead-lettered would
        count twice once redriven."""
        reporting = False  # also true from the first record whose staging already failed (`cutoff`)
        for staged in unwritten:
            reporting = reporting or (cutoff is not None and staged.sequence_number >= cutoff)
            if not reporting and self._overdue(staged.received_at):
                assert self._shard is not None
                data = staged.record.kinesis.data_as_bytes()
                self._dead_letter(self._shard, staged.sequence_number, data, f"still failing: {_describe(exc_info[1])}")
                continue
            reporting = True
            reporter.failure_handler(staged.record, exc_info)

    def _commit_segment(
        self, segment: list[_Staged | _StagedTraffic], last_sequence: int, recent: RecentEventIds | None
    ) -> None:
        assert self._shard is not None
        aggregates: dict[tuple[str, str], _IssueAggregate] = {}
        tallies: dict[WriteKey, _Tally] = {}
        project_users: dict[tuple[str, str], tuple[datetime, set[str]]] = {}
        for staged in segment:
            if isinstance(staged, _StagedTraffic):
                for key in staged.write_keys():
                    tally = tallies.setdefault(key, _Tally(moment=staged.received_at, last=staged.received_at))
                    tally.increments.update(staged.counts)
                continue
            if staged.issue not in aggregates:
                aggregates[staged.issue] = _IssueAggregate(first=staged, last=staged)
            aggregates[staged.issue].add(staged)
            identity = staged.identity
            for key in staged.write_keys():
                if key[0] in ("issue", "samples"):
                    continue
                if key[0] == "users":
                    assert identity is not None
                    project_users.setdefault((key[1], key[2]), (staged.received_at, set()))[1].add(identity)
                    continue
                tally = tallies.setdefault(key, _Tally(moment=staged.received_at, last=staged.received_at))
                tally.events += 1
                tally.moment = min(tally.moment, staged.received_at)
                tally.last = max(tally.last, staged.received_at)
                if key[0] == "traffic":
                    tally.increments.update(staged.increments(key))
                if identity and ((key[0] == "window" and key[1].startswith("issue#")) or key[0] == "release"):
                    tally.users.add(identity)
                if key[0] == "tags":
                    tally.tag_values.update(staged.tag_values.items())
        counter_keys = list(tallies)
        counter_items = [self._counter_item(key, tally) for key, tally in tallies.items()]
        states = self._issues.current_states(list(aggregates))
        representatives, samples = self._store_samples(
            [staged for staged in segment if isinstance(staged, _Staged)], states, last_sequence
        )
        sample_items = [
            self._counters.samples_item(issue_key(*issue), references, self._clock())
            for issue, references in samples.items()
        ]
        sketch_keys = [(project, moment) for (project, _), (moment, _) in project_users.items()]
        # Releases whose events carry users: their sketch is read and replaced in each attempt, like an issue's.
        release_keys = [key for key in counter_keys if key[0] == "release" and tallies[key].users]
        for attempt in range(_CONFLICT_ATTEMPTS):
            if attempt:
                states = self._issues.current_states(list(aggregates))
            sketches = self._counters.user_sketches(sketch_keys) if sketch_keys else {}
            if release_keys:
                release_users = self._releases.user_sketches([(key[1], key[2]) for key in release_keys])
                for key in release_keys:
                    counter_items[counter_keys.index(key)] = self._release_item(key, tallies[key], release_users)
            items = [self._positions.advance_item(self._shard, self._position, last_sequence), *counter_items]
            if recent is not None:
                items.append(self._positions.recent_item(self._shard, recent))
            items.extend(self._user_sketch_items(project_users, sketches))
            items.extend(sample_items)
            announcements: list[Announcement] = []
            for key, aggregate in aggregates.items():
                state = states.get(key)
                sketch, user_count = None, 0
                if aggregate.users:
                    sketch, user_count = merge_users(state.user_sketch if state else None, aggregate.users)
                change = self._status_change(state, aggregate)
                announcement = self._announcement(aggregate, state, change, user_count)
                if announcement is not None:
                    announcements.append(announcement)
                new_users = user_count - state.user_count if state and sketch else user_count
                impact = impact_after(
                    state.impact if state else None,
                    new_users,
                    aggregate.count,
                    aggregate.last.event.level,
                    aggregate.last.received_at,
                )
                delta = aggregate.delta(representatives.get(key))
                items.append(self._issues.update_item(delta, state, sketch, user_count, change, announcement, impact))
            try:
                self._dynamodb.transact_write_items(
                    TransactItems=items, ClientRequestToken=transaction_token(items, attempt)
                )
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code in _TRANSIENT_ERRORS:
                    self._back_off(attempt)
                    continue
                if code != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    raise ConcurrentShardWriter(f"position of {self._shard} moved") from exc
                if _TRANSIENT_REASONS.intersection(reasons):
                    self.summary.conflicts += 1
                    self._back_off(attempt)
                    continue  # a concurrent transaction on a shared item (another shard), or throttling
                full = [
                    counter_keys[index - 1]
                    for index, reason in enumerate(reasons)
                    if reason == "ConditionalCheckFailed"
                    and 0 < index <= len(counter_keys)
                    and counter_keys[index - 1][0] in ("window", "tags")
                ]
                for key in full:  # an item that lists as many users or tag values as it may: count events only
                    self._counters.mark_full(key[1], key[-1])
                    counter_items[counter_keys.index(key)] = self._counter_item(key, tallies[key])
                if "ConditionalCheckFailed" in reasons:
                    continue  # another shard updated one of these issues or sketches: re-read, try again
                raise
            self._position = last_sequence
            self.summary.regressions += sum(a.detail_type == ISSUE_REGRESSED for a in announcements)
            self._announce(announcements)
            self.summary.events += len(segment)
            self.summary.issues_written += len(aggregates)
            self.summary.items_written += len(items)
            self.summary.transactions += 1
            return
        raise RuntimeError(f"the transaction was cancelled {_CONFLICT_ATTEMPTS} times (conflicts or changed issues)")

    def _back_off(self, attempt: int) -> None:
        """Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): shards that collided on an
        item spread out instead of colliding again."""
        self._sleep(self._rng.uniform(0, min(_BACKOFF_CAP_SECONDS, _BACKOFF_BASE_SECONDS * 2**attempt)))

    def _status_change(self, state: IssueState | None, aggregate: _IssueAggregate) -> StatusChange | None:
        order: dict[str, str] = {}
        baseline = state.resolved_release if needs_release_order(state) and state else None
        if baseline is not None and aggregate.releases:
            order = self._releases.order(aggregate.last.project_id, [*aggregate.releases, baseline])
        return status_after(state, aggregate.releases, aggregate.count, aggregate.last.received_at, order)

    def _announcement(
        self, aggregate: _IssueAggregate, state: IssueState | None, change: StatusChange | None, users: int
    ) -> Announcement | None:
        """`Issue Created` for a new issue, `Issue Regressed` for a regression: the outbox entry written with
        the counts, published after the commit."""
        if state is None:
            detail_type, reason = ISSUE_CREATED, "first event of a new issue"
        elif change is not None and change.status == "regressed":
            detail_type = ISSUE_REGRESSED
            reason = f"seen in {change.regressed_in_release} after it was resolved in {state.resolved_release}"
        else:
            return None
        latest, delta = aggregate.last, aggregate.delta(None)
        users = users or (state.user_count if state else 0)
        detail = AlertDetail(
            project_id=delta.project_id,
            issue_id=delta.issue_id,
            title=delta.title,
            culprit=delta.culprit,
            level=delta.level,
            release=latest.event.release,
            environment=delta.environment,
            tags=delta.tags,
            counts=Counts(
                last_minute=aggregate.count,
                last_hour=aggregate.count,
                total=aggregate.count + (state.event_count if state else 0),
            ),
            users=users,
            blast_radius=BlastRadius(clients=users, route=delta.route),
            first_seen=iso_utc(aggregate.first.received_at) if state is None else None,
            last_seen=iso_utc(delta.last_seen),
            url=issue_url(self._dashboard_url, delta.project_id, delta.issue_id),
            reason=reason,
            resolved_release=state.resolved_release if state else None,
            subject=delta.issue_id,
        )
        return Announcement(delta.project_id, delta.issue_id, detail_type, detail.model_dump_json(), iso_utc(utc_now()))

    def _announce(self, announcements: list[Announcement]) -> None:
        """After the counts are committed: a failure here must not fail the records (a retry would skip them
        as already counted). What is not published stays in the outbox for the minute evaluator."""
        if not announcements:
            return
        try:
            failed = set(publish_announcements(self._alert_bus, self._issues, announcements))
        except Exception:
            logger.exception("announcements stay in the outbox", extra={"count": len(announcements)})
            failed = set(range(len(announcements)))
        self.summary.announced += len(announcements) - len(failed)
        self.summary.announcements_pending += len(failed)

    def _user_sketch_items(
        self,
        project_users: dict[tuple[str, str], tuple[datetime, set[str]]],
        sketches: dict[tuple[str, str], UserSketch],
    ) -> list[dict[str, Any]]:
        items = []
        for (project_id, hour), (moment, identities) in project_users.items():
            prior = sketches.get((project_id, hour))
            sketch, users = merge_users(prior.sketch if prior else None, identities)
            items.append(self._counters.user_sketch_item(project_id, moment, sketch, users, prior))
        return items

    def _store_samples(
        self, segment: list[_Staged], states: dict[tuple[str, str], IssueState], last_sequence: int
    ) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], dict[int, str]]]:
        """Writes the payloads the sampling plan keeps (sampling.py), at most k sample slots and the
        representative per issue whatever the number of events, into one object; returns the references of
        each issue's representative and of its filled slots."""
        by_issue: dict[tuple[str, str], list[_Staged]] = {}
        for staged in segment:
            by_issue.setdefault(staged.issue, []).append(staged)
        prior = self._counters.events_many(
            [(issue_key(*staged.issue), staged.received_at, "minute") for staged in segment]
        )
        # Named by (issue, slot), the representative by (issue, None).
        writes: dict[tuple[tuple[str, str], int | None], dict[str, Any]] = {}
        for (project_id, issue_id), events in by_issue.items():
            pk = issue_key(project_id, issue_id)
            plan = plan_samples(
                events,
                received_at=lambda staged: staged.received_at,
                prior_in_minute={sk: count for (key, sk), count in prior.items() if key == pk},
                new_issue=(project_id, issue_id) not in states,
                sample_size=self._project_settings(project_id).sample_size,
                rng=self._rng,
            )
            for slot, staged in plan.slots.items():
                writes[(project_id, issue_id), slot] = staged.payload
            if plan.representative is not None:
                writes[(project_id, issue_id), None] = plan.representative.payload
            self.summary.payloads_dropped += plan.dropped
        assert self._shard is not None
        references = self._payloads.put_batch(batch_key(self._shard, last_sequence, self._clock()), writes)
        representatives: dict[tuple[str, str], str] = {}
        samples: dict[tuple[str, str], dict[int, str]] = {}
        for (issue, filled), reference in references.items():
            if filled is None:
                representatives[issue] = reference
            else:
                samples.setdefault(issue, {})[filled] = reference
        return representatives, samples

    def _release_item(
        self, key: WriteKey, tally: _Tally, release_users: dict[tuple[str, str], ReleaseUsers]
    ) -> dict[str, Any]:
        prior = release_users[(key[1], key[2])]
        sketch, count = merge_users(prior.sketch, tally.users)
        return self._releases.seen_item(key[1], key[2], tally.events, tally.moment, tally.last, (sketch, count, prior))

    def _counter_item(self, key: WriteKey, tally: _Tally) -> dict[str, Any]:
        kind = key[0]
        if kind == "window":
            window: Window = "minute" if key[2] == "minute" else "hour"
            return self._counters.add_item(key[1], tally.moment, window, tally.events, tally.users or None)
        if kind == "tags":
            return self._counters.add_tags_item(key[1], tally.moment, tally.events, dict(tally.tag_values))
        if kind == "user":
            return self._user_issues.add_item(key[1], key[2], tally.events, tally.last)
        if kind == "traffic":
            return self._counters.add_traffic_item(key[1], tally.moment, key[3], key[4], dict(tally.increments))
        if kind == "active":
            return self._counters.active_item(key[1], tally.moment, tally.events)
        return self._releases.seen_item(key[1], key[2], tally.events, tally.moment, tally.last)


def _segments(
    staged: list[_Staged | _StagedTraffic], skipped: list[int]
) -> list[tuple[list[_Staged | _StagedTraffic], int]]:
    """Consecutive runs of records whose writes fit one transaction (at most MAX_ITEMS_PER_TRANSACTION
    items), each with the sequence number its transaction moves the position to (skipped records, that is
    dead-lettered or resent ones, are covered too)."""
    segments: list[tuple[list[_Staged | _StagedTraffic], int]] = []
    current: list[_Staged | _StagedTraffic] = []
    keys: set[WriteKey] = set()
    for item in staged:
        new_keys = item.write_keys() - keys
        if current and len(keys) + len(new_keys) > MAX_ITEMS_PER_TRANSACTION:
            segments.append((current, current[-1].sequence_number))
            current, keys, new_keys = [], set(), item.write_keys()
        current.append(item)
        keys |= new_keys
    last = current[-1].sequence_number if current else None
    tail = max(skipped, default=None)
    if current or tail is not None:
        end = max(n for n in (last, tail) if n is not None)
        segments.append((current, end))
    return segments


# What a retry can cure: AWS not answering (or answering "later"), the network. Anything else an event
# raises, it will raise again.
TRANSIENT_ERRORS = (ArtifactUnavailable, ClientError, BotoCoreError, OSError)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_TRAFFIC_COUNT


_MAX_ISSUE_TAGS = 10


def _issue_tags(payload: dict[str, Any]) -> dict[str, str]:
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
