"""Native debug files and frames: the SDK's debug id readers agree with symbolic (the server's reader) on
files built here, names demangle as addr2line prints them, native frames group by function or by image and
relative address, and grouping config errata:2026-11-28 still computes what it computed when it was current."""

from __future__ import annotations

import json
import struct
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from errata_sdk.difs import read_debug_file
from symbolic.debuginfo import Archive

from errata.grouping.fingerprint import CURRENT_CONFIG, LEGACY_CONFIGS, fingerprint_event
from errata.models.event import SentryEvent
from errata.store.artifacts import normalize_native_debug_id
from errata.symbolication.demangle import demangle, function_name
from tests.breakpad_sym import breakpad_symbols

FIXTURES = Path(__file__).parents[1] / "fixtures"


@pytest.fixture(scope="module")
def c_build(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("c")
    binary = out / "invoices"
    subprocess.run(
        ["gcc", "-g", "-O1", "-Wl,--build-id", "-o", str(binary), str(FIXTURES / "native" / "crash.c")], check=True
    )
    debug, stripped = out / "invoices.debug", out / "invoices-stripped"
    subprocess.run(["objcopy", "--only-keep-debug", str(binary), str(debug)], check=True)
    subprocess.run(["strip", "--strip-all", "-o", str(stripped), str(binary)], check=True)
    sym = out / "invoices.sym"
    sym.write_text(breakpad_symbols(debug, "invoices"))
    return {"binary": binary, "debug": debug, "stripped": stripped, "sym": sym}


@pytest.mark.parametrize(
    ("name", "kind", "format_"),
    [
        ("binary", "debug_file", "elf"),
        ("debug", "debug_file", "elf"),
        ("stripped", "symbol_table", "elf"),
        ("sym", "breakpad", "breakpad"),
    ],
)
def test_the_sdk_reads_the_debug_id_symbolic_reads(
    c_build: dict[str, Path], name: str, kind: str, format_: str
) -> None:
    (found,) = read_debug_file(c_build[name])
    (reference,) = list(Archive.open(str(c_build[name])).iter_objects())
    assert found.debug_id == reference.debug_id
    assert (found.kind, found.format, found.arch) == (kind, format_, reference.arch)
    assert found.code_id == reference.code_id


def _leb128(value: int) -> bytes:
    out = b""
    while True:
        byte, value = value & 0x7F, value >> 7
        if not value:
            return out + bytes([byte])
        out += bytes([byte | 0x80])


def test_mach_o_and_webassembly_ids_are_read_as_symbolic_reads_them(tmp_path: Path) -> None:
    image_uuid = uuid.UUID("12345678-9abc-def0-1234-56789abcdef0")
    commands = struct.pack("<II", 0x1B, 24) + image_uuid.bytes + struct.pack("<IIIIII", 0x2, 24, 0, 0, 0, 0)
    header = struct.pack("<IiiIIIII", 0xFEEDFACF, 0x0100000C, 0, 6, 2, len(commands), 0, 0)
    macho = tmp_path / "Shop"
    macho.write_bytes(header + commands)
    name = b"build_id"
    payload = _leb128(len(name)) + name + _leb128(20) + bytes(range(20))
    wasm = tmp_path / "app.wasm"
    wasm.write_bytes(b"\0asm\x01\0\0\0\0" + _leb128(len(payload)) + payload)
    for path in (macho, wasm):
        (found,) = read_debug_file(path)
        (reference,) = list(Archive.open(str(path)).iter_objects())
        assert (found.debug_id, found.arch) == (reference.debug_id, reference.arch)
        assert found.code_id == reference.code_id


def test_files_that_are_not_debug_files_are_skipped_and_a_missing_build_id_is_an_error(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an object file")
    assert read_debug_file(text) == []
    no_id = tmp_path / "no-build-id"
    subprocess.run(
        ["gcc", "-g", "-Wl,--build-id=none", "-o", str(no_id), str(FIXTURES / "native" / "crash.c")], check=True
    )
    from errata_sdk.artifacts import UploadError

    with pytest.raises(UploadError, match="build id"):
        read_debug_file(no_id)


@pytest.mark.parametrize(
    ("value", "normalized"),
    [
        ("C356F04C5CA75FD0FD035BE3636F4C21", "c356f04c-5ca7-5fd0-fd03-5be3636f4c21"),
        ("c356f04c-5ca7-5fd0-fd03-5be3636f4c21-0", "c356f04c-5ca7-5fd0-fd03-5be3636f4c21"),
        ("3249d99d-0c40-4931-8610-f4e4fb0b6936-1a", "3249d99d-0c40-4931-8610-f4e4fb0b6936-1a"),
    ],
)
def test_debug_ids_are_normalized_as_sentry_writes_them(value: str, normalized: str) -> None:
    assert normalize_native_debug_id(value) == normalized


@pytest.mark.parametrize("value", ["", "../../etc/passwd", "c356f04c-5ca7", "c356f04c5ca75fd0fd035be3636f4c21/x"])
def test_anything_else_is_not_a_debug_id(value: str) -> None:
    with pytest.raises(ValueError, match="not a debug id"):
        normalize_native_debug_id(value)


@pytest.mark.parametrize(
    ("symbol", "readable"),
    [
        ("_ZN7billing7Invoice5totalEm", "billing::Invoice::total(unsigned long)"),
        ("_ZN5crash7billing7Invoice5total17h8569ed7a99fb6111E", "crash::billing::Invoice::total"),
        (
            "_RNvXsv_NtCslNYArtu3iFV_5alloc5boxedINtB5_3BoxDG0_INtNtNtCsgEmfK2I1SDS_4core3ops8function2FnTRL1_INtNtCsjr"
            "HSEGnQ3l9_3std5panic13PanicHookInfoL0_EEEp6OutputuNtNtBS_6marker4SyncNtB2v_4SendEL_EIBM_TRB1x_EE4callB1B_",
            "<alloc::boxed::Box<dyn for<'a, 'b> core::ops::function::Fn<(&'a std::panic::PanicHookInfo<'b>,), "
            "Output = ()> + core::marker::Sync + core::marker::Send> as core::ops::function::Fn<(&std::panic::"
            "PanicHookInfo,)>>::call",
        ),
        ("split_invoice", "split_invoice"),
        ("_Znot_really", "_Znot_really"),
    ],
)
def test_names_demangle_as_addr2line_prints_them(symbol: str, readable: str) -> None:
    assert demangle(symbol) == readable


def test_grouping_drops_a_signature_not_a_name() -> None:
    assert function_name("billing::Invoice::total(unsigned long) const") == "billing::Invoice::total"
    assert function_name("std::vector<int, std::allocator<int>>::push_back(int const&)") == (
        "std::vector<int, std::allocator<int>>::push_back"
    )
    assert function_name("main") == "main"


def _native(frames: list[dict[str, Any]], kind: str = "SIGSEGV") -> SentryEvent:
    return SentryEvent.model_validate(
        {"platform": "native", "exception": {"values": [{"type": kind, "stacktrace": {"frames": frames}}]}}
    )


def _unsymbolicated(base: int) -> list[dict[str, Any]]:
    return [
        {
            "instruction_addr": hex(base + offset),
            "package": "/srv/invoices",
            "data": {
                "image": "invoices",
                "relative_addr": hex(offset),
                "sent_function": None,
                "symbolication": "missing debug file",
            },
        }
        for offset in (0x1395, 0x130D, 0x12C9)
    ]


def test_native_frames_group_by_image_and_relative_address_so_aslr_never_splits() -> None:
    first = fingerprint_event(_native(_unsymbolicated(0x55DDA0F7D000)))
    second = fingerprint_event(_native(_unsymbolicated(0x5641CD87E000)))
    assert first.issue_id == second.issue_id
    assert "frame:invoices:+0x12c9" in first.components
    moved = _unsymbolicated(0x55DDA0F7D000)
    moved[-1]["data"]["relative_addr"] = "0x12d0"  # another crash site
    assert fingerprint_event(_native(moved)).issue_id != first.issue_id


def test_a_symbolicated_event_also_looks_up_the_issue_its_unsymbolicated_predecessors_opened() -> None:
    before = fingerprint_event(_native(_unsymbolicated(0x55DDA0F7D000)))
    symbolicated = []
    for frame, names in zip(
        _unsymbolicated(0x5641CD87E000), (["main"], ["handle_request"], ["split_invoice", "share_of"]), strict=True
    ):
        for depth, name in enumerate(names):
            data = {**frame["data"], "symbolicated": True, "inlined": depth > 0, "symbolication": "ok"}
            symbolicated.append(
                {**frame, "function": name, "abs_path": "/src/crash.c", "lineno": 10 + depth, "data": data}
            )
    after = fingerprint_event(_native(symbolicated))
    assert after.issue_id != before.issue_id
    assert after.legacy_ids[0] == before.issue_id
    assert "frame::share_of" in after.components and "frame::split_invoice" in after.components


def test_a_native_crash_without_a_type_is_titled_by_its_signal() -> None:
    event = SentryEvent.model_validate(
        {
            "platform": "native",
            "exception": {
                "values": [
                    {"value": "Segfault", "mechanism": {"type": "signalhandler", "meta": {"signal": {"number": 11}}}}
                ]
            },
        }
    )
    assert fingerprint_event(event).title == "SIGSEGV: Segfault"


def test_config_2026_11_28_still_computes_what_it_computed_when_it_was_current() -> None:
    """tests/fixtures/grouping/grouping_2026_11_28_golden.json was produced by errata:2026-11-28's code as
    committed (git 6a282b2), before errata:2026-12-03 superseded it: every event of both grouping corpora
    and three native events."""
    golden = json.loads((FIXTURES / "grouping" / "grouping_2026_11_28_golden.json").read_text())
    frozen = LEGACY_CONFIGS[0]
    assert golden["config"] == frozen.id != CURRENT_CONFIG.id
    checked = 0
    for corpus, ids in golden["corpora"].items():
        lines = (FIXTURES / corpus).read_text().splitlines()
        for line, issue_id in zip(lines, ids, strict=True):
            event = SentryEvent.model_validate(json.loads(line)["event"])
            assert fingerprint_event(event, config=frozen, legacy=()).issue_id == issue_id
            assert issue_id in fingerprint_event(event).legacy_ids or fingerprint_event(event).issue_id == issue_id
            checked += 1
    for payload, issue_id in golden["native"]:
        assert fingerprint_event(SentryEvent.model_validate(payload), config=frozen, legacy=()).issue_id == issue_id
    assert checked == 606
