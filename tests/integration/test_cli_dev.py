"""`errata dev` as a user runs it: a subprocess that prints the three lines, serves, and stops on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from errata_local.aws import free_port
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration


def _errata_dev(port: int, data_dir: Path) -> subprocess.Popen[str]:
    """`errata dev` as `make dev` starts it, its output (stdout and stderr) read by the test."""
    return subprocess.Popen(
        [sys.executable, "-m", "errata_local.cli", "dev", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_errata_dev_prints_dsn_token_and_dashboard_then_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    process = _errata_dev(port, tmp_path)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip() for _ in range(3)]
        assert re.fullmatch(rf"DSN: http://[0-9a-f]{{32}}@127\.0\.0\.1:{port}/1", lines[0]), lines
        assert re.fullmatch(r"API token: \S{20,}", lines[1]), lines
        token = lines[1].split(": ", 1)[1]
        assert lines[2] == f"Dashboard: http://127.0.0.1:{port}/?token={token}#/projects/1/issues"
        response = requests.get(
            f"http://127.0.0.1:{port}/api/projects/1/issues",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert response.json() == {"issues": [], "next_cursor": None}
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "Errata stopped." in output
    assert "Traceback" not in output
    time.sleep(0.2)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/", timeout=2)


def test_make_demo_fills_a_running_errata_dev_with_issues_a_newcomer_can_triage(tmp_path: Path) -> None:
    port = free_port()
    process = _errata_dev(port, tmp_path)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip() for _ in range(7)]
        assert "Demo: run `make demo` in another terminal to send a few realistic errors" in lines, lines
        token = lines[1].split(": ", 1)[1]
        state = tmp_path / "dev.json"
        demo = subprocess.run(
            [sys.executable, "-m", "errata_local.cli", "demo", "--state", str(state)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert f"http://127.0.0.1:{port}/?token={token}#/projects/1/issues" in demo.stdout

        def listed() -> list[dict[str, Any]] | None:
            response = requests.get(
                f"http://127.0.0.1:{port}/api/projects/1/issues",
                params={"query": "", "limit": 100},
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            issues: list[dict[str, Any]] = response.json()["issues"]
            # Counts are summed over the dev stack's tumbling window (5 s), per shard: an issue whose events
            # fell on two shards counts the second shard's users once its window has ended.
            users = {i["type"]: i["user_count"] for i in issues}
            return issues if sum(i["count"] for i in issues) >= 11 and users.get("KeyError") == 3 else None

        issues = wait_for(listed, timeout=30)
        by_type = {issue["type"]: issue for issue in issues}
        assert by_type["KeyError"]["count"] == 6 and by_type["KeyError"]["user_count"] == 3  # the chained crash
        assert by_type["PermissionError"]["user_count"] == 1
        assert any(issue["level"] == "warning" for issue in issues)
        node = next(issue for issue in issues if issue["type"] == "Error")
        detail = requests.get(
            f"http://127.0.0.1:{port}/api/projects/1/issues/{node['id']}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ).json()
        frame = detail["event"]["exception"]["values"][0]["stacktrace"]["frames"][-1]
        assert frame.get("filename") == "src/service.js", frame
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert not state.exists(), "the state file goes with the stack"


def _processes_with(marker: str) -> list[str]:
    listing = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    return [line for line in listing.splitlines() if marker in line and "ps -eo" not in line]


def test_a_busy_port_fails_at_once_with_the_reason_and_leaves_no_process(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "errata_local.cli", "dev", "--port", str(port), "--data-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        elapsed = time.monotonic() - started
    assert result.returncode == 2
    assert f"port {port} is already in use" in result.stderr
    assert elapsed < 5  # the interpreter's start-up is most of it; nothing waits on the port
    assert _processes_with(f"errata_local.cli dev --port {port}") == []


def test_stopping_only_the_parent_make_process_stops_the_whole_stack(tmp_path: Path) -> None:
    """An IDE's stop button signals `make` alone; `errata dev` below it notices and stops, and its moto
    server dies with it."""
    port = free_port()
    parent = subprocess.Popen(  # stands in for `make dev`: a parent whose only job is to wait for its child
        [
            sys.executable,
            "-c",
            "import subprocess, sys; subprocess.run([sys.executable, '-m', 'errata_local.cli', 'dev', '--port', "
            f"'{port}', '--data-dir', '{tmp_path}'])",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert parent.stdout is not None
    assert parent.stdout.readline().startswith("DSN: ")
    stack = int(_processes_with(f"errata_local.cli dev --port {port}")[0].split()[0])
    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(stack)], capture_output=True, text=True).stdout
    moto = [int(pid) for pid in children.split()]
    assert moto, "the moto server runs as the stack's child"
    parent.send_signal(signal.SIGTERM)  # the parent alone, not its process group
    parent.wait(timeout=10)
    wait_for(lambda: not _processes_with(f"--port {port}") and not _port_open(port), timeout=10)
    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in moto), timeout=10)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_processors_own_process_stops_the_whole_stack(tmp_path: Path, signum: int) -> None:
    """`make dev` runs the processor in a process of its own (errata_local.function_process); a signal sent
    to it alone stops everything, as one sent to the stack's process does."""
    port = free_port()
    stack = _errata_dev(port, tmp_path)
    assert stack.stdout is not None
    assert stack.stdout.readline().startswith("DSN: ")
    children = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(stack.pid)], capture_output=True, text=True)
    [processor] = [int(line.split()[0]) for line in children.stdout.splitlines() if "function_process" in line]
    moto = [int(line.split()[0]) for line in children.stdout.splitlines() if "moto_server" in line]
    assert moto, "the moto server runs as the stack's child too"
    os.kill(processor, signum)
    stack.wait(timeout=30)
    assert stack.returncode == 0
    wait_for(lambda: not _processes_with(f"--port {port}") and not _port_open(port), timeout=10)
    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in [processor, *moto]), timeout=10)


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_ctrl_c_while_it_starts_stops_it_cleanly(tmp_path: Path) -> None:
    port = free_port()
    process = _errata_dev(port, tmp_path)
    time.sleep(1.5)  # the interpreter is up, the stack is still starting (its banner comes after some seconds)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "Traceback" not in output
    assert "Errata stopped." in output
    wait_for(lambda: not _processes_with(f"--port {port}") and not _port_open(port), timeout=10)
