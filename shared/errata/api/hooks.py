"""/api/hooks/{github|gitlab}/{p}: deploys reported by source control. No bearer token: each delivery is
verified against the project's webhook secret (401 and nothing stored otherwise)."""

from __future__ import annotations

import base64
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from errata.api.context import ProjectId, hooks
from errata.models.integrations import HookProvider, HookResult

router = Router()  # type: ignore[no-untyped-call]


def _raw_body() -> bytes:
    """The bytes the sender signed."""
    event = router.current_event
    body = event.body or ""
    return base64.b64decode(body) if event.is_base64_encoded else body.encode()


@router.post("/api/hooks/<provider>/<project_id>")
def receive_hook(provider: Annotated[HookProvider, Path()], project_id: ProjectId) -> HookResult:
    """GitHub: `deployment_status` (state success) and `release` (published), signed with
    `X-Hub-Signature-256`. GitLab: deployment events (status success), with `X-Gitlab-Token`. A redelivery
    answers `duplicate` and records nothing."""
    headers = dict(router.current_event.headers)
    return hooks().receive(project_id, provider, headers, _raw_body())
