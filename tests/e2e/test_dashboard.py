"""The dashboard in a real headless Chromium (Debian's, driven by Playwright), against the local stack fed
by the real sentry-sdk: a newcomer's triage, from the list to the stack trace to resolving."""

from __future__ import annotations

import base64
import hashlib
import inspect
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import sentry_sdk
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, expect, sync_playwright

from tests.cognito_pool import DOMAIN_URL, Pool
from tests.integration.conftest import TestProject, wait_for
from tests.integration.vendors import FakeJira

pytestmark = pytest.mark.integration

CHROMIUM = os.environ.get("ERRATA_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"
# As the machine's notes say: without the background-networking flags Chromium calls out to Google's hosts.
_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")  # Playwright's sync API holds an event loop: close it before other modules
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("console", lambda message: _console_error(message, errors))
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.errors = errors  # type: ignore[attr-defined]
    yield opened
    context.close()


def _console_error(message: ConsoleMessage, errors: list[str]) -> None:
    if message.type == "error":
        errors.append(message.text)


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)


class CheckoutError(Exception):
    pass


def charge_card(order: dict[str, Any]) -> None:
    try:
        order["card"]
    except KeyError as missing:
        raise CheckoutError("card declined") from missing


def parse_size(text: str) -> int:
    return int(text)


@pytest.fixture
def triage(project: TestProject) -> TestProject:
    """Three issues a support engineer would meet: one hit by two customers five times, one by carol."""
    sentry_sdk.init(dsn=project.dsn, release="shop@2.0.0", environment="prod", default_integrations=False)
    for n in range(5):
        with sentry_sdk.isolation_scope() as scope:
            scope.set_user({"id": "alice" if n % 2 else "bob", "email": f"customer{n % 2}@example.com"})
            scope.set_tag("route", "/checkout")
            scope.set_extra("cart_items", 3)
            sentry_sdk.add_breadcrumb(category="http", message="POST /api/cart 200")
            try:
                charge_card({"id": n})
            except CheckoutError as exc:
                sentry_sdk.capture_exception(exc)
    for _ in range(2):
        with sentry_sdk.isolation_scope() as scope:
            scope.set_user({"id": "carol"})
            try:
                parse_size("XL")
            except ValueError as exc:
                sentry_sdk.capture_exception(exc)
    try:
        raise TimeoutError("inventory service")
    except TimeoutError as exc:
        sentry_sdk.capture_exception(exc)
    sentry_sdk.flush(timeout=5)
    wait_for(lambda: sum(issue["count"] for issue in project.issues()) == 8 or None, timeout=20)
    sentry_sdk.get_client().close()
    return project


def _open(page: Page, project: TestProject, hash_path: str = "") -> None:
    page.goto(f"{project.base_url}/?token={project.api_token}#/projects/{project.project_id}/issues{hash_path}")


