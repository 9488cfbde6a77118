"""Who may do what through the dashboard API, asked of every route in its OpenAPI document (so a new route
is covered by being added): a token for one project gets 403 on another; a read token cannot change
anything; only admin changes a project's settings; an unknown project is 404 on every route; every 4xx is
one shape (RFC 9457 problem details)."""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest
import requests

from errata.store.projects import Project, ProjectStore, Scope
from errata_local.stack import LocalStack, StackInfo
from tests.integration.conftest import TestProject

pytestmark = pytest.mark.integration

_PLACEHOLDERS = {
    "issue_id": "0" * 32,
    "rule_id": "rule-1",
    "version": "api@1.0.0",
    "user_id": "alice",
    "public_key": "0" * 32,
    "kind": "jira",
}
_ADMIN_ONLY = {
    ("PATCH", "/api/projects/{project_id}"),
    ("POST", "/api/projects/{project_id}/keys"),
    ("DELETE", "/api/projects/{project_id}/keys/{public_key}"),
    ("PUT", "/api/projects/{project_id}/code-mappings"),
    ("DELETE", "/api/projects/{project_id}/code-mappings"),
    ("PUT", "/api/projects/{project_id}/integrations/github"),
    ("PUT", "/api/projects/{project_id}/integrations/gitlab"),
    ("PUT", "/api/projects/{project_id}/integrations/jira"),
    ("PUT", "/api/projects/{project_id}/integrations/linear"),
    ("DELETE", "/api/projects/{project_id}/integrations/{kind}"),
}
_BODIES = {
    ("PATCH", "/api/projects/{project_id}"): {"sample_size": 3},
    ("PATCH", "/api/projects/{project_id}/issues/{issue_id}"): {"status": "resolved"},
    ("POST", "/api/projects/{project_id}/deploys"): {"release": "api@1.0.0"},
    ("POST", "/api/projects/{project_id}/debug-files"): {
        "files": [
            {
                "name": "libshop.so",
                "debug_id": "c356f04c-5ca7-5fd0-fd03-5be3636f4c21",
                "kind": "debug_file",
                "format": "elf",
                "size": 10,
            }
        ]
    },
    ("POST", "/api/projects/{project_id}/releases/{version}/artifacts"): {
        "files": [{"name": "app.js.map", "size": 10, "kind": "source_map"}]
    },
    ("POST", "/api/projects/{project_id}/fingerprint-rules/preview"): {"rules": "error.type:KeyError -> keys"},
    ("PUT", "/api/projects/{project_id}/code-mappings"): {"mappings": []},
    ("PUT", "/api/projects/{project_id}/integrations/github"): {"release_prefix": "api@"},
    ("PUT", "/api/projects/{project_id}/integrations/gitlab"): {},
    ("PUT", "/api/projects/{project_id}/integrations/jira"): {
        "site_url": "https://acme.atlassian.net",
        "email": "ops@example.com",
        "api_token": "t0k3n",
        "project_key": "OPS",
    },
    ("PUT", "/api/projects/{project_id}/integrations/linear"): {"api_key": "lin_api_x", "team_id": "team-1"},
    ("POST", "/api/projects/{project_id}/issues/{issue_id}/tickets"): {"tracker": "jira"},
    ("PUT", "/api/projects/{project_id}/alert-rules/{rule_id}"): {
        "name": "r",
        "conditions": [{"kind": "new_issue"}],
        "actions": [{"channel": "email"}],
    },
}


def _routes(base_url: str) -> list[tuple[str, str]]:
    paths = requests.get(f"{base_url}/api/openapi.json", timeout=10).json()["paths"]
    routes = [(method.upper(), path) for path, methods in paths.items() for method in methods]
    # Outside a project's tree: the webhooks, which verify signatures, not tokens
    # (tests/integration/test_source_control.py), and how the page signs in (tests/integration/test_cognito_login.py).
    assert {route for route in routes if not route[1].startswith("/api/projects/")} == {
        ("POST", "/api/hooks/{provider}/{project_id}"),
        ("GET", "/api/login"),
    }
    project_routes = [route for route in routes if route[1].startswith("/api/projects/{project_id}")]
    assert len(project_routes) >= 30
    return project_routes


