"""Errata's Python SDK. Three lines:

import errata_sdk
errata_sdk.init(dsn="https://<key>@<host>/<project>", release="myapp@1.2.3")
# unhandled exceptions, logging errors and capture_* calls now reach Errata (or any Sentry server)
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from errata_sdk.client import Client, Options, add_breadcrumb_to_scope, get_client, guarded, set_client, writable_scope
from errata_sdk.event import safe_repr, safe_str
from errata_sdk.integrations import ErrataLoggingHandler, install_excepthooks

__all__ = [
    "add_breadcrumb",
    "capture_exception",
    "capture_message",
    "close",
    "flush",
    "init",
    "set_context",
    "set_fingerprint",
    "set_tag",
    "set_user",
]


@guarded()
def init(dsn: str, **options: Any) -> Client | None:
    client = Client(Options(dsn=dsn, **options))
    set_client(client)
    install_excepthooks()
    root = logging.getLogger()
    if not any(isinstance(handler, ErrataLoggingHandler) for handler in root.handlers):
        root.addHandler(ErrataLoggingHandler())
    return client


@guarded()
def capture_exception(error: BaseException | None = None) -> str | None:
    client = get_client()
    if client is None:
        return None
    if error is None:
        error = sys.exc_info()[1]
        if error is None:
            return None
    return client.capture_exception(error)


@guarded()
def capture_message(message: str, level: str = "info") -> str | None:
    client = get_client()
    return client.capture_message(message, level) if client else None


@guarded()
def set_user(user: dict[str, Any] | None) -> None:
    writable_scope().user = dict(user) if isinstance(user, dict) and user else None


@guarded()
def set_tag(key: str, value: Any) -> None:
    writable_scope().tags[safe_str(key, 200)] = safe_str(value, 200)


@guarded()
def set_fingerprint(fingerprint: list[str] | None) -> None:
    """Group this scope's events your way; "{{ default }}" keeps Errata's grouping and subdivides it."""
    writable_scope().fingerprint = [safe_str(part, 200) for part in fingerprint] if fingerprint else None


@guarded()
def set_context(name: str, value: dict[str, Any]) -> None:
    writable_scope().contexts[safe_str(name, 200)] = (
        dict(value) if isinstance(value, dict) else {"value": safe_repr(value)}
    )


@guarded()
def add_breadcrumb(message: str | None = None, category: str | None = None, level: str = "info", **data: Any) -> None:
    add_breadcrumb_to_scope(
        {"timestamp": time.time(), "message": message, "category": category, "level": level, "data": data or None}
    )


@guarded(default=False)
def flush(timeout: float = 2.0) -> bool:
    client = get_client()
    return client.transport.flush(timeout) if client else True


@guarded()
def close(timeout: float = 2.0) -> None:
    client = get_client()
    if client is not None:
        client.transport.close(timeout)
        set_client(None)
