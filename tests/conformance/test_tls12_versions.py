"""Version negotiation with TLS 1.2 clients and servers, after tlsfuzzer's
``test-fallback-scsv.py``, ``test-tls13-non-support.py``,
``test-TLSv1_2-rejected-without-TLSv1_2.py`` and the TLS 1.2 parts of
``test-tls13-version-negotiation.py``.

tlskit's TLS 1.2 is ECDHE + AEAD with the extended master secret, so every hello here
offers TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 and EMS (the scripts' ``-C ... -M``).
"""

from __future__ import annotations

import pytest

from tlskit.wire import extensions as ext

from .peer import (
    AES128,
    DOWNGRD_TLS12,
    E_EMS,
    E_RENEGOTIATION_INFO,
    E_SUPPORTED_VERSIONS,
    ECDHE_RSA_AES128_GCM,
    EMPTY_RENEGOTIATION_INFO_SCSV,
    FALLBACK_SCSV,
    RSA_PKCS1_SHA256,
    RSA_PSS_RSAE_SHA256,
    Peer,
    hello,
    hello12,
    server_config,
)

AD_HANDSHAKE_FAILURE, AD_PROTOCOL_VERSION, AD_INAPPROPRIATE_FALLBACK = 40, 70, 86


def tls12_reply(peer: Peer, *, downgrade_sentinel: bool = True) -> None:
    assert peer.error is None, peer.error
    sh = peer.server_hello()
    assert sh.legacy_version == 0x0303 and sh.cipher_suite == ECDHE_RSA_AES128_GCM
    assert E_SUPPORTED_VERSIONS not in sh.extensions
    assert {E_RENEGOTIATION_INFO, E_EMS} <= set(sh.extensions)
    assert (sh.random[-8:] == DOWNGRD_TLS12) == downgrade_sentinel   # RFC 8446 4.1.3
    assert [e[1] for e in peer.events if e[0] == "hs12"] == [11, 12, 14]


@pytest.mark.parametrize("legacy,record_version", [(0x0303, 0x0301), (0x0303, 0x0303),
                                                   (0x0304, 0x0301), (0x0304, 0x0304)],
                         ids=["sanity", "record TLSv1.2 hello TLSv1.2",
                              "SSL3.4 version negotiation", "record SSL3.4 hello SSL3.4"])
def test_fallback_scsv_sanity(legacy, record_version):
    peer = Peer()
    peer.send_hello(hello12(suites=[EMPTY_RENEGOTIATION_INFO_SCSV, ECDHE_RSA_AES128_GCM, AES128],
                            legacy_version=legacy), record_version=record_version)
    tls12_reply(peer)


def test_fallback_scsv_tls11_hello_is_protocol_version():
    # tlskit has no TLS 1.1 (RFC 8996): the script's --min-support TLSv1.2 behaviour.
    peer = Peer()
    peer.send_hello(hello12(legacy_version=0x0302), record_version=0x0302)
    peer.expect_alert(AD_PROTOCOL_VERSION)


def test_fallback_scsv_in_tls12_hello_is_inappropriate_fallback():
    for place in range(4):
        suites = [EMPTY_RENEGOTIATION_INFO_SCSV, ECDHE_RSA_AES128_GCM, AES128]
        suites.insert(place, FALLBACK_SCSV)
        peer = Peer()
        peer.send_hello(hello12(suites=suites))
        peer.expect_alert(AD_INAPPROPRIATE_FALLBACK)


def test_fallback_scsv_with_tls13_offered_is_ignored():
    # RFC 8446 D.3 era clients may still send the SCSV; with TLS 1.3 negotiated it is moot.
    peer = Peer()
    peer.send_hello(hello(suites=[AES128, FALLBACK_SCSV, EMPTY_RENEGOTIATION_INFO_SCSV]))
    peer.expect_flight()


# --- a server with TLS 1.3 disabled (test-tls13-non-support.py) --------------------------

@pytest.mark.parametrize("versions", [[0x0304, 0x0303], *[[0x7F00 | d, 0x0303]
                                                          for d in (0, 18, 22, 26, 28, 49)]],
                         ids=lambda v: f"{v[0]:#06x}")
def test_non_support_tls12_only_server(versions):
    peer = Peer(server_config(versions=["TLSv1.2"]))
    h = hello(suites=[AES128, ECDHE_RSA_AES128_GCM, EMPTY_RENEGOTIATION_INFO_SCSV],
              versions=versions, sig_algs=[RSA_PSS_RSAE_SHA256, RSA_PKCS1_SHA256],
              extra=[(E_EMS, b"")])
    peer.send_hello(h)
    tls12_reply(peer, downgrade_sentinel=False)


