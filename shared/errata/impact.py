"""An issue's impact, the list's "sort by impact": how many people it hits lately. Each batch adds the users
it newly affected plus a tenth of its events, weighted by level (a fatal crash counts double, a warning a
quarter); what was added halves every day. The score is kept as log2 of that sum, scaled to a fixed epoch
(log-sum-exp), so it is one number an index can sort by and a day-old issue never needs rewriting to decay.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

HALF_LIFE_HOURS = 24.0
EVENT_WEIGHT = 0.1
LEVEL_WEIGHT = {"fatal": 2.0, "error": 1.0, "warning": 0.25, "info": 0.05, "debug": 0.05}
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def _log2_sum(a: float, b: float) -> float:
    """log2(2**a + 2**b) without computing either power (they pass float's range after ~3 years)."""
    high, low = max(a, b), min(a, b)
    return high + math.log2(1.0 + 2.0 ** (low - high))


def impact_after(prior: float | None, new_users: int, events: int, level: str, at: datetime) -> float:
    """The score once a batch of `events` (affecting `new_users` more users) at `at` is added to `prior`."""
    weight = (max(new_users, 0) + EVENT_WEIGHT * events) * LEVEL_WEIGHT.get(level, 1.0)
    if weight <= 0:
        return prior if prior is not None else 0.0
    hours = (at - _EPOCH).total_seconds() / 3600
    added = math.log2(weight) + hours / HALF_LIFE_HOURS
    return round(added if prior is None else _log2_sum(prior, added), 6)
