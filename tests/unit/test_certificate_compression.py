"""RFC 8879 certificate compression: negotiated, transcript-correct, and strict about what
it decompresses."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import time
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from tlskit import ClientConfig, ClientConnection, HandshakeComplete, ServerConfig, ServerConnection
from tlskit.ca import LocalCA
from tlskit.enums import AlertDescription, HandshakeType
from tlskit.errors import TLSError
from tlskit.wire import certcompress
from tlskit.wire import messages as m

SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture(scope="module")
def ca() -> LocalCA:
    return LocalCA.create(directory=None)


def configs(ca: LocalCA, **server_kw: Any) -> tuple[ClientConfig, ServerConfig]:
    leaf = ca.issue_server(["localhost"], key_type="rsa2048")  # a big certificate
    return (ClientConfig(trust_anchors=[ca.root]),
            ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key,
                         **server_kw))


def run(client: ClientConnection, server: ServerConnection,
        tamper: Any = None) -> tuple[list[Any], list[bytes]]:
    """Pump a handshake, recording the server's handshake message types in order."""
    steps: list[Any] = []
    events: list[Any] = []
    while True:
        a = client.data_to_send()
        if a:
            server.receive_data(a)
        b = server.data_to_send()
        if b:
            events += client.receive_data(tamper(b) if tamper else b)
        if not a and not b:
            return events, steps


def test_server_compresses_when_both_agree(ca: LocalCA) -> None:
    steps: list[str] = []
    ccfg, scfg = configs(ca, certificate_compression=("zlib",),
                         tracer=lambda step, f: steps.append(step))
    trace: list[dict[str, Any]] = []
    ccfg = ccfg.replace(tracer=lambda step, f: trace.append({"step": step, **f}))
    client = ClientConnection(ccfg, "localhost")
    events, _ = run(client, ServerConnection(scfg))
    assert any(isinstance(e, HandshakeComplete) for e in events)
    [cc] = [t for t in trace if t["step"] == "compressed_certificate"]
    assert cc["algorithm"] == "zlib" and cc["compressed"] < cc["uncompressed"]


def test_no_compression_unless_the_server_is_configured(ca: LocalCA) -> None:
    trace: list[str] = []
    ccfg, scfg = configs(ca)
    ccfg = ccfg.replace(tracer=lambda step, f: trace.append(step))
    events, _ = run(ClientConnection(ccfg, "localhost"), ServerConnection(scfg))
    assert any(isinstance(e, HandshakeComplete) for e in events)
    assert "compressed_certificate" not in trace


def test_no_compression_when_the_client_does_not_offer_it(ca: LocalCA) -> None:
    trace: list[str] = []
    ccfg, scfg = configs(ca, certificate_compression=("zlib",))
    ccfg = ClientConfig(trust_anchors=[ca.root], certificate_compression=(),
                        tracer=lambda step, f: trace.append(step))
    events, _ = run(ClientConnection(ccfg, "localhost"), ServerConnection(scfg))
    assert any(isinstance(e, HandshakeComplete) for e in events)
    assert "compressed_certificate" not in trace


def test_malformed_offer_is_ignored_by_the_server(ca: LocalCA) -> None:
    """tlsfuzzer sends compress_certificate (27) as an "unassigned" extension, empty or with
    random bytes, and expects an ordinary handshake."""
    _, scfg = configs(ca, certificate_compression=("zlib",))
    client = ClientConnection(ClientConfig(trust_anchors=[ca.root], certificate_compression=()),
                              "localhost")
    hello = client.data_to_send()
    ch = m.ClientHello.decode(hello[9:])
    ch.extensions[27] = b""
    body = ch.encode()
    server = ServerConnection(scfg)
    server.receive_data(hello[:3] + len(body).to_bytes(2, "big") + body)
    assert server.data_to_send()  # a ServerHello and flight, no alert raised


def _swap_compressed(flight_tamper: Any, ca: LocalCA) -> TLSError:
    """Run a compressed handshake where the client sees a tampered CompressedCertificate."""
    ccfg, scfg = configs(ca, certificate_compression=("zlib",))
    client = ClientConnection(ccfg, "localhost")
    server = ServerConnection(scfg)
    server.receive_data(client.data_to_send())
    flight = server.data_to_send()
    from tlskit.handshake import client13
    original = client13.ClientHandshake13.on_compressed_certificate

    def tampered(self: Any, cc: m.CompressedCertificate, raw: bytes) -> None:
        original(self, flight_tamper(cc), raw)

    client13.ClientHandshake13.on_compressed_certificate = tampered  # type: ignore[method-assign]
    try:
        with pytest.raises(TLSError) as err:
            client.receive_data(flight)
    finally:
        client13.ClientHandshake13.on_compressed_certificate = original  # type: ignore[method-assign]
    return err.value


