"""What the routes share: the services, built on first use (one set per Lambda container), the path
parameter types, and the problem+json response."""

from __future__ import annotations

import json
from functools import cache
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from errata.cognito import CognitoVerifier
from errata.dashboard import IssueQueries
from errata.integrations import DeployHooks, IntegrationSettings
from errata.problems import PROBLEM_JSON, problem
from errata.settings import Settings
from errata.store.alert_bus import AlertBus
from errata.store.alert_rules import AlertRuleStore
from errata.store.artifacts import ArtifactStore
from errata.store.integrations import IntegrationStore
from errata.store.projects import ProjectStore
from errata.trackers.tickets import TicketService
from errata.wiring import (
    Clients,
    alert_bus,
    alert_rule_store,
    artifact_store,
    deploy_hooks,
    integration_settings,
    integration_store,
    issue_queries,
    project_store,
    ticket_service,
)

ProjectId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
IssueId = Annotated[str, Path(pattern=r"^[0-9a-f]{1,64}$")]


@cache
def wired() -> tuple[Settings, Clients]:
    return Settings.from_env(), Clients()


@cache
def queries() -> IssueQueries:
    return issue_queries(*wired())


@cache
def projects() -> ProjectStore:
    return project_store(*wired())


@cache
def artifacts() -> ArtifactStore:
    return artifact_store(*wired())


@cache
def alert_rules() -> AlertRuleStore:
    return alert_rule_store(*wired())


@cache
def bus() -> AlertBus:
    return alert_bus(*wired())


@cache
def integrations() -> IntegrationSettings:
    return integration_settings(*wired())


@cache
def integrations_table() -> IntegrationStore:
    return integration_store(*wired())


@cache
def hooks() -> DeployHooks:
    return deploy_hooks(*wired())


@cache
def tickets() -> TicketService:
    return ticket_service(*wired())


@cache
def cognito() -> CognitoVerifier | None:
    """The stage's user pool sign-in, when it has one."""
    settings = wired()[0]
    if not (settings.cognito_issuer and settings.cognito_client_id):
        return None
    return CognitoVerifier(settings.cognito_issuer, settings.cognito_client_id, settings.cognito_jwks_url)


def reset() -> None:
    """A new cold start: the local stack calls it when it starts a stack with other resources."""
    for built in (
        wired,
        queries,
        projects,
        artifacts,
        alert_rules,
        bus,
        integrations,
        integrations_table,
        hooks,
        tickets,
        cognito,
    ):
        built.cache_clear()


def problem_response(
    status: int, detail: str, code: str, headers: dict[str, str] | None = None, **extra: Any
) -> Response[Any]:
    # Powertools serializes dict bodies only for application/json: the problem document is serialized here.
    body = json.dumps(problem(status, detail, code, **extra))
    return Response(status_code=status, content_type=PROBLEM_JSON, body=body, headers=headers)
