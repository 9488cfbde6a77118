"""Native debug information files (DIFs) for the processor's symbolication, uploaded from a build:

    errata difs upload --api https://errata.example.com --token $ERRATA_TOKEN --project 42 build/ app.debug

Finds ELF files (executables, shared libraries, and `.debug` files from `objcopy --only-keep-debug`),
Mach-O files and `.dSYM` bundles, PE files and PDBs, Breakpad `.sym` files and WebAssembly modules under the
given paths, reads each one's debug id (the id SDKs report for the image in `debug_meta.images`), and uploads
them through presigned S3 URLs keyed by that id: never by release, since one build's symbols serve every
release that ships it. Standard library only, like the rest of the SDK.

Debug ids follow Sentry's (and symbolic's) rules: ELF: the GNU build id's first 16 bytes read as a
little-endian GUID; Mach-O: LC_UUID; PE: the CodeView record's GUID and age; PDB: the info stream's GUID and
the DBI stream's age; Breakpad: the MODULE line; WebAssembly: the `build_id` custom section.
"""

from __future__ import annotations

import argparse
import json
import struct
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from errata_sdk.artifacts import UploadError, _check_slot, _credentials, _request

PLAN_BATCH = 20
MAX_FILE_BYTES = 2 * 1024**3


@dataclass(frozen=True)
class DebugFile:
    path: Path
    debug_id: str
    code_id: str | None
    arch: str
    format: str  # elf, macho, pe, pdb, breakpad, wasm
    kind: str  # debug_file (DWARF, PDB), breakpad, symbol_table (names only)
    name: str  # the image's file name, for people reading the list
    size: int

    def as_request(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "debug_id": self.debug_id,
            "kind": self.kind,
            "format": self.format,
            "arch": self.arch,
            "size": self.size,
        }
        if self.code_id:
            body["code_id"] = self.code_id
        return body


# --- ELF ------------------------------------------------------------------------------------------------

_ELF_MACHINES = {3: "x86", 40: "arm", 62: "x86_64", 183: "arm64", 243: "riscv64", 8: "mips", 21: "ppc64"}
_NT_GNU_BUILD_ID = 3


def _elf(path: Path, data: bytes) -> list[DebugFile]:
    is64 = data[4] == 2
    endian = "<" if data[5] == 1 else ">"
    if is64:
        (machine,) = struct.unpack_from(endian + "H", data, 18)
        shoff, shentsize, shnum, shstrndx = (
            struct.unpack_from(endian + "Q", data, 40)[0],
            *struct.unpack_from(endian + "HHH", data, 58),
        )
    else:
        (machine,) = struct.unpack_from(endian + "H", data, 18)
        shoff, shentsize, shnum, shstrndx = (
            struct.unpack_from(endian + "I", data, 32)[0],
            *struct.unpack_from(endian + "HHH", data, 46),
        )
    sections: list[tuple[int, int, int, int]] = []  # (name offset, type, file offset, size)
    for index in range(shnum):
        base = shoff + index * shentsize
        if is64:
            name, kind, _flags, _addr, offset, size = struct.unpack_from(endian + "IIQQQQ", data, base)
        else:
            name, kind, _flags, _addr, offset, size = struct.unpack_from(endian + "IIIIII", data, base)
        sections.append((name, kind, offset, size))
    names_offset = sections[shstrndx][2] if shstrndx < len(sections) else 0

    def section_name(entry: tuple[int, int, int, int]) -> str:
        start = names_offset + entry[0]
        return data[start : data.index(b"\0", start)].decode("ascii", "replace")

    named = {section_name(entry): entry for entry in sections}
    build_id = None
    for section_name_, (_, kind, offset, size) in named.items():
        if kind != 7 and section_name_ != ".note.gnu.build-id":  # SHT_NOTE
            continue
        build_id = _note_build_id(data[offset : offset + size], endian) or build_id
        if build_id:
            break
    if not build_id:
        raise UploadError(f"{path}: ELF without a GNU build id (link with -Wl,--build-id): SDKs cannot name it")
    guid = build_id[:16].ljust(16, b"\0")
    debug_id = str(uuid.UUID(bytes_le=guid) if endian == "<" else uuid.UUID(bytes=guid))
    # A .debug_info whose type is NOBITS (8) is a stripped binary's placeholder, not debug information.
    has_debug = any(n in named and named[n][1] != 8 for n in (".debug_info", ".zdebug_info"))
    has_symtab = ".symtab" in named and named[".symtab"][1] != 8
    if not has_debug and not has_symtab and ".dynsym" not in named:
        return []
    kind = "debug_file" if has_debug else "symbol_table"
    return [
        DebugFile(
            path,
            debug_id,
            build_id.hex(),
            _ELF_MACHINES.get(machine, f"elf-{machine}"),
            "elf",
            kind,
            path.name.removesuffix(".debug"),
            len(data),
        )
    ]


