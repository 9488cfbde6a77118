"""Which frames of a stack say *where* a bug is, and how each one is named for grouping.

A frame contributes its module (or the file's name) and its function, never a line number: a deploy that
shifts code must not split issues. Only in-app frames contribute when the event has any: framework and
runtime frames around the app's code change with versions and routes, not with the bug. The SDK's `in_app`
flag wins; when the SDK sent none, the path and module decide (site-packages, node_modules, the JDK, GOROOT
and the Go module cache, /usr/lib are vendor code).

Function and class names are normalized per platform, because compilers number what the developer never
named: Java lambdas (`lambda$main$0`), generated classes (`$$Lambda$12/0x...`, CGLIB, `$Proxy12`,
`GeneratedMethodAccessor7`), Go closures (`func1`), .NET lambdas and async state machines, Ruby blocks.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass

from errata.models.event import Frame
from errata.symbolication.demangle import function_name

_VENDOR_PATH = re.compile(
    r"(?:^|/)(?:site-packages|dist-packages|node_modules|vendor/bundle|\.bundle|gems)/"
    r"|^/usr/(?:local/)?lib/"
    r"|^/usr/(?:local/)?(?:go|lib/go[^/]*)/src/"  # GOROOT
    r"|^(?:node:)?internal/|^node:"  # Node core
    r"|(?:^|/)lib/python\d(?:\.\d+)?/(?!site-packages)"  # the Python standard library
    r"|^<frozen |^<string>$",
)
# Native code that is not the app's (grouping config errata:2026-12-03 on): Rust's standard library and
# crates, C/C++ system headers, libc's sources, and a frame with no source path at all.
_NATIVE_VENDOR_PATH = re.compile(
    r"^/rustc/[0-9a-f]{7,40}/|(?:^|/)\.cargo/registry/|^/usr/(?:local/)?include/|^/usr/src/|(?:^|/)glibc-[^/]+/"
)
_VENDOR_MODULE = re.compile(
    r"^(?:java|javax|jdk|sun|com\.sun|kotlin|kotlinx|scala|groovy|org\.springframework|org\.apache|"
    r"org\.hibernate|org\.eclipse\.jetty|io\.netty|reactor|io\.micronaut|System|Microsoft)\."
    r"|^(?:runtime|reflect|net/http|syscall|testing|sync|internal/[^.]*)(?:\.|$)"  # Go standard library
)

# (pattern, replacement): applied to function and class names, in this order.
_NAME_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"lambda\$([\w$]*?)\$\d+"), r"lambda$\1$"),  # Java lambda bodies
    (re.compile(r"\$\$Lambda(?:\$\d+)?(?:/0x[0-9a-fA-F]+|/\d+|\.0x[0-9a-fA-F]+)?"), "$$Lambda"),
    (re.compile(r"\$\$(EnhancerBy\w*?|FastClassBy\w*?|SpringCGLIB)\$\$[0-9a-fA-F]+"), r"$$\1$$"),
    (re.compile(r"\$Proxy\d+"), "$Proxy"),
    (re.compile(r"(Generated(?:Serialization)?(?:Method|Constructor)Accessor)\d+"), r"\1"),
    (re.compile(r"\$\d+(?=$|[.$])"), "$"),  # anonymous classes Outer$1
    (re.compile(r"\.(?:func|gowrap|deferwrap)\d+(?:\.\d+)*"), ".func"),  # Go closures main.main.func1.2
    (re.compile(r"^func\d+(?:\.\d+)*$"), "func"),
    (re.compile(r"\[[^\]]*\.\.\.\]|\[[\w.*/, ]+\]"), "[...]"),  # Go generic instantiations
    (re.compile(r"<(\w+)>[bm]__[\w]+"), r"<\1>b"),  # .NET lambdas <Main>b__0_0, Mono's <Main>m__0
    (re.compile(r"<(\w+)>d__\d+(?:\.MoveNext)?"), r"\1"),  # .NET async state machines
    (re.compile(r"^(?:block|rescue|ensure)(?: \(\d+ levels\))? in "), ""),  # Ruby blocks
    (re.compile(r"_\d{3,}(?:_\d+)*$"), ""),  # Ruby/ERB compiled template suffixes
    (re.compile(r"0x[0-9a-fA-F]+"), "0x"),
)
_JS_ANONYMOUS = {"", "<anonymous>", "Object.<anonymous>", "anonymous", "?"}
_JS_PLATFORMS = {"javascript", "node", "typescript"}
_JS_ALIAS = re.compile(r" \[as [^\]]*\]$")  # V8's `Layer.handle [as handle_request]`
_DOTNET_PLATFORMS = {"csharp", "dotnet", "fsharp", "vb"}
NATIVE_PLATFORMS = frozenset({"native", "c", "cpp", "rust", "swift", "objc", "cocoa"})


@dataclass(frozen=True)
class FrameKey:
    module: str
    function: str

    def component(self) -> str:
        return f"frame:{self.module}:{self.function}"


MAX_NAME = 256  # names longer than this are cut first: the rules below must not meet megabyte names


def normalize_name(name: str) -> str:
    name = name[:MAX_NAME]
    for pattern, replacement in _NAME_RULES:
        name = pattern.sub(replacement, name)
    return name


def is_vendor_frame(frame: Frame) -> bool:
    path = (frame.abs_path or frame.filename or "").replace("\\", "/")
    if not path and not frame.module:
        return True  # native and built-in code (V8's `Array.map`, `Promise.all`)
    if path and (_VENDOR_PATH.search(path) or _GO_MODULE_CACHE.search(path)):
        return True
    module = frame.module or ""
    return bool(module and _VENDOR_MODULE.search(module)) or is_generated(frame)


# $GOMODCACHE/<host>/<path>@<version>/...: a dependency, whatever the SDK says (see is_in_app).
_GO_MODULE_CACHE = re.compile(r"/pkg/mod/[^/]+\.[^/]+/.*\.go$")
_GENERATED = re.compile(
    r"\$\$(?:Lambda|EnhancerBy|FastClassBy|SpringCGLIB)|(?:^|\.)\$Proxy\d*(?:$|\.)"
    r"|GeneratedMethodAccessor|GeneratedConstructorAccessor|^jdk\.proxy\d"
)


def is_generated(frame: Frame) -> bool:
    """Code a compiler or framework generated at run time (lambda forms, proxies, reflection accessors):
    no one wrote it, its names change between runs, and the SDK's in-app flag often claims it by package."""
    return bool(frame.module and _GENERATED.search(frame.module))


