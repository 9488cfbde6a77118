"""A project's server-side fingerprint rules, in Sentry's syntax:

    # all timeouts are one issue, whatever the stack
    error.type:TimeoutError -> timeouts
    error.type:ConnectionError error.value:"*refused*" -> connection-refused, {{ default }}
    stack.module:"app.payments.*" stack.function:charge -> payments-charge
    tags.server_name:"db-*" -> db-hosts

Each line is matchers (all must hold; values are case-insensitive globs, quoted when they hold spaces) then
`->` and the fingerprint (comma separated; `{{ default }}` is the default grouping, subdivided). The first
rule that matches wins, over the SDK's own fingerprint. Matchers: error.type, error.value, message,
stack.module, stack.function, stack.abs_path (alias stack.path), stack.package, logger, level, release,
transaction, tags.<name>. Variables in fingerprints: {{ default }}, {{ error.type }}, {{ error.value }},
{{ transaction }}, {{ level }}, {{ logger }}, {{ message }}, {{ tags.<name> }}.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache

from errata.models.event import SentryEvent

_FIELDS = {
    "error.type",
    "error.value",
    "message",
    "stack.module",
    "stack.function",
    "stack.abs_path",
    "stack.path",
    "stack.package",
    "logger",
    "level",
    "release",
    "transaction",
}
_VARIABLE = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")
_VARIABLES = {"default", "error.type", "error.value", "transaction", "level", "logger", "message"}
MAX_RULES = 200


class InvalidRule(ValueError):
    """A rule that does not parse; the message says which line and why."""


@dataclass(frozen=True)
class Matcher:
    field: str
    pattern: str
    negated: bool = False

    def matches(self, event: SentryEvent) -> bool:
        pattern = self.pattern.lower()
        hit = any(fnmatchcase(value.lower(), pattern) for value in _values(event, self.field))
        return hit != self.negated


@dataclass(frozen=True)
class FingerprintRule:
    matchers: tuple[Matcher, ...]
    fingerprint: tuple[str, ...]
    text: str

    def matches(self, event: SentryEvent) -> bool:
        return all(matcher.matches(event) for matcher in self.matchers)


def _values(event: SentryEvent, name: str) -> Iterator[str]:
    if name == "error.type":
        yield from (e.type for e in event.exceptions if e.type)
        yield from (f"{e.module}.{e.type}" for e in event.exceptions if e.type and e.module)
    elif name == "error.value":
        yield from (e.value for e in event.exceptions if e.value)
    elif name == "message":
        yield from (text for text in (event.message_text, event.message_template) if text)
        yield from (e.value for e in event.exceptions if e.value)
    elif name.startswith("stack."):
        attribute = {"stack.path": "abs_path"}.get(name, name.removeprefix("stack."))
        for exception in event.exceptions:
            frames = exception.stacktrace.frames if exception.stacktrace else []
            for frame in frames:
                value = getattr(frame, attribute)
                if attribute == "abs_path" and not value:
                    value = frame.filename
                if value:
                    yield str(value)
    elif name.startswith("tags."):
        tag = event.tags.get(name.removeprefix("tags."))
        if tag is not None:
            yield tag
    else:
        value = getattr(event, name, None)
        if value:
            yield str(value)


def _parse_line(line: str, number: int) -> FingerprintRule:
    if "->" not in line:
        raise InvalidRule(f"line {number}: expected `matchers -> fingerprint`, got {line!r}")
    left, right = line.split("->", 1)
    try:
        tokens = shlex.split(left)
    except ValueError as exc:
        raise InvalidRule(f"line {number}: {exc}") from None
    if not tokens:
        raise InvalidRule(f"line {number}: a rule needs at least one matcher")
    matchers = []
    for token in tokens:
        negated = token.startswith("!")
        name, colon, pattern = token.removeprefix("!").partition(":")
        if not colon or not pattern:
            raise InvalidRule(f"line {number}: matcher {token!r} must be field:value")
        if name not in _FIELDS and not (name.startswith("tags.") and len(name) > 5):
            raise InvalidRule(f"line {number}: unknown field {name!r}; known: {', '.join(sorted(_FIELDS))}, tags.*")
        matchers.append(Matcher(name, pattern, negated))
    parts = tuple(part.strip().strip('"') for part in right.split(","))
    if not any(parts):
        raise InvalidRule(f"line {number}: empty fingerprint")
    for part in parts:
        for variable in _VARIABLE.findall(part):
            if variable not in _VARIABLES and not variable.startswith("tags."):
                raise InvalidRule(f"line {number}: unknown variable {{{{ {variable} }}}}")
    return FingerprintRule(tuple(matchers), parts, line.strip())


@lru_cache(maxsize=256)
def parse_rules(text: str) -> tuple[FingerprintRule, ...]:
    """Parsed once per distinct text (a warm processor sees the same project's rules on every batch)."""
    rules = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        rules.append(_parse_line(line, number))
    if len(rules) > MAX_RULES:
        raise InvalidRule(f"at most {MAX_RULES} rules, got {len(rules)}")
    return tuple(rules)


def matching_rule(rules: tuple[FingerprintRule, ...], event: SentryEvent) -> FingerprintRule | None:
    return next((rule for rule in rules if rule.matches(event)), None)


def expand_variables(part: str, event: SentryEvent) -> str:
    """`{{ error.type }}` and friends in a fingerprint part; `{{ default }}` is the caller's."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "default":
            return match.group(0)
        first = next(_values(event, name), None)
        return first if first is not None else "<none>"

    return _VARIABLE.sub(value, part)
