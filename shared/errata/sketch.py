"""Affected users per issue: an exact set is unbounded, so each issue keeps a HyperLogLog sketch (Apache
DataSketches), exact while small (list/set mode) and mergeable across batches and shards."""

from __future__ import annotations

from collections.abc import Iterable

import datasketches

# lg_k=12: relative standard error ~1.6%; HLL_4 keeps the serialized sketch near 2 KiB at full size.
_LG_K = 12


def merge_users(serialized: bytes | None, identities: Iterable[str]) -> tuple[bytes, int]:
    """Adds users to a serialized sketch; returns the new sketch and its estimate, rounded."""
    sketch = (
        datasketches.hll_sketch.deserialize(serialized)
        if serialized
        else datasketches.hll_sketch(_LG_K, datasketches.tgt_hll_type.HLL_4)
    )
    for identity in identities:
        sketch.update(identity)
    return bytes(sketch.serialize_compact()), round(sketch.get_estimate())
