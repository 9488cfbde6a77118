"""Dashboard API and page: the routers of `errata.api`, one per resource, behind the token check; the page
and its files from this folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.utilities.typing import LambdaContext

from errata.api import alert_rules, debug_files, hooks, integrations, issues, login, projects, releases, users
from errata.api.access import authorize
from errata.api.errors import register_error_handlers
from errata.api.login import cognito_login

logger = Logger(service="api")
app = APIGatewayHttpResolver(enable_validation=True)
app.use(middlewares=[authorize])
register_error_handlers(app)
for resource in (projects, issues, alert_rules, releases, debug_files, users, integrations, hooks, login):
    app.include_router(resource.router)


@app.get("/api/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    return Response(
        status_code=200,
        content_type=content_types.APPLICATION_JSON,
        body=app.get_openapi_json_schema(title="Errata dashboard API", version="0.1.0"),
    )


_STATIC = {
    "app.js": "text/javascript; charset=utf-8",
    "uPlot.iife.min.js": "text/javascript; charset=utf-8",
    "uPlot.min.css": "text/css; charset=utf-8",
}


def _page_headers() -> dict[str, str]:
    """The page loads only its own scripts and styles and talks only to this API (and, on a stage with a
    user pool, to its token endpoint)."""
    login = cognito_login()
    connect = f"connect-src 'self' {login.domain_url}; " if login else ""
    return {
        "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        f"{connect}frame-ancestors 'none'",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


@app.get("/", include_in_schema=False)
def dashboard_page() -> Response[str]:
    page = Path(__file__).with_name("dashboard.html").read_text()
    return Response(status_code=200, content_type="text/html; charset=utf-8", body=page, headers=_page_headers())


@app.get("/static/<name>", include_in_schema=False)
def static_file(name: str) -> Response[str]:
    if name not in _STATIC:
        raise NotFoundError(f"no file {name}")
    body = Path(__file__).with_name("static").joinpath(name).read_text()
    return Response(status_code=200, content_type=_STATIC[name], body=body, headers={"Cache-Control": "max-age=300"})


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
