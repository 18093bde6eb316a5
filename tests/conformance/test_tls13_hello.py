"""ClientHello negotiation, after the tlsfuzzer TLS 1.3 server scripts.

Each test names the script (``test-tls13-<name>.py``) and the conversation it rebuilds;
the ClientHello is the scripts' (suites, extensions and their order, a 32-byte session
id), the expected reaction is the scripts' (an exact fatal alert, or a handshake).
"""

from __future__ import annotations

import os

import pytest

from tlskit.crypto import ffdhe_prime, new_key_share
from tlskit.wire import extensions as ext
from tlskit.wire import messages as m

from ..support.records import record
from .peer import (
    AES128,
    AES256,
    CCM,
    CCM8,
    CHACHA,
    DOWNGRD_TLS12,
    E_COOKIE,
    E_EMS,
    E_KEY_SHARE,
    E_PSK_MODES,
    E_RENEGOTIATION_INFO,
    E_SIG_ALGS,
    E_SUPPORTED_GROUPS,
    E_SUPPORTED_VERSIONS,
    ECDHE_RSA_AES128_GCM,
    ECDSA_SECP256R1_SHA256,
    ED448,
    ED25519,
    EMPTY_RENEGOTIATION_INFO_SCSV,
    FFDHE2048,
    FFDHE3072,
    FFDHE4096,
    HRR_RANDOM,
    PSK_DHE_KE,
    PSK_KE,
    RSA_AES128_CBC,
    RSA_PKCS1_SHA1,
    RSA_PKCS1_SHA512,
    RSA_PSS_PSS_SHA256,
    RSA_PSS_PSS_SHA384,
    RSA_PSS_PSS_SHA512,
    RSA_PSS_RSAE_SHA256,
    RSA_PSS_RSAE_SHA384,
    RSA_PSS_RSAE_SHA512,
    SECP256R1,
    SECP384R1,
    SECP521R1,
    X448,
    X25519,
    Hello,
    Peer,
    handshake,
    hello,
    hello12,
    key_shares,
    sanity,
    server_config,
)

AD_UNEXPECTED, AD_HANDSHAKE_FAILURE, AD_ILLEGAL, AD_DECODE = 10, 40, 47, 50
AD_PROTOCOL_VERSION, AD_MISSING_EXTENSION = 70, 109

ALL_GROUPS = ["x25519", "secp256r1", "secp384r1", "secp521r1", "ffdhe2048", "ffdhe3072",
              "ffdhe4096"]


def all_groups_server() -> Peer:
    """A server configured for every group the scripts try (tlskit serve --groups ...)."""
    return Peer(server_config(groups=ALL_GROUPS))


def retry(peer: Peer, first: Hello, *, group: int | None = None) -> Hello:
    """The second ClientHello after a HelloRetryRequest, as tlsfuzzer builds it: the same
    hello with the requested share, and the cookie (placed after supported_groups)."""
    hrr = next(e[1] for e in peer.events if e[0] == "hrr")
    if group is None:
        group = ext.decode_key_share_hrr(hrr.extensions[E_KEY_SHARE])
    second = Hello(first.suites, list(first.exts), random=first.random,
                   session_id=first.session_id)
    second.set(E_KEY_SHARE, ext_share(second, group))
    if E_COOKIE in hrr.extensions:
        exts = []
        for t, b in second.exts:
            exts.append((t, b))
            if t == E_SUPPORTED_GROUPS:
                exts.append((E_COOKIE, hrr.extensions[E_COOKIE]))
        second.exts = exts
    return second


def ext_share(h: Hello, group: int) -> bytes:
    return key_shares([group], h.shares)


# --- test-tls13-conversation.py ----------------------------------------------------------

def test_conversation_sanity():
    peer = sanity(Peer())
    sh = peer.server_hello()
    assert sh.cipher_suite == AES128
    assert sh.session_id == peer.hello.session_id
    assert set(sh.extensions) == {E_KEY_SHARE, E_SUPPORTED_VERSIONS}
    assert ext.decode_version_server(sh.extensions[E_SUPPORTED_VERSIONS]) == 0x0304
    assert peer.cv_scheme == RSA_PSS_RSAE_SHA256


# --- test-tls13-hrr.py -------------------------------------------------------------------

