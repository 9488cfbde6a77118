"""Which issue an event belongs to.

Order, as in Sentry: a project's fingerprint rule > the SDK's custom fingerprint > stack trace > exception
type + value > message. Frames and chains: grouping/frames.py and grouping/chains.py. A message that holds
a stack trace as text groups by that stack once errata.stacktrace_text.attach_text_stacktrace has parsed it
(the processor does, before symbolication).

Grouping is versioned. Every issue stores the config id that made it, and an event is hashed by the current
config *and* by each earlier one still in `LEGACY_CONFIGS`: the processor looks all of them up, so an event
whose current hash is new but whose earlier hash names an existing issue joins that issue (and an alias
records the new hash). Changing the rules therefore never splits the issues that exist. A config whose issues
exist in the wild is frozen; a change is a new config.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass

from errata.grouping.chains import grouping_culprit
from errata.grouping.frames import grouping_frames, is_in_app
from errata.grouping.parameterize import LEGACY_PATTERNS, parameterize_message
from errata.grouping.rules import FingerprintRule, expand_variables, matching_rule
from errata.models.event import ExceptionValue, Frame, SentryEvent, Stacktrace
from errata.stacktrace_text import TEXT_MECHANISM

_DEFAULT_MARKER = re.compile(r"^\{\{\s*default\s*\}\}$")
ComponentsFn = Callable[[SentryEvent], tuple[str, ...]]


@dataclass(frozen=True)
class Grouping:
    issue_id: str
    config: str
    components: tuple[str, ...]
    type: str
    title: str  # the raised (outermost) exception, as Sentry titles an issue
    culprit: str | None
    # The exception that grouped the event (a chain's root cause, a group's leaf), when it is not the title's.
    root_cause: str | None = None
    # The issue ids under earlier configs, tried in order when `issue_id` has no issue yet.
    legacy_ids: tuple[str, ...] = ()
    rule: str | None = None


# --- errata:2026-11-27 (frozen) -------------------------------------------------------------------------


def _legacy_frame_component(frame: Frame) -> str:
    module = frame.module
    if not module:
        path = frame.filename or frame.abs_path or ""
        module = posixpath.basename(path.replace("\\", "/")).lower()
    return f"frame:{module}:{frame.function or '?'}"


def _legacy_components(event: SentryEvent) -> tuple[str, ...]:
    exceptions = [e for e in event.exceptions if not (e.mechanism and e.mechanism.type == TEXT_MECHANISM)]
    if exceptions:
        cause = exceptions[0]
        frames = cause.stacktrace.frames if cause.stacktrace else []
        frames = [frame for frame in frames if frame.in_app] or frames
        exception_type = cause.type or "Error"
        if frames:
            return (f"type:{exception_type}", *(_legacy_frame_component(frame) for frame in frames))
        return (f"type:{exception_type}", f"value:{parameterize_message(cause.value or '', LEGACY_PATTERNS)}")
    return (f"message:{parameterize_message(event.message_template or '', LEGACY_PATTERNS)}",)


# --- errata:2026-11-28 ----------------------------------------------------------------------------------


def qualified_type(exception: ExceptionValue) -> str:
    """`java.lang.NullPointerException` whether the SDK split it into module + type or a log printed it whole."""
    name = exception.type or "Error"
    module = exception.module
    if module and "." not in name and module not in {"builtins", "__main__", "exceptions"}:
        return f"{module}.{name}"
    return name


def _stack_frames(culprit: ExceptionValue, chain: list[ExceptionValue]) -> tuple[list[Frame], list[str]]:
    """The culprit's frames. When it has none (a Go error carries no stack: only a wrapper made with a
    stack, or the capture site, has one), the frames of the nearest wrapper that has some, and the chain
    of types from the culprit up to that wrapper: the stack then says where the error was noticed, the
    chain says what it went through, and both are needed to tell two errors apart."""
    if culprit.stacktrace and culprit.stacktrace.frames:
        return culprit.stacktrace.frames, []
    start = next((i for i, e in enumerate(chain) if e is culprit), 0)
    for position in range(start + 1, len(chain)):
        lender = chain[position]
        if lender.stacktrace and lender.stacktrace.frames:
            return lender.stacktrace.frames, [qualified_type(e) for e in chain[start : position + 1]]
    return [], []


def _platform(event: SentryEvent, exceptions: list[ExceptionValue]) -> str | None:
    """The platform whose naming rules apply: a parsed text trace knows its runtime, else the event says."""
    for exception in exceptions:
        if exception.mechanism and exception.mechanism.type == TEXT_MECHANISM and exception.stacktrace:
            platform = next((f.platform for f in exception.stacktrace.frames if f.platform), None)
            if platform:
                return platform
    return (event.platform or "").lower() or None


def _components(event: SentryEvent, native_keys: bool = True) -> tuple[str, ...]:
    exceptions = event.exceptions
    platform = _platform(event, exceptions)
    culprit = grouping_culprit(exceptions)
    if culprit is None:
        thread_keys = grouping_frames(event.thread_frames, platform, native_keys)
        if thread_keys:
            return tuple(key.component() for key in thread_keys)
        return (f"message:{parameterize_message(event.message_template or '')}",)
    exception = culprit.exception
    frames, borrowed_chain = _stack_frames(exception, exceptions)
    keys = grouping_frames(frames, platform, native_keys)
    if not keys:
        components: tuple[str, ...] = (
            f"type:{qualified_type(exception)}",
            f"value:{parameterize_message(exception.value or '')}",
        )
    elif platform == "go":
        # A Go error's dynamic type (`*errors.errorString`, `*fmt.wrapError`) names no bug and a printed
        # panic does not show it: the stack alone says where.
        components = tuple(key.component() for key in keys)
    else:
        components = (f"type:{qualified_type(exception)}", *(key.component() for key in keys))
    if keys and borrowed_chain:
        components = (*components, f"chain:{'>'.join(borrowed_chain)}")
    if culprit.mixed_leaves:
        leaves = sorted({f"leaf:{qualified_type(leaf)}" for leaf in culprit.mixed_leaves})
        components = (*components, *leaves)
    return components


@dataclass(frozen=True)
class GroupingConfig:
    id: str
    components: ComponentsFn


def _components_2026_11_28(event: SentryEvent) -> tuple[str, ...]:
    """Native frames as any other (file stem and function): an unsymbolicated one had neither."""
    return _components(event, native_keys=False)


# --- errata:2026-12-03: native frames by function, else image + relative address (grouping/frames.py) ----


def as_sent(event: SentryEvent) -> SentryEvent | None:
    """The event as its SDK sent it, before native symbolication expanded and named its frames; None when
    no frame was symbolicated. Its hash is the issue such an event opened before its debug file was
    uploaded: a symbolicated event looks that issue up too (as a legacy id), so uploading symbols never
    splits an issue."""
    if not any((frame.data or {}).get("symbolicated") for stack in _stacks(event) for frame in stack.frames):
        return None  # most events: no copy (a deep copy of the event was a tenth of the processor's CPU)
    changed = False
    copy = event.model_copy(deep=True)
    for stack in _stacks(copy):
        frames: list[Frame] = []
        for frame in stack.frames:
            data = frame.data or {}
            if not data.get("symbolicated"):
                frames.append(frame)
                continue
            changed = True
            if data.get("inlined"):
                continue
            sent = data.get("sent_function")
            frames.append(
                Frame(
                    package=frame.package,
                    in_app=frame.in_app,
                    function=sent if isinstance(sent, str) else None,
                    data={"image": data.get("image"), "relative_addr": data.get("relative_addr")},
                )
            )
        stack.frames = frames
    return copy if changed else None


def _stacks(event: SentryEvent) -> list[Stacktrace]:
    stacks = [e.stacktrace for e in event.exceptions if e.stacktrace]
    return stacks + [t.stacktrace for t in (event.threads.values if event.threads else []) if t.stacktrace]


LEGACY_CONFIGS: tuple[GroupingConfig, ...] = (
    GroupingConfig("errata:2026-11-28", _components_2026_11_28),
    GroupingConfig("errata:2026-11-27", _legacy_components),
)
CURRENT_CONFIG = GroupingConfig("errata:2026-12-03", _components)
GROUPING_CONFIG = CURRENT_CONFIG.id


def _hash(config: GroupingConfig, components: tuple[str, ...]) -> str:
    return hashlib.sha256("\x1f".join((config.id, *components)).encode()).hexdigest()[:32]


def _custom(parts: tuple[str, ...] | list[str], default: tuple[str, ...], event: SentryEvent) -> tuple[str, ...]:
    components: list[str] = []
    for part in parts:
        if _DEFAULT_MARKER.match(part.strip()):
            components.extend(default)
        else:
            components.append(f"custom:{expand_variables(part, event)}")
    return tuple(components)


def _config_components(config: GroupingConfig, event: SentryEvent, rule: FingerprintRule | None) -> tuple[str, ...]:
    default = config.components(event)
    if rule is not None:
        return _custom(rule.fingerprint, default, event)
    if event.fingerprint:
        return _custom(event.fingerprint, default, event)
    return default


def fingerprint_event(
    event: SentryEvent,
    rules: tuple[FingerprintRule, ...] = (),
    *,
    config: GroupingConfig = CURRENT_CONFIG,
    legacy: tuple[GroupingConfig, ...] = LEGACY_CONFIGS,
) -> Grouping:
    rule = matching_rule(rules, event) if rules else None
    components = _config_components(config, event, rule)
    issue_id = _hash(config, components)
    legacy_ids = []
    unsymbolicated = as_sent(event)
    if unsymbolicated is not None:
        legacy_ids.append(_hash(config, _config_components(config, unsymbolicated, rule)))
    for older in legacy:
        older_id = _hash(older, _config_components(older, event, rule))
        if older_id != issue_id and older_id not in legacy_ids:
            legacy_ids.append(older_id)
    legacy_ids = [older_id for older_id in legacy_ids if older_id != issue_id]
    culprit = grouping_culprit(event.exceptions)
    exception = culprit.exception if culprit else None
    title = _title(event, _outermost(event.exceptions) or exception)
    grouped_by = _title(event, exception)
    return Grouping(
        issue_id=issue_id,
        config=config.id,
        components=components,
        type=(exception.type or "Error") if exception is not None else "message",
        title=title,
        culprit=_where(event, exception),
        root_cause=grouped_by if grouped_by != title else None,
        legacy_ids=tuple(legacy_ids),
        rule=rule.text if rule else None,
    )


def _outermost(exceptions: list[ExceptionValue]) -> ExceptionValue | None:
    """The exception that was raised: the top of an exception group (exception_id 0), else the last sent."""
    top = next((e for e in exceptions if e.mechanism is not None and e.mechanism.exception_id == 0), None)
    return top or (exceptions[-1] if exceptions else None)


def _title(event: SentryEvent, exception: ExceptionValue | None) -> str:
    if exception is not None:
        name = exception.type or _crash_reason(exception) or "Error"
        title = f"{name}: {exception.value}" if exception.value else name
    else:
        title = event.message_text or "<no message>"
    first_line = title.strip().splitlines()[0] if title.strip() else title
    return first_line[:200]


_SIGNALS = {4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE", 11: "SIGSEGV"}


def _crash_reason(exception: ExceptionValue) -> str | None:
    """A native crash sent without a type: the signal (or Mach exception) that killed it, as Sentry titles it."""
    meta = exception.mechanism.meta if exception.mechanism else None
    signal = meta.get("signal") if isinstance(meta, dict) else None
    if isinstance(signal, dict):
        name = signal.get("name")
        return str(name) if isinstance(name, str) and name else _SIGNALS.get(signal.get("number"))  # type: ignore[arg-type]
    mach = meta.get("mach_exception") if isinstance(meta, dict) else None
    if isinstance(mach, dict) and isinstance(mach.get("name"), str):
        return str(mach["name"])
    return None


def _where(event: SentryEvent, exception: ExceptionValue | None) -> str | None:
    """Where it happened: the crash site's `module in function`, else the transaction."""
    if exception is not None and exception.stacktrace and exception.stacktrace.frames:
        frames = exception.stacktrace.frames
        in_app = [frame for frame in frames if is_in_app(frame)] or frames
        crash = in_app[-1]
        where = crash.module or crash.filename or crash.abs_path or "?"
        return f"{where} in {crash.function or '?'}"
    return event.transaction or event.culprit
