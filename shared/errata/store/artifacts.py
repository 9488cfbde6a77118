"""The source-map bucket: release artifacts (minified JavaScript, its source maps, ProGuard mappings) that
the processor resolves frames with.

Keys:
- `projects/<project>/releases/<release>/<name>`: by release and artifact name (`~/app.min.js`, Sentry's
  convention: `~/` stands for any scheme and host). Release and name are percent-encoded.
- `projects/<project>/debug-ids/<debug id>/<kind>`: by debug ID (a UUID in the map and the bundle), which
  identifies a build whatever the release or file name.
- `projects/<project>/native/<debug id>/<kind>`: native debug files (ELF, Mach-O, PDB, PE, WASM, Breakpad)
  by the debug id of the image they describe (a UUID, plus an age for PDBs), never by release: one build's
  symbols serve every release that ships it. `symcache-<version>` beside them is the processor's converted
  lookup table; `projects/<project>/native-missing/<debug id>/<code file>` marks an image that events
  referenced while no debug file was there.

Uploads never pass through the API: the API hands out presigned PUT URLs with the size signed in, so a
build pipeline needs no AWS credentials and a 50 MB map does not meet API Gateway's 10 MB limit.

A missing artifact and an unreachable one are different answers: `read` returns None for the first (the
event groups on its minified frames, as it should), and raises ArtifactUnavailable for the second (S3 5xx,
throttling, a timeout), so the processor retries the record rather than grouping it on minified frames, which
opened a second, permanent issue. Objects expire by the bucket's lifecycle; an artifact still read is renewed
(copied onto itself) before it gets there, so a release that runs for years keeps its maps.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote, unquote

from botocore.exceptions import BotoCoreError, ClientError

from errata.store.dynamo import decode_cursor, encode_cursor

ArtifactKind = Literal["minified_source", "source_map", "proguard"]
# Tried in this order: DWARF or PDB (lines, inlined frames), then Breakpad (lines), then a symbol table alone.
NativeKind = Literal["debug_file", "breakpad", "symbol_table"]
NATIVE_KINDS: tuple[NativeKind, ...] = ("debug_file", "breakpad", "symbol_table")
_NATIVE_ID = re.compile(
    r"^([0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12})(?:-?([0-9a-fA-F]{1,8}))?$"
)
MAX_ARTIFACT_BYTES = 100 * 1024 * 1024
UPLOAD_URL_SECONDS = 900
MAX_KEY_BYTES = 1024
UPLOAD_CONTENT_TYPE = "application/octet-stream"
_MISSING = frozenset({"NoSuchKey", "404", "NotFound", "AccessDenied", "403"})
logger = logging.getLogger(__name__)


class ArtifactUnavailable(Exception):
    """S3 did not answer whether the artifact exists (5xx, throttling, a timeout): try again later."""


def release_prefix(project_id: str, release: str) -> str:
    return f"projects/{project_id}/releases/{quote(release, safe='')}/"


def artifact_key(project_id: str, release: str, name: str) -> str:
    return release_prefix(project_id, release) + quote(name, safe="~")


def debug_id_key(project_id: str, debug_id: str, kind: ArtifactKind) -> str:
    return f"projects/{project_id}/debug-ids/{normalize_debug_id(debug_id)}/{kind}"


def normalize_debug_id(debug_id: str) -> str:
    """Raises ValueError unless it is a UUID (with or without dashes, any case)."""
    return str(uuid.UUID(debug_id.strip()))


def normalize_native_debug_id(debug_id: str) -> str:
    """`<uuid>` or `<uuid>-<age in hex>` (a PDB's age; 0 is left out), lower case, as Sentry writes them.
    Raises ValueError for anything else (a path segment must not come from an event unchecked)."""
    match = _NATIVE_ID.match(debug_id.strip())
    if match is None:
        raise ValueError(f"not a debug id: {debug_id[:80]!r}")
    age = int(match.group(2), 16) if match.group(2) else 0
    return str(uuid.UUID(match.group(1))) + (f"-{age:x}" if age else "")


def native_prefix(project_id: str) -> str:
    return f"projects/{project_id}/native/"


def native_file_key(project_id: str, debug_id: str, kind: NativeKind | str) -> str:
    return f"{native_prefix(project_id)}{normalize_native_debug_id(debug_id)}/{kind}"


def native_uploads_key(project_id: str) -> str:
    """Written by the API whenever it hands out upload URLs for debug files: the processor, which remembers
    a missing debug file for a minute, looks here every few seconds and forgets what it remembered."""
    return f"projects/{project_id}/native-uploads"


def missing_native_prefix(project_id: str) -> str:
    return f"projects/{project_id}/native-missing/"


def missing_native_key(project_id: str, debug_id: str, code_file: str) -> str:
    name = code_file.replace("\\", "/").rsplit("/", 1)[-1][:200] or "unknown"
    return f"{missing_native_prefix(project_id)}{normalize_native_debug_id(debug_id)}/{quote(name, safe='')}"


@dataclass(frozen=True)
class StoredArtifact:
    name: str
    size: int
    last_modified: str


class ArtifactStore:
    def __init__(self, s3: Any, bucket: str, renew_after: timedelta | None = None) -> None:
        self._s3 = s3
        self._bucket = bucket
        # Renewed when read this long after it was written; None: never (the API's store only writes).
        self._renew_after = renew_after

    def upload_url(self, key: str, size: int) -> str:
        url: str = self._s3.generate_presigned_url(
            "put_object",
            # Both headers are signed: S3 refuses a body of another size, and without a declared type an
            # HTTP client may send a form encoding that empties the body.
            Params={"Bucket": self._bucket, "Key": key, "ContentLength": size, "ContentType": UPLOAD_CONTENT_TYPE},
            ExpiresIn=UPLOAD_URL_SECONDS,
            HttpMethod="PUT",
        )
        return url

    def plan_upload(
        self, project_id: str, release: str, name: str, kind: ArtifactKind, size: int, debug_id: str | None
    ) -> list[tuple[str, str]]:
        """(key, presigned URL) for each place the file goes: by release and name, and by debug ID too."""
        keys = [artifact_key(project_id, release, name)]
        if debug_id is not None:
            keys.append(debug_id_key(project_id, debug_id, kind))
        for key in keys:
            if len(key.encode()) > MAX_KEY_BYTES:
                raise ValueError(f"artifact name {name[:80]!r} is too long once encoded (S3 keys hold 1024 bytes)")
        return [(key, self.upload_url(key, size)) for key in keys]

    def names(self, project_id: str, release: str) -> list[StoredArtifact]:
        """Every artifact of the release (the symbolicator's candidates)."""
        found, token = self.page(project_id, release, 1000)
        while token:
            more, token = self.page(project_id, release, 1000, token)
            found.extend(more)
        return found

    def page(
        self, project_id: str, release: str, limit: int, cursor: str | None = None
    ) -> tuple[list[StoredArtifact], str | None]:
        """Up to `limit` artifacts of the release in name order, and the cursor of the next page: S3's
        continuation token, wrapped with the prefix it belongs to so a cursor of another listing is refused
        (InvalidCursor) before S3 sees it."""
        return self.page_under(release_prefix(project_id, release), limit, cursor)

    def page_under(self, prefix: str, limit: int, cursor: str | None = None) -> tuple[list[StoredArtifact], str | None]:
        """The objects under `prefix`, named relative to it (see `page`)."""
        request: dict[str, Any] = {"Bucket": self._bucket, "Prefix": prefix, "MaxKeys": limit}
        if cursor:
            request["ContinuationToken"] = decode_cursor(cursor, ("prefix", prefix), {"prefix", "token"})["token"]["S"]
        try:
            response = self._s3.list_objects_v2(**request)
        except (ClientError, BotoCoreError) as exc:
            raise ArtifactUnavailable(f"listing {prefix}: {exc}") from exc
        found = [
            StoredArtifact(
                name=unquote(item["Key"].removeprefix(prefix)),
                size=int(item["Size"]),
                last_modified=item["LastModified"].isoformat(),
            )
            for item in response.get("Contents", [])
        ]
        token = response.get("NextContinuationToken") if response.get("IsTruncated") else None
        return found, encode_cursor({"prefix": {"S": prefix}, "token": {"S": token}}) if token else None

    def write(self, key: str, body: bytes) -> None:
        """The processor's own derived files (a converted symbol cache, a missing-file marker). A failed
        write only costs a conversion or a marker later: it is logged, never raised."""
        try:
            self._s3.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType=UPLOAD_CONTENT_TYPE)
        except (ClientError, BotoCoreError):
            logger.warning("artifact not written", exc_info=True, extra={"key": key})

    def last_modified(self, key: str) -> datetime | None:
        """When the object was last written; None if it does not exist or S3 did not say."""
        try:
            modified: datetime = self._s3.head_object(Bucket=self._bucket, Key=key)["LastModified"]
        except (ClientError, BotoCoreError):
            return None
        return modified

    def read(self, key: str, max_bytes: int = MAX_ARTIFACT_BYTES) -> bytes | None:
        try:
            response = self._s3.get_object(Bucket=self._bucket, Key=key)
            body: bytes = response["Body"].read(max_bytes + 1)
        except ClientError as exc:
            # Without s3:ListBucket on the key's prefix S3 answers 403, not 404, for a missing key.
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                return None
            raise ArtifactUnavailable(f"reading {key}: {exc}") from exc
        except BotoCoreError as exc:
            raise ArtifactUnavailable(f"reading {key}: {exc}") from exc
        if len(body) > max_bytes:
            raise ValueError(f"{key} is larger than {max_bytes} bytes")
        self._renew_if_old(key, response.get("LastModified"))
        return body

    def _renew_if_old(self, key: str, last_modified: datetime | None) -> None:
        if self._renew_after is None or last_modified is None:
            return
        if datetime.now(UTC) - last_modified < self._renew_after:
            return
        try:
            self._s3.copy_object(
                Bucket=self._bucket,
                Key=key,
                CopySource={"Bucket": self._bucket, "Key": key},
                MetadataDirective="REPLACE",
                Metadata={"errata-renewed": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
                ContentType=UPLOAD_CONTENT_TYPE,
            )
        except (ClientError, BotoCoreError):
            logger.warning("artifact not renewed", exc_info=True, extra={"key": key})