def test_the_list_shows_grouped_issues_by_frequency_and_drops_the_token_from_the_address(
    page: Page, triage: TestProject
) -> None:
    _open(page, triage)
    rows = page.locator("#issues tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0).locator(".issue-title")).to_have_text("CheckoutError: card declined")
    expect(rows.nth(0).locator(".count")).to_have_text("5")
    expect(rows.nth(1).locator(".issue-title")).to_have_text("ValueError: invalid literal for int() with base 10: 'XL'")
    expect(rows.nth(2).locator(".count")).to_have_text("1")
    expect(rows.nth(0).locator("time").first).to_have_text("just now")
    expect(rows.nth(0).locator(".spark canvas")).to_have_count(1)
    assert "token=" not in page.url
    _shot(page, "issues")
    page.select_option("#sort", "impact")  # two customers' checkout error reaches the most people
    expect(rows.nth(0).locator(".issue-title")).to_have_text("CheckoutError: card declined")
    assert "sort=impact" in page.url
    page.select_option("#filter-level", "warning")  # a filter writes the search box's own word
    expect(page.locator("#search")).to_have_value("is:unresolved level:warning")
    expect(rows).to_have_text(["No issues match."])
    page.select_option("#filter-level", "error")
    expect(rows).to_have_count(3)
    page.fill("#filter-release", "shop@9.9.9")
    page.press("#filter-release", "Tab")
    expect(page.locator("#search")).to_have_value("is:unresolved level:error release:shop@9.9.9")
    expect(rows).to_have_text(["No issues match."])
    page.select_option("#filter-is", "")
    expect(page.locator("#search")).to_have_value("level:error release:shop@9.9.9")
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_issue_page_renders_the_chain_the_frames_and_the_histogram(page: Page, triage: TestProject) -> None:
    _open(page, triage)
    page.get_by_role("link", name="CheckoutError: card declined").click()
    expect(page.locator("#issue-title")).to_have_text("CheckoutError: card declined")
    expect(page.locator("#issue-count")).to_have_text("5")
    expect(page.locator("#issue-users")).to_have_text("2")
    expect(page.locator("#first-release")).to_have_text("shop@2.0.0")
    expect(page.locator("#root-cause")).to_have_text("grouped by its root cause KeyError: 'card'")
    exceptions = page.locator(".exception")
    expect(exceptions).to_have_count(2)
    expect(exceptions.nth(0).locator(".head")).to_contain_text("CheckoutError: card declined")
    expect(exceptions.nth(1).locator(".head")).to_contain_text("root cause")
    crash = exceptions.nth(0).locator("details.frame.app").first
    expect(crash).to_have_attribute("open", "")
    expect(crash.locator("span.hit")).to_contain_text('raise CheckoutError("card declined") from missing')
    expect(page.locator("#histogram canvas")).to_have_count(1)
    expect(page.locator("#tags")).to_contain_text("route")
    environment = page.locator('#tag-breakdown [data-tag="environment"]')
    expect(environment.locator(".label")).to_have_text(["prod"])
    expect(environment.locator(".share")).to_have_text(["100%"])
    expect(page.locator('#tag-breakdown [data-tag="route"] .label')).to_have_text(["/checkout"])
    expect(page.locator('#tag-breakdown [data-tag="release"] .label')).to_have_text(["shop@2.0.0"])
    stray = "() => [...document.getElementById('app').childNodes].filter((n) => n.nodeType === 3).map((n) => n.data)"
    assert page.evaluate(stray) == []  # the absent deploy and tickets leave no text (it once said "null")
    expect(page.locator("#event")).to_contain_text("POST /api/cart 200")
    expect(page.locator("#event")).to_contain_text("cart_items")
    expect(page.locator("#event-position")).to_contain_text("event 1 of")
    _shot(page, "issue")
    assert page.errors == []  # type: ignore[attr-defined]


def test_resolving_changes_the_status_and_survives_a_reload(page: Page, triage: TestProject) -> None:
    _open(page, triage)
    page.get_by_role("link", name="CheckoutError: card declined").click()
    page.locator("#resolve").click()
    expect(page.locator("[data-status]").first).to_have_text("resolved")
    page.reload()
    expect(page.locator("#issue-title")).to_have_text("CheckoutError: card declined")
    expect(page.locator("[data-status]").first).to_have_text("resolved")
    expect(page.locator("#unresolve")).to_be_visible()
    page.get_by_role("link", name="← Issues").click()
    expect(page.locator("#issues tbody tr")).to_have_count(2)  # the list shows unresolved issues by default
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_user_search_finds_the_customers_issues(page: Page, triage: TestProject) -> None:
    _open(page, triage)
    expect(page.locator("#issues tbody tr")).to_have_count(3)
    page.locator("#search").fill("user:carol")
    page.locator("#search").press("Enter")
    rows = page.locator("#issues tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator(".issue-title")).to_contain_text("ValueError")
    page.locator("#search").fill("user:customer0@example.com")
    page.locator("#search").press("Enter")
    expect(rows).to_have_count(1)
    expect(rows.first.locator(".issue-title")).to_have_text("CheckoutError: card declined")
    _shot(page, "user-search")
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_wrong_token_shows_the_login_page_and_no_data(page: Page, triage: TestProject) -> None:
    page.goto(f"{triage.base_url}/?token=not-a-token#/projects/{triage.project_id}/issues")
    expect(page.locator("#login-error")).to_contain_text("not accepted")
    expect(page.locator("#issues")).to_have_count(0)
    assert "CheckoutError" not in page.content()
    page.locator("#login-token").fill(triage.api_token)
    page.locator("#login-project").fill(triage.project_id)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#issues tbody tr")).to_have_count(3)
    _shot(page, "login")
    # The only console errors: the browser's own line for the refused request.
    assert all("401" in error for error in page.errors), page.errors  # type: ignore[attr-defined]


def test_the_users_page_lists_every_issue_a_customer_hit(page: Page, triage: TestProject) -> None:
    page.goto(f"{triage.base_url}/?token={triage.api_token}#/projects/{triage.project_id}/users")
    page.locator("#user-search").fill("customer1@example.com")
    page.locator("#user-search").press("Enter")
    rows = page.locator("#user-issues tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator(".issue-title")).to_have_text("CheckoutError: card declined")
    expect(rows.first.locator("td.num")).to_have_text("2")  # alice hit it twice of the five
    page.locator("#user-search").fill("nobody")
    page.locator("#user-search").press("Enter")
    expect(page.locator("#user-issues")).to_contain_text("No issues for nobody.")
    assert page.errors == []  # type: ignore[attr-defined]


def test_ignoring_until_more_events_is_kept_on_the_issue(page: Page, triage: TestProject) -> None:
    _open(page, triage)
    page.get_by_role("link", name="TimeoutError: inventory service").click()
    page.locator("#ignore-kind").select_option("count")
    page.locator("#ignore").click()
    expect(page.locator("[data-status]").first).to_have_text("ignored")
    issue = next(i for i in triage.issues() if i["title"] == "TimeoutError: inventory service")
    assert issue["status"] == "ignored"
    assert page.errors == []  # type: ignore[attr-defined]


def test_settings_keys_quota_and_a_rule_preview(page: Page, triage: TestProject) -> None:
    page.goto(f"{triage.base_url}/?token={triage.api_token}#/projects/{triage.project_id}/settings")
    keys = page.locator("#keys tr")
    expect(keys).to_have_count(1)
    expect(keys.first).to_contain_text(triage.public_key)
    page.locator("#create-key").click()
    expect(keys).to_have_count(2)
    new_dsn = keys.nth(1).locator("code").inner_text()
    assert new_dsn.startswith("http://") and new_dsn.endswith(f"/{triage.project_id}")
    assert triage.public_key not in new_dsn
    keys.nth(1).locator(".revoke").click()
    expect(keys).to_have_count(1)

    page.locator("#sample-size").fill("7")
    page.locator("#save-settings").click()
    expect(page.locator("#settings-message")).to_have_text("Saved.")
    assert triage.api("").json()["settings"]["sample_size"] == 7

    page.locator("#fingerprint-rules").fill("error.type:TimeoutError -> timeouts")
    page.locator("#preview-rules").click()
    preview = page.locator("#rules-preview")
    expect(preview).to_contain_text("1 of the 3 most recent issues would be regrouped")
    expect(preview.locator("li")).to_contain_text("TimeoutError: inventory service")
    page.locator("#fingerprint-rules").fill("error.type:TimeoutError ->")
    page.locator("#preview-rules").click()
    expect(preview.locator(".error")).to_contain_text("line 1")
    expect(page.locator("#alert-rules tr")).to_have_count(2)  # the defaults
    _shot(page, "settings")
    assert page.errors == [] or all("400" in e for e in page.errors), page.errors  # type: ignore[attr-defined]


def test_a_code_mapping_set_in_settings_links_frames_and_a_jira_ticket_is_filed_from_the_issue(
    page: Page, triage: TestProject, jira: FakeJira
) -> None:
    sha = "c0ffee1234567890c0ffee1234567890c0ffee12"
    page.goto(f"{triage.base_url}/?token={triage.api_token}#/projects/{triage.project_id}/settings")
    page.locator("#mapping-stack-root").fill(f"{REPO_ROOT}/")
    page.locator("#mapping-repository").fill("https://github.com/acme/shop")
    page.locator("#add-mapping button").click()
    expect(page.locator("#code-mappings tr")).to_have_count(1)
    assert triage.api("/code-mappings").json()["mappings"][0]["repository_url"] == "https://github.com/acme/shop"
    jira_settings = {"site_url": jira.base, "email": "ops@example.com", "api_token": "jira-token", "project_key": "OPS"}
    assert triage.call("PUT", "/integrations/jira", jira_settings).status_code == 200
    assert triage.call("POST", "/deploys", {"release": "shop@2.0.0", "environment": "prod", "commit": sha}).ok

    _open(page, triage)
    page.get_by_role("link", name="CheckoutError: card declined").click()
    line = inspect.getsourcelines(charge_card)[1] + 4  # the raise
    link = page.locator(".exception").nth(0).locator("details.frame.app").first.locator(".source-link")
    expect(link).to_have_attribute(
        "href", f"https://github.com/acme/shop/blob/{sha}/tests/e2e/test_dashboard.py#L{line}"
    )
    expect(page.locator("#first-seen-in")).to_contain_text("shop@2.0.0")
    expect(page.locator("#first-seen-in")).to_contain_text(sha[:12])
    page.locator("#ticket-jira").click()
    expect(page.locator("#tickets .ticket")).to_have_text(re.compile(r"^Jira OPS-\d+$"))
    expect(page.locator("#ticket-jira")).to_have_count(0)
    _shot(page, "issue-linked")

    page.goto(f"{triage.base_url}/#/projects/{triage.project_id}/releases")
    expect(page.locator("#releases .deploys")).to_contain_text(f"prod @ {sha[:8]}")
    expect(page.locator("#releases td.users")).to_have_text(["3"])  # alice, bob and carol hit shop@2.0.0
    assert page.errors == []  # type: ignore[attr-defined]


def test_signing_in_through_the_user_pools_hosted_ui_with_pkce(page: Page, project: TestProject, pool: Pool) -> None:
    """The hosted UI itself is not in the embedded AWS: the browser's request to it is caught and checked
    against Cognito's authorize endpoint's documented parameters, and the code comes back as the hosted UI
    sends it. The token endpoint's answer carries a real access token of the embedded pool, which the API
    verifies as it would on AWS."""
    authorize: list[str] = []
    page.route(f"{DOMAIN_URL}/oauth2/authorize**", lambda route: (authorize.append(route.request.url), route.abort()))
    page.goto(f"{project.base_url}/#/projects/{project.project_id}/issues")
    page.locator("#sign-in").click()
    wait_for(lambda: authorize or None, timeout=10)
    sent = parse_qs(urlparse(authorize[0]).query)
    assert sent["response_type"] == ["code"] and sent["client_id"] == [pool.client_id]
    assert sent["redirect_uri"] == [f"{project.base_url}/"] and sent["scope"] == ["openid email"]
    assert sent["code_challenge_method"] == ["S256"] and len(sent["code_challenge"][0]) == 43

    access_token = pool.person(f"errata:{project.project_id}:project:read")
    exchanged: list[dict[str, list[str]]] = []

    def token_endpoint(route: Route) -> None:
        exchanged.append(parse_qs(route.request.post_data or ""))
        route.fulfill(
            status=200,
            content_type="application/json",
            headers={"Access-Control-Allow-Origin": project.base_url},
            body=json.dumps({"access_token": access_token, "token_type": "Bearer", "expires_in": 3600}),
        )

    page.route(f"{DOMAIN_URL}/oauth2/token", token_endpoint)
    page.goto(f"{project.base_url}/?code=the-code&state={sent['state'][0]}")
    expect(page.locator("#issues")).to_be_visible()
    assert "code=" not in page.url and "state=" not in page.url
    (form,) = exchanged
    verifier = form["code_verifier"][0]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    assert challenge == sent["code_challenge"][0]  # the verifier matches what was committed to
    assert form["grant_type"] == ["authorization_code"] and form["code"] == ["the-code"]
    assert form["client_id"] == [pool.client_id] and form["redirect_uri"] == [f"{project.base_url}/"]
    page.goto(f"{project.base_url}/?code=replayed&state=forged")  # a code this tab did not ask for
    expect(page.locator("#login-error")).to_contain_text("did not come back from the page that started it")
    assert [e for e in page.errors if "ERR_FAILED" not in e] == []  # type: ignore[attr-defined]
