"""The local stack's patches of moto's server (errata_local.moto_server), on moto's own Kinesis shard: its
put reads the highest sequence number and stores under that plus one, so concurrent puts collide. The gap
between the read and the store is widened here so the race shows every run."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from moto.kinesis.models import Shard

from errata_local.moto_server import serialize_kinesis_shards


def _slow_shard_class() -> type:
    class SlowShard(Shard):  # type: ignore[misc]
        def get_max_sequence_number(self) -> int:
            number: int = super().get_max_sequence_number()
            time.sleep(0.001)  # another thread's put runs here
            return number

    return SlowShard


def _put_concurrently(shard: Any) -> int:
    start = threading.Barrier(8)

    def put(sender: int) -> None:
        start.wait()
        for n in range(25):
            shard.put_record(f"{sender}-{n}", "eA==", None)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(8)))
    return len(shard.records)


def test_moto_loses_concurrent_puts_to_a_shard_unpatched() -> None:
    shard = _slow_shard_class()(0, 0, 2**128)
    assert _put_concurrently(shard) < 200, "the race this patch exists for"


def test_serialized_shards_keep_every_concurrent_put() -> None:
    shard_class = _slow_shard_class()
    serialize_kinesis_shards(shard_class)
    shard = shard_class(0, 0, 2**128)
    assert _put_concurrently(shard) == 200
    assert sorted(shard.records) == list(range(1, 201))
