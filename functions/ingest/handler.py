"""Ingest: Sentry's `/api/{project_id}/envelope/` and `/store/` behind API Gateway (HTTP API, payload v2)."""

from __future__ import annotations

import base64
import json
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, CORSConfig, Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from errata.errors import ErrataError
from errata.function_metrics import function_metrics
from errata.ingest import Endpoint, IngestRequest, IngestService
from errata.problems import PROBLEM_JSON, problem
from errata.settings import Settings
from errata.store.event_stream import StreamUnavailable
from errata.wiring import Clients, ingest_service

logger = Logger(service="ingest")
metrics = function_metrics("ingest")
# Browser SDKs post cross-origin and authenticate with ?sentry_key=; they read the rate-limit headers of a
# 429 only when CORS exposes them.
app = APIGatewayHttpResolver(
    cors=CORSConfig(
        allow_origin="*",
        allow_headers=["X-Sentry-Auth", "Content-Encoding"],
        expose_headers=["Retry-After", "X-Sentry-Rate-Limits"],
    )
)


@cache
def service() -> IngestService:
    return ingest_service(Settings.from_env(), Clients())


def _ingest(project_id: str, endpoint: Endpoint) -> dict[str, Any]:
    event = app.current_event
    body = event.body or ""
    raw = base64.b64decode(body) if event.is_base64_encoded else body.encode()
    request = IngestRequest(
        project_id=project_id,
        endpoint=endpoint,
        headers={name.lower(): value for name, value in (event.headers or {}).items()},
        query=event.query_string_parameters or {},
        body=raw,
    )
    result = service().ingest(request)
    # An accepted request publishes nothing: a metric is an EMF line in CloudWatch Logs, billed per byte, and
    # ~200 bytes a request was more than the rest of an event's logs. What was let in is counted anyway:
    # the quota's minute items (accepted, dropped), the processor's `events`, Lambda's own Invocations.
    return {"id": result.event_id} if result.event_id else {}


# Sentry's paths end in "/"; some SDKs (and proxies) drop it, so both forms are served.
@app.post("/api/<project_id>/envelope/")
@app.post("/api/<project_id>/envelope")
def envelope(project_id: str) -> dict[str, Any]:
    return _ingest(project_id, "envelope")


@app.post("/api/<project_id>/store/")
@app.post("/api/<project_id>/store")
def store(project_id: str) -> dict[str, Any]:
    return _ingest(project_id, "store")


@app.not_found
def not_found(_: Exception) -> Response[str]:
    # Behind a function URL every path reaches the function (behind the HTTP API only the ingest routes do).
    return Response(
        status_code=404,
        content_type=PROBLEM_JSON,
        body=json.dumps(problem(404, "no such endpoint: events go to /api/<project>/envelope/", "not_found")),
    )


@app.exception_handler(ErrataError)  # type: ignore[untyped-decorator]
def client_error(error: ErrataError) -> Response[str]:
    metrics.add_metric(name=f"Rejected_{error.code}", unit=MetricUnit.Count, value=1)
    logger.info("request rejected", extra={"code": error.code, "detail": error.detail})
    return Response(
        status_code=error.status_code,
        content_type=PROBLEM_JSON,
        body=json.dumps(problem(error.status_code, error.detail, error.code)),
        headers=error.headers(),
    )


@app.exception_handler(StreamUnavailable)  # type: ignore[untyped-decorator]
def stream_unavailable(error: StreamUnavailable) -> Response[str]:
    logger.error("stream unavailable", extra={"detail": str(error)})
    return Response(
        status_code=503,
        content_type=PROBLEM_JSON,
        body=json.dumps(problem(503, "temporarily unable to accept events", "unavailable")),
        headers={"Retry-After": "5"},
    )


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