def is_in_app(frame: Frame) -> bool:
    """The SDK's flag when it sent one, else the path and module rules. One exception: Go's module cache.
    sentry-go marks every frame outside GOROOT in-app unless its package path says `vendor` (stacktrace.go,
    isInAppFrame), so its flag says nothing about a dependency under `/pkg/mod/`."""
    if _GO_MODULE_CACHE.search(frame.abs_path or frame.filename or ""):
        return False
    if frame.in_app is not None:
        return frame.in_app
    return not is_vendor_frame(frame)


def _file_stem(path: str) -> str:
    name = posixpath.basename(path.replace("\\", "/").split("?", 1)[0].split("#", 1)[0]).lower()
    stem = name.rsplit(".", 1)[0] if "." in name else name
    if stem in {"__init__", "index", "mod"}:
        parent = posixpath.basename(posixpath.dirname(path.replace("\\", "/"))).lower()
        return parent or stem
    return stem


_DOTNET_STATE_MACHINE = re.compile(r"[+.]<(\w+)>(?:c__async|d__)\d+\.MoveNext$")
_DOTNET_CLOSURE = re.compile(r"\+<>c(?:__DisplayClass[\d_]+)?(?=\.)")


def _dotnet_symbol(module: str, function: str) -> tuple[str, str]:
    """`App+<RunAsync>d__5.MoveNext` and Mono's `App+<RunAsync>c__async1.MoveNext` are `App.RunAsync`, as
    the runtime prints them; nested types print with `.`."""
    symbol = _DOTNET_CLOSURE.sub("", _DOTNET_STATE_MACHINE.sub(r".\1", f"{module}.{function}")).replace("+", ".")
    module, _, function = symbol.rpartition(".")
    return module, function