@pytest.mark.parametrize("cookie", [False, True], ids=["default", "send_hrr_cookie"])
def test_hrr_because_of_empty_key_shares(cookie):
    """A cookie only when the server is configured for one (4.2.2; OpenSSL, Go and
    rustls send none by default, and the scripts' defaults expect none)."""
    peer = Peer(server_config(send_hrr_cookie=True)) if cookie else Peer()
    first = hello(shares=[])
    peer.send_hello(first)
    assert peer.kinds() == ["hrr", "ccs"], peer.kinds()   # CCS right after the HRR (D.4)
    hrr = peer.events[0][1]
    assert hrr.session_id == first.session_id and hrr.cipher_suite == AES128
    expected = {E_KEY_SHARE, E_SUPPORTED_VERSIONS} | ({E_COOKIE} if cookie else set())
    assert set(hrr.extensions) == expected
    assert ext.decode_key_share_hrr(hrr.extensions[E_KEY_SHARE]) == SECP256R1
    peer.send_hello(retry(peer, first))
    peer.expect_flight(hrr=True)          # no second CCS
    peer.finished()
    sanity(peer)


@pytest.mark.parametrize("second", ["none", "another-group", "two-shares"])
def test_hrr_then_a_second_hello_without_exactly_the_share(second):
    """4.2.8: the second ClientHello carries one share, for the group the retry asked for.
    One that still lacks it (none, or one for another offered group) or adds another is
    illegal_parameter, as OpenSSL and Go answer; not a second HelloRetryRequest, and not
    a handshake on a group the server did not choose."""
    peer = all_groups_server()
    first = hello(groups=(SECP256R1, X25519), shares=[])
    peer.send_hello(first)
    assert peer.kinds() == ["hrr", "ccs"], peer.kinds()
    asked = ext.decode_key_share_hrr(peer.events[0][1].extensions[E_KEY_SHARE])
    other = X25519 if asked == SECP256R1 else SECP256R1
    shares = {"none": [], "another-group": [other], "two-shares": [asked, other]}[second]
    second_hello = Hello(first.suites, list(first.exts), random=first.random,
                         session_id=first.session_id)
    second_hello.set(E_KEY_SHARE, key_shares(shares, second_hello.shares))
    peer.send_hello(second_hello)
    peer.expect_alert(AD_ILLEGAL)


def _hybrid_client_share(ek: bytes | None = None, x25519_public: bytes | None = None) -> bytes:
    """An X25519MLKEM768 client share: an ML-KEM-768 encapsulation key (1,184 bytes),
    then an X25519 public value; either may be given instead of a real one."""
    from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

    if ek is None:
        ek = mlkem.MLKEM768PrivateKey.generate().public_key().public_bytes_raw()
    if x25519_public is None:
        x25519_public = x25519.X25519PrivateKey.generate().public_key().public_bytes_raw()
    return ek + x25519_public


HYBRID = 0x11EC


@pytest.mark.parametrize("case", ["short", "long", "ek-coefficients-out-of-range",
                                  "x25519-zero"])
def test_a_bad_hybrid_client_share_is_illegal_parameter(case):
    """draft-ietf-tls-ecdhe-mlkem: the share is exactly a 1,184-byte encapsulation key and
    a 32-byte X25519 value. A key whose 12-bit coefficients reach the modulus (3329) fails
    FIPS 203's input check; an all-zero X25519 secret is refused (RFC 8446 7.4.2)."""
    share = {"short": _hybrid_client_share()[:-1],
             "long": _hybrid_client_share() + b"\x00",
             "ek-coefficients-out-of-range": _hybrid_client_share(ek=b"\xff" * 1184),
             "x25519-zero": _hybrid_client_share(x25519_public=bytes(32))}[case]
    peer = Peer(server_config(groups=["X25519MLKEM768", "secp256r1"]))
    peer.send_hello(hello(groups=(HYBRID,), shares=[(HYBRID, share)]))
    peer.expect_alert(AD_ILLEGAL)
    assert {"short": "wrong length", "long": "wrong length",
            "ek-coefficients-out-of-range": "encapsulation key rejected",
            "x25519-zero": "low-order point"}[case] in str(peer.error)


def test_a_good_hybrid_client_share_is_answered():
    """The same shape with real values completes (the control for the cases above)."""
    peer = Peer(server_config(groups=["X25519MLKEM768", "secp256r1"]))
    peer.send_hello(hello(groups=(HYBRID,), shares=[HYBRID]))
    assert peer.error is None, peer.error
    assert peer.kinds()[0] == "server_hello", peer.kinds()


# --- test-tls13-keyshare-omitted.py -------------------------------------------------------

def test_keyshare_omitted_is_missing_extension():
    peer = Peer()
    peer.send_hello(hello().drop(E_KEY_SHARE))
    peer.expect_alert(AD_MISSING_EXTENSION)


