"""A small ELF-to-Breakpad converter for the tests: what `dump_syms` writes (MODULE, INFO CODE_ID, FILE, FUNC
with its line records, PUBLIC), from the DWARF line tables and the symbol table, read with pyelftools.
`dump_syms` is not packaged for Debian nor on PyPI; Breakpad's format is documented at
https://chromium.googlesource.com/breakpad/breakpad/+/master/docs/symbol_files.md. Inlined frames are not
written (dump_syms' INLINE records are optional), so a Breakpad file names the outer function only."""

from __future__ import annotations

import bisect
from pathlib import Path

from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection
from errata_sdk.difs import read_debug_file

_ARCH = {"x86_64": "x86_64", "arm64": "arm64", "x86": "x86", "arm": "arm"}


def breakpad_symbols(debug_file: Path, name: str) -> str:
    (described,) = read_debug_file(debug_file)
    with debug_file.open("rb") as handle:
        elf = ELFFile(handle)
        functions = _functions(elf)
        files: dict[str, int] = {}
        rows: list[tuple[int, int, int]] = []  # (address, line, file index), sorted
        ends: list[int] = []
        dwarf = elf.get_dwarf_info() if elf.has_dwarf_info() else None
        for unit in dwarf.iter_CUs() if dwarf else []:
            program = dwarf.line_program_for_CU(unit) if dwarf else None
            if program is None:
                continue
            directories = [d.decode() for d in program["include_directory"]]
            entries = program["file_entry"]
            version5 = program.header.version >= 5  # DWARF 5 counts files and directories from 0
            top = unit.get_top_DIE().attributes.get("DW_AT_comp_dir")
            compile_dir = top.value.decode() if top else ""
            previous = None
            for entry in program.get_entries():
                state = entry.state
                if state is None:
                    continue
                if previous is not None and state.address > previous[0]:
                    rows.append(previous)
                    ends.append(state.address)
                if state.end_sequence:
                    previous = None
                    continue
                file_entry = entries[state.file if version5 else state.file - 1]
                if version5:
                    directory = directories[file_entry.dir_index]
                else:
                    directory = directories[file_entry.dir_index - 1] if file_entry.dir_index else compile_dir
                file_name = file_entry.name.decode()
                path = file_name if file_name.startswith("/") or not directory else f"{directory}/{file_name}"
                previous = (state.address, state.line, files.setdefault(path, len(files)))
    debug_id = described.debug_id.replace("-", "").upper()
    lines = [
        f"MODULE Linux {_ARCH.get(described.arch, described.arch)} {debug_id}0 {name}",
        f"INFO CODE_ID {(described.code_id or '').upper()}",
    ]
    lines += [f"FILE {index} {path}" for path, index in sorted(files.items(), key=lambda item: item[1])]
    order = sorted(range(len(rows)), key=lambda i: rows[i][0])
    starts = [rows[i][0] for i in order]
    for address, size, symbol in functions:
        lines.append(f"FUNC {address:x} {size:x} 0 {symbol}")
        first = bisect.bisect_left(starts, address)
        for position in range(first, len(order)):
            row = rows[order[position]]
            if row[0] >= address + size:
                break
            length = min(ends[order[position]], address + size) - row[0]
            lines.append(f"{row[0]:x} {length:x} {row[1]} {row[2]}")
    return "\n".join(lines) + "\n"


def _functions(elf: ELFFile) -> list[tuple[int, int, str]]:
    table = elf.get_section_by_name(".symtab")
    if not isinstance(table, SymbolTableSection):
        return []
    found = {
        (symbol["st_value"], symbol["st_size"], symbol.name)
        for symbol in table.iter_symbols()
        if symbol["st_info"]["type"] == "STT_FUNC" and symbol["st_size"] and symbol["st_value"]
    }
    return sorted(found)
