"""An event's fields brought within Relay's limits before anything reads them.

Values become DynamoDB key values (release, environment, user ids and emails, routes, tags), issue
attributes and S3 payloads. A key value is limited to 1,024 bytes in a sort key and 2,048 in a partition key,
an item to 400 KB (errata.limits), and one value over the limit fails the whole transaction, and with it every
event of the batch on every retry. DSNs are public in browser apps, so anyone can send such a value. So, as
Relay does (relay-event-schema's `max_chars` and its release/environment validation), long strings are cut
to the field's limit and values that cannot be what the field names (a release with a newline, an
environment "..") are dropped, each recorded in the event's `errors` as Sentry shows them. Character limits
keep every key value within its byte limit even at four bytes per character.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

# relay-event-schema MaxChars: Culprit 200, TagKey/TagValue 200, Environment 64, Logger 64, Email 75,
# EnumLike/Hash 128, Symbol/Path 256, Message 8192. A release is at most 200 characters (Relay's
# validate_release).
_TOP_LEVEL_CHARS = {
    "transaction": 200,
    "culprit": 200,
    "logger": 64,
    "platform": 64,
    "level": 16,
    "server_name": 256,
    "dist": 64,
    "message": 8192,
    "event_id": 64,
}
_USER_CHARS = {"id": 128, "email": 75, "username": 128, "name": 128, "ip_address": 45, "segment": 128}
_FRAME_CHARS = {
    "function": 256,
    "raw_function": 256,
    "symbol": 256,
    "module": 256,
    "package": 256,
    "filename": 256,
    "abs_path": 256,
    "platform": 64,
    "context_line": 512,
    "instruction_addr": 64,
    "symbol_addr": 64,
    "image_addr": 64,
}
_EXCEPTION_CHARS = {"type": 256, "value": 8192, "module": 256}
MAX_RELEASE_CHARS = 200
MAX_ENVIRONMENT_CHARS = 64
MAX_TAG_CHARS = 200
MAX_TAGS = 100
# Sentry keeps the last 100 breadcrumbs and at most 250 frames per stack (the outermost and innermost half).
MAX_BREADCRUMBS = 100
MAX_FRAMES = 250
MAX_EXCEPTIONS = 25
MAX_CONTEXT_LINES = 5
# Any other string (extra, contexts, request data, frame variables): the event stays under Kinesis' 1 MiB.
MAX_STRING_CHARS = 16 * 1024
_INVALID_RELEASE = re.compile(r"[\n\r\t\f\x00/\\]")
_RESERVED_NAMES = frozenset({"", ".", "..", " ", "latest", "none"})
ELLIPSIS = "..."


def normalize_event(payload: dict[str, Any]) -> dict[str, Any]:
    """The event with every field within its limit; changes `payload` in place and returns it."""
    errors: list[dict[str, Any]] = []
    for name, limit in _TOP_LEVEL_CHARS.items():
        _cap_field(payload, name, limit)
    _validate(payload, "release", MAX_RELEASE_CHARS, errors)
    _validate(payload, "environment", MAX_ENVIRONMENT_CHARS, errors)
    user = payload.get("user")
    if isinstance(user, dict):
        for name, limit in _USER_CHARS.items():
            _cap_field(user, name, limit)
        _validate_ip(user, errors)
    if "tags" in payload:
        tags = _tags(payload["tags"], errors)
        if tags is None:
            del payload["tags"]
        else:
            payload["tags"] = tags
    logentry = payload.get("logentry")
    if isinstance(logentry, dict):
        _cap_field(logentry, "message", 8192)
        _cap_field(logentry, "formatted", 8192)
    _normalize_exceptions(payload)
    _normalize_threads(payload)
    _normalize_breadcrumbs(payload)
    fingerprint = payload.get("fingerprint")
    if isinstance(fingerprint, list):
        payload["fingerprint"] = [_cap(str(part), MAX_STRING_CHARS) for part in fingerprint[:64]]
    _cap_strings(payload)
    if errors:
        existing = payload.get("errors")
        payload["errors"] = [*(existing if isinstance(existing, list) else []), *errors][:50]
    return payload


def _cap(text: str, limit: int) -> str:
    """Relay's trimming: cut, and mark the cut with an ellipsis."""
    return text if len(text) <= limit else text[: limit - len(ELLIPSIS)] + ELLIPSIS


def _cap_field(container: dict[str, Any], name: str, limit: int) -> None:
    value = container.get(name)
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)  # a 4,000-digit user id is a 4,000-character string
        container[name] = value
    if isinstance(value, str) and len(value) > limit:
        container[name] = _cap(value, limit)


