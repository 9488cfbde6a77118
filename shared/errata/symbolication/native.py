"""Native frames (C, C++, Rust, Swift: sentry-native, sentry-rust, sentry-cocoa, Crashpad) resolved with the
debug files uploaded for their images (`errata difs upload`).

A native frame holds an instruction address; the event's `debug_meta.images` says which image (executable or
shared library) was loaded where, with the debug id of its build. For each frame: find the image by address,
take the address relative to the image's load address (so ASLR never changes it), step back into the call
instruction for every frame but the crashing one (a return address points after the call), and look it up
in the image's SymCache (`symbolic`, converted once from the uploaded file, kept in S3 and in a bounded
per-container cache). One address can expand into several frames: the functions inlined there, innermost
last in Sentry's oldest-first order.

Every native frame with an image gets `package` (the image's path) and `data.image` + `data.relative_addr`,
symbolicated or not: grouping keys an unsymbolicated frame by image + relative address, and the frame as sent
is kept in `data.sent_function`, so an event symbolicated after the upload still finds the issue its
predecessors opened (errata.grouping.fingerprint). A frame that stays unresolved says why in
`data.symbolication`: `unknown image`, `missing debug file`, `no symbol at address`, or the file's error.
"""

from __future__ import annotations

import json
import logging
import posixpath
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from symbolic.debuginfo import Archive, ObjectLookup
from symbolic.symcache import SYMCACHE_LATEST_VERSION, SymCache, find_best_instruction

from errata.normalization import MAX_FRAMES
from errata.store.artifacts import (
    NATIVE_KINDS,
    ArtifactStore,
    missing_native_key,
    native_file_key,
    native_uploads_key,
    normalize_native_debug_id,
)
from errata.symbolication import frame_data
from errata.symbolication.cache import ArtifactCache
from errata.symbolication.demangle import demangle

logger = logging.getLogger(__name__)
NATIVE_IMAGE_TYPES = frozenset({"elf", "macho", "pe", "pdb", "wasm", "symbolic"})
MISSING_DEBUG_FILE = "missing debug file"
SYMCACHE_NAME = f"symcache-{SYMCACHE_LATEST_VERSION}"


def native_images(payload: dict[str, Any]) -> list[dict[str, Any]]:
    meta = payload.get("debug_meta")
    images = meta.get("images") if isinstance(meta, dict) else None
    return [
        image
        for image in (images if isinstance(images, list) else [])
        if isinstance(image, dict) and image.get("type") in NATIVE_IMAGE_TYPES and image.get("image_addr")
    ]


def _parse_addr(value: Any) -> int | None:
    try:
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            return int(value, 16) if value.lower().startswith("0x") else int(value)
    except ValueError:
        return None
    return None


def _crash_signal(payload: dict[str, Any]) -> int | None:
    for value in _exception_values(payload):
        mechanism = value.get("mechanism")
        meta = mechanism.get("meta") if isinstance(mechanism, dict) else None
        signal = meta.get("signal") if isinstance(meta, dict) else None
        if isinstance(signal, dict) and isinstance(signal.get("number"), int):
            return int(signal["number"])
    return None


def _exception_values(payload: dict[str, Any]) -> list[dict[str, Any]]:
    exception = payload.get("exception")
    values = exception.get("values") if isinstance(exception, dict) else exception
    return [value for value in (values if isinstance(values, list) else []) if isinstance(value, dict)]


def _stacktraces(payload: dict[str, Any]) -> Iterator[tuple[dict[str, Any], bool]]:
    """Every stack trace with its frames, and whether its last frame is where the crash happened (an
    exception's is; a thread's is only when the thread crashed)."""
    for value in _exception_values(payload):
        if isinstance(value.get("stacktrace"), dict):
            yield value["stacktrace"], True
    threads = payload.get("threads")
    values = threads.get("values") if isinstance(threads, dict) else threads
    for thread in values if isinstance(values, list) else []:
        if isinstance(thread, dict) and isinstance(thread.get("stacktrace"), dict):
            yield thread["stacktrace"], bool(thread.get("crashed"))


UPLOAD_CHECK_SECONDS = 5.0
FRESH_UPLOAD_SECONDS = 300.0