@pytest.mark.parametrize("psk_modes", [False, True], ids=["plain", "with psk_key_exchange_modes"])
def test_keyshare_empty_extension_is_decode_error(psk_modes):
    # AutoEmptyExtension: the extension is present with a zero-length body.
    h = hello().set(E_KEY_SHARE, b"")
    if psk_modes:
        h.set(E_PSK_MODES, ext.encode_psk_modes([PSK_KE, PSK_DHE_KE]))
    peer = Peer()
    peer.send_hello(h)
    peer.expect_alert(AD_DECODE)


# --- test-tls13-invalid-ciphers.py, test-tls13-nociphers.py ------------------------------

UNASSIGNED_13 = list(range(0x1306, 0x1400))
TLS12_SUITES = [0xC02F, 0xC030, 0xC02B, 0xC02C, 0xCCA8, 0xCCA9, 0x009C, 0x009D, 0x003C,
                0x0067, 0x006B, 0xC023, 0xC027, 0xC013, 0x002F, 0x0035]
SSL3_SUITES = [0x000A, 0x0005, 0x0004, 0x0016, 0x0033, 0x0039]


def test_invalid_ciphers_unassigned_with_a_valid_one():
    for suite in UNASSIGNED_13:
        peer = Peer()
        peer.send_hello(hello(suites=[suite, AES128, EMPTY_RENEGOTIATION_INFO_SCSV]))
        peer.expect_flight()
        assert peer.server_hello().cipher_suite == AES128, hex(suite)


@pytest.mark.parametrize("suites", [UNASSIGNED_13, TLS12_SUITES, SSL3_SUITES],
                         ids=["unassigned", "tls12", "ssl3"])
def test_invalid_ciphers_only_invalid_is_handshake_failure(suites):
    for suite in suites:
        peer = Peer()
        peer.send_hello(hello(suites=[suite]))
        peer.expect_alert(AD_HANDSHAKE_FAILURE)


def test_nociphers_tls13_hello_with_only_a_tls12_suite():
    peer = Peer()
    peer.send_hello(hello(suites=[0x0035, EMPTY_RENEGOTIATION_INFO_SCSV]))
    peer.expect_alert(AD_HANDSHAKE_FAILURE)


# --- test-tls13-unrecognised-groups.py ---------------------------------------------------

UNKNOWN = {"EC": list(range(34, 255)), "FFDHE": list(range(261, 507))}


@pytest.mark.parametrize("size", [64, 128, 256])
@pytest.mark.parametrize("rng", ["EC", "FFDHE"])
@pytest.mark.parametrize("known", [SECP256R1, FFDHE2048], ids=["secp256r1", "ffdhe2048"])
def test_unrecognised_groups(rng, size, known):
    unknown = UNKNOWN[rng]
    bogus = [(g, b"\xab" * size) for g in unknown]
    # only unknown key shares, the known group first in supported_groups: HRR
    peer = all_groups_server()
    first = hello(groups=[known, *unknown], shares=bogus)
    peer.send_hello(first)
    assert peer.kinds() == ["hrr", "ccs"], peer.kinds()
    peer.send_hello(retry(peer, first))
    peer.expect_flight(hrr=True)
    peer.finished()
    sanity(peer)
    # the known group last, with its share after the unknown ones: straight ServerHello
    peer = all_groups_server()
    sanity(peer, hello(groups=[*unknown, known], shares=[*bogus, known]))
    # only unknown groups
    peer = all_groups_server()
    peer.send_hello(hello(groups=unknown, shares=bogus))
    peer.expect_alert(AD_HANDSHAKE_FAILURE)


# --- test-tls13-legacy-version.py --------------------------------------------------------

LEGACY_VERSIONS = [0x0300, 0x0000, 0x0200, 0x0002, 0x0100, 0x0103, 0x0102, 0x0001]


def test_legacy_version_below_tls10_is_protocol_version():
    for version in LEGACY_VERSIONS:
        peer = Peer()
        peer.send_hello(hello(versions=[0x0304, version], legacy_version=version),
                        record_version=0x0300)
        peer.expect_alert(AD_PROTOCOL_VERSION)


# --- test-tls13-version-negotiation.py ---------------------------------------------------

@pytest.mark.parametrize("record_version", [0x0300, 0x0301, 0x0302, 0x0303])
def test_version_negotiation_record_layer_version(record_version):
    peer = Peer()
    peer.send_hello(hello(), record_version=record_version)
    peer.expect_flight()
    peer.finished()
    sanity(peer)


