"""What an attacker sends to a public DSN and to the API, over HTTP to the local stack (which refuses what
API Gateway and Lambda refuse): each was a 5xx, or a 200 whose event then vanished. Now every answer is a
200 that counts once, or a 4xx with the reason."""

from __future__ import annotations

import gzip
import json
import os
import time
import uuid
from typing import Any

import pytest
import requests

from errata.limits import INGEST_MAX_BODY_BYTES
from tests.integration.conftest import TestProject, wait_for

pytestmark = pytest.mark.integration


def _auth(project: TestProject) -> dict[str, str]:
    return {"X-Sentry-Auth": f"Sentry sentry_key={project.public_key}, sentry_version=7"}


def _post(project: TestProject, body: bytes, **headers: str) -> requests.Response:
    return requests.post(project.envelope_url, data=body, headers={**_auth(project), **headers}, timeout=30)


def _items(*items: tuple[str, bytes], header: bytes = b"{}") -> bytes:
    return header + b"\n" + b"".join(json.dumps({"type": t}).encode() + b"\n" + p + b"\n" for t, p in items)


def _nested(depth: int) -> bytes:
    return b'{"message": "deep", "extra": ' + b'{"a": ' * depth + b"1" + b"}" * depth + b"}"


def _problem(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["detail"] and "Traceback" not in response.text
    return body


@pytest.mark.parametrize("depth", [150, 240, 300, 10_000])
def test_json_nested_past_the_limit_is_a_400_at_both_endpoints(project: TestProject, depth: int) -> None:
    """226-255 levels used to be a 200 that the processor could not read (dead-lettered); 257+ and 10,000
    a 500."""
    envelope = _problem(_post(project, _items(("event", _nested(depth)))), 400)
    assert "nested deeper than 100 levels" in envelope["detail"]
    store = requests.post(
        f"{project.base_url}/api/{project.project_id}/store/", data=_nested(depth), headers=_auth(project), timeout=30
    )
    assert "nested deeper than 100 levels" in _problem(store, 400)["detail"]


def test_a_lone_surrogate_is_replaced_and_its_session_counted_once(project: TestProject) -> None:
    session = json.dumps({"sid": uuid.uuid4().hex, "init": True, "status": "ok", "attrs": {"release": "s@1"}})
    event = b'{"message": "broken \\ud800 text"}'
    response = _post(project, _items(("event", event), ("session", session.encode())))
    assert response.status_code == 200, response.text
    issue = wait_for(lambda: project.issues())[0]
    assert issue["title"] == "broken \ufffd text"

    def sessions() -> int | None:
        rows = project.api("/traffic", hours=2).json()["traffic"]
        return next((row["sessions"] for row in rows if row["value"] == "s@1"), None)

    assert wait_for(sessions) == 1


def test_an_item_type_of_300_characters_is_accepted_beside_the_event(project: TestProject) -> None:
    response = _post(project, _items(("x" * 300, b"{}"), ("event", b'{"message": "beside an odd item"}')))
    assert response.status_code == 200, response.text
    assert wait_for(lambda: project.issues())[0]["title"] == "beside an odd item"


@pytest.mark.parametrize("count", [10**30, 10**45])
def test_session_counts_no_number_can_hold_are_a_400(project: TestProject, count: int) -> None:
    aggregates = json.dumps({"aggregates": [{"started": "2026-12-01T10:00:00Z", "exited": count}]})
    body = _problem(_post(project, _items(("sessions", aggregates.encode()))), 400)
    assert "out of range" in body["detail"]


def test_a_body_over_the_ingest_limit_gets_errata_413_with_the_reason(project: TestProject) -> None:
    noise = os.urandom(INGEST_MAX_BODY_BYTES + 100_000)  # incompressible: the body stays this size
    body = _problem(_post(project, noise, **{"Content-Encoding": "gzip"}), 413)
    assert body["code"] == "payload_too_large"
    assert str(INGEST_MAX_BODY_BYTES) in body["detail"]


def test_a_body_aws_would_refuse_is_refused_here_too(project: TestProject) -> None:
    """12 MB is past API Gateway's 10 MB: AWS answers before any function runs; locally it got a 200."""
    response = _post(project, b"{}\n" + b" " * (12 * 1024 * 1024))
    assert response.status_code == 413
    assert "10485760" in response.json()["message"]


@pytest.mark.parametrize(
    "payload",
    [
        {"message": "long user id", "user": {"id": "u" * 5000}},
        {"message": "numeric user id", "user": {"id": int("7" * 4000)}},
        {"message": "long email", "user": {"email": "e" * 5000 + "@example.com"}},
        {"message": "long release", "release": "r" * 1500},
        {"message": "huge release", "release": "r" * 200_000},
        {"message": "long transaction", "transaction": "/t" * 225_000},
        {
            "message": "long module",
            "exception": {"values": [{"type": "E", "stacktrace": {"frames": [{"module": "m" * 450_000}]}}]},
        },
    ],
    ids=["user-id", "user-id-int", "email", "release-1.5k", "release-200k", "transaction-450k", "module-450k"],
)
def test_values_too_long_for_a_key_are_cut_and_the_event_counted(project: TestProject, payload: dict[str, Any]) -> None:
    """Each became a key value past DynamoDB's limits: a 200, then every transaction of its batch failed."""
    raw = json.dumps(payload).encode()
    response = _post(project, gzip.compress(_items(("event", raw))), **{"Content-Encoding": "gzip"})
    assert response.status_code == 200, response.text
    issues = wait_for(lambda: project.issues(), timeout=30)
    title = "E" if "exception" in payload else payload["message"]  # an exception titles the event
    assert [(issue["title"], issue["count"]) for issue in issues] == [(title, 1)]


def test_the_same_envelope_sent_three_times_counts_once(project: TestProject) -> None:
    body = _items(("event", json.dumps({"event_id": uuid.uuid4().hex, "message": "retried by the SDK"}).encode()))
    for _ in range(3):
        assert _post(project, body).status_code == 200
    assert wait_for(lambda: project.issues())[0]["count"] == 1
    time.sleep(1.5)  # the copies are on the same shard, behind the first: give the poller time to read them
    assert project.issues()[0]["count"] == 1


def test_a_browser_sdk_can_read_the_rate_limit_headers(project: TestProject) -> None:
    preflight = requests.options(
        project.envelope_url,
        headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    assert preflight.status_code in (200, 204)
    posted = _post(project, _items(("event", b'{"message": "cors"}')), Origin="https://app.example.com")
    exposed = {h.strip().lower() for h in posted.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"retry-after", "x-sentry-rate-limits"} <= exposed


@pytest.mark.parametrize(
    ("method", "path"),
    [("PATCH", "/issues/{issue}"), ("PATCH", ""), ("POST", "/deploys"), ("PUT", "/alert-rules/deep")],
)
def test_api_bodies_nested_10000_levels_are_a_400(project: TestProject, method: str, path: str) -> None:
    project.store({"message": "an issue to patch"})
    issue = wait_for(lambda: project.issues())[0]["id"]
    url = f"{project.base_url}/api/projects/{project.project_id}{path.format(issue=issue)}"
    response = requests.request(
        method,
        url,
        data=b'{"a": ' * 10_000 + b"1" + b"}" * 10_000,
        headers={"Authorization": f"Bearer {project.api_token}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert _problem(response, 400)["code"] == "invalid_json"


def test_an_ignore_count_no_counter_can_reach_is_a_422(project: TestProject) -> None:
    project.store({"message": "ignore me for a while"})
    issue = wait_for(lambda: project.issues())[0]["id"]
    response = project.call("PATCH", f"/issues/{issue}", {"status": "ignored", "ignore_count": 1e40})
    assert _problem(response, 422)["code"] == "invalid_request"


@pytest.mark.parametrize("name", [".", "..", "~/../app.js"])
def test_artifact_names_that_are_dot_segments_are_refused(project: TestProject, name: str) -> None:
    response = project.call(
        "POST", "/releases/1.0.0/artifacts", {"files": [{"name": name, "size": 10, "kind": "minified_source"}]}
    )
    assert "path segment" in _problem(response, 422)["detail"]
