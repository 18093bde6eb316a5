"""The largest ClientHello, after tlsfuzzer's ``test-client-hello-max-size.py``: 32767
cipher suites, 255 compression methods, a 32-byte session_id and 65535 bytes of extensions
make 131396 bytes, the most the syntax allows (RFC 5246 7.4.1.2). It is well-formed, so a
server processes it (OpenSSL's limit is exactly this size); one byte more is not a
ClientHello any longer and is refused from its header (tests/hostile/test_bounds.py).
"""

from __future__ import annotations

from tlskit.config import MAX_CLIENT_HELLO

from .peer import ECDHE_RSA_AES128_GCM, EMPTY_RENEGOTIATION_INFO_SCSV, Hello, Peer, hello12

E_PADDING = 21
HS_CERTIFICATE, HS_SERVER_KEY_EXCHANGE, HS_SERVER_HELLO_DONE = 11, 12, 14


def largest_hello() -> Hello:
    h = hello12()
    # 32765 code points from the unassigned 0x0100-0x55FF and 0x5601-0xBFFF (not 0x5600,
    # TLS_FALLBACK_SCSV), then the suite that is chosen.
    unassigned = [*range(0x0100, 0x5600), *range(0x5601, 0xC000)][:32765]
    h.suites = [*unassigned, ECDHE_RSA_AES128_GCM, EMPTY_RENEGOTIATION_INFO_SCSV]
    h.compression = bytes(range(255))          # null (0) among 254 unknown methods
    h.session_id = bytes(32)
    used = sum(4 + len(body) for _, body in h.exts)
    h.exts.append((E_PADDING, bytes(0xFFFF - used - 4)))
    return h


def test_the_largest_client_hello_is_processed() -> None:
    h = largest_hello()
    assert len(h.encode()) - 4 == MAX_CLIENT_HELLO == 131396
    peer = Peer()
    peer.send_hello(h)
    assert peer.error is None, peer.error
    assert peer.server_hello().cipher_suite == ECDHE_RSA_AES128_GCM
    assert [e[1] for e in peer.events if e[0] == "hs12"] == [
        HS_CERTIFICATE, HS_SERVER_KEY_EXCHANGE, HS_SERVER_HELLO_DONE]
