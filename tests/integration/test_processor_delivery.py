"""The processor under Kinesis delivery: redelivered batches, poison records, partial failures.
Batches go to the real handler directly, as the event source mapping would, on a shard of their own."""

from __future__ import annotations

import base64
import json
import re
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

import errata.event_preparation
import errata.store.counters
from errata.models.ingested import IngestedEvent
from errata.store.issues import IssueStore
from errata_local.lambda_context import LocalLambdaContext
from errata_local.stack import LocalStack, StackInfo
from functions.process import handler as process
from tests.aws_faults import ItemWriteFaults, item_write_faults
from tests.integration.conftest import TestProject

pytestmark = pytest.mark.integration
STREAM_ARN = "arn:aws:kinesis:us-east-1:000000000000:stream/errata-local-events"


class Shard:
    """A shard of our own, so the stack's poller never sees these records."""

    def __init__(self) -> None:
        self.shard_id = f"shardId-test-{uuid.uuid4().hex[:12]}"
        self.sequence = 49_650_000_000_000_000_000_000_000_000_000_000_000_000_000_000

    def record(self, data: bytes) -> dict[str, Any]:
        self.sequence += 1
        return {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": uuid.uuid4().hex,
                "sequenceNumber": str(self.sequence),
                "data": base64.b64encode(data).decode(),
                "approximateArrivalTimestamp": 1795755935.7,
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{self.shard_id}:{self.sequence}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": "arn:aws:iam::000000000000:role/process",
            "awsRegion": "us-east-1",
            "eventSourceARN": STREAM_ARN,
        }


def _event_record(
    shard: Shard,
    project: TestProject,
    message: str,
    user: str | dict[str, str] | None = None,
    event_id: str | None = None,
    received_at: datetime | None = None,
    **fields: Any,
) -> dict[str, Any]:
    payload: dict[str, Any] = {"message": message, "release": "api@3.1.0", **fields}
    if user:
        payload["user"] = {"id": user} if isinstance(user, str) else user
    ingested = IngestedEvent(
        project_id=project.project_id,
        event_id=event_id or uuid.uuid4().hex,
        received_at=received_at or datetime.now(UTC),
        payload=payload,
    )
    return shard.record(ingested.encode())


def _deliver(records: list[dict[str, Any]]) -> list[str]:
    response = process.lambda_handler({"Records": records}, LocalLambdaContext(function_name="process"))
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def _counts(project: TestProject) -> dict[str, int]:
    return {issue["title"]: issue["count"] for issue in project.issues()}


def test_replaying_a_batch_does_not_change_any_count(project: TestProject) -> None:
    shard = Shard()
    batch = [_event_record(shard, project, f"job {n} failed", user=f"u{n % 3}") for n in range(30)]
    batch += [_event_record(shard, project, "cache miss storm") for _ in range(12)]
    assert _deliver(batch) == []
    first = _counts(project)
    assert first == {"job 29 failed": 30, "cache miss storm": 12}  # titled by the latest event
    assert _deliver(batch) == []
    assert _deliver(batch[10:25]) == []  # a redelivered middle slice, as after a bisect
    assert _counts(project) == first
    users = {issue["title"]: issue["user_count"] for issue in project.issues()}
    assert users["cache miss storm"] == 0
    assert users["job 29 failed"] == 3


