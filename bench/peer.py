"""Errata's `make dev` beside its peer, Bugsink (a single-process Sentry-compatible tracker on PyPI, SQLite),
fed the same envelopes in one run on this machine.

    uv run python bench/peer.py [--events 2000] [--senders 4] [--types 20]

Bugsink is installed from PyPI into its own venv under .cache/peer (pinned below), configured from its own
`local` template (eager digestion, one gunicorn worker) with its ingest quotas raised, and started on
loopback. Both get the same gzip'd envelopes of events captured by the real sentry-sdk (Zipf over `--types`
exception types, from a seed), sent by `--senders` threads over keep-alive connections. Printed for each:
accepted/s, end-to-end events/s (until every accepted event is counted), time until all visible, CPU
seconds per 1,000 events (the whole process tree, from /proc), ingest latency percentiles, and events lost
(accepted but never counted). The last line is for scripts:

    PEER errata_vs_bugsink=<end-to-end ratio> lost=<events Errata lost>
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

ROOT = Path(__file__).resolve().parents[1]
PEER_DIR = ROOT / ".cache" / "peer"
BUGSINK = "bugsink==2.6.2"
SEED = 20261129
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- the envelopes ----------------------------------------------------------------------------------------


class _Recorder(Transport):
    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)


def _raise(kind: str, n: int) -> None:
    exception = type(kind, (RuntimeError,), {})
    raise exception(f"order {n} failed for customer {n % 97}")


def make_envelopes(events: int, types: int) -> list[bytes]:
    """`events` gzip'd envelopes of real sentry-sdk events, exception types Zipf-distributed (s=1.1)."""
    recorder = _Recorder()
    sentry_sdk.init(
        dsn="http://key@127.0.0.1:1/1", transport=recorder, release="shop@1.0.0", default_integrations=False
    )
    chooser = random.Random(SEED)
    weights = [1 / (rank**1.1) for rank in range(1, types + 1)]
    kinds = [f"CheckoutError{k}" for k in range(types)]
    for n in range(events):
        kind = chooser.choices(kinds, weights)[0]
        with sentry_sdk.new_scope() as scope:
            scope.set_user({"id": f"user-{chooser.randrange(300)}"})
            try:
                _raise(kind, n)
            except RuntimeError:
                sentry_sdk.capture_exception()
    sentry_sdk.flush()
    sentry_sdk.init()
    bodies = []
    for envelope in recorder.envelopes:
        envelope.headers.pop("dsn", None)  # each server authenticates by its own key, in X-Sentry-Auth
        bodies.append(gzip.compress(envelope.serialize()))
    return bodies


# --- measuring --------------------------------------------------------------------------------------------


def _tree_cpu_seconds(root: int) -> float:
    """User + system CPU of a process and its living descendants (and of the children they reaped)."""
    total = 0.0
    pending = [root]
    while pending:
        pid = pending.pop()
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        # utime, stime, cutime, cstime are fields 14-17 of stat; after the ")" they are at 11-14.
        total += sum(int(value) for value in fields[11:15]) / _CLOCK_TICKS
        pending.extend(int(child) for child in children)
    return total


@dataclass
class Result:
    name: str
    accepted: int
    accepted_per_s: float
    end_to_end_per_s: float
    all_visible_s: float
    cpu_per_1000: float
    p50_ms: float
    p99_ms: float
    lost: int

    def line(self) -> str:
        return (
            f"{self.name:8} accepted {self.accepted} ({self.accepted_per_s:.0f}/s), end to end "
            f"{self.end_to_end_per_s:.1f} events/s, all visible after {self.all_visible_s:.1f} s, "
            f"{self.cpu_per_1000:.1f} CPU s per 1,000 events, "
            f"ingest p50 {self.p50_ms:.1f} ms p99 {self.p99_ms:.1f} ms, "
            f"lost {self.lost}"
        )


def envelope_headers(key: str) -> dict[str, str]:
    """What a sentry-sdk sends with a gzip'd envelope."""
    return {
        "X-Sentry-Auth": f"Sentry sentry_version=7, sentry_key={key}, sentry_client=sentry.python/2.75.0",
        "Content-Type": "application/x-sentry-envelope",
        "Content-Encoding": "gzip",
    }