@pytest.mark.parametrize(("name", "tamper", "alert"), [
    ("unoffered algorithm", lambda cc: m.CompressedCertificate(2, cc.uncompressed_length,
                                                               cc.compressed),
     AlertDescription.illegal_parameter),
    ("garbage", lambda cc: m.CompressedCertificate(1, cc.uncompressed_length, b"not zlib"),
     AlertDescription.bad_certificate),
    ("length too short", lambda cc: m.CompressedCertificate(1, cc.uncompressed_length - 1,
                                                            cc.compressed),
     AlertDescription.bad_certificate),
    ("length too long", lambda cc: m.CompressedCertificate(1, cc.uncompressed_length + 1,
                                                           cc.compressed),
     AlertDescription.bad_certificate),
    ("bomb", lambda cc: m.CompressedCertificate(1, 1000, zlib.compress(bytes(1 << 20))),
     AlertDescription.bad_certificate),
    ("over the message limit", lambda cc: m.CompressedCertificate(1, 1 << 23, cc.compressed),
     AlertDescription.bad_certificate),
    ("zero announced", lambda cc: m.CompressedCertificate(1, 0, zlib.compress(b"")),
     AlertDescription.bad_certificate),
    ("zstd, not offered", lambda cc: m.CompressedCertificate(3, cc.uncompressed_length,
                                                             cc.compressed),
     AlertDescription.illegal_parameter),
])
def test_bad_compressed_certificate(ca: LocalCA, name: str, tamper: Any,
                                    alert: AlertDescription) -> None:
    err = _swap_compressed(tamper, ca)
    assert err.alert == alert, (name, err)
    if name == "unoffered algorithm":
        assert str(err).endswith("server compressed its certificate with brotli (2), which "
                                 "the ClientHello did not offer (offered: zlib; RFC 8879 4)")


def test_round_trip_helpers() -> None:
    body = bytes(range(256)) * 20
    cc = certcompress.compress(certcompress.ZLIB, body)
    again = m.CompressedCertificate.decode(cc.encode()[4:])
    assert certcompress.decompress(again, 1 << 17) == body
    assert cc.encode()[0] == HandshakeType.compressed_certificate


# --- brotli and zstd (the test extra installs both: these never skip) ----------------------

ALL = ("zlib", "brotli", "zstd")
# What each bomb would inflate to, in MiB: zlib cannot beat about 1:1000, so its bomb
# fits one record (16 KiB) with 12 MiB; the others reach 256 MiB in a few KiB.
BOMB_MIB = {"zlib": 12, "brotli": 256, "zstd": 256}


@functools.cache
def bomb(name: str) -> bytes:
    """At most 16 KiB that inflate to `BOMB_MIB` of zeros, made by streaming 1 MiB at a
    time (the zeros are never held here either). zstd's frame names a 512 KiB window and
    no content size: it gets past the window cap and reaches the bounded read."""
    chunk, n = bytes(1 << 20), BOMB_MIB[name]
    if name == "zlib":
        z = zlib.compressobj(9)
        return b"".join(z.compress(chunk) for _ in range(n)) + z.flush()
    if name == "brotli":
        import brotli
        b = brotli.Compressor(quality=5)
        return b"".join(b.process(chunk) for _ in range(n)) + b.finish()
    import zstandard
    zs = zstandard.ZstdCompressor(level=1).compressobj()
    return b"".join(zs.compress(chunk) for _ in range(n)) + zs.flush()


def test_all_three_algorithms_are_here() -> None:
    # The suite runs every algorithm: a test extra without brotli or zstandard fails here
    # rather than quietly testing zlib alone.
    assert sorted(certcompress.ALGORITHMS) == [certcompress.ZLIB, certcompress.BROTLI,
                                               certcompress.ZSTD]


