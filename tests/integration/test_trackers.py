"""Jira Cloud and Linear tickets for an issue, against local servers that check the request shapes of their
public docs (tests/integration/vendors.py): one ticket per tracker however often asked, the ticket on the
issue, the tracker's refusal a 502 with its reason (and nothing kept), tokens write-only, and an alert rule
that files a ticket."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sentry_sdk

from errata_local.stack import LocalStack, StackInfo
from tests.integration.conftest import TestProject, wait_for
from tests.integration.test_alerting import capture, issue_titled, only_rules
from tests.integration.vendors import FakeJira, FakeLinear

pytestmark = pytest.mark.integration


def _issue(project: TestProject, kind: str, text: str) -> dict[str, Any]:
    frame = {"abs_path": "/srv/app/billing.py", "function": "charge", "lineno": 9, "in_app": True}
    event = {
        "platform": "python",
        "release": "billing@3.1.0",
        "exception": {"values": [{"type": kind, "value": text, "stacktrace": {"frames": [frame]}}]},
    }
    project.store(event)
    return issue_titled(project, f"{kind}: {text}")


def _set_up_jira(project: TestProject, jira: FakeJira) -> None:
    settings = {"site_url": jira.base, "email": "ops@example.com", "api_token": "jira-token", "project_key": "OPS"}
    response = project.call("PUT", "/integrations/jira", settings)
    assert response.status_code == 200, response.text
    assert "jira-token" not in response.text


def test_a_jira_ticket_is_made_once_and_shows_on_the_issue(
    project: TestProject, jira: FakeJira, stack: LocalStack, info: StackInfo
) -> None:
    _set_up_jira(project, jira)
    listed = project.api("/integrations").json()["integrations"]
    assert listed == [
        {
            "kind": "jira",
            "settings": {"site_url": jira.base, "email": "ops@example.com", "project_key": "OPS", "issue_type": "Bug"},
            "secret_set": True,
            "webhook_url": None,
            "generated_secret": None,
        }
    ]
    stored = stack.client("ssm").get_parameter(
        Name=f"{info.settings.parameters_prefix}/integrations/{project.project_id}/jira", WithDecryption=True
    )["Parameter"]
    assert (stored["Type"], stored["Value"]) == ("SecureString", "jira-token")

    issue = _issue(project, "InvoiceMissing", "invoice 88 has no lines")
    first = project.call("POST", f"/issues/{issue['id']}/tickets", {"tracker": "jira"})
    assert first.status_code == 201, first.text
    ticket = first.json()
    assert ticket["key"].startswith("OPS-") and ticket["url"] == f"{jira.base}/browse/{ticket['key']}"
    again = project.call("POST", f"/issues/{issue['id']}/tickets", {"tracker": "jira"})
    assert again.status_code == 200 and again.json() == ticket

    sent = [body for body in jira.received if body["fields"]["summary"] == "InvoiceMissing: invoice 88 has no lines"]
    assert len(sent) == 1, "the second call made no second ticket"
    fields = sent[0]["fields"]
    assert fields["project"] == {"key": "OPS"} and fields["issuetype"] == {"name": "Bug"}
    link = {"type": "link", "attrs": {"href": f"{info.base_url}/#/projects/{project.project_id}/issues/{issue['id']}"}}
    assert link in fields["description"]["content"][-1]["content"][0]["marks"]
    culprit = fields["description"]["content"][0]["content"][0]
    assert culprit == {"type": "text", "text": issue["culprit"], "marks": [{"type": "code"}]}
    assert "billing@3.1.0" in json.dumps(fields["description"]["content"][1])  # first seen in release
    assert project.api(f"/issues/{issue['id']}").json()["tickets"] == [ticket]


def test_a_linear_ticket_goes_through_issue_create(project: TestProject, linear: FakeLinear) -> None:
    configured = project.call("PUT", "/integrations/linear", {"api_key": linear.api_key, "team_id": "team-eng"})
    assert configured.status_code == 200 and linear.api_key not in configured.text
    issue = _issue(project, "QuotaExceeded", "tenant 5 over quota")
    created = project.call("POST", f"/issues/{issue['id']}/tickets", {"tracker": "linear"})
    assert created.status_code == 201, created.text
    assert created.json()["key"].startswith("ENG-") and created.json()["url"].startswith("https://linear.app/")
    [sent] = [b for b in linear.received if b["variables"]["input"]["title"] == "QuotaExceeded: tenant 5 over quota"]
    assert sent["variables"]["input"]["teamId"] == "team-eng"
    assert "[Open in Errata](" in sent["variables"]["input"]["description"]


def test_a_tracker_that_refuses_is_a_502_with_its_reason_and_nothing_is_kept(
    project: TestProject, jira: FakeJira, linear: FakeLinear
) -> None:
    _set_up_jira(project, jira)
    issue = _issue(project, "LedgerLocked", "ledger 3 is locked")
    jira.refuse = (400, {"errorMessages": [], "errors": {"issuetype": "The issue type selected is invalid."}})
    try:
        refused = project.call("POST", f"/issues/{issue['id']}/tickets", {"tracker": "jira"})
    finally:
        jira.refuse = None
    assert refused.status_code == 502 and refused.headers["Content-Type"].startswith("application/problem+json")
    assert refused.json()["detail"] == "Jira answered 400: issuetype: The issue type selected is invalid."
    assert project.api(f"/issues/{issue['id']}").json()["tickets"] == []
    jira.refuse = (503, {"errorMessages": ["Jira is under maintenance"]})
    try:
        unavailable = project.call("POST", f"/issues/{issue['id']}/tickets", {"tracker": "jira"})
    finally:
        jira.refuse = None
    assert (
        unavailable.status_code == 502
        and unavailable.json()["detail"] == "Jira answered 503: Jira is under maintenance"
    )
    # The claim was released: the next try goes through.
    assert project.call("POST", f"/issues/{issue['id']}/tickets", {"tracker": "jira"}).status_code == 201

    project.call("PUT", "/integrations/linear", {"api_key": linear.api_key, "team_id": "no-such-team"})
    unknown_team = project.call("POST", f"/issues/{issue['id']}/tickets", {"tracker": "linear"})
    assert unknown_team.status_code == 502 and "Entity not found: Team" in unknown_team.json()["detail"]
    project.call("PUT", "/integrations/linear", {"api_key": "lin_api_revoked", "team_id": "team-eng"})
    unauthorized = project.call("POST", f"/issues/{issue['id']}/tickets", {"tracker": "linear"})
    assert unauthorized.status_code == 502 and "Authentication required" in unauthorized.json()["detail"]


def test_a_tracker_that_cannot_be_reached_is_a_502(project: TestProject) -> None:
    closed = "http://127.0.0.1:9"  # the discard port: nothing listens
    settings = {"site_url": closed, "email": "ops@example.com", "api_token": "t", "project_key": "OPS"}
    assert project.call("PUT", "/integrations/jira", settings).status_code == 200
    issue = _issue(project, "Unreachable", "jira is down")
    response = project.call("POST", f"/issues/{issue['id']}/tickets", {"tracker": "jira"})
    assert response.status_code == 502 and response.json()["detail"].startswith("could not reach 127.0.0.1:9")


def test_a_tracker_that_is_not_set_up_is_a_409(project: TestProject) -> None:
    issue = _issue(project, "NotWired", "no tracker here")
    response = project.call("POST", f"/issues/{issue['id']}/tickets", {"tracker": "linear"})
    assert response.status_code == 409 and response.json()["code"] == "tracker_not_configured"
    missing = project.call("POST", f"/issues/{'f' * 32}/tickets", {"tracker": "linear"})
    assert missing.status_code == 404


def test_an_alert_rule_files_a_linear_ticket_for_a_new_issue(project: TestProject, linear: FakeLinear) -> None:
    project.call("PUT", "/integrations/linear", {"api_key": linear.api_key, "team_id": "team-eng"})
    only_rules(
        project,
        new={
            "name": "File new issues in Linear",
            "conditions": [{"kind": "new_issue"}],
            "actions": [{"channel": "linear", "urgency": "low"}],
        },
    )
    sentry_sdk.init(dsn=project.dsn, release="api@6.0.0", default_integrations=False)
    try:
        capture(TimeoutError, "ledger service timed out")
    finally:
        sentry_sdk.get_client().close()
    issue = issue_titled(project, "TimeoutError: ledger service timed out")

    def filed() -> list[dict[str, Any]]:
        tickets: list[dict[str, Any]] = project.api(f"/issues/{issue['id']}").json()["tickets"]
        return tickets

    [ticket] = wait_for(filed, timeout=20)
    assert ticket["tracker"] == "linear"
    titles = [b["variables"]["input"]["title"] for b in linear.received]
    assert titles.count("TimeoutError: ledger service timed out") == 1