def test_a_poison_record_goes_to_the_dead_letter_queue_with_its_data(
    stack: LocalStack, info: StackInfo, project: TestProject
) -> None:
    shard = Shard()
    poison = shard.record(b"\x00 definitely not an ingested event")
    batch = [
        _event_record(shard, project, "before poison"),
        poison,
        _event_record(shard, project, "after poison"),
    ]
    assert _deliver(batch) == [], "a poison record is handled by dead-lettering, not retried forever"
    assert sorted(_counts(project)) == ["after poison", "before poison"]

    sqs: Any = stack.client("sqs")
    messages = sqs.receive_message(QueueUrl=info.settings.dead_letter_queue_url, MaxNumberOfMessages=10)["Messages"]
    bodies = [json.loads(m["Body"]) for m in messages]
    mine = [b for b in bodies if b.get("sequence_number") == poison["kinesis"]["sequenceNumber"]]
    assert len(mine) == 1
    assert base64.b64decode(mine[0]["data_base64"]) == b"\x00 definitely not an ingested event"
    assert shard.shard_id in mine[0]["source"]
    assert "not an ingested event record" in mine[0]["reason"]
    assert _deliver(batch) == []  # redelivered: already covered by the position, not dead-lettered twice
    again = sqs.receive_message(QueueUrl=info.settings.dead_letter_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    assert not [m for m in again.get("Messages", []) if poison["kinesis"]["sequenceNumber"] in m["Body"]]


def test_a_record_that_fails_is_reported_and_redelivery_from_it_counts_each_event_once(
    project: TestProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    shard = Shard()
    batch = [_event_record(shard, project, f"row {n} rejected") for n in range(10)]
    real_fingerprint = errata.event_preparation.fingerprint_event
    failing_event = "row 6 rejected"

    def flaky(event: Any, *args: Any) -> Any:
        if event.message == failing_event:
            raise ConnectionError("a transient fault while processing")
        return real_fingerprint(event, *args)

    monkeypatch.setattr(errata.event_preparation, "fingerprint_event", flaky)
    failures = _deliver(batch)
    assert failures[0] == batch[6]["kinesis"]["sequenceNumber"]
    assert set(failures) == {r["kinesis"]["sequenceNumber"] for r in batch[6:]}
    assert sum(_counts(project).values()) == 6, "records before the failure are written"

    monkeypatch.setattr(errata.event_preparation, "fingerprint_event", real_fingerprint)
    assert _deliver(batch[6:]) == []  # the mapping resumes at the lowest failed sequence number
    assert sum(_counts(project).values()) == 10
    assert _deliver(batch) == []  # and a full replay changes nothing
    assert sum(_counts(project).values()) == 10


def _stored_counts(stack: LocalStack, info: StackInfo, project: TestProject) -> list[int]:
    dynamodb: Any = stack.client("dynamodb")
    pages = dynamodb.get_paginator("query").paginate(
        TableName=info.settings.issues_table,
        KeyConditionExpression="project_id = :p",
        ExpressionAttributeValues={":p": {"S": project.project_id}},
    )
    return [int(item["event_count"]["N"]) for page in pages for item in page["Items"]]


def test_a_batch_with_more_issues_than_a_transaction_could_hold_is_written_whole(
    stack: LocalStack, info: StackInfo, project: TestProject
) -> None:
    shard = Shard()
    kinds = [f"failure kind {chr(65 + n // 26)}{chr(65 + n % 26)}" for n in range(150)]
    batch = [_event_record(shard, project, kind) for kind in kinds] + [_event_record(shard, project, kinds[0])]
    assert _deliver(batch) == []
    counts = _stored_counts(stack, info, project)
    assert (len(counts), sum(counts), max(counts)) == (150, 151, 2)
    assert _deliver(batch) == []
    assert sorted(_stored_counts(stack, info, project)) == sorted(counts)


def test_a_concurrent_update_of_the_same_issue_is_retried_not_lost(
    project: TestProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    first_shard, second_shard = Shard(), Shard()
    assert _deliver([_event_record(first_shard, project, "lock contention", user="a")]) == []

    real_states = IssueStore.current_states
    reads: list[int] = []

    def stale_first_read(self: Any, keys: list[tuple[str, str]], consistent: bool = True) -> Any:
        states = real_states(self, keys, consistent)
        if not consistent:
            return states  # the sampling plan's read of the day's count, not the writer's
        reads.append(len(states))
        if len(reads) == 1:  # as if another shard wrote between our read and our write
            return {key: replace(state, revision=state.revision - 1) for key, state in states.items()}
        return states

    monkeypatch.setattr(IssueStore, "current_states", stale_first_read)
    batch = [_event_record(second_shard, project, "lock contention", user="b") for _ in range(3)]
    assert _deliver(batch) == []
    assert len(reads) == 2, "the refused write was made again after a fresh read"
    issue = project.issues()[0]
    assert (issue["count"], issue["user_count"]) == (4, 2)


def _processor_dynamodb() -> Any:
    return process._settings_and_clients()[1]["dynamodb"]


def _item_faults(stack: LocalStack, info: StackInfo, **options: Any) -> ItemWriteFaults:
    tables = {info.settings.issues_table, info.settings.counters_table}
    tables |= {info.settings.user_issues_table, info.settings.releases_table}
    return ItemWriteFaults(applier=stack.client("dynamodb"), tables=tables, **options)


def _minute_events(hours: list[dict[str, Any]]) -> int:
    """The events of every minute of these hour items (errata.store.counters: m<MM> counts)."""
    return sum(int(value["N"]) for hour in hours for name, value in hour.items() if re.fullmatch(r"m\d\d", name))


def _totals(stack: LocalStack, info: StackInfo, project: TestProject) -> dict[str, Any]:
    """Every count the batch adds to, read back: issues, the minute counts of their hours and their tag days,
    the user index, the releases."""
    dynamodb: Any = stack.client("dynamodb")
    totals: dict[str, Any] = {}
    for issue in project.issues():
        windows = dynamodb.query(
            TableName=info.settings.counters_table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :h)",
            ExpressionAttributeValues={":pk": {"S": f"issue#{project.project_id}#{issue['id']}"}, ":h": {"S": "h#"}},
        )["Items"]
        tags = project.api(f"/issues/{issue['id']}/tags").json()["events"]
        totals[issue["title"]] = (issue["count"], _minute_events(windows), tags)
    for user in ("u0", "u1", "u2", "u3", "u4"):
        items = dynamodb.query(
            TableName=info.settings.user_issues_table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"{project.project_id}#id:{user}"}},
        )["Items"]
        totals[user] = sum(int(item["events"]["N"]) for item in items)
    release = dynamodb.get_item(
        TableName=info.settings.releases_table,
        Key={"project_id": {"S": project.project_id}, "version": {"S": "api@3.1.0"}},
    )["Item"]
    totals["release"] = int(release["events"]["N"])
    return totals


