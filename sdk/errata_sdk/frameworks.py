"""Request capture for web apps and Lambda functions: each request gets its own scope (request details,
user), an exception escaping the app is captured as unhandled and re-raised, and a Lambda invocation
flushes before the runtime freezes the process."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from errata_sdk.client import _scope, current_scope, get_client, guarded
from errata_sdk.event import safe_str

F = TypeVar("F", bound=Callable[..., Any])
_HIDDEN_HEADERS = ("authorization", "cookie", "x-api-key", "x-forwarded-for", "x-real-ip")


@guarded()
def _request_context(environ: dict[str, Any]) -> dict[str, Any]:
    client = get_client()
    send_pii = bool(client and client.options.send_default_pii)
    headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").title()
            headers[name] = value if send_pii or name.lower() not in _HIDDEN_HEADERS else "[Filtered]"
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
    return {
        "method": environ.get("REQUEST_METHOD"),
        "url": f"{scheme}://{host}{environ.get('SCRIPT_NAME', '')}{environ.get('PATH_INFO', '')}",
        "query_string": environ.get("QUERY_STRING", ""),
        "headers": headers,
    }


@guarded()
def _capture_unhandled(error: BaseException, request: dict[str, Any] | None) -> None:
    client = get_client()
    if client is None:
        return
    if request:
        current_scope().request = request
    client.capture_exception(error, level="error", handled=False)


class ErrataWsgiMiddleware:
    """`app.wsgi_app = ErrataWsgiMiddleware(app.wsgi_app)` (Flask), or wrap any WSGI callable."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        token = _scope.set(current_scope().copy())
        request = _request_context(environ)
        current_scope().request = request
        if environ.get("REMOTE_USER") and not current_scope().user:
            current_scope().user = {"username": safe_str(environ["REMOTE_USER"], 200)}
        outcome = "exited"
        try:
            result = self.app(environ, start_response)
            if current_scope().request_errored:
                outcome = "errored"
            return result
        except Exception as error:
            outcome = "crashed"
            _capture_unhandled(error, request)
            raise
        finally:
            _record_session(outcome)
            _scope.reset(token)


@guarded()
def _asgi_request(scope: dict[str, Any]) -> dict[str, Any]:
    client = get_client()
    send_pii = bool(client and client.options.send_default_pii)
    headers = {}
    for raw_name, raw_value in scope.get("headers") or []:
        name = raw_name.decode("latin-1").title()
        value = raw_value.decode("latin-1")
        headers[name] = value if send_pii or name.lower() not in _HIDDEN_HEADERS else "[Filtered]"
    host = headers.get("Host", "")
    return {
        "method": scope.get("method"),
        "url": f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}{scope.get('path', '')}",
        "query_string": (scope.get("query_string") or b"").decode("latin-1"),
        "headers": headers,
    }


class ErrataAsgiMiddleware:
    """`app.add_middleware(ErrataAsgiMiddleware)` (FastAPI/Starlette), or wrap any ASGI app."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        token = _scope.set(current_scope().copy())
        request = _asgi_request(scope)
        current_scope().request = request
        outcome = "exited"
        try:
            await self.app(scope, receive, send)
            if current_scope().request_errored:
                outcome = "errored"
        except Exception as error:
            outcome = "crashed"
            route = getattr(scope.get("route"), "path", None)  # Starlette's matched route, once routed
            if route:
                current_scope().transaction = f"{scope.get('method')} {route}"
            _capture_unhandled(error, request)
            raise
        finally:
            _record_session(outcome)
            _scope.reset(token)


def lambda_handler(function: F) -> F:
    """Decorate a Lambda handler: exceptions are captured and the SDK flushes before the runtime freezes."""

    @functools.wraps(function)
    def wrapper(event: Any, context: Any) -> Any:
        token = _scope.set(current_scope().copy())
        try:
            current_scope().tags["aws_request_id"] = str(getattr(context, "aws_request_id", ""))
            return function(event, context)
        except Exception as error:
            _capture_unhandled(error, None)
            raise
        finally:
            _flush_before_freeze(context)
            _scope.reset(token)

    return wrapper  # type: ignore[return-value]


@guarded()
def _record_session(outcome: str) -> None:
    client = get_client()
    if client is not None:
        client.sessions.record(outcome)


@guarded()
def _flush_before_freeze(context: Any) -> None:
    client = get_client()
    if client is None:
        return
    remaining = getattr(context, "get_remaining_time_in_millis", lambda: 3000)() / 1000
    client.transport.flush(max(0.1, min(2.0, remaining - 0.5)))


def install_asyncio_handler(loop: asyncio.AbstractEventLoop) -> None:
    """Exceptions asyncio only logs (a task nobody awaited) are captured too."""
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        if isinstance(error, BaseException):
            _capture_unhandled(error, None)
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


__all__ = ["ErrataAsgiMiddleware", "ErrataWsgiMiddleware", "install_asyncio_handler", "lambda_handler"]
