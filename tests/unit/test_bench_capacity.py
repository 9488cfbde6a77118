"""The cost bench's DynamoDB capacity model (bench/capacity.py) against the Developer Guide's rules: item
sizes ("Item sizes and formats"), write units by the larger size, transactions doubled, index writes."""

from __future__ import annotations

from bench.capacity import Index, Table, item_size, read_units, write_cost, write_units

ISSUES = Table(
    "issues",
    keys=("project_id", "issue_id"),
    indexes=(
        Index("by_frequency", ("project_id", "event_count"), "ALL"),
        Index("pending", ("outbox_pk", "outbox_at"), "KEYS_ONLY"),
    ),
)


def test_sizes_count_names_values_and_the_overhead_of_lists_and_maps() -> None:
    assert item_size({"name": {"S": "héllo"}}) == 4 + 6  # UTF-8 bytes of name and value
    assert item_size({"n": {"N": "12345"}}) == 1 + 4  # 5 significant digits: 3 bytes, plus 1
    assert item_size({"n": {"N": "1000000"}}) == 1 + 2  # trailing zeros are not significant
    assert item_size({"b": {"BOOL": True}, "z": {"NULL": True}}) == 2 + 2
    assert item_size({"s": {"SS": ["ab", "cde"]}}) == 1 + 5
    assert item_size({"l": {"L": [{"S": "ab"}, {"N": "7"}]}}) == 1 + 3 + (1 + 2) + (1 + 2)
    assert item_size({"m": {"M": {"k": {"S": "v"}}}}) == 1 + 3 + (1 + 1 + 1)
    assert item_size(None) == 0


def test_write_and_read_units_round_up() -> None:
    assert write_units(0) == 1  # a delete, or a failed condition, still costs one
    assert write_units(1024) == 1
    assert write_units(1025) == 2
    assert read_units(4096) == 0.5  # eventually consistent
    assert read_units(4097, consistent=True) == 2.0
    assert read_units(100, transactional=True) == 2.0


def _issue(count: int, padding: int = 0, **extra: dict[str, str]) -> dict[str, dict[str, str]]:
    return {
        "project_id": {"S": "1"},
        "issue_id": {"S": "abc"},
        "event_count": {"N": str(count)},
        "title": {"S": "x" * padding},
        **extra,
    }


def test_an_update_costs_the_larger_size_doubled_in_a_transaction() -> None:
    small, large = _issue(1), _issue(2, padding=3000)
    assert write_cost(Table("t", ("project_id", "issue_id")), large, small).units == 3
    assert write_cost(Table("t", ("project_id", "issue_id")), small, large, transactional=True).units == 6


def test_an_index_whose_sort_key_changes_deletes_and_puts_an_entry() -> None:
    cost = write_cost(ISSUES, _issue(1), _issue(2))
    assert cost.by_index == {"by_frequency": 2}  # old entry deleted, new one put
    assert cost.index_writes == 2
    new = write_cost(ISSUES, None, _issue(1))
    assert new.by_index == {"by_frequency": 1}  # a new item puts one entry per index it has the keys of


def test_an_index_entry_is_rewritten_only_when_what_it_projects_changes() -> None:
    pending = {"outbox_pk": {"S": "pending"}, "outbox_at": {"S": "2026-12-03T14:00:00Z"}}
    before, after = _issue(5, **pending), _issue(5, **pending)
    after["title"] = {"S": "renamed"}
    cost = write_cost(ISSUES, before, after)
    assert cost.by_index == {"by_frequency": 1}  # ALL projects the title; the keys-only index did not change
    removed = write_cost(ISSUES, _issue(5, **pending), _issue(5))
    # The outbox entry is deleted; the frequency entry, which projects every attribute, is rewritten.
    assert removed.by_index == {"by_frequency": 1, "pending": 1}
