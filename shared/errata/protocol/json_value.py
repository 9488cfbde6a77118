"""JSON from a client, parsed so that nothing downstream can choke on it.

Python's parser accepts what later steps cannot: nesting deep enough to exhaust the recursion limit of the
parser itself (10,000 levels) or of pydantic's (the processor reads records with it: ~255 levels), integers
of thousands of digits, and lone UTF-16 surrogates (`"\\ud800"`), which no UTF-8 encoder writes. Each of those
was a 500 at ingest, or worse, a 200 whose record the processor could not read. Here they are a 400 with the
reason, or, for a surrogate (a JavaScript SDK truncating a string inside a pair sends one), U+FFFD.
"""

from __future__ import annotations

import json
import re
from typing import Any

from errata.errors import InvalidPayload

# Real events nest a dozen levels (contexts, frame variables); Relay's parser stops at 128.
MAX_JSON_DEPTH = 100
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def load_json(data: bytes, what: str) -> Any:
    """The parsed value, or InvalidPayload saying why it cannot be one."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise InvalidPayload(f"{what} is nested deeper than {MAX_JSON_DEPTH} levels") from None
    except UnicodeDecodeError:
        raise InvalidPayload(f"{what} is not UTF-8 text") from None
    except ValueError as exc:
        raise InvalidPayload(f"{what} is not valid JSON: {exc}") from None
    return _checked(value, what, fix_surrogates=_SURROGATE_ESCAPE.search(data) is not None)


def _checked(value: Any, what: str, *, fix_surrogates: bool) -> Any:
    """Walks the value once, iteratively: depth bound, and lone surrogates replaced when the text had any
    surrogate escape (a valid pair decodes to one character and is left alone)."""
    if fix_surrogates and isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise InvalidPayload(f"{what} is nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(node, dict):
            if fix_surrogates:
                for key in [k for k in node if _LONE_SURROGATE.search(k)]:
                    node[_LONE_SURROGATE.sub("\ufffd", key)] = node.pop(key)
            entries: Any = node.items()
        elif isinstance(node, list):
            entries = enumerate(node)
        else:
            continue
        for key, item in list(entries):
            if isinstance(item, dict | list):
                stack.append((item, depth + 1))
            elif fix_surrogates and isinstance(item, str) and _LONE_SURROGATE.search(item):
                node[key] = _LONE_SURROGATE.sub("\ufffd", item)
    return value
