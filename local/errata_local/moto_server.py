"""moto's server, started the way the local stack needs it: patched (`errata_local.moto_patches`), untracked,
and served by waitress instead of werkzeug's development server.

- werkzeug's server closes the connection after every response and starts a thread per connection, so every
  boto3 call paid a TCP handshake and a thread start on both sides (a tenth of the handlers' process CPU in a
  py-spy profile). waitress keeps connections alive and answers from a pool of threads.
- moto tracks every model instance it creates so that its test decorators can reset them. A long-running
  server never resets, and the tracked list grew by gigabytes over a 10,000-event benchmark: instances are
  created untracked here.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import waitress
import waitress.task
from moto.core.common_models import BaseModel
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from errata_local.moto_patches import apply_all
from errata_local.moto_state import StateDirectory

_THREADS = 24  # more than the processor's 10 write threads: an ingest put is not queued behind a batch's writes


def _untracked_new(cls: type[BaseModel], *args: Any, **kwargs: Any) -> BaseModel:
    return object.__new__(cls)


def _pass_raw_uri() -> None:
    """werkzeug hands moto the request target as sent (RAW_URI); moto matches S3 keys against it, since the
    decoded path loses what an encoded character was (an S3 key with `%2F`, `+` or `@`). waitress keeps it
    on its request."""
    get_environment = waitress.task.WSGITask.get_environment

    def with_raw_uri(task: waitress.task.WSGITask) -> dict[str, Any]:
        environ: dict[str, Any] = get_environment(task)
        environ.setdefault("RAW_URI", task.request.request_uri)
        return environ

    waitress.task.WSGITask.get_environment = with_raw_uri


def _stop(signum: int, frame: Any) -> None:
    sys.exit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="moto's server for the local stack")
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, help="keep the state here across restarts (moto_state)")
    args = parser.parse_args(argv)
    BaseModel.__new__ = _untracked_new  # type: ignore[method-assign]
    apply_all()
    _pass_raw_uri()
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" is load, not a fault
    signal.signal(signal.SIGTERM, _stop)
    app: Any = DomainDispatcherApplication(create_backend_app)
    state = StateDirectory(args.data_dir) if args.data_dir else None
    if state is not None:
        state.journal_streams()
        state.restore()
        app = state.track_writes(app)
        state.start()
    try:
        waitress.serve(app, host=args.host, port=args.port, threads=_THREADS, ident="moto", _quiet=True)
    finally:
        if state is not None:
            state.stop()


if __name__ == "__main__":
    main()