def frame_key(frame: Frame, platform: str | None) -> FrameKey:
    """The module-or-file and function a frame contributes.

    Python and JavaScript contribute the module's last segment or the file's stem (`app.billing` and
    `/srv/app/billing.py` are both `billing`): a traceback logged as text names files, an SDK names modules,
    and both must find the same issue. Java, Go and .NET contribute the full module (class or package).
    """
    function = frame.function or ""
    if platform in _DOTNET_PLATFORMS and frame.module:
        module, function = _dotnet_symbol(frame.module, function)
        return FrameKey(module=normalize_name(module), function=normalize_name(function) or "?")
    if platform in _JS_PLATFORMS or platform == "python" or not frame.module:
        if platform == "python" and frame.module and frame.module != "__main__":
            module = frame.module.rsplit(".", 1)[-1].lower()
        else:
            module = _file_stem(frame.abs_path or frame.filename or frame.module or "")
    else:
        module = normalize_name(frame.module)
    if platform in _JS_PLATFORMS and frame.context_line and (frame.data or {}).get("symbolicated"):
        # A minifier's restructuring (terser turns a class into an object literal) changes the names the
        # map's scopes give back; the original line of code does not change between builds of one source.
        return FrameKey(module=module, function="line:" + " ".join(frame.context_line.split())[:160])
    if platform in _JS_PLATFORMS:
        function = _JS_ALIAS.sub("", function.removeprefix("async ").removeprefix("new "))
        # V8 names a method by its receiver's type at run time (`Route.createLabel` when a router calls it as
        # a method, `createLabel` when it does not): the method's own name is what the code says.
        if "." in function and not function.endswith(".<anonymous>"):
            function = function.rsplit(".", 1)[1] or function
        if function in _JS_ANONYMOUS:
            function = "<anonymous>"
    return FrameKey(module=module, function=normalize_name(function) or "?")


def native_frame_key(frame: Frame) -> FrameKey:
    """A native frame: its function without the parameter list once it has a name (from the debug file or
    the SDK), else its image and the address relative to where the image was loaded, which ASLR does not
    change (errata.symbolication.native). Never the absolute address: each run of a process would be an
    issue of its own."""
    data = frame.data or {}
    if frame.function:
        return FrameKey(module="", function=normalize_name(function_name(frame.function)) or "?")
    image = str(data.get("image") or posixpath.basename((frame.package or "").replace("\\", "/")) or "?").lower()
    address = data.get("relative_addr")
    return FrameKey(module=normalize_name(image), function=f"+{address}" if isinstance(address, str) else "?")


def collapse_recursion(keys: Sequence[FrameKey], max_cycle: int = 3) -> list[FrameKey]:
    """Direct recursion (f f f) and short cycles (f g f g) contribute once, whatever the depth."""
    result: list[FrameKey] = []
    for key in keys:
        result.append(key)
        for size in range(1, max_cycle + 1):
            if len(result) >= 2 * size and result[-size:] == result[-2 * size : -size]:
                del result[-size:]
                break
    return result


# How many frames, from the crash site outwards, identify a stack. The outer end of a stack is where the
# request or job entered the app: it differs with the wrapper that caught a cause (a cause's traceback
# starts where it was caught), the executor that ran the job, the runtime's frame limit (V8 keeps 10).
MAX_GROUPING_FRAMES = 2
# Keys are made for the newest frames only: a RecursionError carries ~1000 frames, and any recursion with a
# period of up to 3 collapses within this many.
_KEY_WINDOW = 64