class NativeResolver:
    def __init__(
        self, artifacts: ArtifactStore, cache: ArtifactCache[SymCache], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._artifacts = artifacts
        self._cache = cache
        self._clock = clock
        self._uploads: dict[str, tuple[float, datetime | None]] = {}  # project: (checked at, last upload)

    def _uploaded_lately(self, project_id: str) -> bool:
        """Whether the project's debug files changed in the last few minutes (errata difs upload): then a
        remembered miss is not trusted. One HEAD per project every few seconds, not one GET per image."""
        checked = self._uploads.get(project_id)
        if checked is None or self._clock() - checked[0] > UPLOAD_CHECK_SECONDS:
            checked = (self._clock(), self._artifacts.last_modified(native_uploads_key(project_id)))
            self._uploads[project_id] = checked
        uploaded = checked[1]
        return uploaded is not None and (datetime.now(UTC) - uploaded).total_seconds() < FRESH_UPLOAD_SECONDS

    def symbolicate(self, project_id: str, payload: dict[str, Any]) -> tuple[bool, list[dict[str, str]]]:
        """Resolves the payload's native frames in place: (whether any frame changed, what failed)."""
        images = native_images(payload)
        if not images:
            return False, []
        try:
            lookup = ObjectLookup(images)
        except Exception as exc:  # an image symbolic cannot read (a bad debug id, an odd address)
            return False, [{"type": "native_bad_image", "reason": f"{type(exc).__name__}: {exc}"[:300]}]
        signal = _crash_signal(payload)
        missing: dict[str, str] = {}
        changed = False
        for stacktrace, crashed in _stacktraces(payload):
            frames = stacktrace.get("frames")
            if not isinstance(frames, list):
                continue
            resolved: list[Any] = []
            for index, frame in enumerate(frames):
                crashing = crashed and index == len(frames) - 1
                expanded = self._frame(project_id, lookup, frame, crashing, signal, missing)
                changed = changed or expanded is not None
                resolved.extend(expanded if expanded is not None else [frame])
            if len(resolved) > MAX_FRAMES:  # inlined frames expanded: the limit normalization keeps, kept alike
                resolved = [*resolved[: MAX_FRAMES // 2], *resolved[-(MAX_FRAMES // 2) :]]
            stacktrace["frames"] = resolved
        errors = [
            {"type": "native_missing_dif", "reason": f"no debug file uploaded for {code_file} ({debug_id})"}
            for debug_id, code_file in missing.items()
        ]
        return changed, errors

    def _frame(
        self,
        project_id: str,
        lookup: ObjectLookup,
        frame: Any,
        crashing: bool,
        signal: int | None,
        missing: dict[str, str],
    ) -> list[dict[str, Any]] | None:
        if not isinstance(frame, dict):
            return None
        address = _parse_addr(frame.get("instruction_addr"))
        if address is None:
            return None
        data = frame_data(frame)
        image = lookup.find_object(address)
        if image is None:
            data["symbolication"] = "unknown image"
            return [frame]
        code_file = str(image.code_file or "")
        data.setdefault("sent_function", frame.get("function"))
        data["image"] = posixpath.basename(code_file.replace("\\", "/")) or "unknown"
        data["relative_addr"] = f"0x{address - image.addr:x}"
        frame["package"] = code_file or frame.get("package")
        if frame.get("addr_mode") not in (None, "abs"):
            data["symbolication"] = f"unsupported addr_mode {frame.get('addr_mode')}"
            return [frame]
        symcache = self._symcache(project_id, image.debug_id, code_file) if image.debug_id else "no debug id"
        if isinstance(symcache, str):
            data["symbolication"] = MISSING_DEBUG_FILE if symcache.startswith("none:") else symcache
            if image.debug_id and symcache.startswith("none:"):
                missing[image.debug_id] = code_file
            return [frame]
        arch = image.arch or str(symcache.arch)
        caller = find_best_instruction(address, arch, crashing_frame=crashing, signal=signal) if arch else address
        locations = symcache.lookup(caller - image.addr)
        if not locations:
            data["symbolication"] = "no symbol at address"
            return [frame]
        expanded = []
        # Innermost first from symbolic; the last location is the function the address belongs to, the ones
        # before it were inlined into it.
        for depth, location in enumerate(reversed(locations)):
            path = location.full_path or ""
            function = demangle(location.symbol, location.lang)
            expanded.append(
                {
                    **frame,
                    "function": function,
                    "raw_function": function,
                    "symbol": location.symbol,
                    "abs_path": path or None,
                    "filename": posixpath.basename(path) if path else None,
                    "lineno": location.line or None,
                    "data": {**data, "symbolicated": True, "inlined": depth > 0, "symbolication": "ok"},
                }
            )
        return expanded

    def _symcache(self, project_id: str, debug_id: str, code_file: str) -> SymCache | str:
        try:
            normalized = normalize_native_debug_id(debug_id)
        except ValueError as exc:
            return str(exc)
        key = ("native", project_id, normalized)
        if self._uploaded_lately(project_id):
            self._cache.forget_miss(key)
        return self._cache.get_or_load(key, lambda: self._load(project_id, normalized, code_file))

    def _load(self, project_id: str, debug_id: str, code_file: str) -> tuple[SymCache, int] | str:
        """The image's SymCache: converted before (S3), else converted now from the best uploaded file. A
        miss is remembered a minute by the cache, and marked in S3 for the API's list of images that lack
        a debug file."""
        cached_key = native_file_key(project_id, debug_id, SYMCACHE_NAME)
        cached = self._artifacts.read(cached_key)
        if cached is not None:
            return SymCache.from_bytes(cached), len(cached)
        for kind in NATIVE_KINDS:
            content = self._artifacts.read(native_file_key(project_id, debug_id, kind))
            if content is not None:
                break
        else:
            marker = json.dumps({"debug_id": debug_id, "code_file": code_file}).encode()
            self._artifacts.write(missing_native_key(project_id, debug_id, code_file), marker)
            return f"none: no debug file for {debug_id}"
        archive = Archive.from_bytes(content)
        objects = list(archive.iter_objects())
        chosen = next((o for o in objects if normalize_native_debug_id(o.debug_id) == debug_id), None)
        if chosen is None:
            return f"the uploaded file holds no object with debug id {debug_id}"
        converted = chosen.make_symcache()
        body = converted.open_stream().read()
        self._artifacts.write(cached_key, body)  # the next container reads it instead of converting again
        return SymCache.from_bytes(body), len(body)
