"""What ingest alone costs the local stack (`make dev`'s processes: the gateway with the ingest handler, the
moto server with its state directory's journal and snapshots), with the stream's event source mapping
disabled so that nothing else runs: CPU per event, and the events per second that CPU allows on this
machine's cores if processing cost nothing. Issue #15 asks for ten times Bugsink's end-to-end rate; this
is the ceiling ingest alone puts on it.

    uv run python bench/ingest_floor.py [--events 2000] [--senders 4]

The envelopes are bench/peer.py's (real sentry-sdk events, gzip'd), made in a process of their own: the
SDK patches botocore and http.client in the process it runs in, and the gateway must not pay for that.
The senders run in this process too; their CPU is measured per thread and left out. Last line, for scripts:

    INGEST cpu_ms_per_event=<x> moto_ms_per_event=<x> ceiling_events_per_s=<x>
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import peer
import requests

from errata_local.stack import DEV_EVENT_SOURCE, LocalStack


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--senders", type=int, default=4)
    args = parser.parse_args()
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        bodies: list[bytes] = pool.apply(peer.make_envelopes, (args.events, 20))
    data_dir = Path(tempfile.mkdtemp(prefix="errata-ingest-floor-"))  # as make dev: the journal, the snapshots
    stack = LocalStack(
        port=0, event_source=replace(DEV_EVENT_SOURCE, enabled=False), processor_process=True, data_dir=data_dir
    )
    info = stack.start()
    try:
        key = info.dsn.split("//", 1)[1].split("@", 1)[0]
        url = f"{info.base_url}/api/{info.project_id}/envelope/"
        headers = peer.envelope_headers(key)
        senders_cpu: list[float] = []
        lock = threading.Lock()

        def send(share: list[bytes]) -> None:
            started = time.thread_time()
            with requests.Session() as session:
                for body in share:
                    response = session.post(url, data=body, headers=headers, timeout=60)
                    assert response.status_code == 200, response.text
            with lock:
                senders_cpu.append(time.thread_time() - started)

        moto_pid = stack.aws_pid
        stack_before, moto_before = peer._tree_cpu_seconds(os.getpid()), peer._tree_cpu_seconds(moto_pid)
        started = time.perf_counter()
        with ThreadPoolExecutor(args.senders) as senders:
            list(senders.map(send, [bodies[n :: args.senders] for n in range(args.senders)]))
        wall = time.perf_counter() - started
        stack_cpu = peer._tree_cpu_seconds(os.getpid()) - stack_before - sum(senders_cpu)
        moto_cpu = peer._tree_cpu_seconds(moto_pid) - moto_before
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    per_event_ms = stack_cpu * 1000 / len(bodies)
    cores = os.cpu_count() or 1
    ceiling = cores * 1000 / per_event_ms
    print(
        f"ingest alone, {len(bodies)} envelopes, {args.senders} senders, {cores} cores: "
        f"accepted {len(bodies) / wall:.0f}/s; "
        f"{per_event_ms:.2f} CPU ms per event in the stack ({moto_cpu * 1000 / len(bodies):.2f} of them in the moto "
        f"server), senders' own {sum(senders_cpu) * 1000 / len(bodies):.2f} left out; "
        f"ceiling with free processing {ceiling:.0f} events/s"
    )
    print(
        f"INGEST cpu_ms_per_event={per_event_ms:.2f} moto_ms_per_event={moto_cpu * 1000 / len(bodies):.2f} "
        f"ceiling_events_per_s={ceiling:.0f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
