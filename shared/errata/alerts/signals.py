"""What the time-based conditions and the blast radius are computed from: an issue's counters and its
project's traffic over the last hour. Shares use the current clock hour on both sides (the hour windows of
the issue, the project's user sketch and traffic counters of the same hour)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from errata.models.alerts import BlastRadius
from errata.store.counters import CounterStore, issue_key, window_key, window_start
from errata.traffic import CRASHED, ERRORED, REQUESTS, SESSIONS


@dataclass(frozen=True)
class ReleaseSessions:
    sessions: int = 0
    errored: int = 0
    crashed: int = 0

    @property
    def unhealthy_share(self) -> float:
        return (self.errored + self.crashed) / self.sessions if self.sessions else 0.0


@dataclass(frozen=True)
class ProjectHour:
    """The project's side of the current hour."""

    users: int = 0
    requests: int = 0
    sessions: int = 0
    route_requests: dict[str, int] = field(default_factory=dict)
    releases: dict[str, ReleaseSessions] = field(default_factory=dict)


@dataclass(frozen=True)
class IssueSignals:
    """The issue's side: what the conditions compare."""

    minute_events: dict[datetime, int]  # the last 60 minute windows, by start
    week_ago_hour_events: int  # the same hour one week earlier
    hour_events: int  # the current clock hour
    hour_clients: set[str]

    def events_since(self, moment: datetime) -> int:
        return sum(events for start, events in self.minute_events.items() if start >= moment)

    @property
    def last_hour_events(self) -> int:
        return sum(self.minute_events.values())


def blast_radius(
    issue: IssueSignals, project: ProjectHour, route: str | None, clients: int | None = None
) -> BlastRadius:
    """Share of users and of traffic the issue touches this hour, and how many distinct clients."""
    count = len(issue.hour_clients) if clients is None else clients
    user_share = min(1.0, len(issue.hour_clients) / project.users) if project.users and issue.hour_clients else None
    traffic = project.requests + project.sessions
    traffic_share = min(1.0, issue.hour_events / traffic) if traffic else None
    route_requests = project.route_requests.get(route or "", 0)
    route_share = min(1.0, issue.hour_events / route_requests) if route_requests else None
    return BlastRadius(
        clients=count,
        user_share=user_share,
        traffic_share=traffic_share,
        route=route,
        route_share=route_share,
    )


class SignalReader:
    # The project's side of the hour changes slowly; alerts of a burst of new issues share one read.
    _PROJECT_HOUR_SECONDS = 15.0

    def __init__(self, counters: CounterStore, clock: Callable[[], float] = time.monotonic) -> None:
        self._counters = counters
        self._clock = clock
        self._project_hours: dict[tuple[str, str], tuple[float, ProjectHour]] = {}

    def project_hour(self, project_id: str, now: datetime) -> ProjectHour:
        key = (project_id, window_key(now, "hour"))
        cached = self._project_hours.get(key)
        if cached is not None and self._clock() - cached[0] < self._PROJECT_HOUR_SECONDS:
            return cached[1]
        if len(self._project_hours) > 10_000:
            self._project_hours.clear()
        hour = self._read_project_hour(project_id, now)
        self._project_hours[key] = (self._clock(), hour)
        return hour

    def _read_project_hour(self, project_id: str, now: datetime) -> ProjectHour:
        rows = self._counters.traffic(project_id, now, now)
        requests = sessions = 0
        routes: dict[str, int] = {}
        releases: dict[str, ReleaseSessions] = {}
        for row in rows:
            if row["dimension"] == "route":
                routes[row["value"]] = int(row.get(REQUESTS, 0))
                requests += int(row.get(REQUESTS, 0))
            elif row["dimension"] == "release":
                release = ReleaseSessions(int(row.get(SESSIONS, 0)), int(row.get(ERRORED, 0)), int(row.get(CRASHED, 0)))
                releases[row["value"]] = release
                sessions += release.sessions
        return ProjectHour(
            users=self._counters.project_users(project_id, now),
            requests=requests,
            sessions=sessions,
            route_requests=routes,
            releases=releases,
        )

    def issue_hour(self, project_id: str, issue_id: str, now: datetime) -> IssueSignals:
        """Only the current hour (what a blast radius needs): one read."""
        hour_events, clients = self._counters.hour_activity(issue_key(project_id, issue_id), now)
        return IssueSignals(minute_events={}, week_ago_hour_events=0, hour_events=hour_events, hour_clients=clients)

    def issue(self, project_id: str, issue_id: str, now: datetime) -> IssueSignals:
        pk = issue_key(project_id, issue_id)
        since = window_start(now - timedelta(minutes=59), "minute")
        hours = self._counters.issue_hours(pk, since, now)  # the minutes are counts in their hours
        current = next((hour for hour in hours if hour.start == window_start(now, "hour")), None)
        return IssueSignals(
            minute_events={start: n for hour in hours for start, n in hour.minutes.items() if start >= since},
            week_ago_hour_events=self._counters.hour_activity(pk, now - timedelta(days=7))[0],
            hour_events=current.events if current else 0,
            hour_clients=current.users if current else set(),
        )
