"""Dashboard API: issues by frequency, recency or users, and one issue with its representative event."""

from __future__ import annotations

import json
import re
import secrets
import time
from functools import cache
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal
from urllib.parse import unquote

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from errata.alerts.announcements import issue_url
from errata.dashboard import IssueQueries
from errata.models.alerts import ISSUE_RESOLVED, AlertDetail, AlertRule, AlertRuleInput, AlertRuleList
from errata.models.artifacts import ArtifactList, ArtifactUploadPlan, ArtifactUploadRequest, ArtifactView, UploadSlot
from errata.models.issue import (
    Deploy,
    IssueDetail,
    IssueList,
    IssueStatusChange,
    IssueSummary,
    ProjectKey,
    ProjectKeyList,
    ProjectView,
    ReleaseList,
    RulePreviewList,
    RulesText,
    UserIssueList,
    WindowCountList,
)
from errata.problems import PROBLEM_JSON, problem
from errata.search import STATUS_WORDS, InvalidSearch, parse_search, user_kind
from errata.settings import Settings
from errata.store.alert_bus import API_SOURCE, AlertBus, BusEvent
from errata.store.alert_rules import AlertRuleStore
from errata.store.artifacts import UPLOAD_CONTENT_TYPE, UPLOAD_URL_SECONDS, ArtifactStore
from errata.store.dynamo import InvalidCursor
from errata.store.projects import Project, ProjectSettingsPatch, ProjectStore, Scope
from errata.wiring import Clients, alert_bus, alert_rule_store, artifact_store, issue_queries, project_store

logger = Logger(service="api")
app = APIGatewayHttpResolver(enable_validation=True)
PUBLIC_PATHS = frozenset({"/", "/api/openapi.json"})
ProjectId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


@cache
def _wired() -> tuple[Settings, Clients]:
    return Settings.from_env(), Clients()


@cache
def _deps() -> tuple[IssueQueries, ProjectStore]:
    return issue_queries(*_wired()), project_store(*_wired())


@cache
def _artifacts() -> ArtifactStore:
    return artifact_store(*_wired())


@cache
def _alerting() -> tuple[AlertRuleStore, AlertBus]:
    return alert_rule_store(*_wired()), alert_bus(*_wired())


def _problem(status: int, detail: str, code: str, headers: dict[str, str] | None = None, **extra: Any) -> Response[Any]:
    # Powertools serializes dict bodies only for application/json: the problem document is serialized here.
    body = json.dumps(problem(status, detail, code, **extra))
    return Response(status_code=status, content_type=PROBLEM_JSON, body=body, headers=headers)


_PROJECT_PATH = re.compile(r"^/api/projects/([^/]+)(/.*)?$")
_KNOWN_PROJECTS: dict[str, float] = {}  # project id -> when it was seen to exist (positive answers only)


def _project_exists(project_id: str) -> bool:
    seen = _KNOWN_PROJECTS.get(project_id)
    if seen is not None and time.monotonic() - seen < 60:
        return True
    if _deps()[1].get_project(project_id) is None:
        return False
    if len(_KNOWN_PROJECTS) > 10_000:
        _KNOWN_PROJECTS.clear()
    _KNOWN_PROJECTS[project_id] = time.monotonic()
    return True


def required_scope(method: str, path: str) -> Scope:
    """Reads need `project:read`, changes `project:write`, a project's settings `project:admin`."""
    if method in ("GET", "HEAD", "OPTIONS"):
        return "project:read"
    match = _PROJECT_PATH.match(path)
    if match and ((not match.group(2) and method == "PATCH") or (match.group(2) or "").startswith("/keys")):
        return "project:admin"  # settings, and the DSN keys
    return "project:write"


