"""Source control: frames of a real sentry-sdk event, a symbolicated Node crash and a Java text trace link to
the file and line at the deployed commit; deploys arrive from signed GitHub and GitLab webhooks (a wrong
signature records nothing, a redelivery nothing new); the issue names the deploy it was first seen in."""

from __future__ import annotations

import hashlib
import hmac
import inspect
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import sentry_sdk

from errata_local.cli import main as errata
from errata_local.demo import node_crash_event
from tests.integration.conftest import TestProject, wait_for

pytestmark = pytest.mark.integration
REPO_ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = "https://github.com/acme/shop"
SHA = "3f2a9c1d4b5e6f708192a3b4c5d6e7f809a1b2c3"
MAPS = Path(__file__).parents[1] / "fixtures" / "sourcemaps"
JAVA_TRACE = """java.lang.IllegalStateException: order 7 has no customer
\tat com.acme.shop.OrderService.shippingLabel(OrderService.java:44)
\tat com.acme.shop.OrderController.label(OrderController.java:31)
\tat java.base/java.lang.Thread.run(Thread.java:833)
"""


def _put_mappings(project: TestProject, *mappings: dict[str, Any]) -> None:
    response = project.call("PUT", "/code-mappings", {"mappings": list(mappings)})
    assert response.status_code == 200, response.text


def _only_issue(project: TestProject) -> dict[str, Any]:
    issue = wait_for(lambda: project.issues() or None)[0]
    detail: dict[str, Any] = project.api(f"/issues/{issue['id']}").json()
    return detail


def _frames(event: dict[str, Any]) -> list[dict[str, Any]]:
    return [frame for value in event["exception"]["values"] for frame in value["stacktrace"]["frames"]]


class CartEmpty(RuntimeError):
    pass


def check_out(cart: list[str]) -> None:
    if not cart:
        raise CartEmpty("the cart is empty")


@pytest.fixture
def sdk(project: TestProject) -> Iterator[TestProject]:
    sentry_sdk.init(
        dsn=project.dsn,
        release="shop@1.2.3",
        environment="production",
        default_integrations=False,
    )
    yield project
    sentry_sdk.get_client().close()


def test_python_frames_link_to_the_deployed_commit_and_the_issue_names_its_deploy(sdk: TestProject) -> None:
    _put_mappings(sdk, {"stack_root": f"{REPO_ROOT}/", "repository_url": REPOSITORY + ".git", "source_root": ""})
    deploy = {"release": "shop@1.2.3", "environment": "production", "commit": SHA, "url": "https://shop.example"}
    assert sdk.call("POST", "/deploys", deploy).status_code == 201
    try:
        check_out([])
    except CartEmpty as exc:
        sentry_sdk.capture_exception(exc)
    sentry_sdk.flush(timeout=5)

    detail = _only_issue(sdk)
    event = detail["event"]
    assert event["source_ref"] == {"commit": SHA, "source": "deploy"}
    frames = {frame["function"]: frame for frame in _frames(event)}
    line = inspect.getsourcelines(check_out)[1] + 2
    link = f"{REPOSITORY}/blob/{SHA}/tests/integration/test_source_control.py#L{line}"
    assert frames["check_out"]["source_link"] == link
    assert frames["test_python_frames_link_to_the_deployed_commit_and_the_issue_names_its_deploy"]["source_link"]

    first_seen = detail["first_seen_in"]
    assert (first_seen["release"], first_seen["commit"], first_seen["environment"]) == ("shop@1.2.3", SHA, "production")
    assert first_seen["deploy_url"] == "https://shop.example"
    assert first_seen["frame"] == {
        "function": "check_out",
        "filename": "tests/integration/test_source_control.py",
        "lineno": line,
        "source_link": link,
    }


def test_a_release_named_after_its_commit_links_without_a_deploy_and_no_release_uses_the_branch(
    project: TestProject,
) -> None:
    _put_mappings(
        project,
        {
            "stack_root": "/srv/app/",
            "repository_url": "https://gitlab.com/acme/api",
            "provider": "gitlab",
            "source_root": "backend/",
            "default_branch": "trunk",
        },
    )
    frame = {
        "abs_path": "/srv/app/api/views.py",
        "filename": "api/views.py",
        "function": "show",
        "lineno": 12,
        "in_app": True,
    }
    exception = {"type": "KeyError", "value": "'id'", "stacktrace": {"frames": [frame]}}
    project.store({"platform": "python", "release": "api@9fceb02", "exception": {"values": [exception]}})
    event = _only_issue(project)["event"]
    assert event["source_ref"] == {"commit": "9fceb02", "source": "release"}
    assert _frames(event)[0]["source_link"] == "https://gitlab.com/acme/api/-/blob/9fceb02/backend/api/views.py#L12"

    other = {**exception, "type": "LookupError"}
    project.store({"platform": "python", "exception": {"values": [other]}})
    issue = wait_for(lambda: next((i for i in project.issues() if i["type"] == "LookupError"), None))
    event = project.api(f"/issues/{issue['id']}").json()["event"]
    assert event["source_ref"] == {"commit": None, "source": "default_branch"}
    assert _frames(event)[0]["source_link"] == "https://gitlab.com/acme/api/-/blob/trunk/backend/api/views.py#L12"


