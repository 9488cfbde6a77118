"""The processor's batch: a Kinesis batch (from one shard) becomes one write per item it adds to (an issue,
its windows, tag day, users and releases), not one per event: stage each record, aggregate per item
(errata.processing.aggregation), write each item once (errata.store.shard_marks), then move the shard's
position. A redelivered record, at or below the position, is skipped; a retried batch finds the items its
first attempt wrote marked and adds only what they lack, so counts stay exact under Kinesis' at-least-once
delivery without a transaction (docs/decisions/0009-write-path-cost.md).
"""

from __future__ import annotations

import logging
import random
import sys
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, cast

from botocore.exceptions import BotoCoreError, ClientError

from errata.alerts.announcements import issue_url, publish_announcements
from errata.errors import UnprocessableRecord
from errata.event_preparation import prepare_event
from errata.impact import impact_after
from errata.issue_status import RESOLVED, needs_release_order, status_after
from errata.models.alerts import ISSUE_CREATED, ISSUE_REGRESSED, AlertDetail, BlastRadius, Counts
from errata.models.ingested import IngestedEvent
from errata.processing.aggregation import IssueAggregate, Record, Tally, moments_of, records_by_key, tally_of
from errata.processing.staged import TRAFFIC_COUNTS, Staged, StagedEvent, StagedTraffic, WriteKey, is_count
from errata.processing.window import (
    MAX_CARRIED_PAYLOAD_BYTES,
    MAX_STATE_BYTES,
    PayloadName,
    WindowState,
    carried_bytes,
    encoded_size,
)
from errata.sampling import plan_samples
from errata.sketch import RELEASE_LG_K, merge_users
from errata.store.alert_bus import AlertBus
from errata.store.artifacts import ArtifactUnavailable
from errata.store.counters import CounterStore, UserSketch, issue_key
from errata.store.dead_letters import DeadLetterQueue
from errata.store.event_payloads import EventPayloadStore, batch_key, payload_members
from errata.store.issues import Announcement, IssueAliases, IssueState, IssueStore, StatusChange
from errata.store.projects import ProjectSettings
from errata.store.releases import ReleaseStore, ReleaseUsers
from errata.store.shard_marks import ShardMark, mark_of, mark_sequence, marked, unmarked_stale
from errata.store.stream_positions import RecentEventIds, StreamPositionStore
from errata.store.user_issues import UserAliasCache, UserIssueStore
from errata.symbolication.symbolicator import Symbolicator
from errata.tag_values import tag_values
from errata.timefmt import day_key, iso_utc, utc_now

logger = logging.getLogger(__name__)

_WRITE_ATTEMPTS = 8
# What DynamoDB answers when a hot item or the table is over its capacity (botocore retries these first).
_THROTTLED = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded", "InternalServerError"}
)
_BACKOFF_BASE_SECONDS = 0.05
_BACKOFF_CAP_SECONDS = 1.0
# Parallel item writes per container: botocore keeps 10 connections a client.
WRITE_THREADS = 10
# Items a window does not carry: each invocation writes its records into them. A user's issue rarely repeats
# within a window (ten thousand users over a thousand issues), so carrying it would cost state, not writes.
DIRECT_KINDS = frozenset({"user"})


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


class WindowNotWritten(Exception):
    """A tumbling window's final invocation did not write everything: Lambda retries it whole."""


class ConcurrentShardWriter(Exception):
    """The shard's position moved under us: another invocation wrote this range; retry to dedupe."""


@dataclass
class BatchSummary:
    events: int = 0
    issues_written: int = 0
    items_written: int = 0
    items_already_written: int = 0  # by an earlier attempt of this batch (found marked)
    sketches_unchanged: int = 0  # user sketches that already held every user of the batch: not written
    payloads_dropped: int = 0
    regressions: int = 0
    announced: int = 0
    announcements_pending: int = 0
    duplicates: int = 0  # records redelivered by Kinesis (at or below the shard's position)
    resent: int = 0  # events whose id the shard had already counted (an SDK sending an event again)
    dead_lettered: int = 0
    conflicts: int = 0  # item writes refused for a concurrent writer, then re-read and retried
    throttled: int = 0  # item writes throttled past botocore's retries, then retried
    failed: int = 0


