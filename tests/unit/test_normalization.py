"""Fields within the limits their storage allows (errata.normalization): the values #13's review sent, which
were accepted and then failed every transaction of their batch."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from errata.event_preparation import prepare_event
from errata.normalization import MAX_BREADCRUMBS, MAX_FRAMES, normalize_event
from errata.store.projects import ProjectSettings
from errata.store.user_issues import identity_keys

# DynamoDB: a sort key is at most 1,024 bytes, a partition key 2,048 (errata.limits).
SORT_KEY_BYTES = 1024


def _prepared(payload: dict[str, Any]) -> Any:
    return prepare_event("1", copy.deepcopy(payload), ProjectSettings())


@pytest.mark.parametrize(
    "user",
    [
        {"id": "u" * 5000},
        {"id": int("9" * 4000)},
        {"email": "é" * 5000 + "@example.com"},
        {"ip_address": "1.2.3.4" * 1000},
        {"username": "x" * 100_000},
    ],
    ids=["id-5000-chars", "id-4000-digit-int", "email-5000-two-byte-chars", "ip-7000-chars", "username-100k"],
)
def test_user_fields_that_become_key_values_fit_a_key(user: dict[str, Any]) -> None:
    prepared = _prepared({"message": "m", "user": user})
    for key in identity_keys("1", prepared.event.user):
        assert len(key.encode()) <= SORT_KEY_BYTES
    assert prepared.event.user is not None


@pytest.mark.parametrize("length", [201, 1_500, 200_000])
def test_a_release_too_long_to_be_one_is_dropped_and_said_so(length: int) -> None:
    prepared = _prepared({"message": "m", "release": "r" * length})
    assert prepared.event.release is None
    assert prepared.payload["errors"] == [
        {"type": "invalid_data", "name": "release", "reason": "longer than 200 characters", "value": "r" * 61 + "..."}
    ]


@pytest.mark.parametrize("release", ["a\nb", "..", ".", "latest", " v1", "a/b", "1.0\x00"])
def test_a_release_that_cannot_be_a_name_is_dropped(release: str) -> None:
    assert _prepared({"message": "m", "release": release}).event.release is None


def test_valid_releases_and_environments_are_kept_as_sent() -> None:
    prepared = _prepared({"message": "m", "release": "backend@1.2.3+abc", "environment": "production"})
    assert (prepared.event.release, prepared.event.environment) == ("backend@1.2.3+abc", "production")
    assert "errors" not in prepared.payload


def test_long_code_fields_are_cut_and_marked_like_relay() -> None:
    frame = {"module": "m" * 450_000, "function": "f" * 5000, "filename": "a/" * 10_000, "lineno": 1, "in_app": True}
    payload = {
        "transaction": "/t" * 225_000,
        "culprit": "c" * 10_000,
        "environment": "e" * 65,
        "server_name": "s" * 10_000,
        "tags": {"k" * 201: "dropped", "route": "v" * 10_000},
        "exception": {"values": [{"type": "T" * 1000, "value": "v" * 100_000, "stacktrace": {"frames": [frame]}}]},
    }
    prepared = _prepared(payload)
    stored = prepared.payload
    frame = stored["exception"]["values"][0]["stacktrace"]["frames"][0]
    assert len(frame["module"]) == 256 and frame["module"].endswith("...")
    assert len(frame["function"]) == 256
    assert len(stored["transaction"]) == 200
    assert prepared.event.environment is None
    assert stored["tags"] == {"route": "v" * 197 + "..."}
    assert len(prepared.grouping.culprit or "") <= 520
    assert len(prepared.grouping.title) <= 200
    assert len(json.dumps(stored)) < 30_000


def test_deep_stacks_and_breadcrumb_floods_keep_both_ends() -> None:
    frames = [{"function": f"f{i}", "filename": "a.py", "lineno": i} for i in range(5000)]
    crumbs = [{"message": f"b{i}"} for i in range(100_000)]
    payload = normalize_event({"exception": [{"type": "E", "stacktrace": {"frames": frames}}], "breadcrumbs": crumbs})
    kept = payload["exception"][0]["stacktrace"]["frames"]
    assert len(kept) == MAX_FRAMES
    assert (kept[0]["function"], kept[-1]["function"]) == ("f0", "f4999")
    assert len(payload["breadcrumbs"]) == MAX_BREADCRUMBS
    assert payload["breadcrumbs"][-1] == {"message": "b99999"}
