"""A project's integrations: their settings (secrets split off into SSM), and the deploy webhooks that use
them."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from errata.models.integrations import (
    SECRET_FIELDS,
    HookProvider,
    HookResult,
    IntegrationKind,
    IntegrationView,
)
from errata.source_control.webhooks import (
    HookDelivery,
    WebhookRejected,
    github_delivery,
    gitlab_delivery,
    verify_github,
    verify_gitlab,
)
from errata.store.integrations import IntegrationStore
from errata.store.releases import ReleaseStore
from errata.store.secrets import SecretStore
from errata.timefmt import utc_now


class IntegrationSettings:
    def __init__(self, integrations: IntegrationStore, secrets_store: SecretStore) -> None:
        self._integrations = integrations
        self._secrets = secrets_store

    def put(self, project_id: str, kind: IntegrationKind, body: BaseModel) -> IntegrationView:
        """Saves the settings; the secret goes to SSM. A webhook without a secret gets a generated one,
        returned in this answer only."""
        values: dict[str, Any] = body.model_dump()
        secret = values.pop(SECRET_FIELDS[kind])
        generated = None
        if secret is None:
            generated = secret = secrets.token_hex(24)
        self._secrets.put(project_id, kind, secret)
        settings = {key: str(value) for key, value in values.items()}
        self._integrations.put_integration(project_id, kind, settings)
        return IntegrationView(kind=kind, settings=settings, generated_secret=generated)

    def views(self, project_id: str) -> list[IntegrationView]:
        found = self._integrations.integrations(project_id)
        return [IntegrationView(kind=kind, settings=settings) for kind, settings in sorted(found.items())]

    def delete(self, project_id: str, kind: IntegrationKind) -> bool:
        self._secrets.delete(project_id, kind)
        return self._integrations.delete_integration(project_id, kind)


class DeployHooks:
    """GitHub and GitLab deliveries: verified against the project's secret, then recorded once."""

    def __init__(
        self, integrations: IntegrationStore, secrets_store: SecretStore, releases: ReleaseStore, dynamodb: Any
    ) -> None:
        self._integrations = integrations
        self._secrets = secrets_store
        self._releases = releases
        self._dynamodb = dynamodb

    def receive(
        self, project_id: str, provider: HookProvider, headers: dict[str, str], body: bytes, now: datetime | None = None
    ) -> HookResult:
        settings = self._integrations.integration(project_id, provider)
        secret = self._secrets.get(project_id, provider) if settings is not None else None
        if settings is None or secret is None:
            # The same answer as a wrong signature: a hook URL tells nobody which projects exist.
            raise WebhookRejected(f"no {provider} webhook is set up for this project with that secret")
        prefix = settings.get("release_prefix", "")
        delivery: HookDelivery
        if provider == "github":
            verify_github(secret, body, headers)
            delivery = github_delivery(headers, body, prefix)
        else:
            verify_gitlab(secret, headers)
            delivery = gitlab_delivery(headers, body, prefix)
        if delivery.deploy is None:
            return HookResult(outcome="ignored", reason=delivery.ignored_reason)
        moment = now or utc_now()
        deploy = delivery.deploy.model_dump(exclude_none=True)
        try:
            self._dynamodb.transact_write_items(
                TransactItems=[
                    self._integrations.delivery_claim(project_id, provider, delivery.delivery_id, moment),
                    self._releases.deploy_update(project_id, deploy, moment),
                ]
            )
        except self._dynamodb.exceptions.TransactionCanceledException as exc:
            reasons = [reason.get("Code") for reason in exc.response.get("CancellationReasons", [])]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                return HookResult(
                    outcome="duplicate", reason="this delivery was recorded before", release=deploy["release"]
                )
            raise
        return HookResult(outcome="recorded", release=deploy["release"])
