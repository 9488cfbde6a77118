"""Ingest behind a Lambda function URL (a stage's `ingest_endpoint="function_url"`): the same handler takes the
function URL's request payload (docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html: version 2.0,
routeKey `$default`, no path parameters, every path of the host), so an SDK whose DSN names the URL's host
is served as behind the HTTP API."""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from errata_local.lambda_context import LocalLambdaContext
from functions.ingest import handler as ingest
from tests.integration.conftest import TestProject, wait_for

pytestmark = pytest.mark.integration
SAMPLES = Path(__file__).parent.parent / "fixtures" / "envelopes"


def _function_url_event(method: str, path: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    url_id = "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6"
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": f"{url_id}.lambda-url.us-east-1.on.aws", **{k.lower(): v for k, v in headers.items()}},
        "requestContext": {
            "accountId": "anonymous",
            "apiId": url_id,
            "domainName": f"{url_id}.lambda-url.us-east-1.on.aws",
            "domainPrefix": url_id,
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "sentry.python/2.19.0",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": "06/Dec/2026:23:10:00 +0000",
            "timeEpoch": 1796598600000,
        },
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
    }


def test_an_envelope_sent_to_the_function_url_becomes_an_issue(project: TestProject) -> None:
    event_id = uuid.uuid4().hex
    envelope = (SAMPLES / "01_event_chained_exception.envelope").read_bytes()
    envelope = envelope.replace(b"d031e97cf8cb42f0a1076ce79ef4afc6", event_id.encode())
    request = _function_url_event(
        "POST",
        f"/api/{project.project_id}/envelope/",
        gzip.compress(envelope),
        {"X-Sentry-Auth": f"Sentry sentry_key={project.public_key}", "Content-Encoding": "gzip"},
    )
    response = ingest.lambda_handler(request, LocalLambdaContext(function_name="ingest"))
    assert response["statusCode"] == 200, response
    assert json.loads(response["body"]) == {"id": event_id}
    issue = wait_for(lambda: next(iter(project.issues()), None))
    assert issue["title"] == "PaymentError: cannot charge customer cust_1"  # the chain's outermost exception


def test_the_function_url_answers_a_preflight_and_refuses_other_paths_and_keys(project: TestProject) -> None:
    context = LocalLambdaContext(function_name="ingest")
    preflight = _function_url_event(
        "OPTIONS",
        f"/api/{project.project_id}/envelope/",
        b"",
        {"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"},
    )
    answer = ingest.lambda_handler(preflight, context)
    assert answer["statusCode"] == 204 and answer["headers"]["Access-Control-Allow-Origin"] == "*"
    elsewhere = ingest.lambda_handler(_function_url_event("GET", "/wp-login.php", b"", {}), context)
    assert elsewhere["statusCode"] == 404
    assert elsewhere["headers"]["Content-Type"] == "application/problem+json"
    assert json.loads(elsewhere["body"])["code"] == "not_found"
    wrong_key = _function_url_event(
        "POST", f"/api/{project.project_id}/envelope/", b"{}\n", {"X-Sentry-Auth": "Sentry sentry_key=" + "0" * 32}
    )
    refused = ingest.lambda_handler(wrong_key, context)
    assert refused["statusCode"] == 403 and "application/problem+json" in refused["headers"]["Content-Type"]
