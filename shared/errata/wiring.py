"""Builds the domain services from settings and boto3 clients. Called by the handlers on first use, so that
importing a handler opens no connection and reads no environment."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from errata.alerts.delivery import PAGERDUTY_EVENTS_URL, Delivery
from errata.alerts.engine import AlertEngine, MinuteEvaluator
from errata.alerts.signals import SignalReader
from errata.dashboard import IssueQueries
from errata.ingest import IngestService, ProjectKeys, ProjectQuota
from errata.integrations import DeployHooks, IntegrationSettings
from errata.settings import Settings
from errata.store.alert_bus import AlertBus
from errata.store.alert_rules import AlertRuleStore
from errata.store.artifacts import ArtifactStore
from errata.store.counters import CounterStore
from errata.store.dead_letters import DeadLetterQueue
from errata.store.event_payloads import EventPayloadStore
from errata.store.event_stream import EventStream
from errata.store.integrations import IntegrationStore
from errata.store.issues import IssueAliases, IssueStore
from errata.store.projects import ProjectSettings, ProjectStore
from errata.store.releases import ReleaseStore
from errata.store.secrets import SecretStore
from errata.store.stream_positions import StreamPositionStore
from errata.store.user_issues import UserAliasCache, UserIssueStore
from errata.trackers.linear import LINEAR_API_URL
from errata.trackers.ticket_facts import TrackerFailed
from errata.trackers.tickets import TicketService

if TYPE_CHECKING:
    # The processor's modules load numpy (the user sketch) and symbolic (source maps): a second of cold start
    # that ingest and the API never use, so they are imported where the processor is built.
    from errata.processing import IssueBatch
    from errata.symbolication.symbolicator import Symbolicator


ARTIFACT_RENEW_AFTER = timedelta(days=30)


def client(service: str) -> Any:
    # AWS answers in milliseconds; the local moto server can take many seconds on a large transaction, and a
    # timed-out call that botocore retries would then fail on its own conditions (moto does not honour
    # ClientRequestToken), so the local stack raises the read timeout.
    read_timeout = int(os.environ.get("ERRATA_AWS_READ_TIMEOUT", "10"))
    config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=2, read_timeout=read_timeout)
    if service == "s3":
        # Presigned upload URLs must be SigV4: SigV2 (botocore's choice in some regions) signs no Content-Length,
        # and the size limit of an upload would not hold.
        config = config.merge(Config(signature_version="s3v4"))
    return boto3.session.Session().client(service, config=config)  # type: ignore[call-overload]


class Clients:
    """One client per service, created when first asked for."""

    def __init__(self) -> None:
        self._clients: dict[str, Any] = {}
        self._kept: dict[tuple[str, str], Any] = {}

    def __getitem__(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = client(service)
        return self._clients[service]

    def kept(self, key: tuple[str, str], build: Callable[[], Any]) -> Any:
        """What a container keeps across invocations (parsed maps, caches), built on these clients: a
        process that starts a second local stack gets new clients, and none of the first stack's objects."""
        if key not in self._kept:
            self._kept[key] = build()
        return self._kept[key]


def ingest_service(settings: Settings, clients: Clients) -> IngestService:
    dynamodb = clients["dynamodb"]
    return IngestService(
        ProjectKeys(ProjectStore(dynamodb, settings.projects_table)),
        EventStream(clients["kinesis"], settings.events_stream),
        ProjectQuota(CounterStore(dynamodb, settings.counters_table)),
    )


