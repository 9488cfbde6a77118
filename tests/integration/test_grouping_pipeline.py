"""Grouping through the pipeline: a new grouping config does not split existing issues, project fingerprint
rules set through the API, and traces that arrive as text."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest
import requests

import errata.event_preparation
from errata.grouping.fingerprint import LEGACY_CONFIGS, fingerprint_event
from errata.models.ingested import IngestedEvent
from tests.integration.conftest import TestProject, wait_for
from tests.integration.test_processor_delivery import Shard, _deliver

pytestmark = pytest.mark.integration

JAVA_TRACE = """Exception in thread "main" java.lang.IllegalStateException: order {order} has no customer
\tat com.acme.shop.OrderService.shippingLabel(OrderService.java:{line})
\tat com.acme.shop.OrderController.label(OrderController.java:31)
\tat org.framework.web.Dispatcher.dispatch(Dispatcher.java:88)
\tat java.base/java.lang.Thread.run(Thread.java:833)
"""


def _record(shard: Shard, project: TestProject, payload: dict[str, Any]) -> dict[str, Any]:
    ingested = IngestedEvent(
        project_id=project.project_id, event_id=uuid.uuid4().hex, received_at=datetime.now(UTC), payload=payload
    )
    return shard.record(ingested.encode())


def _crash(function: str) -> dict[str, Any]:
    frames = [{"module": "app.billing", "abs_path": "/srv/app/billing.py", "function": function, "in_app": True}]
    return {
        "platform": "python",
        "exception": {"values": [{"type": "ValueError", "value": "bad", "stacktrace": {"frames": frames}}]},
    }


def test_a_new_grouping_config_keeps_events_in_the_issues_the_old_one_made(
    project: TestProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    shard = Shard()
    event = _crash("charge")
    old_config = partial(fingerprint_event, config=LEGACY_CONFIGS[0], legacy=())
    monkeypatch.setattr(errata.event_preparation, "fingerprint_event", lambda e, rules=(): old_config(e, rules))
    assert _deliver([_record(shard, project, event)]) == []
    [issue] = project.issues()
    assert issue["grouping_config"] == LEGACY_CONFIGS[0].id

    monkeypatch.setattr(errata.event_preparation, "fingerprint_event", fingerprint_event)
    current = fingerprint_event(errata.event_preparation.SentryEvent.model_validate(event))
    assert current.issue_id != issue["id"], "the configs hash differently"
    assert _deliver([_record(shard, project, event)]) == []
    # And once the old config is retired, the alias written on the way still finds the issue.
    monkeypatch.setattr(errata.event_preparation, "fingerprint_event", partial(fingerprint_event, legacy=()))
    assert _deliver([_record(shard, project, event), _record(shard, project, _crash("refund"))]) == []
    counts = {i["id"]: i["count"] for i in project.issues()}
    assert counts[issue["id"]] == 3
    assert len(counts) == 2, "a different crash is still a different issue"


def _patch_rules(project: TestProject, rules: str) -> requests.Response:
    return requests.patch(
        f"{project.base_url}/api/projects/{project.project_id}",
        data=json.dumps({"fingerprint_rules": rules}),
        headers={"Authorization": f"Bearer {project.api_token}", "Content-Type": "application/json"},
        timeout=10,
    )


def test_project_fingerprint_rules_set_through_the_api_merge_what_they_match(project: TestProject) -> None:
    bad = _patch_rules(project, "error.type:TimeoutError -> timeouts\nwhatever -> x")
    assert bad.status_code == 422
    assert "line 2" in bad.text
    good = _patch_rules(project, "error.type:TimeoutError -> timeouts")
    assert good.status_code == 200, good.text
    assert good.json()["settings"]["fingerprint_rules"] == "error.type:TimeoutError -> timeouts"
    for function in ("fetch_rates", "load_profile"):
        event = _crash(function)
        event["exception"]["values"][0]["type"] = "TimeoutError"
        project.store(event)
    project.store(_crash("charge"))

    def grouped() -> dict[str, int] | None:
        issues = project.issues()
        counts = {i["title"].split(":")[0]: i["count"] for i in issues}
        return counts if sum(counts.values()) == 3 else None

    assert wait_for(grouped) == {"TimeoutError": 2, "ValueError": 1}


def test_a_trace_logged_as_text_is_parsed_grouped_and_stored(project: TestProject) -> None:
    for order, line in ((1001, 40), (98231, 44)):  # another order, and a release that moved the code
        project.store({"platform": "java", "message": "request failed\n" + JAVA_TRACE.format(order=order, line=line)})

    def issue() -> dict[str, Any] | None:
        issues = project.issues()
        return issues[0] if issues and issues[0]["count"] == 2 else None

    found = wait_for(issue)
    assert len(project.issues()) == 1
    # Titled by the latest event: the two may reach the processor in either order (two shards).
    assert found["title"] in {f"IllegalStateException: order {n} has no customer" for n in (1001, 98231)}
    detail = project.api(f"/issues/{found['id']}").json()
    stored = detail["event"]["exception"]["values"][0]
    assert stored["mechanism"]["type"] == "stacktrace.text"
    assert [f["function"] for f in stored["stacktrace"]["frames"]][-2:] == ["label", "shippingLabel"]
