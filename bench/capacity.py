"""What DynamoDB charges for a request, from the items before and after it: sizes as the Developer Guide's
"Item sizes and formats" counts them, write units by the larger of the two sizes, transactions doubled, and
the writes each global secondary index takes (an index whose key changes deletes one entry and puts
another). Items are in DynamoDB's JSON (`{"S": ...}`), as a client sends and moto stores them.

bench/cost.py uses it on every write the processor makes; tests/unit/test_bench_capacity.py checks it
against the Guide's rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

Item = dict[str, dict[str, Any]]
WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096


def _number_size(text: str) -> int:
    """About one byte per two significant digits, plus one (leading and trailing zeros do not count)."""
    digits = Decimal(text).normalize().as_tuple().digits
    significant = max(1, len(digits))
    return (significant + 1) // 2 + 1


def value_size(value: dict[str, Any]) -> int:
    ((kind, content),) = value.items()
    if kind == "S":
        return len(content.encode())
    if kind == "N":
        return _number_size(content)
    if kind == "B":
        return len(content) if isinstance(content, bytes) else math.ceil(len(content) * 3 / 4)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(member.encode()) for member in content)
    if kind == "NS":
        return sum(_number_size(member) for member in content)
    if kind == "BS":
        return sum(value_size({"B": member}) for member in content)
    if kind == "L":  # 3 bytes, plus 1 per element
        return 3 + sum(1 + value_size(member) for member in content)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + value_size(member) for name, member in content.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: Item | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    """A write costs a unit per KB, at least one (also a delete, and a write whose condition failed)."""
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def read_units(size: int, consistent: bool = False, transactional: bool = False) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    if transactional:
        return 2.0 * units
    return float(units) if consistent else units / 2


@dataclass(frozen=True)
class Index:
    name: str
    keys: tuple[str, ...]  # partition key, then sort key if any
    projection: str  # ALL, KEYS_ONLY or INCLUDE
    included: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    name: str
    keys: tuple[str, ...]
    indexes: tuple[Index, ...] = ()

    def projected(self, index: Index, item: Item) -> Item:
        if index.projection == "ALL":
            return item
        names = set(self.keys) | set(index.keys) | (set(index.included) if index.projection == "INCLUDE" else set())
        return {name: value for name, value in item.items() if name in names}


@dataclass
class WriteCost:
    units: int = 0  # on the table itself
    index_units: int = 0
    index_writes: int = 0
    size_after: int = 0
    by_index: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.units + self.index_units


def write_cost(table: Table, before: Item | None, after: Item | None, transactional: bool = False) -> WriteCost:
    """The units one item's write takes: the larger of its sizes before and after (doubled in a
    transaction), plus each index's entry writes (index writes are not doubled)."""
    cost = WriteCost(size_after=item_size(after))
    base = write_units(max(item_size(before), cost.size_after))
    cost.units = 2 * base if transactional else base
    for index in table.indexes:
        old = table.projected(index, before) if before and all(k in before for k in index.keys) else None
        new = table.projected(index, after) if after and all(k in after for k in index.keys) else None
        if old is None and new is None:
            continue
        if old is not None and new is not None and any(old[k] != new[k] for k in index.keys):
            writes = [old, new]  # the key moved: delete the old entry, put the new one
        elif old is not None and new is not None:
            writes = [new] if old != new else []  # an entry is rewritten when what it projects changed
        else:
            writes = [new if new is not None else old]  # type: ignore[list-item]
        if not writes:
            continue
        units = sum(write_units(item_size(entry)) for entry in writes)
        cost.index_writes += len(writes)
        cost.index_units += units
        cost.by_index[index.name] = cost.by_index.get(index.name, 0) + units
    return cost
