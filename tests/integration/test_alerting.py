"""Alerting end to end: real sentry-sdk traffic through the local stack, rules set through the API, and
what a person would receive observed in the outbox (email as .eml; Slack and PagerDuty as the JSON that
would have been posted, since no webhook or routing key is configured for these rules' targets)."""

from __future__ import annotations

import email
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.policy import default as default_policy
from typing import Any

import pytest
import requests
import sentry_sdk
from sentry_sdk.session import Session

from errata.store.counters import issue_key, window_key
from errata.store.dynamo import to_item
from errata_local.stack import LocalStack, StackInfo
from tests.integration.conftest import TestProject, wait_for

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Sent:
    channel: str
    headline: str
    text: str


def outbox(info: StackInfo, project: TestProject) -> list[Sent]:
    """Notifications about this project: every one links to the project's dashboard."""
    found = []
    for path in sorted(info.outbox.iterdir()):
        if path.suffix == ".eml":
            message = email.message_from_bytes(path.read_bytes(), policy=default_policy)
            body = message.get_body(preferencelist=("plain",))
            text = body.get_content() if body else ""
            found.append(Sent("email", str(message["Subject"]), text))
        elif path.suffix == ".json":
            body = json.loads(path.read_text())
            headline = body.get("text") or body.get("payload", {}).get("summary") or body.get("event_action", "")
            found.append(Sent(path.name.split("-", 1)[0], headline, json.dumps(body)))
    return [sent for sent in found if f"/projects/{project.project_id}/" in sent.text]


def settled(info: StackInfo, project: TestProject, expected: int) -> list[Sent]:
    """Waits for `expected` notifications, then a little longer so that any extra one would show."""
    wait_for(lambda: len(outbox(info, project)) >= expected or None, timeout=20)
    time.sleep(1.5)
    return outbox(info, project)


