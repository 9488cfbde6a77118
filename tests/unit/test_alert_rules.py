"""Alert rules as pure functions: which rules fire, what a blast radius allows, what each channel gets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from errata.alerts.delivery import email_message, pagerduty_event, slack_message
from errata.alerts.rules import DEFAULT_RULES, notifications_for, page_allowed, resolutions_for, rule_fires
from errata.models.alerts import AlertDetail, AlertRule, AlertRuleInput, BlastRadius, Counts, PageRequires


def _detail(**changes: object) -> AlertDetail:
    values: dict[str, object] = {
        "project_id": "7",
        "issue_id": "abc123",
        "title": "KeyError: 'cart'",
        "culprit": "shop.cart in add",
        "level": "error",
        "release": "shop@1.2.0",
        "environment": "prod",
        "tags": {"team": "payments"},
        "counts": Counts(last_minute=3, last_hour=40, total=90),
        "users": 12,
        "blast_radius": BlastRadius(clients=12, user_share=0.05, traffic_share=0.01),
        "url": "https://errata.example.com/#/projects/7/issues/abc123",
        "reason": "first event of a new issue",
        "subject": "abc123",
    }
    values.update(changes)
    return AlertDetail.model_validate(values)


def _rule(**changes: object) -> AlertRule:
    values: dict[str, object] = {
        "id": "r1",
        "name": "Payments",
        "conditions": [{"kind": "new_issue"}],
        "actions": [{"channel": "pagerduty", "urgency": "high"}, {"channel": "slack", "urgency": "low"}],
    }
    values.update(changes)
    return AlertRule.model_validate(values)


def test_event_conditions_fire_on_their_own_event_and_time_conditions_only_for_the_named_rule() -> None:
    rule = _rule(conditions=[{"kind": "regression"}, {"kind": "event_frequency", "events": 10}])
    assert not rule_fires(rule, "Issue Created", _detail())
    assert rule_fires(rule, "Issue Regressed", _detail())
    assert rule_fires(rule, "Issue Escalating", _detail(rule_id="r1"))
    assert not rule_fires(rule, "Issue Escalating", _detail(rule_id="another"))
    assert not rule_fires(_rule(enabled=False), "Issue Created", _detail())


@pytest.mark.parametrize(
    ("filters", "fires"),
    [
        ({"environment": ["prod"]}, True),
        ({"environment": ["staging"]}, False),
        ({"level": ["fatal"]}, False),
        ({"release": ["shop@1.2.0", "shop@1.3.0"]}, True),
        ({"tags": {"team": "payments"}}, True),
        ({"tags": {"team": "search"}}, False),
        ({"environment": ["prod"], "tags": {"team": "search"}}, False),
    ],
)
def test_filters_must_all_match(filters: dict[str, object], fires: bool) -> None:
    assert rule_fires(_rule(filters=filters), "Issue Created", _detail()) is fires


def test_page_requires_every_bound_and_an_unknown_share_does_not_count() -> None:
    wide = BlastRadius(clients=40, user_share=0.2, traffic_share=None)
    assert page_allowed(None, BlastRadius(clients=1))
    assert page_allowed(PageRequires(clients=3, user_percent=10), wide)
    assert not page_allowed(PageRequires(clients=50), wide)
    assert not page_allowed(PageRequires(clients=3, traffic_percent=1), wide)  # no traffic reported
    assert not page_allowed(PageRequires(clients=2), BlastRadius(clients=1, user_share=1.0))


def test_a_storm_from_one_client_reaches_only_the_low_urgency_actions() -> None:
    rule = _rule(page_requires={"clients": 2})
    one_client = _detail(blast_radius=BlastRadius(clients=1, user_share=1.0))
    sent = notifications_for(rule, "Issue Escalating", one_client)
    assert [(n.channel, n.urgency, n.paging_held_back) for n in sent] == [("slack", "low", True)]
    sent = notifications_for(rule, "Issue Escalating", _detail())
    assert [(n.channel, n.urgency, n.paging_held_back) for n in sent] == [
        ("pagerduty", "high", False),
        ("slack", "low", False),
    ]


def test_a_resolution_resolves_only_pagerduty_actions() -> None:
    [resolve] = resolutions_for(_rule(), _detail())
    assert (resolve.channel, resolve.event_action) == ("pagerduty", "resolve")
    assert pagerduty_event(resolve, "k" * 32) == {
        "routing_key": "k" * 32,
        "event_action": "resolve",
        "dedup_key": "abc123",
    }


def test_defaults_email_new_issues_and_page_spikes_with_a_blast_radius() -> None:
    new, spike = DEFAULT_RULES
    assert {c.kind for c in new.conditions} == {"new_issue", "regression"}
    assert [a.channel for a in new.actions] == ["email"]
    assert [c.kind for c in spike.conditions] == ["frequency_spike"]
    assert spike.page_requires == PageRequires(clients=2, user_percent=1.0)
    assert ("pagerduty", "high") in [(a.channel, a.urgency) for a in spike.actions]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "conditions": [{"kind": "sometimes"}], "actions": [{"channel": "email"}]},
        {"name": "x", "conditions": [], "actions": [{"channel": "email"}]},
        {"name": "x", "conditions": [{"kind": "new_issue"}], "actions": [{"channel": "fax"}]},
        {"name": "x", "conditions": [{"kind": "frequency_spike", "factor": 0.5}], "actions": [{"channel": "email"}]},
        {"name": "x", "conditions": [{"kind": "new_issue"}], "actions": [{"channel": "slack", "target": "../x y"}]},
        {"name": "x", "conditions": [{"kind": "new_issue"}], "actions": [{"channel": "email"}], "colour": "red"},
    ],
)
def test_invalid_rules_are_refused(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        AlertRuleInput.model_validate(body)


def test_messages_fit_the_vendors_limits_whatever_the_title() -> None:
    [page, chat] = notifications_for(_rule(), "Issue Created", _detail(title="E" * 10_000, culprit="c" * 5_000))
    blocks = slack_message(chat)["blocks"]
    assert len(blocks[0]["text"]["text"]) == 150
    assert all(len(field["text"]) <= 2000 for field in blocks[1]["fields"])
    assert len(blocks[1]["text"]["text"]) <= 3000
    assert len(pagerduty_event(page, "k" * 32)["payload"]["summary"]) == 1024
    subject, body = email_message(chat)
    assert len(subject) <= 100 and "\n" not in subject
    assert "https://errata.example.com/#/projects/7/issues/abc123" in body
    assert pagerduty_event(page, "k" * 32)["payload"]["severity"] == "error"
