"""Local stand-ins for Slack, PagerDuty, Jira Cloud and Linear that check each request against the vendor's
documented shape and answer as the vendor does (or with a 500, to test retries).

- Slack incoming webhooks (api.slack.com/messaging/webhooks, Block Kit reference): a JSON body with `text`
  and/or `blocks`; at most 50 blocks; a `header` block takes plain_text of at most 150 characters; a
  `section` has `text` and/or at most 10 `fields` of at most 2,000 characters; buttons in `actions` have
  plain_text of at most 75 characters and a `url` of at most 3,000. Answers `200 ok`.
- PagerDuty Events API v2 (developer.pagerduty.com, "Send an Alert Event"): POST /v2/enqueue with
  `routing_key` (32 characters), `event_action` (trigger, acknowledge, resolve) and `dedup_key` (at most
  255); a trigger needs `payload.summary` (at most 1,024), `payload.source` and `payload.severity` (critical,
  error, warning, info). Answers 202 `{"status": "success", "message": "Event processed", "dedup_key": ...}`.
- Jira Cloud REST v3 (developer.atlassian.com, "Create issue"; "Basic auth for REST APIs"; "Atlassian
  Document Format"): POST /rest/api/3/issue with `Authorization: Basic base64(email:api_token)`;
  `fields.project` by `key` (or `id`), `fields.summary` a single line of at most 255 characters,
  `fields.issuetype` by `name` (or `id`), `fields.description` an ADF document (`type: doc`, `version: 1`,
  `content` of block nodes; text nodes with non-empty `text`; marks of known types). Answers 201
  `{"id", "key", "self"}`; errors are 400 `{"errorMessages": [...], "errors": {field: message}}`.
- Linear GraphQL (linear.app/developers/graphql): POST /graphql with `Authorization: <personal API key>`
  (no Bearer prefix for API keys), a `query` holding the `issueCreate` mutation over `IssueCreateInput!`
  and `variables.input` with `teamId` and `title`. Answers 200
  `{"data": {"issueCreate": {"success": true, "issue": {"id", "identifier", "url"}}}}`; errors come as
  `{"errors": [{"message": ...}]}`.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


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
                headers = {key.lower(): value for key, value in self.headers.items()}
                status, answer, kind = fake.handle(self.path, headers.get("content-type", ""), body, headers)
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

    def handle(self, path: str, content_type: str, body: Any, headers: dict[str, str]) -> tuple[int, str, str]:
        raise NotImplementedError

    def __enter__(self) -> Self:
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
    def handle(self, path: str, content_type: str, body: Any, headers: dict[str, str]) -> tuple[int, str, str]:
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

    def handle(self, path: str, content_type: str, body: Any, headers: dict[str, str]) -> tuple[int, str, str]:
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


_ADF_MARKS = {"strong", "em", "code", "link", "strike", "underline", "subsup", "textColor"}
_ADF_BLOCKS = {"paragraph", "bulletList", "orderedList", "heading", "codeBlock", "blockquote", "rule", "panel"}


def _adf_errors(node: Any, top: bool = False) -> list[str]:
    if not isinstance(node, dict) or not isinstance(node.get("type"), str):
        return ["an ADF node needs a type"]
    errors = []
    if top:
        if node.get("type") != "doc" or node.get("version") != 1 or not isinstance(node.get("content"), list):
            return ["description must be an ADF doc of version 1 with content"]
        errors += [
            f"top-level {child.get('type')!r} is not a block node"
            for child in node["content"]
            if child.get("type") not in _ADF_BLOCKS
        ]
    if node["type"] == "text":
        if not isinstance(node.get("text"), str) or not node["text"]:
            errors.append("a text node needs non-empty text")
        for mark in node.get("marks", []):
            if mark.get("type") not in _ADF_MARKS:
                errors.append(f"unknown mark {mark.get('type')!r}")
            if mark.get("type") == "link" and not str(mark.get("attrs", {}).get("href", "")).startswith("http"):
                errors.append("a link mark needs attrs.href")
    for child in node.get("content", []):
        errors += _adf_errors(child)
    return errors


class FakeJira(_Fake):
    """One Jira Cloud site: accepts `email` with `api_token`, in project `project_key`."""

    def __init__(self, email: str = "ops@example.com", api_token: str = "jira-token", project_key: str = "OPS") -> None:
        super().__init__()
        self.credentials = "Basic " + base64.b64encode(f"{email}:{api_token}".encode()).decode()
        self.project_key = project_key
        self.refuse: tuple[int, dict[str, Any]] | None = None  # (status, Jira error collection) to answer with

    def handle(self, path: str, content_type: str, body: Any, headers: dict[str, str]) -> tuple[int, str, str]:
        if path != "/rest/api/3/issue":
            return 404, json.dumps({"errorMessages": [f"no resource {path}"]}), "application/json"
        if headers.get("authorization") != self.credentials:
            return 401, json.dumps({"errorMessages": ["Client must be authenticated"]}), "application/json"
        if self.refuse is not None:
            return self.refuse[0], json.dumps(self.refuse[1]), "application/json"
        fields = body.get("fields") if isinstance(body, dict) else None
        errors: dict[str, str] = {}
        if not isinstance(fields, dict):
            return 400, json.dumps({"errorMessages": ["fields is required"], "errors": {}}), "application/json"
        project = fields.get("project") or {}
        if project.get("key") != self.project_key and not project.get("id"):
            errors["project"] = "valid project is required"
        summary = fields.get("summary")
        if not isinstance(summary, str) or not summary or len(summary) > 255 or "\n" in summary:
            errors["summary"] = "Summary must be a single line of at most 255 characters."
        issuetype = fields.get("issuetype") or {}
        if not (issuetype.get("name") or issuetype.get("id")):
            errors["issuetype"] = "Specify an issue type"
        adf = _adf_errors(fields.get("description"), top=True)
        if adf:
            errors["description"] = "; ".join(adf)
        if not content_type.startswith("application/json"):
            errors["content-type"] = "must be application/json"
        if errors:
            self.rejected.extend(errors.values())
            return 400, json.dumps({"errorMessages": [], "errors": errors}), "application/json"
        self.received.append(body)
        number = len(self.received)
        answer = {
            "id": str(10000 + number),
            "key": f"{self.project_key}-{number}",
            "self": f"{self.base}/rest/api/3/issue/{10000 + number}",
        }
        return 201, json.dumps(answer), "application/json"


class FakeLinear(_Fake):
    """Linear's GraphQL endpoint for one API key and its teams."""

    def __init__(self, api_key: str = "lin_api_test", teams: tuple[str, ...] = ("team-eng",)) -> None:
        super().__init__()
        self.api_key = api_key
        self.teams = teams

    @property
    def url(self) -> str:
        return f"{self.base}/graphql"

    def handle(self, path: str, content_type: str, body: Any, headers: dict[str, str]) -> tuple[int, str, str]:
        def error(status: int, message: str) -> tuple[int, str, str]:
            self.rejected.append(message)
            return status, json.dumps({"errors": [{"message": message}]}), "application/json"

        if path != "/graphql":
            return error(404, f"no route {path}")
        authorization = headers.get("authorization", "")
        if authorization.startswith("Bearer ") or authorization != self.api_key:
            return error(400, "Authentication required, not authenticated")  # what Linear answers
        query = body.get("query", "") if isinstance(body, dict) else ""
        if "issueCreate" not in query or "IssueCreateInput!" not in query or not query.lstrip().startswith("mutation"):
            return error(400, "expected the issueCreate mutation over IssueCreateInput!")
        issue_input = (body.get("variables") or {}).get("input") or {}
        if not isinstance(issue_input.get("title"), str) or not issue_input["title"]:
            return error(400, "Argument Validation Error: title should not be empty")
        if issue_input.get("teamId") not in self.teams:
            return (
                200,
                json.dumps({"data": None, "errors": [{"message": "Entity not found: Team"}]}),
                "application/json",
            )
        self.received.append(body)
        number = len(self.received)
        issue = {
            "id": str(uuid.uuid4()),
            "identifier": f"ENG-{number}",
            "url": f"https://linear.app/acme/issue/ENG-{number}",
        }
        answer = {"data": {"issueCreate": {"success": True, "issue": issue}}}
        return 200, json.dumps(answer), "application/json"