@pytest.mark.parametrize("versions", [[0x0309], [0x0300]], ids=["tls 1.8 only", "ssl 3.0"])
def test_version_negotiation_no_acceptable_version(versions):
    peer = Peer()
    peer.send_hello(hello(versions=versions))
    peer.expect_alert(AD_PROTOCOL_VERSION)


def expect_tls12_server_hello(peer: Peer, *, ems: bool = True) -> m.ServerHello:
    assert peer.error is None, peer.error
    sh = peer.server_hello()
    assert sh.legacy_version == 0x0303
    assert E_SUPPORTED_VERSIONS not in sh.extensions
    assert E_RENEGOTIATION_INFO in sh.extensions and (E_EMS in sh.extensions) == ems
    # RFC 8446 4.1.3: a TLS 1.3 server negotiating TLS 1.2 says so in its random.
    assert sh.random[-8:] == DOWNGRD_TLS12
    kinds = [e[1] for e in peer.events if e[0] == "hs12"]
    assert kinds == [11, 12, 14], kinds            # Certificate, SKE, ServerHelloDone
    return sh


@pytest.mark.parametrize("versions", [[0x0309, 0x0303], *[[0x7F00 | d, 0x0303]
                                                          for d in (0, 18, 23, 28, 255)]],
                         ids=lambda v: f"{v[0]:#06x}")
def test_version_negotiation_unknown_version_falls_back_to_tls12(versions):
    peer = Peer()
    peer.send_hello(hello(suites=[AES128, ECDHE_RSA_AES128_GCM, EMPTY_RENEGOTIATION_INFO_SCSV],
                          groups=[SECP256R1, FFDHE2048], shares=[SECP256R1, FFDHE2048],
                          versions=versions, extra=[(E_EMS, b"")]))
    expect_tls12_server_hello(peer)


@pytest.mark.parametrize("legacy", [0x0304, 0x0309])
def test_version_negotiation_legacy_field_above_tls12_means_tls12(legacy):
    peer = Peer()
    peer.send_hello(hello(suites=[AES128, ECDHE_RSA_AES128_GCM, EMPTY_RENEGOTIATION_INFO_SCSV],
                          versions=None, legacy_version=legacy, extra=[(E_EMS, b"")]))
    expect_tls12_server_hello(peer)


def test_version_negotiation_tls11_fallback_is_refused():
    # The script expects a TLS 1.1 ServerHello; tlskit implements no TLS 1.1 (RFC 8996).
    peer = Peer()
    peer.send_hello(hello(versions=[0x0309, 0x0302]))
    peer.expect_alert(AD_PROTOCOL_VERSION)


def test_version_negotiation_sslv2_hello_gets_an_alert():
    # SSLv2-format ClientHello (2-byte header, msg type 1) offering version 3.4.
    body = b"\x01\x03\x04" + b"\x00\x03" + b"\x00\x00" + b"\x00\x10" + b"\x00\x13\x01" + \
        bytes(16)
    peer = Peer()
    peer.feed(bytes((0x80 | (len(body) >> 8), len(body) & 0xFF)) + body)
    assert peer.error is not None and peer.alerts() and peer.alerts()[-1][0] == 2


# --- test-tls13-large-number-of-extensions.py --------------------------------------------

UNASSIGNED_EXT = [*range(2, 5), *range(6, 10), 11, 12, 17, *range(22, 28), *range(29, 41), 46,
                  *range(52, 57), *range(58, 65536)]


def _big_hello(ids, payload) -> Hello:
    extra = [(i, payload(i)) for i in ids if i != E_RENEGOTIATION_INFO]
    return hello(versions=[0x0304], extra=extra)


def _expect_minimal_reply(peer: Peer) -> None:
    peer.expect_flight()
    assert set(peer.server_hello().extensions) == {E_KEY_SHARE, E_SUPPORTED_VERSIONS}
    ee = next(e[2] for e in peer.events if e[:2] == ("hs", 8))
    assert m.EncryptedExtensions.decode(ee).extensions == {}


def test_large_number_of_empty_unassigned_extensions():
    chunks = [UNASSIGNED_EXT[i:i + 4096] for i in range(0, len(UNASSIGNED_EXT), 4096)]
    for n, chunk in enumerate(chunks):
        peer = Peer()
        peer.send_hello(_big_hello(chunk, lambda i: b""))
        _expect_minimal_reply(peer)
        if n == 0:
            peer.finished()
            sanity(peer)


