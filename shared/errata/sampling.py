"""Which event payloads an issue keeps. Counts are always exact; payloads are not all worth storing:

- the first event of a new issue is always kept (it is the issue's first example);
- per issue and minute, past `PAYLOADS_CONSIDERED_PER_MINUTE` events, payloads are dropped (counted only);
- below that, a uniform reservoir keeps `sample_size` payloads per issue (slots 0..k-1, Algorithm R), so the
  dashboard can show several examples, and the latest kept event is the issue's representative.

An outage of 10,000 identical events therefore stores at most k + 1 objects and writes few of them.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from errata.store.counters import window_key

PAYLOADS_CONSIDERED_PER_MINUTE = 100

E = TypeVar("E")


@dataclass
class SamplePlan(Generic[E]):
    slots: dict[int, E] = field(default_factory=dict)
    representative: E | None = None
    dropped: int = 0


def plan_samples(
    events: Sequence[E],
    received_at: Callable[[E], datetime],
    prior_in_minute: dict[str, int],
    new_issue: bool,
    sample_size: int,
    rng: random.Random,
) -> SamplePlan[E]:
    """`events` of one issue in stream order; `prior_in_minute` the issue's counts per minute key before them."""
    plan: SamplePlan[E] = SamplePlan()
    seen = dict(prior_in_minute)
    for index, event in enumerate(events):
        minute = window_key(received_at(event), "minute")
        seen[minute] = seen.get(minute, 0) + 1
        n = seen[minute]
        if new_issue and index == 0:
            plan.slots[0] = event
            plan.representative = event
            continue
        if n > PAYLOADS_CONSIDERED_PER_MINUTE:
            plan.dropped += 1
            continue
        slot = n - 1 if n <= sample_size else rng.randrange(n)
        if slot < sample_size:
            plan.slots[slot] = event
            plan.representative = event
    return plan