@pytest.mark.parametrize("name", ALL)
def test_bomb_stays_bounded_and_is_bad_certificate(name: str) -> None:
    """RFC 8879 4 via the decoder itself: a message announcing 100,000 bytes (under the
    default limit) whose data would inflate to 12 or 256 MiB costs well under a mebibyte
    and a fraction of a second, and ends in bad_certificate."""
    data = bomb(name)
    assert len(data) < 16 << 10
    msg = m.CompressedCertificate(certcompress.algorithm_code(name), 100_000, data)
    tracemalloc.start()
    cpu = time.process_time()
    try:
        with pytest.raises(TLSError) as err:
            certcompress.decompress(msg, 1 << 17)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert err.value.alert == AlertDescription.bad_certificate
    assert peak < 1 << 20, peak
    assert time.process_time() - cpu < 0.5


@pytest.mark.parametrize("name", ALL)
def test_each_algorithm_end_to_end(ca: LocalCA, name: str) -> None:
    trace: list[dict[str, Any]] = []
    ccfg, scfg = configs(ca, certificate_compression=(name,))
    ccfg = ccfg.replace(certificate_compression=ALL,
                        tracer=lambda step, f: trace.append({"step": step, **f}))
    events, _ = run(ClientConnection(ccfg, "localhost"), ServerConnection(scfg))
    assert any(isinstance(e, HandshakeComplete) for e in events)
    [cc] = [t for t in trace if t["step"] == "compressed_certificate"]
    assert cc["algorithm"] == name and cc["compressed"] < cc["uncompressed"]


def test_the_server_order_wins(ca: LocalCA) -> None:
    trace: list[dict[str, Any]] = []
    ccfg, scfg = configs(ca, certificate_compression=("zstd", "brotli"))
    ccfg = ccfg.replace(certificate_compression=("brotli", "zlib", "zstd"),
                        tracer=lambda step, f: trace.append({"step": step, **f}))
    run(ClientConnection(ccfg, "localhost"), ServerConnection(scfg))
    assert [t["algorithm"] for t in trace if t["step"] == "compressed_certificate"] == ["zstd"]


def test_client_default_is_zlib_whatever_is_installed() -> None:
    """(A server compresses only when configured: ServerConfig's default is none.)"""
    # A ClientHello does not change with what happens to be installed (fingerprints,
    # the RFC 8448 vectors): brotli and zstd are opted into by name.
    assert ClientConfig().certificate_compression == ("zlib",)


def _zstd_frame(body: bytes, window_log: int | None = None) -> bytes:
    """One zstd frame; with `window_log`, streamed: no content size, that window named."""
    import zstandard
    if window_log is None:
        return bytes(zstandard.ZstdCompressor().compress(body))
    params = zstandard.ZstdCompressionParameters(window_log=window_log, compression_level=3)
    z = zstandard.ZstdCompressor(compression_params=params).compressobj()
    frame = z.compress(body) + z.flush()
    assert zstandard.get_frame_parameters(frame).window_size == 1 << window_log
    return frame


BODY = bytes(range(256)) * 16


@pytest.mark.parametrize(("name", "data", "length"), [
    ("brotli trailing bytes", lambda: certcompress.compress(2, BODY).compressed + b"\0", 4096),
    ("brotli truncated", lambda: certcompress.compress(2, BODY).compressed[:-3], 4096),
    ("brotli short by one", lambda: certcompress.compress(2, BODY).compressed, 4095),
    ("brotli long by one", lambda: certcompress.compress(2, BODY).compressed, 4097),
    ("zstd trailing bytes", lambda: _zstd_frame(BODY) + b"\0", 4096),
    ("zstd two frames", lambda: _zstd_frame(BODY[:2048]) + _zstd_frame(BODY[2048:]), 4096),
    ("zstd truncated", lambda: _zstd_frame(BODY)[:-3], 4096),
    ("zstd short by one", lambda: _zstd_frame(BODY), 4095),
    ("zstd long by one", lambda: _zstd_frame(BODY), 4097),
    ("zstd skippable frame", lambda: b"\x50\x2a\x4d\x18\x00\x00\x00\x00" + _zstd_frame(BODY),
     4096),
    # An 8 MiB window named before any output: the decoder would allocate it first.
    ("zstd window over the cap", lambda: _zstd_frame(BODY, window_log=23), 4096),
])
def test_malformed_stream_is_bad_certificate(name: str, data: Any, length: int) -> None:
    code = certcompress.BROTLI if name.startswith("brotli") else certcompress.ZSTD
    blob = data()
    with pytest.raises(TLSError) as err:
        certcompress.decompress(m.CompressedCertificate(code, length, blob), 1 << 17)
    assert err.value.alert == AlertDescription.bad_certificate, name


