"""Deploys from GitHub and GitLab webhooks: verified, then read as release boundaries.

GitHub signs the raw body with the webhook's secret (`X-Hub-Signature-256: sha256=<HMAC-SHA256 hex>`);
GitLab sends the secret token itself (`X-Gitlab-Token`). Both are compared in constant time. A delivery
carries an id that stays the same when it is redelivered (`X-GitHub-Delivery`; GitLab's deployment id),
which is what makes a replay record nothing new.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from errata.models.issue import Deploy
from errata.source_control.links import looks_like_commit


class WebhookRejected(Exception):
    """Not signed by the project's secret: 401, and nothing is stored."""


class InvalidWebhook(ValueError):
    """Signed, but not a body this hook can read: 400."""


@dataclass(frozen=True)
class HookDelivery:
    delivery_id: str
    deploy: Deploy | None  # None: a delivery Errata does not record (a ping, a failed deployment)
    ignored_reason: str = ""


def _header(headers: dict[str, str], name: str) -> str:
    return next((value for key, value in headers.items() if key.lower() == name.lower()), "")


def verify_github(secret: str, body: bytes, headers: dict[str, str]) -> None:
    signature = _header(headers, "X-Hub-Signature-256")
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not signature or not hmac.compare_digest(signature.encode(), expected.encode()):
        raise WebhookRejected("X-Hub-Signature-256 does not match the project's webhook secret")


def verify_gitlab(token: str, headers: dict[str, str]) -> None:
    sent = _header(headers, "X-Gitlab-Token")
    if not sent or not hmac.compare_digest(sent.encode(), token.encode()):
        raise WebhookRejected("X-Gitlab-Token is not the project's webhook token")


def _json(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except ValueError:
        raise InvalidWebhook("the body is not JSON") from None
    if not isinstance(payload, dict):
        raise InvalidWebhook("the body is not a JSON object")
    return payload


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def github_delivery(headers: dict[str, str], body: bytes, release_prefix: str) -> HookDelivery:
    """`deployment_status` (success) and `release` (published) become deploys; anything else is ignored."""
    delivery_id = _header(headers, "X-GitHub-Delivery")[:100]
    event = _header(headers, "X-GitHub-Event")
    if not delivery_id:
        raise InvalidWebhook("X-GitHub-Delivery is missing")
    payload = _json(body)
    if event == "deployment_status":
        status, deployment = payload.get("deployment_status") or {}, payload.get("deployment") or {}
        if status.get("state") != "success":
            return HookDelivery(delivery_id, None, f"deployment state {status.get('state')!r} is not success")
        sha = deployment.get("sha")
        if not looks_like_commit(sha):
            raise InvalidWebhook("deployment.sha is not a commit SHA")
        extra = deployment.get("payload")
        named = extra.get("release") if isinstance(extra, dict) else None
        release = _text(named, 200) or f"{release_prefix}{sha}"[:200]
        deploy = Deploy(
            release=release,
            environment=_text(status.get("environment") or deployment.get("environment"), 64),
            commit=sha,
            ref=_text(deployment.get("ref"), 200),
            url=_text(status.get("environment_url") or status.get("log_url") or status.get("target_url"), 2048),
            provider="github",
        )
        return HookDelivery(delivery_id, deploy)
    if event == "release":
        release_info = payload.get("release") or {}
        if payload.get("action") not in ("published", "released"):
            return HookDelivery(delivery_id, None, f"release action {payload.get('action')!r} is not published")
        tag = _text(release_info.get("tag_name"), 150)
        if tag is None:
            raise InvalidWebhook("release.tag_name is missing")
        target = release_info.get("target_commitish")
        deploy = Deploy(
            release=f"{release_prefix}{tag}"[:200],
            commit=target if looks_like_commit(target) else None,
            ref=tag,
            url=_text(release_info.get("html_url"), 2048),
            provider="github",
        )
        return HookDelivery(delivery_id, deploy)
    return HookDelivery(delivery_id, None, f"GitHub event {event or 'without a name'!r} is not recorded")


def gitlab_delivery(headers: dict[str, str], body: bytes, release_prefix: str) -> HookDelivery:
    """A successful `Deployment Hook` becomes a deploy; the commit is the tail of its `commit_url`."""
    payload = _json(body)
    if payload.get("object_kind") != "deployment":
        kind = payload.get("object_kind")
        return HookDelivery(f"event:{_header(headers, 'X-Gitlab-Event-UUID')[:100]}", None, f"{kind!r} is not recorded")
    deployment_id = payload.get("deployment_id")
    if not isinstance(deployment_id, int):
        raise InvalidWebhook("deployment_id is missing")
    delivery_id = f"deployment:{deployment_id}"  # one deployment succeeds once, however often it is delivered
    if payload.get("status") != "success":
        return HookDelivery(delivery_id, None, f"deployment status {payload.get('status')!r} is not success")
    commit_url = payload.get("commit_url")
    sha = commit_url.rstrip("/").rsplit("/", 1)[-1] if isinstance(commit_url, str) else None
    if not looks_like_commit(sha):
        raise InvalidWebhook("commit_url does not end in a commit SHA")
    deploy = Deploy(
        release=f"{release_prefix}{sha}"[:200],
        environment=_text(payload.get("environment"), 64),
        commit=sha,
        ref=_text(payload.get("ref"), 200),
        url=_text(payload.get("environment_external_url") or payload.get("deployable_url"), 2048),
        provider="gitlab",
    )
    return HookDelivery(delivery_id, deploy)
