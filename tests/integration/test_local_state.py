"""`make dev`'s state in its data directory (errata_local.moto_state): a restart keeps the DSN, the token and
every issue and count; kill -9 loses no acknowledged event and counts none twice; RESET starts clean."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import sentry_sdk

from errata_local.aws import free_port
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration
MESSAGES = ("checkout failed", "payment declined", "cart expired")  # three issues


@dataclass
class RunningDev:
    process: subprocess.Popen[str]
    port: int
    dsn: str
    token: str
    banner: list[str]

    @property
    def public_key(self) -> str:
        return self.dsn.split("//", 1)[1].split("@", 1)[0]

    def issues(self) -> list[dict[str, Any]]:
        response = requests.get(
            f"http://127.0.0.1:{self.port}/api/projects/1/issues",
            params={"limit": 100},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        )
        response.raise_for_status()
        issues: list[dict[str, Any]] = response.json()["issues"]
        return issues

    def counted(self) -> int:
        return sum(issue["count"] for issue in self.issues())

    def send(self, message: str) -> bool:
        event = {"event_id": uuid.uuid4().hex, "message": message, "level": "error"}
        payload = json.dumps(event).encode()
        body = b"{}\n" + json.dumps({"type": "event", "length": len(payload)}).encode() + b"\n" + payload
        response = requests.post(
            f"http://127.0.0.1:{self.port}/api/1/envelope/",
            data=body,
            headers={"X-Sentry-Auth": f"Sentry sentry_key={self.public_key}, sentry_version=7"},
            timeout=30,
        )
        return response.status_code == 200

    def kill_hard(self) -> None:
        """kill -9 of the moto server and of `errata dev`: nothing gets to save anything."""
        children = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.process.pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        for pid in children:
            subprocess.run(["kill", "-9", pid], check=False)
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> str:
        self.process.send_signal(signal.SIGINT)
        output, _ = self.process.communicate(timeout=30)
        assert self.process.returncode == 0, output
        return output


@contextmanager
def errata_dev(data_dir: Path, port: int, *extra: str) -> Iterator[RunningDev]:
    process = subprocess.Popen(
        [sys.executable, "-m", "errata_local.cli", "dev", "--port", str(port), "--data-dir", str(data_dir), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    banner: list[str] = []
    while not banner or not banner[-1].startswith("State: "):
        line = process.stdout.readline()
        assert line, "errata dev ended before its banner: " + "".join(banner)
        banner.append(line.strip())
    lines = dict(line.split(": ", 1) for line in banner if ": " in line)
    running = RunningDev(process, port, lines["DSN"], lines["API token"], banner)
    try:
        yield running
    finally:
        if process.poll() is None:
            running.stop()


def test_a_restart_keeps_the_dsn_the_token_and_every_issue_and_count(tmp_path: Path) -> None:
    port = free_port()
    with errata_dev(tmp_path, port) as first:
        assert any(str(tmp_path) in line and "RESET=1" in line for line in first.banner), first.banner
        sentry_sdk.init(dsn=first.dsn, release="shop@1.2.0", default_integrations=False)
        try:
            for n in range(3):
                try:
                    {"cart": n}["basket"]
                except KeyError:
                    sentry_sdk.capture_exception()
            sentry_sdk.capture_message("payment provider timed out", level="warning")
            sentry_sdk.flush()
        finally:
            sentry_sdk.init()
        wait_for(lambda: first.counted() == 4 or None, timeout=30)
        before = {issue["id"]: (issue["count"], issue["title"], issue["status"]) for issue in first.issues()}
        key_error = next(issue["id"] for issue in first.issues() if issue["type"] == "KeyError")
        resolved = requests.patch(
            f"http://127.0.0.1:{port}/api/projects/1/issues/{key_error}",
            json={"status": "resolved"},
            headers={"Authorization": f"Bearer {first.token}"},
            timeout=10,
        )
        assert resolved.status_code == 200, resolved.text
        before[key_error] = (*before[key_error][:2], "resolved")
    assert (tmp_path / "aws" / "aws-state.pickle").exists()
    log = tmp_path / "aws" / "snapshots.log"
    assert not log.exists(), log.read_text()  # no snapshot failed or hung

    with errata_dev(tmp_path, port) as second:
        assert (second.dsn, second.token) == (first.dsn, first.token)
        after = {issue["id"]: (issue["count"], issue["title"], issue["status"]) for issue in second.issues()}
        assert after == before
        assert second.send("after the restart")  # the old DSN still ingests, counted once
        wait_for(lambda: second.counted() == 5 or None, timeout=30)


def test_kill_9_loses_no_acknowledged_event_and_counts_none_twice(tmp_path: Path) -> None:
    port = free_port()
    with errata_dev(tmp_path, port) as first:
        assert all(first.send(MESSAGES[n % 3]) for n in range(20))
        wait_for(lambda: first.counted() == 20 or None, timeout=30)
        with ThreadPoolExecutor(4) as pool:  # acknowledged, and perhaps not yet counted or snapshotted
            assert all(pool.map(lambda n: first.send(MESSAGES[n % 3]), range(40)))
        first.kill_hard()

    with errata_dev(tmp_path, port) as second:
        assert (second.dsn, second.token) == (first.dsn, first.token)
        wait_for(lambda: second.counted() >= 60 or None, timeout=60)
        time.sleep(1.5)  # anything counted twice would show by now
        assert second.counted() == 60
        assert len(second.issues()) == 3


def test_reset_starts_clean(tmp_path: Path) -> None:
    port = free_port()
    with errata_dev(tmp_path, port) as first:
        assert first.send("before the reset")
        wait_for(lambda: first.counted() == 1 or None, timeout=30)
        # the new issue's email: notifications go out a little after the count
        notified = wait_for(lambda: sorted((tmp_path / "outbox").rglob("*.eml")) or None, timeout=30)
    with errata_dev(tmp_path, port, "--reset") as second:
        assert second.dsn != first.dsn and second.token != first.token
        assert second.issues() == []
        assert all(path.exists() for path in notified), "the outbox's files stay"


def test_state_lost_before_its_first_snapshot_keeps_the_dsn_and_token(tmp_path: Path) -> None:
    """The DSN and token are kept beside the state: a state that never got them (the server killed before
    its first snapshot, simulated by removing it) gets them back, so no app's config goes stale."""
    port = free_port()
    with errata_dev(tmp_path, port) as first:
        assert first.send("before the state was lost")
    shutil.rmtree(tmp_path / "aws")
    with errata_dev(tmp_path, port) as second:
        assert (second.dsn, second.token) == (first.dsn, first.token)
        assert second.send("after the state was lost")  # the DSN ingests, the token reads
        wait_for(lambda: second.counted() >= 1 or None, timeout=30)
