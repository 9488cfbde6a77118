import gzip
import zlib

import brotli
import pytest

from errata.errors import InvalidCompression, PayloadTooLarge, UnsupportedEncoding
from errata.protocol.decompress import decode_body

BODY = b'{"message": "hello"}\n' * 100


@pytest.mark.parametrize(
    ("encoding", "encoded"),
    [
        (None, BODY),
        ("identity", BODY),
        ("gzip", gzip.compress(BODY, mtime=0)),
        ("GZIP", gzip.compress(BODY, mtime=0)),
        ("deflate", zlib.compress(BODY)),
        ("br", brotli.compress(BODY)),
    ],
)
def test_each_content_encoding_decodes_to_the_body(encoding: str | None, encoded: bytes) -> None:
    assert decode_body(encoded, encoding, limit=1 << 20) == BODY


def test_raw_deflate_without_the_zlib_wrapper_is_accepted_too() -> None:
    compressor = zlib.compressobj(wbits=-15)
    assert decode_body(compressor.compress(BODY) + compressor.flush(), "deflate", limit=1 << 20) == BODY


@pytest.mark.parametrize(
    ("encoding", "bomb"),
    [
        ("gzip", gzip.compress(b"\0" * (64 << 20), mtime=0)),
        ("deflate", zlib.compress(b"\0" * (64 << 20))),
        ("br", brotli.compress(b"\0" * (64 << 20))),
    ],
)
def test_a_zip_bomb_stops_at_the_limit(encoding: str, bomb: bytes) -> None:
    assert len(bomb) < 300_000  # 64 MiB of zeros squeezed small: the point of a bomb
    with pytest.raises(PayloadTooLarge):
        decode_body(bomb, encoding, limit=1 << 20)


def test_an_uncompressed_body_past_the_limit_is_too_large() -> None:
    with pytest.raises(PayloadTooLarge):
        decode_body(b"x" * 101, None, limit=100)


@pytest.mark.parametrize(
    ("encoding", "garbage"),
    [
        ("gzip", b"definitely not gzip"),
        ("gzip", gzip.compress(BODY, mtime=0)[:-12]),  # truncated
        ("deflate", b"\x00\x01garbage"),
        ("br", b"\xff\xff\xff not brotli"),
    ],
)
def test_bad_compression_is_a_client_error(encoding: str, garbage: bytes) -> None:
    with pytest.raises(InvalidCompression) as raised:
        decode_body(garbage, encoding, limit=1 << 20)
    assert raised.value.status_code == 400
    assert encoding in raised.value.detail


def test_unknown_encodings_are_refused() -> None:
    with pytest.raises(UnsupportedEncoding) as raised:
        decode_body(b"x", "zstd", limit=100)
    assert raised.value.status_code == 415
