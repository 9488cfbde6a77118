"""A Cognito user pool in the embedded AWS (moto's cognito-idp), for the dashboard's sign-in tests: the API
of the session stack is pointed at it for one test, then back to API tokens only."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

import errata.api.context
from errata_local.stack import LocalStack, StackInfo

if TYPE_CHECKING:
    from tests.conftest import TestProject

PASSWORD = "Correct-horse-42!"
DOMAIN_URL = "https://errata-test.auth.us-east-1.amazoncognito.com"


@dataclass(frozen=True)
class Pool:
    pool_id: str
    client_id: str
    issuer: str
    cognito: Any

    def person(self, *groups: str, client_id: str | None = None) -> str:
        """A new user in `groups`, signed in: their access token."""
        name = f"user-{uuid.uuid4().hex[:8]}"
        self.cognito.admin_create_user(UserPoolId=self.pool_id, Username=name, TemporaryPassword=PASSWORD + "t")
        self.cognito.admin_set_user_password(UserPoolId=self.pool_id, Username=name, Password=PASSWORD, Permanent=True)
        for group in groups:
            self.cognito.admin_add_user_to_group(UserPoolId=self.pool_id, Username=name, GroupName=group)
        result = self.cognito.initiate_auth(
            ClientId=client_id or self.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD},
        )["AuthenticationResult"]
        return str(result["AccessToken"])

    def id_token(self) -> str:
        name = f"user-{uuid.uuid4().hex[:8]}"
        self.cognito.admin_create_user(UserPoolId=self.pool_id, Username=name, TemporaryPassword=PASSWORD + "t")
        self.cognito.admin_set_user_password(UserPoolId=self.pool_id, Username=name, Password=PASSWORD, Permanent=True)
        self.cognito.admin_add_user_to_group(UserPoolId=self.pool_id, Username=name, GroupName="errata:project:admin")
        result = self.cognito.initiate_auth(
            ClientId=self.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD},
        )["AuthenticationResult"]
        return str(result["IdToken"])


def _groups(project_id: str) -> list[str]:
    return [
        "errata:project:admin",
        f"errata:{project_id}:project:read",
        f"errata:{project_id}:project:write",
    ]


@pytest.fixture
def pool(stack: LocalStack, info: StackInfo, project: TestProject, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pool]:
    cognito: Any = stack.client("cognito-idp")
    pool_id = cognito.create_user_pool(PoolName=f"errata-test-{uuid.uuid4().hex[:6]}")["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName="dashboard", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    for group in _groups(project.project_id):
        cognito.create_group(UserPoolId=pool_id, GroupName=group)
    issuer = f"https://cognito-idp.us-east-1.amazonaws.com/{pool_id}"
    endpoint = stack.client("sts").meta.endpoint_url  # type: ignore[attr-defined]
    # The API container's settings, as CDK's environment would give them (changed in place: rebuilding the
    # container would also rebuild its AWS clients from whatever endpoint the process's environment holds).
    settings = errata.api.context.wired()[0]
    monkeypatch.setattr(settings, "cognito_issuer", issuer)
    monkeypatch.setattr(settings, "cognito_client_id", client_id)
    monkeypatch.setattr(settings, "cognito_domain_url", DOMAIN_URL)
    monkeypatch.setattr(settings, "cognito_jwks_url", f"{endpoint}/{pool_id}/.well-known/jwks.json")
    errata.api.context.cognito.cache_clear()
    yield Pool(pool_id, client_id, issuer, cognito)
    monkeypatch.undo()
    errata.api.context.cognito.cache_clear()