def test_unknown_name_is_one_clear_value_error() -> None:
    with pytest.raises(ValueError, match=r"unknown certificate compression algorithm "
                                         r"'lzma' \(known: zlib, brotli, zstd\)"):
        ServerConfig(certificate_compression=("lzma",))


def _fresh(code: str) -> subprocess.CompletedProcess[str]:
    """`code` in a fresh interpreter on this tree (and whatever else PYTHONPATH has)."""
    path = os.pathsep.join([SRC, *filter(None, [os.environ.get("PYTHONPATH")])])
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": path})


@pytest.mark.parametrize(("name", "module", "extra", "what"), [
    ("brotli", "brotli", "brotli", "brotli package, 1.2 or newer"),
    ("zstd", "zstandard", "zstd", "zstandard package")])
def test_missing_package_names_the_extra(name: str, module: str, extra: str,
                                         what: str) -> None:
    proc = _fresh(f"import sys; sys.modules[{module!r}] = None\n"
                  "from tlskit import ClientConfig\n"
                  "try:\n"
                  f"    ClientConfig(certificate_compression=({name!r},))\n"
                  "except ValueError as exc:\n"
                  "    print(exc)\n")
    assert proc.stdout.strip() == (f"certificate compression {name!r} needs the {what}: "
                                   f"pip install 'tlskit[{extra}]'"), proc.stderr


def test_brotli_without_an_output_limit_is_not_used() -> None:
    """brotli before 1.2 can only inflate everything at once: refused as unavailable
    rather than run unbounded (a module of that shape stands in for the old release)."""
    proc = _fresh("import sys, types\n"
                  "old = types.ModuleType('brotli')\n"
                  "class Decompressor:\n"
                  "    def process(self, data):\n"
                  "        return b''\n"
                  "old.Decompressor = Decompressor\n"
                  "sys.modules['brotli'] = old\n"
                  "from tlskit.wire import certcompress\n"
                  "print(sorted(certcompress.ALGORITHMS))\n")
    assert proc.stdout.strip() == "[1, 3]", proc.stderr


