"""API Gateway (HTTP API, payload format 2.0) in front of the same handlers Lambda runs: each HTTP request
becomes the event API Gateway would send; the handler's answer becomes the HTTP response. The platform's
size limits hold here as on AWS (a body API Gateway or Lambda would refuse never reaches a handler), so what
works locally works deployed."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.wrappers import Request, Response

from errata.limits import API_GATEWAY_MAX_BODY_BYTES, LAMBDA_MAX_REQUEST_BYTES
from errata_local.lambda_context import LocalLambdaContext

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
INGEST_ROUTE = re.compile(r"^/api/[^/]+/(envelope|store)/?$")
_TEXT_TYPES = ("text/", "application/json", "application/javascript")


def api_gateway_event(request: Request, stage: str = "$default") -> dict[str, Any]:
    body = request.get_data(cache=False)
    content_type = request.headers.get("Content-Type", "")
    # API Gateway base64-encodes bodies unless they are uncompressed text.
    is_text = content_type.startswith(_TEXT_TYPES) and not request.headers.get("Content-Encoding")
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    # API Gateway tells the function how the client connected, as X-Forwarded-Proto/-Port/-For.
    headers.setdefault("x-forwarded-proto", request.scheme)
    headers.setdefault("x-forwarded-for", request.remote_addr or "127.0.0.1")
    query = dict(parse_qsl(request.query_string.decode(), keep_blank_values=True))
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": request.path,
        "rawQueryString": request.query_string.decode(),
        "cookies": [f"{k}={v}" for k, v in request.cookies.items()] or None,
        "headers": headers,
        "queryStringParameters": query or None,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": request.host,
            "domainPrefix": "local",
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "sourceIp": request.remote_addr or "127.0.0.1",
                "userAgent": request.headers.get("User-Agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": stage,
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": (body.decode() if is_text else base64.b64encode(body).decode()) if body else None,
        "isBase64Encoded": bool(body) and not is_text,
    }


def http_response(result: dict[str, Any]) -> Response:
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    response = Response(data, status=int(result.get("statusCode", 200)))
    for name, value in (result.get("headers") or {}).items():
        response.headers[name] = value
    for name, values in (result.get("multiValueHeaders") or {}).items():
        for value in values:
            response.headers.add(name, value)
    for cookie in result.get("cookies") or []:
        response.headers.add("Set-Cookie", cookie)
    return response


class Gateway:
    """A WSGI app that routes ingest paths to the ingest handler and everything else to the API handler."""

    def __init__(self, ingest: Handler, api: Handler, on_ingest: Callable[[], None] = lambda: None) -> None:
        self._ingest = ingest
        self._api = api
        self._on_ingest = on_ingest  # the poller's wake-up: records may be on the stream

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        is_ingest = INGEST_ROUTE.match(request.path) is not None
        handler, name = (self._ingest, "ingest") if is_ingest else (self._api, "api")
        refusal = _platform_refusal(request)
        if refusal is not None:
            return refusal(environ, start_response)
        event = api_gateway_event(request)
        near_limit = len(event.get("body") or "") > LAMBDA_MAX_REQUEST_BYTES // 2
        if near_limit and len(json.dumps(event)) > LAMBDA_MAX_REQUEST_BYTES:
            # Lambda refuses the invocation: the function never runs (errata.limits).
            return _aws_error(413, "Request Too Long")(environ, start_response)
        result = handler(event, LocalLambdaContext(function_name=f"errata-local-{name}"))
        if is_ingest:
            self._on_ingest()
        return http_response(result)(environ, start_response)


def _platform_refusal(request: Request) -> Response | None:
    """What API Gateway answers before any function runs: a body over its 10 MB limit (errata.limits). Read
    up to the limit only, as API Gateway does not buffer more either."""
    length = request.content_length
    if length is not None and length > API_GATEWAY_MAX_BODY_BYTES:
        return _aws_error(413, f"HTTP content length exceeded {API_GATEWAY_MAX_BODY_BYTES} bytes.")
    return None


def _aws_error(status: int, message: str) -> Response:
    return Response(json.dumps({"message": message}), status=status, content_type="application/json")
