"""What a connection keeps from a peer's long lists, while its handshake waits and once it
is complete. Every list here is within the protocol's limits (RFC 8446 allows a
ClientHello of 2^16-2 bytes of suites; OpenSSL and Go accept them), so none is refused:
what is bounded is what stays. A decoded list holds each 2-byte code as a Python int
(~36 bytes), and each 4-byte minimal CA name as an `x509.Name` (~180 bytes): a server
kept ~18x a hostile hello for the connection's life, a client ~47x a CertificateRequest's
names. Now both keep the message's bytes and decode again on demand (`client_offer`,
`CertificateRequestInfo.certificate_authorities`).
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509

from tlskit import (
    Acceptor,
    CertificateRequestInfo,
    CertifiedKey,
    ClientConnection,
    ClientHelloInfo,
    ServerConnection,
)
from tlskit.enums import CipherSuite, ExtensionType, HandshakeType, NamedGroup, SignatureScheme
from tlskit.handshake.client13 import ClientHandshake13
from tlskit.handshake.server12 import ServerHandshake12
from tlskit.handshake.server13 import ServerHandshake13
from tlskit.wire import messages as m

from ..support.ech import build_hello, parse_hello
from ..support.pki import client_config, pki, server_config
from ..support.pump import pump
from ..support.records import HS, record
from .helpers import sender_side

# Codes none of the three enums knows (known ones would be shared enum members), and not
# TLS_FALLBACK_SCSV (RFC 7507: a TLS 1.2 hello with it is refused by a 1.3 server).
UNKNOWN = [c for c in range(0x1000, 0x10000) if c != 0x5600 and all(
    c not in e._value2member_map_ for e in (CipherSuite, NamedGroup, SignatureScheme))]
# Bytes kept per byte of the hostile list: the message's own bytes, and a little.
BOUND = 2


def _vec16(body: bytes) -> bytes:
    return len(body).to_bytes(2, "big") + body


def _codes(n: int) -> bytes:
    return b"".join(c.to_bytes(2, "big") for c in UNKNOWN[:n])


def _lengthen(where: str, hello: bytes) -> bytes:
    """A ClientHello message (header included) with ~60 KB more in its ``where`` list."""
    fields, _ = parse_hello(hello[4:])
    exts = fields["exts"]
    if where == "suites":
        fields["suites"] = _codes(31000) + fields["suites"]
    elif where == "extensions":  # empty extensions of unknown types, in front
        known = {t for t, _ in exts}
        fields["exts"] = [(c, b"") for c in UNKNOWN[:15000] if c not in known] + exts
    elif where == "alpn":  # two-letter names: one string object each
        names = b"".join(b"\x02" + bytes((65 + i % 26, 65 + i // 26 % 26))
                         for i in range(20000))
        fields["exts"] = [(ExtensionType.application_layer_protocol_negotiation,
                           _vec16(names + b"\x08http/1.1")), *exts]
    else:
        etype = {"groups": ExtensionType.supported_groups,
                 "schemes": ExtensionType.signature_algorithms}[where]
        fields["exts"] = [(t, _vec16(_codes(30000) + d[2:]) if t == etype else d)
                          for t, d in exts]
    return build_hello(fields)


def _held_after(make: Callable[[], Any]) -> tuple[int, Any]:
    """The bytes still allocated after ``make()`` (its result kept alive), and that
    result; ``make`` runs once before, so caches warmed by the first run are not counted."""
    make()
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        kept = make()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - base, kept
    finally:
        tracemalloc.stop()


WHERE = ["suites", "groups", "schemes", "extensions", "alpn"]


def _records(msg: bytes) -> bytes:
    return b"".join(record(HS, msg[i:i + (1 << 14)]) for i in range(0, len(msg), 1 << 14))


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_server_waiting_for_the_client_keeps_the_hello_at_its_size(where: str,
                                                                   version: str) -> None:
    """After its flight, waiting for the client's: the hello's bytes, not its lists."""
    cfg = server_config()
    client_cfg = client_config(versions=[version])
    sizes: list[int] = []

    def make() -> ServerConnection:
        hello = ClientConnection(client_cfg, "localhost").data_to_send()[5:]
        msg = _lengthen(where, hello)
        sizes.append(len(msg))
        server = ServerConnection(cfg)
        server.receive_data(_records(msg))
        assert server.data_to_send()  # (answered: its flight is out)
        return server
    held, server = _held_after(make)
    assert held < BOUND * sizes[-1], (held, sizes[-1], held / sizes[-1])
    assert server.handshake_complete is None


def _complete_with(where: str, version: str,
                   **server_kw: Any) -> Callable[[], tuple[ServerConnection, int]]:
    """A handshake whose client hello has the long list in it (rewritten before the
    client's transcript, so it completes)."""
    cfg = server_config(**server_kw)
    client_cfg = client_config(versions=[version])
    sizes: list[int] = []

    def lengthen(raw: bytes) -> bytes:
        if raw[0] != HandshakeType.client_hello:
            return raw
        msg = _lengthen(where, raw)
        sizes.append(len(msg))
        return msg

    def make() -> tuple[ServerConnection, int]:
        with sender_side(ClientHandshake13, lengthen):
            client = ClientConnection(client_cfg, "localhost")
            server = ServerConnection(cfg)
            pump(client, server)
        assert server.handshake_complete is not None
        assert server.handshake_complete.version == version
        return server, sizes[-1]
    return make


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_server_keeps_the_hello_at_its_size_for_the_connections_life(where: str,
                                                                     version: str) -> None:
    held, (_, size) = _held_after(_complete_with(where, version))
    assert held < BOUND * size, (held, size, held / size)


def test_client_offer_still_names_the_whole_hello_and_keeps_nothing() -> None:
    """`client_offer` decodes the kept bytes at each call: every code still named (in
    the client's order), and naming it leaves nothing behind (the names are ~35x)."""
    server, size = _complete_with("suites", "TLSv1.3")()
    suites = server.client_offer["cipher_suites"]
    assert isinstance(suites, list) and len(suites) > 31000
    assert suites[:2] == ["UNKNOWN_0x1000", "UNKNOWN_0x1001"]
    assert "TLS_AES_128_GCM_SHA256" in suites
    assert server.client_offer == server.client_offer
    held, _ = _held_after(lambda: server.client_offer and None)  # (the dict let go)
    assert held < size // 4, held


def test_server_waiting_for_the_second_hello_keeps_the_first_at_its_size() -> None:
    """After a HelloRetryRequest the first hello is kept (the second is checked against
    it, RFC 8446 4.1.2) as its bytes; the handshake then completes as before."""
    cfg = server_config(groups=["secp256r1", "x25519"])
    client_cfg = client_config(groups=["x25519", "secp256r1"], key_share_groups=["x25519"])
    sizes: list[int] = []

    def make() -> tuple[ServerConnection, ClientConnection, bytes]:
        def lengthen(raw: bytes) -> bytes:
            if raw[0] != HandshakeType.client_hello:
                return raw
            msg = _lengthen("suites", raw)
            sizes.append(len(msg))
            return msg
        with sender_side(ClientHandshake13, lengthen):
            client = ClientConnection(client_cfg, "localhost")
            server = ServerConnection(cfg)
            server.receive_data(client.data_to_send())
            client.receive_data(server.data_to_send())  # the HelloRetryRequest
            hello2 = client.data_to_send()
        assert hello2 and server.handshake_complete is None
        return server, client, hello2
    held, (server, client, hello2) = _held_after(make)
    # (the client's two hellos are kept by the client, which is counted too)
    assert held < 2 * BOUND * sizes[-1], (held, sizes[-1], held / sizes[-1])
    server.receive_data(hello2)
    pump(client, server)
    assert server.handshake_complete is not None and client.handshake_complete is not None


# --- a CertificateRequest naming ~15,000 minimal CAs ----------------------------------

N_NAMES = 15000
EMPTY_NAME = b"\x30\x00"  # a Name with no RDNs: the least a DistinguishedName can be
NAMES = b"".join(_vec16(EMPTY_NAME) for _ in range(N_NAMES))


def _cr13_with_names(raw: bytes) -> bytes:
    if raw[0] != HandshakeType.certificate_request:
        return raw
    cr = m.CertificateRequest.decode(memoryview(raw)[4:])
    cr.extensions[ExtensionType.certificate_authorities] = _vec16(NAMES)
    return cr.encode()


def _cr12_with_names(raw: bytes) -> bytes:
    if raw[0] != HandshakeType.certificate_request:
        return raw
    schemes_at = 5 + raw[4]
    end = schemes_at + 2 + int.from_bytes(raw[schemes_at:schemes_at + 2], "big")
    return m.frame(HandshakeType.certificate_request, raw[4:end] + _vec16(NAMES))


def test_certificate_request_info_keeps_the_names_at_their_size() -> None:
    """What a client holds from the request while it waits for the server's Finished:
    the names' bytes (each read strictly on arrival); `certificate_authorities` decodes
    them when asked, to the same `x509.Name`s."""
    ders = [EMPTY_NAME] * N_NAMES
    held, info = _held_after(lambda: CertificateRequestInfo.received(
        ders, [SignatureScheme.ecdsa_secp256r1_sha256], "TLSv1.3", "localhost"))
    assert held < BOUND * len(NAMES), (held, len(NAMES), held / len(NAMES))
    assert info.certificate_authorities == (x509.Name([]),) * N_NAMES
    assert info.certificate_authorities is info.certificate_authorities  # (decoded once)
    assert info == CertificateRequestInfo((x509.Name([]),) * N_NAMES,
                                          (SignatureScheme.ecdsa_secp256r1_sha256,),
                                          "TLSv1.3", "localhost")


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_client_keeps_nothing_of_the_request_once_it_answered(version: str) -> None:
    """The request (and the names a resolver decoded) goes once the client answered."""
    issued = pki().client
    key = CertifiedKey(issued.chain, issued.private_key)
    seen: list[int] = []

    def resolve(info: CertificateRequestInfo) -> CertifiedKey:
        seen.append(len(info.certificate_authorities))  # decoded: ~47x the names
        return key
    client_cfg = client_config(versions=[version], certificate_resolver=resolve)
    cfg = server_config(client_auth="required", client_trust_anchors=[pki().ca.root])
    cls, hook = ((ServerHandshake13, _cr13_with_names) if version == "TLSv1.3"
                 else (ServerHandshake12, _cr12_with_names))

    def make() -> ClientConnection:
        with sender_side(cls, hook):
            client = ClientConnection(client_cfg, "localhost")
            server = ServerConnection(cfg)
            pump(client, server)
        assert server.handshake_complete is not None
        assert server.handshake_complete.peer_certificates[0] == issued.certificate
        return client
    held, client = _held_after(make)
    assert seen == [N_NAMES, N_NAMES]
    assert client.handshake_complete is not None
    assert held < len(NAMES) // 4, (held, len(NAMES))


def test_acceptor_waiting_for_the_application_lets_the_decoded_hello_go() -> None:
    """Between the info and `accept` the application may take its time: the acceptor
    keeps the bytes and the info (a tuple slot per code: 4x, the codes being known
    members), not the decoded hello beside them (~18x). The connection still answers."""
    repeated = b"\x13\x01" * 31000  # TLS_AES_128_GCM_SHA256, over and over: legal

    def make() -> tuple[Acceptor, ClientHelloInfo, int]:
        hello = ClientConnection(client_config(), "localhost").data_to_send()[5:]
        fields, _ = parse_hello(hello[4:])
        fields["suites"] = repeated + fields["suites"]
        msg = build_hello(fields)
        acceptor = Acceptor()
        info = acceptor.receive_data(_records(msg))
        assert info is not None
        return acceptor, info, len(msg)
    held, (acceptor, info, size) = _held_after(make)
    assert held < 8 * size, (held, size, held / size)
    assert info.cipher_suites[:31000] == (CipherSuite.TLS_AES_128_GCM_SHA256,) * 31000
    server = acceptor.accept(server_config())
    assert server.data_to_send()
