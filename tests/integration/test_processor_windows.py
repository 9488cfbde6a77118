"""The processor in a tumbling window (TumblingWindowInSeconds): each invocation sums its records into the
window's state, new issues are written at once, and the final invocation writes every item once. The
invocations go to the real handler as Lambda makes them (docs/decisions/0009-write-path-cost.md, step 9)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest

import errata.processing.batch
from errata_local.lambda_context import LocalLambdaContext
from errata_local.stack import LocalStack, StackInfo
from functions.process import handler as process
from tests.aws_faults import item_write_faults
from tests.integration.conftest import TestProject
from tests.integration.test_processor_delivery import (
    STREAM_ARN,
    Shard,
    _event_record,
    _item_faults,
    _processor_dynamodb,
    _totals,
)

pytestmark = pytest.mark.integration


class Window:
    """One shard's window, as the event source mapping drives it: the state each invocation returns is the
    next one's (unless a test plays a lost response), and the last invocation is flagged final."""

    def __init__(self, shard: Shard) -> None:
        self.shard = shard
        self.state: dict[str, Any] = {}

    def invoke(self, records: list[dict[str, Any]], *, final: bool = False, state: dict[str, Any] | None = None) -> Any:
        event = {
            "Records": records,
            "window": {"start": "2026-12-07T14:00:00Z", "end": "2026-12-07T14:00:30Z"},
            "state": self.state if state is None else state,
            "shardId": self.shard.shard_id,
            "eventSourceARN": STREAM_ARN,
            "eventSource": "aws:kinesis",
            "isFinalInvokeForWindow": final,
            "isWindowTerminatedEarly": False,
        }
        response = process.lambda_handler(event, LocalLambdaContext(function_name="process"))
        assert response["batchItemFailures"] == []
        assert "state" in response, "a window's response carries its state"
        self.state = response["state"]
        return response


class WriteCount:
    """The processor's DynamoDB writes by table, counted at the boto3 layer."""

    def __init__(self) -> None:
        self.by_table: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, params: dict[str, Any], **_: Any) -> None:
        with self._lock:
            for table in [params["TableName"]] if "TableName" in params else params.get("RequestItems", {}):
                self.by_table[table] += 1

    def __enter__(self) -> WriteCount:
        events = _processor_dynamodb().meta.events
        for operation in _WRITES:
            events.register(f"provide-client-params.dynamodb.{operation}", self, unique_id=f"wc-{operation}")
        return self

    def __exit__(self, *_: Any) -> None:
        events = _processor_dynamodb().meta.events
        for operation in _WRITES:
            events.unregister(f"provide-client-params.dynamodb.{operation}", unique_id=f"wc-{operation}")


_WRITES = ("UpdateItem", "PutItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")


_KINDS = ("card", "wallet", "voucher")


def _records(shard: Shard, project: TestProject, count: int, offset: int = 0) -> list[dict[str, Any]]:
    return [
        _event_record(shard, project, f"payment by {_KINDS[n % 3]} declined", user=f"u{n % 5}", transaction="/pay")
        for n in range(offset, offset + count)
    ]


def _expected(per_kind: int) -> dict[str, Any]:
    per_user = 3 * per_kind // 5
    return {
        **{f"payment by {kind} declined": (per_kind, per_kind, per_kind) for kind in _KINDS},
        **{f"u{n}": per_user for n in range(5)},
        "release": 3 * per_kind,
    }


def test_a_window_shows_new_issues_at_once_and_writes_every_count_once_at_its_end(
    stack: LocalStack, info: StackInfo, project: TestProject
) -> None:
    shard = Shard()
    window = Window(shard)
    window.invoke(_records(shard, project, 15))
    # The three issues are new: written, with their first batch's counts, at their first invocation.
    assert {i["title"]: i["count"] for i in project.issues()} == {f"payment by {k} declined": 5 for k in _KINDS}
    with WriteCount() as writes:
        window.invoke(_records(shard, project, 15, offset=15))
        window.invoke(_records(shard, project, 15, offset=30))
    # Established issues wait for the window's end; only a user's issues (which rarely repeat within a
    # window) are written by each invocation: 5 users x 3 issues, twice.
    assert writes.by_table == {info.settings.user_issues_table: 30}, writes.by_table
    assert {i["title"]: i["count"] for i in project.issues()} == {f"payment by {k} declined": 5 for k in _KINDS}
    with WriteCount() as writes:
        window.invoke([], final=True)
    assert _totals(stack, info, project) == _expected(15)
    assert {i["title"]: i["user_count"] for i in project.issues()} == {f"payment by {k} declined": 5 for k in _KINDS}
    # Each item once: 3 issues, and per issue a minute and an hour window, a tag day, a sketch, samples
    # (one write each), the project's windows, users, active minute, release, route traffic, plus the position.
    assert writes.by_table[info.settings.issues_table] == 3
    assert writes.by_table[info.settings.user_issues_table] == 0
    assert writes.by_table[info.settings.releases_table] == 1
    assert writes.by_table[info.settings.stream_positions_table] == 1


