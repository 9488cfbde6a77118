"""`errata demo`: a few realistic errors sent to a running `errata dev`, so a newcomer sees a populated
dashboard in a minute. Everything goes through the real protocol: the sentry-sdk for the Python service
(a Flask request that fails with a chained error, a user-specific error, a warning, sessions), and a
minified Node crash whose source map is uploaded first with the same uploader as `errata sourcemaps
upload`."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import requests
import sentry_sdk
from errata_sdk import artifacts
from flask import Flask, request
from sentry_sdk.integrations.flask import FlaskIntegration
from sentry_sdk.session import Session

ASSETS = Path(__file__).with_name("demo_assets")
API_RELEASE = "shop-api@2.4.0"
WEB_RELEASE = "shop-web@1.0.0"


class PaymentDeclined(Exception):
    pass


def _shop() -> Flask:
    """A tiny shop whose checkout fails when the card is missing (a KeyError wrapped by the app)."""
    shop = Flask("shop")

    @shop.post("/checkout")
    def checkout() -> str:
        order = request.get_json(force=True)
        try:
            return str(order["card"]["number"])
        except KeyError as missing:
            raise PaymentDeclined(f"order {order.get('id')} has no card") from missing

    @shop.get("/invoices/<invoice_id>")
    def invoice(invoice_id: str) -> str:
        if request.headers.get("X-User") == "carol@example.com":
            raise PermissionError(f"invoice {invoice_id} belongs to another account")
        return "ok"

    return shop


def node_crash_event(captured: dict[str, Any], release: str) -> dict[str, Any]:
    """A Node SDK's event for a crash whose V8 call sites were captured (tests/fixtures/sourcemaps)."""
    frames = [
        {
            "function": f["text"].split(" (", 1)[0] if " (" in f["text"] else "<anonymous>",
            "abs_path": f["filename"],
            "lineno": f["lineno"],
            "colno": f["colno"],
            "in_app": not f["filename"].startswith("node:"),
        }
        for f in captured["frames"]
        if f["filename"]
    ]
    return {
        "event_id": uuid.uuid4().hex,
        "platform": "node",
        "release": release,
        "exception": {
            "values": [{"type": captured["type"], "value": captured["value"], "stacktrace": {"frames": frames}}]
        },
    }


def run(state_file: Path) -> int:
    if not state_file.exists():
        print(f"No running `make dev` found ({state_file} is missing): start `make dev` first.")
        return 1
    state = json.loads(state_file.read_text())
    base_url, dsn, token, project = state["base_url"], state["dsn"], state["api_token"], state["project_id"]
    try:
        requests.get(f"{base_url}/api/openapi.json", timeout=3).raise_for_status()
    except requests.RequestException:
        print(f"`make dev` does not answer at {base_url}: start it first (the state in {state_file} is stale).")
        return 1

    web = [
        artifacts.Artifact(ASSETS / name, f"~/{name}", kind, (ASSETS / name).stat().st_size, None)
        for name, kind in (("app.min.js", "minified_source"), ("app.min.js.map", "source_map"))
    ]
    artifacts.upload(base_url, token, project, WEB_RELEASE, web)

    sentry_sdk.init(
        dsn=dsn,
        release=API_RELEASE,
        environment="production",
        integrations=[FlaskIntegration()],
        default_integrations=False,
    )
    client = _shop().test_client()
    for n in range(6):
        with sentry_sdk.isolation_scope() as scope:
            scope.set_user(
                {"id": ["alice", "bob", "erin"][n % 3], "email": f"{['alice', 'bob', 'erin'][n % 3]}@example.com"}
            )
            sentry_sdk.add_breadcrumb(category="cart", message=f"added {n + 1} items")
            client.post("/checkout", json={"id": 1000 + n, "items": n + 1})
    for n in range(3):
        with sentry_sdk.isolation_scope() as scope:
            scope.set_user({"id": "carol", "email": "carol@example.com"})
            client.get(f"/invoices/{4200 + n}", headers={"X-User": "carol@example.com"})
    sentry_sdk.capture_message("payment provider slow: 2300 ms for an authorisation", level="warning")
    for n in range(20):
        session = Session(release=API_RELEASE, environment="production")
        session.close(status="crashed" if n < 2 else "exited")
        sentry_sdk.get_client().capture_session(session)
    sentry_sdk.flush(timeout=10)
    sentry_sdk.get_client().close()

    public_key = dsn.split("//", 1)[1].split("@", 1)[0]
    requests.post(
        f"{base_url}/api/{project}/store/",
        data=json.dumps(
            node_crash_event(json.loads((ASSETS / "class_method.frames.json").read_text()), WEB_RELEASE)
            | {"environment": "production", "user": {"id": "dave"}}
        ),
        headers={"X-Sentry-Auth": f"Sentry sentry_version=7, sentry_key={public_key}"},
        timeout=10,
    ).raise_for_status()
    time.sleep(1)
    print("Sent: a checkout crash with a chained cause (6 events, 3 users), a permission error only carol hits,")
    print("a slow-provider warning, 20 sessions (2 crashed) and a minified Node crash with its source map.")
    print(f"Open {base_url}/?token={token}#/projects/{project}/issues")
    return 0
