"""Which issue an event belongs to.

Order, as in Sentry: custom fingerprint > stack trace > exception type + value > message. A chain groups by
its root cause (Sentry SDKs send the innermost cause first). Frames contribute module (or the file's
basename, lowercased) and function, never line numbers, so a deploy that shifts code does not split issues.
The config id is stored on every issue: a later change of these rules gets a new id instead of silently
splitting the issues that exist.
"""

from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass

from errata.grouping.parameterize import parameterize_message
from errata.models.event import ExceptionValue, Frame, SentryEvent

GROUPING_CONFIG = "errata:2026-11-27"
DEFAULT_MARKER = "{{ default }}"


@dataclass(frozen=True)
class Grouping:
    issue_id: str
    config: str
    components: tuple[str, ...]
    type: str
    title: str
    culprit: str | None


def fingerprint_event(event: SentryEvent) -> Grouping:
    default = _default_components(event)
    components = default
    if event.fingerprint:
        custom: list[str] = []
        for part in event.fingerprint:
            if part.strip() == DEFAULT_MARKER:
                custom.extend(default)
            else:
                custom.append(f"custom:{part}")
        components = tuple(custom)
    digest = hashlib.sha256("\x1f".join((GROUPING_CONFIG, *components)).encode()).hexdigest()[:32]
    return Grouping(
        issue_id=digest,
        config=GROUPING_CONFIG,
        components=components,
        type=_issue_type(event),
        title=issue_title(event),
        culprit=issue_culprit(event),
    )


def root_cause(event: SentryEvent) -> ExceptionValue | None:
    exceptions = event.exceptions
    return exceptions[0] if exceptions else None


def _grouping_frames(exception: ExceptionValue) -> list[Frame]:
    frames = exception.stacktrace.frames if exception.stacktrace else []
    in_app = [frame for frame in frames if frame.in_app]
    return in_app or frames


def frame_component(frame: Frame) -> str:
    module = frame.module
    if not module:
        path = frame.filename or frame.abs_path or ""
        module = posixpath.basename(path.replace("\\", "/")).lower()
    return f"frame:{module}:{frame.function or '?'}"


def _default_components(event: SentryEvent) -> tuple[str, ...]:
    cause = root_cause(event)
    if cause is not None:
        frames = _grouping_frames(cause)
        exception_type = cause.type or "Error"
        if frames:
            return (f"type:{exception_type}", *(frame_component(frame) for frame in frames))
        return (f"type:{exception_type}", f"value:{parameterize_message(cause.value or '')}")
    return (f"message:{parameterize_message(event.message_template or '')}",)


def _issue_type(event: SentryEvent) -> str:
    cause = root_cause(event)
    if cause is not None:
        return cause.type or "Error"
    return "message"


def issue_title(event: SentryEvent) -> str:
    cause = root_cause(event)
    if cause is not None:
        title = f"{cause.type or 'Error'}: {cause.value}" if cause.value else cause.type or "Error"
    else:
        title = event.message_text or "<no message>"
    first_line = title.strip().splitlines()[0] if title.strip() else title
    return first_line[:200]


def issue_culprit(event: SentryEvent) -> str | None:
    """Where it happened: the crash site's `module in function`, else the transaction."""
    cause = root_cause(event)
    if cause is not None:
        frames = _grouping_frames(cause)
        if frames:
            crash = frames[-1]
            where = crash.module or crash.filename or crash.abs_path or "?"
            return f"{where} in {crash.function or '?'}"
    return event.transaction or event.culprit