_HANDLER_WINDOW = 32
_GO_CLOSURE = re.compile(r"^(?P<parent>.+?)(?:\.func\d+|\.\d+)$")  # F.func1, F.func1.2


def drop_go_panic_handlers(frames: Sequence[Frame]) -> list[Frame]:
    """A Go stack captured in a deferred `recover()` shows the handler on top of the frames that panicked
    (sentry-go drops the runtime's `gopanic` frame that separates them). A closure `F.funcN` running above
    other functions' frames while `F` is still below is such a deferred handler: it and everything newer
    go, so a recovered panic groups like the same panic printed by the runtime."""
    names = [
        f"{frame.module}.{frame.function}"[:MAX_NAME] if frame.module else (frame.function or "")[:MAX_NAME]
        for frame in frames
    ]
    # Handlers sit on top of the stack: only the newest frames are looked at (bounded work on deep stacks).
    # The lowest handler wins (a framework's deferred recover calls the app's hook: both go). A callback
    # closure (`sort.Slice(xs, func...)`) also runs above its parent, but only library code lies between.
    cut = len(frames)
    for index in range(len(frames) - 1, max(0, len(frames) - _HANDLER_WINDOW), -1):
        closure = _GO_CLOSURE.match(names[index])
        if closure is None:
            continue
        parent = closure["parent"]
        below = names[:index]
        if parent in below:
            start = below.index(parent) + 1
            if any(
                name != parent and not name.startswith(parent + ".func") and is_in_app(frames[start + offset])
                for offset, name in enumerate(below[start:])
            ):
                cut = index
    return list(frames[:cut])


def _text_trace_in_app(frames: list[Frame]) -> list[Frame]:
    """A JVM or .NET trace read from text has no in-app flags, and frameworks live in packages no list
    knows. The app is taken to be the top-level package (`com.acme`) of the innermost frame that is not
    known vendor code."""
    anchor = next((f.module for f in reversed(frames) if f.module and not is_vendor_frame(f)), None)
    if anchor is None:
        return [f for f in frames if is_in_app(f)]
    prefix = ".".join(anchor.split(".")[:2]) + "."
    return [f for f in frames if f.module and f.module.startswith(prefix)]


def is_native_stack(frames: Sequence[Frame], platform: str | None) -> bool:
    return platform in NATIVE_PLATFORMS or any("relative_addr" in (frame.data or {}) for frame in frames)


def _native_in_app(frame: Frame) -> bool:
    if frame.in_app is not None:
        return frame.in_app
    path = (frame.abs_path or frame.filename or "").replace("\\", "/")
    return bool(path) and not _NATIVE_VENDOR_PATH.search(path) and not _VENDOR_PATH.search(path)


def grouping_frames(frames: Sequence[Frame], platform: str | None, native_keys: bool = True) -> list[FrameKey]:
    """The frame keys that identify a stack: the innermost in-app frames when there are any, else the
    innermost frames; generated code never; recursion once. Native stacks (with `native_keys`, from
    errata:2026-12-03): see native_frame_key."""
    if native_keys and is_native_stack(frames, platform):
        chosen = ([frame for frame in frames if _native_in_app(frame)] or list(frames))[-_KEY_WINDOW:]
        return collapse_recursion([native_frame_key(frame) for frame in chosen])[-MAX_GROUPING_FRAMES:]
    written = [frame for frame in frames if not is_generated(frame)]
    if platform == "go":
        written = drop_go_panic_handlers(written)
    unflagged = all(frame.in_app is None for frame in written)
    if unflagged and platform in ("java", "csharp") and any(f.module and "." in f.module for f in written):
        in_app = _text_trace_in_app(written)
    else:
        in_app = [frame for frame in written if is_in_app(frame)]
    chosen = (in_app or written)[-_KEY_WINDOW:]
    keys = collapse_recursion([frame_key(frame, platform) for frame in chosen])
    return keys[-MAX_GROUPING_FRAMES:]
