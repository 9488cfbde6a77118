"""The issues table: one item per (project, issue) with its totals. Sorted listings come from GSIs keyed by
project with the total as sort key, so "top issues by frequency/recency/users" is one Query, never a Scan."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from errata.store.dynamo import (
    batch_get,
    batch_get_in_order,
    decode_cursor,
    encode_cursor,
    from_item,
    query_page,
    to_item,
    unchanged_since,
)
from errata.store.shard_marks import MARK_PREFIX, stale_marks
from errata.store.tables import GlobalIndex, KeyAttribute, TableSpec
from errata.timefmt import day_key, iso_utc

IssueSort = Literal["frequency", "recency", "users", "impact"]

_PROJECT = KeyAttribute("project_id")
# The listings are keyed by ranks: copies of the issue's totals, made by a write and by the minute evaluator
# for an issue whose events stopped before its ranks were due (settle_ranks). The recency rank is copied once a
# minute; the totals (events, users, impact) once a total has doubled (a burst reorders the list at once) or
# ten minutes on, so a write to an issue seen every few minutes moves one index entry, not four. A write in
# between changes no index entry. A page's items are read whole by key: their totals are exact; only the
# order may lag, by less than double within ten minutes, and by up to two minutes after events stop.
RANK_REFRESH = timedelta(seconds=60)
RANK_TOTALS_REFRESH = timedelta(minutes=10)
# A filtered listing reads this many index entries a Query (and their items), at most this many times a page.
_MATCHING_ENTRIES = 100
_MATCHING_ROUNDS = 10
# The indexes project the status alone: it changes only by a person's decision or a regression. The other
# filters (release, environment, level, text) are tested on the page's items, read by key anyway: they change
# with the latest event, and each change rewrote the entry of every index projecting them (with the minute
# rule above, the four ranked indexes took 4.3 of the low-rate cost bench's 18 write units an event).
_FILTERED = ("status",)
SORT_INDEXES: dict[str, GlobalIndex] = {
    sort: GlobalIndex(f"ranked_by_{sort}", _PROJECT, rank, projection="INCLUDE", included=_FILTERED)
    for sort, rank in (
        ("frequency", KeyAttribute("rank_events", "N")),
        ("recency", KeyAttribute("rank_seen")),
        ("users", KeyAttribute("rank_users", "N")),
        ("impact", KeyAttribute("rank_impact", "N")),  # errata.impact
    )
}
# Issues first seen in a release: `release_key` is "<project>#<first release>", set with the first release.
FIRST_RELEASE_INDEX = GlobalIndex(
    "first_seen_in_release", KeyAttribute("release_key"), KeyAttribute("first_seen"), projection="KEYS_ONLY"
)
# The outbox: an issue whose `Issue Created`/`Issue Regressed` event is not yet on the bus carries it in
# `outbox_type`/`outbox_detail`, written in the batch's transaction; `outbox_pk` puts it on this sparse
# index until the event is published, so the minute evaluator can publish what a failed put left behind.
ANNOUNCEMENTS_INDEX = GlobalIndex(
    "pending_announcements", KeyAttribute("outbox_pk"), KeyAttribute("outbox_at"), projection="KEYS_ONLY"
)
_OUTBOX_PK = "pending"
ISSUES_TABLE = TableSpec(
    logical_name="issues",
    partition_key=_PROJECT,
    sort_key=KeyAttribute("issue_id"),
    indexes=(*SORT_INDEXES.values(), FIRST_RELEASE_INDEX, ANNOUNCEMENTS_INDEX),
)


@dataclass(frozen=True)
class Announcement:
    """A domain event kept on its issue until it is on the bus."""

    project_id: str
    issue_id: str
    detail_type: str
    detail: str  # JSON of errata.models.alerts.AlertDetail
    at: str


@dataclass(frozen=True)
class IssueState:
    """What a writer must know of an issue before changing it: the optimistic-lock revision, and the user
    sketch that items written before the sketch had its own item carry."""

    revision: int
    last_seen: str
    user_sketch: bytes | None
    event_count: int = 0
    user_count: int = 0
    status: str = "unresolved"
    resolved_release: str | None = None
    ignore_until_count: int | None = None
    ignore_until: str | None = None
    impact: float | None = None
    # Shard marks no retry can need any more (errata.store.shard_marks): the next write drops them.
    stale_marks: tuple[str, ...] = ()
    ranks: Ranks | None = None  # None: written before ranks were kept
    marks: dict[str, str] = field(default_factory=dict)  # every shard's mark, by attribute
    # The day of the issue's latest write and its event count before that day: the sampling reservoir runs
    # over the issue's day (errata.sampling). "" before the item kept them.
    day: str = ""
    day_base: int = 0

    @property
    def events_of_day(self) -> int:
        """The issue's events on `day` (as written)."""
        return self.event_count - self.day_base


