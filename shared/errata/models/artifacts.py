"""What the dashboard API takes and returns for release artifacts (source maps, minified files, ProGuard
mappings)."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ArtifactFile(BaseModel):
    """One file a build wants to upload (`errata sourcemaps upload` sends these)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=1024, pattern=r"^[^\x00-\x1f]+$", examples=["~/app.min.js"])
    size: int = Field(ge=0, le=100 * 1024 * 1024, description="bytes; signed into the upload URL")
    kind: Literal["minified_source", "source_map", "proguard"]
    debug_id: UUID | None = None

    @field_validator("name")
    @classmethod
    def _not_a_dot_path(cls, value: str) -> str:
        # "." and ".." are not file names: S3 (and every client that joins paths) resolves them away, which
        # left an artifact under an empty name.
        if any(part in {".", ".."} for part in value.replace("\\", "/").split("/")):
            raise ValueError("a name must not have '.' or '..' as a path segment")
        return value


class ArtifactUploadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    files: list[ArtifactFile] = Field(min_length=1, max_length=1000)


class UploadSlot(BaseModel):
    name: str
    kind: str
    url: str = Field(description="presigned S3 PUT URL; send the file as the body with this Content-Length")
    method: Literal["PUT"] = "PUT"
    headers: dict[str, str]


class ArtifactUploadPlan(BaseModel):
    release: str
    expires_in: int = Field(description="seconds the URLs stay valid")
    uploads: list[UploadSlot]


class ArtifactView(BaseModel):
    name: str
    size: int
    last_modified: str


class ArtifactList(BaseModel):
    release: str
    artifacts: list[ArtifactView]
    next_cursor: str | None = Field(default=None, description="pass as `cursor` for the next page; null at the end")
