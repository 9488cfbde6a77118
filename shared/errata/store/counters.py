"""The counters table: event counts per time window, each item expiring by TTL.

    pk                              sk                     attributes
    issue#<project>#<issue>         h#<YYYY-MM-DDTHH>      events (ADD), users (string set, capped), one count
                                                           per minute with events: m<MM> (ADD), untracked
                                                           (ADD), tag_values (string set, capped), one count
                                                           per value: t#<key>#<value> (ADD)
    project#<project>               u#<YYYY-MM-DDTHH>      sketch (HLL of the hour's users), users, revision
    quota#<project>                 m#<YYYY-MM-DDTHH:MM>   accepted, dropped (ADD): what ingest let in and refused
    active#<YYYY-MM-DDTHH:MM>       <project>              events (ADD): projects with events that minute
    issue#<project>#<issue>         samples                s<slot> (a payload reference per sample slot:
                                                           errata.store.event_payloads)
    issue#<project>#<issue>         users                  sketch (HLL of the issue's users), revision: beside
                                                           the issue, so its ~2 KB are not copied into every
                                                           index of the issues table on each write

An issue's minutes and its tag values are counts in its hour item, not items of their own: a write costs a
write unit per KB of the item however little it adds, and at a few events a window each minute item and each
tag day was written about as often as the hour (one write instead of three; the minutes are at most 60
counts, ~0.5 KB). The hour lists users, the minutes do not (alerts count a minute's events; a minute's users
were read by nothing but the API). A tag breakdown sums the hours of its days (one Query). The project's own
minute and hour counts are gone: nothing read them, and the quota's minutes count what ingest let in.
Items written before (`m#<minute>` and `t#<day>` of an issue) expire unread.

Quota minutes live two days (rate limits); an issue's hours fifteen days, so the same hour last week is
always there for spike alerts and fourteen days of tag breakdown. Hours are written once per window, one
item per (issue, hour), marked with the shard's last record (errata.store.shard_marks), so replays never
double count.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from errata.store.dynamo import batch_get, from_item, to_item, unchanged_since
from errata.store.tables import KeyAttribute, TableSpec

COUNTERS_TABLE = TableSpec(
    logical_name="counters",
    partition_key=KeyAttribute("pk"),
    sort_key=KeyAttribute("sk"),
    ttl_attribute="expires_at",
)
_FORMATS = {"minute": ("m#", "%Y-%m-%dT%H:%M"), "hour": ("h#", "%Y-%m-%dT%H")}
_USERS_PREFIX = "u#"

Window = Literal["minute", "hour"]
WINDOW_TTL = {"minute": timedelta(days=2), "hour": timedelta(days=15)}
# Past this many distinct users in a window, the window keeps counting events but stops listing users
# (about 4 KB of ids): the issue's HyperLogLog sketch is the unbounded answer.
MAX_USERS_PER_WINDOW = 100
# An issue's hour lists at most this many distinct tag values (each at most TAG_VALUE_LENGTH characters,
# keys from errata.tag_values): at most ~7 KB. Events past it count as `untracked`.
MAX_TAG_VALUES_PER_HOUR = 40
TAG_VALUE_LENGTH = 64
_SAMPLES_SK = "samples"
_ISSUE_USERS_SK = "users"
# Samples point into batch objects, which the bucket keeps at most 90 days (infra: payload_retention_days).
SAMPLES_TTL = timedelta(days=90)
_TAG_COUNT_PREFIX = "t#"


# Hours whose user or tag value list is known to be full, per container: a write to one again skips that list
# instead of being refused once to find out. Bounded; a forgotten entry costs one refused write.
_FULL_WINDOWS: OrderedDict[tuple[str, str, str], None] = OrderedDict()
_FULL_WINDOWS_KEPT = 10_000


def window_start(moment: datetime, window: Window) -> datetime:
    moment = moment.astimezone(UTC)
    if window == "minute":
        return moment.replace(second=0, microsecond=0)
    return moment.replace(minute=0, second=0, microsecond=0)


def window_key(moment: datetime, window: Window) -> str:
    prefix, pattern = _FORMATS[window]
    return prefix + window_start(moment, window).strftime(pattern)


def minute_attribute(moment: datetime) -> str:
    """The attribute of an hour item counting the events of the minute of `moment`."""
    return f"m{moment.astimezone(UTC).minute:02d}"


def issue_key(project_id: str, issue_id: str) -> str:
    return f"issue#{project_id}#{issue_id}"


def project_key(project_id: str) -> str:
    return f"project#{project_id}"


def quota_key(project_id: str) -> str:
    return f"quota#{project_id}"


def traffic_key(project_id: str) -> str:
    return f"traffic#{project_id}"


def active_key(moment: datetime) -> str:
    return "active#" + window_key(moment, "minute").removeprefix("m#")


@dataclass(frozen=True)
class UserSketch:
    """A HyperLogLog of distinct users as read, and the revision its next write must find: a project's in
    one hour (the denominator of an issue's user share), or an issue's."""

    sketch: bytes | None
    users: int
    revision: int


@dataclass(frozen=True)
class TagCounts:
    """An issue's tag values summed over hours: events, those whose values were past the cap, and the
    count of each (key, value)."""

    events: int
    untracked: int
    counts: dict[tuple[str, str], int]


@dataclass(frozen=True)
class WindowCount:
    start: datetime
    events: int
    users: int | None  # listed users, up to MAX_USERS_PER_WINDOW; None: a minute, which lists none
    dropped: int = 0


@dataclass(frozen=True)
class IssueHour:
    """An issue's hour item as read: its events, listed users and the counts of its minutes."""

    start: datetime
    events: int
    users: set[str]
    minutes: dict[datetime, int]


class CounterStore:
    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def add_hour_item(
        self,
        pk: str,
        moment: datetime,
        events: int,
        minutes: dict[str, int],
        users: set[str] | None = None,
        tag_values: dict[tuple[str, str], int] | None = None,
    ) -> dict[str, Any]:
        """An Update adding `events` to the hour holding `moment`: the counts of their minutes (by
        `minute_attribute`), their users and their tag values. The user and value lists are bounded by a
        condition (ADD grows a set across writes: without a bound an issue's hour with 10,000 users passes
        DynamoDB's 400 KB item limit and every write to it fails); when it refuses, the processor marks the
        list full (`note_refusal`) and writes again without it, a full value list counting events as
        untracked."""
        expires_at = int((window_start(moment, "hour") + WINDOW_TTL["hour"]).timestamp())
        names: dict[str, str] = {}
        adds = ["events :events"]
        values: dict[str, Any] = {":events": events, ":expires_at": expires_at}
        for index, (minute, count) in enumerate(sorted(minutes.items())):
            names[f"#m{index}"] = minute
            values[f":m{index}"] = count
            adds.append(f"#m{index} :m{index}")
        sk = window_key(moment, "hour")
        update: dict[str, Any] = {"TableName": self._table, "Key": to_item({"pk": pk, "sk": sk})}
        conditions = []
        if users and (pk, sk, "users") not in _FULL_WINDOWS:
            listed = sorted(users)[:MAX_USERS_PER_WINDOW]
            adds.append("#users :users")
            values[":users"] = set(listed)
            conditions.append("attribute_not_exists(#users) OR size(#users) <= :user_room")
            values[":user_room"] = MAX_USERS_PER_WINDOW - len(listed)
            names["#users"] = "users"
        if tag_values and (pk, sk, "tags") not in _FULL_WINDOWS:
            counted = sorted(tag_values)[:MAX_TAG_VALUES_PER_HOUR]
            for index, (key, value) in enumerate(counted):
                names[f"#t{index}"] = f"{_TAG_COUNT_PREFIX}{key}#{value}"
                values[f":t{index}"] = tag_values[(key, value)]
                adds.append(f"#t{index} :t{index}")
            adds.append("#values :values")
            values[":values"] = {f"{key}#{value}" for key, value in counted}
            conditions.append("attribute_not_exists(#values) OR size(#values) <= :value_room")
            values[":value_room"] = MAX_TAG_VALUES_PER_HOUR - len(counted)
            names["#values"] = "tag_values"
        elif tag_values:
            adds.append("untracked :events")
        update["UpdateExpression"] = "ADD " + ", ".join(adds) + " SET expires_at = :expires_at"
        update["ExpressionAttributeValues"] = to_item(values)
        if conditions:
            # DynamoDB refuses parentheses around a lone condition ("redundant").
            update["ConditionExpression"] = (
                " AND ".join(f"({c})" for c in conditions) if len(conditions) > 1 else conditions[0]
            )
        if names:
            update["ExpressionAttributeNames"] = names
        return {"Update": update}

    def tag_counts(self, pk: str, since: datetime, until: datetime) -> TagCounts:
        """The tag values of the hours of `pk` from `since` to `until`, summed (one Query, a page at a
        time: a busy issue's fourteen days are a few hundred items of a few KB)."""
        events = untracked = 0
        counts: Counter[tuple[str, str]] = Counter()
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :from AND :to",
            "ExpressionAttributeValues": to_item(
                {":pk": pk, ":from": window_key(since, "hour"), ":to": window_key(until, "hour")}
            ),
        }
        while True:
            response = self._dynamodb.query(**request)
            for item in response.get("Items", []):
                values = from_item(item)
                events += int(values.get("events", 0))
                untracked += int(values.get("untracked", 0))
                for name, count in values.items():
                    if name.startswith(_TAG_COUNT_PREFIX):
                        key, _, value = name.removeprefix(_TAG_COUNT_PREFIX).partition("#")
                        counts[(key, value)] += int(count)
            if "LastEvaluatedKey" not in response:
                return TagCounts(events=events, untracked=untracked, counts=dict(counts))
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def note_refusal(self, request: dict[str, Any], item: dict[str, Any]) -> None:
        """An hour's write was refused by its condition: marks the list that is full (`item`: the item as it
        was, DynamoDB JSON), so the next write leaves it out."""
        pk, sk = request["Key"]["pk"]["S"], request["Key"]["sk"]["S"]
        room = from_item(request["ExpressionAttributeValues"])
        found = from_item(item)
        for part, attribute, limit in (("users", "users", ":user_room"), ("tags", "tag_values", ":value_room")):
            if limit in room and len(found.get(attribute, ())) > int(room[limit]):
                _FULL_WINDOWS[(pk, sk, part)] = None
        while len(_FULL_WINDOWS) > _FULL_WINDOWS_KEPT:
            _FULL_WINDOWS.popitem(last=False)

    def add_traffic_item(
        self, project_id: str, moment: datetime, dimension: str, value: str, increments: dict[str, int]
    ) -> dict[str, Any]:
        """Hourly traffic of a release or route: `traffic#<project>`, `h#<hour>#<dimension>#<value>`."""
        names = {f"#c{i}": name for i, name in enumerate(sorted(increments))}
        values: dict[str, Any] = {f":c{i}": increments[name] for i, name in enumerate(sorted(increments))}
        values[":expires_at"] = int((window_start(moment, "hour") + WINDOW_TTL["hour"]).timestamp())
        adds = ", ".join(f"#c{i} :c{i}" for i in range(len(increments)))
        return {
            "Update": {
                "TableName": self._table,
                "Key": to_item(
                    {"pk": traffic_key(project_id), "sk": f"{window_key(moment, 'hour')}#{dimension}#{value}"}
                ),
                "UpdateExpression": f"ADD {adds} SET expires_at = :expires_at",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": to_item(values),
            }
        }

    def active_item(self, project_id: str, moment: datetime, events: int) -> dict[str, Any]:
        """Marks the project active in the minute of `moment`, so the minute evaluator visits only projects
        that had events."""
        expires_at = int((window_start(moment, "minute") + timedelta(hours=2)).timestamp())
        return {
            "Update": {
                "TableName": self._table,
                "Key": to_item({"pk": active_key(moment), "sk": project_id}),
                "UpdateExpression": "ADD events :events SET expires_at = :expires_at",
                "ExpressionAttributeValues": to_item({":events": events, ":expires_at": expires_at}),
            }
        }

    def active_projects(self, since: datetime, until: datetime) -> set[str]:
        """Projects with events in any minute from `since` to `until` (one Query per minute)."""
        projects: set[str] = set()
        moment = window_start(since, "minute")
        while moment <= until:
            response = self._dynamodb.query(
                TableName=self._table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues=to_item({":pk": active_key(moment)}),
                ProjectionExpression="sk",
            )
            projects.update(from_item(item)["sk"] for item in response.get("Items", []))
            moment += timedelta(minutes=1)
        return projects

    def user_sketches(self, keys: list[tuple[str, datetime]]) -> dict[tuple[str, str], UserSketch]:
        """The hour user sketches of (project, moment), keyed by (project, hour window key); consistent."""
        unique = sorted({(project, window_key(moment, "hour")) for project, moment in keys})
        items = batch_get(
            self._dynamodb,
            self._table,
            [{"pk": project_key(project), "sk": _USERS_PREFIX + hour.removeprefix("h#")} for project, hour in unique],
            projection="pk, sk, sketch, #users, revision",
            names={"#users": "users"},
            consistent=True,
        )
        return {
            (values["pk"].removeprefix("project#"), "h#" + values["sk"].removeprefix(_USERS_PREFIX)): UserSketch(
                values.get("sketch"), int(values.get("users", 0)), int(values.get("revision", 0))
            )
            for values in items
        }

    def user_sketch_item(
        self, project_id: str, moment: datetime, sketch: bytes, users: int, prior: UserSketch | None
    ) -> dict[str, Any]:
        """A TransactWriteItems entry replacing the hour's sketch; it fails if another writer changed it."""
        hour = window_key(moment, "hour").removeprefix("h#")
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": to_item({"pk": project_key(project_id), "sk": _USERS_PREFIX + hour}),
            "UpdateExpression": "SET sketch = :sketch, #users = :users, expires_at = :expires_at ADD revision :one",
            "ExpressionAttributeNames": {"#users": "users"},
        }
        values: dict[str, Any] = {
            ":sketch": sketch,
            ":users": users,
            ":one": 1,
            ":expires_at": int((window_start(moment, "hour") + WINDOW_TTL["hour"]).timestamp()),
        }
        update["ConditionExpression"] = unchanged_since(prior.revision if prior else None, values, absent="sk")
        update["ExpressionAttributeValues"] = to_item(values)
        return {"Update": update}

    def project_users(self, project_id: str, moment: datetime) -> int:
        """Distinct users of the project in the hour holding `moment`."""
        sketch = self.user_sketches([(project_id, moment)]).get((project_id, window_key(moment, "hour")))
        return sketch.users if sketch else 0

    def traffic(self, project_id: str, since: datetime, until: datetime) -> list[dict[str, Any]]:
        response = self._dynamodb.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :from AND :to",
            ExpressionAttributeValues=to_item(
                {
                    ":pk": traffic_key(project_id),
                    ":from": window_key(since, "hour"),
                    ":to": window_key(until, "hour") + "~",
                }
            ),
        )
        rows = []
        for item in response.get("Items", []):
            values = from_item(item)
            hour, dimension, value = values.pop("sk").split("#", 3)[1:]
            values.pop("pk"), values.pop("expires_at", None)
            rows.append({"hour": hour, "dimension": dimension, "value": value, **values})
        return rows

    def issue_sketches(self, issues: list[tuple[str, str]]) -> dict[tuple[str, str], UserSketch]:
        """The user sketch of each (project, issue) that has one, read consistently."""
        items = batch_get(
            self._dynamodb,
            self._table,
            [{"pk": issue_key(project, issue), "sk": _ISSUE_USERS_SK} for project, issue in sorted(set(issues))],
            projection="pk, sketch, revision",
            consistent=True,
        )
        sketches = {}
        for values in items:
            project, issue = values["pk"].removeprefix("issue#").split("#", 1)
            sketches[(project, issue)] = UserSketch(values.get("sketch"), 0, int(values.get("revision", 0)))
        return sketches

    def issue_sketch_item(self, pk: str, sketch: bytes, prior: UserSketch | None) -> dict[str, Any]:
        """An update replacing an issue's user sketch; it fails if another writer replaced it since `prior`."""
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": to_item({"pk": pk, "sk": _ISSUE_USERS_SK}),
            "UpdateExpression": "SET sketch = :sketch ADD revision :one",
        }
        values: dict[str, Any] = {":sketch": sketch, ":one": 1}
        update["ConditionExpression"] = unchanged_since(prior.revision if prior else None, values, absent="sk")
        update["ExpressionAttributeValues"] = to_item(values)
        return {"Update": update}

    def samples_item(self, pk: str, references: dict[int, str], moment: datetime) -> dict[str, Any]:
        """A TransactWriteItems entry pointing the sample slots a batch filled at their payloads."""
        names = {f"#s{slot}": f"s{slot}" for slot in references}
        values: dict[str, Any] = {f":s{slot}": reference for slot, reference in references.items()}
        values[":expires_at"] = int((moment + SAMPLES_TTL).timestamp())
        sets = ", ".join(f"#s{slot} = :s{slot}" for slot in references)
        return {
            "Update": {
                "TableName": self._table,
                "Key": to_item({"pk": pk, "sk": _SAMPLES_SK}),
                "UpdateExpression": f"SET {sets}, expires_at = :expires_at",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": to_item(values),
            }
        }

    def sample_references(self, pk: str) -> dict[int, str]:
        response = self._dynamodb.get_item(TableName=self._table, Key=to_item({"pk": pk, "sk": _SAMPLES_SK}))
        values = from_item(response["Item"]) if "Item" in response else {}
        return {int(name[1:]): value for name, value in values.items() if name[:1] == "s" and name[1:].isdigit()}

    def hour_activity(self, pk: str, moment: datetime) -> tuple[int, set[str]]:
        """Events and the listed users of the issue's hour holding `moment`."""
        response = self._dynamodb.get_item(
            TableName=self._table,
            Key=to_item({"pk": pk, "sk": window_key(moment, "hour")}),
            ProjectionExpression="events, #users",
            ExpressionAttributeNames={"#users": "users"},
        )
        values = from_item(response["Item"]) if "Item" in response else {}
        return int(values.get("events", 0)), set(values.get("users", []))

    def events_many(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Events in each (pk, window or tag day key) that has any."""
        unique = sorted(set(keys))
        items = batch_get(
            self._dynamodb, self._table, [{"pk": pk, "sk": sk} for pk, sk in unique], projection="pk, sk, events"
        )
        return {(values["pk"], values["sk"]): int(values.get("events", 0)) for values in items}

    def quota_usage(self, project_id: str, moment: datetime) -> int:
        """Events ingest accepted for the project in the minute of `moment`, by every container."""
        response = self._dynamodb.get_item(
            TableName=self._table,
            Key=to_item({"pk": quota_key(project_id), "sk": window_key(moment, "minute")}),
            ProjectionExpression="accepted",
        )
        return int(from_item(response["Item"]).get("accepted", 0)) if "Item" in response else 0

    def add_quota_usage(self, project_id: str, moment: datetime, accepted: int, dropped: int) -> int:
        """Adds what one ingest container accepted and refused in the minute of `moment`; returns the
        events accepted in that minute by every container so far (the quota's count)."""
        expires_at = int((window_start(moment, "minute") + WINDOW_TTL["minute"]).timestamp())
        response = self._dynamodb.update_item(
            TableName=self._table,
            Key=to_item({"pk": quota_key(project_id), "sk": window_key(moment, "minute")}),
            UpdateExpression="ADD accepted :accepted, dropped :dropped SET expires_at = :expires_at",
            ExpressionAttributeValues=to_item({":accepted": accepted, ":dropped": dropped, ":expires_at": expires_at}),
            ReturnValues="ALL_NEW",  # the item is a few attributes; UPDATED_NEW omits an ADD of 0 on moto
        )
        return int(from_item(response["Attributes"]).get("accepted", 0))

    def windows(self, pk: str, window: Window, since: datetime, until: datetime) -> list[WindowCount]:
        """Counts of every window of `pk` from `since` to `until`, oldest first (one Query)."""
        prefix, pattern = _FORMATS[window]
        response = self._dynamodb.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :from AND :to",
            ExpressionAttributeValues=to_item(
                {":pk": pk, ":from": window_key(since, window), ":to": window_key(until, window) + "~"}
            ),
        )
        counts = []
        for item in response.get("Items", []):
            values = from_item(item)
            start = datetime.strptime(values["sk"].removeprefix(prefix), pattern).replace(tzinfo=UTC)
            users = len(values.get("users", []))
            counts.append(
                WindowCount(start=start, events=values.get("events", 0), users=users, dropped=values.get("dropped", 0))
            )
        return counts

    def issue_hours(self, pk: str, since: datetime, until: datetime) -> list[IssueHour]:
        """The issue's hours from the one holding `since` to the one holding `until`, with their minutes,
        oldest first (one Query)."""
        prefix, pattern = _FORMATS["hour"]
        response = self._dynamodb.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :from AND :to",
            ExpressionAttributeValues=to_item(
                {":pk": pk, ":from": window_key(since, "hour"), ":to": window_key(until, "hour")}
            ),
        )
        hours = []
        for item in response.get("Items", []):
            values = from_item(item)
            start = datetime.strptime(values["sk"].removeprefix(prefix), pattern).replace(tzinfo=UTC)
            minutes = {
                start + timedelta(minutes=int(name[1:])): int(count)
                for name, count in values.items()
                if len(name) == 3 and name[0] == "m" and name[1:].isdigit()
            }
            hours.append(IssueHour(start, int(values.get("events", 0)), set(values.get("users", [])), minutes))
        return hours

    def issue_minutes(self, pk: str, since: datetime, until: datetime) -> list[WindowCount]:
        """The issue's minutes with events from the one holding `since` to the one holding `until`, oldest
        first (their hours: one Query)."""
        first, last = window_start(since, "minute"), window_start(until, "minute")
        return [
            WindowCount(start=start, events=events, users=None)
            for hour in self.issue_hours(pk, since, until)
            for start, events in sorted(hour.minutes.items())
            if first <= start <= last
        ]
