"""Builds the domain services from settings and boto3 clients. Called by the handlers on first use, so that
importing a handler opens no connection and reads no environment."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from errata.dashboard import IssueQueries
from errata.ingest import IngestService, ProjectKeys
from errata.processing import IssueBatch
from errata.settings import Settings
from errata.store.counters import CounterStore
from errata.store.dead_letters import DeadLetterQueue
from errata.store.event_payloads import EventPayloadStore
from errata.store.event_stream import EventStream
from errata.store.issues import IssueStore
from errata.store.projects import ProjectStore
from errata.store.releases import ReleaseStore
from errata.store.stream_positions import StreamPositionStore
from errata.store.user_issues import UserIssueStore

_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=2, read_timeout=10)


def client(service: str) -> Any:
    return boto3.session.Session().client(service, config=_CLIENT_CONFIG)  # type: ignore[call-overload]


class Clients:
    """One client per service, created when first asked for."""

    def __init__(self) -> None:
        self._clients: dict[str, Any] = {}

    def __getitem__(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = client(service)
        return self._clients[service]


def ingest_service(settings: Settings, clients: Clients) -> IngestService:
    projects = ProjectStore(clients["dynamodb"], settings.projects_table)
    return IngestService(ProjectKeys(projects), EventStream(clients["kinesis"], settings.events_stream))


def issue_batch(settings: Settings, clients: Clients) -> IssueBatch:
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
    )


def issue_queries(settings: Settings, clients: Clients) -> IssueQueries:
    dynamodb = clients["dynamodb"]
    return IssueQueries(
        IssueStore(dynamodb, settings.issues_table),
        EventPayloadStore(clients["s3"], settings.event_payloads_bucket),
        CounterStore(dynamodb, settings.counters_table),
        UserIssueStore(dynamodb, settings.user_issues_table),
        ReleaseStore(dynamodb, settings.releases_table),
    )


def project_store(settings: Settings, clients: Clients) -> ProjectStore:
    return ProjectStore(clients["dynamodb"], settings.projects_table)
