"""A ticket for an issue, made at most once per tracker: by the API (the issue page's button) or by an alert
rule's action. The claim in the integrations table is taken before the tracker is called."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from errata.models.integrations import JiraSettings, LinearSettings, Ticket, Tracker
from errata.store.integrations import IntegrationStore
from errata.store.secrets import SecretStore
from errata.timefmt import iso_utc, utc_now
from errata.trackers import jira, linear
from errata.trackers.ticket_facts import TicketFacts, TrackerPost


class TrackerNotConfigured(Exception):
    """The project has no settings or no secret for this tracker."""


class TicketService:
    def __init__(
        self,
        integrations: IntegrationStore,
        secrets: SecretStore,
        post: TrackerPost,
        linear_url: str = linear.LINEAR_API_URL,
    ) -> None:
        self._integrations = integrations
        self._secrets = secrets
        self._post = post
        self._linear_url = linear_url

    def tickets(self, project_id: str, issue_id: str) -> list[Ticket]:
        return self._integrations.tickets(project_id, issue_id)

    def create(
        self, project_id: str, issue_id: str, tracker: Tracker, facts: TicketFacts, now: datetime | None = None
    ) -> tuple[Ticket, bool]:
        """(the ticket, whether this call created it). TrackerFailed when the tracker refuses (nothing is
        kept, a later call tries again); TicketInProgress while another caller is creating it."""
        existing = self._integrations.ticket(project_id, issue_id, tracker)
        if existing is not None:
            return existing, False
        settings = self._integrations.integration(project_id, tracker)
        secret = self._secrets.get(project_id, tracker) if settings is not None else None
        if settings is None or secret is None:
            raise TrackerNotConfigured(f"{tracker} is not set up for project {project_id}")
        moment = now or utc_now()
        claimed = self._integrations.claim_ticket(project_id, issue_id, tracker, moment)
        if claimed is not None:
            return claimed, False
        try:
            key, url = self._call(tracker, settings, secret, facts)
        except BaseException:
            self._integrations.release_ticket_claim(project_id, issue_id, tracker)
            raise
        ticket = Ticket(tracker=tracker, key=key, url=url, created_at=iso_utc(moment))
        self._integrations.save_ticket(project_id, issue_id, ticket)
        return ticket, True

    def _call(self, tracker: Tracker, settings: dict[str, Any], secret: str, facts: TicketFacts) -> tuple[str, str]:
        if tracker == "jira":
            jira_settings = JiraSettings.model_validate({**settings, "api_token": secret})
            return jira.create_ticket(jira_settings, secret, facts, self._post)
        linear_settings = LinearSettings.model_validate({**settings, "api_key": secret})
        return linear.create_ticket(linear_settings, secret, facts, self._post, self._linear_url)
