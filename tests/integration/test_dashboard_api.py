"""The dashboard API: auth, validation, OpenAPI, sorting."""

from __future__ import annotations

import gzip
import json

import pytest
import requests

from tests.integration.conftest import TestProject, wait_for

pytestmark = pytest.mark.integration


def _send(project: TestProject, message: str, user: str, times: int) -> None:
    for _ in range(times):
        payload = json.dumps({"message": message, "user": {"id": user}}).encode()
        body = b'{}\n{"type":"event"}\n' + payload + b"\n"
        response = requests.post(
            project.envelope_url,
            data=gzip.compress(body),
            headers={"X-Sentry-Auth": f"Sentry sentry_key={project.public_key}", "Content-Encoding": "gzip"},
            timeout=10,
        )
        assert response.status_code == 200


def test_issues_need_a_valid_bearer_token(project: TestProject) -> None:
    url = f"{project.base_url}/api/projects/{project.project_id}/issues"
    assert requests.get(url, timeout=10).status_code == 401
    wrong = requests.get(url, headers={"Authorization": "Bearer not-the-token"}, timeout=10)
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"] == "Bearer"
    assert project.api("/issues").status_code == 200


def test_the_openapi_document_describes_the_issue_routes(project: TestProject) -> None:
    document = requests.get(f"{project.base_url}/api/openapi.json", timeout=10).json()
    assert document["openapi"].startswith("3.")
    assert "/api/projects/{project_id}/issues" in document["paths"]
    assert "/api/projects/{project_id}/issues/{issue_id}" in document["paths"]
    parameters = {p["name"]: p for p in document["paths"]["/api/projects/{project_id}/issues"]["get"]["parameters"]}
    assert parameters["sort"]["schema"]["enum"] == ["frequency", "recency", "users", "impact"]


@pytest.mark.parametrize("params", [{"sort": "alphabetical"}, {"limit": 0}, {"limit": 1000}, {"limit": "many"}])
def test_bad_query_parameters_are_422(project: TestProject, params: dict[str, object]) -> None:
    assert project.api("/issues", **params).status_code == 422


def test_an_unknown_issue_is_404(project: TestProject) -> None:
    assert project.api("/issues/" + "0" * 32).status_code == 404


def test_sorting_by_frequency_recency_and_users(project: TestProject) -> None:
    _send(project, "frequent", "a", 3)
    _send(project, "many users", "a", 1)
    _send(project, "many users", "b", 1)
    wait_for(lambda: len(project.issues()) == 2 and sum(i["count"] for i in project.issues()) == 5)
    _send(project, "recent", "a", 1)
    wait_for(lambda: len(project.issues()) == 3)
    assert [i["title"] for i in project.issues("frequency")] == ["frequent", "many users", "recent"]
    assert [i["title"] for i in project.issues("recency")][0] == "recent"
    assert [i["title"] for i in project.issues("users")][0] == "many users"
    assert project.api("/issues", limit=1).json()["issues"][0]["title"] == "frequent"


def test_the_dashboard_page_is_served_without_a_token(project: TestProject) -> None:
    page = requests.get(f"{project.base_url}/", timeout=10)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert '<script src="/static/app.js">' in page.text
    script = requests.get(f"{project.base_url}/static/app.js", timeout=10)
    assert script.headers["Content-Type"].startswith("text/javascript") and "/api/projects/" in script.text
    assert requests.get(f"{project.base_url}/static/uPlot.iife.min.js", timeout=10).text.startswith(
        "/*! https://github.com/leeoniya/uPlot"
    )
    traversal = requests.get(f"{project.base_url}/static/%2e%2e/handler.py", timeout=10)
    assert traversal.status_code in (401, 404) and "import" not in traversal.text
    assert requests.get(f"{project.base_url}/static/handler.py", timeout=10).status_code == 404
