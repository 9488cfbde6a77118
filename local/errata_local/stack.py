"""The whole pipeline in one process: embedded AWS, the HTTP gateway, the stream poller, the real handlers."""

from __future__ import annotations

import importlib
import logging
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from errata.settings import Settings
from errata.store.projects import Project, ProjectStore
from errata_local.aws import EmbeddedAws
from errata_local.gateway import Gateway
from errata_local.poller import EventSourceSettings, StreamPoller

DEFAULT_PROJECT_ID = "1"
HANDLER_MODULES = ("functions.ingest.handler", "functions.process.handler", "functions.api.handler")
_QUIET_ENV = {
    # EMF metrics are for CloudWatch; locally they would only flood the terminal.
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_SERVICE_NAME": "errata-local",
    "ERRATA_AWS_READ_TIMEOUT": "120",
}


@dataclass(frozen=True)
class StackInfo:
    base_url: str
    dsn: str
    api_token: str
    project_id: str
    settings: Settings
    aws_endpoint: str


def local_invoke(module: ModuleType) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The module's handler, as the local stack calls it. Metrics are disabled locally, but Powertools then
    keeps them in memory instead of clearing them after each invocation (and prints them anyway at 100
    values): clear them after every call, as a flush in Lambda would."""
    handler = module.lambda_handler
    metrics = getattr(module, "metrics", None)

    def invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = handler(event, context)
            return result
        finally:
            if metrics is not None:
                metrics.clear_metrics()

    return invoke


def _handlers() -> tuple[ModuleType, ModuleType, ModuleType]:
    modules = [importlib.import_module(name) for name in HANDLER_MODULES]
    # Handlers build their clients once per process ("cold start"); a new stack is a new cold start.
    modules[0].service.cache_clear()
    modules[1]._settings_and_clients.cache_clear()
    modules[2]._deps.cache_clear()
    return modules[0], modules[1], modules[2]


class LocalStack:
    def __init__(self, port: int = 8000, aws_port: int = 0, event_source: EventSourceSettings | None = None) -> None:
        self._port = port
        self._aws = EmbeddedAws(aws_port)
        self._event_source = event_source or EventSourceSettings()
        self._server: BaseWSGIServer | None = None
        self._poller: StreamPoller | None = None
        self._thread: threading.Thread | None = None
        self.info: StackInfo | None = None

    def start(self) -> StackInfo:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log line per request
        self._aws.start()
        settings = self._aws.provision()
        os.environ.update(settings.as_env())
        os.environ.update(_QUIET_ENV)
        ingest, process, api = _handlers()

        public_key = secrets.token_hex(16)
        api_token = secrets.token_urlsafe(24)
        projects = ProjectStore(self._aws.client("dynamodb"), settings.projects_table)
        projects.put_project(Project(project_id=DEFAULT_PROJECT_ID, name="default", public_keys=[public_key]))
        projects.add_api_token(api_token, name="local")

        self._server = make_server(
            "127.0.0.1", self._port, Gateway(local_invoke(ingest), local_invoke(api)), threaded=True
        )
        port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name="gateway", daemon=True)
        self._thread.start()
        self._poller = StreamPoller(
            self._aws.client("kinesis"),
            self._aws.client("sqs"),
            settings.events_stream,
            local_invoke(process),
            settings.dead_letter_queue_url,
            self._event_source,
        )
        self._poller.start()
        base_url = f"http://127.0.0.1:{port}"
        self.info = StackInfo(
            base_url=base_url,
            dsn=f"http://{public_key}@127.0.0.1:{port}/{DEFAULT_PROJECT_ID}",
            api_token=api_token,
            project_id=DEFAULT_PROJECT_ID,
            settings=settings,
            aws_endpoint=self._aws.endpoint,
        )
        return self.info

    def stop(self) -> None:
        if self._poller:
            self._poller.stop()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        self._aws.stop()

    def client(self, service: str) -> object:
        return self._aws.client(service)