def test_symbolicated_javascript_frames_link_to_the_original_file(
    project: TestProject, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("app.min.js", "app.min.js.map"):
        (tmp_path / name).write_bytes((MAPS / "dist-1.0.0" / name).read_bytes())
    code = errata(
        [
            "sourcemaps",
            "upload",
            "--api",
            project.base_url,
            "--token",
            project.api_token,
            "--project",
            project.project_id,
            "--release",
            "web@1.0.0",
            str(tmp_path),
        ]
    )
    assert code == 0, capsys.readouterr()
    _put_mappings(
        project,
        {
            "stack_root": "src/",
            "repository_url": "https://bitbucket.org/acme/web",
            "provider": "bitbucket",
            "source_root": "frontend/src/",
        },
    )
    assert project.call("POST", "/deploys", {"release": "web@1.0.0", "commit": SHA}).status_code == 201
    captured = json.loads((MAPS / "dist-1.0.0" / "class_method.frames.json").read_text())
    project.store(node_crash_event(captured, "web@1.0.0"))

    event = _only_issue(project)["event"]
    crash = _frames(event)[-1]
    assert crash["filename"] == "src/service.js" and crash["data"]["symbolicated"]
    assert (
        crash["source_link"]
        == f"https://bitbucket.org/acme/web/src/{SHA}/frontend/src/service.js#lines-{crash['lineno']}"
    )


def test_a_java_text_trace_links_its_packages_as_folders(project: TestProject) -> None:
    _put_mappings(
        project, {"stack_root": "com.acme.", "repository_url": REPOSITORY, "source_root": "src/main/java/com/acme/"}
    )
    assert project.call("POST", "/deploys", {"release": "orders@5.0.0", "commit": SHA}).status_code == 201
    project.store({"platform": "java", "release": "orders@5.0.0", "message": "request failed\n" + JAVA_TRACE})

    frames = {frame["function"]: frame for frame in _frames(_only_issue(project)["event"])}
    assert frames["shippingLabel"]["source_link"] == (
        f"{REPOSITORY}/blob/{SHA}/src/main/java/com/acme/shop/OrderService.java#L44"
    )
    assert frames["label"]["source_link"].endswith("/src/main/java/com/acme/shop/OrderController.java#L31")
    assert "source_link" not in frames["run"]
    assert "java/lang/Thread.java" in frames["run"]["source_link_reason"]


def _github_hook(
    project: TestProject, event: str, payload: dict[str, Any], secret: str, delivery: str
) -> requests.Response:
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return requests.post(
        f"{project.base_url}/api/hooks/github/{project.project_id}",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": signature,
            "User-Agent": "GitHub-Hookshot/044aadd",
        },
        timeout=10,
    )


def _deployment_status(sha: str, state: str = "success") -> dict[str, Any]:
    """The parts of GitHub's `deployment_status` event (docs.github.com, webhook events and payloads)."""
    return {
        "action": "created",
        "deployment_status": {
            "id": 1,
            "state": state,
            "environment": "production",
            "environment_url": "https://shop.example",
            "log_url": "https://ci.example/1",
        },
        "deployment": {
            "id": 42,
            "sha": sha,
            "ref": "main",
            "task": "deploy",
            "environment": "production",
            "payload": {},
        },
        "repository": {"full_name": "acme/shop", "html_url": REPOSITORY},
        "sender": {"login": "octocat"},
    }


def _deploys(project: TestProject, release: str) -> list[dict[str, Any]]:
    found = next((r for r in project.api("/releases").json()["releases"] if r["version"] == release), None)
    return found["deploys"] if found else []


