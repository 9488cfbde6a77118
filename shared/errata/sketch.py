"""Affected users per issue: an exact set is unbounded, so each issue keeps a HyperLogLog sketch (Apache
DataSketches), exact while small (list/set mode) and mergeable across batches and shards."""

from __future__ import annotations

from collections.abc import Iterable

import datasketches

# lg_k=12: relative standard error ~1.6%; HLL_4 keeps the serialized sketch near 2 KiB at full size.
ISSUE_LG_K = 12
# A release's sketch rides in its item, which every window that sees the release rewrites: at 2 KiB the
# item costs three write units a write, at lg_k=10 (~0.55 KiB, error ~3.2%) one. A release's user count
# is an adoption figure, where 3% is well within what it is read for; an issue's count keeps lg_k=12.
RELEASE_LG_K = 10


def merge_users(serialized: bytes | None, identities: Iterable[str], lg_k: int = ISSUE_LG_K) -> tuple[bytes, int]:
    """Adds users to a serialized sketch; returns the new sketch and its estimate, rounded. A sketch kept
    at a larger lg_k (before the sketch's size was lowered) is folded down to `lg_k` first."""
    if serialized:
        sketch = datasketches.hll_sketch.deserialize(serialized)
        if sketch.lg_config_k > lg_k:
            union = datasketches.hll_union(lg_k)
            union.update(sketch)
            sketch = union.get_result(datasketches.tgt_hll_type.HLL_4)
    else:
        sketch = datasketches.hll_sketch(lg_k, datasketches.tgt_hll_type.HLL_4)
    for identity in identities:
        sketch.update(identity)
    return bytes(sketch.serialize_compact()), round(sketch.get_estimate())
