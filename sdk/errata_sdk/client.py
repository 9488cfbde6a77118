"""The client: options, scope, capture. Every public entry point is guarded: the SDK's own failures are
counted and logged at debug level, never raised into the application, and never captured themselves."""

from __future__ import annotations

import atexit
import contextvars
import copy
import functools
import json
import logging
import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from errata_sdk.dsn import Dsn
from errata_sdk.event import base_event, envelope, exception_chain, safe_repr, safe_str
from errata_sdk.spool import Spool
from errata_sdk.transport import Transport

# Our own generator: an SDK must not move the application's global random state (nor see it moved).
_RANDOM = random.Random()

logger = logging.getLogger("errata_sdk")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Scope:
    user: dict[str, Any] | None = None
    request: dict[str, Any] | None = None
    request_errored: bool = False
    transaction: str | None = None
    fingerprint: list[str] | None = None
    tags: dict[str, str] = field(default_factory=dict)
    contexts: dict[str, Any] = field(default_factory=dict)
    breadcrumbs: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=100))

    def copy(self) -> Scope:
        return Scope(
            user=copy.copy(self.user),
            request=self.request,
            transaction=self.transaction,
            fingerprint=list(self.fingerprint) if self.fingerprint else None,
            tags=dict(self.tags),
            contexts=dict(self.contexts),
            breadcrumbs=deque(self.breadcrumbs, maxlen=self.breadcrumbs.maxlen),
        )


_scope: contextvars.ContextVar[Scope | None] = contextvars.ContextVar("errata_scope", default=None)
_global_scope = Scope()
_in_sdk = threading.local()


def current_scope() -> Scope:
    """The scope of this thread or task: it starts as a copy of the global one and diverges from there."""
    scope = _scope.get()
    if scope is None:
        scope = _global_scope.copy()
        _scope.set(scope)
    return scope


def writable_scope() -> Scope:
    """The scope to change: a copy set in this context, so a change made in one task or thread stays there
    (contexts are copied into tasks, but the Scope object inside would otherwise be shared)."""
    scope = current_scope().copy()
    _scope.set(scope)
    return scope


def guarded(default: Any = None) -> Callable[[F], F]:
    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if getattr(_in_sdk, "active", False):
                return default  # an error while capturing is not captured
            _in_sdk.active = True
            try:
                return function(*args, **kwargs)
            except Exception:
                Client.internal_errors += 1
                logger.debug("errata_sdk internal error in %s", function.__name__, exc_info=True)
                return default
            finally:
                _in_sdk.active = False

        return wrapper  # type: ignore[return-value]

    return decorate


@dataclass
class Options:
    dsn: str
    release: str | None = None
    environment: str | None = None
    sample_rate: float = 1.0
    before_send: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None
    max_breadcrumbs: int = 100
    send_default_pii: bool = False
    include_local_variables: bool = False
    buffer_dir: str | None = None
    max_buffer_mb: float = 50.0
    flush_timeout: float = 2.0


class SessionAggregator:
    """Request-mode release health, as Sentry's server SDKs send it: per minute, how many requests ended
    well (exited), with a captured error (errored) or with an unhandled one (crashed)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, dict[str, int]] = {}

    def record(self, outcome: str) -> None:
        minute = time.strftime("%Y-%m-%dT%H:%M:00Z", time.gmtime())
        with self._lock:
            bucket = self._buckets.setdefault(minute, {"exited": 0, "errored": 0, "crashed": 0})
            bucket[outcome] += 1

    def take(self) -> list[dict[str, Any]]:
        with self._lock:
            buckets, self._buckets = self._buckets, {}
        return [{"started": minute, **counts} for minute, counts in sorted(buckets.items())]


class Client:
    internal_errors = 0

    def __init__(self, options: Options) -> None:
        self.options = options
        self.dsn = Dsn.parse(options.dsn)
        directory = options.buffer_dir or os.path.join(
            os.path.expanduser("~"), ".cache", "errata-sdk", self.dsn.project_id
        )
        self.spool = Spool(directory, int(options.max_buffer_mb * 1024 * 1024))
        self.sessions = SessionAggregator()
        self.transport = Transport(self.dsn, self.spool, before_flush=self.enqueue_sessions)
        self.transport._ensure_thread()  # send what an earlier process left in the spool
        atexit.register(self._flush_at_exit)

    def _flush_at_exit(self) -> None:
        try:
            self.transport.close(self.options.flush_timeout)
        except Exception:
            logger.debug("errata_sdk flush at exit failed", exc_info=True)

    def enqueue_sessions(self) -> None:
        aggregates = self.sessions.take()
        if not aggregates or not self.options.release:
            return
        attrs = {"release": self.options.release, "environment": self.options.environment or "production"}
        payload = json.dumps({"attrs": attrs, "aggregates": aggregates}).encode()
        item = json.dumps({"type": "sessions", "length": len(payload)}).encode()
        self.transport.enqueue("session", b"{}\n" + item + b"\n" + payload)

    def capture_event(self, event: dict[str, Any]) -> str | None:
        if self.options.sample_rate < 1.0 and _RANDOM.random() >= self.options.sample_rate:
            return None
        scope = current_scope()
        event.setdefault("release", self.options.release)
        event.setdefault("environment", self.options.environment)
        if scope.user:
            user = dict(scope.user)
            if not self.options.send_default_pii:
                user.pop("ip_address", None)
            event["user"] = user
        if scope.request:
            event["request"] = scope.request
            scope.request_errored = True
        if scope.transaction:
            event.setdefault("transaction", scope.transaction)
        if scope.fingerprint:
            event.setdefault("fingerprint", scope.fingerprint)
        if scope.tags:
            event["tags"] = {**scope.tags, **event.get("tags", {})}
        if scope.contexts:
            event["contexts"] = {**event.get("contexts", {}), **scope.contexts}
        if scope.breadcrumbs:
            event["breadcrumbs"] = {"values": list(scope.breadcrumbs)[-self.options.max_breadcrumbs :]}
        if self.options.before_send is not None:
            result = self.options.before_send(event)
            if result is None:
                return None
            event = result
        self.transport.enqueue("error", envelope(event, self.options.dsn))
        return str(event["event_id"])

    def capture_exception(self, error: BaseException, level: str = "error", handled: bool = True) -> str | None:
        event = base_event(level)
        values = exception_chain(error, self.options.include_local_variables)
        values[-1]["mechanism"]["handled"] = handled
        event["exception"] = {"values": values}
        return self.capture_event(event)

    def capture_message(self, message: str, level: str = "info") -> str | None:
        event = base_event(level)
        event["message"] = safe_str(message)
        return self.capture_event(event)


_client: Client | None = None


def get_client() -> Client | None:
    return _client


def set_client(client: Client | None) -> None:
    global _client
    _client = client


def add_breadcrumb_to_scope(crumb: dict[str, Any]) -> None:
    scope = writable_scope()
    scope.breadcrumbs.append(
        {
            key: value
            if isinstance(value, (int, float, bool))
            else safe_repr(value)
            if not isinstance(value, str)
            else value[:1024]
            for key, value in crumb.items()
        }
    )
