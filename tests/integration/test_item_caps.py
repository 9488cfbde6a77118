"""No item the processor writes can pass its cap (errata.limits.ITEM_CAP_BYTES), whatever the events hold:
hypothesis draws users (ids, emails, IPs), releases, environments, tags, routes and stack frames at and past
the normalization's limits, sends them through the real processor on several shards, then measures every item
of the project in every table by DynamoDB's own size rules (bench/capacity.py). And marks that no retry can
need any more are dropped even from items the processor never reads first."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bench.capacity import item_size
from errata.limits import INGEST_MAX_EVENT_BYTES, ITEM_CAP_BYTES
from errata.store.shard_marks import STALE_AFTER_DAYS
from errata.store.user_issues import user_key
from errata_local.stack import LocalStack, StackInfo
from tests.conftest import TestProject, new_test_project
from tests.integration.test_processor_delivery import Shard, _deliver, _event_record

pytestmark = pytest.mark.integration


# An event holds about this many of the drawn texts (message, frames, release, environment, route, user),
# besides its tags; tag keys and values are drawn at most this long (the normalization keeps 200).
TEXTS_PER_EVENT = 12
TAG_CHARS = 1000


@dataclass(frozen=True)
class Traffic:
    """What hypothesis draws: sizes at and past the normalization's limits, each event within what ingest
    accepts (errata.limits.INGEST_MAX_EVENT_BYTES: a larger one never reaches the processor); the values
    come from `seed`."""

    shards: int
    users: int
    releases: int
    issues: int
    events: int
    tags_per_event: int
    text_chars: int  # of ids, emails, releases, tag keys and values, routes, frames
    full_length: bool  # every text exactly `text_chars` long, else 1 to `text_chars`
    unicode: bool
    seed: int

    def __post_init__(self) -> None:
        assert self.event_bytes_at_most() <= INGEST_MAX_EVENT_BYTES, self

    @property
    def tag_chars(self) -> int:
        return min(self.text_chars, TAG_CHARS)

    def event_bytes_at_most(self) -> int:
        chars = TEXTS_PER_EVENT * self.text_chars + 2 * self.tags_per_event * self.tag_chars
        return chars * (4 if self.unicode else 1)  # UTF-8: at most 4 bytes a character

    def text(self, rng: random.Random, most: int | None = None) -> str:
        alphabet = "abcdefghij.-_/€漢🙂" if self.unicode else "abcdefghij.-_/"
        most = most or self.text_chars
        length = most if self.full_length else rng.randint(1, most)
        return "".join(rng.choices(alphabet, k=length))

    def tag(self, rng: random.Random) -> str:
        return self.text(rng, self.tag_chars)


# The largest values the normalization keeps (errata.normalization: 100 tags of 200-character keys and
# values, strings of 16 KB), on many users and releases: the items at their largest.
LARGEST = (
    Traffic(3, 300, 60, 1, 150, 130, 200, True, True, 1),
    Traffic(2, 40, 5, 2, 60, 11, 20_000, True, True, 2),
)


@st.composite
def traffic_within_ingest(draw: st.DrawFn) -> Traffic:
    text_chars = draw(st.sampled_from([8, 64, 200, 201, 1000, 20_000]))
    unicode = draw(st.booleans())
    room = INGEST_MAX_EVENT_BYTES // (4 if unicode else 1) - TEXTS_PER_EVENT * text_chars
    most_tags = min(130, room // (2 * min(text_chars, TAG_CHARS)))
    return Traffic(
        shards=draw(st.integers(1, 3)),
        users=draw(st.integers(1, 300)),
        releases=draw(st.integers(1, 60)),
        issues=draw(st.integers(1, 3)),
        events=draw(st.integers(20, 150)),
        tags_per_event=draw(st.integers(0, most_tags)),
        text_chars=text_chars,
        full_length=draw(st.booleans()),
        unicode=unicode,
        seed=draw(st.integers(0, 2**32)),
    )


def _user(traffic: Traffic, rng: random.Random) -> dict[str, str]:
    user = {"id": traffic.text(rng)}
    if rng.random() < 0.5:
        user["email"] = traffic.text(rng) + "@example.com"
    if rng.random() < 0.5:
        user["ip_address"] = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}"
    return user


def _items_of(stack: LocalStack, info: StackInfo, project_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Every item of every table whose key names the project (a Scan: test data only)."""
    dynamodb: Any = stack.client("dynamodb")
    tables = [
        info.settings.issues_table,
        info.settings.counters_table,
        info.settings.user_issues_table,
        info.settings.releases_table,
    ]
    found = []
    for table in tables:
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                keys = [value.get("S", "") for name, value in item.items() if name in ("project_id", "pk", "sk")]
                if any(key == project_id or key.startswith((f"{project_id}#", f"issue#{project_id}#")) for key in keys):
                    found.append((table, item))
    return found


