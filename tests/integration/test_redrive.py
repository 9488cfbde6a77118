"""Dead-lettered records, with their data, and `errata redrive` putting them back once their cause is fixed:
counted exactly once, whether the processor dead-lettered them (a record that breaks a step, or one still
failing when overdue) or the mapping gave up on a whole batch and sent only where it was."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

import errata.event_preparation
from errata.grouping.fingerprint import fingerprint_event
from errata.redrive import Redrive
from errata_local import cli
from errata_local.poller import ShardPoller
from errata_local.stack import LocalStack, StackInfo
from tests.integration.conftest import TestProject, wait_for
from tests.integration.test_processor_delivery import Shard, _counts, _deliver, _event_record

pytestmark = pytest.mark.integration
REAL_FINGERPRINT = fingerprint_event


def _failing_for(message: str, error: Exception) -> Any:
    def fingerprint(event: Any, *args: Any, **kwargs: Any) -> Any:
        if event.message == message:
            raise error
        return REAL_FINGERPRINT(event, *args, **kwargs)

    return fingerprint


def _redrive(stack: LocalStack, info: StackInfo) -> Any:
    return Redrive(
        stack.client("sqs"), info.settings.dead_letter_queue_url, stack.client("kinesis"), info.settings.events_stream
    ).run()


def _settled_count(project: TestProject, title: str, expected: int) -> int:
    wait_for(lambda: _counts(project).get(title) == expected, timeout=30)
    time.sleep(1.0)  # a second copy would be right behind the first on its shard
    return _counts(project)[title]


def test_an_event_that_breaks_a_step_is_dead_lettered_at_once_and_redriven_once(
    stack: LocalStack, info: StackInfo, project: TestProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Retrying such an event fails the same way and holds up its shard: it goes to the queue with its data
    and the reason, the events around it are counted."""
    monkeypatch.setattr(errata.event_preparation, "fingerprint_event", _failing_for("breaks grouping", KeyError("x")))
    shard = Shard()
    batch = [_event_record(shard, project, "before it"), _event_record(shard, project, "breaks grouping")]
    batch.append(_event_record(shard, project, "after it"))
    assert _deliver(batch) == [], "the shard is not held up"
    assert _counts(project) == {"before it": 1, "after it": 1}

    monkeypatch.setattr(errata.event_preparation, "fingerprint_event", REAL_FINGERPRINT)  # the fix is deployed
    report = _redrive(stack, info)
    assert report.records >= 1
    assert _settled_count(project, "breaks grouping", 1) == 1
    again = _redrive(stack, info)  # nothing of ours is left to put back
    assert _settled_count(project, "breaks grouping", 1) == 1
    assert _counts(project) == {"before it": 1, "after it": 1, "breaks grouping": 1}
    assert not [reason for reason in again.kept if "breaks grouping" in reason]


def test_a_record_still_failing_when_overdue_is_dead_lettered_not_left_to_the_mapping(
    stack: LocalStack, info: StackInfo, project: TestProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 or DynamoDB not answering is worth retrying, until the record is old enough (half the mapping's
    age limit) that the mapping would soon give up on it and keep only its sequence number."""
    monkeypatch.setattr(
        errata.event_preparation, "fingerprint_event", _failing_for("s3 is down", ConnectionError("reset"))
    )
    shard = Shard()
    fresh = _event_record(shard, project, "s3 is down")
    with pytest.raises(BatchProcessingError):  # a fresh record is retried: the whole (one-record) batch fails
        _deliver([fresh])
    overdue = _event_record(shard, project, "s3 is down", received_at=datetime.now(UTC) - timedelta(hours=4))
    assert _deliver([overdue]) == [], "an overdue one is dead-lettered with its data"
    monkeypatch.setattr(errata.event_preparation, "fingerprint_event", REAL_FINGERPRINT)
    _redrive(stack, info)
    assert _settled_count(project, "s3 is down", 1) == 1


def test_a_batch_the_mapping_gave_up_on_is_read_back_from_the_stream_and_counted_once(
    stack: LocalStack, info: StackInfo, project: TestProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mapping's on-failure record holds the shard and sequence numbers only: redrive reads the records
    back while the stream retains them."""
    gave_up: list[dict[str, Any]] = []
    original = ShardPoller._send_to_on_failure

    def spy(self: ShardPoller, batch: list[dict[str, Any]], condition: str) -> None:
        gave_up.append({"records": len(batch), "condition": condition})
        original(self, batch, condition)

    monkeypatch.setattr(ShardPoller, "_send_to_on_failure", spy)
    monkeypatch.setattr(
        errata.event_preparation, "fingerprint_event", _failing_for("database away", ConnectionError("refused"))
    )
    for _ in range(3):
        project.store({"message": "database away"})
    wait_for(lambda: sum(g["records"] for g in gave_up) >= 3, timeout=30)
    assert _counts(project) == {}
    monkeypatch.setattr(errata.event_preparation, "fingerprint_event", REAL_FINGERPRINT)
    report = _redrive(stack, info)
    assert report.records >= 3
    assert _settled_count(project, "database away", 3) == 3


def test_errata_redrive_local_reads_the_running_stack_from_its_state_file(
    stack: LocalStack, info: StackInfo, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "dev.json"
    state.write_text(
        json.dumps(
            {
                "aws_endpoint": info.aws_endpoint,
                "dead_letter_queue_url": info.settings.dead_letter_queue_url,
                "events_stream": info.settings.events_stream,
            }
        )
    )
    stack.client("sqs").send_message(  # type: ignore[attr-defined]
        QueueUrl=info.settings.dead_letter_queue_url, MessageBody=json.dumps({"note": "not a record"})
    )
    status = cli.main(["redrive", "--local", "--state", str(state), "--dry-run"])
    out = capsys.readouterr().out
    assert f"back on {info.settings.events_stream}" in out and "would put" in out
    assert "kept: " in out and "neither a dead-lettered record nor an on-failure batch" in out
    assert status == 1  # something stayed in the queue
