"""Building Sentry events from Python exceptions and messages. Everything here is defensive: application
objects may have a `__repr__` that raises, chains may loop, strings may be huge."""

from __future__ import annotations

import linecache
import os
import platform
import socket
import sys
import sysconfig
import traceback
import uuid
from datetime import datetime, timezone
from types import TracebackType
from typing import Any

MAX_STRING = 8192
MAX_VAR_REPR = 200
MAX_FRAMES = 100
MAX_CHAIN = 10
_SECRET_WORDS = ("password", "passwd", "secret", "token", "api_key", "apikey", "auth", "credential", "cookie")
_LIBRARY_PATHS = tuple(
    path
    for path in {sysconfig.get_paths().get(name) for name in ("stdlib", "platstdlib", "purelib", "platlib")}
    if path
)


def safe_repr(value: Any, limit: int = MAX_VAR_REPR) -> str:
    try:
        text = repr(value)
    except Exception:  # a __repr__ that raises must not take the capture down with it
        text = f"<unrepresentable {type(value).__name__}>"
    return text if len(text) <= limit else text[:limit] + "..."


def safe_str(value: Any, limit: int = MAX_STRING) -> str:
    try:
        text = str(value)
    except Exception:
        text = safe_repr(value, limit)
    return text if len(text) <= limit else text[:limit] + "..."


def is_in_app(abs_path: str) -> bool:
    if not abs_path or abs_path.startswith("<"):
        return False
    if "site-packages" in abs_path or "dist-packages" in abs_path:
        return False
    return not abs_path.startswith(_LIBRARY_PATHS)


def _frames(tb: TracebackType | None, include_locals: bool) -> list[dict[str, Any]]:
    frames = []
    for frame, lineno in list(traceback.walk_tb(tb))[-MAX_FRAMES:]:
        code = frame.f_code
        abs_path = code.co_filename
        entry: dict[str, Any] = {
            "filename": os.path.basename(abs_path),
            "abs_path": abs_path,
            "function": code.co_name,
            "module": safe_str(frame.f_globals.get("__name__", "")),
            "lineno": lineno,
            "in_app": is_in_app(abs_path),
        }
        line = linecache.getline(abs_path, lineno)
        if line:
            entry["context_line"] = line.rstrip("\n")[: MAX_VAR_REPR * 2]
            entry["pre_context"] = [
                linecache.getline(abs_path, n).rstrip("\n") for n in range(max(1, lineno - 5), lineno)
            ]
            entry["post_context"] = [linecache.getline(abs_path, n).rstrip("\n") for n in range(lineno + 1, lineno + 6)]
        if include_locals:
            entry["vars"] = {
                str(name): "[Filtered]" if any(w in str(name).lower() for w in _SECRET_WORDS) else safe_repr(value)
                for name, value in list(frame.f_locals.items())[:50]
            }
        frames.append(entry)
    return frames


def _links(error: BaseException) -> tuple[Any, Any, bool]:
    """__cause__, __context__, __suppress_context__, read defensively: a subclass may break them."""
    try:
        return error.__cause__, error.__context__, bool(error.__suppress_context__)
    except Exception:
        return None, None, True


def exception_chain(error: BaseException, include_locals: bool = False) -> list[dict[str, Any]]:
    """Innermost cause first, the raised exception last, as Sentry expects. Loops and long chains stop."""
    chain: list[tuple[BaseException, str | None]] = []
    seen: set[int] = set()
    current: BaseException | None = error
    source: str | None = None
    while current is not None and id(current) not in seen and len(chain) < MAX_CHAIN:
        seen.add(id(current))
        chain.append((current, source))
        cause, context, suppress = _links(current)
        nxt = cause if isinstance(cause, BaseException) else (None if suppress else context)
        source = "__cause__" if isinstance(cause, BaseException) else "__context__"
        current = nxt if isinstance(nxt, BaseException) else None
    values = []
    for index, (exc, origin) in enumerate(reversed(chain)):
        values.append(
            {
                "type": type(exc).__name__,
                "module": type(exc).__module__,
                "value": safe_str(exc),
                "mechanism": {"type": "generic", "handled": True, "exception_id": index, "source": origin},
                "stacktrace": {"frames": _frames(getattr(exc, "__traceback__", None), include_locals)},
            }
        )
    return values


def runtime_contexts() -> dict[str, Any]:
    contexts: dict[str, Any] = {
        "runtime": {"name": platform.python_implementation(), "version": platform.python_version()},
        "os": {"name": platform.system(), "version": platform.release()},
    }
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        contexts["cloud"] = {"provider": "aws", "region": region}
    sha = deploy_sha()
    if sha:
        contexts["deploy"] = {"sha": sha}
    return contexts


DEPLOY_SHA_VARIABLES = ("ERRATA_DEPLOY_SHA", "GIT_SHA", "GIT_COMMIT", "COMMIT_SHA", "SOURCE_VERSION", "GITHUB_SHA")


def deploy_sha() -> str | None:
    """The commit being run, from the variables CI/CD systems and platforms set."""
    for name in DEPLOY_SHA_VARIABLES:
        value = os.environ.get(name)
        if value:
            return value[:64]
    return None


def base_event(level: str) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4().hex,
        "timestamp": datetime.now(timezone.utc).isoformat(),  # noqa: UP017 - timezone.utc reads on every Python
        "platform": "python",
        "level": level,
        "server_name": socket.gethostname(),
        "contexts": runtime_contexts(),
        "sdk": {"name": "errata.python", "version": "0.1.0"},
    }


def normalize(value: Any, depth: int = 0, seen: frozenset[int] = frozenset()) -> Any:
    """A JSON-safe copy: cycles cut, depth bounded, anything else as its (safe) repr."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value[:MAX_STRING] if isinstance(value, str) else value
    if depth > 10 or id(value) in seen:
        return "[...]"
    inner = seen | {id(value)}
    if isinstance(value, dict):
        return {safe_str(key, 200): normalize(item, depth + 1, inner) for key, item in list(value.items())[:200]}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [normalize(item, depth + 1, inner) for item in list(value)[:200]]
    return safe_repr(value)


def envelope(event: dict[str, Any], dsn: str) -> bytes:
    import json

    try:
        payload = json.dumps(event, default=safe_repr).encode("utf-8", "replace")
    except (ValueError, TypeError, RecursionError):  # cycles, odd keys: normalize, then it always encodes
        payload = json.dumps(normalize(event)).encode("utf-8", "replace")
    header = json.dumps({"event_id": event["event_id"], "dsn": dsn, "sent_at": event["timestamp"]})
    item = json.dumps({"type": "event", "content_type": "application/json", "length": len(payload)})
    return header.encode() + b"\n" + item.encode() + b"\n" + payload


def python_version() -> str:
    return sys.version.split()[0]
