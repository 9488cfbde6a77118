"""The per-project ingest quota: settings through the API, 429 with Sentry's headers, and a real SDK that
backs off."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
import sentry_sdk

from errata.ingest import IngestService
from tests.integration.conftest import TestProject, wait_for

pytestmark = pytest.mark.integration


def _patch(project: TestProject, body: dict[str, Any]) -> requests.Response:
    return requests.patch(
        f"{project.base_url}/api/projects/{project.project_id}",
        data=json.dumps(body),
        headers={"Authorization": f"Bearer {project.api_token}", "Content-Type": "application/json"},
        timeout=10,
    )


def test_settings_are_read_and_changed_through_the_api(project: TestProject) -> None:
    settings = project.api("").json()["settings"]
    defaults = {"rate_limit_per_minute": 10_000, "sample_size": 5, "fingerprint_rules": "", "scrub_ip_addresses": False}
    assert settings == defaults
    changed = _patch(project, {"rate_limit_per_minute": 120})
    assert changed.status_code == 200
    assert changed.json()["settings"] == {**defaults, "rate_limit_per_minute": 120}
    assert project.api("").json()["settings"]["rate_limit_per_minute"] == 120
    assert _patch(project, {"rate_limit_per_minute": 0}).status_code == 422
    assert _patch(project, {"unknown_setting": 1}).status_code == 422


def _post_one_event(project: TestProject) -> requests.Response:
    return requests.post(
        project.envelope_url,
        data=b'{}\n{"type":"event"}\n{"message":"over quota"}\n',
        headers={"X-Sentry-Auth": f"Sentry sentry_key={project.public_key}"},
        timeout=10,
    )


def _not_near_a_minute_boundary() -> None:
    # The quota counts per calendar minute: a test that straddles a boundary would see it reset.
    while datetime.now(UTC).second > 45:
        time.sleep(1)


def test_past_the_quota_ingest_answers_429_and_the_sdk_backs_off(
    project: TestProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _patch(project, {"rate_limit_per_minute": 3}).status_code == 200
    _not_near_a_minute_boundary()
    event_requests: list[int] = []  # requests that carried events (client reports are not rate limited)
    original = IngestService._event_records

    def counting(self: IngestService, project: Any, events: Any) -> Any:
        event_requests.append(len(events))
        return original(self, project, events)

    monkeypatch.setattr(IngestService, "_event_records", counting)
    sentry_sdk.init(dsn=project.dsn, default_integrations=False)
    for n in range(3):
        sentry_sdk.capture_message(f"within quota {n}")
        sentry_sdk.flush(timeout=5)
    wait_for(lambda: sum(issue["count"] for issue in project.issues()) == 3)

    # Sentry's header format: <seconds>:<categories>:<scope>:<reason>.
    refused = _post_one_event(project)
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    seconds, categories, scope, reason = refused.headers["X-Sentry-Rate-Limits"].split(":")
    assert 1 <= int(seconds) <= 60
    assert int(refused.headers["Retry-After"]) == int(seconds)
    assert (categories, scope, reason) == ("error;default", "project", "quota_exceeded")

    sentry_sdk.capture_message("the SDK's first event past the quota")
    sentry_sdk.flush(timeout=5)
    before = len(event_requests)
    for n in range(5):
        sentry_sdk.capture_message(f"while backing off {n}")
    sentry_sdk.flush(timeout=5)
    assert len(event_requests) == before, "the SDK sends no event while the rate limit lasts"
    sentry_sdk.get_client().close()

    assert sum(issue["count"] for issue in project.issues()) == 3
    # Refusals are counted per container and written at most once a second (errata.ingest.ProjectQuota):
    # the next request a second later writes what the last second refused.
    time.sleep(1.1)
    assert _post_one_event(project).status_code == 429
    assert project.api("").json()["dropped_last_hour"] >= 3