def test_a_window_counts_each_event_once_when_lambda_redelivers_its_invocations(
    stack: LocalStack, info: StackInfo, project: TestProject
) -> None:
    """A response lost after an invocation did its work: Lambda invokes again with the state it had
    checkpointed before. The first invocation's new issues were written; its retry finds their marks."""
    shard = Shard()
    window = Window(shard)
    first = _records(shard, project, 15)
    window.invoke(first)
    window.invoke(first, state={})  # the first invocation's response lost: its retry, from no state
    second = _records(shard, project, 15, offset=15)
    before = window.state
    window.invoke(second)
    window.invoke(second, state=before)  # the second's response lost
    window.invoke(first)  # records below the state's end: skipped
    final_state = window.state
    window.invoke([], final=True)
    assert _totals(stack, info, project) == _expected(10)
    window.invoke([], final=True, state=final_state)  # the final's answer lost after it landed: nothing added
    assert _totals(stack, info, project) == _expected(10)


def test_a_final_invocation_that_fails_part_way_is_retried_whole_and_counts_each_event_once(
    stack: LocalStack, info: StackInfo, project: TestProject
) -> None:
    shard = Shard()
    window = Window(shard)
    window.invoke(_records(shard, project, 15))
    window.invoke(_records(shard, project, 15, offset=15))
    state = window.state
    faults = _item_faults(stack, info, fail_after=6)
    tail = _records(shard, project, 3, offset=30)
    with item_write_faults(_processor_dynamodb(), faults), pytest.raises(errata.processing.batch.WindowNotWritten):
        window.invoke(tail, final=True)
    assert faults.failed > 0 and faults.calls - faults.failed == 6
    window.invoke(tail, final=True, state=state)  # Lambda retries it: the same state, the same records
    assert _totals(stack, info, project) == {**_expected(11), "u0": 7, "u1": 7, "u2": 7, "u3": 6, "u4": 6}


