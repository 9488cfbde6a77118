"""Who may call what: a bearer token scoped to a project and to read, write or admin (checked on every route
but the page, its files, the OpenAPI document and the webhooks, which verify their own signatures)."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from errata.api.context import cognito, problem_response, projects
from errata.cognito import looks_like_jwt
from errata.store.projects import ApiToken, Scope

PUBLIC_PATHS = frozenset({"/", "/api/openapi.json", "/api/login"})
PUBLIC_PREFIXES = ("/static/", "/api/hooks/")
_PROJECT_PATH = re.compile(r"^/api/projects/([^/]+)(/.*)?$")
_ADMIN_PARTS = ("/keys", "/integrations", "/code-mappings")  # DSN keys and the secrets of integrations
_KNOWN_PROJECTS: dict[str, float] = {}  # project id -> when it was seen to exist (positive answers only)


def _project_exists(project_id: str) -> bool:
    seen = _KNOWN_PROJECTS.get(project_id)
    if seen is not None and time.monotonic() - seen < 60:
        return True
    if projects().get_project(project_id) is None:
        return False
    if len(_KNOWN_PROJECTS) > 10_000:
        _KNOWN_PROJECTS.clear()
    _KNOWN_PROJECTS[project_id] = time.monotonic()
    return True


def reset() -> None:
    _KNOWN_PROJECTS.clear()


def _grant(secret: str) -> ApiToken | None:
    """An API token's grant, or a signed-in person's (a Cognito access token, when the stage has a pool)."""
    verifier = cognito()
    if verifier is not None and looks_like_jwt(secret):
        return verifier.grant(secret)
    return projects().api_token(secret)


def required_scope(method: str, path: str) -> Scope:
    """Reads need `project:read`, changes `project:write`, a project's settings `project:admin`."""
    if method in ("GET", "HEAD", "OPTIONS"):
        return "project:read"
    match = _PROJECT_PATH.match(path)
    rest = (match.group(2) or "") if match else ""
    if match and ((not rest and method == "PATCH") or rest.startswith(_ADMIN_PARTS)):
        return "project:admin"
    return "project:write"


def authorize(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """401 without a valid token; 403 when the token's project or scope does not cover the request; 404 for a
    project that does not exist, on every route under it."""
    event = app.current_event
    if event.path in PUBLIC_PATHS or event.path.startswith(PUBLIC_PREFIXES):
        return next_middleware(app)
    header = event.headers.get("authorization") or ""
    scheme, _, secret = header.partition(" ")
    token = _grant(secret.strip()) if scheme.lower() == "bearer" else None
    if token is None:
        return problem_response(401, "missing or invalid bearer token", "unauthorized", {"WWW-Authenticate": "Bearer"})
    match = _PROJECT_PATH.match(event.path)
    project_id = unquote(match.group(1)) if match else None
    needed = required_scope(event.http_method, event.path)
    if not token.allows(project_id, needed):
        return problem_response(403, token.denial(project_id, needed), "forbidden")
    if project_id is not None and not _project_exists(project_id):
        return problem_response(404, f"no project {project_id}", "not_found")
    return next_middleware(app)
