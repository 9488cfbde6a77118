"""The real sentry-sdk, pointed at the local stack by DSN, read back through the dashboard API."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import pytest
import sentry_sdk
from flask import Flask
from sentry_sdk.integrations.flask import FlaskIntegration

from errata_local.stack import LocalStack, StackInfo
from tests.integration.conftest import TestProject, wait_for

pytestmark = pytest.mark.integration

# Kept here, far from the crash site, so the source context lines sent with the crash do not carry them.
BEARER_SECRET = "sk_live_9f8e7d6c5b4a"
COOKIE_SECRET = "cookie-secret-55"
QUERY_SECRET = "qs-secret-77"


@pytest.fixture
def sdk(project: TestProject) -> Iterator[TestProject]:
    sentry_sdk.init(dsn=project.dsn, release="shop@1.4.0", environment="test", default_integrations=False)
    yield project
    sentry_sdk.flush(timeout=5)
    sentry_sdk.get_client().close()


def _issue_with(project: TestProject, predicate: Any) -> dict[str, Any] | None:
    return next((issue for issue in project.issues() if predicate(issue)), None)


class UserNotFound(LookupError):
    pass


def find_user(user_id: int) -> None:
    raise UserNotFound(f"user {user_id} not found")


def test_fifty_crashes_that_differ_only_in_ids_are_one_issue(sdk: TestProject) -> None:
    for n in range(50):
        sentry_sdk.set_user({"id": f"user-{n % 7}"})
        try:
            find_user(n * 7919)
        except UserNotFound as exc:
            sentry_sdk.capture_exception(exc)
    try:
        {}["missing"]
    except KeyError as exc:
        sentry_sdk.capture_exception(exc)
    sentry_sdk.flush(timeout=5)

    issues = wait_for(lambda: (lambda i: i if sum(x["count"] for x in i) == 51 else None)(sdk.issues()))
    assert len(issues) == 2
    by_type = {issue["type"]: issue for issue in issues}
    crash = by_type["UserNotFound"]
    assert crash["count"] == 50
    assert crash["user_count"] == 7
    assert crash["first_release"] == crash["last_release"] == "shop@1.4.0"
    assert crash["status"] == "unresolved"
    assert crash["culprit"].endswith(" in find_user")
    assert crash["first_seen"].endswith("Z") and crash["first_seen"] <= crash["last_seen"]
    assert by_type["KeyError"]["count"] == 1
    assert [issue["type"] for issue in issues] == ["UserNotFound", "KeyError"], "sorted by frequency"


class PaymentError(Exception):
    pass


def charge(amount: str) -> int:
    try:
        return int(amount)
    except ValueError as exc:
        raise PaymentError("cannot charge") from exc


def test_a_chained_exception_groups_by_its_root_cause_and_keeps_the_chain(sdk: TestProject) -> None:
    for amount in ("12abc", "x9"):
        try:
            charge(amount)
        except PaymentError as exc:
            sentry_sdk.capture_exception(exc)
    sentry_sdk.flush(timeout=5)
    issue = wait_for(lambda: _issue_with(sdk, lambda i: i["count"] == 2))
    assert issue["type"] == "ValueError"
    detail = sdk.api(f"/issues/{issue['id']}").json()
    chain = [value["type"] for value in detail["event"]["exception"]["values"]]
    assert chain == ["ValueError", "PaymentError"]
    frames = detail["event"]["exception"]["values"][-1]["stacktrace"]["frames"]
    assert frames[-1]["function"] == "charge"
    assert detail["event"]["release"] == "shop@1.4.0" and detail["event"]["environment"] == "test"


def test_a_message_becomes_an_issue(sdk: TestProject) -> None:
    sentry_sdk.capture_message("disk 91% full on volume 3", level="warning")
    sentry_sdk.capture_message("disk 97% full on volume 8", level="warning")
    sentry_sdk.flush(timeout=5)
    issue = wait_for(lambda: _issue_with(sdk, lambda i: i["count"] == 2))
    assert issue["type"] == "message" and issue["level"] == "warning"
    assert issue["title"].startswith("disk ")


def test_a_flask_route_error_keeps_user_and_request_but_never_the_credentials(
    stack: LocalStack, info: StackInfo, project: TestProject
) -> None:
    # send_default_pii=True: the SDK sends Authorization and Cookie as they are; the server must scrub them.
    sentry_sdk.init(dsn=project.dsn, release="web@2.0.0", integrations=[FlaskIntegration()], send_default_pii=True)
    app = Flask("shop")

    @app.route("/orders/<int:order_id>")
    def order(order_id: int) -> str:
        sentry_sdk.set_user({"id": "customer-42", "email": "ann@example.com"})
        raise RuntimeError(f"order {order_id} exploded")

    client = app.test_client()
    client.set_cookie("session", COOKIE_SECRET)
    response = client.get(
        f"/orders/7?page=2&token={QUERY_SECRET}", headers={"Authorization": f"Bearer {BEARER_SECRET}"}
    )
    assert response.status_code == 500
    sentry_sdk.flush(timeout=5)
    sentry_sdk.get_client().close()

    issue = wait_for(lambda: _issue_with(project, lambda i: i["type"] == "RuntimeError"))
    assert issue["user_count"] == 1
    event = project.api(f"/issues/{issue['id']}").json()["event"]
    assert event["user"]["id"] == "customer-42"
    assert event["request"]["url"].endswith("/orders/7")
    assert event["request"]["headers"]["Authorization"] == "[Filtered]"
    # The SDK moves the Cookie header into request.cookies when it sends PII.
    assert event["request"]["cookies"] == "[Filtered]"

    stored = _everything_stored(stack, info)
    for secret in (BEARER_SECRET, COOKIE_SECRET, QUERY_SECRET):
        assert secret not in stored
    assert "customer-42" in stored, "the scan does see stored events"


def _everything_stored(stack: LocalStack, info: StackInfo) -> str:
    """Every object in the payload bucket (batch objects decompressed) and every item in every table, as one
    string."""
    s3: Any = stack.client("s3")
    dynamodb: Any = stack.client("dynamodb")
    parts = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=info.settings.event_payloads_bucket):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=info.settings.event_payloads_bucket, Key=obj["Key"])["Body"].read()
            parts.append((gzip.decompress(body) if obj["Key"].endswith(".gz") else body).decode())
    for table in (
        info.settings.issues_table,
        info.settings.projects_table,
        info.settings.stream_positions_table,
    ):
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            parts.append(json.dumps(page["Items"], default=str))
    return "\n".join(parts)
