"""Fuzzing ingest over HTTP, as an attacker with a public DSN would: envelope framing, item headers,
compression, auth headers and payloads of every type and size. Every answer is a 200 or a 4xx with a reason
(never a 5xx or a traceback), and afterwards the stack still takes a valid event."""

from __future__ import annotations

import gzip
import json
import uuid
import zlib
from typing import Any

import brotli
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from errata_local.stack import LocalStack, StackInfo
from tests.conftest import new_test_project
from tests.integration.conftest import TestProject, wait_for

pytestmark = pytest.mark.integration

_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**50), max_value=10**50) | st.floats() | _TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_TEXT, children, max_size=3),
    max_leaves=15,
)
_ITEM_TYPES = st.sampled_from(["event", "session", "sessions", "transaction", "attachment", "client_report"]) | _TEXT
_PAYLOADS = (
    _JSON.map(lambda value: json.dumps(value).encode())
    | st.binary(max_size=200)
    | st.sampled_from(
        [
            b'{"message": "\\ud800 lone"}',
            b'{"a":' * 300 + b"1" + b"}" * 300,
            b'{"aggregates": [{"started": "2026-01-01T00:00:00Z", "exited": 1e40}]}',
            b'{"user": {"id": ' + b"9" * 4500 + b"}}",
            b'{"exception": [{"stacktrace": {"frames": [{}]}}]}',
            b"\x00\x00\x00",
        ]
    )
)


@st.composite
def envelopes(draw: Any) -> bytes:
    header = draw(st.sampled_from([b"{}", b"", b"not json", b"[]"]) | _JSON.map(lambda v: json.dumps(v).encode()))
    parts = [header]
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        payload = draw(_PAYLOADS)
        item: dict[str, Any] = {"type": draw(_ITEM_TYPES)}
        length = draw(st.sampled_from(["exact", "none", "wrong"]))
        if length == "exact":
            item["length"] = len(payload)
        elif length == "wrong":
            item["length"] = draw(st.integers(min_value=-5, max_value=10**12) | _JSON)
        parts += [json.dumps(item).encode(), payload]
    return b"\n".join(parts) + draw(st.sampled_from([b"", b"\n", b"\n\n"]))


_ENCODINGS = {
    None: lambda body: body,
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
    "garbage-gzip": lambda body: b"\x1f\x8b" + body[:50],
    "zstd": lambda body: body,
}


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    body=envelopes(),
    encoding=st.sampled_from(list(_ENCODINGS)),
    endpoint=st.sampled_from(["envelope", "store"]),
    auth=st.sampled_from(["header", "query", "none", "garbage"]),
)
def test_every_answer_is_a_200_or_a_4xx_with_a_reason(
    fuzz_project: TestProject, body: bytes, encoding: str | None, endpoint: str, auth: str
) -> None:
    headers: dict[str, str] = {}
    url = f"{fuzz_project.base_url}/api/{fuzz_project.project_id}/{endpoint}/"
    if auth == "header":
        headers["X-Sentry-Auth"] = f"Sentry sentry_key={fuzz_project.public_key}, sentry_version=7"
    elif auth == "query":
        url += f"?sentry_key={fuzz_project.public_key}"
    elif auth == "garbage":
        headers["X-Sentry-Auth"] = "Sentry ,,,=="
    if encoding is not None:
        headers["Content-Encoding"] = encoding.removeprefix("garbage-")
    response = requests.post(url, data=_ENCODINGS[encoding](body), headers=headers, timeout=30)
    assert response.status_code == 200 or 400 <= response.status_code < 500, (response.status_code, response.text)
    assert "Traceback" not in response.text
    if response.status_code >= 400:
        assert response.json()["detail"]


@pytest.fixture(scope="module")
def fuzz_project(stack: LocalStack, info: StackInfo) -> TestProject:
    """One project for every example: hypothesis runs the test many times within one function fixture."""
    return new_test_project(stack, info)


def test_after_the_fuzzing_a_valid_event_still_arrives(fuzz_project: TestProject) -> None:
    event_id = uuid.uuid4().hex
    fuzz_project.store({"event_id": event_id, "message": "still standing after the fuzzing"})
    issues = wait_for(
        lambda: [i for i in fuzz_project.issues() if i["title"] == "still standing after the fuzzing"], timeout=60
    )
    assert issues[0]["count"] == 1
