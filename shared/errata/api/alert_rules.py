"""/api/projects/{p}/alert-rules: conditions -> actions, per project."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from errata.api.context import ProjectId, alert_rules
from errata.models.alerts import AlertRule, AlertRuleInput, AlertRuleList

router = Router()  # type: ignore[no-untyped-call]
RuleId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


@router.get("/api/projects/<project_id>/alert-rules")
def list_alert_rules(project_id: ProjectId) -> AlertRuleList:
    """The project's alert rules; a project that has not set any gets the defaults (`defaults: true`)."""
    rules, defaults = alert_rules().rules(project_id)
    return AlertRuleList(rules=rules, defaults=defaults)


@router.get("/api/projects/<project_id>/alert-rules/<rule_id>")
def get_alert_rule(project_id: ProjectId, rule_id: RuleId) -> AlertRule:
    rules, _ = alert_rules().rules(project_id)
    found = next((rule for rule in rules if rule.id == rule_id), None)
    if found is None:
        raise NotFoundError(f"no alert rule {rule_id} in project {project_id}")
    return found


@router.put("/api/projects/<project_id>/alert-rules/<rule_id>")
def put_alert_rule(project_id: ProjectId, rule_id: RuleId, rule: Annotated[AlertRuleInput, Body()]) -> AlertRule:
    """Creates or replaces a rule: conditions (any fires it), filters, `page_requires` (the blast radius a
    high-urgency action needs), actions (channel + urgency) and the action interval. The first rule a
    project saves replaces the defaults (they are kept as rules of their own, to edit or delete)."""
    saved = AlertRule(id=rule_id, **rule.model_dump())
    alert_rules().put_rule(project_id, saved)
    return saved


@router.delete("/api/projects/<project_id>/alert-rules/<rule_id>")
def delete_alert_rule(project_id: ProjectId, rule_id: RuleId) -> Response[str]:
    if not alert_rules().delete_rule(project_id, rule_id):
        raise NotFoundError(f"no alert rule {rule_id} in project {project_id}")
    return Response(status_code=204, content_type=content_types.APPLICATION_JSON, body="")