def test_throttled_writes_and_writes_sent_twice_count_each_event_once(
    stack: LocalStack, info: StackInfo, project: TestProject
) -> None:
    """A write throttled past botocore's retries is made again; one whose answer was lost (botocore sent it
    again) is refused by its shard mark and left as the first send wrote it."""
    shard = Shard()
    batch = [_event_record(shard, project, "hot issue", user=f"u{n % 4}") for n in range(20)]
    faults = _item_faults(stack, info, throttle_share=0.3, applied_twice_share=0.3)
    with item_write_faults(_processor_dynamodb(), faults):
        assert _deliver(batch) == []
        assert _deliver([_event_record(shard, project, "hot issue", user="u4") for _ in range(5)]) == []
    assert faults.throttled >= 3 and faults.applied_twice >= 3
    issue = project.issues()[0]
    assert (issue["count"], issue["user_count"]) == (25, 5)
    assert _totals(stack, info, project) == {
        "hot issue": (25, 25, 25),
        "u0": 5,
        "u1": 5,
        "u2": 5,
        "u3": 5,
        "u4": 5,
        "release": 25,
    }


_KINDS = ("card", "wallet", "voucher")  # words: grouping strips numbers from messages


@pytest.mark.parametrize("redelivery", ["whole", "bisected", "longer"])
def test_a_batch_that_fails_part_way_through_its_writes_counts_each_event_once_when_redelivered(
    stack: LocalStack, info: StackInfo, project: TestProject, redelivery: str
) -> None:
    """The connection drops after a few of the batch's item writes. Lambda retries the batch whole, or in
    halves (bisect on error), or with newer records after it: the items the first attempt wrote carry its
    shard mark, and each retry adds to them only the records they lack."""
    shard = Shard()
    batch = [
        _event_record(shard, project, f"payment by {_KINDS[n % 3]} declined", user=f"u{n % 5}", transaction="/pay")
        for n in range(30)
    ]
    later = [_event_record(shard, project, "payment by card declined", user="u0") for _ in range(4)]
    faults = _item_faults(stack, info, fail_after=9)
    # Every record failed: Powertools raises, and Lambda retries the invocation.
    with item_write_faults(_processor_dynamodb(), faults), pytest.raises(BatchProcessingError):
        _deliver(batch)
    # Nine of the batch's item writes landed and every later one failed: the items hold part of the batch.
    assert faults.failed > 0 and faults.calls - faults.failed == 9
    if redelivery == "whole":
        assert _deliver(batch) == []
    elif redelivery == "bisected":
        assert _deliver(batch[:15]) == []
        assert _deliver(batch[15:]) == []
    else:
        assert _deliver(batch + later) == []
    assert _deliver(batch) == []  # and a replay of what is now below the position changes nothing
    extra = 4 if redelivery == "longer" else 0
    assert _totals(stack, info, project) == {
        "payment by card declined": (10 + extra, 10 + extra, 10 + extra),
        "payment by wallet declined": (10, 10, 10),
        "payment by voucher declined": (10, 10, 10),
        "u0": 6 + extra,
        "u1": 6,
        "u2": 6,
        "u3": 6,
        "u4": 6,
        "release": 30 + extra,
    }


