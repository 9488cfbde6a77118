"""Local stand-ins for Slack and PagerDuty that check each request against the vendor's documented shape
and answer as the vendor does (or with a 500, to test retries).

- Slack incoming webhooks (api.slack.com/messaging/webhooks, Block Kit reference): a JSON body with `text`
  and/or `blocks`; at most 50 blocks; a `header` block takes plain_text of at most 150 characters; a
  `section` has `text` and/or at most 10 `fields` of at most 2,000 characters; buttons in `actions` have
  plain_text of at most 75 characters and a `url` of at most 3,000. Answers `200 ok`.
- PagerDuty Events API v2 (developer.pagerduty.com, "Send an Alert Event"): POST /v2/enqueue with
  `routing_key` (32 characters), `event_action` (trigger, acknowledge, resolve) and `dedup_key` (at most
  255); a trigger needs `payload.summary` (at most 1,024), `payload.source` and `payload.severity` (critical,
  error, warning, info). Answers 202 `{"status": "success", "message": "Event processed", "dedup_key": ...}`.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Fake:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.rejected: list[str] = []
        self.failing: set[str] = set()  # paths (Slack) or routing keys (PagerDuty) that answer 500
        self.attempts: dict[str, int] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    fake._answer(self, 400, "invalid_payload", "text/plain")
                    return
                status, answer, kind = fake.handle(self.path, self.headers.get("Content-Type", ""), body)
                fake._answer(self, status, answer, kind)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self._server.server_port}"

    def _answer(self, handler: BaseHTTPRequestHandler, status: int, body: str, kind: str) -> None:
        data = body.encode()
        handler.send_response(status)
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def handle(self, path: str, content_type: str, body: Any) -> tuple[int, str, str]:
        raise NotImplementedError

    def __enter__(self) -> _Fake:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _shape_errors_slack(body: Any) -> list[str]:
    errors = []
    if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
        return ["no text and no blocks"]
    blocks = body.get("blocks", [])
    if not isinstance(blocks, list) or len(blocks) > 50:
        errors.append("blocks must be a list of at most 50")
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            text = block.get("text", {})
            if text.get("type") != "plain_text" or not 0 < len(text.get("text", "")) <= 150:
                errors.append("header needs plain_text of 1-150 characters")
        elif kind == "section":
            if "text" not in block and "fields" not in block:
                errors.append("section needs text or fields")
            fields = block.get("fields", [])
            if len(fields) > 10 or any(len(f.get("text", "")) > 2000 for f in fields):
                errors.append("section fields: at most 10 of at most 2000 characters")
            if "text" in block and block["text"].get("type") not in ("plain_text", "mrkdwn"):
                errors.append("section text type")
        elif kind == "context":
            if not 0 < len(block.get("elements", [])) <= 10:
                errors.append("context needs 1-10 elements")
        elif kind == "actions":
            for element in block.get("elements", []):
                if element.get("type") == "button" and (
                    len(element["text"]["text"]) > 75 or len(element.get("url", "")) > 3000
                ):
                    errors.append("button text or url too long")
        else:
            errors.append(f"unknown block type {kind!r}")
    return errors


class FakeSlack(_Fake):
    def handle(self, path: str, content_type: str, body: Any) -> tuple[int, str, str]:
        self.attempts[path] = self.attempts.get(path, 0) + 1
        if path in self.failing:
            return 500, "internal_error", "text/plain"
        errors = _shape_errors_slack(body)
        if not content_type.startswith("application/json"):
            errors.append("Content-Type must be application/json")
        if errors:
            self.rejected.extend(errors)
            return 400, "invalid_blocks", "text/plain"
        self.received.append({"path": path, **body})
        return 200, "ok", "text/plain"


class FakePagerDuty(_Fake):
    @property
    def url(self) -> str:
        return f"{self.base}/v2/enqueue"

    def handle(self, path: str, content_type: str, body: Any) -> tuple[int, str, str]:
        key = body.get("routing_key", "") if isinstance(body, dict) else ""
        self.attempts[key] = self.attempts.get(key, 0) + 1
        if key in self.failing:
            return 500, '{"status": "error"}', "application/json"
        errors = []
        if path != "/v2/enqueue":
            errors.append(f"path {path}")
        if len(key) != 32:
            errors.append("routing_key must be 32 characters")
        if body.get("event_action") not in ("trigger", "acknowledge", "resolve"):
            errors.append("event_action")
        if not 0 < len(body.get("dedup_key", "")) <= 255:
            errors.append("dedup_key")
        if body.get("event_action") == "trigger":
            payload = body.get("payload") or {}
            if not 0 < len(payload.get("summary", "")) <= 1024:
                errors.append("payload.summary")
            if not payload.get("source"):
                errors.append("payload.source")
            if payload.get("severity") not in ("critical", "error", "warning", "info"):
                errors.append("payload.severity")
        if errors:
            self.rejected.extend(errors)
            return 400, json.dumps({"status": "invalid event", "errors": errors}), "application/json"
        self.received.append(body)
        answer = {"status": "success", "message": "Event processed", "dedup_key": body["dedup_key"]}
        return 202, json.dumps(answer), "application/json"
