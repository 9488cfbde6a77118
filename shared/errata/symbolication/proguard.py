"""JVM frames obfuscated by ProGuard or R8, resolved with the release's uploaded mapping file.

`symbolic`'s ProguardMapper expands one obfuscated frame into the frames that were inlined into it (R8 and
ProGuard's optimizer inline aggressively), innermost first; exception class names are remapped too. The
mapping is found by the UUID in the event's `debug_meta` (type `proguard`), else as the release's
`proguard/mapping.txt` artifact.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import Any

from symbolic.proguard import ProguardMapper

from errata.store.artifacts import ArtifactStore, artifact_key, debug_id_key, normalize_debug_id
from errata.symbolication import debug_images, frame_data
from errata.symbolication.cache import ArtifactCache

RELEASE_MAPPING_NAME = "proguard/mapping.txt"
JVM_PLATFORMS = {"java", "kotlin", "scala", "android"}


@dataclass(frozen=True)
class ParsedMapping:
    mapper: ProguardMapper
    source: str


class ProguardResolver:
    def __init__(self, artifacts: ArtifactStore, cache: ArtifactCache[ParsedMapping]) -> None:
        self._artifacts = artifacts
        self._cache = cache

    def symbolicate(self, project_id: str, payload: dict[str, Any]) -> tuple[bool, list[dict[str, str]]]:
        """Deobfuscates the payload in place: (whether a mapping was applied, what failed)."""
        if str(payload.get("platform") or "") not in JVM_PLATFORMS:
            return False, []
        mapping = self._mapping(project_id, payload)
        if mapping is None:
            return False, []
        if isinstance(mapping, str):
            return False, [{"type": "proguard_missing_mapping", "reason": mapping}]
        exception = payload.get("exception")
        values = exception.get("values") if isinstance(exception, dict) else exception
        for value in values if isinstance(values, list) else []:
            if not isinstance(value, dict):
                continue
            _remap_type(mapping.mapper, value)
            stacktrace = value.get("stacktrace")
            if isinstance(stacktrace, dict) and isinstance(stacktrace.get("frames"), list):
                stacktrace["frames"] = _remap_frames(mapping.mapper, stacktrace["frames"], mapping.source)
        return True, []

    def _mapping(self, project_id: str, payload: dict[str, Any]) -> ParsedMapping | str | None:
        uuid = _proguard_uuid(payload)
        if uuid is not None:
            key = debug_id_key(project_id, uuid, "proguard")
            return self._cache.get_or_load(("proguard", key), lambda: _load(self._artifacts, key, f"uuid {uuid}"))
        release = payload.get("release")
        if not isinstance(release, str):
            return None
        key = artifact_key(project_id, release, RELEASE_MAPPING_NAME)
        loaded = self._cache.get_or_load(("proguard", key), lambda: _load(self._artifacts, key, release))
        return None if isinstance(loaded, str) and loaded.startswith("none:") else loaded


def _load(artifacts: ArtifactStore, key: str, label: str) -> tuple[ParsedMapping, int] | str:
    content = artifacts.read(key)
    if content is None:
        return f"none: no ProGuard mapping uploaded for {label}"
    # ProguardMapper reads from a path (it memory-maps the file); Lambda's /tmp is the place.
    with tempfile.NamedTemporaryFile(suffix=".txt", delete=False) as handle:
        handle.write(content)
    try:
        mapper = ProguardMapper.open(handle.name)
    except Exception as exc:  # symbolic raises its own error types
        return f"invalid ProGuard mapping for {label}: {exc}"[:300]
    finally:
        os.unlink(handle.name)
    # The mapper memory-maps the file (unlinked, it lives as long as the mapper): its heap cost is a fraction
    # of the file's size, so even a 100 MB Android mapping stays cached.
    return ParsedMapping(mapper, label), len(content) // 4


def _remap_type(mapper: ProguardMapper, value: dict[str, Any]) -> None:
    name, module = value.get("type"), value.get("module")
    if not isinstance(name, str):
        return
    qualified = f"{module}.{name}" if isinstance(module, str) and module and "." not in name else name
    original = mapper.remap_class(qualified)
    if original and original != qualified:
        package, _, simple = original.rpartition(".")
        value["type"], value["module"] = simple, package or None


def _remap_frames(mapper: ProguardMapper, frames: list[Any], source: str) -> list[Any]:
    remapped: list[Any] = []
    for frame in frames:
        if not isinstance(frame, dict):
            remapped.append(frame)
            continue
        klass, method = frame.get("module"), frame.get("function")
        if not isinstance(klass, str) or not isinstance(method, str):
            remapped.append(frame)
            continue
        lineno = frame.get("lineno")
        line = lineno if isinstance(lineno, int) else 0
        expanded = mapper.remap_frame(klass, method, line)
        if not expanded:
            original_class = mapper.remap_class(klass)
            if original_class and original_class != klass:
                remapped.append(
                    {**frame, "module": original_class, "data": {**frame_data(frame), "deobfuscated": True}}
                )
            else:
                remapped.append(frame)
            continue
        # Innermost first from the mapper; Sentry's frames are oldest first.
        for java_frame in reversed(expanded):
            remapped.append(
                {
                    **frame,
                    "module": java_frame.class_name,
                    "function": java_frame.method,
                    "lineno": java_frame.line or None,
                    "filename": java_frame.file or _source_file(java_frame.class_name),
                    "data": {**frame_data(frame), "deobfuscated": True, "mapping": source},
                }
            )
    return remapped


def _source_file(class_name: str) -> str:
    return class_name.rsplit(".", 1)[-1].split("$", 1)[0] + ".java"


def _proguard_uuid(payload: dict[str, Any]) -> str | None:
    for image in debug_images(payload, "proguard"):
        if isinstance(image.get("uuid"), str):
            try:
                return normalize_debug_id(image["uuid"])
            except ValueError:
                return None
    return None
