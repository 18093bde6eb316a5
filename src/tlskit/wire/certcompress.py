"""TLS certificate compression (RFC 8879): the CompressedCertificate message and the
algorithms tlskit can run: zlib from the standard library, brotli with the `brotli`
package (>= 1.2, extra ``tlskit[brotli]``), zstd with the `zstandard` package (extra
``tlskit[zstd]``).

Every decompressor is bounded: it never produces much more than the length the peer
announced (itself bounded by the handshake message limit), whatever the input, so a
64 KiB message that would inflate to gigabytes costs a few kilobytes and ends in
bad_certificate (RFC 8879 4).
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import BadCertificate
from . import extensions as ext
from .messages import CompressedCertificate

ZLIB, BROTLI, ZSTD = 1, 2, 3  # RFC 8879 7.3
NAMES = {ZLIB: "zlib", BROTLI: "brotli", ZSTD: "zstd"}
# What to install for each algorithm beyond zlib: the pip extra, and what it brings.
EXTRAS = {BROTLI: ("brotli", "the brotli package, 1.2 or newer"),
          ZSTD: ("zstd", "the zstandard package")}

Compressor = Callable[[bytes], bytes]
Decompressor = Callable[[bytes, int], bytes]

# brotli's output buffer grows in blocks of about 32 KiB whatever limit is asked, so it
# is drained one block at a time: at most one block beyond the announced length.
_BROTLI_STEP = 1 << 15
# zstd: a frame names its window size and the decoder allocates it before producing
# anything; larger windows than this (or than the message limit) are refused. One-shot
# compressors size the window to the input, so real certificates need far less.
_ZSTD_MIN_WINDOW = 1 << 20


@dataclass(frozen=True)
class Algorithm:
    compress: Compressor
    decompress: Decompressor


def _zlib_decompress(data: bytes, size: int) -> bytes:
    d = zlib.decompressobj()
    out = d.decompress(data, size)  # at most `size` bytes: the rest stays unconsumed
    if d.unconsumed_tail or not d.eof or d.unused_data:
        raise BadCertificate("zlib certificate does not decompress to the announced length")
    return out


def _brotli(brotli: Any) -> Algorithm | None:
    """None for a brotli without `output_buffer_limit` (before 1.2): unbounded, unsafe."""
    try:
        brotli.Decompressor().process(b"", output_buffer_limit=1)
    except TypeError:
        return None

    def decompress(data: bytes, size: int) -> bytes:
        d = brotli.Decompressor()
        out = bytearray(d.process(data, output_buffer_limit=_BROTLI_STEP))
        # All input went in with the first call; what is left to produce comes out with
        # empty input, one block per call, until the stream ends or passes `size`.
        while len(out) <= size and not d.is_finished() and not d.can_accept_more_data():
            more = d.process(b"", output_buffer_limit=_BROTLI_STEP)
            if not more:
                break
            out += more
        if len(out) != size or not d.is_finished():
            raise BadCertificate("brotli certificate does not decompress to the announced "
                                 "length")
        return bytes(out)

    return Algorithm(lambda b: bytes(brotli.compress(b)), decompress)


def _zstd(zstandard: Any) -> Algorithm:
    def decompress(data: bytes, size: int) -> bytes:
        window = max(_ZSTD_MIN_WINDOW, size)
        _check_zstd_header(zstandard.get_frame_parameters(data), window)
        # A bounded read first: at most size + 1 bytes, whatever the frame holds...
        dctx = zstandard.ZstdDecompressor(max_window_size=window)
        with dctx.stream_reader(data, read_across_frames=False) as reader:
            if len(reader.read(size + 1)) != size:
                raise BadCertificate("zstd certificate does not decompress to the "
                                     "announced length")
        # ...then, now known to yield at most `size`, once more to see where the frame
        # ends: exactly one complete frame, nothing after it.
        obj = zstandard.ZstdDecompressor(max_window_size=window).decompressobj()
        out = obj.decompress(data)
        if len(out) != size or not obj.eof or obj.unused_data:
            raise BadCertificate("zstd certificate is not exactly one complete frame")
        return bytes(out)

    return Algorithm(lambda b: bytes(zstandard.ZstdCompressor(level=19).compress(b)),
                     decompress)


def _check_zstd_header(params: Any, window: int) -> None:
    """What the frame header asks for, refused in one clear line before decoding: a
    dictionary (RFC 8879 7.3 names plain zstd: none is shared) or a window over `window`."""
    if params.dict_id:
        raise BadCertificate(f"zstd certificate frame needs dictionary {params.dict_id}; "
                             "RFC 8879 certificates are compressed without one")
    if params.window_size > window:
        raise BadCertificate(f"zstd certificate frame asks for a {params.window_size}-byte "
                             f"window, over the {window}-byte limit for its length")


@functools.cache
def algorithms() -> dict[int, Algorithm]:
    """The algorithms this process can run, found on first use: importing brotli and
    zstandard costs ~2.5 ms, which a process that never compresses should not pay."""
    algorithms = {ZLIB: _ZLIB}
    try:
        import brotli  # type: ignore[import-not-found,import-untyped]
    except ImportError:
        pass
    else:
        found = _brotli(brotli)
        if found is not None:
            algorithms[BROTLI] = found
    try:
        import zstandard  # type: ignore[import-not-found,import-untyped]
    except ImportError:
        pass
    else:
        algorithms[ZSTD] = _zstd(zstandard)
    return algorithms


_ZLIB = Algorithm(lambda b: zlib.compress(b, 9), _zlib_decompress)


def __getattr__(name: str) -> Any:
    if name == "ALGORITHMS":  # the table, for tests and fuzzers: `algorithms()`
        return algorithms()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def algorithm_code(name: str) -> int:
    """The RFC 8879 code for `name`; ValueError naming what to install when it is known
    but its package is missing."""
    for code, known in NAMES.items():
        if known == name:
            if code != ZLIB and code not in algorithms():
                extra, what = EXTRAS[code]
                raise ValueError(f"certificate compression {name!r} needs {what}: "
                                 f"pip install 'tlskit[{extra}]'")
            return code
    raise ValueError(f"unknown certificate compression algorithm {name!r} "
                     f"(known: {', '.join(NAMES.values())})")


def encode_extension(codes: list[int]) -> bytes:
    return ext.encode_u16_list(codes, prefix=1)


def decode_extension(body: bytes) -> list[int]:
    return ext.decode_u16_list8(body, "compress_certificate")


def compress(algorithm: int, certificate_body: bytes) -> CompressedCertificate:
    return CompressedCertificate(algorithm, len(certificate_body),
                                 algorithms()[algorithm].compress(certificate_body))


def decompress(msg: CompressedCertificate, limit: int) -> bytes:
    """The Certificate message body; bad_certificate unless it decompresses to exactly the
    announced length (RFC 8879 4)."""
    algorithm = algorithms().get(msg.algorithm)
    if algorithm is None:
        raise BadCertificate(f"certificate compressed with unsupported algorithm {msg.algorithm}")
    if not 0 < msg.uncompressed_length <= limit:
        raise BadCertificate(f"compressed certificate announces {msg.uncompressed_length} "
                             f"bytes (limit {limit})")
    try:
        body = algorithm.decompress(msg.compressed, msg.uncompressed_length)
    except BadCertificate:
        raise
    except Exception as exc:  # each library has its own error type
        raise BadCertificate(f"certificate does not decompress: {exc}") from exc
    if len(body) != msg.uncompressed_length:
        raise BadCertificate("certificate does not decompress to the announced length")
    return body
