"""Ingest over HTTP: what Sentry clients send, and every way a request can be wrong."""

from __future__ import annotations

import gzip
import json
import time
import uuid
import zlib
from pathlib import Path

import brotli
import pytest
import requests

from errata_local.stack import LocalStack
from functions.ingest import handler as ingest_handler
from tests.aws_faults import PartialPutRecords, partial_put_records
from tests.integration.conftest import TestProject, wait_for

pytestmark = pytest.mark.integration
SAMPLES = Path(__file__).parent.parent / "fixtures" / "envelopes"


def _auth(key: str) -> dict[str, str]:
    return {"X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7, sentry_client=test/1.0"}


def _envelope(event: dict[str, object]) -> bytes:
    payload = json.dumps(event).encode()
    return b"{}\n" + json.dumps({"type": "event", "length": len(payload)}).encode() + b"\n" + payload + b"\n"


def _post(project: TestProject, body: bytes, endpoint: str = "envelope", **headers: str) -> requests.Response:
    return requests.post(
        f"{project.base_url}/api/{project.project_id}/{endpoint}/",
        data=body,
        headers={**_auth(project.public_key), **headers},
        timeout=10,
    )


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.glob("*.envelope")))
def test_every_real_sdk_envelope_is_accepted(project: TestProject, sample: str) -> None:
    response = _post(project, gzip.compress((SAMPLES / sample).read_bytes()), **{"Content-Encoding": "gzip"})
    assert response.status_code == 200, response.text
    body = response.json()
    if b'"type":"event"' in (SAMPLES / sample).read_bytes():
        assert len(body["id"]) == 32


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("br", brotli.compress), (None, lambda b: b)],
)
def test_each_encoding_reaches_an_issue_with_the_returned_id(
    project: TestProject, encoding: str | None, encode
) -> None:  # type: ignore[no-untyped-def]
    event_id = uuid.uuid4().hex
    headers = {"Content-Encoding": encoding} if encoding else {}
    response = _post(project, encode(_envelope({"event_id": event_id, "message": f"via {encoding}"})), **headers)
    assert response.status_code == 200
    assert response.json() == {"id": event_id}
    issue = wait_for(lambda: project.issues())[0]
    assert project.api(f"/issues/{issue['id']}").json()["event"]["event_id"] == event_id


