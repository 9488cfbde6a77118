"""Secrets a real sentry-sdk sends (in messages, log parameters, local variables, breadcrumbs, extra, the
server name and the transaction) appear in no answer of the API: not the stored event, and not what is
derived from it (title, culprit, routes, tags), which used to be built before scrubbing."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import sentry_sdk
from sentry_sdk.integrations.logging import LoggingIntegration

from tests.integration.conftest import TestProject, wait_for

pytestmark = pytest.mark.integration

PASSWORD = "hunter2x!"
SECRETS = {
    "password in a message": PASSWORD,
    "api key in a message": "abc123xyzKEY",
    "bearer token": "tok3nVALUE99",
    "card number": "4111111111111111",
    "query token": "resetTOKEN42",
    "signed url": "SIGabcdef12345",
    "db_pass": "db-s3cret-77",
    "passphrase": "open sesame 42",
    "aws access key": "AKIAIOSFODNN7EXAMPLE",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "stripe key": "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "github token": "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "ssn": "078-05-1120",
    "server name token": "hostTOKEN555",
    "free text password": "correct-horse-9",
}


@pytest.fixture
def sdk(project: TestProject) -> Iterator[TestProject]:
    sentry_sdk.init(
        dsn=project.dsn,
        release="vault@1.0.0",
        server_name=f"web-1 token={SECRETS['server name token']}",
        default_integrations=False,
        integrations=[LoggingIntegration(level=None, event_level=logging.ERROR)],
        include_local_variables=True,
    )
    yield project
    sentry_sdk.flush()
    sentry_sdk.init()


def _login(username: str, pw: str, card: str) -> None:
    raise PermissionError(
        f"login failed password={pw} api_key={SECRETS['api key in a message']} "
        f"Authorization: Bearer {SECRETS['bearer token']} card {card}"
    )


def _everything_the_api_answers(project: TestProject) -> str:
    texts = []
    for issue in project.issues():
        texts.append(str(issue))
        for path in ("", "/events", "/counts"):
            response = project.api(f"/issues/{issue['id']}{path}")
            assert response.status_code == 200, response.text
            texts.append(response.text)
    for path in ("/traffic", "/releases", "/releases/vault@1.0.0/issues"):
        texts.append(project.api(path).text)
    return "\n".join(texts)


def test_no_secret_reaches_any_field_the_api_returns(sdk: TestProject) -> None:
    sentry_sdk.add_breadcrumb(category="http", data={"url": f"https://cdn.example.com/f?sig={SECRETS['signed url']}"})
    with sentry_sdk.new_scope() as scope:
        scope.set_transaction_name(f"/reset?token={SECRETS['query token']}")
        scope.set_extra("db_pass", SECRETS["db_pass"])
        scope.set_extra("passphrase", SECRETS["passphrase"])
        scope.set_extra("config", {"aws": SECRETS["aws access key"], "session": SECRETS["jwt"]})
        scope.set_extra("notes", f"stripe {SECRETS['stripe key']} github {SECRETS['github token']}")
        scope.set_extra("customer", f"ssn {SECRETS['ssn']}")
        try:
            _login("bob", PASSWORD, SECRETS["card number"])
        except PermissionError:
            sentry_sdk.capture_exception()
        logging.getLogger("auth").error("login for %s with password %s", "bob", PASSWORD)
        sentry_sdk.capture_message(f"user said the password is {SECRETS['free text password']}")
    sentry_sdk.flush()

    def all_three() -> list[dict[str, Any]] | None:
        issues = sdk.issues()
        return issues if len(issues) == 3 else None

    issues = wait_for(all_three, timeout=30)
    answered = _everything_the_api_answers(sdk)
    leaked = {name: secret for name, secret in SECRETS.items() if secret in answered}
    assert leaked == {}
    # What was filtered is still said to be there, so the page shows where a secret was.
    titles = sorted(issue["title"] for issue in issues)
    assert any("password=[Filtered]" in title for title in titles), titles
    assert "login for bob with password [Filtered]" in titles
    culprits = {issue.get("culprit") for issue in issues}
    assert "/reset?token=[Filtered]" in culprits or any("[Filtered]" in str(c) for c in culprits), culprits


def test_ip_addresses_are_removed_when_the_project_asks(project: TestProject) -> None:
    """Relay's `scrubIpAddresses`: the user's address is removed (so IP-only users are not one user named
    [Filtered]) and addresses in text are filtered."""
    assert project.call("PATCH", "", {"scrub_ip_addresses": True}).json()["settings"]["scrub_ip_addresses"] is True
    project.store(
        {
            "message": "upstream 10.20.30.40 refused the connection",
            "user": {"id": "42", "ip_address": "203.0.113.9"},
            "request": {"env": {"REMOTE_ADDR": "203.0.113.9"}, "url": "https://shop.example.com/cart"},
        }
    )
    issue = wait_for(lambda: project.issues())[0]
    detail = project.api(f"/issues/{issue['id']}").text
    assert "203.0.113.9" not in detail and "10.20.30.40" not in detail
    assert issue["title"] == "upstream [Filtered] refused the connection"
    assert project.api("/users/42/issues").json()["issues"][0]["issue"]["id"] == issue["id"]  # still known
