from datetime import UTC, datetime

from errata.issue_status import status_after
from errata.store.issues import IssueState, StatusChange

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _state(**fields: object) -> IssueState:
    return IssueState(revision=3, last_seen="", user_sketch=None, event_count=10, **fields)  # type: ignore[arg-type]


def test_new_and_unresolved_issues_do_not_change() -> None:
    assert status_after(None, ["a@1.0.0"], 1, NOW, {}) is None
    assert status_after(_state(status="unresolved"), ["a@9.0.0"], 1, NOW, {}) is None


def test_resolved_regresses_on_the_latest_later_release_only() -> None:
    state = _state(status="resolved", resolved_release="a@1.2.0")
    assert status_after(state, ["a@1.1.0", "a@1.2.0"], 2, NOW, {}) is None
    assert status_after(state, ["a@1.1.0", "a@1.3.0", "a@1.4.0"], 3, NOW, {}) == StatusChange("regressed", "a@1.4.0")


def test_resolved_without_a_release_regresses_on_any_event_but_next_release_does_not() -> None:
    assert status_after(_state(status="resolved"), [], 1, NOW, {}) == StatusChange("regressed", None)
    assert status_after(_state(status="resolved_in_next_release"), ["x"], 1, NOW, {}) is None


def test_ignored_comes_back_past_its_count_or_its_date() -> None:
    by_count = _state(status="ignored", ignore_until_count=12)
    assert status_after(by_count, [], 2, NOW, {}) is None
    assert status_after(by_count, [], 3, NOW, {}) == StatusChange("unresolved")
    by_date = _state(status="ignored", ignore_until="2026-11-27T11:59:59.000Z")
    assert status_after(by_date, [], 1, NOW, {}) == StatusChange("unresolved")
    later = _state(status="ignored", ignore_until="2026-11-28T00:00:00.000Z")
    assert status_after(later, [], 1, NOW, {}) is None
