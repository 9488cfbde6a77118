import random
from collections import Counter
from datetime import UTC, datetime, timedelta

from errata.sampling import PAYLOADS_CONSIDERED_PER_MINUTE, plan_samples

START = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)


def _plan(count: int, new_issue: bool, prior: int = 0, k: int = 5, seed: int = 1, spacing: float = 0.001):  # type: ignore[no-untyped-def]
    events = [START + timedelta(seconds=i * spacing) for i in range(count)]
    return plan_samples(
        events,
        received_at=lambda moment: moment,
        prior_in_minute={"m#2026-11-27T12:00": prior} if prior else {},
        new_issue=new_issue,
        sample_size=k,
        rng=random.Random(seed),
    )


def test_the_first_event_of_a_new_issue_is_always_kept() -> None:
    plan = _plan(1, new_issue=True, prior=0)
    assert plan.slots == {0: START}
    assert plan.representative == START


def test_a_storm_keeps_at_most_k_slots_and_drops_payloads_past_the_minute_limit() -> None:
    plan = _plan(10_000, new_issue=True)
    assert set(plan.slots) <= set(range(5))
    assert len(plan.slots) == 5
    assert plan.dropped == 10_000 - PAYLOADS_CONSIDERED_PER_MINUTE
    assert plan.representative is not None
    assert plan.representative < START + timedelta(seconds=PAYLOADS_CONSIDERED_PER_MINUTE * 0.001)


def test_an_issue_past_its_minute_limit_keeps_counting_but_stores_nothing() -> None:
    plan = _plan(50, new_issue=False, prior=PAYLOADS_CONSIDERED_PER_MINUTE)
    assert plan.slots == {}
    assert plan.representative is None
    assert plan.dropped == 50


def test_a_new_minute_starts_a_new_allowance() -> None:
    plan = _plan(3, new_issue=False, prior=PAYLOADS_CONSIDERED_PER_MINUTE, spacing=61)
    assert plan.dropped == 1  # the first is still in the exhausted minute
    # each later minute restarts its reservoir at slot 0: the newest window's samples replace older ones
    assert plan.slots == {0: START + timedelta(seconds=122)}
    assert plan.representative == START + timedelta(seconds=122)


def test_the_reservoir_is_uniform_over_the_considered_events() -> None:
    kept: Counter[int] = Counter()
    runs = 2_000
    for seed in range(runs):
        plan = _plan(100, new_issue=False, k=5, seed=seed)
        for moment in plan.slots.values():
            kept[int((moment - START).total_seconds() * 1000)] += 1
    # each of the 100 events should be kept in about k/100 of the runs: 100 times here
    expected = runs * 5 / 100
    assert len(kept) == 100
    assert all(0.6 * expected < count < 1.4 * expected for count in kept.values()), kept.most_common(3)
