"""A storm on real-AWS terms: 20,000 events over four shards, delivered as the mapping delivers them, while
DynamoDB throttles a share of the item writes and a share of them land twice (a lost answer that botocore
sent again; moto does neither, so both are injected at the boto3 layer), one batch fails part way through
its writes and is retried, one batch is delivered twice and some events are sent twice by their SDK. Every
issue's count ends exactly equal to the events acknowledged."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from errata.models.ingested import IngestedEvent
from errata_local.stack import LocalStack, StackInfo
from tests.aws_faults import ItemWriteFaults, item_write_faults
from tests.integration.conftest import TestProject
from tests.integration.test_processor_delivery import Shard, _deliver, _processor_dynamodb

pytestmark = pytest.mark.integration
EVENTS = 20_000
SHARDS = 4
BATCH = 1_000  # the mapping's batch size goes to 10,000
ISSUES = 12


def test_a_storm_with_throttling_repeated_writes_and_a_failed_batch_counts_every_event_exactly_once(
    stack: LocalStack, info: StackInfo, project: TestProject
) -> None:
    rng = random.Random(13)
    shards = [Shard() for _ in range(SHARDS)]
    weights = [1 / (rank + 1) ** 1.1 for rank in range(ISSUES)]  # Zipf(1.1) over the issues
    batches: list[list[dict[str, object]]] = [[] for _ in range(EVENTS // BATCH)]
    acknowledged: Counter[str] = Counter()
    received_at = datetime.now(UTC)
    for n in range(EVENTS):
        issue = rng.choices(range(ISSUES), weights)[0]
        # Words, not numbers: grouping strips numbers from messages, which would make this one issue.
        title = "checkout failed in " + "".join(chr(ord("a") + int(digit)) for digit in str(issue)) + " service"
        ingested = IngestedEvent(
            project_id=project.project_id,
            event_id=uuid.uuid4().hex,
            received_at=received_at,
            payload={"message": title, "release": f"api@{n % 3}", "user": {"id": f"u{issue}-{rng.randrange(3)}"}},
        )
        index = n // BATCH
        batches[index].append(shards[index % SHARDS].record(ingested.encode()))
        acknowledged[title] += 1
    # Some events sent again by their SDK: new records with the ids of events already in the storm.
    resend = batches[3][:5]
    faults = ItemWriteFaults(
        applier=stack.client("dynamodb"),
        tables={info.settings.issues_table, info.settings.counters_table, info.settings.user_issues_table},
        throttle_share=0.1,
        applied_twice_share=0.1,
        seed=5,
    )
    with item_write_faults(_processor_dynamodb(), faults):
        for index, batch in enumerate(batches):
            if index == 4:  # the connection drops after a few writes: the mapping retries the batch
                faults.fail_after = faults.calls + 5
                with pytest.raises(BatchProcessingError):
                    _deliver(batch)
                faults.fail_after = None
            assert _deliver(batch) == []
            if index == 10:
                assert _deliver(batches[6]) == []  # a batch delivered twice (a retried invocation)
            if index == 20:
                copies = [shards[3 % SHARDS].record(_data(record)) for record in resend]
                assert _deliver(copies) == []
    assert faults.throttled >= 20 and faults.applied_twice >= 20 and faults.failed > 0
    counted = {issue["title"]: issue["count"] for issue in project.issues()}
    assert counted == dict(acknowledged)
    assert sum(counted.values()) == EVENTS


def _data(record: dict[str, object]) -> bytes:
    import base64

    kinesis = record["kinesis"]
    assert isinstance(kinesis, dict)
    return base64.b64decode(kinesis["data"])
