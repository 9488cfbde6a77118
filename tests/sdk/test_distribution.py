"""`pip install ./sdk` brings the SDK and nothing else."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

SDK = Path(__file__).resolve().parents[2] / "sdk"


def test_the_sdk_installs_alone_and_imports_without_the_project(tmp_path: Path) -> None:
    uv = os.environ.get("UV") or shutil.which("uv")  # `uv run` (make test) tells its own path in UV
    assert uv, "uv runs the tests, so it is there"
    target = tmp_path / "site"
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--target", str(target), "--python", sys.executable, str(SDK)], check=True
    )
    installed = sorted(p.name for p in target.iterdir() if not p.name.startswith((".", "__")))
    assert [name for name in installed if not name.startswith("errata_sdk")] == []
    probe = "import errata_sdk, sys; assert 'errata' not in sys.modules; print(errata_sdk.init.__name__)"
    result = subprocess.run(
        [sys.executable, "-I", "-c", probe],
        env={"PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.strip() == "init", result.stderr
