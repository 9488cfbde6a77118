"""Go panics: `panic: ...` followed by the goroutine dump the runtime prints."""

from __future__ import annotations

import re

from errata.models.event import ExceptionValue, Frame, Stacktrace

_PANIC = re.compile(r"^(?:panic|fatal error): (?P<value>.*?)(?: \[recovered(?:, repanicked)?\])?$", re.MULTILINE)
_GOROUTINE = re.compile(r"^goroutine \d+ \[[^\]]*\]:$", re.MULTILINE)
_CALL = re.compile(r"^(?P<function>\S.*?)\((?:[^()]|\([^()]*\))*\)$")
_LOCATION = re.compile(r"^\t(?P<path>.+?):(?P<line>\d{1,9})(?: \+0x[0-9a-f]+)?$")
# What the runtime's own errors read like, with the type sentry-go reports for them.
_RUNTIME_ERRORS = (
    ("runtime error: index out of range", "runtime.boundsError"),
    ("runtime error: slice bounds out of range", "runtime.boundsError"),
    ("runtime error: invalid memory address or nil pointer dereference", "runtime.errorString"),
    ("runtime error: integer divide by zero", "runtime.errorString"),
    ("assignment to entry in nil map", "runtime.plainError"),
    ("interface conversion:", "*runtime.TypeAssertionError"),
)


def split_function(qualified: str) -> tuple[str, str]:
    """`github.com/acme/app/pkg.(*Server).handle` -> (`github.com/acme/app/pkg`, `(*Server).handle`), as
    sentry-go splits it."""
    slash = qualified.rfind("/")
    dot = qualified.find(".", slash + 1)
    if dot < 0:
        return "", qualified
    return qualified[:dot], qualified[dot + 1 :]


def panic_type(value: str) -> str:
    for prefix, type_name in _RUNTIME_ERRORS:
        if value.startswith(prefix):
            return type_name
    return "panic"


def parse(text: str) -> list[ExceptionValue]:
    panic = _PANIC.search(text)
    goroutine = _GOROUTINE.search(text)
    if not goroutine:
        return []
    lines = text[goroutine.end() :].lstrip("\n").splitlines()
    frames: list[Frame] = []
    index = 0
    while index + 1 < len(lines):
        call, location = _CALL.match(lines[index]), _LOCATION.match(lines[index + 1])
        if call is None or location is None:
            break  # the end of the first goroutine (the one that panicked)
        qualified = call["function"]
        if qualified.startswith("created by "):
            break
        module, function = split_function(qualified)
        path = location["path"]
        frames.append(
            Frame(
                module=module or None,
                function=function,
                abs_path=path,
                filename=path.rsplit("/", 1)[-1],
                lineno=int(location["line"]),
                platform="go",
            )
        )
        index += 2
    if not frames:
        return []
    value = panic["value"].strip() if panic else None
    frames.reverse()
    return [ExceptionValue(type=panic_type(value or ""), value=value, stacktrace=Stacktrace(frames=frames))]
