"""What a container keeps across invocations is built on that container's clients: the local stack started
twice in one process (benchmarks, the CLI's tests) must not reach the first stack's stopped moto server
through a cached store."""

from __future__ import annotations

from typing import Any

import boto3
from moto import mock_aws

from errata import wiring
from errata.settings import Settings


def _settings() -> Settings:
    return Settings(source_maps_bucket="maps", issues_table="issues", projects_table="projects")


def _kept(clients: wiring.Clients) -> tuple[Any, Any, Any]:
    settings = _settings()
    return (
        wiring._symbolicator(settings, clients),
        wiring._issue_aliases(settings, clients),
        wiring._project_settings_cache(settings, clients),
    )


def _calls(client: Any) -> list[str]:
    calls: list[str] = []
    client.meta.events.register("before-call", lambda model, **_: calls.append(model.name))
    return calls


@mock_aws
def test_one_container_keeps_its_objects_and_a_new_one_builds_its_own() -> None:
    boto3.client("dynamodb").create_table(
        TableName="projects",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    first, second = wiring.Clients(), wiring.Clients()
    kept = _kept(first)
    assert _kept(first) == kept
    assert all(a is not b for a, b in zip(kept, _kept(second), strict=True))
    first_calls, second_calls = _calls(first["dynamodb"]), _calls(second["dynamodb"])
    kept[2]("1")
    assert first_calls == ["GetItem"]
    assert second_calls == []
