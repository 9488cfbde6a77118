from errata.sketch import RELEASE_LG_K, merge_users


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


def test_a_release_sketch_stays_under_a_write_unit_and_within_five_percent() -> None:
    sketch = None
    for start in range(0, 20_000, 2_000):
        sketch, count = merge_users(sketch, [f"id:user-{n}" for n in range(start, start + 2_000)], lg_k=RELEASE_LG_K)
    assert sketch is not None and len(sketch) < 600, len(sketch)
    assert abs(count - 20_000) / 20_000 < 0.05, count


def test_a_release_sketch_kept_at_the_issue_size_is_folded_down_with_its_users() -> None:
    kept, _ = merge_users(None, [f"id:user-{n}" for n in range(3_000)])
    assert len(kept) > 2_000  # lg_k=12, as releases kept it before
    folded, count = merge_users(kept, [f"id:user-{n}" for n in range(3_000, 4_000)], lg_k=RELEASE_LG_K)
    assert len(folded) < 600
    assert abs(count - 4_000) / 4_000 < 0.05, count
