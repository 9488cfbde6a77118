"""A handler in a process of its own (errata_local.function_process), as `make dev` runs the processor: like
a Lambda container, it keeps its state between invocations, reports a handler's error as the invocation's,
and after a crash the next invocation gets a new process."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from errata_local.function_process import FunctionProcess
from errata_local.lambda_context import LocalLambdaContext

CONTEXT = LocalLambdaContext(function_name="ignored: the process makes its own")


@pytest.fixture
def echo() -> Iterator[FunctionProcess]:
    function = FunctionProcess("tests.fixtures.functions.echo", "errata-local-echo")
    function.start()
    try:
        yield function
    finally:
        function.stop()


def test_invocations_run_in_one_other_process_that_keeps_its_state(echo: FunctionProcess) -> None:
    first = echo({"id": "a"}, CONTEXT)
    second = echo({"id": "b"}, CONTEXT)
    assert first["pid"] != os.getpid()
    assert second["pid"] == first["pid"]
    assert second["invocations"] == ["a", "b"]
    assert second["function"] == "errata-local-echo"


def test_a_handlers_error_fails_the_invocation_and_the_process_goes_on(echo: FunctionProcess) -> None:
    before = echo({"id": "a"}, CONTEXT)
    with pytest.raises(RuntimeError, match="ValueError: database away"):
        echo({"raise": "database away"}, CONTEXT)
    after = echo({"id": "b"}, CONTEXT)
    assert after["pid"] == before["pid"]
    assert after["invocations"] == ["a", "b"]


def test_a_crash_fails_the_invocation_and_the_next_one_gets_a_new_process(echo: FunctionProcess) -> None:
    before = echo({"id": "a"}, CONTEXT)
    with pytest.raises(RuntimeError, match="process ended during the invocation"):
        echo({"die": True}, CONTEXT)
    assert not Path(f"/proc/{before['pid']}").exists()  # ended and reaped
    after = echo({"id": "b"}, CONTEXT)
    assert after["pid"] != before["pid"]
    assert after["invocations"] == ["b"]  # a cold start: nothing kept


def test_stop_ends_the_process(echo: FunctionProcess) -> None:
    pid = echo({"id": "a"}, CONTEXT)["pid"]
    echo.stop()
    assert not Path(f"/proc/{pid}").exists()


def test_a_handler_that_cannot_be_imported_fails_at_start() -> None:
    function = FunctionProcess("tests.fixtures.functions.no_such_function", "errata-local-missing")
    with pytest.raises(RuntimeError, match="did not start"):
        function.start()