# --- a server with TLS 1.2 disabled (test-TLSv1_2-rejected-without-TLSv1_2.py) -----------

def test_tls12_rejected_by_tls13_only_server():
    peer = Peer(server_config(versions=["TLSv1.3"]))
    peer.send_hello(hello12())
    peer.expect_alert(AD_PROTOCOL_VERSION)


def test_tls12_ske_signature_scheme_is_one_the_client_offered():
    for schemes, want in (([RSA_PKCS1_SHA256], RSA_PKCS1_SHA256),
                          ([RSA_PSS_RSAE_SHA256], RSA_PSS_RSAE_SHA256)):
        h = hello12()
        h.set(13, ext.encode_u16_list(schemes))
        peer = Peer()
        peer.send_hello(h)
        ske = next(e[2] for e in peer.events if e[:2] == ("hs12", 12))
        # ECParameters (3) + point (1 + len) + SignatureAndHashAlgorithm
        scheme = int.from_bytes(ske[4 + ske[3]:6 + ske[3]], "big")
        assert scheme == want, hex(scheme)


def test_tls12_without_signature_algorithms_is_refused():
    # RFC 5246 would default to {sha1, rsa}; RFC 9155 forbids SHA-1 signatures in TLS 1.2.
    peer = Peer()
    peer.send_hello(hello12().drop(13))
    peer.expect_alert(AD_HANDSHAKE_FAILURE)


# --- test-sig-algs.py (TLS 1.2 ServerKeyExchange signatures) ----------------------------

MD5_RSA, SHA224_RSA = 0x0101, 0x0301
PKCS1_BY_STRENGTH = [0x0601, 0x0501, 0x0401, SHA224_RSA, 0x0201]
PSS_PSS = [0x0809, 0x080A, 0x080B]


def _ske_scheme(peer: Peer) -> int:
    ske = next(e[2] for e in peer.events if e[:2] == ("hs12", 12))
    return int.from_bytes(ske[4 + ske[3]:6 + ske[3]], "big")


@pytest.mark.parametrize("offered,valid", [
    ([RSA_PSS_RSAE_SHA256], [RSA_PSS_RSAE_SHA256]),
    ([0x0805], [0x0805]),
    ([0x0806], [0x0806]),
    ([MD5_RSA, *PKCS1_BY_STRENGTH, *PSS_PSS], [*PKCS1_BY_STRENGTH, *PSS_PSS]),  # MD5 first
    ([MD5_RSA, *PKCS1_BY_STRENGTH[:-1], *PSS_PSS], [*PKCS1_BY_STRENGTH[:-1], *PSS_PSS]),
    ([0x0418, 0x1801, 0x0A0A, 0x0918, 0xFFFF, *PKCS1_BY_STRENGTH[:-1], *PSS_PSS],
     [*PKCS1_BY_STRENGTH[:-1], *PSS_PSS]),                                    # extra sigalgs
], ids=["rsae256 only", "rsae384 only", "rsae512 only", "MD5 first", "MD5 first, no SHA-1",
        "extra sigalgs"])
def test_sig_algs_tls12_server_key_exchange(offered, valid):
    h = hello12()
    h.set(13, ext.encode_u16_list(offered))
    peer = Peer()
    peer.send_hello(h)
    assert peer.error is None, peer.error
    scheme = _ske_scheme(peer)
    assert scheme in valid and scheme not in (MD5_RSA, 0x0201), hex(scheme)


@pytest.mark.parametrize("body,alert", [
    (ext.encode_u16_list([0x0418, 0x1801, 0x0A0A, 0x0918, 0xFFFF]), AD_HANDSHAKE_FAILURE),
    (b"\x00\x00", 50),                       # empty sigalgs
    (b"\x00\x03\x04\x01", 50),               # fuzzed length
    (b"\x00\x04\x04\x01", 50),               # truncated extension
    (b"\x00\x03\x04\x01\x02", 50),           # odd length
], ids=["only undefined", "empty", "fuzzed length", "truncated", "odd length"])
def test_sig_algs_tls12_malformed_or_unusable(body, alert):
    h = hello12()
    h.set(13, body)
    peer = Peer()
    peer.send_hello(h)
    peer.expect_alert(alert)


def test_tls12_session_ticket_extension_is_acknowledged_empty():
    # RFC 5077 3.2: a server that will send a ticket answers the client's session_ticket
    # with an empty one.
    peer = Peer()
    peer.send_hello(hello12(extra=[(35, b"")]))
    tls12_reply(peer)
    assert peer.server_hello().extensions[35] == b""