def _validate(payload: dict[str, Any], name: str, limit: int, errors: list[dict[str, Any]]) -> None:
    """A release or environment that is not one (too long, a path, a newline, "..") is dropped, as Relay
    does: truncating would merge different releases into one."""
    value = payload.get(name)
    if value is None:
        return
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    reason = None
    if not isinstance(value, str):
        reason = "not a string"
    elif len(value) > limit:
        reason = f"longer than {limit} characters"
    elif value.strip() != value or value.lower() in _RESERVED_NAMES or _INVALID_RELEASE.search(value):
        reason = "not a valid name"
    if reason is None:
        payload[name] = value
        return
    del payload[name]
    errors.append({"type": "invalid_data", "name": name, "reason": reason, "value": _cap(str(value), 64)})


def _validate_ip(user: dict[str, Any], errors: list[dict[str, Any]]) -> None:
    value = user.get("ip_address")
    if value is None or value == "{{auto}}":
        return
    try:
        ipaddress.ip_address(value)
    except ValueError:
        del user["ip_address"]
        errors.append({"type": "invalid_data", "name": "user.ip_address", "value": _cap(str(value), 64)})


def _tags(value: Any, errors: list[dict[str, Any]]) -> dict[str, str] | None:
    pairs: list[tuple[Any, Any]]
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, list):
        pairs = [(p[0], p[1]) for p in value if isinstance(p, list | tuple) and len(p) == 2]
    else:
        return None
    tags: dict[str, str] = {}
    for key, item in pairs:
        if item is None or isinstance(item, dict | list):
            continue
        key = str(key)
        if not key or len(key) > MAX_TAG_CHARS:
            errors.append({"type": "invalid_data", "name": "tags", "value": _cap(key, 64)})
            continue
        if len(tags) < MAX_TAGS:
            tags[key] = _cap(str(item), MAX_TAG_CHARS)
    return tags


def _normalize_exceptions(payload: dict[str, Any]) -> None:
    container = payload.get("exception")
    values = container.get("values") if isinstance(container, dict) else container
    if not isinstance(values, list):
        return
    if len(values) > MAX_EXCEPTIONS:
        # The innermost cause groups the event and the last sent is the title: keep both ends of the chain.
        half = MAX_EXCEPTIONS // 2
        values[:] = [*values[:half], *values[-(MAX_EXCEPTIONS - half) :]]
    for value in values:
        if isinstance(value, dict):
            for name, limit in _EXCEPTION_CHARS.items():
                _cap_field(value, name, limit)
            mechanism = value.get("mechanism")
            if isinstance(mechanism, dict):
                _cap_field(mechanism, "type", 128)
            _normalize_stacktrace(value.get("stacktrace"))


def _normalize_threads(payload: dict[str, Any]) -> None:
    container = payload.get("threads")
    values = container.get("values") if isinstance(container, dict) else container
    if isinstance(values, list):
        del values[MAX_EXCEPTIONS * 4 :]
        for value in values:
            if isinstance(value, dict):
                _cap_field(value, "name", 256)
                _normalize_stacktrace(value.get("stacktrace"))


def _normalize_stacktrace(stacktrace: Any) -> None:
    if not isinstance(stacktrace, dict) or not isinstance(stacktrace.get("frames"), list):
        return
    frames: list[Any] = stacktrace["frames"]
    if len(frames) > MAX_FRAMES:
        # Frames are outermost first: the entry point and the crash site both matter, the middle of a deep
        # recursion does not.
        half = MAX_FRAMES // 2
        frames[:] = [*frames[:half], *frames[-half:]]
    for frame in frames:
        if not isinstance(frame, dict):
            continue
        for name, limit in _FRAME_CHARS.items():
            _cap_field(frame, name, limit)
        for side in ("pre_context", "post_context"):
            lines = frame.get(side)
            if isinstance(lines, list):
                kept = lines[-MAX_CONTEXT_LINES:] if side == "pre_context" else lines[:MAX_CONTEXT_LINES]
                frame[side] = [_cap(line, 512) if isinstance(line, str) else line for line in kept]


def _normalize_breadcrumbs(payload: dict[str, Any]) -> None:
    container = payload.get("breadcrumbs")
    values = container.get("values") if isinstance(container, dict) else container
    if isinstance(values, list) and len(values) > MAX_BREADCRUMBS:
        del values[: len(values) - MAX_BREADCRUMBS]


def _cap_strings(value: Any) -> None:
    """Every string left anywhere in the event within MAX_STRING_CHARS (iteratively: depth is bounded at
    ingest, but a walk should not depend on that)."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, item in node.items():
                if isinstance(item, str):
                    if len(item) > MAX_STRING_CHARS:
                        node[key] = _cap(item, MAX_STRING_CHARS)
                elif isinstance(item, dict | list):
                    stack.append(item)
        elif isinstance(node, list):
            for index, item in enumerate(node):
                if isinstance(item, str):
                    if len(item) > MAX_STRING_CHARS:
                        node[index] = _cap(item, MAX_STRING_CHARS)
                elif isinstance(item, dict | list):
                    stack.append(item)
