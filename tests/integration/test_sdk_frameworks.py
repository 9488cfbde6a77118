"""Errata's SDK in a Flask app, a Lambda handler and asyncio, against the local stack."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import errata_sdk
import pytest
from errata_sdk.client import get_client, set_client
from errata_sdk.frameworks import ErrataAsgiMiddleware, ErrataWsgiMiddleware, install_asyncio_handler, lambda_handler
from flask import Flask

from errata_local.lambda_context import LocalLambdaContext
from tests.integration.conftest import TestProject, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def sdk(project: TestProject, tmp_path: Path) -> Iterator[TestProject]:
    errata_sdk.init(dsn=project.dsn, release="shop@3.0.0", buffer_dir=str(tmp_path))
    yield project
    client = get_client()
    if client is not None:
        client.transport.close(2.0)
    set_client(None)


def _event_of(project: TestProject, issue_type: str) -> dict[str, Any]:
    issue = wait_for(lambda: next((i for i in project.issues() if i["type"] == issue_type), None))
    event: dict[str, Any] = project.api(f"/issues/{issue['id']}").json()["event"]
    return event


def test_a_flask_route_error_is_captured_with_its_request_and_user(sdk: TestProject) -> None:
    app = Flask("shop")
    app.wsgi_app = ErrataWsgiMiddleware(app.wsgi_app)  # type: ignore[method-assign]
    app.config["PROPAGATE_EXCEPTIONS"] = True

    @app.route("/cart/<int:cart_id>")
    def cart(cart_id: int) -> str:
        errata_sdk.set_user({"id": "buyer-7"})
        raise LookupError(f"cart {cart_id} vanished")

    with pytest.raises(LookupError):
        app.test_client().get("/cart/12?coupon=X", headers={"Authorization": "Bearer sk_live_zz"})
    errata_sdk.flush(5)
    event = _event_of(sdk, "LookupError")
    assert event["request"]["url"].endswith("/cart/12")
    assert event["request"]["query_string"] == "coupon=X"
    assert event["request"]["headers"]["Authorization"] == "[Filtered]"
    assert event["user"]["id"] == "buyer-7"
    assert event["release"] == "shop@3.0.0"
    frames = event["exception"]["values"][-1]["stacktrace"]["frames"]
    assert frames[-1]["function"] == "cart"
    assert frames[-1]["in_app"] is True
    assert any(not frame["in_app"] for frame in frames), "flask's own frames are not in-app"
    assert event["exception"]["values"][-1]["mechanism"]["handled"] is False


def test_a_lambda_handler_error_is_captured_and_flushed_before_returning(sdk: TestProject) -> None:
    @lambda_handler
    def handle(event: dict[str, Any], context: Any) -> None:
        raise TimeoutError(f"downstream timed out for {event['order']}")

    with pytest.raises(TimeoutError):
        handle({"order": 5}, LocalLambdaContext(function_name="orders"))
    client = get_client()
    assert client is not None
    assert client.spool.pending() == 0, "sent before the handler returned, as Lambda may freeze right after"
    event = _event_of(sdk, "TimeoutError")
    assert event["tags"]["aws_request_id"]


def test_an_exception_only_asyncio_sees_is_captured(sdk: TestProject) -> None:
    loop = asyncio.new_event_loop()
    try:
        install_asyncio_handler(loop)
        error = ConnectionResetError("peer went away")
        loop.call_exception_handler({"message": "Task exception was never retrieved", "exception": error})
    finally:
        loop.close()
    errata_sdk.flush(5)
    assert _event_of(sdk, "ConnectionResetError")["exception"]["values"][-1]["value"] == "peer went away"


def test_logging_errors_become_events_and_records_breadcrumbs(sdk: TestProject) -> None:
    import logging

    log = logging.getLogger("shop.checkout")
    log.warning("inventory low for sku %s", "X1")
    try:
        {}["price"]
    except KeyError:
        log.exception("pricing failed")
    errata_sdk.flush(5)
    event = _event_of(sdk, "KeyError")
    crumbs = [crumb.get("message") for crumb in event["breadcrumbs"]["values"]]
    assert "inventory low for sku X1" in crumbs


def test_the_wsgi_middleware_reports_request_mode_sessions_for_release_health(sdk: TestProject) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        path = environ["PATH_INFO"]
        if path == "/crash":
            raise RuntimeError("unhandled in a request")
        if path == "/handled":
            errata_sdk.capture_message("handled trouble", level="warning")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    wrapped = ErrataWsgiMiddleware(app)
    environ = {"REQUEST_METHOD": "GET", "wsgi.url_scheme": "http", "HTTP_HOST": "shop", "QUERY_STRING": ""}
    for path in ("/a", "/b", "/c", "/handled"):
        wrapped({**environ, "PATH_INFO": path}, lambda *args: None)
    with pytest.raises(RuntimeError):
        wrapped({**environ, "PATH_INFO": "/crash"}, lambda *args: None)
    errata_sdk.flush(5)

    def release_row() -> dict[str, Any] | None:
        rows = sdk.api("/traffic", hours=2).json()["traffic"]
        row = next((r for r in rows if r["dimension"] == "release" and r["value"] == "shop@3.0.0"), None)
        return row if row and row.get("sessions") == 5 else None

    row = wait_for(release_row)
    assert (row["sessions"], row["errored"], row["crashed"]) == (5, 1, 1)


def test_an_asgi_app_crash_is_captured_with_its_request_and_session(sdk: TestProject) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise ZeroDivisionError("asgi boom")

    wrapped = ErrataAsgiMiddleware(app)
    scope = {
        "type": "http",
        "method": "POST",
        "scheme": "https",
        "path": "/api/pay",
        "query_string": b"retry=1",
        "headers": [(b"host", b"shop.example.com"), (b"authorization", b"Bearer sk_live_q")],
    }

    async def noop(*args: Any) -> None:
        return None

    with pytest.raises(ZeroDivisionError):
        asyncio.run(wrapped(scope, noop, noop))
    errata_sdk.flush(5)
    event = _event_of(sdk, "ZeroDivisionError")
    assert event["request"]["url"] == "https://shop.example.com/api/pay"
    assert event["request"]["headers"]["Authorization"] == "[Filtered]"
    rows = wait_for(lambda: [r for r in sdk.api("/traffic", hours=2).json()["traffic"] if r.get("crashed")])
    assert rows[0]["crashed"] == 1


def test_scope_is_per_thread_and_per_task_and_fingerprint_groups(sdk: TestProject) -> None:
    import threading

    errata_sdk.set_tag("shared", "yes")
    seen: dict[str, Any] = {}

    def worker() -> None:
        errata_sdk.set_user({"id": "thread-user"})
        seen["thread"] = errata_sdk.client.current_scope().user

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen["thread"] == {"id": "thread-user"}
    assert errata_sdk.client.current_scope().user is None, "another thread's user does not leak here"

    async def task(name: str) -> Any:
        errata_sdk.set_tag("task", name)
        await asyncio.sleep(0)
        return errata_sdk.client.current_scope().tags["task"]

    async def both() -> list[Any]:
        return list(await asyncio.gather(task("a"), task("b")))

    assert asyncio.run(both()) == ["a", "b"]

    errata_sdk.set_fingerprint(["payments-provider-down"])
    errata_sdk.capture_exception(ConnectionError("provider A down"))
    errata_sdk.capture_exception(TimeoutError("provider B slow"))
    errata_sdk.flush(5)
    issue = wait_for(lambda: next((i for i in sdk.issues() if i["count"] == 2), None))
    assert issue["type"] in ("ConnectionError", "TimeoutError")


def test_the_deploy_sha_from_the_environment_is_in_every_event(
    sdk: TestProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_SHA", "3f2c1ab")
    errata_sdk.capture_message("with a deploy")
    errata_sdk.flush(5)
    issue = wait_for(lambda: next(iter(sdk.issues()), None))
    event = sdk.api(f"/issues/{issue['id']}").json()["event"]
    assert event["contexts"]["deploy"] == {"sha": "3f2c1ab"}
