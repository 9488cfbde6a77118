"""The projects table: projects with their DSN public keys, and dashboard API tokens (stored as SHA-256
hashes, never in clear)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from errata.grouping.rules import parse_rules
from errata.store.dynamo import from_item, to_item
from errata.store.tables import KeyAttribute, TableSpec

PROJECTS_TABLE = TableSpec(logical_name="projects", partition_key=KeyAttribute("pk"))

_PROJECT = "project#"
_RULES_MAX_CHARS = 20_000
_TOKEN = "token#"  # noqa: S105 - a key prefix, not a secret


class ProjectSettings(BaseModel):
    """What a project's owner tunes (PATCH /api/projects/{id})."""

    model_config = ConfigDict(extra="forbid")

    rate_limit_per_minute: int = Field(
        default=10_000, ge=1, le=10_000_000, description="events accepted per minute; past it ingest answers 429"
    )
    sample_size: int = Field(default=5, ge=1, le=50, description="example payloads kept per issue and minute")
    fingerprint_rules: str = Field(
        default="",
        max_length=_RULES_MAX_CHARS,
        description="server-side fingerprint rules, one per line: `error.type:TimeoutError -> timeouts`",
    )
    scrub_ip_addresses: bool = Field(
        default=False, description="remove users' IP addresses and filter IP addresses in any text, as Relay's option"
    )

    @field_validator("fingerprint_rules")
    @classmethod
    def _rules_parse(cls, value: str) -> str:
        parse_rules(value)  # InvalidRule is a ValueError: the API answers 422 with the line and the reason
        return value


class ProjectSettingsPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rate_limit_per_minute: int | None = Field(default=None, ge=1, le=10_000_000)
    sample_size: int | None = Field(default=None, ge=1, le=50)
    fingerprint_rules: str | None = Field(default=None, max_length=_RULES_MAX_CHARS)
    scrub_ip_addresses: bool | None = None

    @field_validator("fingerprint_rules")
    @classmethod
    def _rules_parse(cls, value: str | None) -> str | None:
        if value is not None:
            parse_rules(value)
        return value


Scope = Literal["project:read", "project:write", "project:admin"]
API_TOKEN_PREFIX = "errata_"  # noqa: S105 (a prefix, not a secret)


def new_api_token() -> str:
    """A dashboard API token. The prefix makes it recognisable to secret scanners (and to Errata's own
    scrubbing), and means it never starts with "-", which a command line would read as an option."""
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


_SCOPE_RANK: dict[str, int] = {"project:read": 0, "project:write": 1, "project:admin": 2}


class ApiToken(BaseModel):
    """What a dashboard token may do, like Sentry's auth tokens: a project's (or, with no project, every
    project of the organization) read, write or admin. admin includes write, write includes read."""

    name: str
    project_id: str | None = None
    scope: Scope = "project:admin"
    # A person signed in through Cognito may hold scopes on several projects (one group each); when set,
    # these are the grant and `project_id`/`scope` are not used.
    projects: dict[str, Scope] | None = None

    def allows(self, project_id: str | None, needed: Scope) -> bool:
        if self.projects is not None:
            held = self.projects.get(project_id) if project_id is not None else None
            return held is not None and _SCOPE_RANK[held] >= _SCOPE_RANK[needed]
        if self.project_id is not None and project_id != self.project_id:
            return False
        return _SCOPE_RANK[self.scope] >= _SCOPE_RANK[needed]

    def denial(self, project_id: str | None, needed: Scope) -> str:
        """Why `allows` said no, for the 403's detail."""
        if self.projects is not None:
            held = self.projects.get(project_id) if project_id is not None else None
            return f"you have {held}; {needed} is needed" if held else f"you have no access to project {project_id}"
        if self.project_id is not None and self.project_id != project_id:
            return f"this token is for project {self.project_id}"
        return f"this token has {self.scope}; {needed} is needed"


def grant_of_groups(name: str, groups: list[str]) -> ApiToken | None:
    """The grant of a signed-in person's Cognito groups: `errata:<scope>` on every project, or
    `errata:<project id>:<scope>` on one (scopes: project:read, project:write, project:admin). The highest
    scope per project wins; no such group, no access."""
    organization: Scope | None = None
    projects: dict[str, Scope] = {}
    for group in groups:
        parts = group.split(":")
        if len(parts) == 3 and parts[0] == "errata" and f"{parts[1]}:{parts[2]}" in _SCOPE_RANK:
            scope: Scope = f"{parts[1]}:{parts[2]}"  # type: ignore[assignment]
            if organization is None or _SCOPE_RANK[scope] > _SCOPE_RANK[organization]:
                organization = scope
        elif len(parts) == 4 and parts[0] == "errata" and f"{parts[2]}:{parts[3]}" in _SCOPE_RANK:
            scope = f"{parts[2]}:{parts[3]}"  # type: ignore[assignment]
            held = projects.get(parts[1])
            if held is None or _SCOPE_RANK[scope] > _SCOPE_RANK[held]:
                projects[parts[1]] = scope
    if organization is not None:
        return ApiToken(name=name, scope=organization)
    return ApiToken(name=name, projects=projects) if projects else None


