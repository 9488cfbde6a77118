"""Hooks that capture without the application calling anything: uncaught exceptions (main thread and other
threads) and `logging` (records become breadcrumbs; ERROR and above become events)."""

from __future__ import annotations

import logging
import sys
import threading
from types import TracebackType
from typing import Any

from errata_sdk.client import add_breadcrumb_to_scope, get_client, guarded

_installed = False


def install_excepthooks() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    previous_hook = sys.excepthook
    previous_thread_hook = threading.excepthook

    def excepthook(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
        _capture_unhandled(error)
        client = get_client()
        if client is not None:
            client.transport.flush(client.options.flush_timeout)
        previous_hook(kind, error, tb)

    def thread_excepthook(args: Any) -> None:
        if args.exc_value is not None:
            _capture_unhandled(args.exc_value)
        previous_thread_hook(args)

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook


@guarded()
def _capture_unhandled(error: BaseException) -> None:
    client = get_client()
    if client is not None and not isinstance(error, KeyboardInterrupt):
        client.capture_exception(error, level="fatal", handled=False)


class ErrataLoggingHandler(logging.Handler):
    def __init__(self, event_level: int = logging.ERROR) -> None:
        super().__init__(level=logging.INFO)
        self.event_level = event_level

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("errata_sdk"):
            return  # never report on ourselves
        self._emit(record)

    @guarded()
    def _emit(self, record: logging.LogRecord) -> None:
        client = get_client()
        if client is None:
            return
        if record.levelno >= self.event_level:
            if record.exc_info and record.exc_info[1] is not None:
                client.capture_exception(record.exc_info[1], level=record.levelname.lower())
            else:
                client.capture_message(record.getMessage(), level=record.levelname.lower())
        add_breadcrumb_to_scope(
            {"category": record.name, "level": record.levelname.lower(), "message": record.getMessage()[:1024]}
        )
