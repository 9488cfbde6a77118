"""Text stack traces printed by real runtimes (tests/fixtures/stacktraces, made by its generate.sh) parse
into the exceptions the runtime itself reported in the same run, and group as that structured event does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from errata.grouping.fingerprint import fingerprint_event, qualified_type
from errata.models.event import SentryEvent
from errata.stacktrace_text import TEXT_MECHANISM, attach_text_stacktrace, exceptions_from_text

FIXTURES = Path(__file__).parents[1] / "fixtures" / "stacktraces"
CASES = sorted(FIXTURES.glob("*/*.expected.json"))
PLATFORMS = {"python": "python", "node": "node", "java": "java", "go": "go", "dotnet": "csharp"}


def _text(expected: Path) -> str:
    return expected.with_name(expected.name.replace(".expected.json", ".txt")).read_text()


def _structured(truth: dict[str, Any]) -> list[dict[str, Any]]:
    """The runtime's own report as an SDK would send it: innermost first, linked by mechanism ids."""
    values = []
    for exception in truth["exceptions"]:
        module, _, name = exception["type"].rpartition(".") if truth["runtime"] in ("java", "dotnet") else ("", "", "")
        value: dict[str, Any] = {
            "type": name or exception["type"],
            "value": exception["value"],
            "stacktrace": {"frames": [{k: v for k, v in f.items() if v is not None} for f in exception["frames"]]},
        }
        if module:
            value["module"] = module
        if "exception_id" in exception:
            value["mechanism"] = {
                "type": "generic",
                "exception_id": exception["exception_id"],
                "parent_id": exception.get("parent_id"),
                "source": exception.get("relation"),
                "is_exception_group": exception["type"].rsplit(".", 1)[-1]
                in ("ExceptionGroup", "AggregateError", "AggregateException"),
            }
        values.append(value)
    return values


def test_every_runtime_has_fixtures() -> None:
    assert {case.parent.name for case in CASES} == set(PLATFORMS)
    assert len(CASES) >= 25


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.name.split('.')[0]}")
def test_text_trace_parses_to_the_runtimes_own_frames(case: Path) -> None:
    truth = json.loads(case.read_text())
    parsed = exceptions_from_text(_text(case))
    assert parsed, "no trace found"
    truth_types = {e["type"].rsplit(".", 1)[-1] for e in truth["exceptions"]}
    truth_lines = [[f["lineno"] for f in e["frames"] if f["lineno"]] for e in truth["exceptions"]]
    for exception in parsed:
        assert exception.mechanism is not None
        assert exception.mechanism.type == TEXT_MECHANISM
        if truth["runtime"] != "go":  # a Go panic prints the value, not its type
            assert (exception.type or "").rsplit(".", 1)[-1] in truth_types
        lines = [f.lineno for f in exception.stacktrace.frames if f.lineno] if exception.stacktrace else []
        if lines:
            # Each parsed stack is one the runtime reported (printed traces may omit frames without lines).
            assert any(
                lines == [n for n in truth_line if n in lines] or lines == truth_line for truth_line in truth_lines
            )


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.name.split('.')[0]}")
def test_text_trace_groups_like_the_structured_event(case: Path) -> None:
    truth = json.loads(case.read_text())
    platform = PLATFORMS[truth["runtime"]]
    logged = {"platform": platform, "message": _text(case)}
    text_event = SentryEvent.model_validate(logged)
    attach_text_stacktrace(text_event, logged)
    from_text = fingerprint_event(text_event)
    structured = fingerprint_event(
        SentryEvent.model_validate({"platform": platform, "exception": {"values": _structured(truth)}})
    )
    frames_of = [c for c in from_text.components if c.startswith("frame:")]
    assert frames_of, from_text.components
    if truth["runtime"] == "go":
        assert frames_of == [c for c in structured.components if c.startswith("frame:")]
    else:
        assert from_text.components == structured.components


def test_a_message_without_a_trace_is_left_alone() -> None:
    for text in ("user 42 not found", "line one\nline two", "Error: boom\nno frames here", ""):
        assert exceptions_from_text(text) == []


def test_the_parsed_trace_is_stored_with_the_event() -> None:
    text = (FIXTURES / "python" / "raise_from.txt").read_text()
    payload = {"message": "job failed\n" + text, "platform": "python"}
    event = SentryEvent.model_validate(payload)
    stored = attach_text_stacktrace(event, payload)
    assert [qualified_type(e) for e in event.exceptions] == [v["type"] for v in stored["exception"]["values"]]
    assert stored["exception"]["values"][0]["mechanism"]["type"] == TEXT_MECHANISM
    assert stored["message"] == payload["message"]
