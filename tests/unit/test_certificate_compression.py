"""RFC 8879 certificate compression: negotiated, transcript-correct, and strict about what
it decompresses."""

from __future__ import annotations

import zlib
from typing import Any

import pytest

from tlskit import ClientConfig, ClientConnection, HandshakeComplete, ServerConfig, ServerConnection
from tlskit.ca import LocalCA
from tlskit.enums import AlertDescription, HandshakeType
from tlskit.errors import TLSError
from tlskit.wire import certcompress
from tlskit.wire import messages as m


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
])
def test_bad_compressed_certificate(ca: LocalCA, name: str, tamper: Any,
                                    alert: AlertDescription) -> None:
    err = _swap_compressed(tamper, ca)
    assert err.alert == alert, (name, err)


def test_round_trip_helpers() -> None:
    body = bytes(range(256)) * 20
    cc = certcompress.compress(certcompress.ZLIB, body)
    again = m.CompressedCertificate.decode(cc.encode()[4:])
    assert certcompress.decompress(again, 1 << 17) == body
    assert cc.encode()[0] == HandshakeType.compressed_certificate
