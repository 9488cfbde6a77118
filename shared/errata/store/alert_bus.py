"""The EventBridge bus the alerting rules listen on. The processor puts `Issue Regressed` events here."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

SOURCE = "errata.processor"


@dataclass(frozen=True)
class Regression:
    project_id: str
    issue_id: str
    title: str
    release: str | None
    resolved_release: str | None


class AlertBus:
    def __init__(self, events: Any, bus_name: str) -> None:
        self._events = events
        self._bus = bus_name

    def put_regressions(self, regressions: list[Regression]) -> None:
        for start in range(0, len(regressions), 10):  # PutEvents takes ten entries a call
            entries = [
                {
                    "EventBusName": self._bus,
                    "Source": SOURCE,
                    "DetailType": "Issue Regressed",
                    "Detail": json.dumps(asdict(r)),
                }
                for r in regressions[start : start + 10]
            ]
            response = self._events.put_events(Entries=entries)
            if response.get("FailedEntryCount"):
                raise RuntimeError(f"{response['FailedEntryCount']} regression events were not accepted")
