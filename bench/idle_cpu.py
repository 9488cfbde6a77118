"""CPU the local stack (`errata dev`: moto server, gateway, poller, alert loops) uses while nobody sends
anything, over one measured window after start-up. Prints CPU seconds per second of the whole process tree.

    uv run python bench/idle_cpu.py --seconds 30
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tree(pid: int) -> list[int]:
    pids, pending = [pid], [pid]
    while pending:
        children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pending.pop())], capture_output=True, text=True)
        found = [int(child) for child in children.stdout.split()]
        pids += found
        pending += found
    return pids


def _cpu_seconds(pid: int) -> float:
    total = 0.0
    for process in _tree(pid):
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--port", type=int, default=8799)
    args = parser.parse_args()
    state = [".cache/idle", "--reset"]  # the snapshot and journal on, as `make dev` runs
    command = [sys.executable, "-m", "errata_local.cli", "dev", "--port", str(args.port), "--data-dir", *state]
    stack = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        assert stack.stdout is not None
        for line in stack.stdout:
            if "Ctrl-C" in line:
                break
        time.sleep(5)  # start-up work done
        before = _cpu_seconds(stack.pid)
        time.sleep(args.seconds)
        used = _cpu_seconds(stack.pid) - before
    finally:
        os.killpg(stack.pid, signal.SIGINT)
        stack.wait(timeout=30)
    print(f"idle CPU: {used / args.seconds:.4f} CPU s/s over {args.seconds:.0f} s (whole process tree)")
    print(f"IDLE cpu_s_per_s={used / args.seconds:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