def test_large_number_of_unassigned_extensions_with_random_payload():
    import random
    rnd = random.Random(1)
    chunks = [UNASSIGNED_EXT[i:i + 1024] for i in range(0, len(UNASSIGNED_EXT), 1024)]
    for chunk in chunks[::4]:   # every fourth chunk of the script's 64 (time)
        peer = Peer()
        peer.send_hello(_big_hello(chunk, lambda i: rnd.randbytes(rnd.randrange(65))))
        _expect_minimal_reply(peer)


# --- test-tls13-shuffled-extentions.py ---------------------------------------------------

SHUFFLE_REASON = (
    "tlskit bug: a second ClientHello whose extensions are in a different order than the "
    "first is accepted; tlsfuzzer expects illegal_parameter (RFC 8446 4.1.2: the client "
    "MUST send the same ClientHello, changed only as listed)")


@pytest.mark.parametrize("unassigned", [0, 4096], ids=["known", "unassigned"])
def test_shuffled_extensions_hrr_reversed_extensions(unassigned):
    """The known extensions alone, or followed by 4096 unassigned ones."""
    peer = Peer()
    first = hello(shares=[], extra=[(i, b"") for i in range(58, 58 + unassigned)])
    peer.send_hello(first)
    assert peer.kinds() == ["hrr", "ccs"]
    second = retry(peer, first)
    second.exts.reverse()
    peer.send_hello(second)
    peer.expect_alert(AD_ILLEGAL)


def test_shuffled_extensions_hrr_unchanged_order_with_cookie_is_fine():
    # The control: the same extensions in the same order (plus the cookie) complete.
    peer = Peer()
    first = hello(shares=[], extra=[(i, b"") for i in range(58, 58 + 64)])
    peer.send_hello(first)
    peer.send_hello(retry(peer, first))
    peer.expect_flight(hrr=True)


# --- test-tls13-obsolete-curves.py (default, strict mode) ---------------------------------

OBSOLETE = [*range(0x0001, 0x0017), *range(0x001A, 0x001D), 0xFF01, 0xFF02]
OBSOLETE_REASON = (
    "tlskit bug: obsolete_RESERVED groups in a TLS 1.3 ClientHello are {}; tlsfuzzer "
    "(strict mode) expects illegal_parameter (RFC 8446 B.3.1.4: MUST NOT be offered or "
    "negotiated in TLS 1.3)")


def obsolete_hello(groups, shares) -> Hello:
    return hello(versions=[0x0304], sig_algs=[RSA_PSS_RSAE_SHA256, RSA_PSS_PSS_SHA256,
                                              ECDSA_SECP256R1_SHA256],
                 groups=groups, shares=shares)


@pytest.mark.parametrize("group", [SECP256R1, SECP384R1, SECP521R1, X25519],
                         ids=["secp256r1", "secp384r1", "secp521r1", "x25519"])
def test_obsolete_curves_valid_groups_work(group):
    sanity(all_groups_server(), obsolete_hello([group], [group]))


@pytest.mark.parametrize("group", [SECP521R1, X448, FFDHE2048, FFDHE3072, FFDHE4096],
                         ids=["secp521r1", "x448", "ffdhe2048", "ffdhe3072", "ffdhe4096"])
def test_default_server_accepts_every_group_it_implements(group):
    """"sanity - secp521r1", "sanity - x448", "TLS 1.3 with ffdhe2048/3072": a default
    server serves a client offering only one of these (its own preference puts the
    common groups first, so they are never chosen over those)."""
    sanity(Peer(), obsolete_hello([group], [group]))


def test_x448_all_zero_share_is_illegal_parameter():
    peer = Peer()
    peer.send_hello(obsolete_hello([X448], [(X448, bytes(56))]))
    peer.expect_alert(AD_ILLEGAL)


@pytest.mark.parametrize("group", OBSOLETE, ids=hex)
def test_obsolete_curves_inconsistent_key_share_is_illegal_parameter(group):
    peer = Peer()
    peer.send_hello(obsolete_hello([SECP256R1], [(group, b"\xab" * 32)]))
    peer.expect_alert(AD_ILLEGAL)


def test_obsolete_curve_share_alone_is_illegal_parameter():
    for group in OBSOLETE:
        peer = Peer()
        peer.send_hello(obsolete_hello([group], [(group, b"\xab" * 32)]))
        peer.expect_alert(AD_ILLEGAL)


