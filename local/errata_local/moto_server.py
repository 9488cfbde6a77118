"""moto's server, started the way the local stack needs it.

- moto tracks every model instance it creates so that its test decorators can reset them. A long-running
  server never resets, and DynamoDB's TransactWriteItems deep-copies each table it touches (moto 5.2.5), so
  that list grows by a table copy per transaction: memory grew by gigabytes over a 10,000-event benchmark. The
  server mode needs no tracking: instances are created untracked here.
- moto's Kinesis shard is not thread-safe, and the server answers each request on its own thread: a put
  reads the shard's highest sequence number and stores the record under that number plus one, so two
  concurrent puts can take the same number and the second overwrites the first (acknowledged events lost),
  and a read iterating the shard's records while a put adds one fails. Each shard's puts and reads are
  serialized here, as Kinesis orders them.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from moto.core.common_models import BaseModel
from moto.kinesis.models import Shard
from moto.server import main

_SHARD_METHODS = ("put_record", "get_records", "get_min_sequence_number", "get_max_sequence_number")


def _untracked_new(cls: type[BaseModel], *args: Any, **kwargs: Any) -> BaseModel:
    return object.__new__(cls)


def serialized(method: Callable[..., Any], lock: AbstractContextManager[Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return method(*args, **kwargs)

    return locked


def serialize_kinesis_shards(shard_class: type = Shard) -> None:
    """One lock for the shards' records (a re-entrant one: put_record calls get_max_sequence_number)."""
    lock = threading.RLock()
    for name in _SHARD_METHODS:
        setattr(shard_class, name, serialized(getattr(shard_class, name), lock))


if __name__ == "__main__":
    BaseModel.__new__ = _untracked_new  # type: ignore[method-assign]
    serialize_kinesis_shards()
    main()
