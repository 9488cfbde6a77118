"""Fuzzing the processor's per-event path (errata.event_preparation: normalize, parse text stacks, scrub,
fingerprint) with events of every shape a client can send: wrong types in every field, deep and wide
values, huge strings, NUL, numbers as strings, thousands of frames. Nothing raises (a raise would dead-letter
a real crash), and every value that becomes a key fits DynamoDB's key limits."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from errata.event_preparation import prepare_event
from errata.limits import DYNAMODB_SORT_KEY_MAX_BYTES
from errata.store.projects import ProjectSettings
from errata.store.user_issues import identity_keys

_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
# Built when drawn, so the strategy's repr (which hypothesis prints) stays short.
_HUGE = st.builds(
    str.__mul__, st.sampled_from(["x", "é", "\x00", "9", "a\n"]), st.sampled_from([4_000, 5_000, 20_000, 300_000])
)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**60), max_value=10**60)
    | st.floats(allow_nan=True, allow_infinity=True)
    | _TEXT
    | _HUGE
)
JSON = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_TEXT, children, max_size=4),
    max_leaves=25,
)
_FRAME = st.fixed_dictionaries(
    {},
    optional={
        "function": JSON,
        "module": JSON,
        "filename": JSON,
        "abs_path": JSON,
        "lineno": JSON,
        "colno": JSON,
        "in_app": JSON,
        "context_line": JSON,
        "pre_context": JSON,
        "vars": JSON,
        "platform": JSON,
    },
)
_FRAMES = st.lists(_FRAME, max_size=6) | st.builds(lambda frame: [frame] * 5_000, _FRAME)
_EXCEPTION = st.fixed_dictionaries(
    {},
    optional={
        "type": JSON,
        "value": JSON,
        "module": JSON,
        "stacktrace": st.fixed_dictionaries({"frames": _FRAMES}) | JSON,
        "mechanism": st.fixed_dictionaries(
            {}, optional={"type": JSON, "exception_id": JSON, "parent_id": JSON, "is_exception_group": JSON}
        )
        | JSON,
    },
)
EVENTS = st.fixed_dictionaries(
    {},
    optional={
        "message": JSON,
        "logentry": st.fixed_dictionaries({}, optional={"message": JSON, "formatted": JSON, "params": JSON}) | JSON,
        "exception": st.fixed_dictionaries({"values": st.lists(_EXCEPTION, max_size=4)})
        | st.lists(_EXCEPTION, max_size=3)
        | JSON,
        "threads": JSON,
        "release": JSON,
        "environment": JSON,
        "transaction": JSON,
        "culprit": JSON,
        "server_name": JSON,
        "platform": JSON,
        "level": JSON,
        "user": st.fixed_dictionaries({}, optional={"id": JSON, "email": JSON, "username": JSON, "ip_address": JSON})
        | JSON,
        "tags": st.dictionaries(_TEXT | _HUGE, JSON, max_size=5) | JSON,
        "fingerprint": st.lists(JSON, max_size=4) | JSON,
        "extra": JSON,
        "contexts": JSON,
        "request": JSON,
        "breadcrumbs": st.builds(
            lambda crumb: {"values": [crumb] * 20_000}, st.fixed_dictionaries({"message": _TEXT, "data": JSON})
        )
        | JSON,
        "timestamp": JSON,
        "errors": JSON,
    },
)


@settings(max_examples=100, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(EVENTS)
def test_any_event_is_prepared_without_raising_and_its_keys_fit(payload: dict[str, Any]) -> None:
    prepared = prepare_event("1", payload, ProjectSettings())
    assert len(prepared.grouping.issue_id) == 32
    assert len(prepared.grouping.title) <= 200
    event = prepared.event
    for key in identity_keys("1", event.user):
        assert len(key.encode()) <= DYNAMODB_SORT_KEY_MAX_BYTES
    for value in (event.release, event.environment, event.transaction, *event.tags, *event.tags.values()):
        assert value is None or len(value.encode()) <= DYNAMODB_SORT_KEY_MAX_BYTES - 100
    json.dumps(prepared.payload)  # what is stored is JSON
