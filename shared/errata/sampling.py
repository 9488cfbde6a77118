"""Which event payloads an issue keeps. Counts are always exact; payloads are not all worth storing:

- each batch keeps the latest event of every issue it saw: the issue's representative (what the issue page
  opens on, the newest example);
- a uniform reservoir (Algorithm R) over the issue's events of the day keeps `sample_size` payloads in slots
  0..k-1: the day's first k events fill them and its n-th takes one with probability k/n, so the examples are
  a uniform sample of the issue's latest day, and an issue with many events a day seldom changes them.

A storm of N events in a day refills about k·ln(N/k) slots in all, and a batch stores at most k + 1
payloads per issue. Slot changes are what write the issue's samples item (errata.store.counters): a busy
issue's batches mostly leave it alone. A new day starts a new reservoir: its first k events replace the
slots (a day with fewer leaves the rest to earlier days), so an active issue's examples stay within its
payloads' 90 days. The day's count is read eventually consistent; a stale one only makes a slot likelier.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from errata.timefmt import day_key

E = TypeVar("E")


@dataclass
class SamplePlan(Generic[E]):
    slots: dict[int, E] = field(default_factory=dict)
    representative: E | None = None
    dropped: int = 0  # events whose payload is not kept (counted only)


def plan_samples(
    events: Sequence[E],
    received_at: Callable[[E], datetime],
    prior_by_day: dict[str, int],
    sample_size: int,
    rng: random.Random,
) -> SamplePlan[E]:
    """`events` of one issue in stream order; `prior_by_day` the issue's events of each day (`day_key`)
    counted before them."""
    plan: SamplePlan[E] = SamplePlan()
    seen = dict(prior_by_day)
    for event in events:
        day = day_key(received_at(event))
        seen[day] = n = seen.get(day, 0) + 1
        slot = n - 1 if n <= sample_size else rng.randrange(n)
        if slot < sample_size:
            plan.slots[slot] = event
    if events:
        plan.representative = events[-1]
    kept = {id(event) for event in plan.slots.values()} | {id(plan.representative)}
    plan.dropped = sum(id(event) not in kept for event in events)
    return plan
