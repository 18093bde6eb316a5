"""max_fragment_length (RFC 6066 4) from a scripted client, both versions: the server
checks the code, grants it (EncryptedExtensions in TLS 1.3, ServerHello in TLS 1.2) and
fragments everything it sends from then on, handshake messages included, and holds the
client to it, unless the client also sent record_size_limit, which then governs (RFC 8449
5)."""

from __future__ import annotations

import pytest

from tlskit.wire import messages as m

from ..support.records import split_records
from .peer import Peer, handshake, hello, hello12, sanity

E_MFL, E_RSL = 1, 28
AD_ILLEGAL, AD_DECODE, AD_RECORD_OVERFLOW = 47, 50, 22
TLS13_OVERHEAD = 1 + 16  # content type and AES-128-GCM tag


def tapped(peer: Peer) -> list[bytes]:
    """Every record the server sends `peer` from now on, as sent."""
    seen: list[bytes] = []
    decode = peer._decode

    def tap(data: bytes) -> None:
        seen.extend(split_records(data))
        decode(data)

    peer._decode = tap  # type: ignore[method-assign]
    return seen


def encrypted_extensions(peer: Peer) -> m.Extensions:
    bodies = [e[2] for e in peer.events if e[0] == "hs" and e[1] == 8]
    assert len(bodies) == 1, peer.kinds()
    return m.EncryptedExtensions.decode(bodies[0]).extensions


@pytest.mark.parametrize("make", [hello, hello12], ids=["tls13", "tls12"])
@pytest.mark.parametrize("body,alert", [
    (b"\x00", AD_ILLEGAL), (b"\x05", AD_ILLEGAL), (b"\xff", AD_ILLEGAL),
    (b"", AD_DECODE), (b"\x01\x01", AD_DECODE),
], ids=["code-0", "code-5", "code-255", "empty", "two-bytes"])
def test_a_malformed_request_is_refused(make, body, alert):
    peer = Peer()
    peer.send_hello(make(extra=[(E_MFL, body)]))
    peer.expect_alert(alert)


@pytest.mark.parametrize("code,size", [(1, 512), (2, 1024), (3, 2048), (4, 4096)])
def test_tls13_grants_it_and_fragments_the_flight_and_the_data(code, size):
    peer = Peer()
    records = tapped(peer)
    handshake(peer, hello(extra=[(E_MFL, bytes([code]))]))
    assert encrypted_extensions(peer)[E_MFL] == bytes([code])
    for start in range(0, 9000, size):  # the client keeps to the grant too
        peer.app(b"x" * min(size, 9000 - start))
    assert peer.error is None, peer.error
    assert peer.data().endswith(b"x" * 9000)
    protected = [len(r) - 5 - TLS13_OVERHEAD for r in records if r[0] == 23]
    assert max(protected) == size, protected  # the Certificate and the echo both hit it


@pytest.mark.parametrize("padding", [0, 1])
def test_tls13_holds_the_client_to_the_grant(padding):
    """512 bytes of content are data; one more, or padding past the length, is
    record_overflow: the grant takes the place of 2^14, against which RFC 8446 5.4
    counts the whole TLSInnerPlaintext (content, type, padding)."""
    peer = Peer()
    handshake(peer, hello(extra=[(E_MFL, b"\x01")]))
    peer.app(b"x" * 512)
    assert peer.error is None and peer.data().endswith(b"x" * 512)
    peer.app(b"x" * (513 - padding), padding=padding)
    peer.expect_alert(AD_RECORD_OVERFLOW)


def test_tls13_ignores_it_beside_record_size_limit():
    peer = Peer()
    records = tapped(peer)
    sanity(peer, hello(extra=[(E_RSL, ((1 << 14) + 1).to_bytes(2, "big")), (E_MFL, b"\x01")]),
           payload=b"x" * 9000)
    exts = encrypted_extensions(peer)
    assert E_MFL not in exts and E_RSL in exts
    assert max(len(r) - 5 - TLS13_OVERHEAD for r in records if r[0] == 23) >= 9000


@pytest.mark.parametrize("code,size", [(1, 512), (4, 4096)])
def test_tls12_grants_it_in_the_server_hello_and_fragments_the_flight(code, size):
    peer = Peer()
    records = tapped(peer)
    peer.send_hello(hello12(extra=[(E_MFL, bytes([code]))]))
    assert peer.error is None, peer.error
    assert peer.server_hello().extensions[E_MFL] == bytes([code])
    sizes = [len(r) - 5 for r in records]
    assert max(sizes) <= size, sizes
    if size == 512:  # the RSA chain's Certificate message went out in pieces
        assert sizes.count(512) >= 2, sizes


def test_tls12_ignores_it_beside_record_size_limit():
    peer = Peer()
    peer.send_hello(hello12(extra=[(E_RSL, b"\x40\x00"), (E_MFL, b"\x01")]))
    exts = peer.server_hello().extensions
    assert E_MFL not in exts and E_RSL in exts
