"""A typed, lenient view of the Sentry event payload (https://develop.sentry.dev/sdk/data-model/event-payloads/).

Clients of 40 languages send this; many send fields of odd types. Like Relay, a field that does not fit is
dropped rather than the whole event rejected: losing one attribute is better than losing the crash. The raw
payload is what gets stored; this view is what grouping and the issue summary read.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
)


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, populate_by_name=True)

    @field_validator("*", mode="wrap")
    @classmethod
    def _drop_invalid(cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        try:
            return handler(value)
        except ValidationError:
            assert info.field_name is not None
            return cls.model_fields[info.field_name].get_default(call_default_factory=True)


class Frame(_Lenient):
    filename: str | None = None
    abs_path: str | None = None
    module: str | None = None
    package: str | None = None
    function: str | None = None
    lineno: int | None = None
    colno: int | None = None
    in_app: bool | None = None
    platform: str | None = None
    context_line: str | None = None
    data: dict[str, Any] | None = None


class Stacktrace(_Lenient):
    frames: list[Frame] = Field(default_factory=list)


class Mechanism(_Lenient):
    type: str | None = None
    handled: bool | None = None
    source: str | None = None
    exception_id: int | None = None
    parent_id: int | None = None
    is_exception_group: bool | None = None
    meta: dict[str, Any] | None = None  # native crashes: {"signal": {"number", "name"}}, {"mach_exception"}


class ExceptionValue(_Lenient):
    type: str | None = None
    value: str | None = None
    module: str | None = None
    stacktrace: Stacktrace | None = None
    mechanism: Mechanism | None = None


class ExceptionInterface(_Lenient):
    values: list[ExceptionValue] = Field(default_factory=list)


class Thread(_Lenient):
    id: str | None = None
    name: str | None = None
    crashed: bool | None = None
    current: bool | None = None
    stacktrace: Stacktrace | None = None


class ThreadsInterface(_Lenient):
    values: list[Thread] = Field(default_factory=list)


class LogEntry(_Lenient):
    message: str | None = None
    formatted: str | None = None


class User(_Lenient):
    id: str | None = None
    email: str | None = None
    username: str | None = None
    ip_address: str | None = None

    def identity(self) -> str | None:
        """What makes two events the same affected user: id, else email, username, IP."""
        for kind, value in (("id", self.id), ("email", self.email), ("username", self.username)):
            if value:
                return f"{kind}:{value}"
        return f"ip:{self.ip_address}" if self.ip_address else None


class SentryEvent(_Lenient):
    event_id: str | None = None
    timestamp: datetime | None = None
    level: str = "error"
    platform: str | None = None
    logger: str | None = None
    message: str | None = None
    logentry: LogEntry | None = None
    exception: ExceptionInterface | None = None
    threads: ThreadsInterface | None = None
    release: str | None = None
    environment: str | None = None
    server_name: str | None = None
    transaction: str | None = None
    culprit: str | None = None
    user: User | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    fingerprint: list[str] | None = None

    @field_validator("message", mode="before")
    @classmethod
    def _legacy_message(cls, value: Any) -> Any:
        # Old SDKs send {"message": ..., "formatted": ...} in `message`.
        if isinstance(value, dict):
            return value.get("formatted") or value.get("message")
        return value

    @field_validator("exception", mode="before")
    @classmethod
    def _exception_list(cls, value: Any) -> Any:
        # The interface may be the bare list of values.
        return {"values": value} if isinstance(value, list) else value

    @field_validator("threads", mode="before")
    @classmethod
    def _thread_list(cls, value: Any) -> Any:
        return {"values": value} if isinstance(value, list) else value

    @field_validator("tags", mode="before")
    @classmethod
    def _tag_pairs(cls, value: Any) -> Any:
        # Tags come as an object or as a list of [key, value] pairs.
        if isinstance(value, list):
            return {str(pair[0]): str(pair[1]) for pair in value if isinstance(pair, list | tuple) and len(pair) == 2}
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items() if v is not None}
        return value

    @field_validator("timestamp", mode="after")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    @property
    def exceptions(self) -> list[ExceptionValue]:
        """Exceptions as sent: innermost cause first, the raised exception last."""
        return self.exception.values if self.exception else []

    @property
    def thread_frames(self) -> list[Frame]:
        """The stack an SDK attached to an event with no exception (`attach_stacktrace`, a Go panic with
        a string value): the crashed thread's, else the current one's, else a lone thread's."""
        threads = [t for t in (self.threads.values if self.threads else []) if t.stacktrace and t.stacktrace.frames]
        chosen = next((t for t in threads if t.crashed), None) or next((t for t in threads if t.current), None)
        if chosen is None and len(threads) == 1:
            chosen = threads[0]
        return chosen.stacktrace.frames if chosen and chosen.stacktrace else []

    @property
    def message_text(self) -> str | None:
        if self.logentry and (self.logentry.formatted or self.logentry.message):
            return self.logentry.formatted or self.logentry.message
        return self.message

    @property
    def message_template(self) -> str | None:
        """The unformatted message ("user %s not found") when the SDK sent it: the best grouping key."""
        if self.logentry and self.logentry.message:
            return self.logentry.message
        return self.message_text


def event_frames(payload: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every frame dict of an event payload: exceptions' and threads' stacks."""
    for interface in ("exception", "threads"):
        container = payload.get(interface)
        values = container.get("values") if isinstance(container, dict) else container
        for value in values if isinstance(values, list) else []:
            stacktrace = value.get("stacktrace") if isinstance(value, dict) else None
            frames = stacktrace.get("frames") if isinstance(stacktrace, dict) else None
            for frame in frames if isinstance(frames, list) else []:
                if isinstance(frame, dict):
                    yield frame