def test_store_endpoint_and_query_string_auth(project: TestProject) -> None:
    response = requests.post(
        f"{project.base_url}/api/{project.project_id}/store/?sentry_key={project.public_key}&sentry_version=7",
        data=json.dumps({"message": "legacy store"}),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 200
    assert len(response.json()["id"]) == 32
    assert wait_for(lambda: project.issues())[0]["title"] == "legacy store"


def test_paths_without_the_trailing_slash_are_served_too(project: TestProject) -> None:
    response = requests.post(
        f"{project.base_url}/api/{project.project_id}/envelope",
        data=_envelope({"message": "no slash"}),
        headers=_auth(project.public_key),
        timeout=10,
    )
    assert response.status_code == 200
    assert wait_for(lambda: project.issues())[0]["title"] == "no slash"


def test_envelope_header_dsn_authenticates_alone(project: TestProject) -> None:
    payload = json.dumps({"message": "dsn in header"}).encode()
    body = json.dumps({"dsn": project.dsn}).encode() + b'\n{"type":"event"}\n' + payload
    response = requests.post(project.envelope_url, data=body, timeout=10)
    assert response.status_code == 200


def test_non_event_items_are_accepted_and_not_issues(project: TestProject) -> None:
    body = b'{}\n{"type":"sessions"}\n{"aggregates":[]}\n{"type":"profile_chunk_v9"}\n{}\n'
    response = _post(project, body)
    assert response.status_code == 200
    assert response.json() == {}


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (b"this is not an envelope", {}, 400, "invalid_envelope"),
        (b'{}\n{"type":"event","length":500}\n{}', {}, 400, "invalid_envelope"),
        (b"\x1f\x8b\x08\x00garbage", {"Content-Encoding": "gzip"}, 400, "invalid_compression"),
        (b"not brotli at all", {"Content-Encoding": "br"}, 400, "invalid_compression"),
        (b'{}\n{"type":"event"}\n{"message": nope}\n', {}, 400, "invalid_payload"),
        (b'{}\n{"type":"event"}\n["a list"]\n', {}, 400, "invalid_payload"),
        (b"x", {"Content-Encoding": "zstd"}, 415, "unsupported_encoding"),
    ],
)
def test_bad_requests_get_a_4xx_with_a_reason(
    project: TestProject, body: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    response = _post(project, body, **headers)
    assert response.status_code == status
    assert response.json()["code"] == code
    assert response.json()["detail"]


def test_missing_key_is_401_and_unknown_key_or_project_is_403(project: TestProject) -> None:
    body = _envelope({"message": "x"})
    missing = requests.post(project.envelope_url, data=body, timeout=10)
    assert (missing.status_code, missing.json()["code"]) == (401, "missing_auth")
    wrong = requests.post(project.envelope_url, data=body, headers=_auth("0" * 32), timeout=10)
    assert (wrong.status_code, wrong.json()["code"]) == (403, "unknown_project_key")
    other_project = requests.post(
        f"{project.base_url}/api/999999999999/envelope/",
        data=body,
        headers=_auth(project.public_key),
        timeout=10,
    )
    assert other_project.status_code == 403


def test_an_event_past_one_mebibyte_is_413(project: TestProject) -> None:
    event = {"message": "big", "extra": {"blob": "x" * (1024 * 1024)}}
    response = _post(project, gzip.compress(_envelope(event)), **{"Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_a_zip_bomb_is_413_not_a_crash(project: TestProject) -> None:
    bomb = gzip.compress(b"{}\n" + b" " * (64 * 1024 * 1024))
    response = _post(project, bomb, **{"Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert "decompressed" in response.json()["detail"]


def test_nothing_is_processed_from_rejected_requests(project: TestProject) -> None:
    _post(project, b"garbage")
    requests.post(project.envelope_url, data=_envelope({"message": "no auth"}), timeout=10)
    _post(project, _envelope({"message": "the only good one"}))
    issues = wait_for(lambda: project.issues())
    assert [issue["title"] for issue in issues] == ["the only good one"]


def _items(*items: tuple[str, bytes]) -> bytes:
    return b"{}\n" + b"".join(json.dumps({"type": kind}).encode() + b"\n" + payload + b"\n" for kind, payload in items)


def _sessions(project: TestProject, release: str) -> int:
    rows = project.api("/traffic", hours=2).json()["traffic"]
    return sum(row.get("sessions") or 0 for row in rows if row.get("value") == release)


def test_a_rejected_envelope_puts_nothing_on_the_stream(project: TestProject) -> None:
    """The sessions before a malformed event are not counted: the SDK's retry would count them again."""
    sessions = json.dumps(
        {"aggregates": [{"started": "2026-12-02T10:00:00Z", "exited": 4}], "attrs": {"release": "r@1"}}
    )
    rejected = _post(project, _items(("sessions", sessions.encode()), ("event", b"{not json")))
    assert rejected.status_code == 400
    accepted = _post(
        project, _items(("sessions", sessions.encode()), ("event", json.dumps({"message": "ok"}).encode()))
    )
    assert accepted.status_code == 200
    wait_for(lambda: project.issues())
    assert wait_for(lambda: _sessions(project, "r@1")) == 4  # the accepted request's sessions only
    assert [i["count"] for i in project.issues()] == [1]


def test_an_envelope_of_600_events_is_put_in_chunks_kinesis_accepts(project: TestProject) -> None:
    from functions.ingest import handler as ingest

    kinesis = ingest.service()._stream._kinesis  # the ingest function's own client
    sizes: list[int] = []

    def count(params: dict[str, object], **_: object) -> None:
        sizes.append(len(json.loads(params["body"])["Records"]))  # type: ignore[arg-type]

    kinesis.meta.events.register("before-call.kinesis.PutRecords", count, unique_id="count-put-records")
    try:
        events = [("event", json.dumps({"message": "bulk import failed"}).encode()) for _ in range(600)]
        response = _post(project, _items(*events), **{"X-Sentry-Auth": f"Sentry sentry_key={project.public_key}"})
    finally:
        kinesis.meta.events.unregister("before-call.kinesis.PutRecords", unique_id="count-put-records")
    assert response.status_code == 200, response.text
    assert sizes == [500, 100]  # PutRecords takes at most 500 records
    wait_for(lambda: [i["count"] for i in project.issues()] == [600] or None, timeout=60)


def test_an_envelope_resent_after_a_partial_put_failure_counts_each_item_once(
    stack: LocalStack, project: TestProject
) -> None:
    """PutRecords wrote 4 of the envelope's 10 records, then Kinesis kept throttling the rest: ingest answers
    503 and the SDK sends the whole envelope again. The 4 already on the stream carry the same ids as their
    copies, so the processor counts each once."""
    events = [{"event_id": uuid.uuid4().hex, "message": "checkout failed"} for _ in range(8)]
    sessions = json.dumps(
        {"aggregates": [{"started": "2026-12-01T10:00:00Z", "exited": 3}], "attrs": {"release": "p@1"}}
    )
    body = b"{}\n" + b"".join(
        json.dumps({"type": "event"}).encode() + b"\n" + json.dumps(event).encode() + b"\n" for event in events
    )
    body += b'{"type": "sessions"}\n' + sessions.encode() + b"\n"
    body += b'{"type": "sessions"}\n' + sessions.replace('"exited": 3', '"exited": 4').encode() + b"\n"
    faults = PartialPutRecords(stream_client=stack.client("kinesis"), accepted=4, failing_calls=3)
    with partial_put_records(ingest_handler.service()._stream._kinesis, faults):
        refused = _post(project, body)
    assert refused.status_code == 503, refused.text
    assert _post(project, body).status_code == 200

    def settled() -> list[dict[str, object]] | None:
        issues = project.issues()
        traffic = project.api("/traffic", hours=2).json()["traffic"]
        sessions_counted = sum(int(row.get("sessions", 0)) for row in traffic if row["dimension"] == "release")
        return issues if issues and issues[0]["count"] >= 8 and sessions_counted >= 7 else None

    wait_for(settled)
    time.sleep(1.5)  # any duplicate is on the same shard right behind its first copy
    assert [issue["count"] for issue in project.issues()] == [8]
    traffic = project.api("/traffic", hours=2).json()["traffic"]
    assert [row["sessions"] for row in traffic if row["dimension"] == "release"] == [7]
