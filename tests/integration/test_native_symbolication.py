"""Native crashes from programs built here: a C service (gcc -g) and a Rust one (rustc -g), stripped, their
debug files kept apart. Each crash is captured as sentry-native would send it (instruction addresses, and
`debug_meta.images` with the real build ids and load addresses from /proc/self/maps), sent by the real
sentry-sdk; after `errata difs upload` the API shows what `addr2line -f -i -C` says of the same addresses,
and ASLR, two runs, or the upload itself never split the issue."""

from __future__ import annotations

import posixpath
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sentry_sdk
from errata_sdk.difs import read_debug_file

from errata_local.cli import main as errata
from tests.breakpad_sym import breakpad_symbols
from tests.integration.conftest import TestProject, wait_for

pytestmark = pytest.mark.integration
NATIVE = Path(__file__).parents[1] / "fixtures" / "native"


@dataclass(frozen=True)
class Built:
    binary: Path  # stripped: what runs, as it ships
    debug: Path  # objcopy --only-keep-debug


@dataclass(frozen=True)
class Crash:
    addresses: list[int]  # innermost first, as backtrace() gives them
    signal: int | None
    message: str
    maps: str


def _strip_apart(binary: Path) -> Built:
    debug = binary.with_suffix(".debug")
    subprocess.run(["objcopy", "--only-keep-debug", str(binary), str(debug)], check=True)
    stripped = binary.with_name(binary.name + "-stripped")
    subprocess.run(["strip", "--strip-all", "-o", str(stripped), str(binary)], check=True)
    return Built(stripped, debug)


@pytest.fixture(scope="module")
def c_service(tmp_path_factory: pytest.TempPathFactory) -> Built:
    out = tmp_path_factory.mktemp("c") / "invoices"
    subprocess.run(["gcc", "-g", "-O1", "-Wl,--build-id", "-o", str(out), str(NATIVE / "crash.c")], check=True)
    return _strip_apart(out)


@pytest.fixture(scope="module")
def rust_service(tmp_path_factory: pytest.TempPathFactory) -> Built:
    out = tmp_path_factory.mktemp("rust") / "checkout"
    subprocess.run(
        ["rustc", "-g", "-C", "opt-level=1", "-C", "link-arg=-Wl,--build-id", "-o", str(out), str(NATIVE / "crash.rs")],
        check=True,
        capture_output=True,
    )
    return _strip_apart(out)


