"""Source maps (fixtures made by esbuild and terser, crashes run by node: tests/fixtures/sourcemaps),
ProGuard mappings (made by ProGuard: tests/fixtures/proguard) and Go paths, against S3 through moto."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from errata.grouping.fingerprint import fingerprint_event
from errata.models.event import SentryEvent
from errata.stacktrace_text import exceptions_from_text
from errata.store.artifacts import ArtifactStore, ArtifactUnavailable, artifact_key, debug_id_key
from errata.symbolication.cache import ArtifactCache
from errata.symbolication.go_paths import strip_go_build_path
from errata.symbolication.sourcemaps import best_artifact
from errata.symbolication.symbolicator import Symbolicator

FIXTURES = Path(__file__).parents[1] / "fixtures"
MAPS = FIXTURES / "sourcemaps"
BUCKET = "errata-test-source-maps"
PROJECT = "42"


@pytest.fixture
def store() -> Iterator[ArtifactStore]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        yield ArtifactStore(s3, BUCKET)


def _put(store: ArtifactStore, key: str, body: bytes) -> None:
    store._s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def _upload_release(store: ArtifactStore, release: str, directory: str) -> None:
    for name in ("app.min.js", "app.min.js.map"):
        _put(store, artifact_key(PROJECT, release, f"~/{name}"), (MAPS / directory / name).read_bytes())


def _minified_event(release: str, directory: str, scenario: str) -> dict[str, Any]:
    """What @sentry/node sends for the crash: V8's frames as node printed them, oldest first."""
    captured = json.loads((MAPS / directory / f"{scenario}.frames.json").read_text())
    frames = []
    for frame in captured["frames"]:
        if frame["filename"] is None:  # V8's native frames (Array.map)
            frames.append({"function": frame["text"].split(" (", 1)[0], "in_app": False})
            continue
        function = frame["text"].split(" (", 1)[0] if " (" in frame["text"] else "<anonymous>"
        frames.append(
            {
                "function": function,
                "abs_path": frame["filename"],
                "filename": frame["filename"],
                "lineno": frame["lineno"],
                "colno": frame["colno"],
                "in_app": not frame["filename"].startswith("node:"),
            }
        )
    exception = {"type": captured["type"], "value": captured["value"], "stacktrace": {"frames": frames}}
    return {"platform": "node", "release": release, "exception": {"values": [exception]}}


def _app_frames(payload: dict[str, Any]) -> list[dict[str, Any]]:
    frames = payload["exception"]["values"][0]["stacktrace"]["frames"]
    return [f for f in frames if f["in_app"]]


@pytest.mark.parametrize("scenario", ["class_method", "arrow_callback", "named_function"])
@pytest.mark.parametrize("directory", ["dist-1.0.0", "dist-1.0.1"])
def test_minified_frames_resolve_to_the_original_file_line_and_column(
    store: ArtifactStore, directory: str, scenario: str
) -> None:
    release = directory.removeprefix("dist-")
    _upload_release(store, release, directory)
    payload = _minified_event(release, directory, scenario)
    Symbolicator(store).symbolicate(PROJECT, payload)
    truth = [
        f["original"]
        for f in json.loads((MAPS / directory / f"{scenario}.frames.json").read_text())["frames"]
        if f["filename"] and not f["filename"].startswith("node:")
    ]
    resolved = _app_frames(payload)
    assert [(f["filename"], f["lineno"], f["colno"]) for f in resolved] == [
        (t["source"], t["lineno"], t["colno"]) for t in truth
    ]
    for frame in resolved:
        assert frame["data"]["symbolicated"] is True
        assert frame["data"]["minified"]["abs_path"].endswith("/dist/app.min.js")
        assert frame["context_line"].strip()
        assert len(frame["pre_context"]) <= 5
    assert "errors" not in payload


def test_function_names_come_from_the_original_scopes(store: ArtifactStore) -> None:
    _upload_release(store, "1.0.0", "dist-1.0.0")
    payload = _minified_event("1.0.0", "dist-1.0.0", "class_method")
    Symbolicator(store).symbolicate(PROJECT, payload)
    # Node's own --enable-source-maps keeps `o.validate`; the scopes know the class. (terser's --compress
    # in 1.0.1 rewrites the class into an object, and the scopes then say `service.validate`.)
    assert [f["function"] for f in _app_frames(payload)][-3:] == [
        "handleRequest",
        "OrderService.placeOrder",
        "OrderService.validate",
    ]


@pytest.mark.parametrize("scenario", ["class_method", "arrow_callback"])
def test_two_releases_minified_differently_group_into_one_issue(store: ArtifactStore, scenario: str) -> None:
    issues = set()
    for directory in ("dist-1.0.0", "dist-1.0.1"):
        release = directory.removeprefix("dist-")
        _upload_release(store, release, directory)
        payload = _minified_event(release, directory, scenario)
        minified = fingerprint_event(SentryEvent.model_validate(payload)).components
        assert all(":app.min:" in c for c in minified if c.startswith("frame:")), "grouped by the bundle"
        Symbolicator(store).symbolicate(PROJECT, payload)
        grouping = fingerprint_event(SentryEvent.model_validate(payload))
        assert all(c.startswith("frame:service:line:") for c in grouping.components if c.startswith("frame:"))
        issues.add(grouping.issue_id)
    assert len(issues) == 1


