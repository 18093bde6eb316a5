"""Hostile-peer tests for tlskit's TLS 1.2 (RFC 5246, 8422, 7627, 5746, 5288, 7905).

Every failure path checks the exact alert, that a `TLSError` and nothing else escapes,
and that ``data_to_send()`` then holds that one alert: in the clear before our write key
is on, protected (and opened here independently) after it (`expect_alert12`).

The hostile peer is a real tlskit peer whose messages are rewritten before it adds them to
its own transcript (`rewriting`), so its signatures and Finished stay consistent and the
failure is the one under test; or its recorded flights, cut apart and re-assembled; or
records sealed with its real keys (`Keys12`).
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlskit import (
    AlertReceived,
    CertifiedKey,
    Connection,
    ConnectionClosed,
    DataReceived,
    HandshakeComplete,
    NamedGroup,
    TLSError,
)
from tlskit import crypto as tcrypto
from tlskit.handshake.client12 import ClientHandshake12
from tlskit.handshake.server12 import ServerHandshake12
from tlskit.wire import messages12 as m12

from ..support.contract import survive
from ..support.pki import AcceptAll, other_pki, pki
from ..support.records import (
    ALERT,
    APPDATA,
    CCS,
    COMPAT_CCS,
    HS,
    MAX_PLAINTEXT,
    Keys12,
    chunked,
    hs_record,
    messages_of,
    record,
    split_records,
)
from .helpers12 import (
    AD,
    CERTIFICATE,
    CERTIFICATE_REQUEST,
    CERTIFICATE_VERIFY,
    CLIENT_HELLO,
    CLIENT_KEY_EXCHANGE,
    DOWNGRD_11,
    DOWNGRD_12,
    ENCRYPTED_EXTENSIONS,
    EXT_ALPN,
    EXT_EC_POINT_FORMATS,
    EXT_EMS,
    EXT_KEY_SHARE,
    EXT_RECORD_SIZE_LIMIT,
    EXT_RENEGOTIATION_INFO,
    EXT_SERVER_NAME,
    EXT_SUPPORTED_GROUPS,
    FINISHED,
    HELLO_REQUEST,
    NEW_SESSION_TICKET,
    SERVER_HELLO_DONE,
    SERVER_KEY_EXCHANGE,
    Run12,
    client12,
    client_auth_kw,
    edit_client_hello,
    edit_server_hello,
    expect_alert12,
    keys12_of,
    message,
    on_msg,
    random_cuts,
    recorded12,
    refragment,
    replay_client12,
    replay_server12,
    rewriting,
    run12,
    seal_as,
    server12,
)

AES128_ECDSA = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
AES256_ECDSA = "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
CHACHA_ECDSA = "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
AEAD_SUITES = [AES128_ECDSA, AES256_ECDSA, CHACHA_ECDSA]
BOTH = {"versions": ["TLSv1.3", "TLSv1.2"]}


def server_hello_case(fn: Any, client_kw: dict[str, Any] | None = None,
                      server_kw: dict[str, Any] | None = None) -> Run12:
    run = run12(client_kw, server_kw)
    with rewriting(ServerHandshake12, edit_server_hello(fn)):
        run.to_server_flight()
    return run


def post_handshake(client_kw: dict[str, Any] | None = None,
                   server_kw: dict[str, Any] | None = None) -> tuple[Run12, Any]:
    """A completed 1.2 connection, and ``forge(ctype, plain)``: a record the server could
    send next (its sequence number is used up, so the server's own records stay in step)."""
    run = run12(client_kw, server_kw).complete()
    return run, lambda ctype, plain, **kw: seal_as(run.server, ctype, plain, **kw)


# =====================================================================================
# Client side: ServerHello (RFC 5246 7.4.1.3)
# =====================================================================================

def _drop(etype: int) -> Any:
    return lambda sh: sh.extensions.pop(etype)


def _set(etype: int, body: bytes) -> Any:
    return lambda sh: sh.extensions.__setitem__(etype, body)


SERVER_HELLO_CASES = {
    # 7.4.1.3: the suite must come from ClientHello.cipher_suites.
    "suite-not-offered": (lambda sh: setattr(sh, "cipher_suite", 0xC02C),
                          {"cipher_suites": [AES128_ECDSA]}, AD.illegal_parameter),
    "suite-rsa-kx": (lambda sh: setattr(sh, "cipher_suite", 0x009C), {}, AD.illegal_parameter),
    "suite-scsv": (lambda sh: setattr(sh, "cipher_suite", 0x00FF), {}, AD.illegal_parameter),
    "suite-tls13-in-12": (lambda sh: setattr(sh, "cipher_suite", 0x1301),
                          {"versions": ["TLSv1.3", "TLSv1.2"]}, AD.illegal_parameter),
    # 7.4.1.3: compression_method from the client's list, which is [null] only.
    "compression-1": (lambda sh: setattr(sh, "compression_method", 1), {},
                      AD.illegal_parameter),
    # RFC 5746 3.4 / 4.1: tlskit insists on secure renegotiation support.
    "no-renegotiation-info": (_drop(EXT_RENEGOTIATION_INFO), {}, AD.handshake_failure),
    # RFC 5746 3.4: a non-empty renegotiated_connection on an initial handshake aborts.
    "renegotiation-info-nonempty": (_set(EXT_RENEGOTIATION_INFO, b"\x0c" + bytes(12)), {},
                                    AD.handshake_failure),
    # RFC 5746 3.2: the body is renegotiated_connection<0..255>; one that is not that
    # vector is decode_error (RFC 5246 7.2.2), as OpenSSL answers it, not a refusal of
    # secure renegotiation.
    "renegotiation-info-empty-body": (_set(EXT_RENEGOTIATION_INFO, b""), {},
                                      AD.decode_error),
    "renegotiation-info-length-overruns": (_set(EXT_RENEGOTIATION_INFO, b"\x05"), {},
                                           AD.decode_error),
    "renegotiation-info-trailing-byte": (_set(EXT_RENEGOTIATION_INFO, b"\x00\x00"), {},
                                         AD.decode_error),
    # RFC 8422 5.2: ec_point_format_list<1..2^8-1>; a body that is not one is decode_error.
    "point-formats-empty-body": (_set(EXT_EC_POINT_FORMATS, b""), {}, AD.decode_error),
    "point-formats-empty-list": (_set(EXT_EC_POINT_FORMATS, b"\x00"), {}, AD.decode_error),
    "point-formats-length-overruns": (_set(EXT_EC_POINT_FORMATS, b"\x05\x00"), {},
                                      AD.decode_error),
    # RFC 8422 5.2: a server's list "MUST contain the value 0 (uncompressed)"; the only
    # format tlskit writes. illegal_parameter, as tlskit's server answers such a client
    # (RFC 8422 5.1.2); OpenSSL 1.1.0 and mbedTLS clients refuse it too.
    "point-formats-compressed-only": (_set(EXT_EC_POINT_FORMATS, b"\x02\x01\x02"), {},
                                      AD.illegal_parameter),
    # RFC 7627 5.3: with require_extended_master_secret, no fallback to the legacy one.
    "no-ems": (_drop(EXT_EMS), {"require_extended_master_secret": True},
               AD.handshake_failure),
    # RFC 7627 5.1: extension_data is empty; anything else does not decode.
    "ems-nonempty": (_set(EXT_EMS, b"\x00"), {}, AD.decode_error),
    # 7.4.1.4: an extension the client did not send -> unsupported_extension.
    "unsolicited-unknown": (_set(0x5A5A, b""), {}, AD.unsupported_extension),
    "unsolicited-alpn": (_set(EXT_ALPN, b"\x00\x03\x02h2"), {}, AD.unsupported_extension),
    "unsolicited-session-ticket": (_set(35, b""), {}, AD.unsupported_extension),
    "unsolicited-status-request": (_set(5, b""), {}, AD.unsupported_extension),
    "unsolicited-key-share": (_set(EXT_KEY_SHARE, b"\x00\x1d\x00\x20" + bytes(32)), {},
                              AD.unsupported_extension),
    # tlskit speaks 1.2 and 1.3 only: a 1.1 or SSL 3 answer is protocol_version.
    "version-0x0302": (lambda sh: setattr(sh, "legacy_version", 0x0302), {},
                       AD.protocol_version),
    "version-0x0302-default-client": (lambda sh: setattr(sh, "legacy_version", 0x0302),
                                      {"versions": ["TLSv1.3", "TLSv1.2"]},
                                      AD.protocol_version),
    "version-0x0301": (lambda sh: setattr(sh, "legacy_version", 0x0301), {},
                       AD.protocol_version),
    "version-0x0300": (lambda sh: setattr(sh, "legacy_version", 0x0300), {},
                       AD.protocol_version),
}


@pytest.mark.parametrize("case", SERVER_HELLO_CASES)
def test_client_rejects_server_hello(case: str) -> None:
    fn, client_kw, alert = SERVER_HELLO_CASES[case]
    server_kw = {"versions": ["TLSv1.2"]} if "versions" in client_kw else {}
    run = server_hello_case(fn, client_kw, server_kw)
    expect_alert12(run.client, run.server_flight, alert)


def _rng_with_tail(tail: bytes) -> Any:
    """Randomness whose every 32-byte draw (the ServerHello.random among them) ends in
    `tail`: the server itself then says it, and nothing else in its flight changes."""
    return lambda n: os.urandom(n - 8) + tail if n == 32 else os.urandom(n)


@pytest.mark.parametrize("tail", [
    pytest.param(DOWNGRD_12, id="DOWNGRD01"),
    pytest.param(DOWNGRD_11, id="DOWNGRD00"),
])
def test_client_offering_tls13_rejects_downgrade_sentinel(tail: bytes) -> None:
    """RFC 8446 4.1.3: a TLS 1.3 client that gets a ServerHello for 1.2 or below MUST
    check the last 8 bytes of its random against BOTH sentinels, and abort with
    illegal_parameter on a match."""
    run = run12({"versions": ["TLSv1.3", "TLSv1.2"]},
                {"versions": ["TLSv1.2"], "rng": _rng_with_tail(tail)}).to_server_flight()
    assert run.server_flight[5 + 4 + 2 + 24:5 + 4 + 2 + 32] == tail
    expect_alert12(run.client, run.server_flight, AD.illegal_parameter)


def test_client_without_tls13_accepts_tls12_sentinel() -> None:
    """RFC 8446 4.1.3: the sentinels tell a 1.3 client; a 1.2-only client completes."""
    run = run12({}, {"versions": ["TLSv1.2"], "rng": _rng_with_tail(DOWNGRD_12)}).complete()
    assert run.client.handshake_complete is not None


def test_client_rejects_suite_whose_auth_does_not_match_the_certificate() -> None:
    """RFC 5246 7.4.2 / RFC 8422 5.3: the server's certificate key MUST be compatible with
    the negotiated key exchange. Here the ServerHello says ECDHE_RSA (offered, and with
    the same AEAD and PRF hash as the suite the server really runs) while the certificate
    and the ServerKeyExchange signature are ECDSA: the client must refuse."""
    run = server_hello_case(lambda sh: setattr(sh, "cipher_suite", 0xC02F), {})
    expect_alert12(run.client, run.server_flight, AD.illegal_parameter)


# =====================================================================================
# Client side: Certificate and ServerKeyExchange (RFC 5246 7.4.2, 7.4.3; RFC 8422 5.4)
# =====================================================================================

def test_client_rejects_empty_server_certificate() -> None:
    """An ECDHE_ECDSA server must send a certificate (RFC 5246 7.4.2, RFC 8422 5.3)."""
    run = run12()
    with rewriting(ServerHandshake12, on_msg(CERTIFICATE,
                                             lambda hs, raw: m12.Certificate12([]).encode())):
        run.to_server_flight()
    expect_alert12(run.client, run.server_flight, AD.handshake_failure)


def test_client_rejects_unparseable_server_certificate() -> None:
    run = run12()
    with rewriting(ServerHandshake12, on_msg(
            CERTIFICATE, lambda hs, raw: m12.Certificate12([b"\x30\x03\x02\x01\x01"]).encode())):
        run.to_server_flight()
    expect_alert12(run.client, run.server_flight, AD.bad_certificate)


def _der(issued: Any) -> bytes:
    return issued.certificate.public_bytes(serialization.Encoding.DER)


def _bad_version(der: bytes) -> bytes:
    """X.509 version field v3 (2) -> 10: cryptography refuses it with InvalidVersion,
    which is not a ValueError."""
    return der.replace(b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x0a", 1)


def _unknown_key_oid(der: bytes) -> bytes:
    """The SubjectPublicKeyInfo algorithm of an Ed25519 (1.3.101.112) or EC
    (1.2.840.10045.2.1) leaf turned into an OID no library knows."""
    for oid in (b"\x06\x03\x2b\x65\x70", b"\x06\x07\x2a\x86\x48\xce\x3d\x02\x01"):
        if oid in der:
            return der.replace(oid, oid[:-1] + b"\x7f", 1)
    raise AssertionError("no known key OID")


def _replace_leaf(fn: Any) -> Any:
    def rewrite(hs: Any, raw: bytes) -> bytes:
        chain = m12.Certificate12.decode(memoryview(raw)[4:]).certificates
        return m12.Certificate12([fn(chain[0]), *chain[1:]]).encode()
    return on_msg(CERTIFICATE, rewrite)


def test_client_rejects_certificate_with_invalid_x509_version() -> None:
    """A certificate that does not parse is bad_certificate (RFC 5246 7.2.2), whatever
    exception the parser uses for it: here cryptography's InvalidVersion, which is not
    a ValueError, escapes `on_certificate` and becomes internal_error. The 1.2
    Certificate is in the clear: any on-path attacker can send it."""
    run = run12()
    with rewriting(ServerHandshake12, _replace_leaf(_bad_version)):
        run.to_server_flight()
    expect_alert12(run.client, run.server_flight, AD.bad_certificate)


@pytest.mark.parametrize("how", ["custom-verifier", "verify-mode-report"])
def test_client_rejects_certificate_with_unsupported_key_type(how: str) -> None:
    """A leaf whose key algorithm is unknown cannot verify the ServerKeyExchange: that is
    unsupported_certificate (RFC 5246 7.2.2), not an internal_error from the
    UnsupportedAlgorithm that `public_key()` raises. The default Verifier refuses such a
    leaf earlier; a plugged-in verifier, or verify_mode="report", lets it through."""
    kw: dict[str, Any] = ({"verifier": AcceptAll()} if how == "custom-verifier"
                          else {"verify_mode": "report"})
    run = run12(kw, {"certificate_chain": pki().server_ed.chain,
                     "private_key": pki().server_ed.private_key})
    with rewriting(ServerHandshake12, _replace_leaf(_unknown_key_oid)):
        run.to_server_flight()
    expect_alert12(run.client, run.server_flight, AD.unsupported_certificate)


def test_client_rejects_non_empty_server_name_in_server_hello() -> None:
    """RFC 6066 3: the server_name a server echoes "SHALL be empty" (tlskit's 1.3 client
    answers a non-empty one in EncryptedExtensions with decode_error)."""
    run = server_hello_case(_set(EXT_SERVER_NAME, b"\x00\x00"), {})
    expect_alert12(run.client, run.server_flight, AD.decode_error)


@pytest.mark.parametrize("body", [b"\x00", b"\x01\x00\x00\x00\x00"], ids=["one-byte", "a-request"])
def test_client_rejects_non_empty_status_request_in_server_hello(body: bytes) -> None:
    """RFC 6066 8: a server that will staple answers status_request with empty
    extension_data (OpenSSL's client answers anything else with decode_error); the
    body was not looked at, and the handshake went on."""
    run = server_hello_case(_set(5, body), {"ocsp_stapling": True, "verifier": AcceptAll()})
    expect_alert12(run.client, run.server_flight, AD.decode_error)


def _point(group: int) -> bytes:
    return tcrypto.new_key_share(group, os.urandom).public


def ske_rewrite(change: Any = None, after_sign: Any = None, signer: Any = None) -> Any:
    """Rewrite the ServerKeyExchange: `change` edits it before it is (re-)signed with the
    server's own key (so only the edited field is wrong), `after_sign` after."""
    def fn(hs: Any, raw: bytes) -> bytes:
        ske = m12.ServerKeyExchangeECDHE.decode(memoryview(raw)[4:])
        if change is not None:
            change(ske)
        signed = hs.client_random + hs.server_random + ske.params()
        ske.signature = (signer or (lambda d, s: tcrypto.sign(
            hs.certified.private_key, s, d)))(signed, ske.scheme)
        if after_sign is not None:
            after_sign(ske, hs)
        return ske.encode()
    return on_msg(SERVER_KEY_EXCHANGE, fn)


def _ske(**fields: Any) -> Any:
    def change(ske: Any) -> None:
        for k, v in fields.items():
            setattr(ske, k, v(ske) if callable(v) else v)
    return change


def _not_on_curve() -> bytes:
    pub = bytearray(_point(0x0017))
    pub[-1] ^= 1
    return bytes(pub)


SKE_CASES = {
    # RFC 8422 5.4: the curve must be one the client offered (default: x25519, P-256, P-384).
    "curve-not-offered": (_ske(group=0x0019, public=lambda s: _point(0x0019)), None, {},
                          AD.illegal_parameter),
    # Offered for TLS 1.3, but not an ECDHE curve for TLS 1.2.
    "ffdhe-group": (_ske(group=0x0100, public=bytes(255)), None,
                    {**BOTH, "groups": ["x25519", "secp256r1", "ffdhe2048"]},
                    AD.illegal_parameter),
    "mlkem-group": (_ske(group=0x11EC, public=bytes(255)), None,
                    {**BOTH, "groups": ["x25519", "secp256r1", "X25519MLKEM768"]},
                    AD.illegal_parameter),
    # RFC 8446 4.2.8.2 / RFC 8422 5.4: bad points are illegal_parameter.
    "x25519-all-zero": (_ske(public=bytes(32)), None, {}, AD.illegal_parameter),
    "x25519-short": (_ske(public=bytes(range(1, 32))), None, {}, AD.illegal_parameter),
    "x25519-long": (_ske(public=bytes(range(1, 34))), None, {}, AD.illegal_parameter),
    "p256-compressed": (_ske(public=lambda s: b"\x02" + s.public[1:33]), None,
                        {"groups": ["secp256r1"]}, AD.illegal_parameter),
    "p256-not-on-curve": (_ske(public=lambda s: _not_on_curve()), None,
                          {"groups": ["secp256r1"]}, AD.illegal_parameter),
    "p256-infinity": (_ske(public=b"\x00"), None, {"groups": ["secp256r1"]},
                      AD.illegal_parameter),
    "p256-hybrid-form": (_ske(public=lambda s: b"\x06" + s.public[1:]), None,
                         {"groups": ["secp256r1"]}, AD.illegal_parameter),
    # 7.4.3: the signature must verify over client_random + server_random + params.
    "signature-flipped": (None, lambda ske, hs: setattr(
        ske, "signature", ske.signature[:-1] + bytes((ske.signature[-1] ^ 1,))), {},
        AD.decrypt_error),
    # signature<0..2^16-1> (RFC 5246 4.7): an empty one decodes, then fails to verify.
    "signature-empty": (None, lambda ske, hs: setattr(ske, "signature", b""), {},
                        AD.decrypt_error),
    "signature-other-key": (None, lambda ske, hs: setattr(
        ske, "signature", tcrypto.sign(other_pki().server.private_key, ske.scheme,
                                       hs.client_random + hs.server_random + ske.params())),
        {}, AD.decrypt_error),
    "signature-without-randoms": (None, lambda ske, hs: setattr(
        ske, "signature", tcrypto.sign(hs.certified.private_key, ske.scheme, ske.params())),
        {}, AD.decrypt_error),
    # 7.4.1.4.1: the scheme must be one the client offered.
    "scheme-not-offered": (_ske(scheme=0x0503), None,
                           {"signature_schemes": ["ecdsa_secp256r1_sha256"]},
                           AD.illegal_parameter),
    # RSA-PSS is offered, but it cannot be the signature of an EC key.
    "scheme-wrong-key-type": (None, lambda ske, hs: setattr(ske, "scheme", 0x0804), {},
                              AD.illegal_parameter),
}


def _sha1_ecdsa(data: bytes, _scheme: int) -> bytes:
    return pki().server.private_key.sign(data, ec.ECDSA(hashes.SHA1()))


@pytest.mark.parametrize("case", SKE_CASES)
def test_client_rejects_server_key_exchange(case: str) -> None:
    change, after_sign, client_kw, alert = SKE_CASES[case]
    server_kw = {"versions": ["TLSv1.2"]} if "versions" in client_kw else {}
    run = run12(client_kw, server_kw)
    with rewriting(ServerHandshake12, ske_rewrite(change, after_sign)):
        run.to_server_flight()
    expect_alert12(run.client, run.server_flight, alert)


def test_client_rejects_sha1_signature_scheme() -> None:
    """ecdsa_sha1 (0x0203) is never offered: a genuine SHA-1 signature is still refused."""
    run = run12()
    with rewriting(ServerHandshake12, ske_rewrite(_ske(scheme=0x0203), signer=_sha1_ecdsa)):
        run.to_server_flight()
    expect_alert12(run.client, run.server_flight, AD.illegal_parameter)


@pytest.mark.parametrize("curve_type", [0, 1, 2, 4, 255])
def test_client_rejects_non_named_curve_type(curve_type: int) -> None:
    """RFC 8422 5.4: only named_curve (3); explicit curves are deprecated."""
    def fn(hs: Any, raw: bytes) -> bytes:
        return raw[:4] + bytes((curve_type,)) + raw[5:]
    run = run12()
    with rewriting(ServerHandshake12, on_msg(SERVER_KEY_EXCHANGE, fn)):
        run.to_server_flight()
    expect_alert12(run.client, run.server_flight, AD.illegal_parameter)


# =====================================================================================
# Client side: message order and change_cipher_spec (RFC 5246 7.1, 7.3, 7.4)
# =====================================================================================

def _reordered(order: str) -> Any:
    """Build a server flight from letters: H=ServerHello C=Certificate K=SKE D=SHD,
    R=CertificateRequest S=CertificateStatus F=Finished E=EncryptedExtensions
    N=NewSessionTicket Q=HelloRequest Y=ClientHello."""
    def build(real: list[bytes]) -> bytes:
        sh, cert, ske, shd = real
        extra = {"R": message(CERTIFICATE_REQUEST, b"\x01\x40\x00\x02\x04\x03\x00\x00"),
                 "S": message(22, b"\x01\x00\x00\x01\x00"), "F": message(FINISHED, bytes(12)),
                 "E": message(ENCRYPTED_EXTENSIONS, b"\x00\x00"),
                 "N": message(NEW_SESSION_TICKET, bytes(6)), "Y": message(CLIENT_HELLO, b""),
                 "Z": message(99, b"")}
        table = {"H": sh, "C": cert, "K": ske, "D": shd, **extra}
        return hs_record(*(table[c] for c in order))
    return build


ORDER_CASES = [
    "HKCD",    # SKE before Certificate
    "HD",      # straight to ServerHelloDone
    "HCD",     # ECDHE without its ServerKeyExchange (a SKIP-TLS style downgrade)
    "HHCKD",   # ServerHello twice
    "HCCKD",   # Certificate twice
    "HCKKD",   # ServerKeyExchange twice
    "HCKF",    # Finished in place of ServerHelloDone
    "HCRKD",   # CertificateRequest before ServerKeyExchange
    "HCSKD",   # CertificateStatus that was not requested
    "HECKD",   # a TLS 1.3 EncryptedExtensions
    "HCKND",   # NewSessionTicket that was not offered, and out of place
    "HCKYD",   # a ClientHello from the server
    "HCKZD",   # an unknown message type
    "CHKD",    # Certificate before ServerHello
]


@pytest.mark.parametrize("order", ORDER_CASES)
def test_client_rejects_out_of_order_message(order: str) -> None:
    run = run12().to_server_flight()
    flight = _reordered(order)(messages_of(run.server_flight))
    expect_alert12(run.client, flight, AD.unexpected_message)


@pytest.mark.parametrize("extra", ["D", "F", "N", "R", "H"])
def test_client_rejects_message_after_server_hello_done(extra: str) -> None:
    """After ServerHelloDone the client has sent its flight (write key on): the next
    message must be CCS; a handshake message is unexpected and the alert is protected."""
    run = run12().to_server_flight()
    run.client.receive_data(run.server_flight)
    assert len(split_records(run.client.data_to_send())) == 3  # CKE, CCS, Finished
    bad = _reordered(extra)(messages_of(run.server_flight))
    expect_alert12(run.client, bad, AD.unexpected_message)


def test_client_alert_in_same_call_follows_its_flight() -> None:
    """A second ServerHelloDone in the same bytes: the client's flight (3 records) is
    already queued, then the protected alert."""
    run = run12().to_server_flight()
    expect_alert12(run.client, _reordered("HCKDD")(messages_of(run.server_flight)),
                   AD.unexpected_message, leading=3)


def test_client_rejects_second_ccs() -> None:
    run = run12().to_server_final()
    ccs, _fin = split_records(run.server_final)
    assert ccs == COMPAT_CCS
    run.client.receive_data(ccs)
    expect_alert12(run.client, ccs, AD.unexpected_message)


def test_client_rejects_ccs_after_handshake() -> None:
    run, _keys = post_handshake()
    expect_alert12(run.client, COMPAT_CCS, AD.unexpected_message)


def test_client_rejects_protected_ccs_after_handshake() -> None:
    run, forge = post_handshake()
    expect_alert12(run.client, forge(CCS, b"\x01"), AD.unexpected_message)


@pytest.mark.parametrize("body", [b"\x02", b"\x00", b"\x01\x01", b""],
                         ids=["02", "00", "0101", "empty"])
def test_client_rejects_ccs_with_wrong_body(body: bytes) -> None:
    run = run12().to_server_final()
    _ccs, fin = split_records(run.server_final)
    expect_alert12(run.client, record(CCS, body) + fin, AD.unexpected_message)


@pytest.mark.parametrize("upto", [1, 2, 3], ids=["after-SH", "after-Cert", "after-SKE"])
def test_client_rejects_ccs_before_server_hello_done(upto: int) -> None:
    """CCS is only due after the client's own Finished (RFC 5246 7.3): before it there is
    no pending key at all. (CVE-2014-0224 accepted an early CCS.)"""
    run = run12().to_server_flight()
    msgs = messages_of(run.server_flight)
    flight = hs_record(*msgs[:upto]) + COMPAT_CCS + hs_record(*msgs[upto:])
    expect_alert12(run.client, flight, AD.unexpected_message)


def test_client_rejects_ccs_inside_a_fragmented_message() -> None:
    run = run12().to_server_final()  # the client now waits for the server's CCS
    nst = message(NEW_SESSION_TICKET, bytes(10))
    expect_alert12(run.client, hs_record(nst[:3]) + run.server_final, AD.unexpected_message)


def test_tls12_only_client_rejects_ccs_before_server_hello() -> None:
    """A client that offers TLS 1.2 only is not in TLS 1.3's middlebox-compatibility
    world (RFC 8446 5, D.4): for it a CCS before any ServerHello is simply unexpected
    (RFC 5246 7.1: CCS announces a key change; there is nothing to change)."""
    run = run12().to_server_flight()
    expect_alert12(run.client, COMPAT_CCS + run.server_flight, AD.unexpected_message)


def test_client_rejects_finished_without_ccs() -> None:
    run = run12().to_server_final()  # the client now waits for the server's CCS
    expect_alert12(run.client, hs_record(message(FINISHED, bytes(12))), AD.unexpected_message)


# =====================================================================================
# Client side: the server's Finished and the protected record layer
# =====================================================================================

def _server_finished(run: Run12) -> tuple[Keys12, bytes]:
    keys = keys12_of(run.server)
    _ccs, fin = split_records(run.server_final)
    ctype, plain = keys.open(0, fin)
    assert ctype == HS and plain[0] == FINISHED
    return keys, plain


@pytest.mark.parametrize("suite", AEAD_SUITES)
def test_client_rejects_bad_server_finished(suite: str) -> None:
    run = Run12(client12(cipher_suites=[suite]), server12()).to_server_final()
    keys, fin = _server_finished(run)
    bad = fin[:-1] + bytes((fin[-1] ^ 0x80,))
    expect_alert12(run.client, COMPAT_CCS + keys.seal(0, HS, bad), AD.decrypt_error)


def test_client_rejects_reflected_client_finished() -> None:
    """The client's own Finished sent back under the server's key: wrong label."""
    run = run12().to_server_final()
    _cke, _ccs, cfin = split_records(run.client_flight)
    _, own = keys12_of(run.client).open(0, cfin)
    expect_alert12(run.client, COMPAT_CCS + keys12_of(run.server).seal(0, HS, own),
                   AD.decrypt_error)


def test_client_rejects_finished_of_wrong_length() -> None:
    run = run12().to_server_final()
    keys, fin = _server_finished(run)
    expect_alert12(run.client, COMPAT_CCS + keys.seal(0, HS, message(FINISHED, fin[4:] + b"x")),
                   AD.decode_error)


def _flip(rec: bytes, pos: int) -> bytes:
    return rec[:pos] + bytes((rec[pos] ^ 0x01,)) + rec[pos + 1:]


@pytest.mark.parametrize("where", ["explicit-nonce", "ciphertext", "tag", "type", "version"])
def test_client_rejects_tampered_finished_record(where: str) -> None:
    run = run12().to_server_final()
    ccs, fin = split_records(run.server_final)
    pos = {"explicit-nonce": 5 + 3, "ciphertext": 5 + 8 + 2, "tag": len(fin) - 1,
           "type": 0, "version": 2}[where]
    tampered = _flip(fin, pos)
    if where == "type":
        tampered = bytes((APPDATA,)) + fin[1:]
    # A version other than 0x0303 is refused before the tag is checked (as OpenSSL and Go
    # do); every other change fails the tag (the header is in the additional data).
    expect_alert12(run.client, ccs + tampered,
                   AD.protocol_version if where == "version" else AD.bad_record_mac)


@pytest.mark.parametrize("suite", AEAD_SUITES)
@pytest.mark.parametrize("pos", [5, 12, 20, -16, -1])
def test_client_rejects_flipped_byte_in_application_data(suite: str, pos: int) -> None:
    run, _ = post_handshake({"cipher_suites": [suite]})
    run.server.send_data(b"some application data")
    rec = run.server.data_to_send()
    expect_alert12(run.client, _flip(rec, pos % len(rec)), AD.bad_record_mac)


def test_client_rejects_replayed_record() -> None:
    """The sequence number is in the additional data: a replay does not authenticate."""
    run, _ = post_handshake()
    run.server.send_data(b"once")
    rec = run.server.data_to_send()
    assert run.client.receive_data(rec) == [DataReceived(b"once")]
    expect_alert12(run.client, rec, AD.bad_record_mac)


def test_client_rejects_record_too_short_for_nonce_and_tag() -> None:
    run, _ = post_handshake()
    expect_alert12(run.client, record(APPDATA, bytes(23)), AD.bad_record_mac)


@pytest.mark.parametrize("suite", [AES128_ECDSA, AES256_ECDSA])
def test_client_uses_explicit_nonce_as_sent(suite: str) -> None:
    """RFC 5288 3: the 8-byte nonce_explicit travels in each GCM record and is chosen by
    the sender (it need not be the sequence number). A server that uses other values
    must still be understood: records re-encrypted here with random explicit nonces
    (same key, same sequence numbers in the additional data) all decrypt."""
    run = Run12(client12(cipher_suites=[suite]), server12()).to_server_final()
    keys, fin = _server_finished(run)
    rng = random.Random(5)
    events = run.client.receive_data(COMPAT_CCS + keys.seal(0, HS, fin, explicit=rng.randbytes(8)))
    assert any(isinstance(e, HandshakeComplete) for e in events)
    for seq, payload in enumerate([b"first", b"x" * MAX_PLAINTEXT, b"", b"last"], start=1):
        rec = keys.seal(seq, APPDATA, payload, explicit=rng.randbytes(8))
        got = run.client.receive_data(rec)
        assert got == ([DataReceived(payload)] if payload else [])
    # And the client's own records carry its sequence number, starting after Finished.
    run.client.send_data(b"reply")
    out = run.client.data_to_send()
    assert out[5:13] == (1).to_bytes(8, "big")
    assert run.server.receive_data(out) == [DataReceived(b"reply")]


def test_client_rejects_explicit_nonce_on_chacha20() -> None:
    """RFC 7905 2: ChaCha20-Poly1305 records carry no explicit nonce: 8 bytes that a
    GCM-minded peer puts in front do not authenticate."""
    run = Run12(client12(cipher_suites=[CHACHA_ECDSA]), server12()).to_server_final()
    ccs, fin = split_records(run.server_final)
    assert len(fin) == 5 + 16 + 16  # Finished (16) + tag: no explicit nonce
    keys = keys12_of(run.server)
    _, _plain = keys.open(0, fin)
    padded = record(HS, bytes(8) + fin[5:])
    expect_alert12(run.client, ccs + padded, AD.bad_record_mac)


@pytest.mark.parametrize("suite", AEAD_SUITES)
def test_client_rejects_plaintext_over_2_14(suite: str) -> None:
    """RFC 5246 6.2.3: TLSCiphertext.length = plaintext + AEAD overhead; a plaintext over
    2^14 is record_overflow (6.2.1), even when it authenticates."""
    run, forge = post_handshake({"cipher_suites": [suite]})
    ok = forge(APPDATA, bytes(MAX_PLAINTEXT))
    assert run.client.receive_data(ok) == [DataReceived(bytes(MAX_PLAINTEXT))]
    expect_alert12(run.client, forge(APPDATA, bytes(MAX_PLAINTEXT + 1)),
                   AD.record_overflow)


def test_client_accepts_finished_split_across_protected_records() -> None:
    """RFC 5246 6.2.1: a handshake message may span records, protected ones included."""
    run = run12().to_server_final()
    keys, fin = _server_finished(run)
    events = run.client.receive_data(COMPAT_CCS + keys.seal(0, HS, fin[:5]) +
                                     keys.seal(1, HS, fin[5:]))
    assert any(isinstance(e, HandshakeComplete) for e in events)
    run.server.flow.skip(1)  # the client got seq 0 and 1 from us: the server's next is 2
    run.server.send_data(b"after")
    assert run.client.receive_data(run.server.data_to_send()) == [DataReceived(b"after")]


def test_client_rejects_empty_protected_handshake_record() -> None:
    """RFC 5246 6.2.1: zero-length Handshake fragments MUST NOT be sent."""
    run = run12().to_server_final()
    keys, _fin = _server_finished(run)
    expect_alert12(run.client, COMPAT_CCS + keys.seal(0, HS, b""), AD.unexpected_message)


def test_client_enforces_its_record_size_limit() -> None:
    """RFC 8449 4: once the server has answered record_size_limit (allowed in a 1.2
    ServerHello), "an endpoint that receives a record larger than its advertised limit
    MUST generate a fatal record_overflow alert" (in 1.2 the limit is on the plaintext)."""
    run = server_hello_case(_set(EXT_RECORD_SIZE_LIMIT, b"\x40\x00"),
                            {"record_size_limit": 1000})
    run.client.receive_data(run.server_flight)
    run.server.receive_data(run.client.data_to_send())
    run.client.receive_data(run.server.data_to_send())
    assert run.client.handshake_complete is not None
    run.server.send_data(b"x" * 1000)
    assert run.client.receive_data(run.server.data_to_send()) == [DataReceived(b"x" * 1000)]
    # tlskit's server keeps within the limit (its records would be cut at 1000), so the
    # oversized record is forged with the server's keys.
    expect_alert12(run.client, seal_as(run.server, 23, b"x" * 1001), AD.record_overflow)


def test_client_honours_server_record_size_limit() -> None:
    """RFC 8449 4: the client's records respect the limit the server announced."""
    run = server_hello_case(_set(EXT_RECORD_SIZE_LIMIT, b"\x00\x40"), {})
    run.client.receive_data(run.server_flight)
    run.server.receive_data(run.client.data_to_send())
    run.client.receive_data(run.server.data_to_send())
    run.client.send_data(b"y" * 200)
    recs = split_records(run.client.data_to_send())
    keys = keys12_of(run.client)
    assert [len(keys.open(seq, r)[1]) for seq, r in enumerate(recs, start=1)] == [64, 64, 64, 8]


def test_client_rejects_plaintext_handshake_record_over_2_14() -> None:
    run = run12().to_server_flight()
    expect_alert12(run.client, record(HS, bytes(MAX_PLAINTEXT + 1)), AD.record_overflow)


def test_client_rejects_ciphertext_over_2_14_plus_2048() -> None:
    run, _ = post_handshake()
    expect_alert12(run.client, record(APPDATA, bytes(MAX_PLAINTEXT + 2049)),
                   AD.record_overflow)


def test_client_rejects_plaintext_application_data_during_handshake() -> None:
    run = run12().to_server_flight()
    expect_alert12(run.client, record(APPDATA, b"hi"), AD.unexpected_message)


# =====================================================================================
# Client side: renegotiation and alerts after the handshake
# =====================================================================================

def test_hello_request_after_handshake_gets_warning_no_renegotiation() -> None:
    """RFC 5746 4.5 / RFC 5246 7.2.2: a client that will not renegotiate answers a
    HelloRequest with a warning no_renegotiation, and the connection goes on."""
    run, forge = post_handshake()
    assert run.client.receive_data(forge(HS, message(HELLO_REQUEST))) == []
    out = run.client.data_to_send()
    (rec,) = split_records(out)
    # opened by the MITM under the client's logged key at the client's own sequence number
    (seen,) = run.client.flow.last
    assert (seen.protected, seen.raw) == (True, None) and rec[0] == ALERT
    assert (seen.ctype, seen.content) == (ALERT, bytes((1, AD.no_renegotiation)))
    assert run.server.receive_data(out) == []  # a warning: the server goes on as well
    # Both directions still work, sequence numbers in step.
    run.server.send_data(b"still there?")
    assert run.client.receive_data(run.server.data_to_send()) == [DataReceived(b"still there?")]
    run.client.send_data(b"yes")
    assert run.server.receive_data(run.client.data_to_send()) == [DataReceived(b"yes")]


def test_client_ends_a_flood_of_hello_requests() -> None:
    """Each refused HelloRequest costs a warning: 16 are answered with no_renegotiation,
    the 17th ends the connection with unexpected_message (as for a server's flood of
    renegotiation hellos)."""
    run, forge = post_handshake()
    for _ in range(16):
        assert run.client.receive_data(forge(HS, message(HELLO_REQUEST))) == []
        assert len(split_records(run.client.data_to_send())) == 1
    err = expect_alert12(run.client, forge(HS, message(HELLO_REQUEST)), AD.unexpected_message)
    assert "too many HelloRequests" in str(err)


def test_a_tls13_only_message_in_a_tls12_handshake_is_unexpected() -> None:
    """EncryptedExtensions (8) has no place in TLS 1.2: among the server's flight it is
    unexpected_message, refused by the state table before any decoding."""
    run = run12().to_server_flight()
    sh, cert, ske, shd = messages_of(run.server_flight)
    err = expect_alert12(run.client, hs_record(sh, message(8, b"\x00\x00"), cert, ske, shd),
                         AD.unexpected_message)
    assert str(err) == ("encrypted_extensions is not expected in state WAIT_CERTIFICATE of "
                        "the TLSv1.2 client (waiting for Certificate)")


def test_hello_request_with_body_is_decode_error() -> None:
    run, forge = post_handshake()
    expect_alert12(run.client, forge(HS, message(HELLO_REQUEST, b"\x00")),
                   AD.decode_error)


def test_hello_request_during_handshake_is_ignored() -> None:
    """RFC 5246 7.4.1.1: "This message will be ignored by the client if the client is
    currently negotiating a session." It is also outside the handshake hashes (7.4.9)."""
    run = run12().to_server_flight()
    sh, cert, ske, shd = messages_of(run.server_flight)
    run.client.receive_data(hs_record(sh, cert, message(HELLO_REQUEST), ske, shd))
    run.server.receive_data(run.client.data_to_send())
    run.client.receive_data(run.server.data_to_send())
    assert run.client.handshake_complete is not None


def test_warning_alert_flood_ends_in_unexpected_message() -> None:
    """RFC 5246 7.2: warnings do not end a 1.2 connection, but an endless stream of them
    is a denial of service; tlskit accepts 16, the 17th is unexpected_message."""
    run, forge = post_handshake()
    warnings = [forge(ALERT, bytes((1, AD.no_renegotiation))) for _ in range(16)]
    assert run.client.receive_data(b"".join(warnings)) == []
    assert run.client.data_to_send() == b""
    run.client.send_data(b"still usable")
    assert run.server.receive_data(run.client.data_to_send()) == [DataReceived(b"still usable")]
    expect_alert12(run.client, forge(ALERT, bytes((1, AD.user_canceled))),
                   AD.unexpected_message)


def test_fatal_user_canceled_ends_a_tls12_connection() -> None:
    """RFC 5246 7.2: a fatal alert ends the connection whatever its description; only
    warnings are skipped (a warning user_canceled is, above). OpenSSL, BoringSSL and Go
    agree."""
    run, forge = post_handshake()
    events = run.client.receive_data(forge(ALERT, bytes((2, AD.user_canceled)))
                                     + forge(APPDATA, b"after"))
    assert events == [ConnectionClosed(AD.user_canceled)]
    assert run.client.data_to_send() == b""
    with pytest.raises(AlertReceived) as later:
        run.client.send_data(b"late")
    assert later.value.alert == AD.user_canceled


def test_warning_unrecognized_name_before_a_tls12_server_hello_is_ignored() -> None:
    """A 1.2 server may warn unrecognized_name before its ServerHello (OpenSSL's SNI
    callback can): the client's version is not settled yet, the warning is skipped as
    OpenSSL, BoringSSL and Go skip it, and the handshake completes."""
    run = run12().to_server_flight()
    warning = record(ALERT, bytes((1, AD.unrecognized_name)))
    assert run.client.receive_data(warning + run.server_flight) == []
    run.server.receive_data(run.client.data_to_send())
    run.client.receive_data(run.server.data_to_send())
    assert run.client.handshake_complete is not None and run.client.version == "TLSv1.2"


@pytest.mark.parametrize("split", [0, 1], ids=["server-hello", "certificate"])
def test_warning_between_handshake_fragments_is_skipped(split: int) -> None:
    """RFC 5246 6.2.1: record types may interleave, so an alert between the fragments of a
    handshake message is read (as OpenSSL, BoringSSL and Go read it): a warning is
    skipped, in the ServerHello (version not settled yet) as in the Certificate."""
    run = run12().to_server_flight()
    recs = split_records(run.server_flight)
    body = recs[split][5:]
    recs[split] = (record(HS, body[:9]) + record(ALERT, bytes((1, AD.unrecognized_name)))
                   + record(HS, body[9:]))
    assert run.client.receive_data(b"".join(recs)) == []
    run.server.receive_data(run.client.data_to_send())
    run.client.receive_data(run.server.data_to_send())
    assert run.client.handshake_complete is not None and run.client.version == "TLSv1.2"


def test_fatal_alert_between_handshake_fragments_is_the_peers() -> None:
    run = run12().to_server_flight()
    sh, cert, *_rest = split_records(run.server_flight)
    events = run.client.receive_data(sh + record(HS, cert[5:50])
                                     + record(ALERT, bytes((2, AD.internal_error))))
    assert events == [ConnectionClosed(AD.internal_error)]
    assert run.client.data_to_send() == b""


def test_fatal_alert_from_server_ends_connection() -> None:
    run, forge = post_handshake()
    events = run.client.receive_data(forge(ALERT, bytes((2, AD.internal_error))))
    assert events == [ConnectionClosed(AD.internal_error)]
    assert run.client.data_to_send() == b""  # nothing answers a fatal alert
    with pytest.raises(TLSError) as info:
        run.client.send_data(b"late")
    assert info.value.alert == AD.internal_error


def test_close_notify_in_tls12_has_no_half_close() -> None:
    run, forge = post_handshake()
    assert run.client.receive_data(forge(ALERT, b"\x01\x00")) == [ConnectionClosed(None)]
    with pytest.raises(Exception, match=r"half-close|closed"):
        run.client.send_data(b"late")


# =====================================================================================
# Server side: ClientHello (RFC 5246 7.4.1.2, RFC 7627, RFC 5746, RFC 8422 5.1)
# =====================================================================================

def _ch_case(fn: Any, client_kw: dict[str, Any] | None = None,
             server_kw: dict[str, Any] | None = None) -> tuple[Any, bytes]:
    client = client12(**(client_kw or {}))
    return server12(**(server_kw or {})), edit_client_hello(fn)(client.data_to_send())


def _pop(etype: int) -> Any:
    return lambda ch: ch.extensions.pop(etype)


def _put(etype: int, body: bytes) -> Any:
    return lambda ch: ch.extensions.__setitem__(etype, body)


CLIENT_HELLO_CASES = {
    # RFC 7627 5.3: with require_extended_master_secret, the legacy one is refused.
    "no-ems": (_pop(EXT_EMS), {}, {"require_extended_master_secret": True},
               AD.handshake_failure),
    # RFC 5746 3.6: a non-empty renegotiated_connection on an initial handshake aborts.
    "renegotiation-info-nonempty": (_put(EXT_RENEGOTIATION_INFO, b"\x0c" + bytes(12)), {}, {},
                                    AD.handshake_failure),
    # RFC 5746 3.2 / RFC 5246 7.2.2: a body that is not renegotiated_connection<0..255>
    # does not decode (OpenSSL: decode_error too); only a well-formed non-empty one is
    # the handshake_failure of 3.6.
    "renegotiation-info-empty-body": (_put(EXT_RENEGOTIATION_INFO, b""), {}, {},
                                      AD.decode_error),
    "renegotiation-info-length-overruns": (_put(EXT_RENEGOTIATION_INFO, b"\x05"), {}, {},
                                           AD.decode_error),
    # RFC 6066 8: a status_request body that does not parse is decode_error (RFC 5246
    # 7.2.2), staple configured or not, as the TLS 1.3 server answers it (and OpenSSL).
    "status-request-empty-body": (_put(5, b""), {}, {}, AD.decode_error),
    "status-request-cut-short": (_put(5, b"\x01\x00"), {}, {}, AD.decode_error),
    "renegotiation-info-trailing-byte": (_put(EXT_RENEGOTIATION_INFO, b"\x00\x00"), {}, {},
                                         AD.decode_error),
    # No common suite: an ECDSA-only server and an ECDHE_RSA-only client.
    "no-common-suite": (lambda ch: None,
                        {"cipher_suites": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]}, {},
                        AD.handshake_failure),
    "only-tls13-suites-in-12-hello": (lambda ch: setattr(ch, "cipher_suites", [0x1301, 0x1302]),
                                      {}, {}, AD.handshake_failure),
    # No common curve.
    "no-common-curve": (lambda ch: None, {"groups": ["x25519"]}, {"groups": ["secp384r1"]},
                        AD.handshake_failure),
    # RFC 7919 4: FFDHE groups offered, none acceptable, no other suite: insufficient_security.
    "only-ffdhe-groups": (_put(EXT_SUPPORTED_GROUPS, b"\x00\x02\x01\x00"), {}, {},
                          AD.insufficient_security),
    # RFC 8422 5.1: an ECDSA certificate on a curve the client does not support.
    "cert-curve-not-supported": (lambda ch: None, {"groups": ["x25519", "secp384r1"]}, {},
                                 AD.handshake_failure),
    # RFC 8422 5.1.2: a point-format list without uncompressed is illegal_parameter.
    "point-formats-compressed-only": (_put(EXT_EC_POINT_FORMATS, b"\x01\x01"), {}, {},
                                      AD.illegal_parameter),
    "point-formats-two-compressed": (_put(EXT_EC_POINT_FORMATS, b"\x02\x01\x02"), {}, {},
                                     AD.illegal_parameter),
    # RFC 5246 7.4.1.2: the list must hold null; a client offering only DEFLATE cannot be
    # answered (RFC 8446 D.5 makes the same illegal_parameter for TLS 1.3).
    "no-null-compression": (lambda ch: setattr(ch, "compression_methods", b"\x01"), {}, {},
                            AD.illegal_parameter),
}


@pytest.mark.parametrize("case", CLIENT_HELLO_CASES)
def test_server_rejects_client_hello(case: str) -> None:
    fn, client_kw, server_kw, alert = CLIENT_HELLO_CASES[case]
    server, hello = _ch_case(fn, client_kw, server_kw)
    expect_alert12(server, hello, alert)


def test_server_rejects_non_empty_extended_master_secret() -> None:
    """RFC 7627 5.1: the extension_data of extended_master_secret is empty; a body that
    does not decode as that is decode_error (as tlskit's client answers a server)."""
    server, hello = _ch_case(_put(EXT_EMS, b"\x00"))
    expect_alert12(server, hello, AD.decode_error)


def test_server_accepts_scsv_instead_of_renegotiation_info() -> None:
    """RFC 5746 3.6: the SCSV alone also signals support; the answer carries an empty
    renegotiation_info."""
    def fn(ch: Any) -> None:
        del ch.extensions[EXT_RENEGOTIATION_INFO]
        ch.cipher_suites.append(0x00FF)
    server, hello = _ch_case(fn)
    server.receive_data(hello)
    sh = messages_of(server.data_to_send())[0]
    assert b"\xff\x01\x00\x01\x00" in sh


def test_server_accepts_point_formats_with_uncompressed_among_others() -> None:
    server, hello = _ch_case(_put(EXT_EC_POINT_FORMATS, b"\x03\x01\x00\x02"))
    server.receive_data(hello)
    assert messages_of(server.data_to_send())[-1] == message(SERVER_HELLO_DONE)


def test_server_rejects_fallback_scsv_when_it_speaks_tls13() -> None:
    """RFC 7507 3 (which updates RFC 5246): TLS_FALLBACK_SCSV in a ClientHello whose
    highest version (1.2) is below the server's (1.3) MUST get inappropriate_fallback."""
    server, hello = _ch_case(lambda ch: ch.cipher_suites.append(0x5600))
    expect_alert12(server, hello, AD.inappropriate_fallback)


# =====================================================================================
# Server side: the client's second flight
# =====================================================================================

def _client_flight(hook: Any = None, client_kw: dict[str, Any] | None = None,
                   server_kw: dict[str, Any] | None = None) -> Run12:
    run = run12(client_kw, server_kw).to_server_flight()
    if hook is None:
        run.client.receive_data(run.server_flight)
    else:
        with rewriting(ClientHandshake12, hook):
            run.client.receive_data(run.server_flight)
    run.client_flight = run.client.data_to_send()
    return run


def _cke(public: Any) -> Any:
    return on_msg(CLIENT_KEY_EXCHANGE, lambda hs, raw: m12.ClientKeyExchangeECDHE(
        public(raw) if callable(public) else public).encode())


CKE_CASES = {
    "x25519-all-zero": (bytes(32), {}),
    "x25519-short": (bytes(range(1, 32)), {}),
    "x25519-long": (bytes(range(1, 34)), {}),
    "p256-compressed": (lambda raw: b"\x03" + raw[6:38], {"groups": ["secp256r1"]}),
    "p256-not-on-curve": (lambda raw: _not_on_curve(), {"groups": ["secp256r1"]}),
    "p256-infinity": (b"\x00", {"groups": ["secp256r1"]}),
    "p256-x25519-sized": (bytes(range(1, 33)), {"groups": ["secp256r1"]}),
}


@pytest.mark.parametrize("case", CKE_CASES)
def test_server_rejects_bad_client_key_exchange_point(case: str) -> None:
    public, server_kw = CKE_CASES[case]
    run = _client_flight(_cke(public), {}, server_kw)
    expect_alert12(run.server, run.client_flight, AD.illegal_parameter)


def test_server_rejects_empty_client_key_exchange() -> None:
    run = _client_flight(on_msg(CLIENT_KEY_EXCHANGE, lambda hs, raw: message(16, b"\x00")))
    expect_alert12(run.server, run.client_flight, AD.decode_error)


@pytest.mark.parametrize("suite", AEAD_SUITES)
def test_server_rejects_bad_client_finished(suite: str) -> None:
    def flip(hs: Any, raw: bytes) -> bytes:
        return raw[:-1] + bytes((raw[-1] ^ 0x40,))
    run = _client_flight(on_msg(FINISHED, flip), {"cipher_suites": [suite]})
    expect_alert12(run.server, run.client_flight, AD.decrypt_error)


def test_server_rejects_client_finished_of_wrong_length() -> None:
    run = _client_flight(on_msg(FINISHED, lambda hs, raw: message(FINISHED, raw[4:] + b"\x00")))
    expect_alert12(run.server, run.client_flight, AD.decode_error)


def test_server_rejects_reflected_server_style_finished() -> None:
    """verify_data computed with the "server finished" label: wrong, decrypt_error."""
    def relabel(hs: Any, raw: bytes) -> bytes:
        return message(FINISHED, hs.finished_data(False, hs.transcript.digest()))
    run = _client_flight(on_msg(FINISHED, relabel))
    expect_alert12(run.server, run.client_flight, AD.decrypt_error)


def test_server_rejects_protected_application_data_before_finished() -> None:
    run = _client_flight()
    cke, ccs, _fin = split_records(run.client_flight)
    early = keys12_of(run.client).seal(0, APPDATA, b"GET / HTTP/1.1\r\n")
    expect_alert12(run.server, cke + ccs + early, AD.unexpected_message)


def test_server_rejects_plaintext_application_data_before_ccs() -> None:
    run = _client_flight()
    cke, _ccs, _fin = split_records(run.client_flight)
    expect_alert12(run.server, cke + record(APPDATA, b"GET /"), AD.unexpected_message)


def test_server_rejects_finished_without_ccs() -> None:
    run = _client_flight()
    cke, _ccs, fin = split_records(run.client_flight)
    _, plain = keys12_of(run.client).open(0, fin)
    expect_alert12(run.server, cke + hs_record(plain), AD.unexpected_message)


def test_server_rejects_ccs_before_client_key_exchange() -> None:
    run = _client_flight()
    expect_alert12(run.server, COMPAT_CCS + run.client_flight, AD.unexpected_message)


def test_server_rejects_second_ccs() -> None:
    run = _client_flight()
    cke, ccs, fin = split_records(run.client_flight)
    expect_alert12(run.server, cke + ccs + ccs + fin, AD.unexpected_message)


def test_server_rejects_ccs_with_wrong_body() -> None:
    run = _client_flight()
    cke, _ccs, fin = split_records(run.client_flight)
    expect_alert12(run.server, cke + record(CCS, b"\x02") + fin, AD.unexpected_message)


def test_server_rejects_tampered_finished_record() -> None:
    run = _client_flight()
    cke, ccs, fin = split_records(run.client_flight)
    expect_alert12(run.server, cke + ccs + _flip(fin, len(fin) - 3), AD.bad_record_mac)


def test_server_rejects_certificate_it_did_not_request() -> None:
    def add_cert(hs: Any, raw: bytes) -> list[bytes]:
        return [m12.Certificate12(list(CertifiedKey(pki().client.chain,
                                                    pki().client.private_key).cert_der)).encode(),
                raw]
    run = _client_flight(on_msg(CLIENT_KEY_EXCHANGE, add_cert))
    expect_alert12(run.server, run.client_flight, AD.unexpected_message)


def test_server_refuses_renegotiation_after_handshake_with_warning() -> None:
    """A ClientHello after the handshake: tlskit does not renegotiate. RFC 5246 7.2.2: the
    server answers with a warning no_renegotiation and the connection goes on (the client
    decides whether to continue). Botan's client, which goes on, lost its connection to
    the fatal unexpected_message tlskit used to send (tests/interop/test_botan.py)."""
    run = run12().complete()
    hello = messages_of(run.client_hello)[0]
    assert run.server.receive_data(seal_as(run.client, HS, hello)) == []
    out = run.server.data_to_send()
    (rec,) = split_records(out)
    (seen,) = run.server.flow.last
    assert (seen.protected, rec[0]) == (True, ALERT)
    assert (seen.ctype, seen.content) == (ALERT, bytes((1, AD.no_renegotiation)))
    assert run.client.receive_data(out) == []  # a warning: the client goes on as well
    run.client.send_data(b"fine, no renegotiation")
    assert run.server.receive_data(run.client.data_to_send()) == [
        DataReceived(b"fine, no renegotiation")]
    run.server.send_data(b"still here")
    assert run.client.receive_data(run.server.data_to_send()) == [DataReceived(b"still here")]


def test_server_ends_a_flood_of_renegotiation_hellos() -> None:
    """Each refused ClientHello costs a decode: 16 are answered with no_renegotiation,
    the 17th ends the connection with unexpected_message."""
    run = run12().complete()
    hello = messages_of(run.client_hello)[0]
    for _ in range(16):
        assert run.server.receive_data(seal_as(run.client, HS, hello)) == []
        assert len(split_records(run.server.data_to_send())) == 1
    err = expect_alert12(run.server, seal_as(run.client, HS, hello), AD.unexpected_message)
    assert "too many renegotiation attempts" in str(err)


def test_x448_ecdhe_handshake_completes() -> None:
    """RFC 8422 5.1.1: x448 is a TLS 1.2 ECDHE group; preferred by both ends, it is used,
    and both derive the same keys (the handshake finishes). (P-256 is offered too: the
    server's certificate is P-256, which RFC 8422 5.1 wants in the client's list.)"""
    groups = ["x448", "secp256r1"]
    run = run12({"groups": groups}, {"groups": groups}).complete()
    assert run.server.handshake_complete.group == NamedGroup.x448  # type: ignore[union-attr]
    assert run.client.handshake_complete.group == NamedGroup.x448  # type: ignore[union-attr]


# --- client authentication ------------------------------------------------------------------

def _alice(**kw: Any) -> dict[str, Any]:
    kw.setdefault("certificate", CertifiedKey(pki().client.chain, pki().client.private_key))
    return kw


def test_server_client_auth_works() -> None:
    run = Run12(client12(**_alice()), server12(**client_auth_kw())).complete()
    assert run.server.handshake_complete.peer_certificates[0] == pki().client.certificate  # type: ignore[union-attr]


def test_server_rejects_bad_certificate_verify() -> None:
    def flip(hs: Any, raw: bytes) -> bytes:
        cv = m12.CertificateVerify12.decode(memoryview(raw)[4:])
        cv.signature = cv.signature[:-1] + bytes((cv.signature[-1] ^ 1,))
        return cv.encode()
    run = _client_flight(on_msg(CERTIFICATE_VERIFY, flip), _alice(), client_auth_kw())
    expect_alert12(run.server, run.client_flight, AD.decrypt_error)


def test_server_rejects_empty_certificate_verify_signature_as_decrypt_error() -> None:
    """RFC 5246 4.7: signature<0..2^16-1>, so an empty one decodes and then fails to
    verify: decrypt_error (OpenSSL too), not decode_error (found by tlsfuzzer's
    test-certificate-verify-malformed, "0 byte sig in CertificateVerify")."""
    def empty(hs: Any, raw: bytes) -> bytes:
        cv = m12.CertificateVerify12.decode(memoryview(raw)[4:])
        return m12.CertificateVerify12(cv.scheme, b"").encode()
    run = _client_flight(on_msg(CERTIFICATE_VERIFY, empty), _alice(), client_auth_kw())
    err = expect_alert12(run.server, run.client_flight, AD.decrypt_error)
    assert "signature" in str(err)


def _impersonating(owner: Any, key: Any) -> CertifiedKey:
    """The owner's (public) certificate with a key that is not the owner's. A config
    refuses the pair, so the key is swapped in afterwards, as an attacker's stack would."""
    ck = CertifiedKey(owner.chain, owner.private_key)
    ck.private_key = key
    return ck


def test_server_rejects_certificate_verify_by_another_key() -> None:
    """Alice's certificate, but the signature is made with a key that is not hers."""
    imposter = ec.generate_private_key(ec.SECP256R1())
    run = _client_flight(None, _alice(certificate=_impersonating(pki().client, imposter)),
                         client_auth_kw())
    expect_alert12(run.server, run.client_flight, AD.decrypt_error)


@pytest.mark.parametrize(("scheme", "alert"), [(0x0203, AD.illegal_parameter),
                                               (0x0804, AD.illegal_parameter)],
                         ids=["ecdsa_sha1-not-offered", "rsa-pss-for-ec-key"])
def test_server_rejects_certificate_verify_scheme(scheme: int, alert: AD) -> None:
    def swap(hs: Any, raw: bytes) -> bytes:
        cv = m12.CertificateVerify12.decode(memoryview(raw)[4:])
        return m12.CertificateVerify12(scheme, cv.signature).encode()
    run = _client_flight(on_msg(CERTIFICATE_VERIFY, swap), _alice(), client_auth_kw())
    expect_alert12(run.server, run.client_flight, alert)


@pytest.mark.parametrize("client_auth", ["required", "optional"])
def test_server_rejects_client_certificate_without_certificate_verify(client_auth: str) -> None:
    """RFC 5246 7.4.8: a client certificate with signing capability MUST be followed by
    CertificateVerify, the only proof that the client holds the certificate's key. Here
    the client presents Alice's (public) certificate with a key that is not Alice's and
    simply leaves CertificateVerify out, going straight to CCS and Finished: the server
    must see CCS where CertificateVerify is due (unexpected_message), not authenticate
    the peer as Alice."""
    imposter = ec.generate_private_key(ec.SECP256R1())
    run = _client_flight(lambda hs, raw: None if raw[0] == CERTIFICATE_VERIFY else raw,
                         _alice(certificate=_impersonating(pki().client, imposter)),
                         client_auth_kw(client_auth=client_auth))
    assert [r[0] for r in split_records(run.client_flight)] == [HS, CCS, HS]
    assert [m[0] for m in messages_of(run.client_flight)] == [CERTIFICATE, CLIENT_KEY_EXCHANGE]
    expect_alert12(run.server, run.client_flight, AD.unexpected_message)


def _certificate_types(types: bytes) -> Any:
    """The server's CertificateRequest with its certificate_types replaced."""
    return on_msg(CERTIFICATE_REQUEST, lambda hs, raw: message(
        CERTIFICATE_REQUEST, bytes((len(types),)) + types + raw[5 + raw[4]:]))


@pytest.mark.parametrize("types", [b"\x01", b"\x63", b"\x01\x02"],
                         ids=["rsa_sign", "unknown", "rsa_sign-dss_sign"])
def test_client_withholds_a_certificate_of_a_type_not_requested(types: bytes) -> None:
    """RFC 5246 7.4.6 (RFC 8422 5.5): the client's certificate "MUST be compatible with
    the certificate types listed in CertificateRequest". An ECDSA client asked for
    rsa_sign (or a type it does not know) answers with an empty Certificate, as Go's
    client does; a server requiring a certificate then ends with handshake_failure. It
    sent its ECDSA chain and a CertificateVerify, and the server accepted them."""
    run = run12(_alice(), client_auth_kw())
    with rewriting(ServerHandshake12, _certificate_types(types)):
        run.to_server_flight()
    run.client.receive_data(run.server_flight)
    run.client_flight = run.client.data_to_send()
    assert messages_of(run.client_flight)[0] == m12.Certificate12([]).encode()
    expect_alert12(run.server, run.client_flight, AD.handshake_failure)


@pytest.mark.parametrize("types", [b"\x40", b"\x63\x40"], ids=["ecdsa_sign", "unknown-ecdsa_sign"])
def test_client_sends_its_certificate_when_its_type_is_requested(types: bytes) -> None:
    run = run12(_alice(), client_auth_kw())
    with rewriting(ServerHandshake12, _certificate_types(types)):
        run.complete()
    assert run.server.handshake_complete.peer_certificates[0] == pki().client.certificate  # type: ignore[union-attr]


def _authorities(names: bytes) -> Any:
    """The server's CertificateRequest with its certificate_authorities replaced."""
    def swap(hs: Any, raw: bytes) -> bytes:
        schemes_at = 5 + raw[4]
        end = schemes_at + 2 + int.from_bytes(raw[schemes_at:schemes_at + 2], "big")
        return message(CERTIFICATE_REQUEST, raw[4:end] + names)
    return on_msg(CERTIFICATE_REQUEST, swap)


@pytest.mark.parametrize("names", [
    b"\x00\x02\x00\x00",                  # an empty DistinguishedName
    b"\x00\x04\x00\x02\x04\x00",          # not a SEQUENCE
    b"\x00\x06\x00\x04\x30\x02\x31\x00",  # an empty RelativeDistinguishedName
    b"\x00\x05\x00\x03\x30\x01\x31",      # a Name running past its end
], ids=["empty-name", "not-sequence", "empty-rdn", "overrun"])
def test_client_refuses_malformed_ca_names_with_decode_error(names: bytes) -> None:
    """RFC 5246 7.4.4: each DistinguishedName is a DER Name, read strictly."""
    run = run12(_alice(), client_auth_kw())
    with rewriting(ServerHandshake12, _authorities(names)):
        run.to_server_flight()
    expect_alert12(run.client, run.server_flight, AD.decode_error)


def test_client_holds_back_a_certificate_the_named_cas_did_not_issue() -> None:
    """The server names only another CA: a client holding two certificates its CA did
    not issue sends neither (an empty Certificate, then the server's handshake_failure),
    as Go's client does. (A single certificate is sent whatever the names: d039f68.)"""
    second = CertifiedKey(pki().server.chain, pki().server.private_key)
    run = run12(_alice(certificates=[second]), client_auth_kw())
    other = other_pki().ca.root.subject.public_bytes()
    with rewriting(ServerHandshake12, _authorities(
            (len(other) + 2).to_bytes(2, "big") + len(other).to_bytes(2, "big") + other)):
        run.to_server_flight()
    run.client.receive_data(run.server_flight)
    run.client_flight = run.client.data_to_send()
    assert messages_of(run.client_flight)[0] == m12.Certificate12([]).encode()
    expect_alert12(run.server, run.client_flight, AD.handshake_failure)


def test_server_requiring_client_auth_rejects_empty_certificate() -> None:
    """RFC 5246 7.4.6: "If the client does not send any certificates, the server MAY at
    its discretion either continue the handshake without client authentication, or
    respond with a fatal handshake_failure alert." certificate_required (116) is a
    TLS 1.3 alert (RFC 8446 6.2) that a TLS 1.2 peer does not know."""
    run = _client_flight(None, {}, client_auth_kw())
    assert messages_of(run.client_flight)[0] == m12.Certificate12([]).encode()
    expect_alert12(run.server, run.client_flight, AD.handshake_failure)


def test_server_with_optional_client_auth_accepts_empty_certificate() -> None:
    run = Run12(client12(), server12(**client_auth_kw(client_auth="optional"))).complete()
    assert run.server.handshake_complete.peer_certificates == []  # type: ignore[union-attr]


def test_server_rejects_certificate_verify_after_empty_certificate() -> None:
    def add_cv(hs: Any, raw: bytes) -> list[bytes]:
        return [raw, m12.CertificateVerify12(0x0403, bytes(70)).encode()]
    run = _client_flight(on_msg(CLIENT_KEY_EXCHANGE, add_cv), {},
                         client_auth_kw(client_auth="optional"))
    expect_alert12(run.server, run.client_flight, AD.unexpected_message)


def test_server_rejects_certificate_verify_before_client_key_exchange() -> None:
    held: list[bytes] = []

    def swap(hs: Any, raw: bytes) -> Any:
        if raw[0] == CLIENT_KEY_EXCHANGE:
            held.append(raw)
            return None
        if raw[0] == CERTIFICATE_VERIFY:
            return [raw, *held]
        return raw
    run = _client_flight(swap, _alice(), client_auth_kw())
    assert [m[0] for m in messages_of(run.client_flight)] == [
        CERTIFICATE, CERTIFICATE_VERIFY, CLIENT_KEY_EXCHANGE]
    expect_alert12(run.server, run.client_flight, AD.unexpected_message)


def test_server_rejects_client_certificate_from_unknown_ca() -> None:
    stranger = other_pki().client
    run = _client_flight(None, _alice(certificate=CertifiedKey(stranger.chain,
                                                               stranger.private_key)),
                         client_auth_kw(send_client_ca_names=False))  # (else none sent)
    exc = expect_alert12(run.server, run.client_flight, AD.unknown_ca)
    assert isinstance(exc, TLSError)


def test_server_rejects_client_certificate_with_invalid_x509_version() -> None:
    run = _client_flight(_replace_leaf(_bad_version), _alice(), client_auth_kw())
    expect_alert12(run.server, run.client_flight, AD.bad_certificate)


def test_server_rejects_client_certificate_with_unsupported_key_type() -> None:
    """As on the client: with a plugged-in client_verifier, the CertificateVerify check
    meets `public_key()`'s UnsupportedAlgorithm and reports internal_error."""
    run = _client_flight(_replace_leaf(_unknown_key_oid), _alice(),
                         client_auth_kw(client_verifier=AcceptAll()))
    expect_alert12(run.server, run.client_flight, AD.unsupported_certificate)


@pytest.mark.parametrize("version", [0x0302, 0x0301, 0x0300])
def test_tls13_capable_server_rejects_old_client_version(version: int) -> None:
    server, hello = _ch_case(lambda ch: setattr(ch, "legacy_version", version))
    expect_alert12(server, hello, AD.protocol_version)


@pytest.mark.parametrize("version", [0x0302, 0x0301, 0x0300])
def test_tls12_only_server_rejects_old_client_version(version: int) -> None:
    """RFC 5246 E.1: "If server supports (or is willing to use) only versions greater
    than client_version, it MUST send a "protocol_version" alert message and close the
    connection." A server configured for TLS 1.2 only answers a TLS 1.1 (or SSL 3.0)
    ClientHello with a TLS 1.2 ServerHello instead."""
    server, hello = _ch_case(lambda ch: setattr(ch, "legacy_version", version), {},
                             {"versions": ["TLSv1.2"]})
    expect_alert12(server, hello, AD.protocol_version)


def test_tls12_only_server_accepts_higher_client_version() -> None:
    """RFC 5246 E.1: a client_version above the server's highest gets the highest."""
    run = run12({}, {"versions": ["TLSv1.2"]})
    run.client_hello = edit_client_hello(lambda ch: setattr(ch, "legacy_version", 0x0304))(
        run.client.data_to_send())
    run.server.receive_data(run.client_hello)
    assert messages_of(run.server.data_to_send())[0][4:6] == b"\x03\x03"


# =====================================================================================
# The record version once TLS 1.2 is settled (RFC 5246 6.2.1; OpenSSL and Go refuse
# any other with protocol_version)
# =====================================================================================

OTHER_VERSIONS = [0x0301, 0x0302, 0x0300, 0x0304]


def with_version(data: bytes, index: int, version: int) -> bytes:
    """`data` with the version field of its record `index` replaced (a plaintext
    record: nothing authenticates its header)."""
    recs = split_records(data)
    recs[index] = recs[index][:1] + version.to_bytes(2, "big") + recs[index][3:]
    return b"".join(recs)


@pytest.mark.parametrize("version", OTHER_VERSIONS)
@pytest.mark.parametrize("index", [1, 2, 3], ids=["certificate", "server-key-exchange",
                                                  "server-hello-done"])
def test_client_refuses_a_plaintext_record_of_another_version_after_the_server_hello(
        index: int, version: int) -> None:
    run = run12().to_server_flight()
    flight = with_version(run.server_flight, index, version)
    recs = split_records(flight)
    assert run.client.receive_data(b"".join(recs[:index])) == []
    err = expect_alert12(run.client, b"".join(recs[index:]), AD.protocol_version)
    assert f"{version:#06x}" in str(err)


@pytest.mark.parametrize("version", OTHER_VERSIONS)
def test_client_refuses_the_servers_change_cipher_spec_of_another_version(
        version: int) -> None:
    run = run12().to_server_final()
    expect_alert12(run.client, with_version(run.server_final, 0, version), AD.protocol_version)


@pytest.mark.parametrize("version", OTHER_VERSIONS)
def test_client_refuses_a_protected_record_of_another_version(version: int) -> None:
    """Sealed with that version in its additional data too, so its tag verifies: the
    version is what is refused, before anything is decrypted."""
    run, forge = post_handshake()
    run.server.send_data(b"fine")
    assert run.client.receive_data(run.server.data_to_send()) == [DataReceived(b"fine")]
    expect_alert12(run.client, forge(APPDATA, b"x" * 100, version=version),
                   AD.protocol_version)


@pytest.mark.parametrize("version", [0x0300, 0x0301, 0x0302, 0x0304])
def test_client_reads_a_server_hello_record_of_another_tls_version(version: int) -> None:
    """The record carrying the ServerHello comes before the version is settled: its
    version is not checked (as OpenSSL and Go read it), only what follows it."""
    run = run12().to_server_flight()
    run.server_flight = with_version(run.server_flight, 0, version)
    run.client.receive_data(run.server_flight)
    run.server.receive_data(run.client.data_to_send())
    run.client.receive_data(run.server.data_to_send())
    assert run.client.handshake_complete is not None and run.client.version == "TLSv1.2"


@pytest.mark.parametrize("version", [0x0300, 0x0301, 0x0302, 0x0304])
def test_server_reads_a_client_hello_record_of_another_tls_version(version: int) -> None:
    """RFC 5246 E.1: a client's first records may say 0x0301 (or anything of major 3);
    tlskit's own client sends 0x0301."""
    run = run12()
    run.client_hello = run.client.data_to_send()
    assert run.client_hello[1:3] == b"\x03\x01"
    run.server.receive_data(with_version(run.client_hello, 0, version))
    run.client.receive_data(run.server.data_to_send())
    run.server.receive_data(run.client.data_to_send())
    run.client.receive_data(run.server.data_to_send())
    assert run.server.handshake_complete is not None and run.server.version == "TLSv1.2"


@pytest.mark.parametrize("version", OTHER_VERSIONS)
@pytest.mark.parametrize("index", [0, 1], ids=["client-key-exchange", "change-cipher-spec"])
def test_server_refuses_a_plaintext_record_of_another_version_after_the_server_hello(
        index: int, version: int) -> None:
    run = run12().to_client_flight()
    recs = split_records(with_version(run.client_flight, index, version))
    assert run.server.receive_data(b"".join(recs[:index])) == []
    expect_alert12(run.server, b"".join(recs[index:]), AD.protocol_version)


@pytest.mark.parametrize("version", OTHER_VERSIONS)
def test_server_refuses_a_protected_record_of_another_version(version: int) -> None:
    run, _ = post_handshake()
    expect_alert12(run.server, seal_as(run.client, APPDATA, b"hello", version=version),
                   AD.protocol_version)


def test_a_tls12_connection_reads_the_records_of_its_own_version() -> None:
    """What both sides send carries 0x0303 from the ServerHello on, and is read."""
    run = run12().complete()
    for data in (run.server_flight, run.client_flight, run.server_final):
        assert {rec[1:3] for rec in split_records(data)} == {b"\x03\x03"}
    run.client.send_data(b"ping")
    assert run.server.receive_data(run.client.data_to_send()) == [DataReceived(b"ping")]


# =====================================================================================
# Properties: only TLSError, whatever arrives; any record splitting of a valid handshake
# =====================================================================================

# TLSKIT_HOSTILE_EXAMPLES=5000 for a long (and randomized) hunt; by default the examples
# are derandomized, so the suite gives the same answer on every run.
EXAMPLES = int(os.environ.get("TLSKIT_HOSTILE_EXAMPLES", "250"))
PROPS = settings(max_examples=EXAMPLES, deadline=None,
                 derandomize="TLSKIT_HOSTILE_EXAMPLES" not in os.environ,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

mutation = st.tuples(st.sampled_from(["flip", "set", "cut", "insert", "dup"]),
                     st.integers(0, 1 << 16), st.integers(0, 255))


def mutate(data: bytes, ops: list[tuple[str, int, int]]) -> bytes:
    buf = bytearray(data)
    for op, pos, value in ops:
        at = pos % (len(buf) + 1)
        if op == "flip" and buf:
            buf[at % len(buf)] ^= 1 << (value % 8)
        elif op == "set" and buf:
            buf[at % len(buf)] = value
        elif op == "cut":
            del buf[at:at + value % 16 + 1]
        elif op == "insert":
            buf[at:at] = bytes((value,)) * (value % 5 + 1)
        else:
            buf[at:at] = buf[at:at + value % 32]
    return bytes(buf)


def _replay_client_after_hello() -> Any:
    client = replay_client12()
    assert client.data_to_send() == recorded12().client_hello
    return client


@PROPS
@given(st.binary(max_size=3000), st.integers(1, 4000))
def test_random_bytes_to_tls12_client(data: bytes, step: int) -> None:
    survive(_replay_client_after_hello(), chunked(data, step))


@PROPS
@given(st.binary(max_size=3000), st.integers(1, 4000))
def test_random_bytes_to_tls12_server(data: bytes, step: int) -> None:
    survive(replay_server12(versions=["TLSv1.2"]), chunked(data, step))


@PROPS
@given(st.sampled_from(["server_flight", "server_final"]), st.lists(mutation, min_size=1,
                                                                      max_size=6))
def test_mutated_server_flights_to_tls12_client(which: str, ops: list[Any]) -> None:
    rec = recorded12()
    _survive_mutated(_replay_client_after_hello(), rec.server_flight, rec.client_flight,
                     rec.server_final, mutate_first=which == "server_flight", ops=ops)


@PROPS
@given(st.sampled_from(["client_hello", "client_flight"]), st.lists(mutation, min_size=1,
                                                                      max_size=6))
def test_mutated_client_flights_to_tls12_server(which: str, ops: list[Any]) -> None:
    rec = recorded12()
    _survive_mutated(replay_server12(), rec.client_hello, rec.server_flight, rec.client_flight,
                     mutate_first=which == "client_hello", ops=ops)


def _survive_mutated(conn: Connection, first: bytes, answer: bytes, second: bytes, *,
                     mutate_first: bool, ops: list[Any]) -> None:
    """`conn` must survive the recorded peer flight `first` mutated by `ops`; or `first`
    intact (answered with the recorded `answer`, as replays are deterministic), then
    `second` mutated."""
    if mutate_first:
        survive(conn, [mutate(first, ops)])
        return
    conn.receive_data(first)
    assert conn.data_to_send() == answer
    survive(conn, [mutate(second, ops)])


@PROPS
@given(st.lists(mutation, min_size=1, max_size=4), st.integers(0, 3))
def test_mutated_protected_records_after_tls12_handshake(ops: list[Any], side: int) -> None:
    """Sealed with the real keys, so the mutation reaches the content (type and all)."""
    rec = recorded12()
    client = _replay_client_after_hello()
    client.receive_data(rec.server_flight)
    client.data_to_send()
    client.receive_data(rec.server_final)
    assert client.handshake_complete is not None
    plain = mutate(bytes((0, 0, 0, 0)) if side % 2 else b"\x01\x00", ops)
    ctype = (HS, ALERT, APPDATA, CCS)[side]
    survive(client, [rec.server_keys.seal(1, ctype, plain)])


CONFIGS = [({}, {}), ({"cipher_suites": [CHACHA_ECDSA]}, {}),
           ({"cipher_suites": [AES256_ECDSA]}, {"groups": ["secp384r1", "secp256r1"]}),
           ({"versions": ["TLSv1.3", "TLSv1.2"]}, {"versions": ["TLSv1.2"]}),
           (_alice(), client_auth_kw())]


@PROPS
@given(st.sampled_from(range(len(CONFIGS))), st.integers(0, 1 << 32))
def test_any_record_splitting_of_a_tls12_handshake_completes(config: int, seed: int) -> None:
    """RFC 5246 6.2.1: handshake messages may be split across records and several may
    share one; and TCP may deliver any byte boundaries. Both, at random, on every flight.
    (The cuts come from a seeded Random, not from Hypothesis draws: ECDSA signatures vary
    in length from run to run, and the draws must not depend on that.)"""
    client_kw, server_kw = CONFIGS[config]
    rng = random.Random(seed)
    client, server = client12(**client_kw), server12(**server_kw)
    cuts = random_cuts(rng)
    for _ in range(6):
        moved = False
        for src, dst in ((client, server), (server, client)):
            data = src.data_to_send()
            if not data:
                continue
            moved = True
            data = refragment(data, cuts)
            bounds = sorted({0, len(data), *(rng.randrange(len(data) + 1)
                                            for _ in range(rng.randrange(6)))})
            for a, b in itertools.pairwise(bounds):
                dst.receive_data(data[a:b])
        if not moved:
            break
    assert client.handshake_complete is not None and server.handshake_complete is not None
    assert client.version == "TLSv1.2"
    client.send_data(b"ping")
    assert server.receive_data(client.data_to_send()) == [DataReceived(b"ping")]


def test_refragment_really_splits_messages() -> None:
    """The splitter itself: one message per record, and messages cut in two."""
    rec = recorded12()
    pieces = split_records(refragment(rec.server_flight, lambda n: list(range(1, n, 7))))
    assert len(pieces) > 20 and all(p[0] == HS for p in pieces)
    assert b"".join(p[5:] for p in pieces) == b"".join(r[5:] for r in split_records(
        rec.server_flight))


# =====================================================================================
# The fuzz harness
# =====================================================================================

FUZZ = Path(__file__).resolve().parents[2] / "fuzz"


def _load_harness() -> Any:
    if str(FUZZ) not in sys.path:
        sys.path.append(str(FUZZ))  # the harness imports its neighbours (_harness, _peers)
    spec = importlib.util.spec_from_file_location("fuzz_tls12", FUZZ / "fuzz_tls12.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_tls12"] = module
    spec.loader.exec_module(module)
    return module


def test_fuzz_tls12_harness_survives_its_seeds_and_mutations() -> None:
    harness = _load_harness()
    for seed in harness.seeds():
        harness.TestOneInput(seed)
    harness.run(300, seed=1)
    for edge in (b"", b"\x00", b"\x07\x00", bytes(range(256))):
        harness.TestOneInput(edge)


def test_fuzz_tls12_harness_reaches_deep_states() -> None:
    """The seeds are not all rejected at the first byte: some complete the handshake."""
    harness = _load_harness()
    assert harness.reached_completion() >= 3  # incl. the real RSA ClientKeyExchange


def test_fuzz_tls12_runs_standalone() -> None:
    out = subprocess.run([sys.executable, str(FUZZ / "fuzz_tls12.py"), "60", "3"],
                         capture_output=True, text=True, timeout=120, check=True)
    assert "60 inputs, no failures" in out.stdout


@pytest.mark.parametrize("side", ["server", "client"])
def test_compressed_certificate_in_tls12_is_unexpected_message(side: str) -> None:
    # RFC 8879 3: the extension is TLS 1.3 only; a 1.2 peer's CompressedCertificate in
    # place of its Certificate is unexpected_message, the data never decompressed, even
    # from a server to a client that offered compress_certificate (for 1.3).
    from tlskit.wire import certcompress

    def compress(_hs: Any, raw: bytes) -> bytes:
        return certcompress.compress(certcompress.ZLIB, bytes(raw[4:])).encode()
    if side == "server":
        run = run12({"versions": ["TLSv1.3", "TLSv1.2"]}, {"versions": ["TLSv1.2"]})
        with rewriting(ServerHandshake12, on_msg(11, compress)):
            run.to_server_flight()
        expect_alert12(run.client, run.server_flight, AD.unexpected_message)
    else:
        run = run12({"certificate": CertifiedKey(pki().client.chain,
                                                 pki().client.private_key)},
                    client_auth_kw(certificate_compression=("zlib",)))
        with rewriting(ClientHandshake12, on_msg(11, compress)):
            run.to_client_flight()
        expect_alert12(run.server, run.client_flight, AD.unexpected_message)
