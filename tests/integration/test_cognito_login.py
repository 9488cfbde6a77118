"""Dashboard sign-in through a Cognito user pool: access tokens issued by the embedded AWS's cognito-idp
(moto, signed with its key and served at its JWKS address), checked by the API like a deployed stage's."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
import requests
from moto.utilities.utils import load_resource

from errata_local.stack import LocalStack
from tests.cognito_pool import DOMAIN_URL, Pool
from tests.integration.conftest import TestProject

pytestmark = pytest.mark.integration


def _get(project: TestProject, token: str, path: str = "/issues", project_id: str | None = None) -> requests.Response:
    return requests.get(
        f"{project.base_url}/api/projects/{project_id or project.project_id}{path}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def _patch(project: TestProject, token: str, body: dict[str, Any]) -> requests.Response:
    return requests.patch(
        f"{project.base_url}/api/projects/{project.project_id}",
        headers={"Authorization": f"Bearer {token}"},
        json=body,
        timeout=10,
    )


def test_the_page_learns_the_hosted_ui_and_may_call_its_token_endpoint(pool: Pool, project: TestProject) -> None:
    login = requests.get(f"{project.base_url}/api/login", timeout=10).json()
    assert login == {
        "method": "cognito",
        "authorize_url": f"{DOMAIN_URL}/oauth2/authorize",
        "token_url": f"{DOMAIN_URL}/oauth2/token",
        "logout_url": f"{DOMAIN_URL}/logout",
        "client_id": pool.client_id,
    }
    policy = requests.get(f"{project.base_url}/", timeout=10).headers["Content-Security-Policy"]
    assert f"connect-src 'self' {DOMAIN_URL};" in policy


def test_without_a_pool_the_page_asks_for_an_api_token(project: TestProject) -> None:
    assert requests.get(f"{project.base_url}/api/login", timeout=10).json() == {"method": "token"}
    assert "connect-src" not in requests.get(f"{project.base_url}/", timeout=10).headers["Content-Security-Policy"]


def test_a_groups_scope_holds_on_its_project_only(pool: Pool, project: TestProject, stack: LocalStack) -> None:
    reader = pool.person(f"errata:{project.project_id}:project:read")
    assert _get(project, reader).status_code == 200
    refused = _patch(project, reader, {"sample_size": 5})
    assert refused.status_code == 403
    assert "project:admin is needed" in refused.json()["detail"]
    other = _get(project, reader, project_id="999999")
    assert other.status_code == 403
    assert other.json()["detail"] == "you have no access to project 999999"
    writer = pool.person(f"errata:{project.project_id}:project:read", f"errata:{project.project_id}:project:write")
    assert _get(project, writer).status_code == 200
    assert _patch(project, writer, {"sample_size": 5}).status_code == 403  # write is not admin
    admin = pool.person("errata:project:admin")
    assert _patch(project, admin, {"sample_size": 5}).status_code == 200
    assert _get(project, pool.person()).status_code == 401  # signed in, but in no errata group
    assert _get(project, project.api_token).status_code == 200  # API tokens work beside the pool


def test_tokens_that_are_not_this_clients_access_tokens_are_refused(pool: Pool, project: TestProject) -> None:
    assert _get(project, pool.id_token()).status_code == 401  # an ID token is not an access token
    other_client = pool.cognito.create_user_pool_client(
        UserPoolId=pool.pool_id, ClientName="another app", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    assert _get(project, pool.person("errata:project:admin", client_id=other_client)).status_code == 401
    genuine = pool.person("errata:project:admin")
    claims = jwt.decode(genuine, options={"verify_signature": False})
    # Signed with the embedded pool's own key (as moto ships it), so only the claim under test is wrong.
    key = load_resource("cognitoidp/resources/jwks-private.json")
    signing_key = jwt.PyJWK(key).key

    def signed(**changes: Any) -> str:
        return jwt.encode({**claims, **changes}, signing_key, algorithm="RS256", headers={"kid": "dummy"})

    assert _get(project, signed()).status_code == 200  # the re-signed token itself is good
    assert _get(project, signed(exp=int(time.time()) - 120)).status_code == 401
    assert _get(project, signed(iss="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other")).status_code == 401
    tampered = genuine.rsplit(".", 1)[0] + "." + signed().rsplit(".", 1)[1][::-1]
    assert _get(project, tampered).status_code == 401
    response = _get(project, signed(exp=int(time.time()) - 120))
    assert response.headers["Content-Type"].startswith("application/problem+json")
