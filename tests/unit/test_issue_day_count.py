"""An issue item counts its events of the day (errata.store.issues: events_day, events_day_base): the
sampling reservoir runs over the issue's day, and reads n there instead of from an item of its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
from moto import mock_aws

from errata.store.issues import ISSUES_TABLE, IssueDelta, IssueStore

TABLE = "errata-test-issues"
ISSUE = ("1", "ab12")


def _delta(count: int, at: datetime) -> IssueDelta:
    return IssueDelta(
        project_id=ISSUE[0],
        issue_id=ISSUE[1],
        grouping_config="errata:2026-12-03",
        type="ValueError",
        title="bad cart",
        culprit=None,
        level="error",
        count=count,
        first_seen=at,
        last_seen=at,
        first_release=None,
        last_release=None,
        last_event_id="e" * 32,
        payload_key=None,
    )


@mock_aws
def test_the_day_count_starts_again_with_the_first_write_of_a_day() -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(**ISSUES_TABLE.create_table_request(TABLE))
    store = IssueStore(client, TABLE)
    evening = datetime(2026, 12, 7, 23, 50, tzinfo=UTC)

    def write(count: int, at: datetime) -> None:
        state = store.current_states([ISSUE]).get(ISSUE)
        client.update_item(**store.update_item(_delta(count, at), state, None, now=at)["Update"])

    write(4, evening)
    write(3, evening + timedelta(minutes=5))
    state = store.current_states([ISSUE], consistent=False)[ISSUE]
    assert (state.day, state.events_of_day, state.event_count) == ("2026-12-07", 7, 7)
    write(2, evening + timedelta(minutes=15))  # past midnight
    state = store.current_states([ISSUE])[ISSUE]
    assert (state.day, state.events_of_day, state.event_count) == ("2026-12-08", 2, 9)
