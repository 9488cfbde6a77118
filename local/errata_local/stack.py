"""The whole pipeline in one process: embedded AWS, the HTTP gateway, the stream poller, the real handlers."""

from __future__ import annotations

import importlib
import json
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from errata.api import access as api_access
from errata.api import context as api_context
from errata.settings import DASHBOARD_URL_ENV, Settings
from errata.store.projects import Project, ProjectStore, new_api_token
from errata_local.alerting import AlertDispatcher, AlertingResources, provision_alerting
from errata_local.aws import EmbeddedAws
from errata_local.function_process import FunctionProcess
from errata_local.gateway import Gateway
from errata_local.poller import EventSourceSettings, StreamPoller

DEFAULT_PROJECT_ID = "1"
CREDENTIALS_FILE = "credentials.json"
AWS_STATE_DIR = "aws"  # errata_local.moto_state's snapshot and stream journal
HANDLER_MODULES = (
    "functions.ingest.handler",
    "functions.process.handler",
    "functions.api.handler",
    "functions.alert.handler",
    "functions.notify.handler",
)
# `make dev`'s event source mapping: a batch gathers up to a second of events (a new crash shows in the API
# after about a second: bench/pipeline.py, p50 1.07 s, max 1.8 s), so a busy stack writes each item once for
# many events, as a deployed stage does (infra.config: 1 to 3 s). Its tumbling window is shorter than a
# stage's 30 s: the same write path (new issues at once, counts summed to the window's end), with counts a
# few seconds behind. Tests keep the default, no window: each event is processed at once.
DEV_EVENT_SOURCE = EventSourceSettings(batch_size=500, batching_window_seconds=1.0, tumbling_window_seconds=5.0)
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
    outbox: Path
    alerting: AlertingResources


class PortInUse(Exception):
    pass


def _check_port_free(port: int) -> None:
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the server binds: connections of a stopped (or killed) stack left in TIME_WAIT do not hold the
        # port, only a listening socket does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise PortInUse(
                f"port {port} is already in use (another `make dev`?): stop it, or choose another with PORT=<port>"
            ) from None


_CONTAINER_LOCKS: dict[str, threading.Lock] = {}
_CONTAINER_LOCKS_GUARD = threading.Lock()


def container_lock(module: ModuleType) -> threading.Lock:
    """A Lambda container runs one invocation at a time; the handlers rely on it (Powertools' resolver keeps
    the current request on the module's app, its metrics are one buffer), so concurrent local requests to a
    module's handler take turns, as one container. A test calling a handler itself takes the same lock."""
    with _CONTAINER_LOCKS_GUARD:
        return _CONTAINER_LOCKS.setdefault(module.__name__, threading.Lock())