def _note_build_id(notes: bytes, endian: str) -> bytes | None:
    position = 0
    while position + 12 <= len(notes):
        namesz, descsz, kind = struct.unpack_from(endian + "III", notes, position)
        name_start = position + 12
        desc_start = name_start + ((namesz + 3) & ~3)
        if kind == _NT_GNU_BUILD_ID and notes[name_start : name_start + namesz].rstrip(b"\0") == b"GNU":
            return notes[desc_start : desc_start + descsz]
        position = desc_start + ((descsz + 3) & ~3)
    return None


# --- Mach-O ---------------------------------------------------------------------------------------------

_MACHO_CPUS = {7: "x86", 0x01000007: "x86_64", 12: "arm", 0x0100000C: "arm64"}
_LC_UUID = 0x1B
_LC_SEGMENT_64 = 0x19
_LC_SEGMENT = 0x1
_LC_SYMTAB = 0x2


def _macho_slice(path: Path, data: bytes, start: int) -> DebugFile:
    magic = data[start : start + 4]
    is64 = magic == b"\xcf\xfa\xed\xfe"
    cpu, _subtype, _filetype, ncmds = struct.unpack_from("<iiII", data, start + 4)
    position = start + (32 if is64 else 28)
    debug_id, has_dwarf, has_symtab = None, False, False
    for _ in range(ncmds):
        command, size = struct.unpack_from("<II", data, position)
        if command == _LC_UUID:
            debug_id = str(uuid.UUID(bytes=data[position + 8 : position + 24]))
        elif command in (_LC_SEGMENT_64, _LC_SEGMENT):
            has_dwarf = has_dwarf or data[position + 8 : position + 24].rstrip(b"\0") == b"__DWARF"
        elif command == _LC_SYMTAB:
            has_symtab = True
        position += size
    if debug_id is None:
        raise UploadError(f"{path}: Mach-O without LC_UUID")
    kind = "debug_file" if has_dwarf else "symbol_table" if has_symtab else "unknown"
    return DebugFile(
        path,
        debug_id,
        debug_id.replace("-", ""),
        _MACHO_CPUS.get(cpu, f"macho-{cpu}"),
        "macho",
        kind,
        path.name,
        len(data),
    )


def _macho(path: Path, data: bytes) -> list[DebugFile]:
    if data[:4] == b"\xca\xfe\xba\xbe":  # fat: big-endian header, one slice per architecture
        (count,) = struct.unpack_from(">I", data, 4)
        slices = [struct.unpack_from(">iiIII", data, 8 + 20 * n)[2] for n in range(count)]
        return [_macho_slice(path, data, offset) for offset in slices]
    return [_macho_slice(path, data, 0)]


# --- PE and PDB -----------------------------------------------------------------------------------------

_PE_MACHINES = {0x14C: "x86", 0x8664: "x86_64", 0xAA64: "arm64", 0x1C4: "arm"}


