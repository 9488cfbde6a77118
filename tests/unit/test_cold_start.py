"""What a handler imports is its cold start: ingest and the API never use numpy (the user sketch) or
symbolic (source maps), which took about a second to import into ingest before the processor's modules
were imported where the processor is built (errata.wiring)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("numpy", "symbolic", "datasketches")


@pytest.mark.parametrize("function", ["ingest", "api"])
def test_ingest_and_api_handlers_do_not_import_the_processors_libraries(function: str) -> None:
    probe = f"import json, sys; import handler; print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT / "functions" / function,
        env={"PYTHONPATH": f"{ROOT / 'functions' / function}:{ROOT / 'shared'}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stdout) == []
