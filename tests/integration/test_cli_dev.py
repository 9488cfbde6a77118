"""`errata dev` as a user runs it: a subprocess that prints the three lines, serves, and stops on Ctrl-C."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import pytest
import requests

from errata_local.aws import free_port

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
        assert lines[2] == f"Dashboard: http://127.0.0.1:{port}/"
        token = lines[1].split(": ", 1)[1]
        response = requests.get(
            f"http://127.0.0.1:{port}/api/projects/1/issues",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert response.json() == {"issues": []}
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "Errata stopped." in output
    assert "Traceback" not in output
    time.sleep(0.2)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/", timeout=2)