def authorize(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """401 without a valid token; 403 when the token's project or scope does not cover the request; 404 for a
    project that does not exist, on every route under it."""
    event = app.current_event
    if event.path in PUBLIC_PATHS or event.path.startswith("/static/"):
        return next_middleware(app)
    header = event.headers.get("authorization") or ""
    scheme, _, secret = header.partition(" ")
    token = _deps()[1].api_token(secret.strip()) if scheme.lower() == "bearer" else None
    if token is None:
        return _problem(401, "missing or invalid bearer token", "unauthorized", {"WWW-Authenticate": "Bearer"})
    match = _PROJECT_PATH.match(event.path)
    project_id = unquote(match.group(1)) if match else None
    needed = required_scope(event.http_method, event.path)
    if not token.allows(project_id, needed):
        reason = (
            f"this token is for project {token.project_id}"
            if token.project_id is not None and token.project_id != project_id
            else f"this token has {token.scope}; {needed} is needed"
        )
        return _problem(403, reason, "forbidden")
    if project_id is not None and not _project_exists(project_id):
        return _problem(404, f"no project {project_id}", "not_found")
    return next_middleware(app)


app.use(middlewares=[authorize])


@app.exception_handler(NotFoundError)  # type: ignore[untyped-decorator]
def not_found(error: NotFoundError) -> Response[Any]:
    return _problem(404, str(error.msg), "not_found")


@app.not_found
def no_route(error: Exception) -> Response[Any]:
    return _problem(404, f"no route {app.current_event.http_method} {app.current_event.path}", "no_route")


@app.exception_handler(BadRequestError)  # type: ignore[untyped-decorator]
def bad_request(error: BadRequestError) -> Response[Any]:
    return _problem(400, str(error.msg), "bad_request")


@app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
def invalid_request(error: RequestValidationError) -> Response[Any]:
    """422 with the reason of each error (Powertools' default drops `msg`), never the input echoed back."""
    errors = [{"loc": list(e.get("loc", ())), "type": e.get("type"), "msg": e.get("msg")} for e in error.errors()]
    summary = "; ".join(f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in errors)
    return _problem(422, summary or "invalid request", "invalid_request", errors=errors)


def _project_view(project: Project) -> ProjectView:
    return ProjectView(
        project_id=project.project_id,
        name=project.name,
        settings=project.settings,
        dropped_last_hour=_deps()[0].dropped_last_hour(project.project_id),
    )


@app.get("/api/projects/<project_id>")
def get_project(project_id: ProjectId) -> ProjectView:
    project = _deps()[1].get_project(project_id)
    if project is None:
        raise NotFoundError(f"no project {project_id}")
    return _project_view(project)


@app.patch("/api/projects/<project_id>")
def patch_project(project_id: ProjectId, patch: Annotated[ProjectSettingsPatch, Body()]) -> ProjectView:
    """Change settings: `rate_limit_per_minute` (ingest quota), `sample_size` (payloads kept per issue)."""
    project = _deps()[1].update_settings(project_id, patch)
    if project is None:
        raise NotFoundError(f"no project {project_id}")
    return _project_view(project)


@app.get("/api/projects/<project_id>/issues")
def list_issues(
    project_id: ProjectId,
    sort: Annotated[Literal["frequency", "recency", "users"], Query()] = "frequency",
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    cursor: Annotated[str | None, Query(max_length=2048, description="`next_cursor` of the previous page")] = None,
    query: Annotated[str, Query(max_length=500, description="user:<id|email|ip> release:<v> is:unresolved text")] = "",
    status: Annotated[Literal["unresolved", "resolved", "ignored", "regressed"] | None, Query()] = None,
    release: Annotated[str | None, Query(max_length=200)] = None,
    environment: Annotated[str | None, Query(max_length=64)] = None,
    level: Annotated[Literal["debug", "info", "warning", "error", "fatal"] | None, Query()] = None,
) -> IssueList:
    """Issues by frequency, recency or users, a page at a time (`cursor` = the previous `next_cursor`),
    narrowed by the search box's syntax in `query` and by the explicit filters."""
    try:
        search = parse_search(query)
    except InvalidSearch as exc:
        raise BadRequestError(str(exc)) from None
    if status is not None:
        search.statuses = STATUS_WORDS[status]
    search.release = release or search.release
    search.environment = environment or search.environment
    search.level = level or search.level
    try:
        issues, next_cursor = _deps()[0].list_issues(project_id, sort, limit, cursor, search)
    except InvalidCursor as exc:
        raise BadRequestError(str(exc)) from None
    return IssueList(issues=issues, next_cursor=next_cursor)


@app.get("/api/projects/<project_id>/issues/<issue_id>")
def get_issue(project_id: ProjectId, issue_id: Annotated[str, Path(pattern=r"^[0-9a-f]{1,64}$")]) -> IssueDetail:
    detail = _deps()[0].issue_detail(project_id, issue_id)
    if detail is None:
        raise NotFoundError(f"no issue {issue_id} in project {project_id}")
    return detail


@app.patch("/api/projects/<project_id>/issues/<issue_id>")
def patch_issue(
    project_id: ProjectId,
    issue_id: Annotated[str, Path(pattern=r"^[0-9a-f]{1,64}$")],
    change: Annotated[IssueStatusChange, Body()],
) -> IssueSummary:
    """Resolve, resolve in the next release, ignore or reopen. A resolved issue seen again in a later
    release becomes `regressed`."""
    summary = _deps()[0].change_status(project_id, issue_id, change)
    if summary is None:
        raise NotFoundError(f"no issue {issue_id} in project {project_id}")
    if change.status in ("resolved", "resolved_in_next_release"):
        _announce_resolved(project_id, summary)
    return summary


def _announce_resolved(project_id: str, summary: IssueSummary) -> None:
    """`Issue Resolved` on the bus, so the incidents opened for the issue are resolved (PagerDuty). The
    status is already saved: a failed put is logged, not answered as an error."""
    detail = AlertDetail(
        project_id=project_id,
        issue_id=summary.id,
        title=summary.title,
        culprit=summary.culprit,
        level=summary.level,
        release=summary.last_release,
        users=summary.user_count,
        url=issue_url(_wired()[0].dashboard_url, project_id, summary.id),
        reason="resolved in Errata",
        subject=summary.id,
    )
    if _alerting()[1].publish([BusEvent(API_SOURCE, ISSUE_RESOLVED, detail)]):
        logger.warning("Issue Resolved was not published", extra={"issue_id": summary.id})


def _dsn(project_id: str, public_key: str) -> str:
    """Ingest shares this API's origin, in AWS (one HTTP API) and locally."""
    headers = app.current_event.headers
    scheme = headers.get("x-forwarded-proto") or "https"
    host = headers.get("host") or "localhost"
    return f"{scheme}://{public_key}@{host}/{project_id}"


@app.get("/api/projects/<project_id>/keys")
def list_keys(project_id: ProjectId) -> ProjectKeyList:
    """The project's DSN keys (public by design: they ship in browser apps)."""
    project = _deps()[1].get_project(project_id)
    keys = project.public_keys if project else []
    return ProjectKeyList(keys=[ProjectKey(public_key=key, dsn=_dsn(project_id, key)) for key in keys])


@app.post("/api/projects/<project_id>/keys")
def create_key(project_id: ProjectId) -> Response[str]:
    """A new DSN key (needs project:admin). Rotate: create, deploy the new DSN, revoke the old key."""
    key = secrets.token_hex(16)
    if _deps()[1].add_public_key(project_id, key) is None:
        raise NotFoundError(f"no project {project_id}")
    body = ProjectKey(public_key=key, dsn=_dsn(project_id, key)).model_dump_json()
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=body)


