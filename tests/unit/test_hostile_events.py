"""Events built to trip the parsers, the grouping and symbolication (the review's reproductions among them):
each is grouped, none raises. A record that raised would stall its shard."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from errata.event_preparation import prepare_event
from errata.store.artifacts import ArtifactStore, artifact_key
from errata.store.projects import ProjectSettings
from errata.symbolication.symbolicator import Symbolicator

HOSTILE: list[dict[str, Any]] = [
    {"message": "a." * 100_000 + "\n x"},
    {"message": "java.lang.IllegalStateException: x\n\tat a.B.c(B.java:²)"},
    {"message": "java.lang.IllegalStateException: x\n\tat a.B.c(B.java:" + "9" * 5000 + ")"},
    {"message": 'Traceback (most recent call last):\n  File "x.py", line ' + "9" * 5000 + ", in f\nValueError: x"},
    {"message": "\tat " + "a/" * 50_000 + "\nx"},
    {"message": "System.Exception: x" + " " * 20_000 + "\n  at A.B () [0x0] in f.cs:1" + " " * 20_000},
    {"message": "Error: x\n    at " + " (" * 20_000 + "f.js:1:1)"},
    {"message": "panic: x\n\ngoroutine 1 [running]:\nmain.f()\n\t/a/b.go:" + "9" * 5000},
    {"exception": {"values": [{"type": "A", "mechanism": {"exception_id": 1, "parent_id": 1}}]}},
    {
        "exception": {
            "values": [
                {"type": f"E{i}", "mechanism": {"exception_id": i, "parent_id": i - 1 if i else None}}
                for i in range(3000)
            ]
        }
    },
    {"exception": {"values": [{"type": "E", "stacktrace": {"frames": [{"function": "_111" * 25_000 + "x"}]}}]}},
    {
        "platform": "go",
        "exception": {
            "values": [
                {
                    "type": "E",
                    "stacktrace": {
                        "frames": [
                            {"module": "m", "function": f"f.func{i}", "abs_path": "/x/m/a.go", "data": None}
                            for i in range(10_000)
                        ]
                    },
                }
            ]
        },
    },
    {
        "platform": "node",
        "release": "1",
        "exception": {
            "values": [
                {
                    "type": "E",
                    "stacktrace": {
                        "frames": [
                            {"abs_path": "/srv/app.min.js", "lineno": -1, "colno": 2**40, "data": None},
                            {"abs_path": "/srv/app.min.js", "lineno": 1, "colno": 10, "data": "nope"},
                        ]
                    },
                }
            ]
        },
        "debug_meta": {
            "images": [{"type": "sourcemap", "code_file": f"/x{i}.js", "debug_id": "bad"} for i in range(50)]
        },
    },
    {
        "platform": "java",
        "release": "1",
        "exception": [{"type": 5, "module": ["x"], "stacktrace": {"frames": [None, 7]}}],
    },
]


@pytest.fixture
def symbolicator() -> Iterator[Symbolicator]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="errata-test-hostile")
        store = ArtifactStore(s3, "errata-test-hostile")
        # A release with a minified file whose map comment is empty and a map that is not one.
        s3.put_object(
            Bucket="errata-test-hostile", Key=artifact_key("p", "1", "~/app.min.js"), Body=b"x\n//# sourceMappingURL="
        )
        s3.put_object(Bucket="errata-test-hostile", Key=artifact_key("p", "1", "~/app.min.js.map"), Body=b"\x00" * 10)
        s3.put_object(
            Bucket="errata-test-hostile", Key=artifact_key("p", "1", "proguard/mapping.txt"), Body=b"\xff" * 100
        )
        yield Symbolicator(store)


@pytest.mark.parametrize("payload", HOSTILE, ids=range(len(HOSTILE)))
def test_a_hostile_event_is_grouped_and_nothing_raises(payload: dict[str, Any], symbolicator: Symbolicator) -> None:
    prepared = prepare_event("p", copy.deepcopy(payload), ProjectSettings(), symbolicator)
    assert len(prepared.grouping.issue_id) == 32
    assert prepared.grouping.title
    assert len(json.dumps(prepared.payload)) < len(json.dumps(payload)) + 10_000
