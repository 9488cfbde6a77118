"""The impact score: users count more than events, recent more than old, fatal more than warning."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from errata.impact import impact_after

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)


def test_users_weigh_more_than_events() -> None:
    many_users = impact_after(None, new_users=50, events=50, level="error", at=NOW)
    one_user = impact_after(None, new_users=1, events=400, level="error", at=NOW)
    assert many_users > one_user


def test_what_was_added_halves_every_day() -> None:
    yesterday = impact_after(None, new_users=10, events=0, level="error", at=NOW - timedelta(days=1))
    today = impact_after(None, new_users=5, events=0, level="error", at=NOW)
    assert abs(yesterday - today) < 1e-5  # 10 users a day ago weigh as 5 now
    assert impact_after(None, 6, 0, "error", NOW) > yesterday


def test_a_fatal_crash_outranks_a_warning_of_the_same_reach() -> None:
    assert impact_after(None, 10, 10, "fatal", NOW) > impact_after(None, 10, 10, "warning", NOW)


def test_a_batch_without_users_or_events_leaves_the_score() -> None:
    prior = impact_after(None, 3, 3, "error", NOW)
    assert impact_after(prior, 0, 0, "error", NOW) == prior


@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 10_000), st.integers(0, 3_000 * 24)), max_size=40))
def test_batches_add_up_as_one_and_never_overflow(batches: list[tuple[int, int, int]]) -> None:
    """Adding batches one by one equals adding their weights at once, for any order, years after the epoch."""
    score = None
    for users, events, hours in sorted(batches, key=lambda batch: batch[2]):
        score = impact_after(score, users, events, "error", NOW + timedelta(hours=hours))
    scores = [impact_after(None, u, e, "error", NOW + timedelta(hours=h)) for u, e, h in batches if u or e]
    if not scores:
        assert score in (None, 0.0)
        return
    expected = max(scores)
    for other in sorted(scores)[:-1]:  # log2 of a sum of powers of two, from the scores alone
        expected = expected + math.log2(1 + 2 ** (other - expected))
    assert score is not None and abs(score - expected) < 1e-3
