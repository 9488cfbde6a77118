"""Publishing the processor's outbox: `Issue Created`/`Issue Regressed` events kept on their issue until
they are on the bus (store/issues.py, ANNOUNCEMENTS_INDEX). The processor publishes right after its commit;
the minute evaluator publishes what is left."""

from __future__ import annotations

from concurrent.futures import Executor

from errata.models.alerts import AlertDetail
from errata.store.alert_bus import PROCESSOR_SOURCE, AlertBus, BusEvent
from errata.store.issues import Announcement, IssueStore


def issue_url(dashboard_url: str, project_id: str, issue_id: str) -> str:
    return f"{dashboard_url.rstrip('/')}/#/projects/{project_id}/issues/{issue_id}"


def publish_announcements(
    bus: AlertBus, issues: IssueStore, announcements: list[Announcement], clearers: Executor | None = None
) -> list[int]:
    """Puts announcements on the bus and clears those accepted from the outbox; returns the indexes of the
    ones left there. A clear that fails leaves an event that is published again: the rules' action interval
    makes that harmless. `clearers`: a pool to clear them in parallel (a batch of new issues waited on one
    UpdateItem after another)."""
    events = [
        BusEvent(PROCESSOR_SOURCE, a.detail_type, AlertDetail.model_validate_json(a.detail)) for a in announcements
    ]
    failed = bus.publish(events)
    left = set(failed)
    accepted = [announcement for index, announcement in enumerate(announcements) if index not in left]
    if clearers is None:
        for announcement in accepted:
            issues.clear_announcement(announcement)
    else:
        list(clearers.map(issues.clear_announcement, accepted))  # raises the first failure, as the loop would
    return failed
