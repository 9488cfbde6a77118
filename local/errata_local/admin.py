"""Administration of a deployed stage with the operator's AWS credentials: projects (DSN keys) and
dashboard API tokens, written straight to the stage's projects table."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

import boto3

from errata.naming import physical_name
from errata.store.projects import PROJECTS_TABLE, Project, ProjectStore, Scope, new_api_token


def projects_store(stage: str, dynamodb: Any | None = None) -> ProjectStore:
    table = physical_name(f"errata-{stage}", PROJECTS_TABLE.logical_name)
    return ProjectStore(dynamodb or boto3.client("dynamodb"), table)


def ingest_url_of(stage: str, cloudformation: Any | None = None) -> str:
    """The `IngestUrl` output of the stage's services stack."""
    client = cloudformation or boto3.client("cloudformation")
    stack = client.describe_stacks(StackName=f"Errata-{stage}-Services")["Stacks"][0]
    for output in stack.get("Outputs", []):
        if output["OutputKey"] == "IngestUrl":
            return str(output["OutputValue"])
    raise LookupError(f"stack Errata-{stage}-Services has no IngestUrl output")


def dsn_for(ingest_url: str, public_key: str, project_id: str) -> str:
    parts = urlsplit(ingest_url.rstrip("/"))
    return f"{parts.scheme}://{public_key}@{parts.netloc}{parts.path}/{project_id}"


def create_project(store: ProjectStore, name: str, project_id: str | None = None) -> Project:
    if project_id is None:
        project_id = str(secrets.randbelow(9_000_000) + 1_000_000)
    if store.get_project(project_id) is not None:
        raise ValueError(f"project {project_id} exists already")
    project = Project(project_id=project_id, name=name, public_keys=[secrets.token_hex(16)])
    store.put_project(project)
    return project


def create_api_token(
    store: ProjectStore, name: str, project_id: str | None = None, scope: Scope = "project:admin"
) -> str:
    """A new token, stored hashed: for one project or (no project) every project, with a scope."""
    if project_id is not None and store.get_project(project_id) is None:
        raise ValueError(f"no project {project_id}")
    token = new_api_token()
    store.add_api_token(token, name=name, project_id=project_id, scope=scope)
    return token


def dashboard_token_parameter(stage: str, name: str) -> str:
    """Where `errata token create --ssm` keeps a team's token: under the stage's parameters."""
    return f"/errata/{stage}/dashboard-tokens/{name}"


def keep_token_in_ssm(stage: str, name: str, token: str, ssm: Any | None = None) -> str:
    """The token as a SecureString, for a small team to share through SSM instead of passing it around; it
    replaces a token kept under the same name (that token stays valid until revoked)."""
    parameter = dashboard_token_parameter(stage, name)
    (ssm or boto3.client("ssm")).put_parameter(
        Name=parameter,
        Value=token,
        Type="SecureString",
        Overwrite=True,
        Description=f"Errata dashboard API token {name!r} ({stage})",
    )
    return parameter
