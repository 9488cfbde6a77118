"""Symbolication cost: cold parse of a ~1 MB source map, per-frame lookups, and whole events through the
Symbolicator (S3 in moto, in-process) cold and warm.

The bundle is made here by esbuild (pinned in package.json) from terser's compressor, a real ~300 KB
program: `esbuild --bundle --minify --sourcemap` gives a ~1.2 MB map with sources embedded.

    uv run python bench/symbolication.py [--runs 5] [--lookups 20000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import boto3
from moto import mock_aws
from symbolic.sourcemap import SourceMapView
from symbolic.sourcemapcache import SourceMapCache

from errata.store.artifacts import ArtifactStore, artifact_key
from errata.symbolication.symbolicator import Symbolicator

ROOT = Path(__file__).parents[1]
ENTRY = ROOT / "node_modules" / "terser" / "lib" / "compress" / "index.js"


def build_bundle(out: Path) -> tuple[bytes, bytes]:
    esbuild = ROOT / "node_modules" / ".bin" / "esbuild"
    if not esbuild.exists():
        raise SystemExit("node_modules/.bin/esbuild is missing: `make bootstrap-node` (npm ci) installs it")
    target = out / "app.min.js"
    subprocess.run(
        [str(esbuild), "--bundle", "--minify", "--sourcemap", "--platform=node", "--format=cjs", "--log-level=error",
         str(ENTRY), f"--outfile={target}"],
        check=True,
    )  # fmt: skip
    return target.read_bytes(), (out / "app.min.js.map").read_bytes()


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _positions(minified: bytes, count: int, rng: random.Random) -> list[tuple[int, int]]:
    """1-based (line, column) positions spread over the bundle's code."""
    lines = minified.split(b"\n")
    weighted = [(i + 1, len(line)) for i, line in enumerate(lines) if len(line) > 10]
    total = sum(length for _, length in weighted)
    positions = []
    for _ in range(count):
        pick = rng.randrange(total)
        for number, length in weighted:
            if pick < length:
                positions.append((number, pick + 1))
                break
            pick -= length
    return positions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--lookups", type=int, default=20_000)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as directory:
        minified, source_map = build_bundle(Path(directory))
    print(
        f"bundle: {len(minified) / 1e3:.0f} KB minified, map {len(source_map) / 1e6:.2f} MB"
        " (esbuild, terser's compressor)"
    )

    cold = []
    for _ in range(args.runs):
        started = time.perf_counter()
        cache = SourceMapCache.from_bytes(minified, source_map)
        cold.append(time.perf_counter() - started)
    view_cold = []
    for _ in range(args.runs):
        started = time.perf_counter()
        SourceMapView.from_json_bytes(source_map)
        view_cold.append(time.perf_counter() - started)
    print(f"cold parse, SourceMapCache (scope names): median {_ms(statistics.median(cold))} over {args.runs} runs")
    print(f"cold parse, SourceMapView (call-site names only): median {_ms(statistics.median(view_cold))}")

    positions = _positions(minified, args.lookups, rng)
    started = time.perf_counter()
    hits = sum(1 for line, column in positions if cache.lookup(line, column, 0) is not None)
    plain = time.perf_counter() - started
    started = time.perf_counter()
    for line, column in positions:
        cache.lookup(line, column, 5)
    with_context = time.perf_counter() - started
    print(
        f"lookup: {plain / len(positions) * 1e6:.1f} µs per frame, {with_context / len(positions) * 1e6:.1f} µs with "
        f"5 context lines ({hits}/{len(positions)} positions mapped)"
    )

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="errata-bench-source-maps")
        store = ArtifactStore(s3, "errata-bench-source-maps")
        s3.put_object(Bucket="errata-bench-source-maps", Key=artifact_key("1", "r1", "~/app.min.js"), Body=minified)
        s3.put_object(
            Bucket="errata-bench-source-maps", Key=artifact_key("1", "r1", "~/app.min.js.map"), Body=source_map
        )
        symbolicator = Symbolicator(store)
        frames = 10

        def event() -> dict[str, object]:
            stack = [
                {"abs_path": "/srv/app/dist/app.min.js", "lineno": line, "colno": column, "function": "a"}
                for line, column in rng.sample(positions, frames)
            ]
            return {
                "platform": "node",
                "release": "r1",
                "exception": {"values": [{"type": "E", "stacktrace": {"frames": stack}}]},
            }

        started = time.perf_counter()
        symbolicator.symbolicate("1", event())
        first = time.perf_counter() - started
        warm = []
        for _ in range(200):
            payload = event()
            started = time.perf_counter()
            symbolicator.symbolicate("1", payload)
            warm.append(time.perf_counter() - started)
        print(
            f"event of {frames} frames: first (S3 list + 2 GETs + parse) {_ms(first)}, warm p50 "
            f"{_ms(statistics.median(warm))} p95 {_ms(sorted(warm)[int(len(warm) * 0.95)])}; "
            f"cache holds {symbolicator.source_map_cache.bytes / 1e6:.1f} MB of "
            f"{symbolicator.source_map_cache.max_bytes / 1e6:.0f} MB"
        )


if __name__ == "__main__":
    main()
