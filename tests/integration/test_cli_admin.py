"""`errata project create` and `errata token create` against a stage's projects table (on moto)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from errata.store.projects import ProjectStore
from errata_local.admin import projects_store
from errata_local.aws import EmbeddedAws, local_aws_environment

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def staged_aws() -> Iterator[EmbeddedAws]:
    aws = EmbeddedAws()
    aws.start()
    aws.provision(prefix="errata-qa")
    yield aws
    aws.stop()


def _errata(aws: EmbeddedAws, *args: str) -> list[str]:
    env = {**os.environ, **local_aws_environment(aws.endpoint)}
    result = subprocess.run(
        [sys.executable, "-m", "errata_local.cli", *args], capture_output=True, text=True, env=env, check=True
    )
    return result.stdout.splitlines()


def test_project_create_prints_a_dsn_whose_key_ingest_accepts(staged_aws: EmbeddedAws) -> None:
    lines = _errata(
        staged_aws,
        "project",
        "create",
        "--stage",
        "qa",
        "--name",
        "checkout",
        "--project-id",
        "4242",
        "--ingest-url",
        "https://abc123.execute-api.eu-west-1.amazonaws.com",
    )
    assert lines[0] == "Project: 4242 (checkout)"
    dsn = lines[1].removeprefix("DSN: ")
    key = dsn.split("//", 1)[1].split("@", 1)[0]
    assert dsn == f"https://{key}@abc123.execute-api.eu-west-1.amazonaws.com/4242"
    store: ProjectStore = projects_store("qa", staged_aws.client("dynamodb"))
    project = store.get_project("4242")
    assert project is not None and project.public_keys == [key]


def test_token_create_prints_a_token_the_api_accepts(staged_aws: EmbeddedAws) -> None:
    lines = _errata(staged_aws, "token", "create", "--stage", "qa", "--name", "alice")
    token = lines[0].removeprefix("API token: ")
    store = projects_store("qa", staged_aws.client("dynamodb"))
    assert store.is_valid_api_token(token)
    assert not store.is_valid_api_token(token + "x")


def test_token_create_can_keep_the_token_in_ssm_for_the_team(staged_aws: EmbeddedAws) -> None:
    lines = _errata(
        staged_aws, "token", "create", "--stage", "qa", "--name", "oncall", "--scope", "project:write", "--ssm"
    )
    assert lines[0] == "API token kept in SSM: /errata/qa/dashboard-tokens/oncall"
    assert "errata_" not in "\n".join(lines)  # the token itself is not printed
    parameter = staged_aws.client("ssm").get_parameter(Name="/errata/qa/dashboard-tokens/oncall", WithDecryption=True)
    assert parameter["Parameter"]["Type"] == "SecureString"
    token = parameter["Parameter"]["Value"]
    grant = projects_store("qa", staged_aws.client("dynamodb")).api_token(token)
    assert grant is not None and grant.scope == "project:write" and grant.name == "oncall"