def test_obsolete_curve_listed_in_a_tls13_only_hello_is_illegal_parameter():
    """B.3.1.4 / 4.2.7: a client offering TLS 1.3 alone must not list obsolete groups
    ("obsolete group in supported_groups and empty key_share")."""
    for group in OBSOLETE:
        peer = Peer()
        peer.send_hello(obsolete_hello([group], []))
        peer.expect_alert(AD_ILLEGAL)


def test_only_obsolete_curves_listed_by_a_multi_version_client_is_illegal_parameter():
    """tlsfuzzer's hellos offer TLS 1.3 and 1.2: "obsolete group in supported_groups and
    empty key_share" lists nothing a TLS 1.3 handshake could use, so the offer itself is
    the error (B.3.1.4), not a missing common group (handshake_failure)."""
    for group in OBSOLETE:
        peer = Peer()
        peer.send_hello(hello(groups=[group], shares=[]))
        peer.expect_alert(AD_ILLEGAL)
        peer = Peer()
        peer.send_hello(hello(groups=[group, 0xFF02], shares=[]))
        peer.expect_alert(AD_ILLEGAL)


def test_obsolete_curve_listed_by_a_multi_version_client_is_tolerated():
    """A client that also offers TLS 1.2 may list them for 1.2 (tlslite-ng's defaults
    list the brainpool curves); its valid TLS 1.3 share is served, as OpenSSL and Go do."""
    for group in OBSOLETE:
        peer = Peer()
        peer.send_hello(hello(groups=[group, SECP256R1], shares=[SECP256R1]))
        assert peer.error is None and peer.kinds()[0] == "server_hello", peer.kinds()


def test_obsolete_curves_next_to_a_valid_group():
    for group in OBSOLETE:
        bogus = (group, b"\xab" * 32)
        for groups, shares in (([group, SECP256R1], [SECP256R1]),
                               ([group, SECP256R1], [bogus, SECP256R1]),
                               ([SECP256R1, group], [SECP256R1, bogus]),
                               ([SECP256R1, group], [bogus])):
            peer = Peer()  # a TLS 1.3-only hello: listing the obsolete group is enough
            peer.send_hello(obsolete_hello(groups, shares))
            peer.expect_alert(AD_ILLEGAL)


# --- test-tls13-ecdhe-curves.py ----------------------------------------------------------

EC_GROUPS = {"secp256r1": SECP256R1, "secp384r1": SECP384R1, "secp521r1": SECP521R1,
             "x25519": X25519}


def _share(group: int) -> bytes:
    return new_key_share(group, os.urandom).public


@pytest.mark.parametrize("name", EC_GROUPS)
def test_ecdhe_curves(name):
    group = EC_GROUPS[name]
    sanity(all_groups_server(), hello(groups=[group], shares=[group],
                                      sig_algs=[RSA_PSS_RSAE_SHA256, RSA_PSS_PSS_SHA256]))
    good = _share(group)
    other = _share(SECP384R1 if group == SECP256R1 else SECP256R1)
    bad = {"right 0-padded": good + b"\x00", "right-truncated": good[:-1],
           "from other curve": other, "point at infinity": b"\x00"}
    if group != X25519:
        bad["point outside curve"] = good[:-1] + bytes((good[-1] ^ 0xFF,))
        bad["x=0, y=0"] = b"\x04" + bytes(len(good) - 1)
    else:
        bad["all-zero (low order)"] = bytes(32)
    for what, share in bad.items():
        peer = all_groups_server()
        peer.send_hello(hello(groups=[group], shares=[(group, share)]))
        assert peer.error is not None, what
        peer.expect_alert(AD_ILLEGAL)


# --- test-tls13-ffdhe-groups.py ----------------------------------------------------------

def test_ffdhe_groups_all_offered():
    ff = [FFDHE2048, FFDHE3072, FFDHE4096]
    sanity(all_groups_server(), hello(groups=ff, shares=ff))


@pytest.mark.parametrize("group", [FFDHE2048, FFDHE3072], ids=["ffdhe2048", "ffdhe3072"])
def test_ffdhe_groups(group):
    sanity(all_groups_server(), hello(groups=[group], shares=[group]))
    p = ffdhe_prime(group)
    size = p.bit_length() // 8
    good = _share(group)
    bad = {
        "duplicated key share entry": None,
        "right 0-padded": good + b"\x00",
        "right-truncated": good[:-1],
        "key share from other group": _share(FFDHE3072 if group == FFDHE2048 else FFDHE2048),
        "0 as one byte": b"\x00",
        "0 as key share": bytes(size),
        "1 as key share": (1).to_bytes(size, "big"),
        "all bits set": b"\xff" * size,
        "p-1": (p - 1).to_bytes(size, "big"),
        "p": p.to_bytes(size, "big"),
    }
    for what, share in bad.items():
        peer = all_groups_server()
        shares = [group, group] if share is None else [(group, share)]
        if share is None:
            h = hello(groups=[group], shares=[])
            body = ext.decode_key_share_client(key_shares([group], h.shares))
            h.set(E_KEY_SHARE, ext.encode_key_share_client(body + body))
        else:
            h = hello(groups=[group], shares=shares)
        peer.send_hello(h)
        assert peer.error is not None, what
        peer.expect_alert(AD_ILLEGAL)


