"""Links from stack frames to the line in the repository, at the commit that was running.

A frame's path (its `abs_path` or `filename`, or its module read as a path) is matched against the project's
code mappings; the longest `stack_root` that prefixes it wins, and the rest of the path lands under the
mapping's `source_root`. Symbolicated frames already carry the original file (source maps), JVM frames are
their package as folders plus the file name.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any
from urllib.parse import quote

from errata.models.event import event_frames
from errata.models.integrations import CodeMapping, Provider, SourceRef

_SHA = re.compile(r"^[0-9a-f]{7,40}$")
_JVM_FILES = (".java", ".kt", ".scala", ".groovy", ".clj")
NO_MAPPINGS = "no code mappings are set for this project"


def looks_like_commit(value: str | None) -> bool:
    return bool(value) and bool(_SHA.match(value or ""))


def release_commit(release: str | None) -> str | None:
    """`myapp@3f2a9c1` or `3f2a9c1…`: a release named after its commit."""
    if not release:
        return None
    tail = release.rsplit("@", 1)[-1]
    return tail if looks_like_commit(tail) else None


def source_ref(release: str | None, deploys: list[dict[str, Any]], environment: str | None) -> SourceRef:
    """The commit the links point at: the release's deploy (to the event's environment first), then the
    release when it is a SHA; else None, and each mapping's default branch is used."""
    ranked = sorted(deploys, key=lambda deploy: deploy.get("environment") != environment)
    for deploy in ranked:
        if looks_like_commit(deploy.get("commit")):
            return SourceRef(commit=deploy["commit"], source="deploy")
    for deploy in ranked:
        if deploy.get("ref"):  # a release tag: a ref GitHub and GitLab resolve like a commit
            return SourceRef(commit=deploy["ref"], source="deploy")
    commit = release_commit(release)
    if commit is not None:
        return SourceRef(commit=commit, source="release")
    return SourceRef(source="default_branch")


def _normalized(path: str) -> str:
    return path.replace("\\", "/")


def frame_paths(frame: dict[str, Any], platform: str | None) -> list[str]:
    """The paths a frame can be known by, best first."""
    paths = [_normalized(frame[key]) for key in ("abs_path", "filename") if isinstance(frame.get(key), str)]
    module, filename = frame.get("module"), frame.get("filename")
    if isinstance(module, str) and module:
        jvm = (frame.get("platform") or platform) == "java" or str(filename or "").endswith(_JVM_FILES)
        if jvm and isinstance(filename, str) and "/" not in filename:
            package = module.rsplit(".", 1)[0] if "." in module else ""
            paths.append(f"{package.replace('.', '/')}/{filename}".lstrip("/"))
        elif (frame.get("platform") or platform) == "python":
            paths.append(module.replace(".", "/") + ".py")
    return list(dict.fromkeys(path for path in paths if path))


def _root(mapping: CodeMapping) -> str:
    root = _normalized(mapping.stack_root)
    if "/" not in root and ":" not in root:  # a module prefix: `myapp.` or `com.example`
        root = root.rstrip(".").replace(".", "/") + "/"
    return root


def repository_path(
    frame: dict[str, Any], platform: str | None, mappings: list[CodeMapping]
) -> tuple[CodeMapping, str] | None:
    """The mapping that matches the frame (longest stack root) and the file's path in its repository."""
    best: tuple[int, CodeMapping, str] | None = None
    for path in frame_paths(frame, platform):
        for mapping in mappings:
            root = _root(mapping)
            if not path.startswith(root) or (best is not None and len(root) <= best[0]):
                continue
            inside = posixpath.normpath(posixpath.join(mapping.source_root, path[len(root) :].lstrip("/")))
            if inside.startswith("..") or inside.startswith("/") or inside == ".":
                continue
            best = (len(root), mapping, inside)
    return (best[1], best[2]) if best else None


def file_url(provider: Provider, repository: str, ref: str, path: str, line: int | None) -> str:
    ref_part, path_part = quote(ref, safe="/"), quote(path, safe="/")
    if provider == "gitlab":
        return f"{repository}/-/blob/{ref_part}/{path_part}" + (f"#L{line}" if line else "")
    if provider == "bitbucket":
        return f"{repository}/src/{ref_part}/{path_part}" + (f"#lines-{line}" if line else "")
    return f"{repository}/blob/{ref_part}/{path_part}" + (f"#L{line}" if line else "")


def frame_link(
    frame: dict[str, Any], platform: str | None, mappings: list[CodeMapping], ref: SourceRef
) -> tuple[str | None, str | None]:
    """(link, None) or (None, why there is none)."""
    if not mappings:
        return None, NO_MAPPINGS
    paths = frame_paths(frame, platform)
    if not paths:
        return None, "the frame has no file path or module"
    found = repository_path(frame, platform, mappings)
    if found is None:
        return None, "no code mapping's stack root matches " + " or ".join(path[:200] for path in paths[:3])
    mapping, path = found
    lineno = frame.get("lineno") if isinstance(frame.get("lineno"), int) else None
    return file_url(mapping.provider, mapping.repository_url, ref.commit or mapping.default_branch, path, lineno), None


def link_event(event: dict[str, Any], mappings: list[CodeMapping], ref: SourceRef) -> dict[str, Any]:
    """The event with `source_link` on each in-app frame a mapping covers and `source_link_reason` on the
    others, plus `source_ref` (what the links point at). Frames marked not in-app are left alone. The event
    is changed in place and returned."""
    platform = event.get("platform") if isinstance(event.get("platform"), str) else None
    for frame in event_frames(event):
        if frame.get("in_app") is False:
            continue
        link, reason = frame_link(frame, platform, mappings, ref)
        if link is not None:
            frame["source_link"] = link
        else:
            frame["source_link_reason"] = reason
    event["source_ref"] = ref.model_dump()
    return event


def culprit_frame(event: dict[str, Any], exception_type: str | None) -> dict[str, Any] | None:
    """The frame that raised: the last in-app frame of the exception that grouped the issue (the last one
    of the chain when none has that type)."""
    container = event.get("exception")
    values = container.get("values") if isinstance(container, dict) else None
    if not isinstance(values, list) or not values:
        return None
    chosen = next((v for v in values if isinstance(v, dict) and v.get("type") == exception_type), values[-1])
    stacktrace = chosen.get("stacktrace") if isinstance(chosen, dict) else None
    frames = stacktrace.get("frames") if isinstance(stacktrace, dict) else None
    candidates = [f for f in frames if isinstance(f, dict)] if isinstance(frames, list) else []
    in_app = [f for f in candidates if f.get("in_app") is not False]
    chosen_frames = in_app or candidates
    return chosen_frames[-1] if chosen_frames else None
