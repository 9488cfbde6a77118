"""Many SDKs sending at once to the local stack: every acknowledged event is counted, exactly. moto's
Kinesis is not thread-safe (two concurrent PutRecords to a shard got one sequence number and the second
overwrote the first: 9 of 2,000 acknowledged events were never seen); errata_local serializes its writes."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.integration.conftest import TestProject, wait_for

pytestmark = pytest.mark.integration
SENDERS = 16
EVENTS_PER_SENDER = 100


def test_concurrent_senders_lose_nothing_and_count_nothing_twice(project: TestProject) -> None:
    def send(sender: int) -> int:
        acknowledged = 0
        with requests.Session() as session:  # keep-alive, as SDK transports do
            for n in range(EVENTS_PER_SENDER):
                event = {"event_id": uuid.uuid4().hex, "message": "checkout failed under load", "extra": {"n": n}}
                payload = json.dumps(event).encode()
                body = b"{}\n" + json.dumps({"type": "event", "length": len(payload)}).encode() + b"\n" + payload
                response = session.post(
                    project.envelope_url,
                    data=body,
                    headers={"X-Sentry-Auth": f"Sentry sentry_key={project.public_key}, sentry_version=7"},
                    timeout=30,
                )
                acknowledged += response.status_code == 200
        return acknowledged

    with ThreadPoolExecutor(SENDERS) as pool:
        acknowledged = sum(pool.map(send, range(SENDERS)))
    assert acknowledged == SENDERS * EVENTS_PER_SENDER

    def counted() -> int:
        issues = project.issues()
        return sum(issue["count"] for issue in issues)

    wait_for(lambda: counted() >= acknowledged, timeout=120)
    time.sleep(1.0)
    assert counted() == acknowledged


def test_concurrent_api_reads_all_succeed(project: TestProject) -> None:
    """One Powertools resolver per handler module keeps the current request: concurrent requests into one
    handler must take turns (errata_local.stack.local_invoke), as requests to one Lambda container do; they
    used to get each other's route arguments (15% 500s)."""
    project.store({"message": "read under load"})
    wait_for(lambda: project.issues())

    def read(_: int) -> list[int]:
        with requests.Session() as session:
            headers = {"Authorization": f"Bearer {project.api_token}"}
            urls = [f"/api/projects/{project.project_id}/issues", f"/api/projects/{project.project_id}"]
            return [
                session.get(project.base_url + urls[n % 2], headers=headers, timeout=30).status_code for n in range(20)
            ]

    with ThreadPoolExecutor(16) as pool:
        statuses = [status for batch in pool.map(read, range(16)) for status in batch]
    assert statuses == [200] * len(statuses)