def test_an_event_sent_again_is_counted_once_in_its_batch_and_in_later_ones(project: TestProject) -> None:
    """An SDK that sends an event again (after a timeout, from its offline cache) makes a new record with the
    same event id: Sentry drops an id it has already seen, so does the processor (within the shard's recent
    ids, errata.store.stream_positions)."""
    shard = Shard()
    again = uuid.uuid4().hex
    batch = [
        _event_record(shard, project, "sent twice", event_id=again),
        _event_record(shard, project, "sent once"),
        _event_record(shard, project, "sent twice", event_id=again),
    ]
    assert _deliver(batch) == []
    assert _deliver([_event_record(shard, project, "sent twice", event_id=again)]) == []
    assert _deliver([_event_record(shard, project, "sent twice")]) == []  # another event of that issue counts
    assert _counts(project) == {"sent twice": 2, "sent once": 1}


def test_an_issue_hour_with_many_users_lists_a_bounded_number_of_them(
    stack: LocalStack, info: StackInfo, project: TestProject
) -> None:
    """The hour window gains each batch's users (ADD to a set): unbounded, 10,000 users pass DynamoDB's
    400 KB item limit and every later write of the window fails until the hour rolls over."""
    shard = Shard()
    for start in range(0, 240, 60):
        batch = [_event_record(shard, project, "login broken", user=f"user-{start + n}") for n in range(60)]
        assert _deliver(batch) == []
    issue = project.issues()[0]
    assert issue["count"] == 240
    assert abs(issue["user_count"] - 240) <= 5  # the issue's HyperLogLog sketch: the unbounded answer
    dynamodb: Any = stack.client("dynamodb")
    windows = dynamodb.query(
        TableName=info.settings.counters_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"issue#{project.project_id}#{issue['id']}"}},
    )["Items"]
    hours = [w for w in windows if w["sk"]["S"].startswith("h#")]  # the batches may straddle an hour
    assert sum(int(w["events"]["N"]) for w in hours) == _minute_events(hours) == 240
    for window in windows:
        if window["sk"]["S"].startswith("h#"):
            assert len(window["users"]["SS"]) <= errata.store.counters.MAX_USERS_PER_WINDOW
            assert len(json.dumps(window)) < 8_000
    sketch = next(window for window in windows if window["sk"]["S"] == "users")
    assert len(sketch["sketch"]["B"]) < 3_000  # the issue's HyperLogLog: bounded whatever the users
    # A full user list leaves the hour's tag values counted: each list is bounded on its own.
    breakdown = project.api(f"/issues/{issue['id']}/tags").json()
    release = next(tag for tag in breakdown["tags"] if tag["key"] == "release")
    assert ([(v["value"], v["count"]) for v in release["values"]], release["other"]) == ([("api@3.1.0", 240)], 0)


