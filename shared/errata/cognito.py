"""Dashboard sign-in with a stage's Cognito user pool (infra config `dashboard_login = "cognito"`).

The page signs a person in through the pool's hosted UI (authorization code with PKCE, a public client) and
sends the access token as its bearer token; the API checks its signature against the pool's JSON Web Keys,
its issuer, expiry, `token_use` and app client, then grants the scopes of the person's groups
(errata.store.projects.grant_of_groups)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import jwt

from errata.store.projects import ApiToken, grant_of_groups

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CognitoLogin:
    """What the page needs to send a person to the hosted UI and back (public: no secret in it)."""

    domain_url: str  # https://<prefix>.auth.<region>.amazoncognito.com
    client_id: str

    def for_page(self) -> dict[str, str]:
        return {
            "method": "cognito",
            "authorize_url": f"{self.domain_url}/oauth2/authorize",
            "token_url": f"{self.domain_url}/oauth2/token",
            "logout_url": f"{self.domain_url}/logout",
            "client_id": self.client_id,
        }


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")


class CognitoVerifier:
    def __init__(self, issuer: str, client_id: str, jwks_url: str = "") -> None:
        self._issuer = issuer.rstrip("/")
        self._client_id = client_id
        # The keys are fetched once and kept an hour per container (a key rotation picks up a new `kid`).
        self._keys = jwt.PyJWKClient(jwks_url or f"{self._issuer}/.well-known/jwks.json", lifespan=3600, timeout=5)

    def grant(self, token: str) -> ApiToken | None:
        """The grant of a valid access token of this pool's app client, else None."""
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                issuer=self._issuer,
                options={"require": ["exp", "iss", "token_use"], "verify_aud": False},  # access tokens: no aud
                leeway=30,
            )
        except jwt.PyJWKClientError as exc:
            logger.warning("the user pool's keys could not be read: %s", exc)
            return None
        except jwt.PyJWTError:
            return None
        if claims.get("token_use") != "access" or claims.get("client_id") != self._client_id:
            return None
        groups = claims.get("cognito:groups") or []
        name = str(claims.get("username") or claims.get("sub") or "")
        return grant_of_groups(name, [group for group in groups if isinstance(group, str)])
