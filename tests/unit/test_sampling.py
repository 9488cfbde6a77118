"""Which payloads an issue keeps (errata.sampling): the latest of each batch, and a uniform reservoir over
the issue's events of the day."""

import math
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

from errata.sampling import plan_samples

START = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
DAY = "2026-11-27"


def _plan(count: int, prior: int = 0, k: int = 5, seed: int = 1, spacing: float = 0.001):  # type: ignore[no-untyped-def]
    events = [START + timedelta(seconds=i * spacing) for i in range(count)]
    return plan_samples(
        events,
        received_at=lambda moment: moment,
        prior_by_day={DAY: prior} if prior else {},
        sample_size=k,
        rng=random.Random(seed),
    )


def test_the_first_event_of_a_new_issue_fills_the_first_slot_and_represents_it() -> None:
    plan = _plan(1)
    assert plan.slots == {0: START} and plan.representative == START and plan.dropped == 0


def test_each_batch_keeps_its_latest_event_as_the_representative() -> None:
    plan = _plan(40, prior=10_000)
    latest = START + timedelta(seconds=39 * 0.001)
    assert plan.representative == latest
    assert plan.dropped == 40 - len({*plan.slots.values(), latest})


def test_a_storm_keeps_at_most_k_slots_a_batch_and_refills_few_in_its_day() -> None:
    filled = 0
    rng = random.Random(3)
    events = list(range(500))
    for batch in range(200):  # 100,000 events of one day in batches of 500
        plan = plan_samples(events, lambda _: START, {DAY: batch * 500}, sample_size=5, rng=rng)
        assert set(plan.slots) <= set(range(5)) and plan.representative == 499
        filled += len(plan.slots)
    # Algorithm R: the n-th event takes a slot with probability k/n; a batch's slots are its last takers.
    expected = 5 + 5 * math.log(200)
    assert 0.5 * expected < filled < 1.5 * expected, filled


def test_a_busy_issue_seldom_changes_its_samples() -> None:
    changed = sum(bool(_plan(3, prior=5_000, seed=seed).slots) for seed in range(1_000))
    assert changed < 1_000 * 3 * 5 / 5_000 * 2  # a slot with probability k/n per event: ~0.3% of batches


def test_a_new_day_starts_a_new_reservoir() -> None:
    plan = _plan(2, prior=100_000, spacing=12 * 3600)  # the second event is the next day's first
    assert plan.slots[0] == START + timedelta(hours=12)


def test_the_reservoir_is_uniform_over_the_days_events() -> None:
    """After 100 events in batches of 10, each of them is in a slot in about k/100 of the runs."""
    kept: Counter[int] = Counter()
    runs = 2_000
    for seed in range(runs):
        rng = random.Random(seed)
        slots: dict[int, int] = {}
        for prior in range(0, 100, 10):
            batch = list(range(prior, prior + 10))
            slots.update(plan_samples(batch, lambda _: START, {DAY: prior}, sample_size=5, rng=rng).slots)
        kept.update(slots.values())
    expected = runs * 5 / 100
    assert len(kept) == 100
    assert all(0.6 * expected < count < 1.4 * expected for count in kept.values()), kept.most_common(3)
