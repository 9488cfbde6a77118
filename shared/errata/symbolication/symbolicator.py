"""Every symbolication step an event goes through, in order, before it is fingerprinted."""

from __future__ import annotations

import logging
import os
from typing import Any

from symbolic.symcache import SymCache

from errata.models.event import event_frames
from errata.store.artifacts import ArtifactStore, ArtifactUnavailable
from errata.symbolication.cache import ArtifactCache
from errata.symbolication.go_paths import strip_go_build_path
from errata.symbolication.native import NativeResolver
from errata.symbolication.proguard import ParsedMapping, ProguardResolver
from errata.symbolication.sourcemaps import ParsedMap, SourceMapResolver

logger = logging.getLogger(__name__)
CACHE_MB_ENV = "ERRATA_SYMBOLICATION_CACHE_MB"


class Symbolicator:
    def __init__(self, artifacts: ArtifactStore, cache_bytes: int | None = None) -> None:
        budget = cache_bytes if cache_bytes is not None else int(os.environ.get(CACHE_MB_ENV, "256")) * 1024 * 1024
        self.source_map_cache: ArtifactCache[ParsedMap] = ArtifactCache(max_bytes=budget // 2)
        self.proguard_cache: ArtifactCache[ParsedMapping] = ArtifactCache(max_bytes=budget // 4)
        self.native_cache: ArtifactCache[SymCache] = ArtifactCache(max_bytes=budget // 4)
        self._sourcemaps = SourceMapResolver(artifacts, self.source_map_cache)
        self._proguard = ProguardResolver(artifacts, self.proguard_cache)
        self._native = NativeResolver(artifacts, self.native_cache)

    def symbolicate(self, project_id: str, payload: dict[str, Any]) -> bool:
        """Resolves the payload's frames in place; records what failed in its `errors`. Returns whether any
        frame changed (then the caller re-reads the event; most events need no second validation)."""
        platform = str(payload.get("platform") or "")
        errors: list[dict[str, str]] = []
        changed = False
        try:
            resolved, map_errors = self._sourcemaps.symbolicate(project_id, payload)
            errors.extend(error.as_event_error() for error in map_errors)
            deobfuscated, mapping_errors = self._proguard.symbolicate(project_id, payload)
            errors.extend(mapping_errors)
            native, native_errors = self._native.symbolicate(project_id, payload)
            errors.extend(native_errors)
            changed = resolved > 0 or deobfuscated or native
            if platform == "go":
                for frame in event_frames(payload):
                    changed = strip_go_build_path(frame) or changed
        except ArtifactUnavailable:
            # S3 did not answer: the record is retried (Kinesis redelivers it) rather than grouped on minified
            # frames, which would open a second issue for the same crash.
            raise
        except Exception as exc:  # an odd payload must not fail the event: it groups as it came
            logger.exception("symbolication failed", extra={"project_id": project_id})
            errors.append({"type": "symbolication_failed", "reason": f"{type(exc).__name__}: {exc}"[:300]})
        if errors:
            existing = payload.get("errors")
            payload["errors"] = [*(existing if isinstance(existing, list) else []), *errors]
        return changed
