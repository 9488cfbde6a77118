"""What the processor publishes to CloudWatch (embedded metric format on stdout): only the counts that are not
zero. CloudWatch bills a custom metric for every hour it receives data, zeros included, so the rare counts
(failed, dead-lettered, conflicts) cost nothing in the hours they do not happen."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from errata_local.stack import container_lock
from functions.process import handler as process
from tests.conftest import TestProject
from tests.integration.test_processor_delivery import Shard, _deliver, _event_record

pytestmark = pytest.mark.integration


def _published(output: str) -> dict[str, Any]:
    """The metric values of the EMF documents in `output`, by name."""
    values: dict[str, Any] = {}
    for line in output.splitlines():
        if not line.startswith("{"):
            continue
        document = json.loads(line)
        if "_aws" not in document:
            continue
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]  # a list when the invocation added it more than once
                values[metric["Name"]] = sum(value) if isinstance(value, list) else value
    return values


def _lines_of(service: str, output: str) -> list[str]:
    """What one function printed (the stack runs every function in this process)."""
    return [line for line in output.splitlines() if line.startswith("{") and json.loads(line).get("service") == service]


def test_the_processor_publishes_the_counts_that_happened_and_no_zeros(
    project: TestProject, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")  # the local stack turns them off
    shard = Shard()
    batch = [_event_record(shard, project, "invoice total mismatch", user=f"u{n}") for n in range(3)]
    capsys.readouterr()
    with container_lock(process):  # not beside the stack's own invocation: Powertools' metrics are one buffer
        assert _deliver(batch) == []
    published = _published(capsys.readouterr().out)
    assert published["events"] == 3
    assert published["announced"] == 1  # the new issue
    assert "issues_written" not in published  # in the log line only (DIAGNOSTIC_COUNTS)
    assert "dead_lettered" not in published and "failed" not in published and "duplicates" not in published
    assert all(value != 0 for value in published.values()), published

    with container_lock(process):
        assert _deliver(batch) == []  # redelivered: duplicates now, and still no zero
    again = _published(capsys.readouterr().out)
    assert again["duplicates"] == 3
    assert "events" not in again
    assert all(value != 0 for value in again.values()), again


def test_an_accepted_request_prints_nothing_and_a_refused_one_its_reason(
    project: TestProject, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every byte ingest prints is billed as log data for every request: an accepted one prints none (what was
    let in is counted by the quota's minute items and the processor), a refused one counts its reason."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    capsys.readouterr()
    project.store({"message": "accepted quietly", "level": "error"})
    assert _lines_of("ingest", capsys.readouterr().out) == []  # the processor and the alert loops print theirs
    refused = requests.post(
        f"{project.base_url}/api/{project.project_id}/store/",
        data="{not json",
        headers={"X-Sentry-Auth": f"Sentry sentry_version=7, sentry_key={project.public_key}"},
        timeout=10,
    )
    assert refused.status_code == 400, refused.text
    published = _published("\n".join(_lines_of("ingest", capsys.readouterr().out)))
    assert list(published) == [f"Rejected_{refused.json()['code']}"] and published[list(published)[0]] == 1
