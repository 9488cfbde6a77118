"""JVM stack traces (Java, Kotlin, Scala): `Caused by:` chains, `... N more`, `Suppressed:` blocks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from errata.models.event import ExceptionValue, Frame, Stacktrace

_FRAME = re.compile(
    r"^\s*at (?:[\w.-]++(?:@[\w.-]++)?/)*+(?P<symbol>[\w$.<>\[\]/]+)\.(?P<method>[\w$<>\-]+)\((?P<source>[^)]*)\)"
)
_MORE = re.compile(r"^\s*\.\.\. (?P<count>\d+) (?:more|common frames omitted)")
_HEADER = re.compile(
    r"^(?P<indent>\s*)(?:.*?Exception in thread \"[^\"]*\" |(?P<kind>Caused by|Suppressed): )?"
    r"(?P<type>(?:[a-zA-Z_$][\w$]*\.)+[A-Z][\w$]*|[A-Z][\w$]*(?:Exception|Error|Throwable))(?:: (?P<value>.*))?$"
)


@dataclass
class _Block:
    type: str
    value: str | None
    kind: str | None
    indent: int
    frames: list[Frame] = field(default_factory=list)  # newest first, as printed
    omitted: int = 0


def _frame(match: re.Match[str]) -> Frame:
    source = match["source"]
    filename, _, line = source.partition(":")
    known = filename not in ("Native Method", "Unknown Source", "")
    return Frame(
        module=match["symbol"],
        function=match["method"],
        filename=filename if known else None,
        lineno=int(line) if line.isascii() and line.isdigit() and len(line) < 10 else None,
        platform="java",
    )


def parse(text: str) -> list[ExceptionValue]:
    lines = text.splitlines()
    blocks: list[_Block] = []
    for index, line in enumerate(lines):
        if (match := _FRAME.match(line)) and blocks:
            blocks[-1].frames.append(_frame(match))
        elif (match := _MORE.match(line)) and blocks:
            blocks[-1].omitted = int(match["count"])
        elif (header := _HEADER.match(line)) and index + 1 < len(lines) and _FRAME.match(lines[index + 1]):
            blocks.append(_Block(header["type"], header["value"], header["kind"], len(header["indent"])))
    if not blocks:
        return []
    # The chain: the first block and its `Caused by:` blocks; suppressed blocks are side notes.
    chain = [blocks[0]]
    for block in blocks[1:]:
        if block.indent != blocks[0].indent or block.kind == "Suppressed":
            continue
        if block.kind is None:
            break  # a second, unrelated trace
        chain.append(block)
    previous: list[Frame] = []
    exceptions = []
    for block in chain:
        frames = block.frames + (previous[max(0, len(previous) - block.omitted) :] if block.omitted else [])
        previous = frames
        module, _, name = block.type.rpartition(".")
        exceptions.append(
            ExceptionValue(
                type=name,
                module=module or None,
                value=block.value,
                stacktrace=Stacktrace(frames=list(reversed(frames))),
            )
        )
    return list(reversed(exceptions))
