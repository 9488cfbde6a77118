"""/api/login: how the page signs a person in on this stage (public: it holds no secret)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from errata.api.context import wired
from errata.cognito import CognitoLogin

router = Router()  # type: ignore[no-untyped-call]


def cognito_login() -> CognitoLogin | None:
    settings = wired()[0]
    if not (settings.cognito_domain_url and settings.cognito_client_id):
        return None
    return CognitoLogin(settings.cognito_domain_url.rstrip("/"), settings.cognito_client_id)


@router.get("/api/login")
def login_method() -> dict[str, str]:
    """`{"method": "token"}`: paste an API token; or `{"method": "cognito", ...}`: the user pool's hosted
    UI (authorization code with PKCE) for this app client, and API tokens still work beside it."""
    login = cognito_login()
    return login.for_page() if login else {"method": "token"}
