"""Turning what a build produced back into what a developer wrote, *before* fingerprinting: minified
JavaScript through source maps, obfuscated JVM frames through ProGuard/R8 mappings, Go build paths made
relative. A frame that cannot be resolved stays as it came, with the reason recorded; it never fails the
event."""
