"""/api/projects/{p}/debug-files: native debug files (ELF, Mach-O, PDB, Breakpad, WASM) by debug id."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body

from errata.api.context import ProjectId, artifacts
from errata.models.artifacts import (
    DebugFileList,
    DebugFileSlot,
    DebugFileUploadPlan,
    DebugFileUploadRequest,
    MissingDebugFile,
    StoredDebugFile,
)
from errata.store.artifacts import (
    NATIVE_KINDS,
    UPLOAD_CONTENT_TYPE,
    UPLOAD_URL_SECONDS,
    missing_native_prefix,
    native_file_key,
    native_prefix,
    native_uploads_key,
    normalize_native_debug_id,
)

router = Router()  # type: ignore[no-untyped-call]
MAX_LISTED = 1000


@router.post("/api/projects/<project_id>/debug-files")
def upload_debug_files(
    project_id: ProjectId, request: Annotated[DebugFileUploadRequest, Body()]
) -> DebugFileUploadPlan:
    """Presigned S3 PUT URLs for a build's native debug files, keyed by debug id (not by release: one build's
    symbols serve every release that ships it). A second upload for the same id and kind replaces the first."""
    store = artifacts()
    uploads = []
    for file in request.files:
        debug_id = normalize_native_debug_id(file.debug_id)
        url = store.upload_url(native_file_key(project_id, debug_id, file.kind), file.size)
        uploads.append(
            DebugFileSlot(
                name=file.name,
                kind=file.kind,
                debug_id=debug_id,
                url=url,
                headers={"Content-Length": str(file.size), "Content-Type": UPLOAD_CONTENT_TYPE},
            )
        )
    store.write(native_uploads_key(project_id), b'{"uploaded": true}')  # the processor stops trusting its misses
    return DebugFileUploadPlan(expires_in=UPLOAD_URL_SECONDS, uploads=uploads)


@router.get("/api/projects/<project_id>/debug-files")
def list_debug_files(project_id: ProjectId) -> DebugFileList:
    """The uploaded debug files (the first 1,000 by id), and the images recent events referenced that still
    have none: what a build pipeline forgot to upload."""
    store = artifacts()
    uploaded, _ = store.page_under(native_prefix(project_id), MAX_LISTED)
    debug_files = []
    for stored in uploaded:
        debug_id, _, kind = stored.name.partition("/")
        if kind in NATIVE_KINDS:
            debug_files.append(
                StoredDebugFile(debug_id=debug_id, kind=kind, size=stored.size, last_modified=stored.last_modified)
            )
    present = {file.debug_id for file in debug_files}
    marked, _ = store.page_under(missing_native_prefix(project_id), MAX_LISTED)
    missing = []
    for marker in marked:
        debug_id, _, code_file = marker.name.partition("/")
        if debug_id not in present:
            missing.append(MissingDebugFile(debug_id=debug_id, code_file=code_file, last_seen=marker.last_modified))
    missing.sort(key=lambda m: m.last_seen, reverse=True)
    return DebugFileList(debug_files=debug_files, missing=missing)
