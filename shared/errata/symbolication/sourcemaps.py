"""Minified JavaScript frames resolved through uploaded source maps.

A frame's file is matched to a release artifact the way Sentry does it: by debug ID when the event's
`debug_meta` names one for the file, else by name, where `~/app.min.js` matches any path or URL ending in
`/app.min.js` (the longest match wins). The minified file says where its map is (`//# sourceMappingURL=`,
relative, absolute or inline), else the map is `<name>.map`.

`symbolic`'s SourceMapCache resolves function names from the original scopes, which a lookup of the map's
`names` at the call site gets wrong (it names the callee, or the minified class). It takes and returns
1-based lines and columns, as V8 prints them.
"""

from __future__ import annotations

import base64
import posixpath
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

from symbolic.sourcemapcache import SourceMapCache

from errata.models.event import event_frames
from errata.store.artifacts import (
    ArtifactStore,
    ArtifactUnavailable,
    artifact_key,
    debug_id_key,
    normalize_debug_id,
)
from errata.symbolication import debug_images, frame_data
from errata.symbolication.cache import ArtifactCache

JS_PLATFORMS = {"javascript", "node", "typescript"}
_JS_FILE = re.compile(r"\.(?:m|c)?js(?:$|[?#])")
_CONTEXT_LINES = 5
_LISTING_SECONDS = 60.0
_MAX_POSITION = 10_000_000  # lines and columns beyond this are no bundle's
_MAX_LOADS_PER_EVENT = 20  # distinct maps one event may make us fetch
_RESOLVED = "resolved"
_MAX_LISTINGS = 10_000


@dataclass(frozen=True)
class ParsedMap:
    cache: SourceMapCache
    map_name: str


@dataclass
class SymbolicationError:
    type: str  # Sentry's names: js_no_source, js_missing_source_map, js_invalid_source, js_no_mapping
    url: str
    reason: str

    def as_event_error(self) -> dict[str, str]:
        return {"type": self.type, "url": self.url, "reason": self.reason}


def best_artifact(names: list[str], path: str) -> str | None:
    """The artifact a frame's path or URL names: exact, else the longest `~/` suffix match."""
    candidates = [n for n in names if not n.endswith(".map")]
    if path in candidates:
        return path
    url_path = urlparse(path).path if "://" in path else path
    if url_path in candidates:
        return url_path
    matches = [n for n in candidates if n.startswith("~/") and ("/" + url_path.lstrip("/")).endswith(n[1:])]
    return max(matches, key=len) if matches else None


def _map_name(artifact: str, minified: bytes) -> str | bytes:
    """Where the minified file says its map is: an artifact name, or the inline map's bytes."""
    at = minified.rfind(b"sourceMappingURL=")
    if at < 0 or minified[max(0, at - 4) : at].strip() not in (b"//#", b"//@"):
        return artifact + ".map"
    words = minified[at + len("sourceMappingURL=") :].split(maxsplit=1)
    if not words:
        return artifact + ".map"
    reference = words[0].decode("utf-8", "replace")
    if reference.startswith("data:"):
        header, _, data = reference.partition(",")
        return base64.b64decode(data) if header.endswith(";base64") else unquote(data).encode()
    if "://" in reference:
        return "~" + urlparse(reference).path
    if reference.startswith("/"):
        return "~" + reference if artifact.startswith("~/") else reference
    return posixpath.normpath(posixpath.join(posixpath.dirname(artifact), reference))


def _display_path(source: str) -> str:
    """`webpack://app/./src/x.js` and `../src/x.js` read as `src/x.js`."""
    path = re.sub(r"^[a-z][a-z0-9+.-]*://[^/]*/", "", source)
    parts = [p for p in path.split("/") if p not in ("", ".", "..")]
    return "/".join(parts) or source


