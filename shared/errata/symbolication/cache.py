"""A byte-bounded LRU for parsed artifacts, kept across warm invocations of a container; misses are
remembered for a while too, so a release without maps does not cost an S3 GET per event."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from errata.store.artifacts import ArtifactUnavailable

V = TypeVar("V")
_MAX_MISSES = 10_000


@dataclass
class _Miss:
    reason: str
    until: float


class ArtifactCache(Generic[V]):
    def __init__(self, max_bytes: int, miss_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_bytes = max_bytes
        self._miss_seconds = miss_seconds
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._misses: dict[Hashable, _Miss] = {}
        self.bytes = 0
        self.loads = 0

    def get_or_load(self, key: Hashable, load: Callable[[], tuple[V, int] | str]) -> V | str:
        """The cached value, else `load()`'s: (value, size) to keep, or a reason string for a miss."""
        if key in self._entries:
            self._entries.move_to_end(key)
            return self._entries[key][0]
        miss = self._misses.get(key)
        if miss is not None and miss.until > self._clock():
            return miss.reason
        self.loads += 1
        try:
            loaded = load()
        except ArtifactUnavailable:
            raise  # S3 did not answer: not a miss; remembered, it would group a minute of events on minified frames
        except Exception as exc:  # unreadable files: a miss like any other, remembered
            loaded = f"invalid: {type(exc).__name__}: {exc}"[:300]
        if isinstance(loaded, str):
            if len(self._misses) >= _MAX_MISSES:
                self._misses.clear()
            self._misses[key] = _Miss(loaded, self._clock() + self._miss_seconds)
            return loaded
        value, size = loaded
        self._misses.pop(key, None)
        if size <= self.max_bytes:
            self._entries[key] = (value, size)
            self.bytes += size
            while self.bytes > self.max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self.bytes -= evicted
        return value

    def forget_miss(self, key: Hashable) -> None:
        self._misses.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)