@dataclass
class _Prefetched:
    """What the batch reads before its writes, in a few batched reads; a retried write reads its item anew."""

    states: dict[tuple[str, str], IssueState]
    representatives: dict[tuple[str, str], str]
    project_users: dict[tuple[str, str], UserSketch]
    release_users: dict[tuple[str, str], ReleaseUsers]
    issue_users: dict[tuple[str, str], UserSketch]
    # Each issue's users of the whole window (its sketch item's sum), for the issue's user count: an issue
    # written at once in the window has its first users in the sketch's sum but not in its own.
    window_users: dict[tuple[str, str], set[str]]


@dataclass
class _Written:
    """What one item's write did."""

    written: bool = False
    already: bool = False
    unchanged: bool = False  # nothing to write: a user sketch that already held every user
    conflicts: int = 0
    throttled: int = 0
    announcement: Announcement | None = None
    issue: bool = False
    user_count: int | None = None  # a user sketch's estimate as written
    issue_key: tuple[str, str] | None = None  # the issue whose sketch this is


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
        writers: Executor,
        user_aliases: UserAliasCache | None = None,
    ) -> None:
        self._user_aliases = user_aliases or UserAliasCache()
        # Item writes run in parallel, in the container's pool (errata.wiring).
        self._writers = writers
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
        self._staged: list[Staged] = []
        self._dead_lettered: list[int] = []
        self._resent: list[int] = []
        self._recent = RecentEventIds()
        self._batch_ids: set[str] = set()
        # A tumbling window's state (errata.processing.window); None: every batch writes what it adds.
        self._window: WindowState | None = None
        self._final = True
        self._state: dict[str, Any] = {}
        self.summary = BatchSummary()

    def open_window(self, shard: str, state: dict[str, Any] | None, final: bool) -> None:
        """This invocation is one of a tumbling window's: it sums its records into `state` and writes only
        what must not wait, unless it is the window's `final` invocation, which writes every item once."""
        self._shard = shard
        position = self._positions.state(shard)
        self._position = position.position
        window = WindowState.decode(state)
        if window.through is not None and self._position is not None and window.through <= self._position:
            window = WindowState()  # a final invocation redelivered after its writes and position landed
        self._recent = RecentEventIds.decode(window.recent) if window.recent is not None else position.recent
        self._window, self._final = window, final

    def window_state(self) -> dict[str, Any] | None:
        """The state to return to Lambda (TimeWindowEventResponse), None outside a window."""
        if self._window is None:
            return None
        return self._state or self._window.encode()

    def stage(self, record: KinesisRecord) -> str:
        sequence_number = int(record.kinesis.sequence_number)
        shard = f"{record.event_source_arn}/{record.event_id.split(':', 1)[0]}"
        if self._shard is None:
            self._shard = shard
            state = self._positions.state(shard)
            self._position, self._recent = state.position, state.recent
        elif shard != self._shard:
            raise ValueError(f"a batch holds one shard's records, got {shard} after {self._shard}")
        through = self._window.through if self._window is not None else None
        if (self._position is not None and sequence_number <= self._position) or (
            through is not None and sequence_number <= through
        ):
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
                StagedTraffic(
                    sequence_number=sequence_number,
                    record=record,
                    project_id=ingested.project_id,
                    event_id=ingested.event_id,
                    received_at=ingested.received_at,
                    counts={k: v for k, v in payload.items() if k in TRAFFIC_COUNTS and is_count(v)},
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
            StagedEvent(
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
        unwritten = [s for s in staged if cutoff is not None and s.sequence_number >= cutoff]
        # Dead-lettered and resent records are covered by the position the batch moves to.
        skipped = [n for n in self._dead_lettered + self._resent if cutoff is None or n < cutoff]
        last = max([s.sequence_number for s in committable] + skipped, default=None)
        final = self._window is not None and self._final
        if final and failed:
            # A window's final invocation writes all or nothing: Lambda retries it, with the same state, until
            # it succeeds; its marks make the retry add only what the items lack.
            raise WindowNotWritten(f"{len(failed)} records of a window's final invocation failed")
        if last is not None or (final and self._window is not None and not self._window.empty):
            try:
                self._aliases.resolve([s for s in committable if isinstance(s, StagedEvent)])
                self._write(committable, last)
            except Exception as exc:
                if final:
                    raise WindowNotWritten(f"the window's writes failed: {_describe(exc)}") from exc
                self._report_unwritten(reporter, committable + unwritten, sys.exc_info(), cutoff)
                self.summary.failed = len(reporter.fail_messages)
                return self.summary
        for staged_record in unwritten:
            reporter.failure_handler(staged_record.record, (ValueError, ValueError("after a failed record"), None))
        self.summary.failed = len(reporter.fail_messages)
        return self.summary

    def _report_unwritten(
        self, reporter: FailureReporter, unwritten: list[Staged], exc_info: Any, cutoff: int | None
    ) -> None:
        """Reports the records whose counts were not (all) written, for Kinesis to redeliver; the oldest
        ones, when overdue, go to the dead-letter queue with their data instead. Only up to the first one
        reported: the mapping redelivers everything after it, and a record both redelivered and
        dead-lettered would count twice once redriven."""
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

    def _write(self, records: list[Staged], last: int | None) -> None:
        """Writes the records' sums; in a window, sums them into its state and writes only what must not wait,
        until the final invocation (or a state too large to carry) writes it all."""
        window = self._window
        if window is None:
            assert last is not None
            self._write_items(records, last, WindowState())
            return
        if not self._final and last is not None:
            folded = self._fold(records, last, window)
            state = folded.encode()
            if encoded_size(state) <= MAX_STATE_BYTES:
                self._window, self._state = folded, state
                return
            window, records = folded, []  # too large to carry: written now
        through = max(last or 0, window.through or 0)
        self._write_items(records, through, window)
        self._window, self._state = WindowState(), {}

    def _fold(self, records: list[Staged], last: int, window: WindowState) -> WindowState:
        """The window's state with `records` added. A new issue, or one whose status an event may change, is
        written at once (its announcement too); the rest of its records' sums wait with the others."""
        assert self._shard is not None
        by_key = records_by_key(records)
        self._write_aliases(by_key)
        events = [r for r in records if isinstance(r, StagedEvent)]
        unknown = sorted(
            {(k[1], k[2]) for k in by_key if k[0] == "issue"} - window.issues.keys() - window.written.keys()
        )
        states = self._issues.current_states(unknown) if unknown else {}
        mark = ShardMark.of(self._shard, last, self._clock())
        written: dict[tuple[str, str], int] = {}
        at_once: list[tuple[str, str]] = []
        for issue in unknown:
            state = states.get(issue)
            found = mark_sequence(state.marks.get(mark.attribute)) if state else None
            if found is not None and (self._position is None or found > self._position):
                # An earlier attempt of this invocation wrote it at once: what it holds is done.
                written[issue] = found
                later = [r for r in by_key.pop(("issue", *issue)) if r.sequence_number > found]
                if later:
                    by_key["issue", *issue] = later
            elif state is None or state.status in RESOLVED or state.status == "ignored":
                at_once.append(issue)
        carried = self._window_payloads(events, window, {issue: states.get(issue) for issue in unknown})
        representatives: dict[tuple[str, str], str] = {}
        samples: dict[tuple[str, str], dict[int, str]] = {}
        if at_once or carried_bytes(carried) > MAX_CARRIED_PAYLOAD_BYTES:
            # A new issue's page opens on its representative at once: the window's payloads go with it.
            representatives, samples = self._put_payloads(carried, last)
            carried = {}
        direct = {key: by_key.pop(key) for key in [k for k in by_key if k[0] in DIRECT_KINDS]}
        written_users: dict[tuple[str, str], int] = {}
        if at_once or direct:
            prefetched = _Prefetched(
                states=states,
                representatives=representatives,
                project_users={},
                release_users={},
                issue_users=self._counters.issue_sketches(at_once) if at_once else {},
                window_users={},
            )
            writes = [
                self._writers.submit(
                    self._write_once, ("issue", *issue), by_key.pop(("issue", *issue)), mark, prefetched
                )
                for issue in at_once
            ]
            # Past the window's earlier invocations: they wrote these items up to their own last records.
            writes += [
                self._writers.submit(self._write_once, key, rs, mark, prefetched, window.through)
                for key, rs in direct.items()
            ]
            outcomes = [write.result() for write in writes]
            written.update(dict.fromkeys(at_once, last))
            written_users = {o.issue_key: o.user_count for o in outcomes if o.issue and o.issue_key and o.user_count}
            self._account(outcomes)
        folded = window.folded(
            by_key, last, representatives, samples, self._recent_after(records).encode(), payloads=carried
        )
        folded.written.update(written)
        folded.written_users.update(written_users)
        self.summary.events += len(records)
        return folded

    def _raise_user_counts(self, window: WindowState, outcomes: list[_Written]) -> None:
        """An issue written at once in the window and not since has its later users in its sketch only; and
        another shard may have written the issue from the sketch before this one's users were in it. The
        sketch as written counts them all."""
        sketched = {
            o.issue_key: o.user_count for o in outcomes if o.issue_key and not o.issue and o.user_count is not None
        }
        refreshes = [
            self._issues.raised_user_count_item(*issue, sketched[issue])
            for issue in window.written.keys() - window.issues.keys()
            if issue in sketched and sketched[issue] > window.written_users.get(issue, 0)
        ]
        for write in [self._writers.submit(self._write_plain, refresh) for refresh in refreshes]:
            write.result()

    def _account(self, outcomes: list[_Written]) -> None:
        announcements = [o.announcement for o in outcomes if o.announcement is not None]
        self.summary.regressions += sum(a.detail_type == ISSUE_REGRESSED for a in announcements)
        self._announce(announcements)
        self.summary.issues_written += sum(o.issue and o.written for o in outcomes)
        self.summary.items_written += sum(o.written for o in outcomes)
        self.summary.items_already_written += sum(o.already for o in outcomes)
        self.summary.sketches_unchanged += sum(o.unchanged for o in outcomes)
        self.summary.conflicts += sum(o.conflicts for o in outcomes)
        self.summary.throttled += sum(o.throttled for o in outcomes)

    def _write_aliases(self, by_key: dict[WriteKey, list[Record]]) -> None:
        """Pointing identities at their user is the same write however often it is made: no mark, no wait."""
        now = self._clock()
        day = f"{now:%Y-%m-%d}"
        aliases = {key: moments_of(by_key.pop(key)[-1])[1] for key in [k for k in by_key if k[0] == "alias"]}
        aliases = {k: moment for k, moment in aliases.items() if not self._user_aliases.written_today(k[1], k[2], day)}
        fresh = self._user_issues.fresh_aliases([(k[1], k[2]) for k in aliases], now)
        for alias, primary in fresh:
            self._user_aliases.remember(alias, primary, day)
        aliases = {k: moment for k, moment in aliases.items() if (k[1], k[2]) not in fresh}
        writes = [
            self._writers.submit(self._write_plain, self._user_issues.alias_item(key[1], key[2], moment))
            for key, moment in aliases.items()
        ]
        for write in writes:
            write.result()
        for key in aliases:
            self._user_aliases.remember(key[1], key[2], day)

    def _write_items(self, records: list[Staged], last: int, window: WindowState) -> None:
        """Aggregates the records (and the window's sums) per item, writes every item once (in parallel),
        then moves the position."""
        assert self._shard is not None
        mark = ShardMark.of(self._shard, last, self._clock())
        by_key = records_by_key([*window.records(), *records])
        events = [r for r in records if isinstance(r, StagedEvent)]
        states = self._issues.current_states(sorted({(key[1], key[2]) for key in by_key if key[0] == "issue"}))
        read = {(key[1], key[2]): states.get((key[1], key[2])) for key in by_key if key[0] == "issue"}
        representatives, samples = self._put_payloads(self._window_payloads(events, window, read), last)
        prefetched = _Prefetched(
            states=states,
            representatives=representatives,
            project_users=self._counters.user_sketches(
                [(key[1], moments_of(by_key[key][0])[0]) for key in by_key if key[0] == "users"]
            ),
            release_users=self._releases.user_sketches(
                [(key[1], key[2]) for key in by_key if key[0] == "release" and tally_of(key, by_key[key]).users]
            ),
            issue_users=self._counters.issue_sketches([(key[1], key[2]) for key in by_key if key[0] == "sketch"]),
            window_users={(k[1], k[2]): tally_of(k, rs).users for k, rs in by_key.items() if k[0] == "sketch"},
        )
        self._write_aliases(by_key)
        since: dict[WriteKey, int] = {("issue", *issue): at for issue, at in window.written.items()}
        writes = [
            self._writers.submit(
                self._write_once,
                key,
                keyed,
                mark,
                prefetched,
                window.through if key[0] in DIRECT_KINDS else since.get(key),
            )
            for key, keyed in by_key.items()
        ]
        for issue, slots in window.samples.items():  # the window's earlier invocations', the latest winning
            samples[issue] = {**slots, **samples.get(issue, {})}
        # Pointing slots at payloads is the same write however often it is made: no mark.
        writes += [
            self._writers.submit(self._write_plain, self._counters.samples_item(issue_key(*issue), refs, self._clock()))
            for issue, refs in samples.items()
        ]
        outcomes = [write.result() for write in writes]  # raises the first failure, once every write ended
        self._raise_user_counts(window, outcomes)
        if not self._positions.advance(self._shard, self._position, last, self._recent_after(records)):
            raise ConcurrentShardWriter(f"position of {self._shard} moved")
        self._position = last
        self.summary.events += len(records)
        self._account(outcomes)

    def _recent_after(self, records: list[Staged]) -> RecentEventIds:
        recent = RecentEventIds(list(self._recent.entries))
        for record in records:
            recent.add(record.event_id, record.received_at)
        return recent

    def _update(
        self, request: dict[str, Any], outcome: _Written, attempt: int
    ) -> tuple[Literal["written", "throttled", "refused"], dict[str, Any]]:
        """Sends one UpdateItem. A refusal by its condition comes with the item as it is (the request asks
        for it: ReturnValuesOnConditionCheckFailure); a throttled send is counted and waited out."""
        try:
            response = self._dynamodb.update_item(**request)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in _THROTTLED:
                outcome.throttled += 1
                self._back_off(attempt)
                return "throttled", {}
            if code != "ConditionalCheckFailedException":
                raise
            return "refused", cast(dict[str, Any], exc.response.get("Item", {}))
        outcome.written = True
        return "written", cast(dict[str, Any], response.get("Attributes", {}))

    def _drop_stale_marks(self, request: dict[str, Any], item: dict[str, Any]) -> None:
        """Removes the marks no retry can need any more from an item just written (errata.store.shard_marks),
        so items that are never read first (a user's issue, a release) stay bounded too. Best effort: a
        refusal (the mark's shard wrote again) or a throttle leaves them to the item's next write."""
        removal = unmarked_stale(request["Key"], request["TableName"], item, self._clock())
        if removal is None:
            return
        try:
            self._dynamodb.update_item(**removal)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in {"ConditionalCheckFailedException", *_THROTTLED}:
                raise

    def _write_plain(self, update: dict[str, Any]) -> _Written:
        """An update that may be made any number of times, sent until not throttled; one its condition refuses
        had nothing to do."""
        outcome = _Written()
        for attempt in range(_WRITE_ATTEMPTS):
            if self._update(update["Update"], outcome, attempt)[0] != "throttled":
                return outcome
        raise RuntimeError(f"an update of {update['Update']['TableName']} was throttled {_WRITE_ATTEMPTS} times")

    def _write_once(
        self, key: WriteKey, records: list[Record], mark: ShardMark, prefetched: _Prefetched, since: int | None = None
    ) -> _Written:
        """Writes what `records` add to the item `key`, unless an earlier attempt of this batch did: the
        write is conditional on the shard's mark (errata.store.shard_marks) and on the item's own condition
        (a revision read, a bounded list). A refusal returns the item, whose mark tells which one refused."""
        outcome = _Written(issue=key[0] == "issue")
        # Past the position: an item written earlier in this window holds the records up to that write's mark.
        since = max((bound for bound in (since, self._position) if bound is not None), default=None)
        fresh = False
        for attempt in range(_WRITE_ATTEMPTS):
            adding = [r for r in records if since is None or r.sequence_number > since]
            if not adding:
                outcome.already = True
                return outcome
            update, announcement, user_count = self._item_update(key, adding, prefetched, fresh, mark)
            if update is None:  # a user sketch these records leave as it was
                outcome.unchanged = True
                return outcome
            request = marked(update, mark, since)
            result, item = self._update(request, outcome, attempt)
            if result == "written":
                outcome.announcement, outcome.user_count = announcement, user_count
                if key[0] in ("issue", "sketch"):
                    outcome.issue_key = (key[1], key[2])
                self._drop_stale_marks(request, item)
                return outcome
            if result == "throttled":
                continue
            found = mark_of(item, mark)
            fresh = True
            if found is not None and found >= mark.last:
                outcome.already = True  # an earlier attempt of this batch wrote all of it
                return outcome
            if found is not None and (since is None or found > since):
                since = found  # an earlier attempt wrote the records up to `found`: add the rest
                continue
            # The mark let the write through: the item's own condition refused it.
            if key[0] == "window":
                self._counters.note_refusal(request, item)  # a list is full: write without it
            else:
                outcome.conflicts += 1  # another shard changed the issue or sketch read: read it again
                self._back_off(attempt)
        raise RuntimeError(f"the write of the {key[0]} item {key[1:]} was refused {_WRITE_ATTEMPTS} times")

    def _item_update(
        self, key: WriteKey, records: list[Record], prefetched: _Prefetched, fresh: bool, mark: ShardMark
    ) -> tuple[dict[str, Any] | None, Announcement | None, int | None]:
        """The update adding `records` to the item `key`, None if they change nothing in it (and, for an
        issue, its announcement; for an issue's sketch, its estimate); `fresh`: read what it replaces
        again. A user sketch's union is idempotent, so one these records leave as it was needs no write and
        no mark: a redelivery merges them again to the same sketch. Repeat users are most users once an
        issue has a history."""
        kind = key[0]
        if kind == "issue":
            return self._issue_update((key[1], key[2]), records, prefetched, fresh, mark)
        tally = tally_of(key, records)
        if kind == "users":
            project_hour = (key[1], key[2])
            prior = (
                self._counters.user_sketches([(key[1], tally.moment)]).get(project_hour)
                if fresh
                else prefetched.project_users.get(project_hour)
            )
            sketch, users = merge_users(prior.sketch if prior else None, tally.users)
            if prior is not None and sketch == prior.sketch:
                return None, None, None
            return self._counters.user_sketch_item(key[1], tally.moment, sketch, users, prior), None, None
        if kind == "sketch":
            issue = (key[1], key[2])
            prior, legacy = self._issue_users(issue, prefetched, fresh)
            sketch, estimate = merge_users(prior.sketch if prior else legacy, tally.users)
            if prior is not None and sketch == prior.sketch:
                return None, None, None
            return self._counters.issue_sketch_item(issue_key(*issue), sketch, prior), None, estimate
        if kind == "release" and tally.users:
            sketches = self._releases.user_sketches([(key[1], key[2])]) if fresh else prefetched.release_users
            return self._release_item(key, tally, sketches), None, None
        return self._counter_item(key, tally), None, None

    def _issue_update(
        self, issue: tuple[str, str], records: list[Record], prefetched: _Prefetched, fresh: bool, mark: ShardMark
    ) -> tuple[dict[str, Any], Announcement | None, int | None]:
        aggregate = IssueAggregate.of(records)
        state = self._issues.current_states([issue]).get(issue) if fresh else prefetched.states.get(issue)
        user_count: int | None = None
        has_sketch_item = False
        users = aggregate.users | prefetched.window_users.get(issue, set())
        if users:
            # The count of the sketch as this batch leaves it (merging is idempotent: the sketch item, written
            # beside, may already hold these users). Another shard writing the issue at once may make it lag
            # by its users until the issue's next write.
            prior, legacy = self._issue_users(issue, prefetched, fresh, state)
            _, user_count = merge_users(prior.sketch if prior else legacy, users)
            if state is not None:
                # Never lower it: the sketch read may lack another shard's users that the issue already counts.
                user_count = max(user_count, state.user_count)
            has_sketch_item = prior is not None
        change = self._status_change(state, aggregate)
        announcement = self._announcement(aggregate, state, change, user_count or 0)
        new_users = user_count - state.user_count if state and user_count is not None else user_count or 0
        impact = impact_after(
            state.impact if state else None,
            new_users,
            aggregate.count,
            aggregate.latest.level,
            aggregate.latest.received_at,
        )
        delta = aggregate.delta(prefetched.representatives.get(issue))
        update = self._issues.update_item(
            delta,
            state,
            user_count,
            change,
            announcement,
            impact,
            keep_mark=mark.attribute,
            drop_user_sketch=has_sketch_item,
            now=self._clock(),
        )
        return update, announcement, user_count

    def _issue_users(
        self, issue: tuple[str, str], prefetched: _Prefetched, fresh: bool, state: IssueState | None = None
    ) -> tuple[UserSketch | None, bytes | None]:
        """The issue's sketch item as read, and the sketch the issue item carried before there was one."""
        prior = self._counters.issue_sketches([issue]).get(issue) if fresh else prefetched.issue_users.get(issue)
        if prior is not None:
            return prior, None
        if state is None:
            state = self._issues.current_states([issue]).get(issue) if fresh else prefetched.states.get(issue)
        return None, state.user_sketch if state else None

    def _back_off(self, attempt: int) -> None:
        """Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): shards that collided on an
        item spread out instead of colliding again."""
        self._sleep(self._rng.uniform(0, min(_BACKOFF_CAP_SECONDS, _BACKOFF_BASE_SECONDS * 2**attempt)))

    def _status_change(self, state: IssueState | None, aggregate: IssueAggregate) -> StatusChange | None:
        order: dict[str, str] = {}
        baseline = state.resolved_release if needs_release_order(state) and state else None
        if baseline is not None and aggregate.releases:
            order = self._releases.order(aggregate.latest.project_id, [*aggregate.releases, baseline])
        return status_after(state, aggregate.releases, aggregate.count, aggregate.latest.received_at, order)

    def _announcement(
        self, aggregate: IssueAggregate, state: IssueState | None, change: StatusChange | None, users: int
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
        latest, delta = aggregate.latest, aggregate.delta(None)
        users = users or (state.user_count if state else 0)
        detail = AlertDetail(
            project_id=delta.project_id,
            issue_id=delta.issue_id,
            title=delta.title,
            culprit=delta.culprit,
            level=delta.level,
            release=latest.release,
            environment=delta.environment,
            tags=delta.tags,
            counts=Counts(
                last_minute=aggregate.count,
                last_hour=aggregate.count,
                total=aggregate.count + (state.event_count if state else 0),
            ),
            users=users,
            blast_radius=BlastRadius(clients=users, route=delta.route),
            first_seen=iso_utc(aggregate.first_seen) if state is None else None,
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
            failed = set(publish_announcements(self._alert_bus, self._issues, announcements, self._writers))
        except Exception:
            logger.exception("announcements stay in the outbox", extra={"count": len(announcements)})
            failed = set(range(len(announcements)))
        self.summary.announced += len(announcements) - len(failed)
        self.summary.announcements_pending += len(failed)

    def _window_payloads(
        self, segment: list[StagedEvent], window: WindowState, read: dict[tuple[str, str], IssueState | None]
    ) -> dict[PayloadName, bytes]:
        """The payloads the window carries with those this segment keeps (a later one replaces its name's);
        `read`: issue states the caller read already (None: no item)."""
        return {**window.payloads, **payload_members(self._kept_payloads(segment, window, read))}

    def _kept_payloads(
        self, segment: list[StagedEvent], window: WindowState, read: dict[tuple[str, str], IssueState | None]
    ) -> dict[PayloadName, dict[str, Any]]:
        """The payloads the sampling plan keeps (sampling.py): at most k sample slots and the representative
        per issue whatever the number of events."""
        by_issue: dict[tuple[str, str], list[StagedEvent]] = {}
        for staged in segment:
            by_issue.setdefault(staged.issue, []).append(staged)
        # The issue's events of its latest day before this segment: its item's day count, and the window's
        # events not written to the item yet (dated by their latest).
        unread = [issue for issue in by_issue if issue not in read]
        states = {**read, **(self._issues.current_states(unread, consistent=False) if unread else {})}
        prior: dict[tuple[str, str], dict[str, int]] = {}
        for issue in by_issue:
            state = states.get(issue)
            if state is not None and state.day:
                prior[issue] = {state.day: state.events_of_day}
        for issue in by_issue.keys() & window.issues.keys():
            pending = window.issues[issue]
            day = day_key(pending.latest.received_at)
            prior.setdefault(issue, {})[day] = prior.get(issue, {}).get(day, 0) + pending.count
        kept: dict[PayloadName, dict[str, Any]] = {}
        for issue, events in by_issue.items():
            plan = plan_samples(
                events,
                received_at=lambda staged: staged.received_at,
                prior_by_day=prior.get(issue, {}),
                sample_size=self._project_settings(issue[0]).sample_size,
                rng=self._rng,
            )
            for slot, staged in plan.slots.items():
                kept[issue, slot] = staged.payload
            if plan.representative is not None:
                kept[issue, None] = plan.representative.payload
            self.summary.payloads_dropped += plan.dropped
        return kept

    def _put_payloads(
        self, members: dict[PayloadName, bytes], last_sequence: int
    ) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], dict[int, str]]]:
        """Writes kept payloads into one object; returns the references of each issue's representative and of
        its filled slots (an issue no slot changed for has none)."""
        assert self._shard is not None
        references = self._payloads.put_members(batch_key(self._shard, last_sequence, self._clock()), members)
        representatives: dict[tuple[str, str], str] = {}
        samples: dict[tuple[str, str], dict[int, str]] = {}
        for (issue, filled), reference in references.items():
            if filled is None:
                representatives[issue] = reference
            else:
                samples.setdefault(issue, {})[filled] = reference
        return representatives, samples

    def _release_item(
        self, key: WriteKey, tally: Tally, release_users: dict[tuple[str, str], ReleaseUsers]
    ) -> dict[str, Any]:
        prior = release_users[(key[1], key[2])]
        sketch, count = merge_users(prior.sketch, tally.users, lg_k=RELEASE_LG_K)
        return self._releases.seen_item(key[1], key[2], tally.events, tally.moment, tally.last, (sketch, count, prior))

    def _counter_item(self, key: WriteKey, tally: Tally) -> dict[str, Any]:
        kind = key[0]
        if kind == "window":
            return self._counters.add_hour_item(
                key[1], tally.moment, tally.events, dict(tally.increments), tally.users or None, dict(tally.tag_values)
            )
        if kind == "user":
            return self._user_issues.add_item(key[1], key[2], tally.events, tally.last)
        if kind == "traffic":
            return self._counters.add_traffic_item(key[1], tally.moment, key[3], key[4], dict(tally.increments))
        if kind == "active":
            return self._counters.active_item(key[1], tally.moment, tally.events)
        return self._releases.seen_item(key[1], key[2], tally.events, tally.moment, tally.last)


# What a retry can cure: AWS not answering (or answering "later"), the network. Anything else an event
# raises, it will raise again.
TRANSIENT_ERRORS = (ArtifactUnavailable, ClientError, BotoCoreError, OSError)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]