def test_the_extras_named_in_errors_exist_and_the_test_extra_has_them() -> None:
    import tomllib
    project = tomllib.loads((Path(SRC).parent / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert extras["brotli"] == ["brotli>=1.2"] and extras["zstd"] == ["zstandard>=0.23"]
    for code, (extra, _) in certcompress.EXTRAS.items():
        assert extra in extras, certcompress.NAMES[code]
        assert set(extras[extra]) <= set(extras["test"])


def test_compression_libraries_load_only_when_used() -> None:
    """A default client (zlib offered) and a handshake that compresses nothing never
    import brotli or zstandard (~2.5 ms); the first brotli config does."""
    proc = _fresh("import sys\n"
                  "from tlskit import ClientConfig, ClientConnection\n"
                  "ClientConnection(ClientConfig(), server_name='x').data_to_send()\n"
                  "print(sorted(m for m in ('brotli', 'zstandard') if m in sys.modules))\n"
                  "ClientConfig(certificate_compression=('brotli',))\n"
                  "print(sorted(m for m in ('brotli', 'zstandard') if m in sys.modules))\n")
    assert proc.stdout.split() == ["[]", "['brotli',", "'zstandard']"], proc.stderr


# --- the server's cache of compressed chains ------------------------------------------------


def _staple(ca: LocalCA, leaf: Any) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509 import ocsp
    request = ocsp.OCSPRequestBuilder().add_certificate(
        leaf.chain[0], ca.intermediate, hashes.SHA1()).build()
    return ca.ocsp_response(request.public_bytes(serialization.Encoding.DER))


@pytest.fixture
def compressions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Which algorithm each compression the process runs used (decompression untouched)."""
    made: list[int] = []
    table = certcompress.algorithms()
    for code, alg in list(table.items()):
        def counted(body: bytes, code: int = code, run: Any = alg.compress) -> bytes:
            made.append(code)
            return bytes(run(body))
        monkeypatch.setitem(table, code, certcompress.Algorithm(counted, alg.decompress))
    return made


def _flight(ccfg: ClientConfig, scfg: ServerConfig) -> bytes:
    client = ClientConnection(ccfg, "localhost")
    server = ServerConnection(scfg)
    server.receive_data(client.data_to_send())
    flight = server.data_to_send()
    assert flight
    return flight


def test_no_mix_of_client_offers_makes_the_server_compress_again(
        ca: LocalCA, compressions: list[int]) -> None:
    """Every way a client can shape the compressed message (3 algorithms x staple asked or
    not x SCTs asked or not: 12) is compressed once: a second round compresses nothing.
    (A bounded cache evicting on a 9th shape let clients cycling through 12 make each
    handshake pay a brotli compression, up to 100 ms for a big chain.)"""
    leaf = ca.issue_server(["localhost"], key_type="rsa2048")
    scfg = ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key,
                        certificate_compression=ALL, ocsp_response=_staple(ca, leaf),
                        scts=[bytes(41)])
    shapes = [ClientConfig(trust_anchors=[ca.root], certificate_compression=(name,),
                           ocsp_stapling=staple, request_scts=scts)
              for name in ALL for staple in (False, True) for scts in (False, True)]
    for ccfg in shapes:
        _flight(ccfg, scfg)
    assert len(compressions) == 12
    for ccfg in shapes:
        _flight(ccfg, scfg)
    assert len(compressions) == 12


def test_a_new_staple_is_compressed_and_served(ca: LocalCA, compressions: list[int]) -> None:
    """The staple callable's new response replaces the compressed message: the client
    receives the new one, never a stale compressed copy of the old."""
    leaf = ca.issue_server(["localhost"], key_type="rsa2048")
    staples = [_staple(ca, leaf), _staple(ca, leaf)]
    assert staples[0] != staples[1]
    current = [staples[0]]
    scfg = ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key,
                        certificate_compression=("zlib",), ocsp_response=lambda: current[0])
    ccfg = ClientConfig(trust_anchors=[ca.root], ocsp_stapling=True)
    received = []
    for staple in (staples[0], staples[0], staples[1], staples[1]):
        current[0] = staple
        events, _ = run(ClientConnection(ccfg, "localhost"), ServerConnection(scfg))
        [done] = [e for e in events if isinstance(e, HandshakeComplete)]
        received.append(done.ocsp_response)
    assert received == [staples[0], staples[0], staples[1], staples[1]]
    assert len(compressions) == 2


def test_a_bytearray_staple_is_compressed(ca: LocalCA) -> None:
    """A staple given as a bytearray (accepted uncompressed) is served compressed too; it
    once failed the handshake with internal_error (unhashable cache key)."""
    leaf = ca.issue_server(["localhost"], key_type="rsa2048")
    staple = _staple(ca, leaf)
    scfg = ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key,
                        certificate_compression=("zlib",), ocsp_response=bytearray(staple))
    ccfg = ClientConfig(trust_anchors=[ca.root], ocsp_stapling=True)
    for _ in range(2):
        events, _ = run(ClientConnection(ccfg, "localhost"), ServerConnection(scfg))
        [done] = [e for e in events if isinstance(e, HandshakeComplete)]
        assert done.ocsp_response == staple


def _zstd_with_dictionary() -> tuple[bytes, int]:
    import zstandard
    samples = [bytes([i]) * 20 + b"a common certificate prefix" * 8 for i in range(200)]
    shared = zstandard.train_dictionary(1024, samples)
    frame = zstandard.ZstdCompressor(dict_data=shared).compress(BODY)
    return frame, zstandard.get_frame_parameters(frame).dict_id


@pytest.mark.parametrize(("name", "message"), [
    ("dictionary", "zstd certificate frame needs dictionary {dict_id}; RFC 8879 "
                   "certificates are compressed without one"),
    ("window", "zstd certificate frame asks for a 8388608-byte window, over the "
               "1048576-byte limit for its length"),
])
def test_zstd_frame_header_refusals_say_what_the_frame_asks(name: str, message: str) -> None:
    """A frame naming a dictionary, or a window over the cap, is bad_certificate with a
    line saying which (not the library's "Dictionary mismatch")."""
    if name == "dictionary":
        frame, dict_id = _zstd_with_dictionary()
        assert dict_id
        message = message.format(dict_id=dict_id)
    else:
        frame = _zstd_frame(BODY, window_log=23)
    with pytest.raises(TLSError) as err:
        certcompress.decompress(m.CompressedCertificate(certcompress.ZSTD, len(BODY), frame),
                                1 << 17)
    assert err.value.alert == AlertDescription.bad_certificate
    assert str(err.value).endswith(message), err.value


@pytest.mark.parametrize(("offer", "chosen"), [
    ([0x0A0A, 0x7777], None),                        # GREASE and unknown only: plain
    ([0x0A0A, 0x7777, 2, 2, 1], "brotli"),           # duplicates, GREASE: the server's order
    ([1, 0xFAFA], "zlib"),
])
def test_server_choice_among_unknown_grease_and_duplicate_codes(
        ca: LocalCA, offer: list[int], chosen: str | None) -> None:
    """RFC 8879 3: the server compresses with one of the client's codes it has, in its own
    order; codes it does not know (GREASE among them) and repeats are passed over."""
    steps: list[dict[str, Any]] = []
    _, scfg = configs(ca, certificate_compression=("brotli", "zlib"),
                      tracer=lambda step, f: steps.append({"step": step, **f}))
    client = ClientConnection(ClientConfig(trust_anchors=[ca.root]), "localhost")
    hello = client.data_to_send()
    ch = m.ClientHello.decode(hello[9:])
    ch.extensions[27] = certcompress.encode_extension(offer)
    body = ch.encode()
    server = ServerConnection(scfg)
    server.receive_data(hello[:3] + len(body).to_bytes(2, "big") + body)
    assert server.data_to_send()
    [cert] = [s for s in steps if s["step"] == "certificate"]
    assert cert["compressed"] == (None if chosen is None
                                  else certcompress.algorithm_code(chosen))


@pytest.mark.parametrize("config", [ClientConfig, ServerConfig])
def test_an_algorithm_named_twice_is_one_clear_value_error(config: Any) -> None:
    """A ClientHello listing an algorithm twice is refused by BoringSSL servers (its
    compress_certificate parser rejects repeats): the configuration says so at once."""
    with pytest.raises(ValueError, match=r"^certificate_compression lists 'zlib' twice: "
                                         r"name each algorithm once"):
        config(certificate_compression=("zlib", "brotli", "zlib"))


def test_a_rotated_certificate_is_served_compressed_never_the_old_one(ca: LocalCA) -> None:
    """Rotation is a new `CertifiedKey` (from a resolver, or a new config): its chain is
    compressed afresh; the old key's compressed copy is never served for it, in any
    algorithm."""
    from tlskit import CertifiedKey
    old, new = (ca.issue_server(["localhost"], key_type=k) for k in ("rsa2048", "ec256"))
    was, now = (CertifiedKey(i.chain, i.private_key) for i in (old, new))
    keys = [was, was, now, now]  # each served twice: the second from its cache
    serving = iter(keys * len(ALL))
    scfg = ServerConfig(certificate_resolver=lambda info: next(serving),
                        certificate_compression=ALL)
    for name in ALL:
        trace: list[str | None] = []
        ccfg = ClientConfig(trust_anchors=[ca.root], certificate_compression=(name,),
                            tracer=lambda step, f, trace=trace: trace.append(
                                f.get("algorithm")) if step == "compressed_certificate"
                            else None)
        seen = []
        for _ in keys:
            events, _ = run(ClientConnection(ccfg, "localhost"), ServerConnection(scfg))
            [done] = [e for e in events if isinstance(e, HandshakeComplete)]
            seen.append(done.peer_certificates[0])
        assert seen == [old.chain[0], old.chain[0], new.chain[0], new.chain[0]], name
        assert trace == [name] * 4


def test_zstd_bomb_frame_after_an_exact_first_frame_stays_bounded() -> None:
    """The zstd decoder reads twice (bounded, then to find the frame's end): a first frame
    of exactly the announced length followed by a 256 MiB bomb frame (or a skippable
    frame and the bomb) is refused without inflating the bomb in either pass."""
    first = _zstd_frame(BODY)
    skippable = b"\x50\x2a\x4d\x18\x04\x00\x00\x00abcd"
    for data in (first + bomb("zstd"), first + skippable + bomb("zstd")):
        tracemalloc.start()
        cpu = time.process_time()
        try:
            with pytest.raises(TLSError) as err:
                certcompress.decompress(
                    m.CompressedCertificate(certcompress.ZSTD, len(BODY), data), 1 << 17)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert err.value.alert == AlertDescription.bad_certificate
        assert "not exactly one complete frame" in str(err.value)
        assert peak < 1 << 20, peak
        assert time.process_time() - cpu < 0.5
