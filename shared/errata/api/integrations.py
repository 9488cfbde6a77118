"""/api/projects/{p}/code-mappings and /integrations: where frames live in the repository, the deploy
webhooks of GitHub and GitLab, and the Jira and Linear settings. All need project:admin; secrets are
write-only."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from pydantic import BaseModel

from errata.api.context import ProjectId, integrations, integrations_table
from errata.api.projects import public_origin
from errata.models.integrations import (
    CodeMappingList,
    GitHubHookSettings,
    GitLabHookSettings,
    IntegrationKind,
    IntegrationList,
    IntegrationView,
    JiraSettings,
    LinearSettings,
)

router = Router()  # type: ignore[no-untyped-call]
Kind = Annotated[IntegrationKind, Path()]


@router.get("/api/projects/<project_id>/code-mappings")
def get_code_mappings(project_id: ProjectId) -> CodeMappingList:
    return CodeMappingList(mappings=integrations_table().code_mappings(project_id))


@router.put("/api/projects/<project_id>/code-mappings")
def put_code_mappings(project_id: ProjectId, body: Annotated[CodeMappingList, Body()]) -> CodeMappingList:
    """Replaces the project's code mappings. A frame takes the mapping with the longest matching
    `stack_root`; its link is `<repository>/blob/<commit>/<source_root><rest of the path>#L<line>` (GitLab
    and Bitbucket in their own forms)."""
    integrations_table().put_code_mappings(project_id, body.mappings)
    return body


@router.delete("/api/projects/<project_id>/code-mappings")
def delete_code_mappings(project_id: ProjectId) -> Response[str]:
    integrations_table().delete_code_mappings(project_id)
    return Response(status_code=204, content_type=content_types.APPLICATION_JSON, body="")


def _with_hook_url(project_id: str, view: IntegrationView) -> IntegrationView:
    if view.kind in ("github", "gitlab"):
        view.webhook_url = f"{public_origin()}/api/hooks/{view.kind}/{project_id}"
    return view


@router.get("/api/projects/<project_id>/integrations")
def list_integrations(project_id: ProjectId) -> IntegrationList:
    """What is set up, without the secrets."""
    views = [_with_hook_url(project_id, view) for view in integrations().views(project_id)]
    return IntegrationList(integrations=views)


def _put(project_id: str, kind: IntegrationKind, body: BaseModel) -> IntegrationView:
    return _with_hook_url(project_id, integrations().put(project_id, kind, body))


@router.put("/api/projects/<project_id>/integrations/github")
def put_github(project_id: ProjectId, body: Annotated[GitHubHookSettings, Body()]) -> IntegrationView:
    """The GitHub webhook (content type application/json; events `deployment_status` and `release`).
    Without a `secret`, one is generated and returned in this answer only."""
    return _put(project_id, "github", body)


@router.put("/api/projects/<project_id>/integrations/gitlab")
def put_gitlab(project_id: ProjectId, body: Annotated[GitLabHookSettings, Body()]) -> IntegrationView:
    """The GitLab webhook (trigger: deployment events). Without a `token`, one is generated and returned once."""
    return _put(project_id, "gitlab", body)


@router.put("/api/projects/<project_id>/integrations/jira")
def put_jira(project_id: ProjectId, body: Annotated[JiraSettings, Body()]) -> IntegrationView:
    """Jira Cloud: site, account email, API token (write-only), project key and issue type."""
    return _put(project_id, "jira", body)


@router.put("/api/projects/<project_id>/integrations/linear")
def put_linear(project_id: ProjectId, body: Annotated[LinearSettings, Body()]) -> IntegrationView:
    """Linear: a personal API key (write-only) and the team the tickets go to."""
    return _put(project_id, "linear", body)


@router.delete("/api/projects/<project_id>/integrations/<kind>")
def delete_integration(project_id: ProjectId, kind: Kind) -> Response[str]:
    if not integrations().delete(project_id, kind):
        raise NotFoundError(f"no {kind} integration in project {project_id}")
    return Response(status_code=204, content_type=content_types.APPLICATION_JSON, body="")
