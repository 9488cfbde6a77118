"""Request bodies decoded by `Content-Encoding`, with the decoded size bounded while it streams: a small
zip bomb fails after `limit` bytes of output, not after it has filled memory."""

from __future__ import annotations

import zlib

import brotli

from errata.errors import InvalidCompression, PayloadTooLarge, UnsupportedEncoding

_CHUNK = 256 * 1024


def decode_body(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        if len(body) > limit:
            raise PayloadTooLarge(f"request body is larger than {limit} bytes")
        return body
    if encoding in ("gzip", "x-gzip"):
        return _inflate(body, zlib.MAX_WBITS | 16, limit, "gzip")
    if encoding == "deflate":
        # HTTP's "deflate" is zlib-wrapped, but some clients send raw deflate: accept both.
        try:
            return _inflate(body, zlib.MAX_WBITS, limit, "deflate")
        except InvalidCompression:
            return _inflate(body, -zlib.MAX_WBITS, limit, "deflate")
    if encoding == "br":
        return _unbrotli(body, limit)
    raise UnsupportedEncoding(f"unsupported Content-Encoding {encoding!r}: use gzip, deflate, br or none")


def _inflate(body: bytes, wbits: int, limit: int, name: str) -> bytes:
    inflater = zlib.decompressobj(wbits)
    out = bytearray()
    pending = body
    try:
        while True:
            out += inflater.decompress(pending, _CHUNK)
            if len(out) > limit:
                raise PayloadTooLarge(f"decompressed body is larger than {limit} bytes")
            pending = inflater.unconsumed_tail
            if not pending:
                break
        out += inflater.flush()
    except zlib.error as exc:
        raise InvalidCompression(f"body is not valid {name}: {exc}") from None
    if len(out) > limit:
        raise PayloadTooLarge(f"decompressed body is larger than {limit} bytes")
    if not inflater.eof:
        raise InvalidCompression(f"body is not valid {name}: truncated stream")
    return bytes(out)


def _unbrotli(body: bytes, limit: int) -> bytes:
    decompressor = brotli.Decompressor()
    out = bytearray()
    try:
        out += decompressor.process(body, output_buffer_limit=_CHUNK)
        while not decompressor.can_accept_more_data():
            if len(out) > limit:
                raise PayloadTooLarge(f"decompressed body is larger than {limit} bytes")
            out += decompressor.process(b"", output_buffer_limit=_CHUNK)
    except brotli.error as exc:
        raise InvalidCompression(f"body is not valid br: {exc}") from None
    if len(out) > limit:
        raise PayloadTooLarge(f"decompressed body is larger than {limit} bytes")
    if not decompressor.is_finished():
        raise InvalidCompression("body is not valid br: truncated stream")
    return bytes(out)