class SourceMapResolver:
    def __init__(self, artifacts: ArtifactStore, cache: ArtifactCache[ParsedMap]) -> None:
        self._artifacts = artifacts
        self._cache = cache
        # Release listings are re-read once a minute: a map uploaded after the first crash is picked up.
        self._listings: dict[tuple[str, str], tuple[float, list[str]]] = {}

    def symbolicate(self, project_id: str, payload: dict[str, Any]) -> tuple[int, list[SymbolicationError]]:
        """Resolves the payload's JavaScript frames in place: (frames resolved, what could not be)."""
        platform = str(payload.get("platform") or "")
        release = payload.get("release") if isinstance(payload.get("release"), str) else None
        debug_ids = _debug_ids(payload)
        errors: list[SymbolicationError] = []
        resolved = 0
        loads_before = self._cache.loads
        for frame in event_frames(payload):
            path = frame.get("abs_path") or frame.get("filename")
            line, column = frame.get("lineno"), frame.get("colno")
            if not isinstance(path, str) or not isinstance(line, int) or not isinstance(column, int):
                continue
            if not (0 < line <= _MAX_POSITION and 0 < column <= _MAX_POSITION):
                continue
            if path.startswith(("node:", "internal/", "<", "native")):
                continue  # the runtime's own code: nothing was uploaded for it
            if not (platform in JS_PLATFORMS or frame.get("platform") in JS_PLATFORMS or _JS_FILE.search(path)):
                continue
            if frame_data(frame).get("symbolicated"):
                continue
            if self._cache.loads - loads_before >= _MAX_LOADS_PER_EVENT:
                errors.append(SymbolicationError("js_too_many_sources", path, "too many distinct source maps"))
                break
            try:
                error = self._resolve_frame(project_id, release, debug_ids.get(path), path, frame)
            except ArtifactUnavailable:
                raise
            except Exception as exc:  # one frame's trouble must not cost the others their resolution
                error = SymbolicationError("js_invalid_source", path, f"{type(exc).__name__}: {exc}"[:300])
            if isinstance(error, SymbolicationError):
                frame_data(frame)["symbolication_error"] = error.reason
                errors.append(error)
            elif error is _RESOLVED:
                resolved += 1
        return resolved, errors

    def _resolve_frame(
        self, project_id: str, release: str | None, debug_id: str | None, path: str, frame: dict[str, Any]
    ) -> SymbolicationError | str | None:
        """_RESOLVED, an error, or None when there is nothing to resolve the frame with."""
        if debug_id is not None:
            parsed = self._cache.get_or_load(
                ("debug-id", project_id, debug_id), lambda: self._load_by_debug_id(project_id, debug_id)
            )
        else:
            if release is None:
                return None
            names = self._names(project_id, release)
            artifact = best_artifact(names, path)
            if artifact is None:
                if not names:
                    return None  # this release uses no source maps: nothing to report
                return SymbolicationError("js_no_source", path, f"no artifact in release {release} matches {path}")
            parsed = self._cache.get_or_load(
                ("release", project_id, release, artifact),
                lambda: self._load_by_name(project_id, release, artifact, names),
            )
        if isinstance(parsed, str):
            kind = "js_invalid_source" if parsed.startswith("invalid") else "js_missing_source_map"
            return SymbolicationError(kind, path, parsed)
        token = parsed.cache.lookup(frame["lineno"], frame["colno"], _CONTEXT_LINES)
        if token is None or not token.src:
            return SymbolicationError("js_no_mapping", path, f"no mapping for {frame['lineno']}:{frame['colno']}")
        minified = {k: frame.get(k) for k in ("abs_path", "filename", "lineno", "colno", "function")}
        source = token.src
        function = token.function_name if token.function_name and token.function_name != "<unknown>" else None
        frame.update(
            abs_path=posixpath.normpath(posixpath.join(posixpath.dirname(parsed.map_name), source))
            if not re.match(r"^[a-z][a-z0-9+.-]*://", source)
            else source,
            filename=_display_path(source),
            lineno=token.line,
            colno=token.col,
            function=function or "<anonymous>",
        )
        if token.context_line is not None:
            frame["context_line"] = token.context_line.rstrip("\r\n")
            frame["pre_context"] = [line.rstrip("\r\n") for line in token.pre_context]
            frame["post_context"] = [line.rstrip("\r\n") for line in token.post_context]
        if "/node_modules/" in source or source.startswith("node_modules/"):
            frame["in_app"] = False
        frame_data(frame).update(symbolicated=True, sourcemap=parsed.map_name, minified=minified)
        return _RESOLVED

    def _names(self, project_id: str, release: str) -> list[str]:
        key = (project_id, release)
        listed = self._listings.get(key)
        if listed is None or listed[0] < time.monotonic():
            if len(self._listings) > _MAX_LISTINGS:
                self._listings.clear()
            names = [artifact.name for artifact in self._artifacts.names(project_id, release)]
            listed = (time.monotonic() + _LISTING_SECONDS, names)
            self._listings[key] = listed
        return listed[1]

    def _load_by_name(
        self, project_id: str, release: str, artifact: str, names: list[str]
    ) -> tuple[ParsedMap, int] | str:
        minified = self._artifacts.read(artifact_key(project_id, release, artifact))
        if minified is None:
            return f"missing_source: {artifact} is listed but could not be read"
        location = _map_name(artifact, minified)
        if isinstance(location, bytes):
            return _parse(minified, location, artifact + " (inline map)")
        if location not in names:
            return f"missing_sourcemap: {artifact} names {location}, which was not uploaded to release {release}"
        source_map = self._artifacts.read(artifact_key(project_id, release, location))
        if source_map is None:
            return f"missing_sourcemap: {location} could not be read"
        return _parse(minified, source_map, location)

    def _load_by_debug_id(self, project_id: str, debug_id: str) -> tuple[ParsedMap, int] | str:
        source_map = self._artifacts.read(debug_id_key(project_id, debug_id, "source_map"))
        if source_map is None:
            return f"missing_sourcemap: no source map uploaded with debug id {debug_id}"
        minified = self._artifacts.read(debug_id_key(project_id, debug_id, "minified_source")) or b""
        return _parse(minified, source_map, f"debug-id:{debug_id}")


def _parse(minified: bytes, source_map: bytes, map_name: str) -> tuple[ParsedMap, int] | str:
    try:
        cache = SourceMapCache.from_bytes(minified, source_map)
    except Exception as exc:  # symbolic raises its own error types for each kind of broken map
        return f"invalid_sourcemap: {map_name}: {type(exc).__name__}: {exc}"[:500]
    # The parsed cache is about the size of the map; the minified file is not kept.
    return ParsedMap(cache, map_name), len(source_map) + len(minified) // 4


def _debug_ids(payload: dict[str, Any]) -> dict[str, str]:
    """code_file -> debug id, from `debug_meta.images` of type sourcemap."""
    found = {}
    for image in debug_images(payload, "sourcemap"):
        code_file, debug_id = image.get("code_file"), image.get("debug_id")
        if isinstance(code_file, str) and isinstance(debug_id, str):
            try:
                found[code_file] = normalize_debug_id(debug_id)
            except ValueError:
                continue
    return found