def test_github_deployments_are_recorded_once_and_only_when_signed(project: TestProject) -> None:
    configured = project.call("PUT", "/integrations/github", {"release_prefix": "shop@"})
    assert configured.status_code == 200, configured.text
    secret = configured.json()["generated_secret"]
    assert configured.json()["webhook_url"] == f"{project.base_url}/api/hooks/github/{project.project_id}"
    listed = project.api("/integrations").json()["integrations"]
    assert listed[0]["kind"] == "github" and listed[0]["generated_secret"] is None and secret not in json.dumps(listed)

    delivery = str(uuid.uuid4())
    wrong = _github_hook(project, "deployment_status", _deployment_status(SHA), "not-the-secret-at-all", delivery)
    assert wrong.status_code == 401 and wrong.headers["Content-Type"].startswith("application/problem+json")
    assert _deploys(project, f"shop@{SHA}") == []

    recorded = _github_hook(project, "deployment_status", _deployment_status(SHA), secret, delivery)
    assert recorded.status_code == 200 and recorded.json()["outcome"] == "recorded", recorded.text
    replayed = _github_hook(project, "deployment_status", _deployment_status(SHA), secret, delivery)
    assert replayed.json()["outcome"] == "duplicate"
    [deploy] = _deploys(project, f"shop@{SHA}")
    assert (deploy["commit"], deploy["environment"], deploy["provider"]) == (SHA, "production", "github")

    pending = _github_hook(project, "deployment_status", _deployment_status(SHA, "pending"), secret, str(uuid.uuid4()))
    assert pending.json()["outcome"] == "ignored"
    ping = _github_hook(project, "ping", {"zen": "Keep it logically awesome.", "hook_id": 1}, secret, str(uuid.uuid4()))
    assert ping.status_code == 200 and ping.json()["outcome"] == "ignored"

    release = {
        "action": "published",
        "release": {"tag_name": "2.0.0", "target_commitish": "main", "html_url": f"{REPOSITORY}/releases/tag/2.0.0"},
    }
    assert _github_hook(project, "release", release, secret, str(uuid.uuid4())).json()["outcome"] == "recorded"
    [tagged] = _deploys(project, "shop@2.0.0")
    assert tagged["ref"] == "2.0.0" and "commit" not in tagged  # `main` is a branch, not the tag's commit

    assert project.call("DELETE", "/integrations/github").status_code == 204
    gone = _github_hook(project, "deployment_status", _deployment_status("b" * 40), secret, str(uuid.uuid4()))
    assert gone.status_code == 401


def test_gitlab_deployments_are_recorded_once_and_only_with_the_token(project: TestProject) -> None:
    token = "gitlab-token-0123456789abcdef"
    assert project.call("PUT", "/integrations/gitlab", {"token": token}).json()["generated_secret"] is None
    payload = {  # GitLab's deployment event (docs.gitlab.com, webhook events)
        "object_kind": "deployment",
        "status": "success",
        "status_changed_at": "2026-12-02 10:00:00 +0000",
        "deployment_id": 15,
        "deployable_id": 796,
        "deployable_url": "https://gitlab.com/acme/api/-/jobs/796",
        "environment": "staging",
        "project": {"id": 30, "web_url": "https://gitlab.com/acme/api"},
        "short_sha": SHA[:8],
        "commit_url": f"https://gitlab.com/acme/api/-/commit/{SHA}",
        "commit_title": "Fix the order total",
        "ref": "main",
    }

    def send(sent_token: str) -> requests.Response:
        return requests.post(
            f"{project.base_url}/api/hooks/gitlab/{project.project_id}",
            json=payload,
            headers={
                "X-Gitlab-Event": "Deployment Hook",
                "X-Gitlab-Token": sent_token,
                "X-Gitlab-Event-UUID": str(uuid.uuid4()),
            },
            timeout=10,
        )

    assert send("wrong-token").status_code == 401
    assert _deploys(project, SHA) == []
    assert send(token).json()["outcome"] == "recorded"
    assert send(token).json()["outcome"] == "duplicate"  # GitLab retries with a new event UUID: same deployment
    [deploy] = _deploys(project, SHA)
    assert (deploy["commit"], deploy["environment"], deploy["ref"]) == (SHA, "staging", "main")


def test_code_mappings_are_validated(project: TestProject) -> None:
    bad = project.call("PUT", "/code-mappings", {"mappings": [{"stack_root": "/", "repository_url": "ftp://x"}]})
    assert bad.status_code == 422 and "http(s) URL" in bad.json()["detail"]
    escape = {"stack_root": "/", "repository_url": REPOSITORY, "source_root": "../etc"}
    assert project.call("PUT", "/code-mappings", {"mappings": [escape]}).status_code == 422
    _put_mappings(project, {"stack_root": "/srv/", "repository_url": REPOSITORY})
    assert project.api("/code-mappings").json()["mappings"][0]["default_branch"] == "main"
    assert project.call("DELETE", "/code-mappings").status_code == 204
    assert project.api("/code-mappings").json() == {"mappings": []}
