"""Turning what a build produced back into what a developer wrote, *before* fingerprinting: minified
JavaScript through source maps, obfuscated JVM frames through ProGuard/R8 mappings, Go build paths made
relative. A frame that cannot be resolved stays as it came, with the reason recorded; it never fails the
event."""

from __future__ import annotations

from typing import Any


def frame_data(frame: dict[str, Any]) -> dict[str, Any]:
    """The frame's `data` object, made one if the SDK sent none or something else."""
    data = frame.get("data")
    if not isinstance(data, dict):
        data = {}
        frame["data"] = data
    return data