def issue_batch(settings: Settings, clients: Clients) -> IssueBatch:
    from errata.processing import IssueBatch

    dynamodb = clients["dynamodb"]
    return IssueBatch(
        dynamodb=dynamodb,
        issues=IssueStore(dynamodb, settings.issues_table),
        positions=StreamPositionStore(dynamodb, settings.stream_positions_table),
        payloads=EventPayloadStore(clients["s3"], settings.event_payloads_bucket),
        dead_letters=DeadLetterQueue(clients["sqs"], settings.dead_letter_queue_url),
        counters=CounterStore(dynamodb, settings.counters_table),
        user_issues=UserIssueStore(dynamodb, settings.user_issues_table),
        releases=ReleaseStore(dynamodb, settings.releases_table),
        project_settings=_project_settings_cache(settings, clients),
        alert_bus=AlertBus(clients["events"], settings.event_bus),
        aliases=_issue_aliases(settings, clients),
        symbolicator=_symbolicator(settings, clients),
        dashboard_url=settings.dashboard_url,
        dead_letter_after=timedelta(seconds=settings.dead_letter_after_seconds),
        writers=_item_writers(settings, clients),
        user_aliases=clients.kept(("user-aliases", settings.user_issues_table), UserAliasCache),
    )


def _item_writers(settings: Settings, clients: Clients) -> Executor:
    """One pool per container for the batch's parallel item writes."""
    from errata.processing.batch import WRITE_THREADS

    writers: Executor = clients.kept(
        ("item-writers", settings.issues_table),
        lambda: ThreadPoolExecutor(WRITE_THREADS, thread_name_prefix="item-write"),
    )
    return writers


def _symbolicator(settings: Settings, clients: Clients) -> Symbolicator | None:
    """One per container: parsed source maps and mappings stay cached across invocations."""
    if not settings.source_maps_bucket:
        return None

    def build() -> Symbolicator:
        from errata.symbolication.symbolicator import Symbolicator

        # Maps still read are renewed long before the bucket's lifecycle expires them (infra: 365 days).
        renewing = ArtifactStore(clients["s3"], settings.source_maps_bucket, renew_after=ARTIFACT_RENEW_AFTER)
        return Symbolicator(renewing)

    symbolicator: Symbolicator = clients.kept(("symbolicator", settings.source_maps_bucket), build)
    return symbolicator


def artifact_store(settings: Settings, clients: Clients) -> ArtifactStore:
    return ArtifactStore(clients["s3"], settings.source_maps_bucket)


def _issue_aliases(settings: Settings, clients: Clients) -> IssueAliases:
    """One per container: its cache of hash -> issue outlives the invocation."""
    aliases: IssueAliases = clients.kept(
        ("aliases", settings.issues_table),
        lambda: IssueAliases(IssueStore(clients["dynamodb"], settings.issues_table)),
    )
    return aliases


def _project_settings_cache(settings: Settings, clients: Clients) -> Callable[[str], ProjectSettings]:
    """Project settings by id, cached for a minute per container (batches are many, settings change rarely)."""

    def build() -> Callable[[str], ProjectSettings]:
        store = ProjectStore(clients["dynamodb"], settings.projects_table)
        cache: dict[str, tuple[float, ProjectSettings]] = {}

        def lookup(project_id: str) -> ProjectSettings:
            cached = cache.get(project_id)
            if cached is None or time.monotonic() - cached[0] > 60:
                project = store.get_project(project_id)
                cached = (time.monotonic(), project.settings if project else ProjectSettings())
                cache[project_id] = cached
            return cached[1]

        return lookup

    lookup: Callable[[str], ProjectSettings] = clients.kept(("project settings", settings.projects_table), build)
    return lookup


def issue_queries(settings: Settings, clients: Clients) -> IssueQueries:
    dynamodb = clients["dynamodb"]
    return IssueQueries(
        IssueStore(dynamodb, settings.issues_table),
        EventPayloadStore(clients["s3"], settings.event_payloads_bucket),
        CounterStore(dynamodb, settings.counters_table),
        UserIssueStore(dynamodb, settings.user_issues_table),
        ReleaseStore(dynamodb, settings.releases_table),
        IntegrationStore(dynamodb, settings.integrations_table),
    )


def _secret_store(settings: Settings, clients: Clients) -> SecretStore:
    return SecretStore(clients["ssm"], settings.parameters_prefix)


def integration_settings(settings: Settings, clients: Clients) -> IntegrationSettings:
    integrations = IntegrationStore(clients["dynamodb"], settings.integrations_table)
    return IntegrationSettings(integrations, _secret_store(settings, clients))