def test_a_debug_id_finds_the_map_whatever_the_release_or_file_name(store: ArtifactStore) -> None:
    directory = MAPS / "dist-1.0.0-debugid"
    debug_id = re.findall(r"//# debugId=(\S+)", (directory / "app.min.js").read_text())[-1]
    _put(store, debug_id_key(PROJECT, debug_id, "source_map"), (directory / "app.min.js.map").read_bytes())
    _put(store, debug_id_key(PROJECT, debug_id, "minified_source"), (directory / "app.min.js").read_bytes())
    payload = _minified_event("unrelated-release", "dist-1.0.0-debugid", "class_method")
    code_file = _app_frames(payload)[0]["abs_path"]
    payload["debug_meta"] = {"images": [{"type": "sourcemap", "code_file": code_file, "debug_id": debug_id}]}
    Symbolicator(store).symbolicate(PROJECT, payload)
    assert _app_frames(payload)[-1]["function"] == "OrderService.validate"
    assert _app_frames(payload)[-1]["data"]["sourcemap"] == f"debug-id:{debug_id}"


def test_a_missing_or_broken_map_leaves_the_frame_minified_with_the_reason(store: ArtifactStore) -> None:
    minified = (MAPS / "dist-1.0.0" / "app.min.js").read_bytes()
    _put(store, artifact_key(PROJECT, "2.0.0", "~/app.min.js"), minified)  # the map was never uploaded
    payload = _minified_event("2.0.0", "dist-1.0.0", "class_method")
    before = json.dumps(_app_frames(payload)[-1]["function"])
    Symbolicator(store).symbolicate(PROJECT, payload)
    frame = _app_frames(payload)[-1]
    assert json.dumps(frame["function"]) == before
    assert "app.min.js.map" in frame["data"]["symbolication_error"]
    assert {e["type"] for e in payload["errors"]} == {"js_missing_source_map"}

    _put(store, artifact_key(PROJECT, "3.0.0", "~/app.min.js"), minified)
    _put(store, artifact_key(PROJECT, "3.0.0", "~/app.min.js.map"), b'{"version": 3, "mappings": 42}')
    broken = _minified_event("3.0.0", "dist-1.0.0", "class_method")
    Symbolicator(store).symbolicate(PROJECT, broken)
    assert {e["type"] for e in broken["errors"]} == {"js_invalid_source"}
    assert fingerprint_event(SentryEvent.model_validate(broken)).issue_id  # still grouped


def test_a_release_without_artifacts_records_nothing(store: ArtifactStore) -> None:
    payload = _minified_event("9.9.9", "dist-1.0.0", "class_method")
    Symbolicator(store).symbolicate(PROJECT, payload)
    assert "errors" not in payload


def test_a_logged_minified_trace_is_symbolicated_too(store: ArtifactStore) -> None:
    _upload_release(store, "1.0.0", "dist-1.0.0")
    text = (MAPS / "dist-1.0.0" / "class_method.stack.txt").read_text()
    exceptions = exceptions_from_text(text)
    payload = {
        "platform": "node",
        "release": "1.0.0",
        "exception": {"values": [e.model_dump(exclude_none=True) for e in exceptions]},
    }
    Symbolicator(store).symbolicate(PROJECT, payload)
    crash = payload["exception"]["values"][0]["stacktrace"]["frames"][-1]
    assert (crash["filename"], crash["lineno"], crash["function"]) == ("src/service.js", 17, "OrderService.validate")


@pytest.mark.parametrize(
    ("names", "path", "expected"),
    [
        (["~/app.min.js", "~/app.min.js.map"], "/srv/dist/app.min.js", "~/app.min.js"),
        (
            ["~/app.min.js", "~/static/app.min.js"],
            "https://cdn.example.com/static/app.min.js?v=3",
            "~/static/app.min.js",
        ),
        (["~/other.js"], "/srv/dist/app.min.js", None),
        (["https://cdn.example.com/app.js"], "https://cdn.example.com/app.js", "https://cdn.example.com/app.js"),
        (["~/pp.min.js"], "/srv/dist/app.min.js", None),
    ],
)
def test_artifact_names_match_like_sentrys_tilde_convention(names: list[str], path: str, expected: str | None) -> None:
    assert best_artifact(names, path) == expected


def test_the_parsed_map_cache_is_bounded_and_remembers_misses() -> None:
    now = [0.0]
    cache: ArtifactCache[str] = ArtifactCache(max_bytes=100, miss_seconds=60, clock=lambda: now[0])
    loads: list[str] = []

    def loader(value: str, size: int) -> Any:
        def load() -> tuple[str, int]:
            loads.append(value)
            return value, size

        return load

    for key in ("a", "b", "c"):
        cache.get_or_load(key, loader(key, 40))
    assert cache.bytes <= 100
    assert len(cache) == 2  # "a" was evicted
    cache.get_or_load("c", loader("c", 40))
    assert loads == ["a", "b", "c"]
    assert cache.get_or_load("missing", lambda: "no map") == "no map"
    assert cache.get_or_load("missing", lambda: pytest.fail("a miss is remembered")) == "no map"
    now[0] = 61
    assert cache.get_or_load("missing", lambda: ("found", 1)) == "found"


