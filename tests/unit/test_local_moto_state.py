"""The embedded AWS's state on disk (errata_local.moto_state) and the shard patches it relies on."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from moto.kinesis.models import Shard
from moto.s3.models import FakeKey

from errata_local import moto_patches, moto_state
from errata_local.aws import EmbeddedAws
from errata_local.moto_state import SNAPSHOT_FILE, changes_state


def _shard_with(records: int) -> Shard:
    shard = Shard(0, 0, 2**128)
    for n in range(records):
        Shard.put_record(shard, f"key-{n}", "eA==", "")  # moto as released
    return shard


@pytest.mark.parametrize(("last", "limit"), [("0", None), ("0", 3), ("4", 2), ("9", 100), ("12", 5)])
def test_patched_get_records_answer_what_moto_answers(last: str, limit: int | None) -> None:
    shard = _shard_with(10)
    released = Shard.get_records(shard, last, limit)
    patched = moto_patches.get_records(shard, last, limit)
    assert [r.sequence_number for r in patched[0]] == [r.sequence_number for r in released[0]]
    assert patched[1:] == released[1:]
    assert moto_patches.get_max_sequence_number(shard) == Shard.get_max_sequence_number(shard) == 10


def test_a_shard_never_hands_out_a_sequence_number_twice_after_its_records_are_trimmed() -> None:
    shard = _shard_with(0)
    numbers = [moto_patches.put_record(shard, "k", "eA==", "") for _ in range(3)]
    shard.records.clear()  # retention, or a snapshot taken without records
    assert [*numbers, moto_patches.put_record(shard, "k", "eA==", "")] == ["1", "2", "3", "4"]
    assert moto_patches.get_records(shard, "0", None)[0][0].sequence_number == 4


@pytest.mark.parametrize(
    ("method", "target", "path", "changes"),
    [
        ("POST", "DynamoDB_20120810.UpdateItem", "/", True),
        ("POST", "DynamoDB_20120810.TransactWriteItems", "/", True),
        ("POST", "DynamoDB_20120810.Query", "/", False),
        ("POST", "DynamoDB_20120810.BatchGetItem", "/", False),
        ("POST", "Kinesis_20131202.GetRecords", "/", False),
        ("POST", "Kinesis_20131202.PutRecords", "/", True),
        ("POST", "AmazonSQS.ReceiveMessage", "/", False),
        ("POST", "AmazonSQS.DeleteMessage", "/", True),
        ("PUT", None, "/bucket/key", True),
        ("GET", None, "/bucket/key", False),
        ("POST", None, "/moto-api/reset", False),
    ],
)
def test_only_requests_that_may_change_state_make_a_snapshot(
    method: str, target: str | None, path: str, changes: bool
) -> None:
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path}
    if target:
        environ["HTTP_X_AMZ_TARGET"] = target
    assert changes_state(environ) is changes


def _put(aws: EmbeddedAws, stream: str, n: int) -> str:
    answer = aws.client("kinesis").put_records(
        StreamName=stream, Records=[{"Data": f"event {n}".encode(), "PartitionKey": "p"}]
    )
    assert answer["FailedRecordCount"] == 0
    return str(answer["Records"][0]["SequenceNumber"])


def _records(aws: EmbeddedAws, stream: str) -> list[tuple[str, bytes]]:
    kinesis = aws.client("kinesis")
    shard = kinesis.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    return [(r["SequenceNumber"], r["Data"]) for r in records]


def test_kill_9_keeps_every_acknowledged_record_and_the_last_snapshot(tmp_path: Path) -> None:
    aws = EmbeddedAws(data_dir=tmp_path)
    aws.start()
    try:
        aws.client("kinesis").create_stream(StreamName="events", ShardCount=1)
        aws.client("dynamodb").create_table(
            TableName="issues",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        aws.client("dynamodb").put_item(TableName="issues", Item={"pk": {"S": "issue-1"}, "count": {"N": "7"}})
        queue = aws.client("sqs").create_queue(QueueName="dead-letters")["QueueUrl"]
        aws.client("sqs").send_message(QueueUrl=queue, MessageBody="poison record")
        saved = aws.wait_until_saved()  # a snapshot follows the writes, the last one included
        assert saved["snapshots"] >= 1 and saved["failures"] == 0, saved
        assert (tmp_path / SNAPSHOT_FILE).exists()
        acknowledged = [_put(aws, "events", n) for n in range(5)]  # after the snapshot: the journal has them
    finally:
        assert aws._process is not None
        aws._process.kill()  # kill -9: no last snapshot
        aws._process.wait()

    again = EmbeddedAws(data_dir=tmp_path)
    again.start()
    try:
        assert _records(again, "events") == [(number, f"event {n}".encode()) for n, number in enumerate(acknowledged)]
        assert _put(again, "events", 5) == str(int(acknowledged[-1]) + 1)  # numbers go on, never reused
        item = again.client("dynamodb").get_item(TableName="issues", Key={"pk": {"S": "issue-1"}})["Item"]
        assert item["count"] == {"N": "7"}
        messages = again.client("sqs").receive_message(QueueUrl=queue)["Messages"]
        assert [m["Body"] for m in messages] == ["poison record"]
    finally:
        again.stop()
    third = EmbeddedAws(data_dir=tmp_path)  # a clean stop saved everything, the journal too
    third.start()
    try:
        assert len(_records(third, "events")) == 6
    finally:
        third.stop()


def test_a_snapshot_child_reads_an_s3_object_whose_lock_a_vanished_thread_held(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After the fork only the snapshot thread exists: a key lock another request thread held stays held."""
    monkeypatch.setattr(FakeKey, "__getstate__", FakeKey.__getstate__)  # undone after the test
    key = FakeKey("payload.json", b'{"event": 1}', account_id="123456789012", region_name="us-east-1")
    assert key.lock.acquire()  # as a request thread held it at the fork
    moto_state._read_keys_without_their_locks()
    restored = pickle.loads(pickle.dumps(key))
    assert restored.value == b'{"event": 1}'


