"""How events change an issue's status: a resolved issue seen again in a later release regresses; an
ignored issue comes back when its ignore runs out (more events than allowed, or past the date)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from errata.releases import is_later_release
from errata.store.issues import IssueState, StatusChange
from errata.timefmt import iso_utc

RESOLVED = ("resolved", "resolved_in_next_release")


def needs_release_order(state: IssueState | None) -> bool:
    return state is not None and state.status in RESOLVED and state.resolved_release is not None


def status_after(
    state: IssueState | None,
    releases_seen: Sequence[str],
    new_events: int,
    now: datetime,
    release_order: Mapping[str, str],
) -> StatusChange | None:
    """The change the batch's events cause, if any. `releases_seen` in stream order."""
    if state is None:
        return None
    if state.status in RESOLVED:
        baseline = state.resolved_release
        if baseline is None:
            # Resolved with no release to compare against: any new event is a regression, like Sentry.
            if state.status == "resolved":
                return StatusChange("regressed", releases_seen[-1] if releases_seen else None)
            return None
        later = [release for release in releases_seen if is_later_release(release, baseline, release_order)]
        return StatusChange("regressed", later[-1]) if later else None
    if state.status == "ignored":
        if state.ignore_until_count is not None and state.event_count + new_events > state.ignore_until_count:
            return StatusChange("unresolved")
        if state.ignore_until is not None and iso_utc(now) >= state.ignore_until:
            return StatusChange("unresolved")
    return None
