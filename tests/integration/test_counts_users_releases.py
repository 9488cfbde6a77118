"""Windowed counters, search by user and releases, through the processor and the dashboard API."""

from __future__ import annotations

import base64
import gzip
import math
import time
from typing import Any

import botocore.client
import pytest
import sentry_sdk

import errata.store.releases
from errata.models.ingested import IngestedEvent
from errata.sketch import merge_users
from errata.store.counters import issue_key
from errata.store.event_payloads import shard_digest
from errata_local.stack import LocalStack, StackInfo
from tests.integration.conftest import TestProject, wait_for
from tests.integration.test_processor_delivery import STREAM_ARN, Shard, _deliver, _event_record

pytestmark = pytest.mark.integration


@pytest.fixture
def dynamodb_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the DynamoDB operations made while the test runs (in this process: the handlers too)."""
    calls: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def recording(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name == "dynamodb":
            calls.append(operation_name)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    return calls


def test_minute_and_hour_windows_count_and_expire(stack: LocalStack, info: StackInfo, project: TestProject) -> None:
    shard = Shard()
    batch = [_event_record(shard, project, "queue full", user=f"u{n % 4}") for n in range(12)]
    assert _deliver(batch) == []
    assert _deliver(batch) == []  # a replay adds nothing to the windows either
    issue = project.issues()[0]

    dynamodb: Any = stack.client("dynamodb")
    items = dynamodb.query(
        TableName=info.settings.counters_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": issue_key(project.project_id, issue["id"])}},
    )["Items"]
    by_window = {item["sk"]["S"][:1]: item for item in items}
    # hour (its minutes and tag values counted in it), its samples' references (errata.store.event_payloads)
    # and its users' sketch, which the issue item no longer carries (every index of the issues table copied it)
    assert set(by_window) == {"h", "s", "u"}
    assert "expires_at" not in by_window["u"]  # it lives as long as the issue
    assert 89 * 86400 < int(by_window["s"]["expires_at"]["N"]) - time.time() <= 90 * 86400
    now = time.time()
    hour_expiry = int(by_window["h"]["expires_at"]["N"]) - now
    assert 14 * 86400 < hour_expiry <= 15 * 86400
    assert int(by_window["h"]["events"]["N"]) == 12
    ttl = dynamodb.describe_time_to_live(TableName=info.settings.counters_table)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")

    for window, users in (("minute", None), ("hour", 4)):  # a minute lists no users
        counts = project.api(f"/issues/{issue['id']}/counts", window=window).json()
        assert counts["window"] == window
        assert [(c["events"], c["users"]) for c in counts["counts"]] == [(12, users)]


def test_search_by_user_id_email_and_ip_is_a_query_not_a_scan(project: TestProject, dynamodb_calls: list[str]) -> None:
    shard = Shard()
    batch = [
        _event_record(shard, project, "cart empty", user="ann"),
        _event_record(shard, project, "cart empty", user="ann"),
        _event_record(shard, project, "coupon expired", user="ann"),
        _event_record(shard, project, "coupon expired", user="bob"),
    ]
    _rewrite(batch[0], user={"id": "ann", "email": "ann@example.com", "ip_address": "10.9.8.7"})
    assert _deliver(batch) == []
    dynamodb_calls.clear()

    found = project.api("/users/ann/issues").json()["issues"]
    assert sorted((i["issue"]["title"], i["user_events"]) for i in found) == [("cart empty", 2), ("coupon expired", 1)]
    assert "Scan" not in dynamodb_calls
    assert "Query" in dynamodb_calls
    assert [i["issue"]["title"] for i in project.api("/users/bob/issues").json()["issues"]] == ["coupon expired"]
    by_email = project.api("/users/ann@example.com/issues", by="email").json()["issues"]
    assert project.api("/users/ann@example.com/issues").json()["issues"] == by_email  # kind read off the value
    # The email and IP came once, with ann's id: they find ann, and every issue ann hit (the support case).
    assert sorted((i["issue"]["title"], i["user_events"]) for i in by_email) == [
        ("cart empty", 2),
        ("coupon expired", 1),
    ]
    assert len(project.api("/users/10.9.8.7/issues", by="ip").json()["issues"]) == 2
    assert project.api("/users/nobody/issues").json() == {"issues": [], "next_cursor": None}
    assert "Scan" not in dynamodb_calls


def _rewrite(record: dict[str, Any], **fields: Any) -> None:
    """Changes fields of the event inside a stream record, as if the SDK had sent them."""
    ingested = IngestedEvent.decode(base64.b64decode(record["kinesis"]["data"]))
    ingested.payload.update(fields)
    record["kinesis"]["data"] = base64.b64encode(ingested.encode()).decode()


def test_releases_and_the_issues_first_seen_in_each(project: TestProject) -> None:
    shard = Shard()
    old = [_event_record(shard, project, "legacy bug") for _ in range(3)]
    assert _deliver(old) == []
    new = [_event_record(shard, project, "legacy bug"), _event_record(shard, project, "fresh bug")]
    for record in new:
        _rewrite(record, release="api@3.2.0")
    assert _deliver(new) == []

    releases = project.api("/releases").json()["releases"]
    assert {(r["version"], r["events"]) for r in releases} == {("api@3.1.0", 3), ("api@3.2.0", 2)}
    assert [i["title"] for i in project.api("/releases/api@3.1.0/issues").json()["issues"]] == ["legacy bug"]
    assert [i["title"] for i in project.api("/releases/api@3.2.0/issues").json()["issues"]] == ["fresh bug"]
    legacy = next(i for i in project.issues() if i["title"] == "legacy bug")
    assert (legacy["first_release"], legacy["last_release"]) == ("api@3.1.0", "api@3.2.0")


def test_a_release_counts_the_distinct_users_its_events_hit_across_shards_and_redeliveries(
    project: TestProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = Shard(), Shard()
    batch = [_event_record(first, project, f"error {n % 3}", user=f"u{n % 40}") for n in range(120)]
    assert _deliver(batch) == []
    assert _deliver(batch) == []  # redelivered: skipped by the shard's position
    # Another shard's writer replaces the sketch between this writer's read and its write: the release's
    # condition fails, and the batch is read and written again (not counted twice, not lost).
    real = errata.store.releases.ReleaseStore.user_sketches
    calls: list[int] = []

    def stale_once(store: Any, keys: list[tuple[str, str]]) -> Any:
        found = real(store, keys)
        calls.append(1)
        if len(calls) == 1:
            return {key: errata.store.releases.ReleaseUsers(None, None) for key in found}
        return found

    monkeypatch.setattr(errata.store.releases.ReleaseStore, "user_sketches", stale_once)
    assert _deliver([_event_record(second, project, "error 0", user=f"u{n}") for n in range(30, 60)]) == []
    assert len(calls) == 2
    monkeypatch.undo()
    releases = {r["version"]: r for r in project.api("/releases").json()["releases"]}
    assert releases["api@3.1.0"]["events"] == 150
    assert abs(releases["api@3.1.0"]["users"] - 60) <= 1  # u0..u59, by HyperLogLog (exact at this size)


def test_the_pipeline_end_to_end_fills_the_user_index(project: TestProject) -> None:
    sentry_sdk.init(dsn=project.dsn, release="web@1.0.0", default_integrations=False)
    sentry_sdk.set_user({"id": "support-ticket-991"})
    try:
        raise PermissionError("no access to invoice 77")
    except PermissionError as exc:
        sentry_sdk.capture_exception(exc)
    sentry_sdk.flush(timeout=5)
    sentry_sdk.get_client().close()
    found = wait_for(lambda: project.api("/users/support-ticket-991/issues").json()["issues"])
    assert found[0]["issue"]["type"] == "PermissionError"


def test_a_storm_of_ten_thousand_events_counts_all_and_stores_at_most_k_plus_one_payloads_per_batch(
    stack: LocalStack, info: StackInfo, project: TestProject
) -> None:
    shard = Shard()
    records = [_event_record(shard, project, "connection pool exhausted") for _ in range(10_000)]
    s3: Any = stack.client("s3")
    bucket = info.settings.event_payloads_bucket
    before = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="batches/").get("Contents", [])}
    for start in range(0, len(records), 500):
        assert _deliver(records[start : start + 500]) == []
    issue = project.issues()[0]
    assert issue["count"] == 10_000

    # One object per batch (sampling.py): each holds the batch's latest event, the issue's representative,
    # and the slots the reservoir refilled, fewer and fewer as the issue's count grows.
    written = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="batches/")["Contents"]]
    digest = shard_digest(f"{STREAM_ARN}/{shard.shard_id}")
    written = [key for key in written if key not in before and f"/{digest}/" in key]
    sample_size = project.api("").json()["settings"]["sample_size"]
    stored = sum(len(gzip.decompress(s3.get_object(Bucket=bucket, Key=k)["Body"].read()).splitlines()) for k in written)
    assert len(written) == len(records) // 500
    assert len(written) <= stored <= len(written) * (sample_size + 1)
    # The first batch fills the k slots; batch b+1 refills about k·ln((b+1)/b): k·ln(20) in the 19 others.
    assert stored <= len(written) + 2 * sample_size * (1 + math.log(len(written))), stored  # mean ~40, here 60
    assert not s3.list_objects_v2(Bucket=bucket, Prefix=f"projects/{project.project_id}/").get("Contents")
    events = project.api(f"/issues/{issue['id']}/events").json()["events"]
    assert len(events) == sample_size
    assert {e["message"] for e in events} == {"connection pool exhausted"}


def test_a_user_is_counted_once_per_batch_and_found_by_an_email_it_had_before_its_id(
    stack: LocalStack, info: StackInfo, project: TestProject
) -> None:
    """One user index write per (user, issue) and batch, under the strongest identity; the email and IP
    point at it. Issues hit while only the email was known stay found by the email."""
    shard = Shard()
    before = _event_record(shard, project, "signup failed")
    _rewrite(before, user={"email": "cy@example.com"})
    assert _deliver([before]) == []
    later = [_event_record(shard, project, "invoice missing") for _ in range(3)]
    for record in later:
        _rewrite(record, user={"id": "cy", "email": "cy@example.com", "ip_address": "10.1.2.3"})
    assert _deliver(later) == []
    dynamodb: Any = stack.client("dynamodb")
    items = dynamodb.scan(TableName=info.settings.user_issues_table)["Items"]  # a test's look, not the product's
    mine = [i for i in items if i["pk"]["S"].startswith(f"{project.project_id}#")]
    counted = sorted((i["pk"]["S"].split("#", 1)[1], int(i["events"]["N"])) for i in mine if "events" in i)
    assert counted == [("email:cy@example.com", 1), ("id:cy", 3)]
    aliases = sorted(i["pk"]["S"].split("#", 1)[1] for i in mine if "primary" in i)
    assert aliases == ["email:cy@example.com", "ip:10.1.2.3"]
    by_email = project.api("/users/cy@example.com/issues", by="email").json()["issues"]
    assert sorted((i["issue"]["title"], i["user_events"]) for i in by_email) == [
        ("invoice missing", 3),
        ("signup failed", 1),
    ]
    by_id = project.api("/users/cy/issues").json()["issues"]
    assert [(i["issue"]["title"], i["user_events"]) for i in by_id] == [("invoice missing", 3)]


def test_a_container_that_starts_again_reads_a_users_aliases_instead_of_writing_them_again(
    info: StackInfo, project: TestProject
) -> None:
    """Aliases are kept per container for a day; a container that starts again (Lambda recycles them every
    few hours) reads them, and writes only those missing or not refreshed for 30 days."""
    from datetime import UTC, datetime, timedelta

    import time_machine

    from functions.process import handler as process

    shard = Shard()
    user = {"id": "dee", "email": "dee@example.com", "ip_address": "10.9.8.7"}
    alias_writes: list[str] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        if params["TableName"] == info.settings.user_issues_table and params["Key"]["issue_id"]["S"].startswith("="):
            alias_writes.append(params["Key"]["pk"]["S"])

    def send_as_a_new_container() -> None:
        clients = process._settings_and_clients()[1]
        clients._kept.pop(("user-aliases", info.settings.user_issues_table), None)
        record = _event_record(shard, project, "export timed out")
        _rewrite(record, user=user)
        assert _deliver([record]) == []

    events = process._settings_and_clients()[1]["dynamodb"].meta.events
    events.register("provide-client-params.dynamodb.UpdateItem", count, unique_id="alias-writes")
    try:
        send_as_a_new_container()
        assert len(alias_writes) == 2  # the email and the IP point at the id
        send_as_a_new_container()
        assert len(alias_writes) == 2, "read, found fresh, not written again"
        with time_machine.travel(datetime.now(UTC) + timedelta(days=31)):
            send_as_a_new_container()
        assert len(alias_writes) == 4, "refreshed once a month, well inside their 90 days"
    finally:
        events.unregister("provide-client-params.dynamodb.UpdateItem", unique_id="alias-writes")


def test_an_issue_that_kept_its_user_sketch_on_its_item_keeps_its_users_when_the_sketch_moves(
    stack: LocalStack, info: StackInfo, project: TestProject
) -> None:
    """Issues written before the sketch had its own item carry it on the issue item: the first batch after
    merges it into the new item, the next one drops it from the issue (not the same one: a batch that failed
    part way could otherwise lose the users it held)."""
    shard = Shard()
    assert _deliver([_event_record(shard, project, "quota exceeded", user="first")]) == []
    issue = project.issues()[0]
    dynamodb: Any = stack.client("dynamodb")
    legacy, _ = merge_users(None, ["old-1", "old-2", "old-3"])
    key = {"project_id": {"S": project.project_id}, "issue_id": {"S": issue["id"]}}
    dynamodb.update_item(
        TableName=info.settings.issues_table,
        Key=key,
        UpdateExpression="SET user_sketch = :sketch",
        ExpressionAttributeValues={":sketch": {"B": legacy}},
    )
    dynamodb.delete_item(
        TableName=info.settings.counters_table,
        Key={"pk": {"S": issue_key(project.project_id, issue["id"])}, "sk": {"S": "users"}},
    )

    assert _deliver([_event_record(shard, project, "quota exceeded", user="new-1")]) == []
    assert project.issues()[0]["user_count"] == 4
    assert "user_sketch" in dynamodb.get_item(TableName=info.settings.issues_table, Key=key)["Item"]
    assert _deliver([_event_record(shard, project, "quota exceeded", user="new-2")]) == []
    assert project.issues()[0]["user_count"] == 5
    assert "user_sketch" not in dynamodb.get_item(TableName=info.settings.issues_table, Key=key)["Item"]


def test_a_releases_later_writes_touch_no_index_entry(stack: LocalStack, info: StackInfo, project: TestProject) -> None:
    """The newest-first index holds the release's keys only: its events, users and last seen change at every
    batch, its first seen never; the releases page reads the items whole."""
    from bench.capacity import Index, Table, write_cost
    from errata.store.releases import RELEASES_TABLE

    releases = Table(
        "releases",
        keys=("project_id", "version"),
        indexes=tuple(
            Index(index.name, (index.partition_key.name, index.sort_key.name), index.projection, index.included)
            for index in RELEASES_TABLE.indexes
            if index.sort_key is not None
        ),
    )
    dynamodb: Any = stack.client("dynamodb")
    key = {"project_id": {"S": project.project_id}, "version": {"S": "api@3.1.0"}}

    def item() -> dict[str, Any]:
        found: dict[str, Any] = dynamodb.get_item(TableName=info.settings.releases_table, Key=key, ConsistentRead=True)
        return found["Item"]

    shard = Shard()
    assert _deliver([_event_record(shard, project, "payment declined", user="u1")]) == []
    first = item()
    assert _deliver([_event_record(shard, project, "payment declined", user=f"u{n}") for n in range(2, 6)]) == []
    later = item()
    assert later["events"] == {"N": "5"} and later["first_seen"] == first["first_seen"]
    cost = write_cost(releases, first, later)
    assert cost.index_writes == 0, cost.by_index
    [listed] = project.api("/releases").json()["releases"]
    assert (listed["version"], listed["events"]) == ("api@3.1.0", 5)


def test_a_batch_of_users_already_counted_leaves_the_user_sketches_unwritten(
    stack: LocalStack, info: StackInfo, project: TestProject
) -> None:
    """A sketch's union is idempotent: one a batch leaves as it was is not written (no write units, no mark),
    and the counts stay exact, redelivered or not."""
    dynamodb: Any = stack.client("dynamodb")

    def sketches() -> dict[str, int]:
        """The revision of the issue's and the project's hour user sketches."""
        issue = project.issues()[0]
        found = {}
        for pk, prefix in (
            (issue_key(project.project_id, issue["id"]), "users"),
            (f"project#{project.project_id}", "u#"),
        ):
            items = dynamodb.query(
                TableName=info.settings.counters_table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                ExpressionAttributeValues={":pk": {"S": pk}, ":prefix": {"S": prefix}},
                ConsistentRead=True,
            )["Items"]
            found.update({item["sk"]["S"]: int(item["revision"]["N"]) for item in items})
        return found

    shard = Shard()
    assert _deliver([_event_record(shard, project, "cart expired", user=f"u{n}") for n in range(3)]) == []
    first = sketches()
    assert set(first) >= {"users"} and any(sk.startswith("u#") for sk in first), first
    repeat = [_event_record(shard, project, "cart expired", user=f"u{n % 3}") for n in range(6)]
    assert _deliver(repeat) == []
    assert _deliver(repeat) == []  # redelivered: nothing counted twice
    assert sketches() == first  # neither sketch was written again
    [issue] = project.issues()
    assert (issue["count"], issue["user_count"]) == (9, 3)
    assert _deliver([_event_record(shard, project, "cart expired", user="u-new")]) == []
    after = sketches()
    assert all(after[sk] == first[sk] + 1 for sk in first), (first, after)
    assert project.issues()[0]["user_count"] == 4