@app.delete("/api/projects/<project_id>/keys/<public_key>")
def revoke_key(project_id: ProjectId, public_key: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]) -> Response[str]:
    """Revokes a DSN key: ingest refuses it within a minute (its per-container cache)."""
    if not _deps()[1].revoke_public_key(project_id, public_key):
        raise NotFoundError(f"no key {public_key} in project {project_id}")
    return Response(status_code=204, content_type=content_types.APPLICATION_JSON, body="")


@app.post("/api/projects/<project_id>/fingerprint-rules/preview")
def preview_fingerprint_rules(project_id: ProjectId, body: Annotated[RulesText, Body()]) -> RulePreviewList:
    """Which of the 50 most recent issues these rules would regroup (nothing is saved)."""
    try:
        matches, checked = _deps()[0].preview_rules(project_id, body.rules)
    except ValueError as exc:  # InvalidRule names the line
        raise BadRequestError(str(exc)) from None
    return RulePreviewList(matches=matches, checked=checked)


RuleId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


@app.get("/api/projects/<project_id>/alert-rules")
def list_alert_rules(project_id: ProjectId) -> AlertRuleList:
    """The project's alert rules; a project that has not set any gets the defaults (`defaults: true`)."""
    rules, defaults = _alerting()[0].rules(project_id)
    return AlertRuleList(rules=rules, defaults=defaults)


