from errata.sketch import merge_users


def test_affected_users_are_exact_while_few() -> None:
    sketch, count = merge_users(None, [f"id:{n}" for n in range(40)])
    sketch, count = merge_users(sketch, [f"id:{n}" for n in range(20, 60)])
    assert count == 60


def test_affected_users_stay_within_two_percent_at_a_hundred_thousand() -> None:
    sketch = None
    # In batches, as the processor merges them, with repeats across batches.
    for start in range(0, 100_000, 5_000):
        sketch, count = merge_users(sketch, [f"id:user-{n}" for n in range(start, start + 5_000)])
        sketch, count = merge_users(sketch, [f"id:user-{n}" for n in range(start, start + 100)])
    assert abs(count - 100_000) / 100_000 < 0.02, count
    assert sketch is not None
    assert len(sketch) < 3_000, "the sketch must stay small: it is rewritten with the issue item"
