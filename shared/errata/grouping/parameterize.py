"""Message parameterization: the variable parts of a message (ids, numbers, addresses, times) become
placeholders, so `user 42 not found` and `user 39281 not found` are one issue.

Order matters: wider patterns (URLs, emails, UUIDs, timestamps) run before the narrow ones (hex, numbers)
that would otherwise eat them piecemeal.
"""

from __future__ import annotations

import re

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("<email>", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    ("<url>", re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")),
    (
        "<uuid>",
        re.compile(r"\b[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\b"),
    ),
    (
        "<datetime>",
        re.compile(
            r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b"
            r"|\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} [A-Z][a-z]{2} \d{4} "
            r"\d{2}:\d{2}:\d{2}(?: [A-Z]{3}| [+-]\d{4})?"
        ),
    ),
    ("<time>", re.compile(r"\b\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\b")),
    ("<ip>", re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b")),
    (
        "<ip>",
        re.compile(r"(?<![\w:])(?=[0-9a-fA-F:]*:[0-9a-fA-F]*:)[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7}(?![\w:])"),
    ),
    ("<hash>", re.compile(r"\b(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{32}|[0-9a-fA-F]{64})\b")),
    (
        "<hex>",
        re.compile(r"\b0[xX][0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b"),
    ),
    (
        "<hostname>",
        re.compile(
            r"\b(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+(?:internal|local|com|net|org|io|dev|cloud|amazonaws\.com)\b"
        ),
    ),
    (
        "<duration>",
        re.compile(r"\b\d+(?:\.\d+)?\s?(?:ns|us|µs|ms|s|sec|secs|seconds|m|min|mins|minutes|h|hours)\b"),
    ),
    ("<quoted>", re.compile(r"(?<==)(?:'[^']*'|\"[^\"]*\")")),
    ("<float>", re.compile(r"(?<![\w.])[-+]?\d+\.\d+(?:[eE][-+]?\d+)?\b")),
    ("<int>", re.compile(r"(?<![\w.])[-+]?\d+\b|(?<=[a-zA-Z_-])\d+\b")),
]


def parameterize_message(message: str) -> str:
    for placeholder, pattern in _PATTERNS:
        message = pattern.sub(placeholder, message)
    return message
