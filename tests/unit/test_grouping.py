import json
from pathlib import Path
from typing import Any

import pytest

from errata.grouping.fingerprint import GROUPING_CONFIG, fingerprint_event
from errata.grouping.parameterize import parameterize_message
from errata.models.event import SentryEvent
from errata.protocol.envelope import parse_envelope

SAMPLES = Path(__file__).parent.parent / "fixtures" / "envelopes"


def _frame(function: str, module: str = "app.users", lineno: int = 10, in_app: bool = True) -> dict[str, Any]:
    return {
        "function": function,
        "module": module,
        "filename": "app/users.py",
        "lineno": lineno,
        "in_app": in_app,
    }


def _error(exc_type: str, value: str, frames: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": exc_type, "value": value, "stacktrace": {"frames": frames}}


def _issue(payload: dict[str, Any]) -> str:
    return fingerprint_event(SentryEvent.model_validate(payload)).issue_id


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("user 42 not found", "user 39281 not found"),
        ("timeout connecting to db-3.internal after 30s", "timeout connecting to db-17.internal after 5s"),
        (
            "order 5f0c7c1e-4b1a-4c55-9a0e-7d4e3b1f2a11 failed",
            "order 0b9d2a44-1e0f-4a9e-8c55-2b7f9a1c3d22 failed",
        ),
        ("at 2026-11-27T05:05:35.701Z retry", "at 2025-01-01T00:00:00Z retry"),
        ("object at 0x7f3a9c2e1d90", "object at 0x10ab2c"),
        ("mail to bob@example.com bounced", "mail to alice@corp.io bounced"),
        ("peer 10.0.0.1:5432 reset", "peer 192.168.7.20:6379 reset"),
        ("took 1.25 seconds", "took 30 seconds"),
        (
            "commit deadbeefdeadbeefdeadbeefdeadbeefdeadbeef missing",
            "commit 0123456789abcdef0123456789abcdef01234567 missing",
        ),
    ],
)
def test_messages_that_differ_only_in_values_parameterize_alike(first: str, second: str) -> None:
    assert parameterize_message(first) == parameterize_message(second)


def test_different_words_stay_different() -> None:
    assert parameterize_message("user 1 not found") != parameterize_message("user 1 was deleted")


def test_numbers_in_a_message_event_do_not_split_the_issue() -> None:
    assert _issue({"message": "user 42 not found"}) == _issue({"message": "user 39281 not found"})
    assert _issue({"message": "user 42 not found"}) != _issue({"message": "payment 42 declined"})


def test_logentry_template_groups_even_when_formatted_text_differs() -> None:
    a = {"logentry": {"message": "user %s not found", "formatted": "user bob not found", "params": ["bob"]}}
    b = {"logentry": {"message": "user %s not found", "formatted": "user eve not found", "params": ["eve"]}}
    assert _issue(a) == _issue(b)


def test_line_numbers_and_messages_do_not_matter_when_there_is_a_stack() -> None:
    a = {
        "exception": {"values": [_error("KeyError", "user 1", [_frame("load", lineno=10), _frame("find", lineno=20)])]}
    }
    b = {"exception": {"values": [_error("KeyError", "user 2", [_frame("load", lineno=99), _frame("find", lineno=7)])]}}
    assert _issue(a) == _issue(b)


def test_a_different_exception_type_or_function_is_a_different_issue() -> None:
    base = {"exception": {"values": [_error("KeyError", "x", [_frame("load")])]}}
    other_type = {"exception": {"values": [_error("ValueError", "x", [_frame("load")])]}}
    other_function = {"exception": {"values": [_error("KeyError", "x", [_frame("save")])]}}
    assert len({_issue(base), _issue(other_type), _issue(other_function)}) == 3


def test_only_in_app_frames_count_when_there_are_any() -> None:
    app = _frame("handler")
    a = {"exception": {"values": [_error("E", "", [_frame("run", "flask.app", in_app=False), app])]}}
    b = {"exception": {"values": [_error("E", "", [_frame("call", "django.core", in_app=False), app])]}}
    assert _issue(a) == _issue(b)


def test_without_module_the_basename_lowercased_stands_in() -> None:
    a = {"exception": [_error("E", "", [{"function": "f", "filename": "/srv/A/App.js", "in_app": True}])]}
    b = {"exception": [_error("E", "", [{"function": "f", "filename": "/build/B/app.js", "in_app": True}])]}
    assert _issue(a) == _issue(b)


def test_a_chain_groups_by_its_root_cause() -> None:
    cause = _error("ConnectionError", "refused", [_frame("connect")])
    a = {"exception": {"values": [cause, _error("PaymentError", "cannot charge 1", [_frame("charge")])]}}
    b = {"exception": {"values": [cause, _error("OrderError", "cannot ship 2", [_frame("ship")])]}}
    assert _issue(a) == _issue(b)
    assert fingerprint_event(SentryEvent.model_validate(a)).type == "ConnectionError"


def test_without_frames_the_type_and_normalized_value_group() -> None:
    assert _issue({"exception": [{"type": "E", "value": "id 1"}]}) == _issue(
        {"exception": [{"type": "E", "value": "id 2"}]}
    )
    assert _issue({"exception": [{"type": "E", "value": "id 1"}]}) != _issue(
        {"exception": [{"type": "F", "value": "id 1"}]}
    )


def test_custom_fingerprint_replaces_or_subdivides_the_default() -> None:
    base = {"exception": {"values": [_error("KeyError", "x", [_frame("load")])]}}
    assert _issue({**base, "fingerprint": ["payments"]}) == _issue({"message": "other", "fingerprint": ["payments"]})
    tenant_a = _issue({**base, "fingerprint": ["{{ default }}", "tenant-a"]})
    tenant_b = _issue({**base, "fingerprint": ["{{ default }}", "tenant-b"]})
    assert len({tenant_a, tenant_b, _issue(base)}) == 3


def test_the_real_sdk_sample_gets_a_title_culprit_and_the_config_id() -> None:
    envelope = parse_envelope((SAMPLES / "01_event_chained_exception.envelope").read_bytes())
    grouping = fingerprint_event(SentryEvent.model_validate(json.loads(envelope.items[0].payload)))
    assert grouping.config == GROUPING_CONFIG
    # Titled by the raised exception, as Sentry does; grouped (type, culprit) by the root cause of the chain.
    assert grouping.title == "PaymentError: cannot charge customer cust_1"
    assert grouping.root_cause == "ValueError: invalid literal for int() with base 10: '12abc'"
    assert grouping.type == "ValueError"
    assert grouping.culprit is not None and grouping.culprit.endswith(" in parse_amount")
    assert len(grouping.issue_id) == 32


def test_an_exception_group_is_titled_by_the_group_and_a_lone_exception_has_no_root_cause() -> None:
    group = {
        "type": "ExceptionGroup",
        "value": "2 jobs failed",
        "mechanism": {"exception_id": 0, "is_exception_group": True},
    }
    leaves = [
        {**_error("TimeoutError", "job 1", [_frame("run")]), "mechanism": {"exception_id": n, "parent_id": 0}}
        for n in (1, 2)
    ]
    grouping = fingerprint_event(SentryEvent.model_validate({"exception": {"values": [group, *leaves]}}))
    assert (grouping.title, grouping.root_cause) == ("ExceptionGroup: 2 jobs failed", "TimeoutError: job 1")
    lone = fingerprint_event(SentryEvent.model_validate({"exception": {"values": [_error("KeyError", "x", [])]}}))
    assert (lone.title, lone.root_cause) == ("KeyError: x", None)