def integration_store(settings: Settings, clients: Clients) -> IntegrationStore:
    return IntegrationStore(clients["dynamodb"], settings.integrations_table)


def deploy_hooks(settings: Settings, clients: Clients) -> DeployHooks:
    dynamodb = clients["dynamodb"]
    return DeployHooks(
        IntegrationStore(dynamodb, settings.integrations_table),
        _secret_store(settings, clients),
        ReleaseStore(dynamodb, settings.releases_table),
        dynamodb,
    )


def _http_post() -> Callable[[str, dict[str, Any], dict[str, str]], tuple[int, str]]:
    import urllib3

    http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=3, read=10), retries=False)

    def post(url: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, str]:
        try:
            response = http.request("POST", url, json=body, headers={"Content-Type": "application/json", **headers})
        except urllib3.exceptions.HTTPError as exc:
            raise TrackerFailed(f"could not reach {url.split('/')[2]}: {type(exc).__name__}") from None
        return response.status, response.data.decode(errors="replace")

    return post


def ticket_service(settings: Settings, clients: Clients) -> TicketService:
    return TicketService(
        IntegrationStore(clients["dynamodb"], settings.integrations_table),
        _secret_store(settings, clients),
        _http_post(),
        settings.linear_api_url or LINEAR_API_URL,
    )


def project_store(settings: Settings, clients: Clients) -> ProjectStore:
    return ProjectStore(clients["dynamodb"], settings.projects_table)


def alert_bus(settings: Settings, clients: Clients) -> AlertBus:
    return AlertBus(clients["events"], settings.event_bus)


def alert_rule_store(settings: Settings, clients: Clients) -> AlertRuleStore:
    return AlertRuleStore(clients["dynamodb"], settings.alert_rules_table)


def alert_engine(settings: Settings, clients: Clients) -> AlertEngine:
    counters = CounterStore(clients["dynamodb"], settings.counters_table)
    return AlertEngine(alert_rule_store(settings, clients), alert_bus(settings, clients), SignalReader(counters))


_ENGINES: dict[tuple[str, int], AlertEngine] = {}


def cached_alert_engine(settings: Settings, clients: Clients) -> AlertEngine:
    """One per container, so the project-hour cache of its signal reader outlives an invocation."""
    key = (settings.counters_table, id(clients))  # the engine holds `clients`, so the id stays unique
    if key not in _ENGINES:
        _ENGINES[key] = alert_engine(settings, clients)
    return _ENGINES[key]


def minute_evaluator(settings: Settings, clients: Clients) -> MinuteEvaluator:
    dynamodb = clients["dynamodb"]
    counters = CounterStore(dynamodb, settings.counters_table)
    return MinuteEvaluator(
        rules=alert_rule_store(settings, clients),
        bus=alert_bus(settings, clients),
        issues=IssueStore(dynamodb, settings.issues_table),
        counters=counters,
        signals=SignalReader(counters),
        dashboard_url=settings.dashboard_url,
    )


def delivery(settings: Settings, clients: Clients) -> Delivery:
    from pathlib import Path

    from aws_lambda_powertools.utilities.parameters import SSMProvider
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    ssm = SSMProvider(boto3_client=clients["ssm"])
    http_post = _http_post()

    def secret(name: str) -> str | None:
        try:
            value = ssm.get(name, decrypt=True, max_age=300)
        except GetParameterError:
            return None
        return value if isinstance(value, str) else None

    def post(url: str, body: dict[str, Any]) -> tuple[int, str]:
        return http_post(url, body, {})

    return Delivery(
        secret=secret,
        post=post,
        sns=clients["sns"],
        email_topic_arn=settings.email_topic_arn,
        parameters_prefix=settings.parameters_prefix,
        pagerduty_url=settings.pagerduty_url or PAGERDUTY_EVENTS_URL,
        outbox=Path(settings.outbox_dir) if settings.outbox_dir else None,
        tickets=ticket_service(settings, clients) if settings.integrations_table else None,
    )