@app.get("/api/projects/<project_id>/alert-rules/<rule_id>")
def get_alert_rule(project_id: ProjectId, rule_id: RuleId) -> AlertRule:
    rules, _ = _alerting()[0].rules(project_id)
    found = next((rule for rule in rules if rule.id == rule_id), None)
    if found is None:
        raise NotFoundError(f"no alert rule {rule_id} in project {project_id}")
    return found


@app.put("/api/projects/<project_id>/alert-rules/<rule_id>")
def put_alert_rule(project_id: ProjectId, rule_id: RuleId, rule: Annotated[AlertRuleInput, Body()]) -> AlertRule:
    """Creates or replaces a rule: conditions (any fires it), filters, `page_requires` (the blast radius a
    high-urgency action needs), actions (channel + urgency) and the action interval. The first rule a
    project saves replaces the defaults (they are kept as rules of their own, to edit or delete)."""
    saved = AlertRule(id=rule_id, **rule.model_dump())
    _alerting()[0].put_rule(project_id, saved)
    return saved


@app.delete("/api/projects/<project_id>/alert-rules/<rule_id>")
def delete_alert_rule(project_id: ProjectId, rule_id: RuleId) -> Response[str]:
    if not _alerting()[0].delete_rule(project_id, rule_id):
        raise NotFoundError(f"no alert rule {rule_id} in project {project_id}")
    return Response(status_code=204, content_type=content_types.APPLICATION_JSON, body="")


@app.post("/api/projects/<project_id>/deploys")
def post_deploy(project_id: ProjectId, deploy: Annotated[Deploy, Body()]) -> Response[dict[str, str]]:
    """Marks a release boundary; releases that are not semantic versions are ordered by deploy time."""
    _deps()[0].record_deploy(project_id, deploy)
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body={"release": deploy.release})


@app.get("/api/projects/<project_id>/issues/<issue_id>/events")
def issue_events(
    project_id: ProjectId, issue_id: Annotated[str, Path(pattern=r"^[0-9a-f]{1,64}$")]
) -> dict[str, list[dict[str, Any]]]:
    """A uniform sample of the issue's events (at most the project's `sample_size`)."""
    project = _deps()[1].get_project(project_id)
    if project is None:
        raise NotFoundError(f"no project {project_id}")
    return {"events": _deps()[0].sample_events(project_id, issue_id, project.settings.sample_size)}


@app.get("/api/projects/<project_id>/issues/<issue_id>/counts")
def issue_counts(
    project_id: ProjectId,
    issue_id: Annotated[str, Path(pattern=r"^[0-9a-f]{1,64}$")],
    window: Annotated[Literal["minute", "hour"], Query()] = "hour",
) -> WindowCountList:
    """Events and users per minute (last hour) or per hour (last fourteen days, so last week's hour is there)."""
    return WindowCountList(window=window, counts=_deps()[0].issue_counts(project_id, issue_id, window))


