"""Turning what a build produced back into what a developer wrote, *before* fingerprinting: minified
JavaScript through source maps, obfuscated JVM frames through ProGuard/R8 mappings, Go build paths made
relative. A frame that cannot be resolved stays as it came, with the reason recorded; it never fails the
event."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def debug_images(payload: dict[str, Any], image_type: str) -> Iterator[dict[str, Any]]:
    """The event's `debug_meta.images` of one type (`sourcemap`, `proguard`), whatever shape the rest has."""
    meta = payload.get("debug_meta")
    images = meta.get("images") if isinstance(meta, dict) else None
    for image in images if isinstance(images, list) else []:
        if isinstance(image, dict) and image.get("type") == image_type:
            yield image


def frame_data(frame: dict[str, Any]) -> dict[str, Any]:
    """The frame's `data` object, made one if the SDK sent none or something else."""
    data = frame.get("data")
    if not isinstance(data, dict):
        data = {}
        frame["data"] = data
    return data