def crash(built: Built) -> Crash:
    result = subprocess.run([str(built.binary)], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 70, result.stderr
    report, maps = result.stderr.split("\nmaps\n", 1)
    lines = report.splitlines()
    addresses = [int(line.split()[1], 16) for line in lines if line.startswith("frame ")]
    signal = re.match(r"signal (\d+) pc (0x[0-9a-f]+)", lines[0])
    if signal:  # a signal handler's backtrace starts in the handler: the crash is at the faulting pc
        pc = int(signal.group(2), 16)
        addresses = addresses[addresses.index(pc) :]
        return Crash(addresses, int(signal.group(1)), "Arithmetic exception", maps)
    message = re.sub(
        r"^panic panicked at \S+:\n?", "", "\n".join(line for line in lines if not line.startswith("frame "))
    )
    return Crash(addresses, None, message.strip(), maps)


def images(maps: str) -> list[dict[str, Any]]:
    """Every mapped ELF file: where its first mapping starts, how far its mappings reach, and its ids."""
    extents: dict[str, list[int]] = {}
    for line in maps.splitlines():
        parts = line.split()
        if len(parts) < 6 or not parts[5].startswith("/"):
            continue
        start, end = (int(value, 16) for value in parts[0].split("-"))
        extent = extents.setdefault(parts[5], [start, end])
        extent[0], extent[1] = min(extent[0], start), max(extent[1], end)
    found = []
    for path, (start, end) in extents.items():
        read = read_debug_file(Path(path)) if Path(path).exists() else []
        if read:
            found.append(
                {
                    "type": "elf",
                    "code_file": path,
                    "image_addr": hex(start),
                    "image_size": end - start,
                    "debug_id": read[0].debug_id,
                    "code_id": read[0].code_id,
                    "arch": read[0].arch,
                }
            )
    return found


def native_event(report: Crash) -> dict[str, Any]:
    if report.signal is not None:
        exception: dict[str, Any] = {
            "type": "SIGFPE",
            "value": report.message,
            "mechanism": {"type": "signalhandler", "handled": False, "meta": {"signal": {"number": report.signal}}},
        }
    else:
        exception = {"type": "panic", "value": report.message, "mechanism": {"type": "panic", "handled": False}}
    frames = [{"instruction_addr": hex(address)} for address in reversed(report.addresses)]
    exception["stacktrace"] = {"frames": frames}
    return {
        "platform": "native",
        "level": "fatal",
        "exception": {"values": [exception]},
        "debug_meta": {"images": images(report.maps)},
    }


def send(project: TestProject, event: dict[str, Any]) -> None:
    sentry_sdk.init(dsn=project.dsn, default_integrations=False)
    try:
        sentry_sdk.capture_event(event)  # type: ignore[arg-type]  # a dict, as the protocol defines it
        sentry_sdk.flush()
    finally:
        sentry_sdk.init()


def addr2line(debug: Path, relative: int) -> list[tuple[str, str | None, int]]:
    """(function, file name, line) of an address, innermost inlined frame first, as binutils reads them."""
    out = subprocess.run(
        ["addr2line", "-f", "-i", "-C", "-e", str(debug), hex(relative)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    frames = []
    for function, where in zip(out[::2], out[1::2], strict=True):
        path, _, line = where.split(" ", 1)[0].rpartition(":")
        name = posixpath.basename(path) if path != "??" else None
        frames.append((function, name, int(line) if line.isdigit() else 0))
    return frames


def expected_frames(built: Built, report: Crash) -> list[tuple[str, str | None, int]]:
    """What addr2line says of the service's own frames (oldest first), each address stepped back into its
    call instruction but the crashing one, as the processor does."""
    image = next(i for i in images(report.maps) if i["code_file"] == str(built.binary))
    base, end = int(image["image_addr"], 16), int(image["image_addr"], 16) + image["image_size"]
    expected: list[tuple[str, str | None, int]] = []
    for position, address in enumerate(report.addresses):
        if not base <= address < end:
            continue
        crashing = position == 0 and report.signal is not None
        expected = list(reversed(addr2line(built.debug, address - base - (0 if crashing else 1)))) + expected
    return expected


def shown_frames(event: dict[str, Any], built: Built) -> list[tuple[str, str | None, int]]:
    frames = event["exception"]["values"][0]["stacktrace"]["frames"]
    return [
        (frame["function"], frame["filename"], frame["lineno"] or 0)
        for frame in frames
        if frame.get("package") == str(built.binary)
    ]


def upload(project: TestProject, capsys: pytest.CaptureFixture[str], *paths: Path) -> str:
    code = errata(
        ["difs", "upload", "--api", project.base_url, "--token", project.api_token, "--project", project.project_id]
        + [str(path) for path in paths]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def _issues_counting(project: TestProject, total: int) -> list[dict[str, Any]] | None:
    issues = project.issues()
    return issues if sum(issue["count"] for issue in issues) == total else None


def _symbolicated_sample(project: TestProject, issue_id: str) -> dict[str, Any] | None:
    for event in project.api(f"/issues/{issue_id}/events").json()["events"]:
        frames = event["exception"]["values"][0]["stacktrace"]["frames"]
        if any((frame.get("data") or {}).get("symbolicated") for frame in frames):
            return dict(event)
    return None


@pytest.mark.parametrize("service", ["c_service", "rust_service"])
def test_a_native_crash_is_one_issue_across_runs_and_the_upload_and_shows_what_addr2line_says(
    service: str, project: TestProject, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    built: Built = request.getfixturevalue(service)
    first, second = crash(built), crash(built)
    load = [
        next(i["image_addr"] for i in images(r.maps) if i["code_file"] == str(built.binary)) for r in (first, second)
    ]
    assert load[0] != load[1], "ASLR: the two runs loaded the service at different addresses"

    send(project, native_event(first))
    send(project, native_event(second))
    issues = wait_for(lambda: _issues_counting(project, 2))
    assert len(issues) == 1, "two runs of one crash, loaded at different addresses, are one issue"
    before = project.api(f"/issues/{issues[0]['id']}").json()["event"]
    own = [f for f in before["exception"]["values"][0]["stacktrace"]["frames"] if f.get("package") == str(built.binary)]
    assert own and all(f["data"]["symbolication"] == "missing debug file" for f in own)
    missing = project.api("/debug-files").json()["missing"]
    assert built.binary.name in {m["code_file"] for m in missing}

    out = upload(project, capsys, built.debug, built.binary)
    assert "uploaded 2 debug files" in out
    listed = project.api("/debug-files").json()
    assert {f["kind"] for f in listed["debug_files"]} == {"debug_file", "symbol_table"}
    assert built.binary.name not in {m["code_file"] for m in listed["missing"]}

    # The processor remembers a missing debug file for a minute but looks for new uploads every few seconds.
    event, sent = None, 2
    for _ in range(10):
        send(project, native_event(crash(built)))
        sent += 1
        try:
            event = wait_for(lambda: _symbolicated_sample(project, issues[0]["id"]), timeout=3)
            break
        except AssertionError:
            continue
    assert event is not None, "an event sent after the upload is symbolicated"
    issues = wait_for(lambda: _issues_counting(project, sent))
    assert len(issues) == 1, "events symbolicated after the upload join the issue their predecessors opened"
    shown = shown_frames(event, built)
    report = crash(built)  # the same binary: the same relative addresses, whatever the run
    expected = expected_frames(built, report)
    assert shown == expected
    own = [f for f in event["exception"]["values"][0]["stacktrace"]["frames"] if f.get("package") == str(built.binary)]
    addresses = {frame["instruction_addr"] for frame in own}
    assert any(frame["data"]["inlined"] for frame in own) == (len(expected) > len(addresses)), "inlined frames"


def test_a_breakpad_symbol_file_names_the_functions_files_and_lines_of_the_same_crash(
    c_service: Built, project: TestProject, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The .sym file (tests/breakpad_sym.py, what dump_syms writes; no INLINE records) alone, without the
    ELF debug file: every frame is the function its address belongs to, at the line the line table gives."""
    sym = tmp_path / "invoices.sym"
    sym.write_text(breakpad_symbols(c_service.debug, c_service.binary.name))
    assert "uploaded 1 debug files" in upload(project, capsys, sym)
    assert [f["kind"] for f in project.api("/debug-files").json()["debug_files"]] == ["breakpad"]
    report = crash(c_service)
    send(project, native_event(report))
    issue = wait_for(lambda: _issues_counting(project, 1))[0]
    event = wait_for(lambda: _symbolicated_sample(project, issue["id"]))
    image = next(i for i in images(report.maps) if i["code_file"] == str(c_service.binary))
    base = int(image["image_addr"], 16)
    expected: list[tuple[str, str | None, int]] = []
    for position, address in enumerate(report.addresses):
        if base <= address < base + image["image_size"]:
            adjusted = address - base - (0 if position == 0 else 1)
            frames = addr2line(c_service.debug, adjusted)
            # The function the address belongs to (addr2line's outermost), at the line of the line table
            # (its innermost: without INLINE records, code inlined here keeps its own line).
            expected.insert(0, (frames[-1][0], frames[0][1], frames[0][2]))
    assert shown_frames(event, c_service) == expected