def feed(
    name: str,
    url: str,
    key: str,
    bodies: list[bytes],
    senders: int,
    counted: Callable[[], int],
    process: int,
    patience: float,
) -> Result:
    headers = envelope_headers(key)
    latencies: list[float] = []
    accepted = 0
    lock = threading.Lock()
    shares = [bodies[n::senders] for n in range(senders)]

    def send(share: list[bytes]) -> None:
        nonlocal accepted
        with requests.Session() as session:
            for body in share:
                started = time.perf_counter()
                status = session.post(url, data=body, headers=headers, timeout=60).status_code
                with lock:
                    latencies.append(time.perf_counter() - started)
                    accepted += status == 200

    before = counted()
    cpu_before = _tree_cpu_seconds(process)
    started = time.perf_counter()
    with ThreadPoolExecutor(senders) as pool:
        list(pool.map(send, shares))
    sent_s = time.perf_counter() - started
    while counted() - before < accepted and time.perf_counter() - started < patience:
        time.sleep(0.05)
    visible_s = time.perf_counter() - started
    cpu = _tree_cpu_seconds(process) - cpu_before
    time.sleep(1.0)  # anything counted twice, or late, shows by now
    seen = counted() - before
    ordered = sorted(latencies)
    return Result(
        name=name,
        accepted=accepted,
        accepted_per_s=accepted / sent_s,
        end_to_end_per_s=min(seen, accepted) / visible_s,
        all_visible_s=visible_s,
        cpu_per_1000=cpu * 1000 / max(accepted, 1),
        p50_ms=ordered[len(ordered) // 2] * 1000,
        p99_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        lost=max(0, accepted - seen),
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_for_port(port: int, process: subprocess.Popen[Any], what: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"{what} did not listen on {port}")


def _stop(process: subprocess.Popen[Any], signum: int) -> None:
    process.send_signal(signum)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


# --- the two servers --------------------------------------------------------------------------------------


def run_errata(bodies: list[bytes], senders: int, patience: float) -> Result:
    port = _free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="errata-peer-"))
    command = [sys.executable, "-m", "errata_local.cli", "dev", "--port", str(port), "--data-dir", str(data_dir)]
    stack = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert stack.stdout is not None
        banner: dict[str, str] = {}
        while "State" not in banner:  # the banner's last line
            line = stack.stdout.readline()
            if not line:
                raise SystemExit("errata dev did not start")
            if ": " in line:
                name, _, value = line.strip().partition(": ")
                banner[name] = value
        key = banner["DSN"].split("//", 1)[1].split("@", 1)[0]
        token = banner["API token"]

        def counted() -> int:
            total, cursor = 0, None
            while True:
                params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
                page = requests.get(
                    f"http://127.0.0.1:{port}/api/projects/1/issues",
                    params=params,
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=30,
                ).json()
                total += sum(int(issue["count"]) for issue in page["issues"])
                cursor = page.get("next_cursor")
                if not cursor:
                    return total

        return feed(
            "errata", f"http://127.0.0.1:{port}/api/1/envelope/", key, bodies, senders, counted, stack.pid, patience
        )
    finally:
        _stop(stack, signal.SIGINT)
        shutil.rmtree(data_dir, ignore_errors=True)


def _bugsink_venv() -> Path:
    python = PEER_DIR / "venv" / "bin" / "python"
    if (
        not python.exists()
        or BUGSINK.split("==")[1]
        not in subprocess.run(
            [str(PEER_DIR / "venv" / "bin" / "bugsink-show-version")], capture_output=True, text=True, check=False
        ).stdout
    ):
        PEER_DIR.mkdir(parents=True, exist_ok=True)
        uv = shutil.which("uv") or f"{sys.executable} -m uv"
        subprocess.run([*uv.split(), "venv", "-q", "--allow-existing", str(PEER_DIR / "venv")], check=True)
        subprocess.run([*uv.split(), "pip", "install", "-q", "--python", str(python), BUGSINK], check=True)
    return python.parent


def run_bugsink(bodies: list[bytes], senders: int, patience: float) -> Result:
    bin_dir = _bugsink_venv()
    port = _free_port()
    home = Path(tempfile.mkdtemp(prefix="bugsink-peer-"))
    subprocess.run(
        [
            str(bin_dir / "bugsink-create-conf"),
            "--template=local",
            f"--port={port}",
            "-o",
            str(home / "bugsink_conf.py"),
        ],
        check=True,
        capture_output=True,
    )
    with (home / "bugsink_conf.py").open("a") as conf:  # quotas out of the way: throughput is measured
        for name in ("PER_PROJECT_PER_5_MINUTES", "PER_PROJECT_PER_HOUR", "PER_5_MINUTES", "PER_HOUR"):
            conf.write(f'BUGSINK["MAX_EVENTS_{name}"] = 10**9\n')
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bugsink_conf", "PYTHONPATH": str(home)}
    manage = [str(bin_dir / "bugsink-manage")]
    subprocess.run([*manage, "migrate", "--no-input"], cwd=home, env=env, check=True, capture_output=True)
    created = subprocess.run(
        [
            *manage,
            "shell",
            "-c",
            "from teams.models import Team; from projects.models import Project; "
            "t = Team.objects.create(name='bench'); "
            "p = Project.objects.create(name='bench', slug='bench', team=t); print(p.id, p.sentry_key.hex)",
        ],
        cwd=home,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    project_id, key = created[-2], created[-1]
    server = subprocess.Popen(
        [str(bin_dir / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1", "bugsink.wsgi"],
        cwd=home,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, server, "bugsink")
        database = sqlite3.connect(f"file:{home / 'db.sqlite3'}?mode=ro", uri=True, check_same_thread=False)

        def counted() -> int:
            row = database.execute(
                "SELECT digested_event_count FROM projects_project WHERE id = ?", (project_id,)
            ).fetchone()
            return int(row[0])

        url = f"http://127.0.0.1:{port}/api/{project_id}/envelope/"
        return feed("bugsink", url, key, bodies, senders, counted, server.pid, patience)
    finally:
        _stop(server, signal.SIGTERM)
        shutil.rmtree(home, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--types", type=int, default=20)
    parser.add_argument("--patience", type=float, default=600.0, help="seconds to wait for every event")
    args = parser.parse_args()
    bodies = make_envelopes(args.events, args.types)
    print(
        f"{len(bodies)} envelopes, {sum(map(len, bodies)) / len(bodies):.0f} bytes gzip'd on average, "
        f"{args.senders} senders, {os.cpu_count()} cores, run {secrets.token_hex(3)}"
    )
    bugsink = run_bugsink(bodies, args.senders, args.patience)
    print(bugsink.line(), flush=True)
    errata = run_errata(bodies, args.senders, args.patience)
    print(errata.line(), flush=True)
    ratio = errata.end_to_end_per_s / bugsink.end_to_end_per_s
    print(f"PEER errata_vs_bugsink={ratio:.2f} lost={errata.lost}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
