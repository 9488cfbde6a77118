""".NET stack traces (CoreCLR and Mono): ` ---> ` inner exceptions, `--- End of inner exception stack trace
---`, AggregateException's `---> (Inner Exception #N) ... <---` sections, Mono's `[0x00012] in file:line`
and CoreCLR's `in file:line N`. Messages may span lines (`Parameter name: x`)."""

from __future__ import annotations

import re

from errata.models.event import ExceptionValue, Frame, Stacktrace

_TYPE = r"(?:[A-Za-z_][\w`]*\.)+[A-Z_][\w`]*"
_PREFIX = re.compile(r"^\s*(?:Unhandled [Ee]xception[.:]?\s*|\[ERROR\] FATAL UNHANDLED EXCEPTION: )")
_HEADER = re.compile(rf"^(?P<type>{_TYPE})(?:: (?P<value>.*))?$", re.DOTALL)
_INNER = re.compile(rf"\s*---> (?={_TYPE}(?::|$))")
_LEAF = re.compile(rf"^---> \(Inner Exception #\d+\) (?P<header>{_TYPE}(?::.*)?)$")
_FRAME = re.compile(
    r"^\s+at (?:\(wrapper [^)]*\) )?(?P<symbol>[^\s(]+?)\s?\((?P<args>[^)]*)\)"
    r"(?: \[0x[0-9a-f]+\])?(?: in (?P<file>.+?):(?:line )?(?P<line>\d{1,9}))?(?:\s*<---)?\s*$"
)
_END_INNER = "--- End of inner exception stack trace ---"
_MAX_HEADER_LINES = 20


def _frame(match: re.Match[str]) -> Frame:
    module, _, function = match["symbol"].rpartition(".")
    path = match["file"]
    known = bool(path) and not path.startswith("<")  # Mono prints `<mvid>:0` for code without symbols
    line = int(match["line"]) if known and match["line"] else None
    return Frame(
        module=module or None,
        function=function,
        abs_path=path if known else None,
        filename=path.replace("\\", "/").rsplit("/", 1)[-1] if known else None,
        lineno=line or None,
        platform="csharp",
    )


def _exception(header: str, frames: list[Frame]) -> ExceptionValue | None:
    match = _HEADER.match(header.strip())
    if match is None:
        return None
    module, _, name = match["type"].rpartition(".")
    return ExceptionValue(
        type=name,
        module=module or None,
        value=match["value"],
        stacktrace=Stacktrace(frames=list(reversed(frames))) if frames else None,
    )


def _read_header(lines: list[str], start: int) -> tuple[str, int] | None:
    """The header (maybe wrapped over lines) and the index of the first frame after it."""
    header = [_PREFIX.sub("", lines[start]).strip()]
    index = start + 1
    while index < len(lines) and not _FRAME.match(lines[index]):
        if not lines[index].strip() or index - start > _MAX_HEADER_LINES:
            return None
        header.append(lines[index].strip())
        index += 1
    return ("\n".join(header), index) if index < len(lines) else None


def parse(text: str) -> list[ExceptionValue]:
    lines = text.splitlines()
    for start, line in enumerate(lines):
        if _HEADER.match(_PREFIX.sub("", line).strip()) and (read := _read_header(lines, start)):
            return _parse_from(lines, *read)
    return []


def _parse_from(lines: list[str], header: str, index: int) -> list[ExceptionValue]:
    parts = _INNER.split(header)  # outermost first
    blocks: list[list[Frame]] = [[]]
    leaves: list[ExceptionValue] = []
    while index < len(lines):
        line = lines[index]
        if (match := _FRAME.match(line)) is not None:
            blocks[-1].append(_frame(match))
        elif _END_INNER in line:
            blocks.append([])
        elif _LEAF.match(line.strip()) is not None:
            read = _read_header(lines, index)
            if read is None:
                break
            leaf_frames = []
            index = read[1]
            while index < len(lines) and (frame := _FRAME.match(lines[index])) is not None:
                leaf_frames.append(_frame(frame))
                if lines[index].rstrip().endswith("<---"):
                    break
                index += 1
            exception = _exception(re.sub(r"^---> \(Inner Exception #\d+\) ", "", read[0]), leaf_frames)
            if exception is not None:
                leaves.append(exception)
        elif line.strip() and (_PREFIX.match(line) or leaves):
            break  # Mono prints the whole trace a second time; and nothing follows the leaves
        elif line.strip() and not leaves and not _FRAME.match(line):
            break
        index += 1
    # Frames print the innermost exception's block first; headers print the outermost first.
    chain = []
    for depth, part in enumerate(reversed(parts)):
        exception = _exception(part, blocks[depth] if depth < len(blocks) else [])
        if exception is None:
            return []
        chain.append(exception)
    if leaves:
        return [*leaves, chain[-1]]
    return chain