# --- test-tls13-serverhello-random.py ----------------------------------------------------

def test_serverhello_random_and_key_shares_are_unique():
    randoms, shares = set(), set()
    groups = [SECP256R1, SECP384R1, SECP521R1, X25519, FFDHE2048, FFDHE3072]
    for _ in range(2):
        for group in groups:
            peer = all_groups_server()
            sanity(peer, hello(groups=[group], shares=[group]))
            sh = peer.server_hello()
            assert sh.random != HRR_RANDOM and sh.random[-8:-1] != b"DOWNGRD"
            randoms.add(sh.random)
            shares.add(ext.decode_key_share_server(sh.extensions[E_KEY_SHARE])[1])
    assert len(randoms) == len(shares) == 2 * len(groups)


# --- test-tls13-signature-algorithms.py --------------------------------------------------

PSS2 = [RSA_PSS_RSAE_SHA256, RSA_PSS_PSS_SHA256]


@pytest.mark.parametrize("schemes", [
    [RSA_PKCS1_SHA1, *PSS2],              # tolerance legacy RSA PKCS#1.5
    [0x0A01, *PSS2],                      # tolerance unallocated 0x0A01 (10+RSA)
    [*[(h << 8) | s for s in (3, 2, 1) for h in (1, 2, 3, 4, 5, 6)], 0x0807, 0x0808,
     RSA_PSS_PSS_SHA256, RSA_PSS_PSS_SHA384, RSA_PSS_PSS_SHA512, *PSS2[:1],
     RSA_PSS_RSAE_SHA384, RSA_PSS_RSAE_SHA512],   # unique and well-known, rsa last
], ids=["legacy pkcs1 first", "unallocated 0x0A01", "well-known, rsa last"])
def test_signature_algorithms_tolerance(schemes):
    sanity(Peer(), hello(sig_algs=schemes))


