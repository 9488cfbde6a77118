"""Errata's SDK under real faults: the collector down for a while, the process killed with -9 right after
capture, and a 429 with X-Sentry-Rate-Limits."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from errata_sdk.client import Client, Options
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from errata.ingest import IngestService
from errata_local.aws import free_port
from tests.integration.conftest import TestProject, wait_for

pytestmark = pytest.mark.integration


class Collector:
    """A port in front of the local stack that can be down (nothing listening) or up (forwarding)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.port = free_port()
        self._server: Any = None
        self.bodies: list[bytes] = []  # every envelope that went through, decompressed

    def up(self) -> None:
        def forward(environ: dict[str, Any], start_response: Any) -> Any:
            request = Request(environ)
            self.bodies.append(gzip.decompress(request.get_data()))
            answer = requests.request(
                request.method,
                self.target + request.full_path.rstrip("?"),
                data=request.get_data(),
                headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
                timeout=30,
            )
            response = Response(answer.content, status=answer.status_code)
            for name in ("Content-Type", "Retry-After", "X-Sentry-Rate-Limits"):
                if name in answer.headers:
                    response.headers[name] = answer.headers[name]
            return response(environ, start_response)

        self._server = make_server("127.0.0.1", self.port, forward, threaded=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture
def collector(project: TestProject) -> Iterator[Collector]:
    proxy = Collector(project.base_url)
    yield proxy
    proxy.down()


def _dsn(project: TestProject, port: int) -> str:
    return f"http://{project.public_key}@127.0.0.1:{port}/{project.project_id}"


def test_events_captured_while_the_collector_is_down_arrive_once_it_is_back(
    project: TestProject, collector: Collector, tmp_path: Path
) -> None:
    client = Client(Options(dsn=_dsn(project, collector.port), buffer_dir=str(tmp_path)))
    client.transport._max_backoff = 1.0  # keep the test short; the default backs off to five minutes
    for n in range(3):
        client.capture_message(f"during the outage {n}")
    assert client.transport.flush(1.0) is False, "nothing can be sent yet"
    assert client.spool.pending() == 3
    collector.up()
    issue = wait_for(lambda: next((i for i in project.issues() if i["count"] == 3), None), timeout=30)
    assert issue["title"].startswith("during the outage")
    wait_for(lambda: client.spool.pending() == 0)
    time.sleep(1.0)
    assert sum(i["count"] for i in project.issues()) == 3, "none arrived twice"
    client.transport.close(1.0)


CRASHING_PROGRAM = """
import os, signal, sys
from errata_sdk.client import Client, Options
client = Client(Options(dsn=sys.argv[1], buffer_dir=sys.argv[2]))
client.capture_message("captured just before kill -9")
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_an_event_captured_right_before_kill_9_is_sent_by_the_next_process(
    project: TestProject, collector: Collector, tmp_path: Path
) -> None:
    # The first process cannot reach the collector (down), captures, and dies at once.
    result = subprocess.run(
        [sys.executable, "-c", CRASHING_PROGRAM, _dsn(project, collector.port), str(tmp_path)], check=False
    )
    assert result.returncode == -9
    collector.up()
    client = Client(Options(dsn=_dsn(project, collector.port), buffer_dir=str(tmp_path)))
    assert client.transport.flush(10.0)
    issue = wait_for(lambda: next(iter(project.issues()), None))
    assert issue["title"] == "captured just before kill -9"
    client.transport.close(1.0)


def test_a_429_stops_that_category_until_the_limit_expires(
    project: TestProject, collector: Collector, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    patch = requests.patch(
        f"{project.base_url}/api/projects/{project.project_id}",
        data=json.dumps({"rate_limit_per_minute": 1}),
        headers={"Authorization": f"Bearer {project.api_token}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert patch.status_code == 200
    while time.gmtime().tm_sec > 40:  # the quota is per calendar minute
        time.sleep(1)
    attempts: list[int] = []
    original = IngestService._event_records

    def counting(self: IngestService, project_: Any, events: Any) -> Any:
        attempts.append(len(events))
        return original(self, project_, events)

    monkeypatch.setattr(IngestService, "_event_records", counting)
    collector.up()
    client = Client(Options(dsn=_dsn(project, collector.port), buffer_dir=str(tmp_path)))
    client.capture_message("the one the quota allows")
    assert client.transport.flush(10.0)
    wait_for(lambda: project.issues())
    client.capture_message("over the quota")
    wait_for(lambda: client.transport.is_rate_limited("error"))
    sent_before = len(attempts)
    for n in range(3):
        client.capture_message(f"while limited {n}")
    time.sleep(1.5)
    assert len(attempts) == sent_before, "no event is sent while the category is limited"
    assert client.spool.pending() == 4, "limited events wait on disk instead of being lost"
    client.transport.close(0.5)


FORKING_PROGRAM = """
import os, sys
import errata_sdk
errata_sdk.init(dsn=sys.argv[1], buffer_dir=sys.argv[2])
errata_sdk.capture_message("from the parent")
pid = os.fork()
if pid == 0:
    errata_sdk.capture_message("from the child")
    os._exit(0 if errata_sdk.flush(10) else 3)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status) or (0 if errata_sdk.flush(10) else 4))
"""


def test_after_fork_the_child_sends_with_its_own_thread_and_connection(
    project: TestProject, collector: Collector, tmp_path: Path
) -> None:
    collector.up()
    result = subprocess.run(
        [sys.executable, "-c", FORKING_PROGRAM, _dsn(project, collector.port), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    titles = wait_for(lambda: (lambda t: t if len(t) == 2 else None)(sorted(i["title"] for i in project.issues())))
    assert titles == ["from the child", "from the parent"]
    assert sum(i["count"] for i in project.issues()) == 2, "nothing sent twice by the two processes"


def test_a_full_disk_budget_drops_the_oldest_and_reports_them_in_a_client_report(
    project: TestProject, collector: Collector, tmp_path: Path
) -> None:
    client = Client(Options(dsn=_dsn(project, collector.port), buffer_dir=str(tmp_path), max_buffer_mb=0.004))
    for n in range(12):  # about 1 KB each against a 4 KB budget
        client.capture_message(f"burst {n} " + "x" * 600)
    assert client.spool.pending() < 12
    dropped = client.spool.dropped
    assert dropped > 0
    collector.up()
    assert client.transport.flush(15.0)

    # Drops may be reported in more than one client report (the sender can report while the burst goes on).
    def discarded() -> list[dict[str, object]]:
        reports = [json.loads(body.split(b"\n")[2]) for body in collector.bodies if b"client_report" in body]
        return [entry for report in reports for entry in report["discarded_events"]]

    wait_for(lambda: sum(int(str(entry["quantity"])) for entry in discarded()) >= dropped or None)
    assert {(e["reason"], e["category"]) for e in discarded()} == {("buffer_overflow", "error")}
    assert sum(int(str(entry["quantity"])) for entry in discarded()) == dropped
    titles = sorted(issue["title"] for issue in wait_for(lambda: project.issues()))
    assert all(title.startswith("burst") for title in titles)
    client.transport.close(1.0)
