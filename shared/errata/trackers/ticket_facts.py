"""What a ticket says about an issue, whichever tracker it goes to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# (url, JSON body, headers) -> (status, response text)
TrackerPost = Callable[[str, dict[str, Any], dict[str, str]], tuple[int, str]]


class TrackerFailed(Exception):
    """The tracker refused or could not be reached; the message is the tracker's reason."""


@dataclass(frozen=True)
class TicketFacts:
    title: str
    culprit: str | None
    level: str
    events: int
    users: int
    first_seen: str | None
    last_seen: str | None
    first_release: str | None
    url: str

    def summary(self, limit: int) -> str:
        text = " ".join(self.title.split()) or "Errata issue"  # one line: trackers refuse newlines
        return text if len(text) <= limit else text[: limit - 1] + "…"

    def rows(self) -> list[tuple[str, str]]:
        rows = [("Level", self.level), ("Events", str(self.events)), ("Users", str(self.users))]
        if self.first_release:
            rows.append(("First seen in release", self.first_release))
        if self.first_seen:
            rows.append(("First seen", self.first_seen))
        if self.last_seen:
            rows.append(("Last seen", self.last_seen))
        return rows
