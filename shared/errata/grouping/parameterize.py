"""Message parameterization: the variable parts of a message (ids, numbers, addresses, times) become
placeholders, so `user 42 not found` and `user 39281 not found` are one issue.

Order matters: wider patterns (URLs, emails, UUIDs, timestamps) run before the narrow ones (hex, numbers)
that would otherwise eat them piecemeal. Each grouping config names its pattern set: the set of a config
that has issues in the wild is frozen, because a changed pattern changes hashes.
"""

from __future__ import annotations

import re

Patterns = tuple[tuple[str, re.Pattern[str]], ...]

_EMAIL = ("<email>", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"))
_URL = ("<url>", re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+"))
_UUID = ("<uuid>", re.compile(r"\b[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\b"))
_IPV4 = ("<ip>", re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b"))
_IPV6 = (
    "<ip>",
    re.compile(r"(?<![\w:])(?=[0-9a-fA-F:]*:[0-9a-fA-F]*:)[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7}(?![\w:])"),
)
_HASH = ("<hash>", re.compile(r"\b(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{32}|[0-9a-fA-F]{64})\b"))
_QUOTED = ("<quoted>", re.compile(r"(?<==)(?:'[^']*'|\"[^\"]*\")"))
_FLOAT = ("<float>", re.compile(r"(?<![\w.])[-+]?\d+\.\d+(?:[eE][-+]?\d+)?\b"))
_INT = ("<int>", re.compile(r"(?<![\w.])[-+]?\d+\b|(?<=[a-zA-Z_-])\d+\b"))

# errata:2026-11-27, frozen.
LEGACY_PATTERNS: Patterns = (
    _EMAIL,
    _URL,
    _UUID,
    (
        "<datetime>",
        re.compile(
            r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b"
            r"|\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} [A-Z][a-z]{2} \d{4} "
            r"\d{2}:\d{2}:\d{2}(?: [A-Z]{3}| [+-]\d{4})?"
        ),
    ),
    ("<time>", re.compile(r"\b\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\b")),
    _IPV4,
    _IPV6,
    _HASH,
    ("<hex>", re.compile(r"\b0[xX][0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b")),
    (
        "<hostname>",
        re.compile(
            r"\b(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+(?:internal|local|com|net|org|io|dev|cloud|amazonaws\.com)\b"
        ),
    ),
    ("<duration>", re.compile(r"\b\d+(?:\.\d+)?\s?(?:ns|us|µs|ms|s|sec|secs|seconds|m|min|mins|minutes|h|hours)\b")),
    _QUOTED,
    _FLOAT,
    _INT,
)

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*"

# errata:2026-11-28: more date shapes (RFC 2822/1123, Apache logs, US and ctime styles, epoch millis), Go's
# and Java's object addresses, JWT-like and long mixed tokens, quoted values after `=`.
PATTERNS: Patterns = (
    # RFC 5322 dot-atoms. The look-behinds on this and the next patterns let a match start only where a run
    # starts: without them a long run of `a.a.a.` is rescanned from each of its characters.
    ("<email>", re.compile(r"(?<![\w.+!#$%&'*/=?^`{|}~-])[\w.+!#$%&'*/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+\b")),
    ("<url>", re.compile(r"(?<![a-zA-Z0-9+.-])[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")),
    _UUID,
    _IPV4,  # before dates: 192.168.7.20 is no date
    (
        "<datetime>",
        re.compile(
            r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:\s?(?:Z|UTC|[+-]\d{2}:?\d{2}))?)?\b"
            rf"|\b(?:{_DAY},? )?\d{{1,2}} {_MONTH} \d{{4}}"
            r"(?: \d{2}:\d{2}(?::\d{2})?(?: [A-Z]{3,4}| [+-]\d{4})?)?"
            rf"|\b(?:{_DAY},? )?{_MONTH} \d{{1,2}}(?:,? \d{{4}})?"
            r"(?: \d{2}:\d{2}:\d{2}(?: [A-Z]{3,4})?(?: \d{4})?)?\b"
            rf"|\b\d{{1,2}}/{_MONTH}/\d{{4}}:\d{{2}}:\d{{2}}:\d{{2}}(?: [+-]\d{{4}})?"
            r"|\b\d{1,4}[/.]\d{1,2}[/.]\d{2,4}\b"
        ),
    ),
    ("<time>", re.compile(r"\b\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\b")),
    _IPV6,
    _HASH,
    ("<token>", re.compile(r"\beyJ[\w-]+\.[\w-]+\.[\w-]+|(?<![\w-])(?=[\w-]*\d)(?=[\w-]*[a-zA-Z])[\w-]{24,}\b")),
    (
        "<hex>",
        re.compile(
            r"\b0[xX][0-9a-fA-F]+\b|(?<=@)[0-9a-fA-F]{4,}\b"
            r"|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b"
        ),
    ),
    (
        "<hostname>",
        re.compile(
            r"(?<![\w.-])(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+(?:internal|local|localdomain|lan|corp|svc|"
            r"cluster\.local|com|net|org|io|dev|app|cloud|co|ai|amazonaws\.com)\b"
        ),
    ),
    (
        "<duration>",
        re.compile(
            r"\b\d+(?:\.\d+)?\s?(?:ns|us|µs|ms|s|sec|secs|seconds?|m|min|mins|minutes?|h|hrs?|hours?|d|days?)\b"
            r"|\b(?:\d+h)?(?:\d+m)?\d+(?:\.\d+)?(?:s|ms)\b"
        ),
    ),
    ("<quoted>", re.compile(r"(?<==)\s?(?:'[^']*'|\"[^\"]*\"|`[^`]*`)")),
    _FLOAT,
    _INT,
)


# Messages are cut before parameterizing: some patterns cost time quadratic in a run of word characters and
# dots, and the first kilobytes of a message are what tell it apart. The legacy set gets a tighter cap (its
# patterns are frozen, guards and all).
MAX_MESSAGE = 2048
LEGACY_MAX_MESSAGE = 1024


def parameterize_message(message: str, patterns: Patterns = PATTERNS) -> str:
    message = message[: LEGACY_MAX_MESSAGE if patterns is LEGACY_PATTERNS else MAX_MESSAGE]
    for placeholder, pattern in patterns:
        message = pattern.sub(placeholder, message)
    return message