@pytest.mark.parametrize("n", [215, 2355, 8132, 23754, 32717])
def test_signature_algorithms_many_methods(n):
    # "duplicated n non-rsa schemes", "n invalid schemes", "tolerance n methods"
    for schemes in ([0x0202] * (n - 2) + PSS2, [RSA_PKCS1_SHA1] * (n - 2) + PSS2,
                    [(i << 8) | j for i in range(10, 224)
                     for j in range(10, (n - 2) // 214 + 10)] +
                    [(i << 8) | 163 for i in range(10, (n - 2) % 214 + 10)] + PSS2):
        handshake(Peer(), hello(sig_algs=schemes, sig_algs_cert=None))


def test_signature_algorithms_32715_methods_with_sig_alg_cert():
    n = 32715 - 2 - 12
    schemes = [(i << 8) | j for i in range(10, 224) for j in range(10, n // 214 + 10)] + \
        [(i << 8) | 163 for i in range(10, n % 214 + 10)] + PSS2
    handshake(Peer(), hello(sig_algs=schemes))


@pytest.mark.parametrize("body,alert", [
    (b"\x00\x00", AD_DECODE),                                   # empty list
    (b"\x00\x04\x08\x04\x08\x09\x04\x03", AD_DECODE),           # padded sigalgs
    (b"\x00\x01\x02", AD_DECODE),                               # one byte array
    (b"\x00\x05\x08\x04\x08\x09\x02", AD_DECODE),               # three byte array
    (ext.encode_u16_list([0x0418, 0x1801, 0x0A0A, 0x0918, 0xFFFF]), AD_HANDSHAKE_FAILURE),
    (ext.encode_u16_list([RSA_PKCS1_SHA1, RSA_PKCS1_SHA512]), AD_HANDSHAKE_FAILURE),
], ids=["empty list", "padded", "one byte array", "three byte array", "only undefined",
        "only legacy"])
def test_signature_algorithms_malformed_or_unusable(body, alert):
    peer = Peer()
    peer.send_hello(hello().set(E_SIG_ALGS, body))
    peer.expect_alert(alert)


def test_signature_algorithms_fuzzed_list_length():
    # sig_algs last, its list length xor'ed with every value: always decode_error.
    for xor in range(1, 256):
        h = hello().drop(E_SIG_ALGS)
        h.exts.append((E_SIG_ALGS, ext.encode_u16_list(PSS2)))
        raw = bytearray(h.encode())
        raw[-5] ^= xor
        peer = Peer()
        peer.transcript = bytes(raw)
        peer.hello = h
        peer.feed(record(22, bytes(raw), 0x0301))
        peer.expect_alert(AD_DECODE)


# --- test-tls13-rsa-signatures.py, test-tls13-pkcs-signature.py --------------------------

@pytest.mark.parametrize("scheme", [RSA_PSS_RSAE_SHA256, RSA_PSS_RSAE_SHA384,
                                    RSA_PSS_RSAE_SHA512], ids=hex)
def test_rsa_signatures_rsae(scheme):
    peer = sanity(Peer(), hello(sig_algs=[scheme]))
    assert peer.cv_scheme == scheme


@pytest.mark.parametrize("scheme", [RSA_PSS_PSS_SHA256, RSA_PSS_PSS_SHA384,
                                    RSA_PSS_PSS_SHA512], ids=hex)
def test_rsa_signatures_pss_with_rsaencryption_key_is_handshake_failure(scheme):
    peer = Peer()
    peer.send_hello(hello(sig_algs=[scheme]))
    peer.expect_alert(AD_HANDSHAKE_FAILURE)


@pytest.mark.parametrize("hash_id", [1, 2, 3, 4, 5, 6],
                         ids=["md5", "sha1", "sha224", "sha256", "sha384", "sha512"])
def test_pkcs_signature_only_is_handshake_failure(hash_id):
    peer = Peer()
    peer.send_hello(hello(sig_algs=[(hash_id << 8) | 1]))
    peer.expect_alert(AD_HANDSHAKE_FAILURE)


def test_ecdsa_and_eddsa_servers_sign_with_the_offered_scheme():
    peer = sanity(Peer(server_config(key="ec")),
                  hello(sig_algs=[ED25519, ED448, ECDSA_SECP256R1_SHA256]))
    assert peer.cv_scheme == ECDSA_SECP256R1_SHA256


# --- test-tls13-symetric-ciphers.py (negotiation part) -----------------------------------

@pytest.mark.parametrize("suite", [AES128, AES256, CHACHA], ids=hex)
def test_symetric_ciphers_each_suite(suite):
    peer = sanity(Peer(), hello(suites=[suite]))
    assert peer.server_hello().cipher_suite == suite


@pytest.mark.parametrize("suite", [CCM, CCM8], ids=hex)
def test_symetric_ciphers_ccm_is_not_implemented(suite):
    # Not a bug (AES-CCM is optional, RFC 8446 9.1): exclude these probes when running
    # tlsfuzzer against tlskit.
    peer = Peer()
    peer.send_hello(hello(suites=[suite]))
    peer.expect_alert(AD_HANDSHAKE_FAILURE)


# --- test-tls13-nociphers / TLS 1.2 only suites in a TLS 1.2 hello ----------------------

def test_tls12_hello_with_only_cbc_rsa_suite_is_handshake_failure():
    # tlskit's TLS 1.2 is ECDHE+AEAD only: the scripts' TLS_RSA_WITH_AES_128_CBC_SHA
    # default needs "-C TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 -M" against it.
    peer = Peer()
    peer.send_hello(hello12(suites=[RSA_AES128_CBC, EMPTY_RENEGOTIATION_INFO_SCSV]))
    peer.expect_alert(AD_HANDSHAKE_FAILURE)


def test_tls12_hello_without_ems_gets_a_full_handshake_without_it():
    # RFC 7627 5.2: a server may fall back to the legacy master secret (as tlskit does by
    # default); it then does not echo the extension and leaves no session to resume.
    peer = Peer()
    peer.send_hello(hello12(ems=False))
    assert peer.error is None, peer.error
    sh = peer.server_hello()
    assert 23 not in sh.extensions and sh.session_id == b""
    assert [e[1] for e in peer.events if e[0] == "hs12"] == [11, 12, 14]


def test_tls12_hello_without_ems_is_handshake_failure_when_required():
    peer = Peer(server_config(require_extended_master_secret=True))
    peer.send_hello(hello12(ems=False))
    peer.expect_alert(AD_HANDSHAKE_FAILURE)

