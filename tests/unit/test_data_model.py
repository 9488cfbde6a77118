"""docs/data-model.md states the key schema of every table; it must be the one the code uses."""

from __future__ import annotations

import re
from pathlib import Path

from errata.store.tables import TableSpec
from errata_local.aws import TABLES

DOC = Path(__file__).resolve().parents[2] / "docs" / "data-model.md"


def _documented_tables() -> dict[str, list[str]]:
    rows = {}
    for line in DOC.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def _names(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def test_every_table_of_the_code_is_documented_with_its_keys_indexes_and_ttl() -> None:
    documented = _documented_tables()
    specs: dict[str, TableSpec] = {spec.logical_name: spec for spec in TABLES}
    assert set(documented) == set(specs)
    for name, spec in specs.items():
        partition, sort, indexes, ttl = documented[name]
        assert _names(partition) == [spec.partition_key.name], name
        assert _names(sort) == ([spec.sort_key.name] if spec.sort_key else []), name
        expected_indexes: list[str] = []
        for index in spec.indexes:
            expected_indexes += [index.name, index.partition_key.name]
            if index.sort_key:
                expected_indexes.append(index.sort_key.name)
        assert _names(indexes) == expected_indexes, name
        assert _names(ttl) == ([spec.ttl_attribute] if spec.ttl_attribute else []), name