def _pe(path: Path, data: bytes) -> list[DebugFile]:
    (pe_offset,) = struct.unpack_from("<I", data, 0x3C)
    if data[pe_offset : pe_offset + 4] != b"PE\0\0":
        return []
    machine, nsections, timestamp, _, _, optional_size, _ = struct.unpack_from("<HHIIIHH", data, pe_offset + 4)
    optional = pe_offset + 24
    is64 = struct.unpack_from("<H", data, optional)[0] == 0x20B
    (image_size,) = struct.unpack_from("<I", data, optional + 56)
    directories = optional + (112 if is64 else 96)
    debug_rva, debug_size = struct.unpack_from("<II", data, directories + 6 * 8)
    sections = optional + optional_size
    code_id = f"{timestamp:08X}{image_size:x}"

    def file_offset(rva: int) -> int | None:
        for n in range(nsections):
            _, vsize, vaddr, raw_size, raw_offset = struct.unpack_from("<8sIIII", data, sections + 40 * n)
            if vaddr <= rva < vaddr + max(vsize, raw_size):
                return int(rva - vaddr + raw_offset)
        return None

    start = file_offset(debug_rva) if debug_rva else None
    for n in range(debug_size // 28 if start is not None else 0):
        entry = (start or 0) + 28 * n
        _, _, _, _, kind, _size, _, pointer = struct.unpack_from("<IIHHIIII", data, entry)
        if kind == 2 and data[pointer : pointer + 4] == b"RSDS":  # CodeView, PDB 7.0
            guid = data[pointer + 4 : pointer + 20]
            (age,) = struct.unpack_from("<I", data, pointer + 20)
            debug_id = str(uuid.UUID(bytes_le=guid)) + (f"-{age:x}" if age else "")
            arch = _PE_MACHINES.get(machine, f"pe-{machine}")
            return [DebugFile(path, debug_id, code_id, arch, "pe", "symbol_table", path.name, len(data))]
    raise UploadError(f"{path}: PE without a CodeView (RSDS) debug record: SDKs cannot name it")


_PDB_MAGIC = b"Microsoft C/C++ MSF 7.00\r\n\x1aDS\0\0\0"


def _pdb(path: Path, data: bytes) -> list[DebugFile]:
    block_size, _, _, directory_bytes, _, map_block = struct.unpack_from("<IIIIII", data, 32)
    directory_blocks = -(-directory_bytes // block_size)
    block_list = struct.unpack_from(f"<{directory_blocks}I", data, map_block * block_size)
    directory = b"".join(data[b * block_size : (b + 1) * block_size] for b in block_list)[:directory_bytes]
    (streams,) = struct.unpack_from("<I", directory, 0)
    sizes = struct.unpack_from(f"<{streams}I", directory, 4)
    position = 4 + 4 * streams
    blocks_of: list[tuple[int, ...]] = []
    for size in sizes:
        count = 0 if size == 0xFFFFFFFF else -(-size // block_size)
        blocks_of.append(struct.unpack_from(f"<{count}I", directory, position))
        position += 4 * count

    def stream(index: int) -> bytes:
        joined = b"".join(data[b * block_size : (b + 1) * block_size] for b in blocks_of[index])
        return joined[: sizes[index]]

    info = stream(1)
    _version, _signature, age = struct.unpack_from("<III", info, 0)
    guid = info[12:28]
    if streams > 3 and sizes[3] not in (0, 0xFFFFFFFF):
        (age,) = struct.unpack_from("<I", stream(3), 8)  # the DBI stream's age is the one PEs name
    debug_id = str(uuid.UUID(bytes_le=guid)) + (f"-{age:x}" if age else "")
    return [DebugFile(path, debug_id, None, "unknown", "pdb", "debug_file", path.name, len(data))]


# --- Breakpad and WebAssembly ---------------------------------------------------------------------------


def _breakpad(path: Path, data: bytes) -> list[DebugFile]:
    first = data.split(b"\n", 1)[0].decode("utf-8", "replace").split()
    if len(first) < 5:
        raise UploadError(f"{path}: not a Breakpad symbol file (MODULE line)")
    _, _os, arch, identifier, name = first[:5]
    guid, age = identifier[:32], int(identifier[32:] or "0", 16)
    debug_id = str(uuid.UUID(guid)) + (f"-{age:x}" if age else "")
    code_id = None
    for line in data.split(b"\n", 8)[1:8]:
        if line.startswith(b"INFO CODE_ID "):
            code_id = line.split()[2].decode().lower()
    return [DebugFile(path, debug_id, code_id, arch, "breakpad", "breakpad", name, len(data))]


def _leb128(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, position


def _wasm(path: Path, data: bytes) -> list[DebugFile]:
    position, build_id, has_debug = 8, None, False
    while position < len(data):
        section, position = data[position], position + 1
        size, position = _leb128(data, position)
        end = position + size
        if section == 0:
            name_length, name_start = _leb128(data, position)
            name = data[name_start : name_start + name_length]
            content = name_start + name_length
            if name == b"build_id":  # the whole payload, as symbolic and Sentry's wasm integration read it
                build_id = data[content:end]
            has_debug = has_debug or name == b".debug_info"
        position = end
    if not build_id:
        raise UploadError(f"{path}: WebAssembly module without a build_id section")
    debug_id = str(uuid.UUID(bytes=build_id[:16].ljust(16, b"\0")))
    kind = "debug_file" if has_debug else "symbol_table"
    return [DebugFile(path, debug_id, build_id.hex(), "wasm32", "wasm", kind, path.name, len(data))]


# --- finding them ---------------------------------------------------------------------------------------


def read_debug_file(path: Path) -> list[DebugFile]:
    """The debug files in `path` (a fat Mach-O holds one per architecture); [] when it is none."""
    with path.open("rb") as handle:
        head = handle.read(64)
    if head[:4] == b"\x7fELF":
        reader = _elf
    elif head[:4] in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe"):
        reader = _macho
    elif head[:2] == b"MZ":
        reader = _pe
    elif head.startswith(_PDB_MAGIC):
        reader = _pdb
    elif head.startswith(b"MODULE "):
        reader = _breakpad
    elif head[:4] == b"\0asm":
        reader = _wasm
    else:
        return []
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise UploadError(f"{path}: {size} bytes is more than the 2 GB a debug file may have")
    data = path.read_bytes()
    try:
        return [found for found in reader(path, data) if found.kind != "unknown"]
    except (struct.error, IndexError, ValueError) as exc:
        raise UploadError(f"{path}: not a readable {reader.__name__.strip('_')} file ({exc})") from None


def find_debug_files(paths: list[Path]) -> list[DebugFile]:
    found: list[DebugFile] = []
    for path in paths:
        candidates = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        if not path.exists():
            raise UploadError(f"{path} does not exist")
        for candidate in candidates:
            found.extend(read_debug_file(candidate))
    return found


def _batches(items: list[DebugFile]) -> Iterator[list[DebugFile]]:
    for start in range(0, len(items), PLAN_BATCH):
        yield items[start : start + PLAN_BATCH]


def upload_debug_files(api: str, token: str, project: str, files: list[DebugFile]) -> int:
    if not files:
        raise UploadError("no debug files found (ELF, Mach-O/.dSYM, PE, PDB, Breakpad .sym or WebAssembly)")
    if not api.startswith(("http://", "https://")):
        raise UploadError(f"--api must be an http(s) URL, got {api!r}")
    endpoint = f"{api.rstrip('/')}/api/projects/{urllib.parse.quote(project, safe='')}/debug-files"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    puts = 0
    for batch in _batches(files):
        plan = json.loads(
            _request("POST", endpoint, json.dumps({"files": [f.as_request() for f in batch]}).encode(), headers)
        )
        try:
            slots = list(zip(batch, plan["uploads"], strict=True))
        except (KeyError, TypeError, ValueError) as exc:
            raise UploadError(f"the API's answer is not an upload plan: {exc!r}") from None
        for debug_file, slot in slots:
            _check_slot(slot, api)
            _request("PUT", slot["url"], debug_file.path.read_bytes(), dict(slot["headers"]), timeout=600)
            puts += 1
    return puts


def add_commands(commands: Any) -> None:
    difs = commands.add_parser("difs", help="upload native debug files (ELF, Mach-O/dSYM, PDB, Breakpad, WASM)")
    difs_commands = difs.add_subparsers(dest="action", required=True)
    upload = difs_commands.add_parser("upload", help="find the debug files in the paths and upload them")
    upload.add_argument("--api", help="Errata base URL (ERRATA_API)")
    upload.add_argument("--token", help="API token (ERRATA_TOKEN)")
    upload.add_argument("--project", required=True)
    upload.add_argument("--release", help="accepted for symmetry with the other uploads; debug files are by id")
    upload.add_argument("paths", type=Path, nargs="+")
    upload.set_defaults(run=_upload)


def _upload(args: argparse.Namespace) -> int:
    import os

    args.api = args.api or os.environ.get("ERRATA_API")
    args.token = args.token or os.environ.get("ERRATA_TOKEN")
    api, token = _credentials(args)
    files = find_debug_files(args.paths)
    upload_debug_files(api, token, args.project, files)
    print(f"uploaded {len(files)} debug files:")
    for found in files:
        print(f"  {found.path}  {found.format} {found.arch} {found.kind}  debug id {found.debug_id}")
    return 0