def test_an_issue_counts_its_tag_values_once_however_often_a_batch_is_delivered(project: TestProject) -> None:
    shard = Shard()
    runtime = {"runtime": {"name": "CPython", "version": "3.12.1"}}
    batch = [
        _event_record(
            shard,
            project,
            "payment declined",
            environment="production" if n % 4 else "staging",
            server_name=f"web-{n % 3}",
            transaction="/checkout",
            contexts=runtime,
            tags={"browser": "Chrome 120"} if n < 5 else {},
        )
        for n in range(20)
    ]
    assert _deliver(batch) == []
    assert _deliver(batch[5:]) == []  # redelivered: the hour's tag values are marked with the batch
    issue = project.issues()[0]
    breakdown = project.api(f"/issues/{issue['id']}/tags").json()
    assert breakdown["events"] == 20
    tags = {tag["key"]: ({v["value"]: v["count"] for v in tag["values"]}, tag["other"]) for tag in breakdown["tags"]}
    assert tags["environment"] == ({"production": 15, "staging": 5}, 0)
    assert tags["release"] == ({"api@3.1.0": 20}, 0)
    assert tags["server"] == ({"web-0": 7, "web-1": 7, "web-2": 6}, 0)
    assert tags["route"] == ({"/checkout": 20}, 0)
    assert tags["runtime"] == ({"CPython 3.12.1": 20}, 0)
    assert tags["browser"] == ({"Chrome 120": 5}, 15)  # 15 events had no browser
    assert project.api(f"/issues/{'0' * 32}/tags").status_code == 404


def test_an_issue_hour_lists_a_bounded_number_of_tag_values_and_counts_every_event(
    stack: LocalStack, info: StackInfo, project: TestProject
) -> None:
    """An autoscaled fleet gives every event a new server name: the hour lists MAX_TAG_VALUES_PER_HOUR
    values, then counts events as untracked instead of growing the item."""
    shard = Shard()
    cap = errata.store.counters.MAX_TAG_VALUES_PER_HOUR
    for start in range(0, 90, 30):
        batch = [
            _event_record(shard, project, "disk full", server_name=f"ip-10-0-{start + n}-{'x' * 50}") for n in range(30)
        ]
        assert _deliver(batch) == []
    issue = project.issues()[0]
    assert issue["count"] == 90
    dynamodb: Any = stack.client("dynamodb")
    hours = dynamodb.query(
        TableName=info.settings.counters_table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :hour)",
        ExpressionAttributeValues={":pk": {"S": f"issue#{project.project_id}#{issue['id']}"}, ":hour": {"S": "h#"}},
    )["Items"]
    assert sum(int(hour["events"]["N"]) for hour in hours) == 90
    for hour in hours:
        assert len(hour["tag_values"]["SS"]) <= cap
        assert len(json.dumps(hour)) < 12_000
    breakdown = project.api(f"/issues/{issue['id']}/tags").json()
    server = next(tag for tag in breakdown["tags"] if tag["key"] == "server")
    assert len(server["values"]) == 10
    assert sum(v["count"] for v in server["values"]) + server["other"] == 90
    release = next(tag for tag in breakdown["tags"] if tag["key"] == "release")
    assert sum(v["count"] for v in release["values"]) >= 30  # listed while the hour had room


def test_a_batch_of_new_issues_leaves_none_of_them_in_the_outbox(
    stack: LocalStack, info: StackInfo, project: TestProject
) -> None:
    """Each new issue's `Issue Created` is published after the counts are written and then cleared from the
    outbox (the clears run in the batch's write pool)."""
    shard = Shard()
    assert _deliver([_event_record(shard, project, f"new failure {n}", exception=_crash(n)) for n in range(30)]) == []
    assert len(project.issues()) == 30
    store = IssueStore(stack.client("dynamodb"), info.settings.issues_table)
    assert [a for a in store.pending_announcements() if a.project_id == project.project_id] == []


def _crash(n: int) -> dict[str, Any]:
    return {
        "values": [
            {
                "type": f"ImportFailed{n}",
                "value": "no module",
                "stacktrace": {
                    "frames": [{"module": f"app.jobs{n}", "function": "run", "in_app": True, "lineno": n + 1}]
                },
            }
        ]
    }
