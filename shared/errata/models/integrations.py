"""Source control and issue trackers: code mappings (stack paths -> repository files), the deploy webhooks of
GitHub and GitLab, and the Jira and Linear settings tickets are created with.

Secrets (webhook secrets, tracker tokens) are write-only: they arrive in a PUT body, go to SSM Parameter Store,
and no response or log line carries them again.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

Provider = Literal["github", "gitlab", "bitbucket"]
Tracker = Literal["jira", "linear"]
HookProvider = Literal["github", "gitlab"]
IntegrationKind = Literal["github", "gitlab", "jira", "linear"]
RefSource = Literal["deploy", "release", "default_branch"]

_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _web_url(value: str) -> str:
    """https, or http to this machine only (the local stack and its tests): a tracker token is never sent in
    clear over a network."""
    parts = urlsplit(value)
    if not parts.hostname or parts.scheme not in ("https", "http"):
        raise ValueError("must be an http(s) URL with a host")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise ValueError("must be https (http only for localhost)")
    if parts.query or parts.fragment or parts.username:
        raise ValueError("must not carry a query, a fragment or credentials")
    return value.rstrip("/")


class CodeMapping(_Strict):
    """Where the files of a stack trace live: frames whose path starts with `stack_root` are
    `<source_root><rest of the path>` in the repository."""

    stack_root: str = Field(
        min_length=1,
        max_length=200,
        description="the path prefix in frames (`/srv/app/`, `webpack:///./src/`, `C:\\app\\`) or a module "
        "prefix without slashes (`myapp.`, `com.example.`), which maps modules as paths",
    )
    repository_url: str = Field(max_length=300, description="e.g. https://github.com/acme/shop")
    source_root: str = Field(default="", max_length=200, description="the folder in the repository, e.g. `src/`")
    default_branch: str = Field(default="main", pattern=r"^[A-Za-z0-9._/-]{1,100}$")
    provider: Provider = "github"

    @field_validator("repository_url")
    @classmethod
    def _repository(cls, value: str) -> str:
        url = _web_url(value)
        return url[:-4] if url.endswith(".git") else url

    @field_validator("source_root")
    @classmethod
    def _inside_repository(cls, value: str) -> str:
        if ".." in value.split("/") or value.startswith("/"):
            raise ValueError("must be a relative folder inside the repository")
        return value


class CodeMappingList(_Strict):
    mappings: list[CodeMapping] = Field(max_length=50, description="the longest matching `stack_root` wins")


class SourceRef(BaseModel):
    """What the links of an event point at: the commit of its release's deploy, the release itself when it
    is a commit SHA, else each mapping's default branch (`commit` is then null)."""

    commit: str | None = None
    source: RefSource


class GitHubHookSettings(_Strict):
    secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=256,
        description="the webhook's secret as set in GitHub; omitted: Errata makes one and returns it once",
    )
    release_prefix: str = Field(
        default="",
        max_length=100,
        description="prepended to a release tag or a deployed SHA to make the SDK's release (`shop-api@`)",
    )


class GitLabHookSettings(_Strict):
    token: str | None = Field(
        default=None,
        min_length=16,
        max_length=256,
        description="the webhook's secret token as set in GitLab; omitted: Errata makes one and returns it once",
    )
    release_prefix: str = Field(default="", max_length=100)


class JiraSettings(_Strict):
    site_url: str = Field(max_length=300, description="https://<your-site>.atlassian.net")
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    api_token: str = Field(min_length=1, max_length=1000, description="write-only")
    project_key: str = Field(pattern=r"^[A-Z][A-Z0-9_]{0,19}$")
    issue_type: str = Field(default="Bug", min_length=1, max_length=60)

    @field_validator("site_url")
    @classmethod
    def _site(cls, value: str) -> str:
        return _web_url(value)


class LinearSettings(_Strict):
    api_key: str = Field(min_length=1, max_length=1000, description="a personal API key; write-only")
    team_id: str = Field(min_length=1, max_length=100)


SECRET_FIELDS: dict[IntegrationKind, str] = {
    "github": "secret",
    "gitlab": "token",
    "jira": "api_token",
    "linear": "api_key",
}


class IntegrationView(BaseModel):
    kind: IntegrationKind
    settings: dict[str, str] = Field(description="everything but the secret")
    secret_set: bool = True
    webhook_url: str | None = Field(default=None, description="GitHub/GitLab: where the webhook must point")
    generated_secret: str | None = Field(
        default=None, description="only in the answer to the PUT that generated it: copy it into the webhook"
    )


class IntegrationList(BaseModel):
    integrations: list[IntegrationView]


class TicketRequest(_Strict):
    tracker: Tracker


class Ticket(BaseModel):
    tracker: Tracker
    key: str = Field(description="JIRA-123 or ENG-42")
    url: str
    created_at: str


class TicketList(BaseModel):
    tickets: list[Ticket]


class FrameAtCommit(BaseModel):
    function: str | None = None
    filename: str | None = None
    lineno: int | None = None
    source_link: str | None = None


class FirstSeenIn(BaseModel):
    """The deploy that shipped the release an issue was first seen in: the suspect commit."""

    release: str
    environment: str | None = None
    commit: str | None = None
    ref: str | None = Field(default=None, description="the tag or branch deployed, when the hook named one")
    deployed_at: str | None = None
    deploy_url: str | None = None
    frame: FrameAtCommit | None = Field(default=None, description="the issue's culprit frame at that commit")


HookOutcome = Annotated[str, Field(description="recorded, duplicate or ignored")]


class HookResult(BaseModel):
    outcome: HookOutcome
    reason: str = ""
    release: str | None = None
