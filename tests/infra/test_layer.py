"""The layer `make build` produced holds Linux arm64 wheels for CPython 3.12, and nothing built locally."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.constructs.function import LAYER_DIR

SITE = LAYER_DIR / "python"
EM_AARCH64 = 183  # ELF e_machine


@pytest.fixture(scope="module")
def site() -> Path:
    if not SITE.is_dir():
        pytest.fail(f"{SITE} is missing: `make test` builds it first (make build)")
    return SITE


def _elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", path
    return int.from_bytes(header[18:20], "little")


def test_every_native_library_is_aarch64(site: Path) -> None:
    libraries = [p for p in site.rglob("*.so*") if p.is_file()]
    assert len(libraries) > 5, "pydantic-core, brotli, datasketches and numpy ship native code"
    wrong = [str(p.relative_to(site)) for p in libraries if _elf_machine(p) != EM_AARCH64]
    assert wrong == []


def test_every_distribution_came_as_a_wheel_for_cp312_arm64(site: Path) -> None:
    wheels = sorted(site.glob("*.dist-info/WHEEL"))
    assert len(wheels) >= 10
    for wheel in wheels:
        tags = [line.split(": ", 1)[1] for line in wheel.read_text().splitlines() if line.startswith("Tag: ")]
        assert tags, wheel
        for tag in tags:
            python, abi, platform = tag.split("-")
            assert platform == "any" or ("aarch64" in platform and "manylinux" in platform), tag
            assert python in ("py2", "py3", "cp312") or abi == "abi3", tag
    # A wheel built here from an sdist would be tagged linux_<arch>, not manylinux; none may be.
    assert not [w for w in wheels if "linux_x86_64" in w.read_text() or "-linux_aarch64" in w.read_text()]


def test_the_layer_carries_the_domain_package_and_the_functions_their_handlers(site: Path) -> None:
    assert (site / "errata" / "processing" / "batch.py").is_file()
    assert not list(site.rglob("__pycache__"))
    functions = LAYER_DIR.parent / "functions"
    assert sorted(p.name for p in functions.iterdir()) == ["alert", "api", "ingest", "notify", "process"]
    assert (functions / "api" / "dashboard.html").is_file()
    for name in ("alert", "api", "ingest", "notify", "process"):
        assert (functions / name / "handler.py").is_file()


def test_the_layer_fits_lambdas_limit_and_symbolic_is_there(site: Path) -> None:
    total = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    assert total < 250 * 1024 * 1024, f"{total / 1e6:.0f} MB: Lambda's limit for function + layers is 250 MB"
    libraries = list((site / "symbolic").glob("*.so"))
    assert libraries, "symbolic resolves source maps and ProGuard frames in the processor"
    assert _elf_machine(libraries[0]) == EM_AARCH64
