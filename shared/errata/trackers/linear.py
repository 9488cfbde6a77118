"""Linear: the `issueCreate` mutation of its GraphQL API, with a personal API key in `Authorization`."""

from __future__ import annotations

import json
from typing import Any

from errata.models.integrations import LinearSettings
from errata.trackers.ticket_facts import TicketFacts, TrackerFailed, TrackerPost

LINEAR_API_URL = "https://api.linear.app/graphql"
ISSUE_CREATE = (
    "mutation IssueCreate($input: IssueCreateInput!) "
    "{ issueCreate(input: $input) { success issue { id identifier url } } }"
)


def markdown(facts: TicketFacts) -> str:
    lines = [f"`{facts.culprit}`", ""] if facts.culprit else []
    lines += [f"- {label}: **{value}**" for label, value in facts.rows()]
    lines += ["", f"[Open in Errata]({facts.url})"]
    return "\n".join(lines)


def create_request(settings: LinearSettings, facts: TicketFacts) -> dict[str, Any]:
    variables = {"input": {"teamId": settings.team_id, "title": facts.summary(250), "description": markdown(facts)}}
    return {"query": ISSUE_CREATE, "variables": variables}


def create_ticket(
    settings: LinearSettings, api_key: str, facts: TicketFacts, post: TrackerPost, api_url: str = LINEAR_API_URL
) -> tuple[str, str]:
    """(identifier, URL). GraphQL errors come with a 200 as often as with a 4xx: both are failures."""
    status, answer = post(api_url, create_request(settings, facts), {"Authorization": api_key})
    try:
        body = json.loads(answer)
    except ValueError:
        raise TrackerFailed(f"Linear answered {status}: {answer[:300]}") from None
    errors = body.get("errors") if isinstance(body, dict) else None
    if status != 200 or errors:
        reasons = "; ".join(str(e.get("message", e)) for e in errors) if isinstance(errors, list) else answer[:300]
        raise TrackerFailed(f"Linear answered {status}: {reasons}")
    created = ((body.get("data") or {}).get("issueCreate")) or {}
    issue = created.get("issue") or {}
    if not created.get("success") or not issue.get("identifier"):
        raise TrackerFailed(f"Linear did not create the issue: {answer[:300]}")
    return str(issue["identifier"]), str(issue.get("url", ""))
