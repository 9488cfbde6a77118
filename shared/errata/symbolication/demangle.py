"""Symbol names from native debug files, as a developer reads them: what `addr2line -C` prints.

Debug files keep linkage names (`_ZN5crash7billing7Invoice5total17h8569ed7a99fb6111E`); symbolic's Python
bindings return them as they are, so they are demangled here: C++'s Itanium scheme with `itanium_demangler`,
Rust's legacy and v0 schemes with `rust_demangler` (both pure Python, so the Lambda layer needs no native
build). A Rust legacy name ends in a hash of the crate's build (`::h8569ed7a99fb6111`), which changes with
every compile and so is dropped, as rustc's own demangler does in its default form. Swift's scheme has no
maintained Python demangler: Swift names stay mangled (documented in the README).
"""

from __future__ import annotations

import re

import itanium_demangler
import rust_demangler
from rust_demangler import rust_v0

_RUST_HASH = re.compile(r"::h[0-9a-f]{16}$")
# rust_demangler writes v0's unnamed closures and shims as `{closure:#0}`; rustc's own demangler (and
# addr2line) as `{closure#0}`.
_RUST_UNNAMED = re.compile(r"\{(\w+):#(\d+)\}")
_RUST_LEGACY = re.compile(r"^_?_ZN.*17h[0-9a-f]{16}E")  # rustc's legacy names end in a hash segment
_MAX_NAME = 4096


def _print_lifetime_from_index(self: rust_v0.Printer, lifetime: int) -> None:
    """rust_demangler 1.0's `Printer.print_lifetime_from_index`, as rustc-demangle has it (v0.rs): the
    port printed `'_` and went on, printed the letter's code point instead of the letter, and called the
    innermost bound lifetime (depth 0: `'a`) invalid, so every `for<'a>` (closures in std, trait objects)
    failed to demangle. Patched here, tested in tests/unit/test_native_debug_files.py."""
    self.out += "'"
    if lifetime == 0:
        self.out += "_"
        return
    depth = self.bound_lifetime_depth - lifetime
    if depth < 0:
        self.invalid()
    self.out += chr(ord("a") + depth) if depth < 26 else f"_{depth}"


def _invalid(self: rust_v0.Printer) -> None:
    """rust_demangler's `Printer.invalid` without the print() of its partial output to stdout."""
    raise rust_v0.UnableTov0Demangle("Error")


rust_v0.Printer.print_lifetime_from_index = _print_lifetime_from_index
rust_v0.Printer.invalid = _invalid


def demangle(symbol: str, language: str = "") -> str:
    """The readable name, or the symbol as it came when it is not mangled or cannot be read."""
    if not symbol or len(symbol) > _MAX_NAME:
        return symbol
    if symbol.startswith("_R") or language == "rust" or _RUST_LEGACY.match(symbol):
        try:
            return _RUST_UNNAMED.sub(r"{\1#\2}", _RUST_HASH.sub("", rust_demangler.demangle(symbol)))
        except Exception:  # noqa: S110 - not Rust after all: the C++ reading below is tried
            pass
    if symbol.startswith(("_Z", "__Z")):
        try:
            parsed = itanium_demangler.parse(symbol.removeprefix("_") if symbol.startswith("__Z") else symbol)
        except Exception:  # the demangler raises on names it does not know: keep the symbol
            return symbol
        if parsed is not None:
            return str(parsed)
    return symbol


_PARAMETERS = re.compile(r"\((?:[^()]|\([^()]*\))*\)(?:\s*const)?(?:\s*&{1,2})?$")


def function_name(demangled: str) -> str:
    """The function without its parameter list (`billing::Invoice::total(unsigned long)` is
    `billing::Invoice::total`): grouping must not split on an overload's signature being printed or not."""
    return _PARAMETERS.sub("", demangled).strip() or demangled