_FORK_DURING_AN_IMPORT = """
import os, sys, threading, time
from pathlib import Path
from errata_local.moto_state import PERSISTED_SERVICES, StateDirectory

state = StateDirectory(Path(sys.argv[1]) / "state")
assert all(f"moto.{service}" in sys.modules for service in PERSISTED_SERVICES)  # none left for the child
(Path(sys.argv[1]) / "slow_module.py").write_text("import time\\ntime.sleep(1.5)\\n")
sys.path.insert(0, sys.argv[1])
importing, imported, forked_while_importing = threading.Event(), threading.Event(), []

def import_slowly():
    importing.set()
    import slow_module  # as a server's first request to a service imports its models
    imported.set()

fork = os.fork
def recording_fork():
    forked_while_importing.append(not imported.is_set())
    return fork()
os.fork = recording_fork

threading.Thread(target=import_slowly).start()
importing.wait()
time.sleep(0.3)
assert state.snapshot_in_child()
assert forked_while_importing == [False], forked_while_importing
assert state.last_snapshot_cpu_seconds > 0
print("ok")
"""


def test_a_snapshot_forks_only_once_no_thread_is_importing(tmp_path: Path) -> None:
    """A module lock held at the fork by a thread that is not forked would stay held in the child forever:
    a CI run's snapshot child hung for its 60 s while the server imported a service's models."""
    run = subprocess.run(
        [sys.executable, "-c", _FORK_DURING_AN_IMPORT, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr


_AN_IMPORT_THAT_DOES_NOT_END = """
import sys, threading, time
from pathlib import Path
from errata_local import moto_state

moto_state.SNAPSHOT_TIMEOUT_SECONDS = 0.5
state = moto_state.StateDirectory(Path(sys.argv[1]) / "state")
(Path(sys.argv[1]) / "stuck_module.py").write_text("import time\\ntime.sleep(3)\\n")
sys.path.insert(0, sys.argv[1])
importing = threading.Event()

def import_slowly():
    importing.set()
    import stuck_module

threading.Thread(target=import_slowly, daemon=True).start()
importing.wait()
time.sleep(0.1)
assert not state.snapshot_in_child()
assert state.status()["failures"] == 1
assert "stuck_module" in state.log_path.read_text()
print("ok")
"""


def test_a_snapshot_that_waits_on_an_import_too_long_is_logged_as_a_failure(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", _AN_IMPORT_THAT_DOES_NOT_END, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr
