"""TLS certificate compression (RFC 8879): the CompressedCertificate message and the
algorithms tlskit can run (zlib from the standard library; brotli when the `brotli`
package happens to be installed).

Decompression is bounded by the length the peer announced, which is itself bounded by
the handshake message limit, so a small message cannot expand into a large one.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

from ..errors import BadCertificate
from . import extensions as ext
from .messages import CompressedCertificate

ZLIB, BROTLI, ZSTD = 1, 2, 3
NAMES = {ZLIB: "zlib", BROTLI: "brotli", ZSTD: "zstd"}


def _zlib_decompress(data: bytes, size: int) -> bytes:
    d = zlib.decompressobj()
    out = d.decompress(data, size)
    if d.unconsumed_tail or not d.eof or d.unused_data:
        raise BadCertificate("zlib certificate does not decompress to the announced length")
    return out


def _available() -> dict[int, tuple[Callable[[bytes], bytes], Callable[[bytes, int], bytes]]]:
    algorithms: dict[int, tuple[Callable[[bytes], bytes], Callable[[bytes, int], bytes]]] = {
        ZLIB: (lambda b: zlib.compress(b, 9), _zlib_decompress)}
    try:
        import brotli  # type: ignore[import-not-found]
    except ImportError:
        return algorithms

    def brotli_decompress(data: bytes, size: int) -> bytes:
        out = brotli.Decompressor().process(data)  # output checked against `size` below
        return bytes(out[:size + 1])

    algorithms[BROTLI] = (lambda b: bytes(brotli.compress(b)), brotli_decompress)
    return algorithms


ALGORITHMS = _available()


def algorithm_code(name: str) -> int:
    for code, known in NAMES.items():
        if known == name:
            if code not in ALGORITHMS:
                raise ValueError(f"certificate compression {name!r} is not available here")
            return code
    raise ValueError(f"unknown certificate compression algorithm {name!r}")


def encode_extension(codes: list[int]) -> bytes:
    return ext.encode_u16_list(codes, prefix=1)


def decode_extension(body: bytes) -> list[int]:
    return ext.decode_u16_list8(body, "compress_certificate")


def compress(algorithm: int, certificate_body: bytes) -> CompressedCertificate:
    compressor, _ = ALGORITHMS[algorithm]
    return CompressedCertificate(algorithm, len(certificate_body), compressor(certificate_body))


def decompress(msg: CompressedCertificate, limit: int) -> bytes:
    """The Certificate message body; bad_certificate unless it decompresses to exactly the
    announced length (RFC 8879 4)."""
    if msg.algorithm not in ALGORITHMS:
        raise BadCertificate(f"certificate compressed with unsupported algorithm {msg.algorithm}")
    if not 0 < msg.uncompressed_length <= limit:
        raise BadCertificate(f"compressed certificate announces {msg.uncompressed_length} "
                             f"bytes (limit {limit})")
    _, decompressor = ALGORITHMS[msg.algorithm]
    try:
        body = decompressor(msg.compressed, msg.uncompressed_length)
    except BadCertificate:
        raise
    except Exception as exc:  # each library has its own error type
        raise BadCertificate(f"certificate does not decompress: {exc}") from exc
    if len(body) != msg.uncompressed_length:
        raise BadCertificate("certificate does not decompress to the announced length")
    return body
