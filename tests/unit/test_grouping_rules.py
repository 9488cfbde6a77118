"""Grouping, config errata:2026-12-03 (as errata:2026-11-28 but for native frames): vendor frames,
per-platform names, recursion, chains and groups, project rules, config versioning, and that values in
messages never make a new issue."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from errata.grouping.fingerprint import CURRENT_CONFIG, LEGACY_CONFIGS, GroupingConfig, fingerprint_event
from errata.grouping.frames import collapse_recursion, frame_key, is_in_app
from errata.grouping.rules import InvalidRule, parse_rules
from errata.models.event import Frame, SentryEvent


def _event(frames: list[dict[str, Any]], exc_type: str = "ValueError", value: str = "bad", **extra: Any) -> SentryEvent:
    payload = {"exception": {"values": [{"type": exc_type, "value": value, "stacktrace": {"frames": frames}}]}}
    return SentryEvent.model_validate({**payload, **extra})


def _components(event: SentryEvent) -> tuple[str, ...]:
    return fingerprint_event(event).components


def test_vendor_frames_do_not_count_when_the_sdk_sent_no_in_app_flags() -> None:
    app = [{"abs_path": "/srv/app/billing.py", "function": "charge"}]
    flask_old = [{"abs_path": "/usr/lib/python3/dist-packages/flask/app.py", "function": "dispatch"}]
    flask_new = [{"abs_path": "/venv/lib/python3.12/site-packages/flask/app.py", "function": "full_dispatch"}]
    assert _components(_event(flask_old + app, platform="python")) == _components(
        _event(flask_new + app, platform="python")
    )
    assert _components(_event(app, platform="python"))[1:] == ("frame:billing:charge",)


@pytest.mark.parametrize(
    "frame",
    [
        {"abs_path": "/app/node_modules/express/lib/router.js", "function": "handle"},
        {"abs_path": "node:internal/process/task_queues", "function": "processTicksAndRejections"},
        {"module": "java.util.stream.ReferencePipeline", "function": "collect"},
        {"module": "jdk.internal.reflect.GeneratedMethodAccessor12", "function": "invoke"},
        {"module": "org.springframework.web.servlet.DispatcherServlet", "function": "doDispatch"},
        {"abs_path": "/usr/local/go/src/net/http/server.go", "function": "(*conn).serve", "module": "net/http"},
        {"abs_path": "/root/go/pkg/mod/github.com/gin-gonic/gin@v1.9.1/gin.go", "function": "(*Engine).handle"},
        {"abs_path": "/usr/lib/ruby/3.1.0/net/http.rb", "function": "request"},
        {"function": "Array.map"},
    ],
)
def test_vendor_frames_by_path_and_module(frame: dict[str, Any]) -> None:
    assert not is_in_app(Frame.model_validate(frame))


def test_the_sdk_in_app_flag_wins_over_the_path() -> None:
    frame = Frame.model_validate({"abs_path": "/app/node_modules/@acme/core/index.js", "in_app": True})
    assert is_in_app(frame)
    assert not is_in_app(Frame.model_validate({"abs_path": "/srv/app/x.py", "in_app": False}))


@pytest.mark.parametrize(
    ("platform", "first", "second"),
    [
        ("java", ("com.acme.Orders", "lambda$process$0"), ("com.acme.Orders", "lambda$process$3")),
        (
            "java",
            ("com.acme.Orders$$Lambda$123/0x0000000800c01234", "apply"),
            ("com.acme.Orders$$Lambda$9/0x1", "apply"),
        ),
        (
            "java",
            ("com.acme.OrderService$$EnhancerBySpringCGLIB$$1a2b3c4d", "place"),
            ("com.acme.OrderService$$EnhancerBySpringCGLIB$$99ffee00", "place"),
        ),
        ("java", ("com.sun.proxy.$Proxy12", "save"), ("com.sun.proxy.$Proxy47", "save")),
        ("java", ("com.acme.Outer$1", "run"), ("com.acme.Outer$2", "run")),
        ("go", ("main", "main.func1"), ("main", "main.func2")),
        ("go", ("github.com/acme/api", "(*Server).handle.func1.2"), ("github.com/acme/api", "(*Server).handle.func3")),
        ("csharp", ("Acme.Worker", "<Run>b__0_0"), ("Acme.Worker", "<Run>b__4_1")),
        ("csharp", ("Acme.Worker+<RunAsync>d__5", "MoveNext"), ("Acme.Worker", "RunAsync")),
        ("ruby", ("app/models/user.rb", "block in save"), ("app/models/user.rb", "block (2 levels) in save")),
    ],
)
def test_generated_names_are_normalized_per_platform(
    platform: str, first: tuple[str, str], second: tuple[str, str]
) -> None:
    def key(module: str, function: str) -> Any:
        field = "filename" if module.endswith(".rb") else "module"
        return frame_key(Frame.model_validate({field: module, "function": function}), platform)

    assert key(*first) == key(*second)


def test_go_module_cache_frames_are_vendor_whatever_sentry_go_flagged() -> None:
    path = "/home/ci/go/pkg/mod/github.com/gearworks/relay@v0.9.0/relay.go"
    assert not is_in_app(Frame(abs_path=path, module="github.com/gearworks/relay", function="(*Mux).Do", in_app=True))
    assert is_in_app(
        Frame(abs_path="/src/internal/dock/dock.go", module="example.com/depot/internal/dock", in_app=True)
    )


def test_a_javascript_method_is_named_by_itself_not_by_its_receiver() -> None:
    names = ["createLabel", "Route.createLabel", "Layer.createLabel [as handle]", "async createLabel"]
    assert len({frame_key(Frame(abs_path="/app/src/labels.js", function=n), "node") for n in names}) == 1


def test_javascript_anonymous_functions_are_one_name() -> None:
    names = ["<anonymous>", "Object.<anonymous>", "", "?"]
    keys = {frame_key(Frame(abs_path="/app/src/a.js", function=n), "node") for n in names}
    assert len(keys) == 1
    assert frame_key(Frame(abs_path="/app/src/a.js", function="async run"), "node").function == "run"


def test_direct_recursion_and_short_cycles_count_once() -> None:
    def stack(depth: int) -> list[dict[str, Any]]:
        return [{"module": "app.tree", "function": "main"}] + [{"module": "app.tree", "function": "walk"}] * depth

    assert _components(_event(stack(3), platform="python")) == _components(_event(stack(40), platform="python"))
    a, b = Frame(module="m", function="a"), Frame(module="m", function="b")
    cycle = [frame_key(f, "java") for f in [a, b, a, b, a, b]]
    assert collapse_recursion(cycle) == cycle[:2]


def test_line_numbers_never_count_but_functions_do() -> None:
    one = _event([{"module": "app.x", "function": "f", "lineno": 10}], platform="python")
    other_line = _event([{"module": "app.x", "function": "f", "lineno": 99}], platform="python")
    other_function = _event([{"module": "app.x", "function": "g", "lineno": 10}], platform="python")
    assert _components(one) == _components(other_line)
    assert _components(one) != _components(other_function)


def _chain(*values: tuple[str, str, str]) -> SentryEvent:
    """(type, value, crashing function), innermost first."""
    return SentryEvent.model_validate(
        {
            "platform": "python",
            "exception": {
                "values": [
                    {"type": t, "value": v, "stacktrace": {"frames": [{"module": "app.jobs", "function": f}]}}
                    for t, v, f in values
                ]
            },
        }
    )


def test_wrappers_do_not_make_issues_and_different_causes_do() -> None:
    cause = ("ConnectionRefusedError", "refused", "connect")
    assert _components(_chain(cause, ("JobFailed", "job 1", "run"))) == _components(
        _chain(cause, ("RequestFailed", "req 2", "handle"))
    )
    other_cause = ("KeyError", "'x'", "lookup")
    assert _components(_chain(cause, ("JobFailed", "", "run"))) != _components(
        _chain(other_cause, ("JobFailed", "", "run"))
    )


def _group(leaf_types: list[str]) -> SentryEvent:
    leaves = [
        {
            "type": t,
            "value": f"leaf {i}",
            "stacktrace": {"frames": [{"module": "app.checks", "function": f"check_{t.lower()}"}]},
            "mechanism": {"type": "chained", "exception_id": i + 1, "parent_id": 0, "source": f"exceptions[{i}]"},
        }
        for i, t in enumerate(leaf_types)
    ]
    group = {
        "type": "ExceptionGroup",
        "value": "many",
        "stacktrace": {"frames": [{"module": "app.checks", "function": "validate"}]},
        "mechanism": {"type": "generic", "exception_id": 0, "is_exception_group": True},
    }
    return SentryEvent.model_validate({"platform": "python", "exception": {"values": [*leaves, group]}})


def test_exception_groups_of_one_kind_are_that_error_and_mixed_ones_are_the_group() -> None:
    same = _components(_group(["TimeoutError", "TimeoutError", "TimeoutError"]))
    assert same[0] == "type:TimeoutError"
    mixed = _components(_group(["TimeoutError", "KeyError"]))
    assert mixed[0] == "type:ExceptionGroup"
    assert {"leaf:KeyError", "leaf:TimeoutError"} <= set(mixed)
    assert mixed == _components(_group(["KeyError", "TimeoutError", "KeyError"]))
    assert mixed != _components(_group(["TimeoutError", "OSError"]))


def test_fallback_order_custom_then_stack_then_type_and_value_then_message() -> None:
    stack = _event([{"module": "app.x", "function": "f"}], platform="python")
    assert _components(stack)[1].startswith("frame:")
    no_stack = _event([], value="user 7 missing")
    assert _components(no_stack) == ("type:ValueError", "value:user <int> missing")
    message = SentryEvent.model_validate({"message": "disk 93% full"})
    assert _components(message) == ("message:disk <int>% full",)
    custom = _event(
        [{"module": "app.x", "function": "f"}], fingerprint=["payments", "{{ default }}"], platform="python"
    )
    assert _components(custom) == ("custom:payments", *_components(stack))
    variable = _event(
        [], exc_type="TimeoutError", fingerprint=["{{ error.type }}", "{{transaction}}"], transaction="/a"
    )
    assert _components(variable) == ("custom:TimeoutError", "custom:/a")


RULES = """
# timeouts are one issue whatever the stack
error.type:TimeoutError -> timeouts
error.type:ConnectionError error.value:"*refused*" -> refused, {{ default }}
stack.module:"app.payments.*" stack.function:charge -> payments-charge
tags.region:"eu-*" !level:warning -> eu-{{ level }}
"""


def test_project_rules_match_and_win_over_the_sdk_fingerprint() -> None:
    rules = parse_rules(RULES)
    first = _event([{"module": "app.a", "function": "f"}], exc_type="TimeoutError", fingerprint=["sdk"])
    second = _event([{"module": "app.b", "function": "g"}], exc_type="TimeoutError")
    grouped = fingerprint_event(first, rules)
    assert grouped.components == ("custom:timeouts",)
    assert grouped.rule == "error.type:TimeoutError -> timeouts"
    assert grouped.issue_id == fingerprint_event(second, rules).issue_id
    refused = _event([{"module": "app.a", "function": "f"}], exc_type="ConnectionError", value="conn REFUSED by x")
    assert fingerprint_event(refused, rules).components[0] == "custom:refused"
    assert fingerprint_event(refused, rules).components[1:] == _components(refused)
    payments = _event([{"module": "app.payments.stripe", "function": "charge"}])
    assert fingerprint_event(payments, rules).components == ("custom:payments-charge",)
    eu = _event([{"module": "app.a", "function": "f"}], tags={"region": "eu-west-1"}, level="error")
    assert fingerprint_event(eu, rules).components == ("custom:eu-error",)
    eu_warning = _event([{"module": "app.a", "function": "f"}], tags={"region": "eu-west-1"}, level="warning")
    assert fingerprint_event(eu_warning, rules).rule is None
    assert fingerprint_event(first).components == ("custom:sdk",)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("error.type:X", "expected `matchers -> fingerprint`"),
        ("colour:red -> x", "unknown field 'colour'"),
        ("error.type -> x", "must be field:value"),
        ("error.type:X -> ", "empty fingerprint"),
        ("error.type:X -> {{ nope }}", "unknown variable"),
        ('message:"unclosed -> x', "line 1"),
    ],
)
def test_bad_rules_say_which_line_and_why(text: str, reason: str) -> None:
    with pytest.raises(InvalidRule, match=reason.replace("(", r"\(")):
        parse_rules(text)


def _config(config_id: str) -> GroupingConfig:
    return next(config for config in LEGACY_CONFIGS if config.id == config_id)


def test_each_event_also_carries_the_ids_of_earlier_configs() -> None:
    event = _event([{"abs_path": "/srv/app/x.py", "function": "f", "module": "app.x"}], platform="python")
    grouped = fingerprint_event(event)
    assert grouped.config == CURRENT_CONFIG.id
    assert len(grouped.legacy_ids) == len(LEGACY_CONFIGS) == 2
    assert grouped.issue_id not in grouped.legacy_ids
    # A legacy config is frozen: it still computes what it computed when issues were made with it.
    legacy = fingerprint_event(event, config=_config("errata:2026-11-27"), legacy=())
    assert legacy.issue_id == grouped.legacy_ids[1]
    assert legacy.components == ("type:ValueError", "frame:app.x:f")


# Each kind of value a program puts in a message; one message slot always holds the same kind.
_VALUE_KINDS = (
    st.integers(min_value=0, max_value=10**12).map(str),
    st.uuids().map(str),
    st.ip_addresses().map(str),
    st.emails(domains=st.sampled_from(["example.com", "corp.io", "mail.net"])),
    st.floats(min_value=0, max_value=1e6, allow_nan=False).map(lambda f: f"{f:.3f}"),
    st.datetimes().map(lambda d: d.isoformat()),
    st.binary(min_size=20, max_size=20).map(bytes.hex),
    st.integers(min_value=1, max_value=900).map(lambda n: f"{n}ms"),
    st.integers(min_value=0, max_value=2**48).map(hex),
    st.from_regex(r"db-[0-9]{1,3}\.internal", fullmatch=True),
)
_TEMPLATES = [
    "user {} not found",
    "timeout connecting to {} after {}",
    "order {} failed: payment {} declined",
    "invalid value for field x={}",
    "retrying request to {} (attempt {})",
]


@settings(max_examples=300, deadline=None)
@given(
    template=st.sampled_from(_TEMPLATES),
    kinds=st.lists(st.sampled_from(_VALUE_KINDS), min_size=2, max_size=2),
    with_stack=st.booleans(),
    data=st.data(),
)
def test_only_values_changed_in_a_message_never_make_a_new_issue(
    template: str, kinds: list[st.SearchStrategy[str]], with_stack: bool, data: st.DataObject
) -> None:
    first = [data.draw(kind) for kind in kinds]
    second = [data.draw(kind) for kind in kinds]

    def event(values: list[str]) -> SentryEvent:
        message = template.format(*values)
        if template.endswith("x={}"):
            message = template.format(f"'{values[0]}'")
        frames = [{"module": "app.users", "function": "load", "lineno": 3}] if with_stack else []
        return _event(frames, exc_type="LookupError", value=message)

    def message_event(values: list[str]) -> SentryEvent:
        return SentryEvent.model_validate({"message": template.format(*values)})

    assert fingerprint_event(event(first)).issue_id == fingerprint_event(event(second)).issue_id
    if not template.endswith("x={}"):
        assert fingerprint_event(message_event(first)).issue_id == fingerprint_event(message_event(second)).issue_id


def test_the_legacy_config_still_computes_what_it_computed_when_it_was_current() -> None:
    """tests/fixtures/grouping/legacy_grouping_golden.json was produced by the code of errata:2026-11-27
    as it was committed (git d24e2aa), before the config was superseded."""
    from pathlib import Path

    from errata.grouping.parameterize import LEGACY_PATTERNS, parameterize_message

    golden = json.loads(
        (Path(__file__).parents[1] / "fixtures" / "grouping" / "legacy_grouping_golden.json").read_text()
    )
    for message, expected in golden["messages"].items():
        assert parameterize_message(message, LEGACY_PATTERNS) == expected
    for payload, issue_id in golden["events"]:
        event = SentryEvent.model_validate(payload)
        assert fingerprint_event(event, config=_config("errata:2026-11-27"), legacy=()).issue_id == issue_id
        assert issue_id in (fingerprint_event(event).legacy_ids or (fingerprint_event(event).issue_id,))