def test_a_window_whose_state_would_grow_too_large_writes_what_it_holds(
    stack: LocalStack, info: StackInfo, project: TestProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(errata.processing.batch, "MAX_STATE_BYTES", 1)
    shard = Shard()
    window = Window(shard)
    window.invoke(_records(shard, project, 15))
    window.invoke(_records(shard, project, 15, offset=15))
    assert _totals(stack, info, project) == _expected(10), "written at the invocation, not carried"
    window.invoke([], final=True)
    assert _totals(stack, info, project) == _expected(10)


def test_a_resolved_issue_regresses_at_the_invocation_that_sees_it_again(project: TestProject) -> None:
    import json

    import requests

    shard = Shard()
    window = Window(shard)
    window.invoke([_event_record(shard, project, "cart total negative", release="api@1.0.0")])
    window.invoke([], final=True)
    [issue] = project.issues()
    resolved = requests.patch(
        f"{project.base_url}/api/projects/{project.project_id}/issues/{issue['id']}",
        data=json.dumps({"status": "resolved"}),
        headers={"Authorization": f"Bearer {project.api_token}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert resolved.status_code == 200
    window.invoke([_event_record(shard, project, "cart total negative", release="api@1.1.0")])
    [issue] = project.issues()
    assert (issue["status"], issue["count"]) == ("regressed", 2), "a status change does not wait for the window"


def test_an_issue_two_shards_share_counts_every_user_once_both_windows_end(project: TestProject) -> None:
    """Shard A creates the issue (at once); shard B's events wait in its window, and B's window ends first:
    B writes the issue from the sketch as it was, without A's users. A's window then writes the sketch with
    them all, and raises the issue's user count to the sketch's."""
    a, b = Window(Shard()), Window(Shard())
    a.invoke([_event_record(a.shard, project, "checkout failed", user="alice")])
    b.invoke([_event_record(b.shard, project, "checkout failed", user=user) for user in ("bob", "erin")])
    b.invoke([], final=True)
    [issue] = project.issues()
    assert (issue["count"], issue["user_count"]) == (3, 2)  # A's users are still in A's window
    a.invoke([], final=True)
    [issue] = project.issues()
    assert (issue["count"], issue["user_count"]) == (3, 3)


def test_an_issue_keeps_the_users_another_shard_counted_before_its_sketch_holds_them(
    stack: LocalStack, info: StackInfo, project: TestProject
) -> None:
    """Another shard wrote the issue with five users whose sketch its window has not written yet: a write
    from this shard, whose sketch read lacks them, must not lower the count."""
    shard = Shard()
    assert _deliver_one(shard, project, "ledger out of balance", "amy") == 1
    [issue] = project.issues()
    dynamodb: Any = stack.client("dynamodb")
    dynamodb.update_item(
        TableName=info.settings.issues_table,
        Key={"project_id": {"S": project.project_id}, "issue_id": {"S": issue["id"]}},
        UpdateExpression="SET user_count = :five",
        ExpressionAttributeValues={":five": {"N": "5"}},
    )
    assert _deliver_one(shard, project, "ledger out of balance", "bo") == 5


def _deliver_one(shard: Shard, project: TestProject, message: str, user: str) -> int:
    response = process.lambda_handler(
        {"Records": [_event_record(shard, project, message, user=user)]}, LocalLambdaContext(function_name="process")
    )
    assert response["batchItemFailures"] == []
    [issue] = project.issues()
    return int(issue["user_count"])


def test_a_window_writes_its_established_issues_payloads_in_one_object_at_its_end(
    stack: LocalStack, info: StackInfo, project: TestProject
) -> None:
    """At low rates an invocation holds a few events: their kept payloads ride in the window's state, and the
    final invocation writes them, with its own, into one object the issue then points into."""
    s3 = stack.client("s3")
    bucket = info.settings.event_payloads_bucket

    def objects() -> int:
        return int(s3.list_objects_v2(Bucket=bucket, Prefix="batches/").get("KeyCount", 0))

    shard = Shard()
    window = Window(shard)
    before = objects()
    window.invoke([_event_record(shard, project, "stock level below zero", extra={"step": "a"})])
    assert objects() == before + 1, "a new issue's representative is written with it"
    [issue] = project.issues()
    window.invoke([_event_record(shard, project, "stock level below zero", extra={"step": "b"})])
    window.invoke([_event_record(shard, project, "stock level below zero", extra={"step": "c"})])
    assert objects() == before + 1, "established issues' payloads are carried in the state"
    window.invoke([_event_record(shard, project, "stock level below zero", extra={"step": "d"})], final=True)
    assert objects() == before + 2, "the window's carried payloads and its final invocation's: one object"
    detail = project.api(f"/issues/{issue['id']}").json()
    assert detail["count"] == 4
    assert detail["event"]["extra"] == {"step": "d"}, "the issue opens on the window's latest event"
    sampled = sorted(e["extra"]["step"] for e in project.api(f"/issues/{issue['id']}/events").json()["events"])
    assert sampled == list("abcd"), "every slot the window filled points at its payload"


def test_a_window_whose_carried_payloads_pass_their_budget_writes_them_at_the_invocation(
    stack: LocalStack, info: StackInfo, project: TestProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = stack.client("s3")
    bucket = info.settings.event_payloads_bucket
    shard = Shard()
    window = Window(shard)
    window.invoke([_event_record(shard, project, "coupon expired twice", extra={"step": "a"})])
    [issue] = project.issues()
    monkeypatch.setattr(errata.processing.batch, "MAX_CARRIED_PAYLOAD_BYTES", 1)
    before = int(s3.list_objects_v2(Bucket=bucket, Prefix="batches/").get("KeyCount", 0))
    window.invoke([_event_record(shard, project, "coupon expired twice", extra={"step": "b"})])
    assert int(s3.list_objects_v2(Bucket=bucket, Prefix="batches/").get("KeyCount", 0)) == before + 1
    window.invoke([], final=True)
    detail = project.api(f"/issues/{issue['id']}").json()
    assert (detail["count"], detail["event"]["extra"]) == (2, {"step": "b"})
