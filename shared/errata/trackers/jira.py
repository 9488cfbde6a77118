"""Jira Cloud: `POST /rest/api/3/issue` with basic auth (account email + API token) and the description in
the Atlassian Document Format."""

from __future__ import annotations

import base64
import json
from typing import Any

from errata.models.integrations import JiraSettings
from errata.trackers.ticket_facts import TicketFacts, TrackerFailed, TrackerPost

_SUMMARY_CHARS = 255


def _text(value: str, *marks: dict[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": value}
    if marks:
        node["marks"] = list(marks)
    return node


def _paragraph(*content: dict[str, Any]) -> dict[str, Any]:
    return {"type": "paragraph", "content": list(content)}


def description(facts: TicketFacts) -> dict[str, Any]:
    """An ADF document: the culprit, the counts and releases as a list, and the link back to Errata."""
    items = [
        {"type": "listItem", "content": [_paragraph(_text(f"{label}: "), _text(value, {"type": "strong"}))]}
        for label, value in facts.rows()
    ]
    content: list[dict[str, Any]] = []
    if facts.culprit:
        content.append(_paragraph(_text(facts.culprit, {"type": "code"})))
    content.append({"type": "bulletList", "content": items})
    content.append(_paragraph(_text("Open in Errata", {"type": "link", "attrs": {"href": facts.url}})))
    return {"type": "doc", "version": 1, "content": content}


def create_request(settings: JiraSettings, facts: TicketFacts) -> dict[str, Any]:
    return {
        "fields": {
            "project": {"key": settings.project_key},
            "summary": facts.summary(_SUMMARY_CHARS),
            "issuetype": {"name": settings.issue_type},
            "description": description(facts),
        }
    }


def _reason(status: int, answer: str) -> str:
    """Jira's error collection: `errorMessages` and `errors` (field -> message)."""
    try:
        body = json.loads(answer)
    except ValueError:
        return f"Jira answered {status}: {answer[:300]}"
    messages = list(body.get("errorMessages") or []) if isinstance(body, dict) else []
    fields = body.get("errors") if isinstance(body, dict) else None
    if isinstance(fields, dict):
        messages += [f"{field}: {message}" for field, message in fields.items()]
    return f"Jira answered {status}: {'; '.join(str(m) for m in messages) or answer[:300]}"


def create_ticket(settings: JiraSettings, api_token: str, facts: TicketFacts, post: TrackerPost) -> tuple[str, str]:
    """(key, browse URL)."""
    credentials = base64.b64encode(f"{settings.email}:{api_token}".encode()).decode()
    headers = {"Authorization": f"Basic {credentials}", "Accept": "application/json"}
    status, answer = post(f"{settings.site_url}/rest/api/3/issue", create_request(settings, facts), headers)
    if status != 201:
        raise TrackerFailed(_reason(status, answer))
    try:
        key = json.loads(answer)["key"]
    except (ValueError, KeyError, TypeError):
        raise TrackerFailed(f"Jira answered 201 without an issue key: {answer[:200]}") from None
    return str(key), f"{settings.site_url}/browse/{key}"