class Project(BaseModel):
    project_id: str
    name: str
    public_keys: list[str] = Field(default_factory=list)
    settings: ProjectSettings = Field(default_factory=ProjectSettings)


def _project(values: dict[str, Any]) -> Project:
    return Project(
        project_id=values["project_id"],
        name=values["name"],
        public_keys=values.get("public_keys", []),
        settings=ProjectSettings.model_validate(values.get("settings") or {}),
    )


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ProjectStore:
    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def get_project(self, project_id: str) -> Project | None:
        response = self._dynamodb.get_item(TableName=self._table, Key=to_item({"pk": _PROJECT + project_id}))
        item = response.get("Item")
        if not item:
            return None
        return _project(from_item(item))

    def update_settings(self, project_id: str, patch: ProjectSettingsPatch) -> Project | None:
        changes = patch.model_dump(exclude_none=True)
        current = self.get_project(project_id)
        if current is None:
            return None
        if changes:
            settings = current.settings.model_copy(update=changes)
            self._dynamodb.update_item(
                TableName=self._table,
                Key=to_item({"pk": _PROJECT + project_id}),
                UpdateExpression="SET settings = :settings",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=to_item({":settings": settings.model_dump()}),
            )
            current = current.model_copy(update={"settings": settings})
        return current

    def add_public_key(self, project_id: str, public_key: str) -> Project | None:
        """A new DSN key beside the others (rotate: add, deploy the new DSN, then revoke the old one)."""
        try:
            response = self._dynamodb.update_item(
                TableName=self._table,
                Key=to_item({"pk": _PROJECT + project_id}),
                UpdateExpression="SET public_keys = list_append(if_not_exists(public_keys, :empty), :key)",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=to_item({":key": [public_key], ":empty": []}),
                ReturnValues="ALL_NEW",
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            return None
        return _project(from_item(response["Attributes"]))

    def revoke_public_key(self, project_id: str, public_key: str) -> bool:
        """False when the project has no such key. Ingest's per-container cache forgets it within a minute."""
        project = self.get_project(project_id)
        if project is None or public_key not in project.public_keys:
            return False
        index = project.public_keys.index(public_key)
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key=to_item({"pk": _PROJECT + project_id}),
                UpdateExpression=f"REMOVE public_keys[{index}]",
                ConditionExpression=f"public_keys[{index}] = :key",
                ExpressionAttributeValues=to_item({":key": public_key}),
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            return False  # the list changed meanwhile: the caller may try again
        return True

    def put_project(self, project: Project) -> None:
        self._dynamodb.put_item(
            TableName=self._table,
            Item=to_item({"pk": _PROJECT + project.project_id, "kind": "project", **project.model_dump()}),
        )

    def add_api_token(
        self, token: str, name: str, project_id: str | None = None, scope: Scope = "project:admin"
    ) -> None:
        grant = {"pk": _TOKEN + _token_hash(token), "kind": "token", "name": name, "scope": scope}
        if project_id is not None:
            grant["project_id"] = project_id
        self._dynamodb.put_item(TableName=self._table, Item=to_item(grant))

    def api_token(self, token: str) -> ApiToken | None:
        """The token's grant, or None for an unknown token. Tokens made before scopes existed are
        organization admins, as they were."""
        if not token:
            return None
        digest = _token_hash(token)
        response = self._dynamodb.get_item(TableName=self._table, Key=to_item({"pk": _TOKEN + digest}))
        item = response.get("Item")
        # compare_digest: the lookup already matched, but keep the comparison constant-time by habit.
        if not item or not hmac.compare_digest(from_item(item)["pk"], _TOKEN + digest):
            return None
        values = from_item(item)
        return ApiToken(
            name=values.get("name", ""),
            project_id=values.get("project_id"),
            scope=values.get("scope", "project:admin"),
        )

    def is_valid_api_token(self, token: str) -> bool:
        return self.api_token(token) is not None
