"""ECDHE groups offered by TLS 1.2 clients, after tlsfuzzer's
``test-ecdhe-padded-shared-secret.py`` (one group per ClientHello): RFC 8422 5.1.1 defines
x25519, x448 and the NIST curves for TLS 1.2 ECDHE, and a default server, which accepts
every group it implements, picks the one offered. FFDHE and ML-KEM groups are not TLS 1.2
ECDHE groups: offered alone they leave no ECDHE suite, so handshake_failure, or RFC 7919
4's insufficient_security when the client listed FFDHE groups.
"""

from __future__ import annotations

import pytest

from tlskit.wire import extensions as ext

from . import peer as groups
from .peer import E_SUPPORTED_GROUPS, Hello, Peer, hello12

AD_HANDSHAKE_FAILURE = 40
HS_SERVER_KEY_EXCHANGE = 12
NAMED_CURVE = 3


def only_group(group: int) -> Hello:
    h = hello12()
    h.exts = [(t, ext.encode_u16_list([group]) if t == E_SUPPORTED_GROUPS else body)
              for t, body in h.exts]
    return h


@pytest.mark.parametrize("group", [groups.X25519, groups.X448, groups.SECP256R1, groups.SECP384R1,
                                   groups.SECP521R1],
                         ids=["x25519", "x448", "secp256r1", "secp384r1", "secp521r1"])
def test_server_key_exchange_uses_the_only_group_offered(group: int) -> None:
    peer = Peer()
    peer.send_hello(only_group(group))
    assert peer.error is None, peer.error
    (ske,) = [e[2] for e in peer.events if e[0] == "hs12" and e[1] == HS_SERVER_KEY_EXCHANGE]
    assert ske[0] == NAMED_CURVE and int.from_bytes(ske[1:3], "big") == group


@pytest.mark.parametrize(("group", "alert"), [(0x0100, 71), (0x11EC, AD_HANDSHAKE_FAILURE)],
                         ids=["ffdhe2048-insufficient_security", "X25519MLKEM768"])
def test_a_group_that_is_no_tls12_ecdhe_group_alone_is_refused(group: int, alert: int) -> None:
    """An FFDHE group alone: RFC 7919 4's insufficient_security (below)."""
    peer = Peer()
    peer.send_hello(only_group(group))
    peer.expect_alert(alert)


DHE_RSA_AES128_GCM = 0x009E
AD_INSUFFICIENT_SECURITY = 71


def test_unknown_ffdhe_group_and_no_usable_suite_is_insufficient_security() -> None:
    """RFC 7919 4 (tlsfuzzer's test-ffdhe-negotiation "no overlap between groups"): FFDHE
    groups offered, none acceptable, no non-FFDHE suite the server takes."""
    h = only_group(0x01FF)
    h.suites = [0x003B, DHE_RSA_AES128_GCM]   # TLS_RSA_WITH_NULL_SHA256, DHE
    peer = Peer()
    peer.send_hello(h)
    peer.expect_alert(AD_INSUFFICIENT_SECURITY)
    assert "RFC 7919" in str(peer.error)


def test_unknown_ffdhe_group_with_an_acceptable_curve_stays_handshake_failure() -> None:
    """A usable group was offered (x25519): the suites are what failed."""
    h = hello12(suites=[DHE_RSA_AES128_GCM])
    h.exts = [(t, ext.encode_u16_list([0x01FF, groups.X25519]) if t == E_SUPPORTED_GROUPS else body)
              for t, body in h.exts]
    peer = Peer()
    peer.send_hello(h)
    peer.expect_alert(AD_HANDSHAKE_FAILURE)
