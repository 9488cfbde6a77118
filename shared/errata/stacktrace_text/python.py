"""CPython tracebacks, with chains ("direct cause", "During handling") and exception groups (3.11+)."""

from __future__ import annotations

import re

from errata.models.event import ExceptionValue, Frame, Stacktrace

_START = "Traceback (most recent call last):"
_GROUP_START = "Exception Group Traceback (most recent call last):"
_BOX = re.compile(r"^[ \t]*(?:[|+][-+ ]*(?:\d+ -+|-+)?[ \t]?)*")  # exception-group drawing: "  | ", "+-+---- 1 ----"
_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d{1,9})(?:, in (?P<function>.+))?$')
_EXCEPTION = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?:: (?P<value>.*))?$")
_REPEATED = re.compile(r"^\[Previous line repeated (?P<count>\d{1,9}) more times?\]$")
_MAX_FRAMES = 2000
_CHAIN = (
    "The above exception was the direct cause of the following exception:",
    "During handling of the above exception, another exception occurred:",
)


def _module_of(path: str) -> str | None:
    """The module a path names, when it sits in site-packages or dist-packages (else unknown)."""
    for marker in ("/site-packages/", "/dist-packages/"):
        if marker in path:
            relative = path.split(marker, 1)[1].removesuffix(".py")
            return relative.replace("/", ".").removesuffix(".__init__")
    return None


def parse(text: str) -> list[ExceptionValue]:
    if _START not in text:
        return []
    lines = [_BOX.sub("", line) if line.lstrip()[:1] in ("|", "+") else line for line in text.splitlines()]
    exceptions: list[ExceptionValue] = []
    group_leaves: list[ExceptionValue] = []
    frames: list[Frame] = []
    in_trace = False
    is_group = False
    wraps_previous = False  # after "The above exception was the direct cause ...": a wrapper follows
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        if stripped in (_START, _GROUP_START):
            in_trace, frames = True, []
            is_group = is_group or stripped == _GROUP_START
        elif in_trace and (match := _FRAME.match(line)):
            path = match["path"]
            frames.append(
                Frame(
                    abs_path=path,
                    filename=path.replace("\\", "/").rsplit("/", 1)[-1],
                    module=_module_of(path),
                    function=(match["function"] or "?").strip(),
                    lineno=int(match["line"]),
                    platform="python",
                )
            )
            # The source line (and 3.11's ^^^ markers) follow, indented deeper.
            while index + 1 < len(lines) and lines[index + 1].startswith("    ") and not _FRAME.match(lines[index + 1]):
                index += 1
        elif stripped in _CHAIN:
            wraps_previous = True
        elif in_trace and (repeated := _REPEATED.match(stripped)) and frames:
            frames.extend([frames[-1]] * min(int(repeated["count"]), _MAX_FRAMES - len(frames)))
        elif (in_trace or (is_group and stripped)) and (match := _EXCEPTION.match(stripped)) and not line[:1].isspace():
            value = match["value"]
            while index + 1 < len(lines) and lines[index + 1].strip() and not _is_boundary(lines[index + 1]):
                index += 1
                value = f"{value}\n{lines[index].strip()}" if value else lines[index].strip()
            exception = ExceptionValue(
                type=match["type"], value=value, stacktrace=Stacktrace(frames=frames) if frames else None
            )
            if is_group and wraps_previous:
                pass  # inside a group, a chain counts by its root cause, already a leaf
            elif in_trace:
                exceptions.append(exception)
            else:
                group_leaves.append(exception)
            in_trace, frames, wraps_previous = False, [], False
        index += 1
    groups = [e for e in exceptions if (e.type or "").endswith("ExceptionGroup")]
    if is_group and groups:
        # Leaves before the group, the group last: errata.grouping.chains reads an unlinked list that way.
        leaves = [e for e in exceptions if not (e.type or "").endswith("ExceptionGroup")]
        return [*leaves, *group_leaves, groups[0]]
    return exceptions


def _is_boundary(line: str) -> bool:
    stripped = line.strip()
    return stripped in (_START, _GROUP_START, *_CHAIN) or bool(_FRAME.match(line))
