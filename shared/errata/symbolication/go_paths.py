"""Go frames carry the absolute path of the machine that built the binary (`/home/runner/work/shop/shop/
internal/api/api.go`, `/root/go/pkg/mod/github.com/x/y@v1.2.3/z.go`). The part before the import path says
nothing and differs per build machine: it is stripped, as `go build -trimpath` would have done."""

from __future__ import annotations

import posixpath
from typing import Any

from errata.symbolication import frame_data

_MARKERS = ("/pkg/mod/", "/go/src/", "/libexec/src/", "/goroot/src/")


def strip_go_build_path(frame: dict[str, Any]) -> bool:
    """Rewrites `abs_path` to the import path + file name; the original goes to `data.orig_abs_path`.
    Returns whether the frame changed."""
    path = frame.get("abs_path")
    if not isinstance(path, str) or not path.startswith("/"):
        return False
    stripped = None
    for marker in _MARKERS:
        if marker in path:
            stripped = path.split(marker, 1)[1]
            break
    module = frame.get("module")
    if stripped is None and isinstance(module, str) and module and module != "main":
        # The import path's last directories, found in the build path: everything before them goes.
        directory, name = posixpath.split(path)
        segments = module.split("/")
        for size in range(len(segments), 0, -1):
            tail = "/".join(segments[-size:])
            if directory == tail or directory.endswith("/" + tail):
                stripped = f"{module}/{name}"
                break
    if stripped is None:
        # `main` and unknown layouts: the file within its directory.
        stripped = "/".join(path.split("/")[-2:])
    if stripped == path:
        return False
    frame_data(frame)["orig_abs_path"] = path
    frame["abs_path"] = stripped
    frame["filename"] = stripped
    return True
