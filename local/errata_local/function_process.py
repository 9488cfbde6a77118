"""A handler run in a process of its own, as Lambda runs a function in a container of its own.

`make dev` runs the processor so: a batch of 500 events is seconds of CPU, and in the gateway's process it
held the GIL that every ingest request waited on (measured with the peer bench's traffic: ingest p99 344 ms,
of which Kinesis' PutRecords was 38 ms). The tests keep the processor in their own process, where they can
patch it.

Like a container: one invocation at a time, caches kept between invocations, a crash fails the invocation
(the poller retries it, as the event source mapping does) and the next one starts a new process. SIGTERM or
SIGINT sent to the process alone stops the whole stack: it is passed on to the stack's process as SIGTERM.

The process is `python -m errata_local.function_process`, not multiprocessing's spawn, which runs the
parent's main script again in the child (a script without a `__main__` guard would start a second stack).
Events and results cross two pipes of their own: the handler's logs keep stdout and stderr."""

from __future__ import annotations

import ctypes
import importlib
import os
import signal
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from typing import Any, cast

_READY_SECONDS = 120.0  # the cold start: imports of the handler and its dependencies


class FunctionProcess:
    """Callable as the handler is: `(event, context) -> result`, run in the function's own process."""

    def __init__(self, module_name: str, function_name: str) -> None:
        self._module_name = module_name
        self._function_name = function_name
        self._lock = threading.Lock()  # one invocation at a time, as a container
        self._process: subprocess.Popen[bytes] | None = None
        self._requests: Connection | None = None
        self._results: Connection | None = None

    def start(self) -> None:
        """The cold start, before the first batch: a handler that cannot be imported fails here."""
        requests_read, requests_write = os.pipe()
        results_read, results_write = os.pipe()
        command = [sys.executable, "-m", __name__, self._module_name, str(requests_read), str(results_write)]
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [*command, str(os.getpid())], pass_fds=(requests_read, results_write)
        )
        os.close(requests_read)
        os.close(results_write)
        self._requests = Connection(requests_write, readable=False)
        self._results = Connection(results_read, writable=False)
        if not self._results.poll(_READY_SECONDS) or self._receive() != ("ready", None):
            self.stop()
            raise RuntimeError(f"{self._module_name} did not start in its own process")

    def _receive(self) -> tuple[str, Any]:
        assert self._results is not None
        try:
            message: tuple[str, Any] = self._results.recv()
        except (EOFError, OSError):
            return ("ended", None)
        return message

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self.stop()
                self.start()  # the last one crashed: a new container
            assert self._requests is not None
            kind: str
            value: Any
            try:
                self._requests.send((self._function_name, event))
            except OSError:
                kind, value = "ended", None
            else:
                kind, value = self._receive()
            if kind == "result":
                return cast(dict[str, Any], value)
            if kind == "error":
                raise RuntimeError(f"{self._function_name} raised {value}")
            self.stop()  # reaped: the next invocation starts a new one
            raise RuntimeError(f"{self._function_name}'s process ended during the invocation")

    def stop(self) -> None:
        """Closes the requests pipe: the process ends after the invocation in hand."""
        for connection in (self._requests, self._results):
            if connection is not None:
                connection.close()
        self._requests = self._results = None
        if self._process is not None:
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None


def _serve(module_name: str, requests: Connection, results: Connection) -> None:
    from errata_local.lambda_context import LocalLambdaContext
    from errata_local.stack import local_invoke

    handler = local_invoke(importlib.import_module(module_name))
    results.send(("ready", None))
    while True:
        try:
            function_name, event = requests.recv()
        except EOFError:
            return  # the stack closed its end
        try:
            result = handler(event, LocalLambdaContext(function_name=function_name))
        except Exception as exc:  # the invocation's error, as Lambda reports it: the poller retries
            results.send(("error", f"{type(exc).__name__}: {exc}"))
        else:
            results.send(("result", result))


def main() -> None:
    module_name, requests_fd, results_fd, stack_pid = sys.argv[1], *map(int, sys.argv[2:5])
    if sys.platform.startswith("linux"):
        # PR_SET_PDEATHSIG: gone with the stack's process, even after its kill -9.
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    if os.getppid() != stack_pid:
        return  # the stack died before the line above

    def stop_the_stack(signum: int, frame: Any) -> None:
        if os.getppid() == stack_pid:
            os.kill(stack_pid, signal.SIGTERM)
        if signum == signal.SIGTERM:
            os._exit(0)

    # A signal sent to this process alone stops the stack. SIGINT lets the batch in hand finish (the stack
    # then closes the pipe): a Ctrl-C in the terminal reaches every process of its group at once.
    signal.signal(signal.SIGINT, stop_the_stack)
    signal.signal(signal.SIGTERM, stop_the_stack)
    _serve(module_name, Connection(requests_fd, writable=False), Connection(results_fd, readable=False))


if __name__ == "__main__":
    main()
