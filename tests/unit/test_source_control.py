"""Links from frames to repository files, and webhook verification: the pure parts of source control."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from errata.models.integrations import CodeMapping, SourceRef
from errata.source_control.links import file_url, frame_link, link_event, repository_path, source_ref
from errata.source_control.webhooks import (
    InvalidWebhook,
    WebhookRejected,
    github_delivery,
    gitlab_delivery,
    verify_github,
    verify_gitlab,
)

SHA = "9fceb02d0ae598e95dc970b74767f19372d61af8"
AT_SHA = SourceRef(commit=SHA, source="deploy")


def _mapping(root: str, source_root: str = "", **extra: str) -> CodeMapping:
    return CodeMapping(stack_root=root, repository_url="https://github.com/acme/shop", source_root=source_root, **extra)


def test_the_longest_stack_root_wins() -> None:
    mappings = [_mapping("/srv/", "ops/"), _mapping("/srv/app/", "src/")]
    found = repository_path({"abs_path": "/srv/app/shop/cart.py"}, "python", mappings)
    assert found is not None and found[1] == "src/shop/cart.py"
    assert repository_path({"abs_path": "/srv/tools/run.py"}, "python", mappings) == (mappings[0], "ops/tools/run.py")


def test_module_prefixes_windows_paths_and_escapes() -> None:
    python = repository_path({"module": "shop.cart", "filename": "cart.py"}, "python", [_mapping("shop.", "src/shop/")])
    assert python is not None and python[1] == "src/shop/cart.py"
    windows = repository_path({"abs_path": "C:\\app\\shop\\cart.cs"}, "csharp", [_mapping("C:\\app\\")])
    assert windows is not None and windows[1] == "shop/cart.cs"
    # A path that climbs out of the mapping's folder is not linked into the rest of the repository.
    assert repository_path({"abs_path": "/srv/app/../../etc/passwd"}, None, [_mapping("/srv/app/")]) is None


def test_each_provider_has_its_url_form() -> None:
    assert file_url("github", "https://github.com/a/b", SHA, "src/x y.py", 3) == (
        f"https://github.com/a/b/blob/{SHA}/src/x%20y.py#L3"
    )
    assert (
        file_url("gitlab", "https://gitlab.com/a/b", "main", "x.py", 3) == "https://gitlab.com/a/b/-/blob/main/x.py#L3"
    )
    assert file_url("bitbucket", "https://bitbucket.org/a/b", "main", "x.py", None) == (
        "https://bitbucket.org/a/b/src/main/x.py"
    )


def test_the_ref_prefers_the_deploy_of_the_events_environment_then_the_release_then_the_branch() -> None:
    deploys = [{"environment": "staging", "commit": "a" * 40}, {"environment": "production", "commit": SHA}]
    assert source_ref("shop@1.0.0", deploys, "production") == AT_SHA
    assert source_ref("shop@1.0.0", deploys, "staging").commit == "a" * 40
    assert source_ref("shop@1.0.0", [{"ref": "v1.0.0"}], None) == SourceRef(commit="v1.0.0", source="deploy")
    assert source_ref(f"shop@{SHA[:12]}", [], None) == SourceRef(commit=SHA[:12], source="release")
    assert source_ref("shop@1.0.0", [], None) == SourceRef(source="default_branch")


def test_frames_without_a_link_say_why_and_vendor_frames_are_left_alone() -> None:
    assert frame_link({"abs_path": "/x.py"}, None, [], AT_SHA) == (None, "no code mappings are set for this project")
    assert frame_link({"function": "f"}, None, [_mapping("/srv/")], AT_SHA)[1] == "the frame has no file path or module"
    event = {
        "platform": "python",
        "exception": {
            "values": [
                {
                    "stacktrace": {
                        "frames": [
                            {"abs_path": "/usr/lib/python3.12/json/decoder.py", "in_app": False, "lineno": 3},
                            {"abs_path": "/srv/app/cart.py", "in_app": True, "lineno": 7},
                        ]
                    }
                }
            ]
        },
    }
    linked = link_event(event, [_mapping("/srv/app/", default_branch="trunk")], SourceRef(source="default_branch"))
    vendor, ours = linked["exception"]["values"][0]["stacktrace"]["frames"]
    assert "source_link" not in vendor and "source_link_reason" not in vendor
    assert ours["source_link"] == "https://github.com/acme/shop/blob/trunk/cart.py#L7"
    assert linked["source_ref"] == {"commit": None, "source": "default_branch"}


def _signed(secret: str, body: bytes) -> dict[str, str]:
    return {"X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def test_github_signatures_cover_every_byte_of_the_body() -> None:
    body = json.dumps({"zen": "Design for failure."}).encode()
    verify_github("s3cret-s3cret-s3cret", body, _signed("s3cret-s3cret-s3cret", body))
    with pytest.raises(WebhookRejected):
        verify_github("s3cret-s3cret-s3cret", body + b" ", _signed("s3cret-s3cret-s3cret", body))
    with pytest.raises(WebhookRejected):
        verify_github("s3cret-s3cret-s3cret", body, {})
    with pytest.raises(WebhookRejected):
        verify_gitlab("token-token-token", {"X-Gitlab-Token": "token-token-tokem"})
    verify_gitlab("token-token-token", {"x-gitlab-token": "token-token-token"})  # header names are case-blind


def test_deliveries_are_read_as_deploys_or_ignored_with_a_reason() -> None:
    headers = {"X-GitHub-Event": "deployment_status", "X-GitHub-Delivery": "d-1"}
    body = {"deployment_status": {"state": "success"}, "deployment": {"sha": SHA, "payload": {"release": "api@2.0"}}}
    delivery = github_delivery(headers, json.dumps(body).encode(), "ignored-prefix@")
    assert delivery.deploy is not None and delivery.deploy.release == "api@2.0"  # the deployment names it
    failed = {"deployment_status": {"state": "failure"}, "deployment": {"sha": SHA}}
    assert "is not success" in github_delivery(headers, json.dumps(failed).encode(), "").ignored_reason
    with pytest.raises(InvalidWebhook):
        github_delivery(headers, b"not json", "")
    with pytest.raises(InvalidWebhook):
        gitlab_delivery(
            {},
            json.dumps(
                {
                    "object_kind": "deployment",
                    "deployment_id": 1,
                    "status": "success",
                    "commit_url": "https://gitlab.com/a/-/commit/nope",
                }
            ).encode(),
            "",
        )
