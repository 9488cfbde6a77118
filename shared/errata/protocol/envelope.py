"""Sentry envelope framing (https://develop.sentry.dev/sdk/data-model/envelopes/).

{envelope header JSON}\n
{item header JSON, optionally with "length"}\n
<payload: exactly `length` bytes, or up to the next newline>\n
...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from errata.errors import InvalidEnvelope, InvalidPayload
from errata.protocol.json_value import load_json


@dataclass(frozen=True)
class EnvelopeItem:
    type: str
    headers: dict[str, Any]
    payload: bytes


@dataclass(frozen=True)
class Envelope:
    headers: dict[str, Any]
    items: list[EnvelopeItem] = field(default_factory=list)


def _json_object_line(line: bytes, what: str) -> dict[str, Any]:
    try:
        value = load_json(line, what)
    except InvalidPayload as exc:
        raise InvalidEnvelope(exc.detail) from None
    if not isinstance(value, dict):
        raise InvalidEnvelope(f"{what} is not a JSON object")
    return value


def parse_envelope(body: bytes) -> Envelope:
    if not body.strip():
        raise InvalidEnvelope("empty envelope")
    end = body.find(b"\n")
    end = len(body) if end < 0 else end
    headers = _json_object_line(body[:end], "envelope header")
    position = end + 1
    items: list[EnvelopeItem] = []
    size = len(body)
    while position < size:
        end = body.find(b"\n", position)
        end = size if end < 0 else end
        line = body[position:end]
        position = end + 1
        if not line.strip():
            continue  # blank lines between items and a trailing newline are allowed
        item_headers = _json_object_line(line, f"header of item {len(items) + 1}")
        item_type = item_headers.get("type")
        if not isinstance(item_type, str) or not item_type:
            raise InvalidEnvelope(f"item {len(items) + 1} has no type")
        length = item_headers.get("length")
        if length is None:
            end = body.find(b"\n", position)
            end = size if end < 0 else end
            payload = body[position:end]
            position = end + 1
        else:
            if not isinstance(length, int) or isinstance(length, bool) or length < 0:
                raise InvalidEnvelope(f"item {len(items) + 1} has an invalid length {length!r}")
            if position + length > size:
                raise InvalidEnvelope(
                    f"item {len(items) + 1} declares {length} bytes but only {max(size - position, 0)} remain"
                )
            payload = body[position : position + length]
            position += length
            if position < size and body[position : position + 1] != b"\n":
                raise InvalidEnvelope(f"item {len(items) + 1} is not followed by a newline")
            position += 1
        items.append(EnvelopeItem(type=item_type, headers=item_headers, payload=payload))
    return Envelope(headers=headers, items=items)


def parse_json_object(payload: bytes, what: str) -> dict[str, Any]:
    """An item payload that must be a JSON object (event, transaction, session...)."""
    value = load_json(payload, what)
    if not isinstance(value, dict):
        raise InvalidPayload(f"{what} is not a JSON object")
    return value