def test_proguard_frames_are_deobfuscated_with_inlined_frames_expanded(store: ArtifactStore) -> None:
    directory = FIXTURES / "proguard"
    _put(store, artifact_key(PROJECT, "billing@1.0", "proguard/mapping.txt"), (directory / "mapping.txt").read_bytes())
    obfuscated = exceptions_from_text((directory / "obfuscated.stack.txt").read_text())
    payload = {
        "platform": "java",
        "release": "billing@1.0",
        "exception": {"values": [e.model_dump(exclude_none=True) for e in obfuscated]},
    }
    Symbolicator(store).symbolicate(PROJECT, payload)
    original = exceptions_from_text((directory / "original.stack.txt").read_text())
    for got, want in zip(payload["exception"]["values"], original, strict=True):
        assert got["type"] == want.type
        want_frames = [(f.module, f.function, f.lineno) for f in want.stacktrace.frames] if want.stacktrace else []
        got_frames = [(f["module"], f["function"], f["lineno"]) for f in got["stacktrace"]["frames"]]
        assert got_frames == want_frames


def test_go_build_paths_are_stripped_to_the_import_path() -> None:
    frames = [
        {"abs_path": "/home/runner/work/shop/shop/internal/api/api.go", "module": "example.com/shop/internal/api"},
        {
            "abs_path": "/root/go/pkg/mod/github.com/vendorco/webkit@v1.4.0/webkit.go",
            "module": "github.com/vendorco/webkit",
        },
        {"abs_path": "/usr/local/go/src/net/http/server.go", "module": "net/http"},
        {"abs_path": "/build/cmd/shopd/main.go", "module": "main"},
        {"abs_path": "internal/api/api.go", "module": "example.com/shop/internal/api"},
    ]
    for frame in frames:
        strip_go_build_path(frame)
    assert [f["abs_path"] for f in frames] == [
        "example.com/shop/internal/api/api.go",
        "github.com/vendorco/webkit@v1.4.0/webkit.go",
        "net/http/server.go",
        "shopd/main.go",
        "internal/api/api.go",
    ]
    assert frames[0]["data"]["orig_abs_path"] == "/home/runner/work/shop/shop/internal/api/api.go"


class _S3Outage:
    """S3 answering 503 SlowDown to every GetObject (and listing), as during an outage; moto never does."""

    def __init__(self, s3: Any) -> None:
        self.s3 = s3
        self.active = True

    def __call__(self, **_: Any) -> Any:
        if not self.active:
            return None
        from botocore.awsrequest import AWSResponse

        parsed = {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}
        parsed["ResponseMetadata"] = {"HTTPStatusCode": 503}
        return AWSResponse("https://s3.amazonaws.com/", 503, {}, None), parsed

    def __enter__(self) -> _S3Outage:
        for operation in ("GetObject", "ListObjectsV2"):
            self.s3.meta.events.register(f"before-call.s3.{operation}", self, unique_id=f"outage-{operation}")
        return self

    def __exit__(self, *_: Any) -> None:
        for operation in ("GetObject", "ListObjectsV2"):
            self.s3.meta.events.unregister(f"before-call.s3.{operation}", unique_id=f"outage-{operation}")


def test_an_s3_outage_is_not_a_missing_map_and_is_not_remembered(store: ArtifactStore) -> None:
    """A failed fetch cached as a miss grouped that minute's events on minified frames: a second, permanent
    issue for the same crash. An outage raises (the processor retries the record) and nothing is cached."""
    _upload_release(store, "1.0.0", "dist-1.0.0")
    symbolicator = Symbolicator(store)
    with _S3Outage(store._s3), pytest.raises(ArtifactUnavailable):
        symbolicator.symbolicate(PROJECT, _minified_event("1.0.0", "dist-1.0.0", "class_method"))
    payload = _minified_event("1.0.0", "dist-1.0.0", "class_method")
    symbolicator.symbolicate(PROJECT, payload)  # S3 is back: the same container resolves at once
    assert all(frame["data"]["symbolicated"] for frame in _app_frames(payload))


def test_a_map_still_read_is_renewed_before_the_bucket_expires_it(store: ArtifactStore) -> None:
    _upload_release(store, "1.0.0", "dist-1.0.0")
    key = artifact_key(PROJECT, "1.0.0", "~/app.min.js.map")
    fresh = ArtifactStore(store._s3, BUCKET, renew_after=timedelta(days=30))
    assert fresh.read(key) is not None
    assert "errata-renewed" not in store._s3.head_object(Bucket=BUCKET, Key=key)["Metadata"]
    due = ArtifactStore(store._s3, BUCKET, renew_after=timedelta(0))
    body = due.read(key)
    assert "errata-renewed" in store._s3.head_object(Bucket=BUCKET, Key=key)["Metadata"]
    assert store.read(key) == body  # the copy is the same object