@dataclass(frozen=True)
class Ranks:
    """The totals the listing indexes sort by, as last copied (SORT_INDEXES)."""

    events: int
    users: int
    at: str  # when the recency rank was copied
    totals_at: str  # when the totals were ("" before they were kept apart: due at once)

    def recency_due(self, now: datetime) -> bool:
        return iso_utc(now - RANK_REFRESH) >= self.at

    def totals_due(self, events: int, users: int, now: datetime) -> bool:
        """Whether a write with these totals at `now` copies them again: once a total has doubled, or ten
        minutes after they were last copied."""
        return (
            iso_utc(now - RANK_TOTALS_REFRESH) >= self.totals_at
            or events >= 2 * max(self.events, 1)
            or users >= 2 * max(self.users, 1)
        )


@dataclass(frozen=True)
class IssueFilter:
    """What an issue listing keeps: any of `statuses`, a release it was first or last seen in, the latest
    event's environment, a level, and text inside the title or culprit (case-sensitive)."""

    statuses: tuple[str, ...] = ()
    release: str | None = None
    environment: str | None = None
    level: str | None = None
    text: str | None = None

    @property
    def reads_items(self) -> bool:
        """Whether it tests what only the items hold (the indexes project the status alone)."""
        return bool(self.release or self.environment or self.level or self.text)

    def index_expression(self, names: dict[str, str], values: dict[str, Any]) -> str:
        """The part a Query of a listing index can filter on: the status (the rest is `matches`)."""
        if not self.statuses:
            return ""
        names["#status"] = "status"
        keys = []
        for i, status in enumerate(self.statuses):
            values[f":status{i}"] = status
            keys.append(f":status{i}")
        return f"#status IN ({', '.join(keys)})"

    def matches(self, item: dict[str, Any]) -> bool:
        """The whole test, on an item read by key (a listing's page, a user's issues)."""
        text = self.text or ""
        return (
            (not self.statuses or item.get("status", "unresolved") in self.statuses)
            and (not self.release or self.release in (item.get("first_release"), item.get("last_release")))
            and (not self.environment or item.get("environment") == self.environment)
            and (not self.level or item.get("level") == self.level)
            and (not text or text in str(item.get("title", "")) or text in str(item.get("culprit") or ""))
        )


@dataclass(frozen=True)
class StatusChange:
    status: str
    regressed_in_release: str | None = None


IssueStatus = Literal["unresolved", "resolved", "resolved_in_next_release", "ignored", "regressed"]


@dataclass
class IssueDelta:
    """What one batch adds to one issue."""

    project_id: str
    issue_id: str
    grouping_config: str
    type: str
    title: str
    culprit: str | None
    level: str
    count: int
    first_seen: datetime
    last_seen: datetime
    first_release: str | None
    last_release: str | None
    last_event_id: str
    payload_key: str | None  # the representative's payload reference, when this batch kept one
    environment: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    route: str | None = None
    root_cause: str | None = None


