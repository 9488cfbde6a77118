"""The stage's EventBridge bus: domain events (`Issue Created`, `Issue Regressed`, `Issue Escalating`,
`Issue Resolved`, `Release Unhealthy`) and the `Alert Triggered` notifications the rules make of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

PROCESSOR_SOURCE = "errata.processor"
EVALUATOR_SOURCE = "errata.evaluator"
API_SOURCE = "errata.api"
ALERTS_SOURCE = "errata.alerts"
_ENTRIES_PER_CALL = 10  # PutEvents takes ten entries a call
_ATTEMPTS = 3


@dataclass(frozen=True)
class BusEvent:
    source: str
    detail_type: str
    detail: BaseModel


class AlertBus:
    def __init__(self, events: Any, bus_name: str) -> None:
        self._events = events
        self._bus = bus_name

    def publish(self, events: list[BusEvent]) -> list[int]:
        """Puts every event, ten a call, retrying the entries PutEvents reports as failed. Returns the indexes
        of the events still not accepted after the retries (the caller keeps them to try again later)."""
        pending = list(range(len(events)))
        for _ in range(_ATTEMPTS):
            failed: list[int] = []
            for start in range(0, len(pending), _ENTRIES_PER_CALL):
                chunk = pending[start : start + _ENTRIES_PER_CALL]
                entries = [
                    {
                        "EventBusName": self._bus,
                        "Source": events[i].source,
                        "DetailType": events[i].detail_type,
                        "Detail": events[i].detail.model_dump_json(),
                    }
                    for i in chunk
                ]
                try:
                    response = self._events.put_events(Entries=entries)
                except Exception:
                    failed.extend(chunk)
                    continue
                results = response.get("Entries", [])
                failed.extend(i for i, result in zip(chunk, results, strict=False) if result.get("ErrorCode"))
                failed.extend(chunk[len(results) :])  # entries the answer did not account for
            pending = failed
            if not pending:
                break
        return pending