def _call(base_url: str, method: str, template: str, project_id: str, token: str) -> requests.Response:
    path = template.replace("{project_id}", project_id)
    path = re.sub(r"\{(\w+)\}", lambda m: _PLACEHOLDERS[m.group(1)], path)
    return requests.request(
        method,
        base_url + path,
        json=_BODIES.get((method, template)),
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def _token(stack: LocalStack, info: StackInfo, project_id: str | None, scope: Scope) -> str:
    token = secrets.token_urlsafe(24)
    ProjectStore(stack.client("dynamodb"), info.settings.projects_table).add_api_token(
        token, name=f"{scope} of {project_id}", project_id=project_id, scope=scope
    )
    return token


def _is_problem(response: requests.Response) -> bool:
    body: dict[str, Any] = response.json()
    return (
        response.headers["Content-Type"].startswith("application/problem+json")
        and body["status"] == response.status_code
        and bool(body["title"])
        and bool(body["detail"])
        and body["type"] == "about:blank"
    )


def test_a_token_for_another_project_is_refused_on_every_route(
    project: TestProject, stack: LocalStack, info: StackInfo
) -> None:
    other = str(secrets.randbelow(10**9) + 10**9)
    ProjectStore(stack.client("dynamodb"), info.settings.projects_table).put_project(
        Project(project_id=other, name="other", public_keys=[secrets.token_hex(16)])
    )
    token = _token(stack, info, other, "project:admin")
    for method, template in _routes(project.base_url):
        response = _call(project.base_url, method, template, project.project_id, token)
        assert response.status_code == 403, (method, template, response.text)
        assert _is_problem(response), (method, template)
        assert f"project {other}" in response.json()["detail"]
        # ...and the same token works on its own project.
        own = _call(project.base_url, method, template, other, token)
        assert own.status_code != 403, (method, template, own.text)


def test_read_tokens_read_write_tokens_change_only_admin_changes_settings(
    project: TestProject, stack: LocalStack, info: StackInfo
) -> None:
    read = _token(stack, info, project.project_id, "project:read")
    write = _token(stack, info, None, "project:write")
    for method, template in _routes(project.base_url):
        as_reader = _call(project.base_url, method, template, project.project_id, read)
        as_writer = _call(project.base_url, method, template, project.project_id, write)
        if method == "GET":
            assert as_reader.status_code in (200, 404), (template, as_reader.text)
        else:
            assert as_reader.status_code == 403 and _is_problem(as_reader), (method, template)
            assert "project:read" in as_reader.json()["detail"]
        if (method, template) in _ADMIN_ONLY:
            assert as_writer.status_code == 403 and "project:admin is needed" in as_writer.json()["detail"]
        else:
            assert as_writer.status_code != 403, (method, template, as_writer.text)
    admin = _token(stack, info, project.project_id, "project:admin")
    settings = _call(project.base_url, "PATCH", "/api/projects/{project_id}", project.project_id, admin)
    assert settings.status_code == 200 and settings.json()["settings"]["sample_size"] == 3


def test_an_unknown_project_is_404_on_every_route(project: TestProject) -> None:
    for method, template in _routes(project.base_url):
        response = _call(project.base_url, method, template, "999", project.api_token)
        assert response.status_code == 404, (method, template, response.text)
        assert _is_problem(response) and response.json()["detail"] == "no project 999"


def test_every_4xx_has_one_shape(project: TestProject) -> None:
    base = f"{project.base_url}/api/projects/{project.project_id}"
    unauthorized = requests.get(f"{base}/issues", timeout=10)
    invalid = project.api("/issues", limit=1000)
    unknown_issue = project.api("/issues/" + "0" * 32)
    no_route = project.api("/nothing-here")
    bad_cursor = project.api("/issues", cursor="not-a-cursor")
    for response, status in (
        (unauthorized, 401),
        (invalid, 422),
        (unknown_issue, 404),
        (no_route, 404),
        (bad_cursor, 400),
    ):
        assert response.status_code == status and _is_problem(response), response.text
    assert unauthorized.headers["WWW-Authenticate"] == "Bearer"
    assert invalid.json()["errors"][0]["loc"] == ["query", "limit"]
    envelope = b'{}\n{"type":"event"}\n{"message":"hi"}\n'
    ingest = requests.post(f"{project.base_url}/api/{project.project_id}/envelope/", data=envelope, timeout=10)
    assert ingest.status_code == 401 and _is_problem(ingest) and ingest.json()["code"] == "missing_auth"
    malformed = requests.post(f"{project.base_url}/api/{project.project_id}/envelope/", data=b"x", timeout=10)
    assert malformed.status_code == 400 and _is_problem(malformed)