def only_rules(project: TestProject, **rules: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {project.api_token}"}
    base = f"{project.base_url}/api/projects/{project.project_id}/alert-rules"
    for rule_id, rule in rules.items():
        response = requests.put(f"{base}/{rule_id}", json=rule, headers=headers, timeout=10)
        assert response.status_code == 200, response.text
    for default in ("default-new-issue", "default-spike"):
        assert requests.delete(f"{base}/{default}", headers=headers, timeout=10).status_code == 204
    listed = requests.get(base, headers=headers, timeout=10).json()
    assert (listed["defaults"], sorted(r["id"] for r in listed["rules"])) == (False, sorted(rules))


@pytest.fixture
def sdk(project: TestProject) -> Iterator[Any]:
    def init(release: str = "shop@1.0.0", send_default_pii: bool = False) -> None:
        sentry_sdk.init(
            dsn=project.dsn,
            release=release,
            environment="prod",
            default_integrations=False,
            **({"send_default_pii": True} if send_default_pii else {}),
        )

    yield init
    sentry_sdk.flush(timeout=5)
    sentry_sdk.get_client().close()


class CartError(Exception):
    pass


def charge(kind: type[Exception], text: str) -> None:
    raise kind(text)


def capture(kind: type[Exception], text: str, times: int = 1, user: dict[str, str] | None = None) -> None:
    for _ in range(times):
        with sentry_sdk.isolation_scope() as scope:  # the user stays with these events, not the next test's
            if user is not None:
                scope.set_user(user)
            try:
                charge(kind, text)
            except Exception as exc:
                sentry_sdk.capture_exception(exc)
    sentry_sdk.flush(timeout=5)


def issue_titled(project: TestProject, title: str, count: int = 1) -> dict[str, Any]:
    return wait_for(
        lambda: next((i for i in project.issues() if i["title"] == title and i["count"] >= count), None), timeout=20
    )


def test_exactly_one_new_issue_email_per_new_issue(project: TestProject, info: StackInfo, sdk: Any) -> None:
    sdk()
    for _ in range(4):
        capture(KeyError, "cart-42")
        capture(ValueError, "bad quantity")
        capture(CartError, "cart locked")
    sent = settled(info, project, 3)
    assert sorted(s.headline for s in sent) == [
        "[Errata] New issue: CartError: cart locked",
        "[Errata] New issue: KeyError: 'cart-42'",
        "[Errata] New issue: ValueError: bad quantity",
    ]
    assert all(s.channel == "email" and "Release: shop@1.0.0" in s.text for s in sent)
    assert sum(i["count"] for i in project.issues()) == 12


def test_a_regression_alerts_only_in_a_later_release(project: TestProject, info: StackInfo, sdk: Any) -> None:
    sdk("shop@2.0.0")
    capture(CartError, "payment declined")
    issue = issue_titled(project, "CartError: payment declined")
    headers = {"Authorization": f"Bearer {project.api_token}"}
    url = f"{project.base_url}/api/projects/{project.project_id}/issues/{issue['id']}"
    assert requests.patch(url, json={"status": "resolved"}, headers=headers, timeout=10).status_code == 200

    sdk("shop@1.9.0")  # an older release still running somewhere: not a regression
    capture(CartError, "payment declined")
    issue_titled(project, "CartError: payment declined", count=2)
    sdk("shop@2.1.0")
    capture(CartError, "payment declined")
    wait_for(lambda: requests.get(url, headers=headers, timeout=10).json()["status"] == "regressed", timeout=20)

    sent = settled(info, project, 2)
    regressions = [s for s in sent if "Regression" in s.headline]
    assert [s.headline for s in sent].count("[Errata] New issue: CartError: payment declined") == 1
    assert len(regressions) == 1
    assert "seen in shop@2.1.0 after it was resolved in shop@2.0.0" in regressions[0].text


def _seed_week_ago(stack: LocalStack, info: StackInfo, project: TestProject, issue_id: str, events: int) -> None:
    """Last week's counters, as the processor would have written them a week ago."""
    dynamodb: Any = stack.client("dynamodb")
    now = datetime.now(UTC)
    for moment in {
        window_key(now - timedelta(days=7), "hour"),
        window_key(now + timedelta(minutes=2) - timedelta(days=7), "hour"),
    }:
        dynamodb.put_item(
            TableName=info.settings.counters_table,
            Item=to_item({"pk": issue_key(project.project_id, issue_id), "sk": moment, "events": events}),
        )


def test_a_spike_against_the_same_hour_last_week(
    project: TestProject, info: StackInfo, stack: LocalStack, sdk: Any
) -> None:
    only_rules(
        project,
        spike={
            "name": "Spikes to Slack",
            "conditions": [{"kind": "frequency_spike", "factor": 3, "floor": 10}],
            "actions": [{"channel": "slack", "urgency": "low"}],
        },
    )
    sdk()
    capture(TimeoutError, "inventory service")
    capture(ConnectionError, "search backend")
    spiking = issue_titled(project, "TimeoutError: inventory service")
    steady = issue_titled(project, "ConnectionError: search backend")
    _seed_week_ago(stack, info, project, spiking["id"], 2)  # 15 now > 3 x 2: a spike
    _seed_week_ago(stack, info, project, steady["id"], 10)  # 15 now < 3 x 10: business as usual
    capture(TimeoutError, "inventory service", times=14)
    capture(ConnectionError, "search backend", times=14)
    issue_titled(project, "TimeoutError: inventory service", count=15)
    issue_titled(project, "ConnectionError: search backend", count=15)

    stack.evaluate_alerts()
    [sent] = settled(info, project, 1)
    assert sent.channel == "slack"
    assert spiking["id"] in sent.text and steady["id"] not in sent.text
    assert "15 events in the last hour against 2 in the same hour last week" in sent.text


def test_a_storm_from_one_user_or_one_ip_does_not_page(
    project: TestProject, info: StackInfo, stack: LocalStack, sdk: Any
) -> None:
    only_rules(
        project,
        storm={
            "name": "Storms page on-call",
            "conditions": [{"kind": "event_frequency", "events": 20, "minutes": 5}],
            "page_requires": {"clients": 3},
            "actions": [{"channel": "pagerduty", "urgency": "high"}, {"channel": "slack", "urgency": "low"}],
        },
    )
    sdk()
    capture(CartError, "retry loop", times=30, user={"id": "looping-client"})
    sdk(send_default_pii=True)  # else sentry-sdk's own scrubber drops the address
    capture(TimeoutError, "crawler", times=30, user={"ip_address": "203.0.113.9"})
    for n in range(30):
        capture(ConnectionError, "database down", user={"id": f"customer-{n % 6}"})
    one_user = issue_titled(project, "CartError: retry loop", count=30)
    one_ip = issue_titled(project, "TimeoutError: crawler", count=30)
    many = issue_titled(project, "ConnectionError: database down", count=30)
    assert (one_user["user_count"], one_ip["user_count"], many["user_count"]) == (1, 1, 6)

    stack.evaluate_alerts()
    sent = settled(info, project, 4)
    pages = [s for s in sent if s.channel == "pagerduty"]
    chats = [s for s in sent if s.channel == "slack"]
    assert len(pages) == 1 and many["id"] in pages[0].text
    assert len(chats) == 3
    for issue in (one_user, one_ip):
        [chat] = [c for c in chats if issue["id"] in c.text]
        assert "not paged, the blast radius is below the rule" in chat.text
        assert "1 clients" in chat.text


def test_the_action_interval_holds_back_repeats(
    project: TestProject, info: StackInfo, stack: LocalStack, sdk: Any
) -> None:
    only_rules(
        project,
        busy={
            "name": "Busy issues",
            "conditions": [{"kind": "event_frequency", "events": 5, "minutes": 10}],
            "actions": [{"channel": "email", "urgency": "low"}],
            "action_interval_minutes": 30,
        },
    )
    sdk()
    capture(KeyError, "session-7", times=8)
    issue_titled(project, "KeyError: 'session-7'", count=8)
    stack.evaluate_alerts()
    settled(info, project, 1)
    capture(KeyError, "session-7", times=8)  # still busy, within the interval
    issue_titled(project, "KeyError: 'session-7'", count=16)
    stack.evaluate_alerts()
    stack.evaluate_alerts()
    [sent] = settled(info, project, 1)
    assert sent.headline == "[Errata] Escalating: KeyError: 'session-7'"


def test_an_unhealthy_release_from_session_envelopes(
    project: TestProject, info: StackInfo, stack: LocalStack, sdk: Any
) -> None:
    only_rules(
        project,
        health={
            "name": "Release health",
            "conditions": [{"kind": "release_health", "unhealthy_percent": 25, "min_sessions": 10}],
            "actions": [{"channel": "email", "urgency": "low"}],
        },
    )
    sdk("mobile@3.0.0")
    client = sentry_sdk.get_client()
    for release, crashed in (("mobile@3.0.0", 6), ("mobile@2.9.0", 1)):
        for n in range(12):
            session = Session(release=release, environment="prod")
            session.close(status="crashed" if n < crashed else "exited")
            client.capture_session(session)
    sentry_sdk.flush(timeout=5)
    headers = {"Authorization": f"Bearer {project.api_token}"}
    traffic_url = f"{project.base_url}/api/projects/{project.project_id}/traffic"

    def sessions_counted() -> bool:
        rows = requests.get(traffic_url, headers=headers, timeout=10).json()["traffic"]
        return sum(r.get("sessions", 0) for r in rows if r["dimension"] == "release") == 24

    wait_for(sessions_counted, timeout=20)
    stack.evaluate_alerts()
    [sent] = settled(info, project, 1)
    assert (
        sent.headline
        == "[Errata] Release Unhealthy: Release mobile@3.0.0 is unhealthy: 50.0% of sessions errored or crashed"
    )
    assert "0 errored and 6 crashed of 12 sessions" in sent.text
