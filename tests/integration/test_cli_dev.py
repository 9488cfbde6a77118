"""`errata dev` as a user runs it: a subprocess that prints the three lines, serves, and stops on Ctrl-C."""

from __future__ import annotations

import re
import signal
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


def test_errata_dev_prints_dsn_token_and_dashboard_then_stops_on_ctrl_c() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "errata_local.cli", "dev", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
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
    outbox = tmp_path / "outbox"
    process = subprocess.Popen(
        [sys.executable, "-m", "errata_local.cli", "dev", "--port", str(port), "--outbox", str(outbox)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
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
            return issues if sum(i["count"] for i in issues) >= 11 else None

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
        assert detail["event"]["exception"]["values"][0]["stacktrace"]["frames"][-1]["filename"] == "src/service.js"
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert not state.exists(), "the state file goes with the stack"