def local_invoke(module: ModuleType) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The module's handler, as the local stack calls it. Metrics are disabled locally, but Powertools then
    keeps them in memory instead of clearing them after each invocation (and prints them anyway at 100
    values): clear them after every call, as a flush in Lambda would."""
    handler = module.lambda_handler
    metrics = getattr(module, "metrics", None)
    one_at_a_time = container_lock(module)

    def invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
        with one_at_a_time:
            try:
                result: dict[str, Any] = handler(event, context)
                return result
            finally:
                if metrics is not None:
                    metrics.clear_metrics()

    return invoke


def _handlers() -> list[ModuleType]:
    modules = [importlib.import_module(name) for name in HANDLER_MODULES]
    # Handlers build their clients once per process ("cold start"); a new stack is a new cold start.
    modules[0].service.cache_clear()
    modules[1]._settings_and_clients.cache_clear()
    api_context.reset()
    api_access.reset()
    modules[3]._wired.cache_clear()
    modules[4]._wired.cache_clear()
    return modules


@dataclass(frozen=True)
class AlertingOptions:
    """Local alerting: where notifications land, how often the evaluator runs, and real channels if given."""

    outbox: Path = Path(".errata/outbox")
    evaluator_seconds: float = 60.0
    notification_backoff_seconds: int = 2
    slack_webhook: str | None = None
    pagerduty_routing_key: str | None = None
    pagerduty_url: str = ""


class LocalStack:
    def __init__(
        self,
        port: int = 8000,
        aws_port: int = 0,
        event_source: EventSourceSettings | None = None,
        alerting: AlertingOptions | None = None,
        linear_api_url: str = "",
        data_dir: Path | None = None,
        processor_process: bool = False,
    ) -> None:
        # True: the processor runs in a process of its own (errata_local.function_process), as `make dev`
        # runs it; False: in this one, where tests can patch it.
        self._processor_process = processor_process
        self._processor: FunctionProcess | None = None
        self._linear_api_url = linear_api_url  # tests point Linear at a local server
        self._port = port
        self._data_dir = data_dir  # None: everything in memory (tests, benchmarks)
        self._aws = EmbeddedAws(aws_port, data_dir=data_dir / AWS_STATE_DIR if data_dir else None)
        self._event_source = event_source or EventSourceSettings()
        self._alerting = alerting or AlertingOptions()
        self._server: BaseWSGIServer | None = None
        self._poller: StreamPoller | None = None
        self._dispatcher: AlertDispatcher | None = None
        self._thread: threading.Thread | None = None
        self.info: StackInfo | None = None

    def start(self) -> StackInfo:
        """Starts everything, or nothing: a failure part way (a busy port) stops what had started."""
        _check_port_free(self._port)  # before anything starts: a busy port fails at once, nothing left behind
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> StackInfo:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log line per request
        self._aws.start()
        options = self._alerting
        settings = self._aws.provision()
        resources = provision_alerting(
            self._aws.client, "errata-local", settings.event_bus, options.notification_backoff_seconds
        )
        settings = settings.model_copy(
            update={
                "email_topic_arn": resources.email_topic_arn,
                "notifications_queue_url": resources.notifications_queue_url,
                "outbox_dir": str(options.outbox.resolve()),
                "pagerduty_url": options.pagerduty_url,
                "notification_backoff_seconds": options.notification_backoff_seconds,
                "linear_api_url": self._linear_api_url,
            }
        )
        self._put_channel_secrets(settings.parameters_prefix)
        os.environ.update(settings.as_env())
        os.environ.update(_QUIET_ENV)
        ingest, process, api, alert, notify = _handlers()

        public_key, api_token = self._credentials(ProjectStore(self._aws.client("dynamodb"), settings.projects_table))

        gateway = Gateway(local_invoke(ingest), local_invoke(api), on_ingest=self._wake_poller)
        self._server = make_server("127.0.0.1", self._port, gateway, threaded=True)
        port = self._server.server_port
        base_url = f"http://127.0.0.1:{port}"
        # Before any handler runs: links in notifications point at this dashboard.
        os.environ[DASHBOARD_URL_ENV] = base_url
        settings = settings.model_copy(update={"dashboard_url": base_url})
        self._thread = threading.Thread(target=self._server.serve_forever, name="gateway", daemon=True)
        self._thread.start()
        process_handler: Callable[[dict[str, Any], Any], dict[str, Any]] = local_invoke(process)
        if self._processor_process:
            self._processor = process_handler = FunctionProcess(process.__name__, "errata-local-process")
            self._processor.start()
        self._poller = StreamPoller(
            self._aws.client("kinesis"),
            self._aws.client("sqs"),
            settings.events_stream,
            process_handler,
            settings.dead_letter_queue_url,
            self._event_source,
        )
        self._poller.start()
        self._dispatcher = AlertDispatcher(
            sqs=self._aws.client("sqs"),
            sns=self._aws.client("sns"),
            resources=resources,
            alert_handler=local_invoke(alert),
            notify_handler=local_invoke(notify),
            outbox=options.outbox,
            evaluator_seconds=options.evaluator_seconds,
        )
        self._dispatcher.start()
        self.info = StackInfo(
            base_url=base_url,
            dsn=f"http://{public_key}@127.0.0.1:{port}/{DEFAULT_PROJECT_ID}",
            api_token=api_token,
            project_id=DEFAULT_PROJECT_ID,
            settings=settings,
            aws_endpoint=self._aws.endpoint,
            outbox=options.outbox.resolve(),
            alerting=resources,
        )
        return self.info

    def _credentials(self, projects: ProjectStore) -> tuple[str, str]:
        """The default project's DSN key and the local API token: the ones kept in the data directory if
        the restored state still knows them (the DSN in every app's config stays valid), else new ones."""
        kept = self._data_dir / CREDENTIALS_FILE if self._data_dir else None
        if kept is not None and kept.exists():
            saved = json.loads(kept.read_text())
            project = projects.get_project(DEFAULT_PROJECT_ID)
            if project is None:
                # The state on disk predates them (killed before its first snapshot): the kept ones are the
                # ones every app was given, and the stream's journal still holds their events.
                self._put_credentials(projects, saved["public_key"], saved["api_token"])
                return saved["public_key"], saved["api_token"]
            if saved["public_key"] in project.public_keys and projects.api_token(saved["api_token"]):
                return saved["public_key"], saved["api_token"]
        public_key, api_token = secrets.token_hex(16), new_api_token()
        self._put_credentials(projects, public_key, api_token)
        if kept is not None:
            kept.write_text(json.dumps({"public_key": public_key, "api_token": api_token}))
            kept.chmod(0o600)  # it holds the token
        return public_key, api_token

    @staticmethod
    def _put_credentials(projects: ProjectStore, public_key: str, api_token: str) -> None:
        projects.put_project(Project(project_id=DEFAULT_PROJECT_ID, name="default", public_keys=[public_key]))
        projects.add_api_token(api_token, name="local")

    def _put_channel_secrets(self, prefix: str) -> None:
        """Real channels for `errata dev`: stored as the deployed stage stores them (SSM SecureString)."""
        ssm = self._aws.client("ssm")
        for channel, value in (
            ("slack", self._alerting.slack_webhook),
            ("pagerduty", self._alerting.pagerduty_routing_key),
        ):
            if value:
                ssm.put_parameter(Name=f"{prefix}/{channel}/default", Value=value, Type="SecureString", Overwrite=True)

    def evaluate_alerts(self) -> dict[str, Any]:
        """Runs the minute evaluator now (tests and benchmarks need not wait for the timer)."""
        assert self._dispatcher is not None
        return self._dispatcher.evaluate()

    def _wake_poller(self) -> None:
        if self._poller is not None:
            self._poller.wake()

    def stop(self) -> None:
        if self._dispatcher:
            self._dispatcher.stop()
        if self._poller:
            self._poller.stop()
        if self._processor:
            self._processor.stop()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        self._aws.stop()

    @property
    def aws_pid(self) -> int:
        return self._aws.pid

    def client(self, service: str) -> object:
        return self._aws.client(service)
