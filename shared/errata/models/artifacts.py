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


NATIVE_DEBUG_ID = (
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}(?:-?[0-9a-fA-F]{1,8})?$"
)


class DebugFile(BaseModel):
    """One native debug file a build wants to upload (`errata difs upload` reads these from the file)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f/\\]+$", examples=["libshop.so"])
    debug_id: str = Field(pattern=NATIVE_DEBUG_ID, examples=["c356f04c-5ca7-5fd0-fd03-5be3636f4c21"])
    kind: Literal["debug_file", "breakpad", "symbol_table"] = Field(
        description="debug_file: DWARF or PDB (lines, inlined frames); breakpad: a .sym file; symbol_table: names"
    )
    format: Literal["elf", "macho", "pe", "pdb", "breakpad", "wasm"]
    arch: str = Field(default="unknown", max_length=32)
    code_id: str | None = Field(default=None, max_length=128, pattern=r"^[0-9a-fA-F]*$")
    size: int = Field(ge=1, le=2 * 1024**3, description="bytes; signed into the upload URL")


class DebugFileUploadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    files: list[DebugFile] = Field(min_length=1, max_length=200)


class DebugFileSlot(UploadSlot):
    debug_id: str


class DebugFileUploadPlan(BaseModel):
    expires_in: int = Field(description="seconds the URLs stay valid")
    uploads: list[DebugFileSlot] = Field(description="one per file, in the request's order")


class StoredDebugFile(BaseModel):
    debug_id: str
    kind: str
    size: int
    last_modified: str


class MissingDebugFile(BaseModel):
    debug_id: str
    code_file: str = Field(description="the image's file name as events reported it")
    last_seen: str


class DebugFileList(BaseModel):
    debug_files: list[StoredDebugFile]
    missing: list[MissingDebugFile] = Field(
        description="images that recent events referenced while no debug file for them had been uploaded"
    )
