"""V8 stack traces as Node.js prints them: `Error.stack`, with `at async` frames, and the `[cause]` and
`[errors]` that util.inspect adds for causes and AggregateError."""

from __future__ import annotations

import re

from errata.models.event import ExceptionValue, Frame, Stacktrace

_AT = re.compile(r"^\s+at (?P<rest>.+)$")
# Node elides the frames an error shares with its cause: "... 5 lines matching cause stack trace ...".
_ELIDED = re.compile(r"^\s+\.\.\. (?P<count>\d+) lines? matching cause stack trace \.\.\.$")
_LOCATED = re.compile(r"^(?P<function>[^()]*?) \((?P<location>.+)\)$")
_POSITION = re.compile(r"^(?P<file>.+?):(?P<line>\d{1,9})(?::(?P<column>\d{1,9}))?$")
_HEADER = re.compile(
    r"^(?P<indent>\s*)(?:\[(?P<link>cause)\]: |Uncaught )?(?P<bracket>\[)?"
    r"(?P<type>[A-Z$_][\w$]*(?:Error|Exception)|Error)(?: \[(?P<code>[\w-]+)\])?(?:: (?P<value>.*?))?\]?(?: \{)?$"
)
_ERRORS_OPEN = re.compile(r"^\s*\[errors\]: \[\s*$")
_ERRORS_CLOSE = re.compile(r"^\s*\],?\s*$")


def _frame(rest: str) -> Frame | None:
    rest = rest.strip().removesuffix(" {").removesuffix(",").strip()
    asynchronous = rest.startswith("async ")
    rest = rest.removeprefix("async ")
    located = _LOCATED.match(rest)
    function, location = (located["function"], located["location"]) if located else ("", rest)
    if location.startswith("eval at "):
        location = location.rsplit(", ", 1)[-1]
    position = _POSITION.match(location)
    if position is None:
        # `Promise.all (index 0)`, `<anonymous>`, `native`: a frame with no file.
        if not function:
            return None
        return Frame(function=function, platform="node")
    path = position["file"].removeprefix("file://")
    function = re.sub(r" \[as [^\]]+\]$", "", function).removeprefix("new ")
    return Frame(
        function=("async " if asynchronous and not function else "") + (function or "<anonymous>"),
        abs_path=path,
        filename=path.rsplit("/", 1)[-1],
        lineno=int(position["line"]),
        colno=int(position["column"]) if position["column"] else None,
        platform="node",
    )


def parse(text: str) -> list[ExceptionValue]:
    lines = text.splitlines()
    found: list[tuple[str | None, ExceptionValue, list[Frame | int]]] = []
    in_errors = False
    for index, line in enumerate(lines):
        at = _AT.match(line)
        if _ERRORS_OPEN.match(line):
            in_errors = True
        elif in_errors and _ERRORS_CLOSE.match(line):
            in_errors = False
        elif at and found:
            frame = _frame(at["rest"])
            if frame is not None:
                found[-1][2].append(frame)
        elif (elided := _ELIDED.match(line)) and found:
            found[-1][2].append(int(elided["count"]))
        elif (header := _HEADER.match(line)) and index + 1 < len(lines) and _opens_error(header, lines[index + 1]):
            exception = ExceptionValue(type=header["type"], value=header["value"])
            found.append(("errors" if in_errors else header["link"], exception, []))
    if not found:
        return []
    chain: list[ExceptionValue] = []
    leaves: list[ExceptionValue] = []
    for position in range(len(found) - 1, -1, -1):  # causes print after their error: expand from the inside
        link, exception, printed = found[position]
        cause = next((f[2] for f in found[position + 1 :] if f[0] == "cause"), [])
        frames = _expand(printed, [f for f in cause if isinstance(f, Frame)])
        found[position] = (link, exception, list(frames))
        exception.stacktrace = Stacktrace(frames=list(reversed(frames))) if frames else None
    for link, exception, _frames in found:
        (leaves if link == "errors" else chain).append(exception)
    chain.reverse()  # printed outermost first; Sentry's order is the innermost cause first
    if leaves:
        return [*leaves, *chain]
    return chain


def _expand(printed: list[Frame | int], cause: list[Frame]) -> list[Frame]:
    """Fills an elision with the cause's frames at the same distance from the bottom of the stack."""
    frames: list[Frame] = []
    for index, entry in enumerate(printed):
        if isinstance(entry, Frame):
            frames.append(entry)
            continue
        below = sum(1 for later in printed[index + 1 :] if isinstance(later, Frame))
        end = len(cause) - below
        frames.extend(cause[max(0, end - entry) : max(0, end)])
    return frames


def _opens_error(header: re.Match[str], following: str) -> bool:
    """A header is followed by its frames; a bracketed one (no stack, e.g. Promise.any's) by its errors."""
    return bool(_AT.match(following)) or (header["bracket"] is not None and bool(_ERRORS_OPEN.match(following)))