class IssueStore:
    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def current_states(
        self, project_issue_ids: list[tuple[str, str]], consistent: bool = True
    ) -> dict[tuple[str, str], IssueState]:
        """Each issue's state; `consistent=False` for a reader a stale one cannot mislead (half the cost)."""
        items = batch_get(
            self._dynamodb,
            self._table,
            # The whole item (a read costs by item size, whatever is projected): its shard marks too.
            [{"project_id": p, "issue_id": i} for p, i in project_issue_ids],
            consistent=consistent,
        )
        now = datetime.now(UTC)
        return {
            (values["project_id"], values["issue_id"]): IssueState(
                revision=int(values.get("revision", 0)),
                last_seen=values.get("last_seen", ""),
                user_sketch=values.get("user_sketch"),
                event_count=int(values.get("event_count", 0)),
                user_count=int(values.get("user_count", 0)),
                status=values.get("status", "unresolved"),
                resolved_release=values.get("resolved_release"),
                ignore_until_count=values.get("ignore_until_count"),
                ignore_until=values.get("ignore_until"),
                impact=values.get("impact"),
                stale_marks=tuple(stale_marks(values, now)),
                marks={name: value for name, value in values.items() if name.startswith(MARK_PREFIX)},
                ranks=Ranks(
                    events=int(values["rank_events"]),
                    users=int(values.get("rank_users", 0)),
                    at=values["ranked_at"],
                    totals_at=values.get("totals_ranked_at", ""),
                )
                if "ranked_at" in values
                else None,
                day=values.get("events_day", ""),
                day_base=int(values.get("events_day_base", 0)),
            )
            for values in items
        }

    def update_item(
        self,
        delta: IssueDelta,
        state: IssueState | None,
        user_count: int | None,
        status_change: StatusChange | None = None,
        announcement: Announcement | None = None,
        impact: float | None = None,
        keep_mark: str = "",
        drop_user_sketch: bool = False,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """An update (TransactWriteItems' `Update` shape) applying `delta`; it fails if the issue changed since
        `state`. `user_count` is the estimate of the issue's user sketch (errata.store.counters) after this
        batch, None when the batch's events named no user. An announcement rides along into the outbox
        (ANNOUNCEMENTS_INDEX). The ranks are copied when due (`Ranks.due` at `now`). The state's stale shard
        marks are dropped, except `keep_mark` (the writer's own, which the write sets); `drop_user_sketch`:
        the sketch the item kept before the sketch had an item of its own (once that item exists, so a failed
        batch cannot lose the users it held)."""
        last_seen = iso_utc(delta.last_seen)
        if state is not None and state.last_seen > last_seen:
            last_seen = state.last_seen  # another shard already saw a later event
        names = {"#type": "type", "#level": "level", "#status": "status"}
        values: dict[str, Any] = {
            ":title": delta.title,
            ":culprit": delta.culprit,
            ":type": delta.type,
            ":level": delta.level,
            ":last_seen": last_seen,
            ":first_seen": iso_utc(delta.first_seen),
            ":grouping": delta.grouping_config,
            ":count": delta.count,
            ":one": 1,
            ":last_event_id": delta.last_event_id,
        }
        sets = [
            "title = :title",
            "culprit = :culprit",
            "#type = :type",
            "#level = :level",
            "last_seen = :last_seen",
            "first_seen = if_not_exists(first_seen, :first_seen)",
            "grouping_config = if_not_exists(grouping_config, :grouping)",
            "#status = :status" if status_change else "#status = if_not_exists(#status, :unresolved)",
            "last_event_id = :last_event_id",
        ]
        if not status_change:
            values[":unresolved"] = "unresolved"  # DynamoDB refuses a value the expression does not use
        if delta.payload_key is not None:
            sets.append("payload_key = :payload_key")
            values[":payload_key"] = delta.payload_key
        if delta.first_release is not None:
            sets.append("first_release = if_not_exists(first_release, :first_release)")
            sets.append("release_key = if_not_exists(release_key, :release_key)")
            values[":first_release"] = delta.first_release
            values[":release_key"] = f"{delta.project_id}#{delta.first_release}"
        if delta.last_release is not None:
            sets.append("last_release = :last_release")
            values[":last_release"] = delta.last_release
        for name, value in (
            ("environment", delta.environment),
            ("route", delta.route),
            ("root_cause", delta.root_cause),
        ):
            if value is not None:
                sets.append(f"{name} = :{name}")
                values[f":{name}"] = value
        if delta.tags:
            sets.append("tags = :tags")
            values[":tags"] = delta.tags
        day = day_key(delta.last_seen)
        if state is None or state.day != day:  # the first write of the issue's day: its count so far
            sets.append("events_day = :events_day, events_day_base = :events_day_base")
            values[":events_day"] = day
            values[":events_day_base"] = state.event_count if state is not None else 0
        if impact is not None:
            sets.append("impact = :impact")
            values[":impact"] = Decimal(str(impact))
        if announcement is not None:
            sets.append("outbox_pk = :outbox_pk, outbox_at = :outbox_at, outbox_type = :outbox_type")
            sets.append("outbox_detail = :outbox_detail")
            values.update(
                {
                    ":outbox_pk": _OUTBOX_PK,
                    ":outbox_at": announcement.at,
                    ":outbox_type": announcement.detail_type,
                    ":outbox_detail": announcement.detail,
                }
            )
        removes: list[str] = []
        if status_change:
            values[":status"] = status_change.status
            if status_change.regressed_in_release:
                sets.append("regressed_in_release = :regressed_in")
                values[":regressed_in"] = status_change.regressed_in_release
            removes = ["ignore_until_count", "ignore_until"]
        if state is not None:
            for index, mark in enumerate(m for m in state.stale_marks if m != keep_mark):
                names[f"#stale{index}"] = mark
                removes.append(f"#stale{index}")
        if drop_user_sketch and state is not None and state.user_sketch is not None:
            removes.append("user_sketch")
        if user_count is not None:
            sets.append("user_count = :user_count")
            values[":user_count"] = user_count
        else:
            sets.append("user_count = if_not_exists(user_count, :zero)")
            values[":zero"] = 0
        events_after = (state.event_count if state else 0) + delta.count
        users_after = user_count if user_count is not None else (state.user_count if state else 0)
        now = now or datetime.now(UTC)
        ranks = state.ranks if state is not None else None
        if ranks is None or status_change or ranks.totals_due(events_after, users_after, now):
            known_impact = state.impact if state is not None and state.impact is not None else 0.0
            sets.append("rank_events = :rank_events, rank_users = :rank_users, rank_seen = :last_seen")
            sets.append("rank_impact = :rank_impact, ranked_at = :ranked_at, totals_ranked_at = :ranked_at")
            values[":rank_events"] = events_after
            values[":rank_users"] = users_after
            values[":rank_impact"] = Decimal(str(impact if impact is not None else known_impact))
            values[":ranked_at"] = iso_utc(now)
        elif ranks.recency_due(now):
            sets.append("rank_seen = :last_seen, ranked_at = :ranked_at")
            values[":ranked_at"] = iso_utc(now)
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": to_item({"project_id": delta.project_id, "issue_id": delta.issue_id}),
            "UpdateExpression": "SET "
            + ", ".join(sets)
            + " ADD event_count :count, revision :one"
            + (" REMOVE " + ", ".join(removes) if removes else ""),
            "ExpressionAttributeNames": names,
        }
        update["ConditionExpression"] = unchanged_since(state.revision if state else None, values, absent="issue_id")
        update["ExpressionAttributeValues"] = to_item(values)
        return {"Update": update}

    def raised_user_count_item(self, project_id: str, issue_id: str, user_count: int) -> dict[str, Any]:
        """An update raising the issue's `user_count` to its sketch's estimate (never lowering it): a shard
        that wrote the issue's sketch but not the issue, after another shard wrote the issue from the sketch
        as it was before. The same write however often it is made."""
        return {
            "Update": {
                "TableName": self._table,
                "Key": to_item({"project_id": project_id, "issue_id": issue_id}),
                "UpdateExpression": "SET user_count = :users",
                "ConditionExpression": "attribute_exists(issue_id) AND user_count < :users",
                "ExpressionAttributeValues": to_item({":users": user_count}),
            }
        }

    def pending_announcements(self, limit: int = 100) -> list[Announcement]:
        """Announcements still in the outbox, oldest first (a Query of the sparse index, then the items)."""
        response = self._dynamodb.query(
            TableName=self._table,
            IndexName=ANNOUNCEMENTS_INDEX.name,
            KeyConditionExpression="outbox_pk = :pk",
            ExpressionAttributeValues=to_item({":pk": _OUTBOX_PK}),
            Limit=limit,
        )
        keys = [from_item(item) for item in response.get("Items", [])]
        items = batch_get(
            self._dynamodb,
            self._table,
            [{"project_id": k["project_id"], "issue_id": k["issue_id"]} for k in keys],
            projection="project_id, issue_id, outbox_type, outbox_detail, outbox_at",
            consistent=True,
        )
        found = [
            Announcement(i["project_id"], i["issue_id"], i["outbox_type"], i["outbox_detail"], i["outbox_at"])
            for i in items
            if "outbox_at" in i
        ]
        return sorted(found, key=lambda announcement: announcement.at)

    def clear_announcement(self, announcement: Announcement) -> None:
        """Takes a published announcement out of the outbox, unless a newer one replaced it meanwhile."""
        with contextlib.suppress(self._dynamodb.exceptions.ConditionalCheckFailedException):
            self._dynamodb.update_item(
                TableName=self._table,
                Key=to_item({"project_id": announcement.project_id, "issue_id": announcement.issue_id}),
                UpdateExpression="REMOVE outbox_pk, outbox_at, outbox_type, outbox_detail",
                ConditionExpression="outbox_at = :at",
                ExpressionAttributeValues=to_item({":at": announcement.at}),
            )

    def recently_active(self, project_id: str, since: str, limit: int = 500) -> list[dict[str, Any]]:
        """Issues seen at or after `since`: the work of the minute evaluator is O(active issues). The recency
        rank lags `last_seen` by up to RANK_REFRESH, so the Query reaches that much further back."""
        reach = iso_utc(datetime.fromisoformat(since.replace("Z", "+00:00")) - RANK_REFRESH)
        response = self._dynamodb.query(
            TableName=self._table,
            IndexName=SORT_INDEXES["recency"].name,
            KeyConditionExpression="project_id = :project AND rank_seen >= :since",
            ExpressionAttributeValues=to_item({":project": project_id, ":since": reach}),
            ProjectionExpression="issue_id",
            ScanIndexForward=False,
            Limit=limit,
        )
        items = self._in_order(project_id, [from_item(key) for key in response.get("Items", [])])
        return [item for item in items if item.get("last_seen", "") >= since]

    def settle_ranks(self, items: list[dict[str, Any]], now: datetime) -> int:
        """Copies the totals of `items` (as read whole) into their ranks where they differ and were copied a
        minute or more ago: an issue whose events stopped before its ranks were due would otherwise keep
        them. Conditional on the revision read (a processor's write of the issue since wins, and copies
        them itself when due); returns how many were copied."""
        settled = 0
        for item in items:
            if item.get("ranked_at", "") > iso_utc(now - RANK_REFRESH) or "revision" not in item:
                continue
            totals = {
                ":rank_events": item.get("event_count", 0),
                ":rank_users": item.get("user_count", 0),
                ":rank_seen": item.get("last_seen", ""),
                ":rank_impact": item.get("impact", 0),
            }
            if all(item.get(name[1:]) == value for name, value in totals.items()):
                continue
            totals[":rank_impact"] = Decimal(str(totals[":rank_impact"]))
            try:
                self._dynamodb.update_item(
                    TableName=self._table,
                    Key=to_item({"project_id": item["project_id"], "issue_id": item["issue_id"]}),
                    UpdateExpression="SET rank_events = :rank_events, rank_users = :rank_users,"
                    " rank_seen = :rank_seen, rank_impact = :rank_impact, ranked_at = :ranked_at,"
                    " totals_ranked_at = :ranked_at",
                    ConditionExpression="revision = :revision",
                    ExpressionAttributeValues=to_item(
                        {**totals, ":ranked_at": iso_utc(now), ":revision": item["revision"]}
                    ),
                )
            except self._dynamodb.exceptions.ConditionalCheckFailedException:
                continue
            settled += 1
        return settled

    def list_issues(
        self,
        project_id: str,
        sort: IssueSort,
        limit: int,
        cursor: str | None = None,
        filters: IssueFilter | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the project's issues in `sort` order (a Query of its index, filtered by DynamoDB on
        the status it projects), then the page's items, read whole and tested by the other filters; and the
        cursor of the next page."""
        index = SORT_INDEXES[sort]
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index.name,
            "KeyConditionExpression": "project_id = :project",
            "ScanIndexForward": False,
        }
        values: dict[str, Any] = {":project": project_id}
        names: dict[str, str] = {}
        if filters is not None:
            expression = filters.index_expression(names, values)
            if expression:
                request["FilterExpression"] = expression
        if names:
            request["ExpressionAttributeNames"] = names
        request["ExpressionAttributeValues"] = to_item(values)
        assert index.sort_key is not None
        attributes = ("project_id", "issue_id", index.sort_key.name)
        start = decode_cursor(cursor, ("project_id", project_id), set(attributes)) if cursor else None
        if filters is not None and filters.reads_items:
            page, last = self._matching_page(project_id, request, filters, limit, start, attributes)
            return page, encode_cursor(last)
        keys, last = query_page(self._dynamodb, limit=limit, start=start, key_attributes=attributes, **request)
        return self._in_order(project_id, keys), encode_cursor(last)

    def _matching_page(
        self,
        project_id: str,
        request: dict[str, Any],
        filters: IssueFilter,
        limit: int,
        start: dict[str, Any] | None,
        attributes: tuple[str, ...],
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """Index entries in order, their items read by key and kept where `filters` matches, until `limit`
        are kept or _MATCHING_ROUNDS Queries were made; the cursor is the last entry kept or read (entries
        after it are read by the next page, none skipped)."""
        page: list[dict[str, Any]] = []
        last = start
        for _ in range(_MATCHING_ROUNDS):
            query = dict(request, Limit=max(limit, _MATCHING_ENTRIES))
            if last:
                query["ExclusiveStartKey"] = last
            response = self._dynamodb.query(**query)
            entries = response.get("Items", [])
            items = self.get_many(project_id, [entry["issue_id"]["S"] for entry in entries])
            for entry in entries:
                item = items.get(entry["issue_id"]["S"])
                if item is not None and filters.matches(item):
                    page.append(item)
                    if len(page) == limit:
                        # From the entry as DynamoDB sent it: a rank read back as a float would not go back.
                        return page, {name: entry[name] for name in attributes}
            last = response.get("LastEvaluatedKey")
            if not last:
                return page, None
        return page, last

    def first_seen_in(
        self, project_id: str, release: str, limit: int, cursor: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of the issues first seen in `release`, newest first, and the next page's cursor."""
        key = f"{project_id}#{release}"
        attributes = ("project_id", "issue_id", "release_key", "first_seen")
        start = decode_cursor(cursor, ("release_key", key), set(attributes)) if cursor else None
        keys, last = query_page(
            self._dynamodb,
            limit=limit,
            start=start,
            key_attributes=attributes,
            TableName=self._table,
            IndexName=FIRST_RELEASE_INDEX.name,
            KeyConditionExpression="release_key = :key",
            ExpressionAttributeValues=to_item({":key": key}),
            ScanIndexForward=False,
        )
        return self._in_order(project_id, keys), encode_cursor(last)

    def _in_order(self, project_id: str, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The items of index entries, whole, in the entries' order (one BatchGetItem per 100)."""
        issue_keys = [{"project_id": project_id, "issue_id": key["issue_id"]} for key in keys]
        return batch_get_in_order(self._dynamodb, self._table, issue_keys)

    def get_many(self, project_id: str, issue_ids: list[str]) -> dict[str, dict[str, Any]]:
        items = batch_get(self._dynamodb, self._table, [{"project_id": project_id, "issue_id": i} for i in issue_ids])
        return {values["issue_id"]: values for values in items}

    def set_status(
        self,
        project_id: str,
        issue_id: str,
        status: IssueStatus,
        *,
        resolved_release: str | None = None,
        ignore_until_count: int | None = None,
        ignore_until: str | None = None,
    ) -> dict[str, Any] | None:
        """A person's decision. It bumps `revision`, so a processor holding an older read retries."""
        # An issue written before impact was kept joins the impact index with the lowest score.
        sets = ["#status = :status", "impact = if_not_exists(impact, :no_impact)"]
        removes = []
        values: dict[str, Any] = {":status": status, ":one": 1, ":no_impact": 0}
        for name, value in (
            ("resolved_release", resolved_release),
            ("ignore_until_count", ignore_until_count),
            ("ignore_until", ignore_until),
        ):
            if value is None:
                removes.append(name)
            else:
                sets.append(f"{name} = :{name}")
                values[f":{name}"] = value
        try:
            response = self._dynamodb.update_item(
                TableName=self._table,
                Key=to_item({"project_id": project_id, "issue_id": issue_id}),
                UpdateExpression="SET "
                + ", ".join(sets)
                + " ADD revision :one REMOVE "
                + ", ".join([*removes, "regressed_in_release"]),
                ConditionExpression="attribute_exists(issue_id)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_item(values),
                ReturnValues="ALL_NEW",
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            return None
        return from_item(response["Attributes"])

    def resolve_ids(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """For each (project, id) that is an issue or an alias: the issue id it stands for."""
        items = batch_get(
            self._dynamodb,
            self._table,
            [{"project_id": p, "issue_id": i} for p, i in keys],
            projection="project_id, issue_id, alias_of",
            consistent=True,
        )
        return {(v["project_id"], v["issue_id"]): v.get("alias_of") or v["issue_id"] for v in items}

    def put_alias(self, project_id: str, alias: str, issue_id: str) -> bool:
        """False when `alias` is already an issue or an alias: nothing is overwritten."""
        try:
            self._dynamodb.put_item(
                TableName=self._table,
                Item=to_item({"project_id": project_id, "issue_id": alias, "alias_of": issue_id}),
                ConditionExpression="attribute_not_exists(issue_id)",
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def backfill_ranks(self, now: datetime | None = None) -> int:
        """Copies the totals into the ranks of issues written before ranks were kept, so the listing indexes
        hold them (a table whose indexes were just rebuilt); returns how many it changed. Alias items have no
        totals and stay out of the indexes."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "attribute_exists(event_count) AND attribute_not_exists(ranked_at)",
            "ProjectionExpression": "project_id, issue_id",
        }
        changed = 0
        while True:
            response = self._dynamodb.scan(**request)
            for key in response.get("Items", []):
                self._dynamodb.update_item(
                    TableName=self._table,
                    Key=key,
                    UpdateExpression="SET rank_events = event_count, rank_seen = last_seen,"
                    " rank_users = if_not_exists(user_count, :zero), rank_impact = if_not_exists(impact, :zero),"
                    " ranked_at = :now, totals_ranked_at = :now",
                    ExpressionAttributeValues=to_item({":zero": 0, ":now": iso_utc(now or datetime.now(UTC))}),
                )
                changed += 1
            if "LastEvaluatedKey" not in response:
                return changed
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def get_issue(self, project_id: str, issue_id: str) -> dict[str, Any] | None:
        response = self._dynamodb.get_item(
            TableName=self._table, Key=to_item({"project_id": project_id, "issue_id": issue_id})
        )
        item = response.get("Item")
        return from_item(item) if item else None


class IssueAliases:
    """Maps an event's grouping hash to the issue it joins, across grouping configs.

    An alias item (`issue_id` = the new hash, `alias_of` = the issue) is written the first time an event's
    current hash is new but an earlier config's hash names an issue; later events find the issue through it
    even after that earlier config is retired. Alias items carry none of the GSI keys, so listings never see
    them. Resolutions are cached per container: an issue id, once given, never changes.
    """

    _CACHE_LIMIT = 50_000

    def __init__(self, issues: IssueStore) -> None:
        self._issues = issues
        self._cache: dict[tuple[str, str], str] = {}

    def resolve(self, events: list[Any]) -> None:
        """Sets `issue_id` on each staged event (with `.project_id` and `.grouping`): one target per current
        hash across the batch, whatever legacy hashes its events carry."""
        by_primary: dict[tuple[str, str], list[Any]] = {}
        for event in events:
            by_primary.setdefault((event.project_id, event.grouping.issue_id), []).append(event)
        pending = [key for key in by_primary if key not in self._cache]
        keys = {
            (project_id, candidate)
            for project_id, primary in pending
            for event in by_primary[(project_id, primary)]
            for candidate in (primary, *event.grouping.legacy_ids)
        }
        found = self._issues.resolve_ids(sorted(keys)) if keys else {}
        for primary in pending:
            target = found.get(primary)
            if target is None:
                legacy = next(
                    (
                        found[(primary[0], legacy_id)]
                        for event in by_primary[primary]
                        for legacy_id in event.grouping.legacy_ids
                        if (primary[0], legacy_id) in found
                    ),
                    None,
                )
                if legacy is not None:
                    target = self._alias(primary, legacy)
            if target is not None:
                self._remember(primary, target)
        for primary, members in by_primary.items():
            target = self._cache.get(primary, primary[1])
            for event in members:
                event.issue_id = target

    def _alias(self, primary: tuple[str, str], issue_id: str) -> str:
        """Writes primary -> issue unless the primary hash became an issue or alias meanwhile (another shard);
        then that one wins."""
        if self._issues.put_alias(*primary, issue_id):
            return issue_id
        return self._issues.resolve_ids([primary]).get(primary, primary[1])

    def _remember(self, key: tuple[str, str], issue_id: str) -> None:
        if len(self._cache) >= self._CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = issue_id