@app.get("/api/projects/<project_id>/users/<user_id>/issues")
def user_issues(
    project_id: ProjectId,
    user_id: Annotated[str, Path(min_length=1, max_length=256)],
    by: Annotated[Literal["id", "email", "ip"] | None, Query(description="default: read off the value")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
) -> UserIssueList:
    """The issues a user hit, found by user id, email or IP address (as the search box's `user:` reads it)."""
    return UserIssueList(issues=_deps()[0].issues_of_user(project_id, by or user_kind(user_id), user_id, limit))


@app.get("/api/projects/<project_id>/traffic")
def traffic(project_id: ProjectId, hours: Annotated[int, Query(ge=1, le=360)] = 24) -> dict[str, list[dict[str, Any]]]:
    """Per hour and per release or route: sessions, errored, crashed (release health), requests (from
    transactions) and errors, so alerting can compute "% of traffic"."""
    return {"traffic": _deps()[0].traffic(project_id, hours)}


@app.get("/api/projects/<project_id>/releases")
def releases(project_id: ProjectId) -> ReleaseList:
    return ReleaseList(releases=_deps()[0].releases(project_id))


@app.get("/api/projects/<project_id>/releases/<version>/issues")
def release_issues(
    project_id: ProjectId,
    version: Annotated[str, Path(min_length=1, max_length=200)],
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
) -> IssueList:
    """Issues first seen in this release."""
    return IssueList(issues=_deps()[0].issues_first_seen_in(project_id, version, limit))


Version = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^/\x00-\x1f]+$")]


@app.post("/api/projects/<project_id>/releases/<version>/artifacts")
def upload_artifacts(
    project_id: ProjectId, version: Version, request: Annotated[ArtifactUploadRequest, Body()]
) -> ArtifactUploadPlan:
    """Presigned S3 PUT URLs for a release's source maps, minified files and ProGuard mappings: the files go
    straight to S3 (no AWS credentials in the build, no size limit of API Gateway in the way)."""
    uploads = []
    for file in request.files:
        try:
            debug_id = str(file.debug_id) if file.debug_id else None
            planned = _artifacts().plan_upload(project_id, version, file.name, file.kind, file.size, debug_id)
        except ValueError as exc:
            raise BadRequestError(str(exc)) from None
        for _key, url in planned:
            uploads.append(
                UploadSlot(
                    name=file.name,
                    kind=file.kind,
                    url=url,
                    headers={"Content-Length": str(file.size), "Content-Type": UPLOAD_CONTENT_TYPE},
                )
            )
    return ArtifactUploadPlan(release=version, expires_in=UPLOAD_URL_SECONDS, uploads=uploads)


@app.get("/api/projects/<project_id>/releases/<version>/artifacts")
def list_artifacts(project_id: ProjectId, version: Version) -> ArtifactList:
    found = _artifacts().names(project_id, version)
    return ArtifactList(
        release=version,
        artifacts=[ArtifactView(name=a.name, size=a.size, last_modified=a.last_modified) for a in found],
    )


@app.get("/api/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    return Response(
        status_code=200,
        content_type=content_types.APPLICATION_JSON,
        body=app.get_openapi_json_schema(title="Errata dashboard API", version="0.1.0"),
    )


@app.get("/", include_in_schema=False)
def dashboard_page() -> Response[str]:
    page = FilePath(__file__).with_name("dashboard.html").read_text()
    return Response(status_code=200, content_type="text/html; charset=utf-8", body=page, headers=_PAGE_HEADERS)


_STATIC = {
    "app.js": "text/javascript; charset=utf-8",
    "uPlot.iife.min.js": "text/javascript; charset=utf-8",
    "uPlot.min.css": "text/css; charset=utf-8",
}
# The page loads only its own scripts and styles and talks only to this API.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@app.get("/static/<name>", include_in_schema=False)
def static_file(name: str) -> Response[str]:
    if name not in _STATIC:
        raise NotFoundError(f"no file {name}")
    body = FilePath(__file__).with_name("static").joinpath(name).read_text()
    return Response(status_code=200, content_type=_STATIC[name], body=body, headers={"Cache-Control": "max-age=300"})


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
