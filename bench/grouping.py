"""Grouping quality on labeled corpora (made by real runtimes and SDKs, labeled by the bug that produced each
event): pairwise precision and recall of fingerprint_event.

- tests/fixtures/grouping_corpus: 382 events; the grouping rules were developed against it.
- tests/fixtures/grouping_holdout: 224 events, other apps and bugs, made afterwards by someone who did not
  read the grouping code; measured once as it came (precision 1.000, recall 0.684), then used to fix two
  defects (Go module-cache frames flagged in-app by sentry-go; V8's receiver-dependent method names).

Precision: of the event pairs put in one issue, the share that are one bug. Recall: of the pairs that are one
bug, the share put in one issue. Prints the figures per platform, the groups split or merged (--details),
and how the number of innermost in-app frames that count changes both (--sweep).

    uv run python bench/grouping.py [--corpus PATH ...] [--details] [--sweep]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from errata.grouping import frames
from errata.grouping.fingerprint import fingerprint_event
from errata.models.event import SentryEvent
from errata.stacktrace_text import attach_text_stacktrace

FIXTURES = Path(__file__).parents[1] / "tests" / "fixtures"
CORPUS = FIXTURES / "grouping_corpus" / "corpus.jsonl"
HOLDOUT = FIXTURES / "grouping_holdout" / "corpus.jsonl"


def _pairs(counts: Counter[Any]) -> int:
    return sum(n * (n - 1) // 2 for n in counts.values())


def pairwise(labels: list[str], issues: list[str]) -> tuple[float, float]:
    """Pairwise precision and recall from the contingency of (label, issue) counts."""
    both = _pairs(Counter(zip(labels, issues, strict=True)))
    same_issue = _pairs(Counter(issues))
    same_label = _pairs(Counter(labels))
    precision = both / same_issue if same_issue else 1.0
    recall = both / same_label if same_label else 1.0
    return precision, recall


def group_corpus(rows: list[dict[str, Any]]) -> list[str]:
    issues = []
    for row in rows:
        event = SentryEvent.model_validate(row["event"])
        attach_text_stacktrace(event, row["event"])
        issues.append(fingerprint_event(event).issue_id)
    return issues


def report(path: Path, details: bool) -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    started = time.perf_counter()
    issues = group_corpus(rows)
    elapsed = time.perf_counter() - started
    labels = [row["group"] for row in rows]
    print(f"{path.parent.name}: {len(rows)} events, {len(set(labels))} labeled groups, {len(set(issues))} issues")
    precision, recall = pairwise(labels, issues)
    print(f"  all platforms: precision {precision:.3f}  recall {recall:.3f}")
    by_platform: dict[str, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        by_platform[row["platform"]].append(index)
    for platform, indexes in sorted(by_platform.items()):
        p, r = pairwise([labels[i] for i in indexes], [issues[i] for i in indexes])
        print(f"  {platform:<8} {len(indexes):>4} events  precision {p:.3f}  recall {r:.3f}")
    print(f"  fingerprinting: {elapsed / len(rows) * 1e6:.0f} µs per event (incl. text stack parsing)")
    if details:
        issues_of: dict[str, Counter[str]] = defaultdict(Counter)
        labels_of: dict[str, Counter[str]] = defaultdict(Counter)
        for label, issue in zip(labels, issues, strict=True):
            issues_of[label][issue] += 1
            labels_of[issue][label] += 1
        for label, spread in sorted(issues_of.items()):
            if len(spread) > 1:
                print(f"  split  {label}: {sorted(spread.values(), reverse=True)}")
        for issue, spread in sorted(labels_of.items()):
            if len(spread) > 1:
                print(f"  merged {issue[:8]}: {dict(spread)}")


def sweep(paths: list[Path]) -> None:
    """Precision and recall as the number of innermost in-app frames that count varies."""
    chosen = frames.MAX_GROUPING_FRAMES
    print("innermost in-app frames counted -> precision / recall per corpus:")
    try:
        for count in (1, 2, 3, 10_000):
            frames.MAX_GROUPING_FRAMES = count
            cells = []
            for path in paths:
                rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
                p, r = pairwise([row["group"] for row in rows], group_corpus(rows))
                cells.append(f"{path.parent.name} {p:.3f} / {r:.3f}")
            marker = " (chosen)" if count == chosen else ""
            print(f"  {'all' if count == 10_000 else count:>3}: " + "   ".join(cells) + marker)
    finally:
        frames.MAX_GROUPING_FRAMES = chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, action="append", help="default: the corpus and the holdout")
    parser.add_argument("--details", action="store_true", help="list split and merged groups")
    parser.add_argument("--sweep", action="store_true", help="vary the number of frames that count")
    args = parser.parse_args()
    paths = args.corpus or [CORPUS, HOLDOUT]
    for path in paths:
        report(path, args.details)
    if args.sweep:
        sweep(paths)


if __name__ == "__main__":
    main()
