"""Stack traces that arrive as text: a log line, or a `message` holding a traceback.

Each runtime's printed format is parsed into Sentry's exception interface (innermost cause first, frames
oldest call first), so such events group by their stack like an SDK's would. The parsers are tried in
turn; the first that finds a trace wins. Text that is not a trace yields nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from errata.models.event import ExceptionInterface, ExceptionValue, Mechanism, SentryEvent
from errata.stacktrace_text import dotnet, go, java, node, python

TEXT_MECHANISM = "stacktrace.text"
MAX_TEXT = 256 * 1024  # a larger message is not parsed (bounded work per event)
MAX_LINE = 2048  # trace lines are short; a longer line is cut before any regex sees it
logger = logging.getLogger(__name__)
# Every format above has one of these; one scan rejects the common message that holds no trace, instead of
# each parser walking its lines.
_LOOKS_LIKE_TRACE = re.compile(r"Traceback \(most recent call last\)|^goroutine \d+ \[|^[ \t]+at \S", re.MULTILINE)

Parser = Callable[[str], list[ExceptionValue]]
PARSERS: tuple[tuple[str, Parser], ...] = (
    ("python", python.parse),
    ("java", java.parse),
    ("go", go.parse),
    ("dotnet", dotnet.parse),
    ("node", node.parse),
)


def exceptions_from_text(text: str) -> list[ExceptionValue]:
    if not text or len(text) > MAX_TEXT or "\n" not in text or not _LOOKS_LIKE_TRACE.search(text):
        return []
    text = "\n".join(line[:MAX_LINE] for line in text.splitlines())
    for language, parse in PARSERS:
        try:
            exceptions = parse(text)
        except Exception:  # a text that fools a parser is left as a message, never fails the event
            logger.warning("text stack trace parser failed", extra={"parser": language}, exc_info=True)
            continue
        if exceptions:
            for exception in exceptions:
                exception.mechanism = exception.mechanism or Mechanism(type=TEXT_MECHANISM)
                exception.mechanism.type = TEXT_MECHANISM
            return exceptions
    return []


def attach_text_stacktrace(event: SentryEvent, payload: dict[str, Any]) -> dict[str, Any]:
    """An event with no exception but a trace in its message gets the parsed exception, in the view that
    grouping reads and in the payload that is stored (marked by its mechanism, so it reads as derived)."""
    if event.exceptions:
        return payload
    exceptions = exceptions_from_text(event.message_text or "")
    if not exceptions:
        return payload
    event.exception = ExceptionInterface(values=exceptions)
    return {**payload, "exception": {"values": [e.model_dump(exclude_none=True) for e in exceptions]}}
