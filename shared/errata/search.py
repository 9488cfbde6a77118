"""The issue search box, as Sentry's reads: `user:<id|email|ip>`, `release:<version>`, `is:unresolved`
(also resolved, ignored, regressed), `level:<level>`, `environment:<name>`; any other words are text looked
for in the title or culprit."""

from __future__ import annotations

import ipaddress
import shlex
from dataclasses import dataclass, field

from errata.store.user_issues import IdentityKind

STATUS_WORDS = {
    "unresolved": ("unresolved", "regressed"),
    "resolved": ("resolved", "resolved_in_next_release"),
    "ignored": ("ignored",),
    "regressed": ("regressed",),
}


class InvalidSearch(ValueError):
    pass


@dataclass
class IssueSearch:
    statuses: tuple[str, ...] = ()
    release: str | None = None
    environment: str | None = None
    level: str | None = None
    user: tuple[IdentityKind, str] | None = None
    words: list[str] = field(default_factory=list)

    @property
    def text(self) -> str | None:
        return " ".join(self.words) or None


def user_kind(value: str) -> IdentityKind:
    if "@" in value:
        return "email"
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return "id"
    return "ip"


def parse_search(query: str) -> IssueSearch:
    try:
        tokens = shlex.split(query)
    except ValueError as exc:
        raise InvalidSearch(f"search: {exc}") from None
    search = IssueSearch()
    for token in tokens:
        key, colon, value = token.partition(":")
        if not colon or not value or key not in ("user", "release", "is", "level", "environment", "env"):
            search.words.append(token)
        elif key == "is":
            if value not in STATUS_WORDS:
                raise InvalidSearch(f"search: is:{value} is not one of {', '.join(STATUS_WORDS)}")
            search.statuses = STATUS_WORDS[value]
        elif key == "user":
            search.user = (user_kind(value), value)
        elif key == "release":
            search.release = value
        elif key == "level":
            search.level = value
        else:
            search.environment = value
    return search