# Derandomized: CI runs the examples a local run ran (a draw of 150 events of 5 MB once ran for an hour).
@settings(max_examples=4, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(traffic=traffic_within_ingest())
@example(traffic=LARGEST[0])
@example(traffic=LARGEST[1])
def test_no_item_written_passes_its_cap(stack: LocalStack, info: StackInfo, traffic: Traffic) -> None:
    project = new_test_project(stack, info)
    rng = random.Random(traffic.seed)
    shards = [Shard() for _ in range(traffic.shards)]
    users = [_user(traffic, rng) for _ in range(traffic.users)]
    releases = [traffic.text(rng) for _ in range(traffic.releases)]
    # Few issues, so each gathers many users, releases and tag values.
    crashes = [
        {
            "type": f"CheckoutError{n}",
            "value": traffic.text(rng),
            "stacktrace": {
                "frames": [
                    {"module": traffic.text(rng), "function": traffic.text(rng), "in_app": True, "lineno": line}
                    for line in range(1, 4)
                ]
            },
        }
        for n in range(traffic.issues)
    ]
    records: list[list[dict[str, Any]]] = [[] for _ in shards]
    for n in range(traffic.events):
        shard = n % len(shards)
        records[shard].append(
            _event_record(
                shards[shard],
                project,
                "checkout failed",
                release=rng.choice(releases),
                environment=traffic.text(rng),
                tags={traffic.tag(rng): traffic.tag(rng) for _ in range(traffic.tags_per_event)},
                transaction=traffic.text(rng),
                exception={"values": [rng.choice(crashes)]},
                user=rng.choice(users),
            )
        )
    for shard_records in records:
        for start in range(0, len(shard_records), 50):
            assert _deliver(shard_records[start : start + 50]) == []
    items = _items_of(stack, info, project.project_id)
    assert any(table == info.settings.issues_table for table, _ in items), "the events were written"
    sizes = sorted(((item_size(item), table) for table, item in items), reverse=True)
    assert sizes[0][0] <= ITEM_CAP_BYTES, sizes[:3]


def test_marks_no_retry_can_need_are_dropped_from_an_item_never_read_first(
    stack: LocalStack, info: StackInfo, project: TestProject
) -> None:
    """A user's issue item is written without being read; the marks of shards that wrote it long ago (or that
    a reshard retired) go at its next write, a recent one of another shard stays."""
    shard = Shard()
    assert _deliver([_event_record(shard, project, "session expired", user="u-1")]) == []
    dynamodb: Any = stack.client("dynamodb")
    [issue] = project.issues()
    key = {"pk": {"S": user_key(project.project_id, "id", "u-1")}, "issue_id": {"S": issue["id"]}}
    epoch_day = (datetime.now(UTC) - datetime(1970, 1, 1, tzinfo=UTC)).days
    old, recent = epoch_day - STALE_AFTER_DAYS - 1, epoch_day - 1
    dynamodb.update_item(
        TableName=info.settings.user_issues_table,
        Key=key,
        UpdateExpression="SET w_retiredshard = :old, w_othershard1 = :recent",
        ExpressionAttributeValues={":old": {"S": f"{7:064d}/{old}"}, ":recent": {"S": f"{9:064d}/{recent}"}},
    )
    assert _deliver([_event_record(shard, project, "session expired", user="u-1")]) == []
    item = dynamodb.get_item(TableName=info.settings.user_issues_table, Key=key, ConsistentRead=True)["Item"]
    marks = sorted(name for name in item if name.startswith("w_"))
    assert "w_retiredshard" not in marks
    assert "w_othershard1" in marks
    assert len(marks) == 2  # the recent one and the writer's own
    assert item["events"] == {"N": "2"}
