"""A hostile server against the tlskit client (RFC 8446 section 4), exact alerts.

The server is a real tlskit server whose outgoing messages are rewritten before they
enter its transcript, so everything after the rewrite (signature, Finished, record
protection) stays valid and the client's own checks are what fail.
"""

from __future__ import annotations

import pytest

from tlskit import SessionTicketReceived
from tlskit.enums import ExtensionType as E
from tlskit.enums import HandshakeType as HT
from tlskit.wire import extensions as ext
from tlskit.wire import messages as m

from ..support.pki import client_config, other_pki, server_config
from ..support.pump import pump
from ..support.records import HS, record, split_records
from .helpers import (
    AD,
    connected_pair,
    edit,
    expect_alert,
    extend_body,
    forge_content,
    make_client,
    make_server,
    on_type,
    truncate_body,
    with_body,
)


def against(hook, alert, *, client_kw=None, server_kw=None, server_name="localhost"):
    """Client hello -> hooked server -> its flight to the client, which must fail."""
    c = make_client(client_config(**(client_kw or {})), server_name=server_name)
    s = make_server(server_config(**(server_kw or {})), hook=hook)
    s.receive_data(c.data_to_send())
    flight = s.data_to_send()
    exc = expect_alert(c, flight, alert)
    return c, s, exc


def sh_edit(fn):
    return on_type(HT.server_hello, edit(m.ServerHello, fn))


def replace(msg_type, new):
    return on_type(msg_type, lambda raw: new(raw) if callable(new) else new)


# --- ServerHello ------------------------------------------------------------------------

@pytest.mark.parametrize("suite", [0x1302, 0x1303, 0x1305, 0xC02F])
def test_server_hello_with_unoffered_suite_is_illegal_parameter(suite):
    against(sh_edit(lambda sh: setattr(sh, "cipher_suite", suite)), AD.illegal_parameter,
            client_kw={"cipher_suites": ["TLS_AES_128_GCM_SHA256"]})


@pytest.mark.parametrize("version", [0x0303, 0x0302, 0x0305, 0x7F1C, 0x0A0A])
def test_server_hello_with_unoffered_version_is_illegal_parameter(version):
    against(sh_edit(lambda sh: sh.extensions.__setitem__(
        E.supported_versions, version.to_bytes(2, "big"))), AD.illegal_parameter)


def test_server_hello_with_key_share_for_unoffered_group_is_illegal_parameter():
    from .test_server_handshake import _p256
    against(sh_edit(lambda sh: sh.extensions.__setitem__(
        E.key_share, ext.encode_key_share_server(0x0017, _p256()))), AD.illegal_parameter)
    # P-256 offered in supported_groups but without a share: still illegal.
    against(sh_edit(lambda sh: sh.extensions.__setitem__(
        E.key_share, ext.encode_key_share_server(0x0017, _p256()))), AD.illegal_parameter,
        client_kw={"groups": ["x25519", "secp256r1"]})


@pytest.mark.parametrize("sid", [b"", bytes(32), b"\x01"])
def test_server_hello_not_echoing_session_id_is_illegal_parameter(sid):
    against(sh_edit(lambda sh: setattr(sh, "session_id", sid)), AD.illegal_parameter)


def test_server_hello_echoing_a_session_id_never_sent_is_illegal_parameter():
    against(sh_edit(lambda sh: setattr(sh, "session_id", b"\x07" * 32)), AD.illegal_parameter,
            client_kw={"middlebox_compat": False})


@pytest.mark.parametrize("method", [1, 0x40, 0xFF])
def test_server_hello_with_compression_is_illegal_parameter(method):
    against(sh_edit(lambda sh: setattr(sh, "compression_method", method)),
            AD.illegal_parameter)


def test_server_hello_legacy_version_other_than_tls12_is_illegal_parameter():
    against(sh_edit(lambda sh: setattr(sh, "legacy_version", 0x0304)), AD.illegal_parameter)


@pytest.mark.parametrize("legacy", [0x0300, 0x0200, 0x0002])
def test_server_hello_legacy_version_ssl3_or_older_is_protocol_version(legacy):
    # RFC 8446 D.5: a Hello whose legacy_version is 0x0300 (or less) is protocol_version,
    # also beside supported_versions TLS 1.3 (other values stay illegal_parameter, 4.1.3).
    against(sh_edit(lambda sh: setattr(sh, "legacy_version", legacy)), AD.protocol_version)


def test_hello_retry_request_legacy_version_ssl3_is_protocol_version():
    against_hrr(hrr_edit(lambda h: setattr(h, "legacy_version", 0x0300)), AD.protocol_version)


TLS13_ONLY = {"versions": ["TLSv1.3"]}


def test_tls12_server_hello_is_protocol_version():
    # A TLS 1.3-only client; with TLS 1.2 enabled this is a TLS 1.2 handshake instead.
    against(sh_edit(lambda sh: sh.extensions.pop(E.supported_versions)), AD.protocol_version,
            client_kw=TLS13_ONLY)


def test_tls12_server_hello_without_extensions_is_protocol_version():
    def tls12(raw):
        sh = m.ServerHello.decode(memoryview(raw)[4:])
        sh.extensions = m.Extensions()
        return with_body(raw, sh.encode()[4:-2])   # no extensions block at all
    against(on_type(HT.server_hello, tls12), AD.protocol_version, client_kw=TLS13_ONLY)


@pytest.mark.parametrize("sentinel", [b"DOWNGRD\x01", b"DOWNGRD\x00"])
@pytest.mark.parametrize("versions", [["TLSv1.3"], ["TLSv1.3", "TLSv1.2"]])
def test_downgrade_sentinel_is_illegal_parameter(sentinel, versions):
    # 4.1.3: a TLS 1.3 client MUST check the sentinel whatever else it accepts.
    def downgrade(sh):
        sh.extensions.pop(E.supported_versions)
        sh.random = sh.random[:24] + sentinel
    against(sh_edit(downgrade), AD.illegal_parameter, client_kw={"versions": versions})


def test_duplicate_extension_in_server_hello_is_illegal_parameter():
    def dup(raw):
        sh = m.ServerHello.decode(memoryview(raw)[4:])
        pairs = list(sh.extensions.items())
        sh.extensions = m.Extensions()
        from .test_server_handshake import ext_block
        return with_body(raw, sh.encode()[4:-2] + ext_block([*pairs, pairs[-1]]))
    against(on_type(HT.server_hello, dup), AD.illegal_parameter)


@pytest.mark.parametrize("etype,alert", [
    (E.server_name, AD.illegal_parameter),          # recognised, not allowed in SH
    (E.supported_groups, AD.illegal_parameter),
    (E.application_layer_protocol_negotiation, AD.illegal_parameter),
    (E.cookie, AD.illegal_parameter),
    (E.early_data, AD.illegal_parameter),
    (0x1234, AD.unsupported_extension),             # never offered
    (E.pre_shared_key, AD.unsupported_extension),   # not offered: no ticket
])
def test_server_hello_with_extra_extension(etype, alert):
    body = b"\x00\x00" if etype == E.pre_shared_key else b""
    against(sh_edit(lambda sh: sh.extensions.__setitem__(etype, body)), alert)


def test_server_hello_without_key_share_is_missing_extension():
    against(sh_edit(lambda sh: sh.extensions.pop(E.key_share)), AD.missing_extension)


@pytest.mark.parametrize("fn", [truncate_body(1), truncate_body(5), extend_body(b"\x00")],
                         ids=["cut1", "cut5", "extra"])
def test_server_hello_bad_lengths_are_decode_error(fn):
    against(on_type(HT.server_hello, fn), AD.decode_error)


def test_server_hello_session_id_length_33_is_decode_error():
    def sid33(raw):
        body = bytearray(raw[4:])
        body[34] = 33
        return with_body(raw, bytes(body))
    against(on_type(HT.server_hello, sid33), AD.decode_error)


@pytest.mark.parametrize("share", [bytes(32), b"\x01" + bytes(31), b"\xe0\xeb\x7a\x7c\x3b"
                                   b"\x41\xb8\xae\x16\x56\xe3\xfa\xf1\x9f\xc4\x6a\xda\x09\x8d"
                                   b"\xeb\x9c\x32\xb1\xfd\x86\x62\x05\x16\x5f\x49\xb8\x00",
                                   bytes(31), bytes(33)],
                         ids=["zero", "one", "order8", "short", "long"])
def test_bad_x25519_server_share_is_illegal_parameter(share):
    against(sh_edit(lambda sh: sh.extensions.__setitem__(
        E.key_share, ext.encode_key_share_server(0x001D, share))), AD.illegal_parameter)


def _hybrid_server_share(edit_x25519: bytes | None = None, cut: int = 0) -> bytes:
    """A real X25519MLKEM768 server share: an ML-KEM-768 ciphertext (1,088 bytes) for some
    key, then an X25519 public value, optionally replaced, or the whole cut short."""
    from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

    _secret, ciphertext = mlkem.MLKEM768PrivateKey.generate().public_key().encapsulate()
    public = x25519.X25519PrivateKey.generate().public_key().public_bytes_raw()
    share = ciphertext + (public if edit_x25519 is None else edit_x25519)
    return share[:len(share) - cut]


@pytest.mark.parametrize("share", ["short", "long", "x25519-zero"])
def test_bad_hybrid_server_share_is_illegal_parameter(share):
    """draft-ietf-tls-ecdhe-mlkem: the share is exactly a 1,088-byte ciphertext and a
    32-byte X25519 value, whose shared secret must not be all zero (RFC 8446 7.4.2)."""
    body = {"short": _hybrid_server_share(cut=1),
            "long": _hybrid_server_share() + b"\x00",
            "x25519-zero": _hybrid_server_share(bytes(32))}[share]
    groups = {"groups": ["X25519MLKEM768"]}
    _c, _s, exc = against(sh_edit(lambda sh: sh.extensions.__setitem__(
        E.key_share, ext.encode_key_share_server(0x11EC, body))), AD.illegal_parameter,
        client_kw=groups, server_kw=groups)
    assert ("low-order point" if share == "x25519-zero" else "wrong length") in str(exc)


def test_p256_server_share_off_curve_is_illegal_parameter():
    from .test_server_handshake import _p256_share_off_curve
    for share in (_p256_share_off_curve(), b"\x04" + bytes(64), b"\x03" + bytes(range(32))):
        against(sh_edit(lambda sh, share=share: sh.extensions.__setitem__(
            E.key_share, ext.encode_key_share_server(0x0017, share))), AD.illegal_parameter,
            client_kw={"groups": ["secp256r1"]}, server_kw={"groups": ["secp256r1"]})


def test_second_server_hello_is_unexpected_message():
    sh_raw = []

    def hook(raw):
        if raw[0] == HT.server_hello:
            sh_raw.append(raw)
            return raw
        if raw[0] == HT.encrypted_extensions:
            return [sh_raw[0], raw]   # a protected copy of ServerHello first
        return raw
    against(hook, AD.unexpected_message)


def test_plaintext_second_server_hello_is_unexpected_message():
    c = make_client()
    s = make_server()
    s.receive_data(c.data_to_send())
    recs = split_records(s.data_to_send())
    c.receive_data(recs[0])
    expect_alert(c, recs[0], AD.unexpected_message)


# --- HelloRetryRequest --------------------------------------------------------------------

HRR_CLIENT = {"groups": ["x25519", "secp256r1"]}
HRR_SERVER = {"groups": ["secp256r1"]}


def hrr_edit(fn):
    def hook(raw):
        if raw[0] == HT.server_hello and m.HRR_RANDOM in raw:
            return edit(m.ServerHello, fn)(raw)
        return raw
    return hook


def against_hrr(hook, alert):
    return against(hook, alert, client_kw=HRR_CLIENT, server_kw=HRR_SERVER)


@pytest.mark.parametrize("group", [0x001D, 0x0018, 0x0019, 0x0100, 0x0A0A],
                         ids=["already-shared", "p384-not-offered", "p521", "ffdhe2048",
                              "grease"])
def test_hrr_for_group_already_shared_or_not_offered_is_illegal_parameter(group):
    against_hrr(hrr_edit(lambda h: h.extensions.__setitem__(
        E.key_share, ext.encode_key_share_hrr(group))), AD.illegal_parameter)


def test_hrr_changing_nothing_is_illegal_parameter():
    def nothing(h):
        h.extensions.pop(E.key_share)
        h.extensions.pop(E.cookie, None)  # servers send one only when configured to
    against_hrr(hrr_edit(nothing), AD.illegal_parameter)


def test_hrr_with_unknown_extension_is_unsupported_extension():
    against_hrr(hrr_edit(lambda h: h.extensions.__setitem__(0x1234, b"")),
                AD.unsupported_extension)


def test_hrr_with_empty_cookie_is_decode_error():
    against_hrr(hrr_edit(lambda h: h.extensions.__setitem__(E.cookie, b"\x00\x00")),
                AD.decode_error)


def test_hrr_with_unoffered_suite_is_illegal_parameter():
    against(hrr_edit(lambda h: setattr(h, "cipher_suite", 0x1303)), AD.illegal_parameter,
            client_kw={**HRR_CLIENT, "cipher_suites": ["TLS_AES_128_GCM_SHA256"]},
            server_kw=HRR_SERVER)


def _after_hrr(hook_after, *, client_kw=None):
    """HRR exchange, then the server's second flight rewritten by `hook_after`."""
    c = make_client(client_config(**(client_kw or HRR_CLIENT)))
    s = make_server(server_config(**HRR_SERVER))
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    from .helpers import hook_sends
    hook_sends(s, hook_after)
    s.receive_data(c.data_to_send())
    return c, s, s.data_to_send()


def test_second_hello_retry_request_is_unexpected_message():
    def second_hrr(raw):
        if raw[0] == HT.server_hello:
            sh = m.ServerHello.decode(memoryview(raw)[4:])
            sh.random = m.HRR_RANDOM
            sh.extensions = m.Extensions({
                E.key_share: ext.encode_key_share_hrr(0x0018),
                E.supported_versions: b"\x03\x04"})
            return sh.encode()
        return raw
    c, _s, flight = _after_hrr(second_hrr)
    expect_alert(c, flight, AD.unexpected_message)


def test_server_hello_after_hrr_with_other_suite_is_illegal_parameter():
    c, _s, flight = _after_hrr(sh_edit(lambda sh: setattr(sh, "cipher_suite", 0x1302)))
    expect_alert(c, flight, AD.illegal_parameter)


def test_server_hello_after_hrr_with_other_group_is_illegal_parameter():
    c, _s, flight = _after_hrr(sh_edit(lambda sh: sh.extensions.__setitem__(
        E.key_share, ext.encode_key_share_server(0x001D, bytes(range(1, 33))))))
    expect_alert(c, flight, AD.illegal_parameter)


@pytest.mark.parametrize("versions", [None, ["TLSv1.3", "TLSv1.2"]], ids=["1.3", "1.3+1.2"])
def test_server_hello_after_hrr_without_supported_versions_is_illegal_parameter(versions):
    # RFC 8446 4.1.4: the HelloRetryRequest's selected_version (TLS 1.3) must be kept;
    # a ServerHello without supported_versions changes it to its legacy_version.
    def tls12(sh):
        sh.extensions.pop(E.supported_versions)
    kw = HRR_CLIENT if versions is None else {**HRR_CLIENT, "versions": versions}
    c, _s, flight = _after_hrr(sh_edit(tls12), client_kw=kw)
    expect_alert(c, flight, AD.illegal_parameter)


# --- EncryptedExtensions -----------------------------------------------------------------

def ee_with(exts: dict[int, bytes]):
    return replace(HT.encrypted_extensions,
                   lambda raw: m.EncryptedExtensions(m.Extensions(exts)).encode())


@pytest.mark.parametrize("exts,alert", [
    ({E.key_share: b"\x00\x1d\x00\x01\x00"}, AD.illegal_parameter),
    ({E.supported_versions: b"\x03\x04"}, AD.illegal_parameter),
    ({E.signature_algorithms: b"\x00\x02\x04\x03"}, AD.illegal_parameter),
    ({E.pre_shared_key: b"\x00\x00"}, AD.illegal_parameter),
    ({E.cookie: b"\x00\x01\x00"}, AD.illegal_parameter),
    ({0x1234: b""}, AD.unsupported_extension),
    ({E.early_data: b""}, AD.unsupported_extension),            # early_data not offered
    ({E.status_request: b""}, AD.illegal_parameter),            # CH, CR, CT only (4.2)
    ({E.server_name: b"\x00\x00"}, AD.decode_error),
    ({E.record_size_limit: (63).to_bytes(2, "big")}, AD.illegal_parameter),
    ({E.record_size_limit: b"\x40"}, AD.decode_error),
    ({E.supported_groups: b"\x00\x01\x00"}, AD.decode_error),
], ids=lambda v: ",".join(E(k).name for k in v) if isinstance(v, dict) else None)
def test_encrypted_extensions_contents(exts, alert):
    against(ee_with(exts), alert)


def test_grease_extension_in_encrypted_extensions_is_unsupported_extension():
    # RFC 8701 3.2: servers MUST NOT send GREASE extensions in EE; clients see an
    # unsolicited extension (4.2) -> unsupported_extension.
    against(ee_with({0x0A0A: b""}), AD.unsupported_extension)


def test_duplicate_extension_in_encrypted_extensions_is_illegal_parameter():
    body = b"\x00\x08" + b"\x00\x00\x00\x00" * 2    # server_name twice, both empty
    against(replace(HT.encrypted_extensions, m.frame(HT.encrypted_extensions, body)),
            AD.illegal_parameter)


@pytest.mark.parametrize("body", [b"", b"\x00", b"\x00\x04\x00\x00", b"\x00\x00\x00"],
                         ids=["empty", "one", "overrun", "trailing"])
def test_encrypted_extensions_bad_lengths_are_decode_error(body):
    against(replace(HT.encrypted_extensions, m.frame(HT.encrypted_extensions, body)),
            AD.decode_error)


@pytest.mark.parametrize("chosen", [["http/1.1"], ["h2", "h2"], ["H2"]])
def test_alpn_not_offered_is_illegal_parameter(chosen):
    against(ee_with({E.application_layer_protocol_negotiation: ext.encode_alpn(chosen)}),
            AD.illegal_parameter, client_kw={"alpn_protocols": ["h2"]})


def test_alpn_without_request_is_unsupported_extension():
    against(ee_with({E.application_layer_protocol_negotiation: ext.encode_alpn(["h2"])}),
            AD.unsupported_extension)


# --- message order -----------------------------------------------------------------------

@pytest.mark.parametrize("dropped", [HT.encrypted_extensions, HT.certificate,
                                     HT.certificate_verify], ids=["no-ee", "no-cert", "no-cv"])
def test_missing_message_is_unexpected_message(dropped):
    against(replace(dropped, lambda raw: None), AD.unexpected_message)


@pytest.mark.parametrize("intruder", [
    m.Finished(bytes(32)).encode(),
    m.NewSessionTicket(10, 1, b"", b"t", m.Extensions()).encode(),
    m.KeyUpdate(0).encode(),
    m.CertificateRequest(b"", m.Extensions({E.signature_algorithms: b"\x00\x02\x04\x03"}))
    .encode(),
    b"\x01\x00\x00\x00",            # ClientHello (type only matters)
    b"\x05\x00\x00\x00",            # EndOfEarlyData
    b"\x63\x00\x00\x00",            # unknown type
    b"\xfe\x00\x00\x00",            # message_hash
], ids=["finished", "nst", "key_update", "cert_request", "client_hello", "eoed", "type99",
        "message_hash"])
def test_wrong_message_instead_of_encrypted_extensions_is_unexpected_message(intruder):
    against(replace(HT.encrypted_extensions, intruder), AD.unexpected_message)


def test_certificate_request_after_certificate_is_unexpected_message():
    cr = m.CertificateRequest(b"", m.Extensions({E.signature_algorithms: b"\x00\x02\x04\x03"}))
    against(replace(HT.certificate, lambda raw: [raw, cr.encode()]), AD.unexpected_message)


def test_two_certificates_is_unexpected_message():
    against(replace(HT.certificate, lambda raw: [raw, raw]), AD.unexpected_message)


# --- Certificate ----------------------------------------------------------------------------

def test_empty_server_certificate_is_decode_error():
    against(replace(HT.certificate, m.Certificate(b"", []).encode()), AD.decode_error)


def test_server_certificate_with_context_is_illegal_parameter():
    def ctx(raw):
        cert = m.Certificate.decode(memoryview(raw)[4:])
        cert.request_context = b"\x00"
        return cert.encode()
    against(replace(HT.certificate, ctx), AD.illegal_parameter)


def test_unparseable_certificate_is_bad_certificate():
    against(replace(HT.certificate, m.Certificate(b"", [m.CertificateEntry(b"\x30\x03abc")])
                    .encode()), AD.bad_certificate)


def test_certificate_from_unknown_ca_is_unknown_ca():
    against(None, AD.unknown_ca, client_kw={"trust_anchors": [other_pki().ca.root]})


def test_certificate_for_another_name_is_bad_certificate():
    against(None, AD.bad_certificate, server_name="example.com")


def test_duplicate_extension_in_certificate_entry_is_illegal_parameter():
    def dup(raw):
        body = bytearray(raw[4:])
        cert = m.Certificate.decode(memoryview(raw)[4:])
        leaf = cert.entries[0].cert_data
        # context(1) list(3) len(3) leaf exts(2): replace the leaf's empty extensions.
        at = 1 + 3 + 3 + len(leaf)
        assert body[at:at + 2] == b"\x00\x00"
        exts = b"\x00\x12\x00\x00" * 2
        body[at:at + 2] = len(exts).to_bytes(2, "big") + exts
        body[1:4] = (len(body) - 4).to_bytes(3, "big")
        return with_body(raw, bytes(body))
    against(replace(HT.certificate, dup), AD.illegal_parameter)


def test_unsolicited_ocsp_staple_is_unsupported_extension():
    def staple(raw):
        cert = m.Certificate.decode(memoryview(raw)[4:])
        cert.entries[0].extensions[E.status_request] = ext.encode_ocsp_status(b"\x30\x00")
        return cert.encode()
    against(replace(HT.certificate, staple), AD.unsupported_extension)


@pytest.mark.parametrize("entry", [0, 1], ids=["leaf", "issuer"])
def test_unsolicited_signed_certificate_timestamp_is_unsupported_extension(entry):
    # RFC 8446 4.2: extensions in a CertificateEntry answer the ClientHello's; this client
    # sends no signed_certificate_timestamp (RFC 6962 3.3: SCTs only to clients asking).
    def sct(raw):
        cert = m.Certificate.decode(memoryview(raw)[4:])
        cert.entries[entry].extensions[E.signed_certificate_timestamp] = b"\x00\x00"
        return cert.encode()
    against(replace(HT.certificate, sct), AD.unsupported_extension)


def test_compressed_certificate_without_the_offer_is_unexpected_message():
    # RFC 8879 4/5: a CompressedCertificate only answers a compress_certificate offer;
    # without one it is no message of this handshake (RFC 8446 6.2: unexpected_message).
    from tlskit.wire import certcompress
    against(replace(HT.certificate, lambda raw: certcompress.compress(
        certcompress.ZLIB, raw[4:]).encode()), AD.unexpected_message,
        client_kw={"certificate_compression": ()})


@pytest.mark.parametrize("algorithm", ["zlib", "brotli", "zstd"])
def test_compressed_certificate_bomb_is_bad_certificate(algorithm):
    # RFC 8879 4: a CompressedCertificate that does not decompress to exactly the announced
    # length is bad_certificate; this one announces the real size but would inflate to
    # 12 MiB (zlib) or 256 MiB of zeros: refused after producing at most the announced
    # length (+ one block).
    from tlskit.wire import certcompress

    from ..unit.test_certificate_compression import bomb
    code = certcompress.algorithm_code(algorithm)

    def bombed(raw):
        return m.CompressedCertificate(code, len(raw) - 4, bomb(algorithm)).encode()
    against(replace(HT.certificate, bombed), AD.bad_certificate,
            client_kw={"certificate_compression": (algorithm,)})


@pytest.mark.parametrize("fn", [truncate_body(1), extend_body(b"\x00"), truncate_body(200)],
                         ids=["cut1", "extra", "cut200"])
def test_certificate_bad_lengths_are_decode_error(fn):
    against(replace(HT.certificate, fn), AD.decode_error)


# --- CertificateVerify ---------------------------------------------------------------------

def cv_edit(fn):
    return replace(HT.certificate_verify, edit(m.CertificateVerify, fn))


def test_bad_certificate_verify_signature_is_decrypt_error():
    def flip(cv):
        sig = bytearray(cv.signature)
        sig[-5] ^= 0x10
        cv.signature = bytes(sig)
    against(cv_edit(flip), AD.decrypt_error)


def test_certificate_verify_over_wrong_context_is_decrypt_error():
    # A valid signature by the right key, but over the client context string.
    from tlskit import crypto
    from tlskit.handshake.common import CV_CLIENT

    key = server_config().private_key

    def resign(cv):
        cv.signature = crypto.sign(key, cv.algorithm, CV_CLIENT + bytes(32))
    against(cv_edit(resign), AD.decrypt_error)


@pytest.mark.parametrize("scheme", [0x0804, 0x0401, 0x0403 + 0x100, 0x0807, 0x1234])
def test_certificate_verify_with_scheme_not_offered_is_illegal_parameter(scheme):
    against(cv_edit(lambda cv: setattr(cv, "algorithm", scheme)), AD.illegal_parameter,
            client_kw={"signature_schemes": ["ecdsa_secp256r1_sha256"]})


def test_certificate_verify_scheme_not_matching_key_is_illegal_parameter():
    # Offered by the client, but the certificate's key is P-256.
    against(cv_edit(lambda cv: setattr(cv, "algorithm", 0x0503)), AD.illegal_parameter)


@pytest.mark.parametrize("fn", [truncate_body(1), extend_body(b"\x00"), truncate_body(40)],
                         ids=["cut1", "extra", "cut40"])
def test_certificate_verify_bad_lengths_are_decode_error(fn):
    against(replace(HT.certificate_verify, fn), AD.decode_error)


def test_certificate_verify_with_empty_signature():
    # RFC 8446 4.4.3 declares signature<0..2^16-1>: an empty one is well-formed and
    # merely does not verify: decrypt_error.
    against(replace(HT.certificate_verify, b"\x0f\x00\x00\x04\x04\x03\x00\x00"),
            AD.decrypt_error)


# --- Finished ------------------------------------------------------------------------------

def test_bad_server_finished_is_decrypt_error():
    for pos in (0, 15, 31):
        def flip(raw, pos=pos):
            body = bytearray(raw[4:])
            body[pos] ^= 0x01
            return with_body(raw, bytes(body))
        against(replace(HT.finished, flip), AD.decrypt_error)


@pytest.mark.parametrize("n", [0, 31, 33, 48])
def test_server_finished_of_wrong_length_is_decode_error(n):
    against(replace(HT.finished, lambda raw: with_body(raw, (raw[4:] * 2)[:n])),
            AD.decode_error)


# --- after the handshake (client side) ------------------------------------------------

def test_new_session_ticket_with_grease_extension_is_accepted():
    c, s = connected_pair()
    nst = m.NewSessionTicket(3600, 7, b"\x00", b"ticket", m.Extensions({0x1A1A: b"grease"}))
    events = c.receive_data(forge_content(s, HS, nst.encode()))
    assert isinstance(events[0], SessionTicketReceived)


@pytest.mark.parametrize("etype", [E.key_share, E.pre_shared_key, E.server_name,
                                   E.supported_versions])
def test_new_session_ticket_with_an_extension_defined_elsewhere_is_illegal_parameter(etype):
    # RFC 8446 4.2: recognised, but only early_data is defined for NewSessionTicket
    # (unknown ones are ignored, 4.6.1: see the GREASE test above).
    c, s = connected_pair()
    nst = m.NewSessionTicket(3600, 7, b"\x00", b"ticket", m.Extensions({etype: b""}))
    expect_alert(c, forge_content(s, HS, nst.encode()), AD.illegal_parameter, peer=s)


@pytest.mark.parametrize("nst,alert", [
    (m.NewSessionTicket(604801, 0, b"", b"t", m.Extensions()).encode(), AD.illegal_parameter),
    (b"\x04\x00\x00\x0d" + bytes(4) + bytes(4) + b"\x00" + b"\x00\x00" + b"\x00\x00",
     AD.decode_error),                                   # empty ticket
    (m.NewSessionTicket(1, 0, b"", b"t", m.Extensions()).encode()[:-2], AD.decode_error),
    (m.NewSessionTicket(1, 0, b"", b"t", m.Extensions()).encode() + b"\x00", AD.decode_error),
], ids=["lifetime", "empty-ticket", "no-exts", "trailing"])
def test_bad_new_session_ticket(nst, alert):
    c, s = connected_pair()
    if nst[1:4] != (len(nst) - 4).to_bytes(3, "big"):
        nst = with_body(nst, nst[4:])
    expect_alert(c, forge_content(s, HS, nst), alert, peer=s)


def test_certificate_request_after_handshake_is_unexpected_message():
    # post_handshake_auth was not offered (4.6.2).
    c, s = connected_pair()
    cr = m.CertificateRequest(b"\x01", m.Extensions({E.signature_algorithms: b"\x00\x02\x04\x03"}))
    expect_alert(c, forge_content(s, HS, cr.encode()), AD.unexpected_message, peer=s)


@pytest.mark.parametrize("msg", [
    b"\x02\x00\x00\x00", b"\x14\x00\x00\x20" + bytes(32), b"\x08\x00\x00\x02\x00\x00",
    b"\x00\x00\x00\x00", b"\x63\x00\x00\x00"],
    ids=["server_hello", "finished", "ee", "hello_request", "type99"])
def test_handshake_messages_after_handshake_are_unexpected_message(msg):
    c, s = connected_pair()
    expect_alert(c, forge_content(s, HS, msg), AD.unexpected_message, peer=s)


def test_plaintext_handshake_after_handshake_is_unexpected_message():
    c, s = connected_pair()
    expect_alert(c, record(HS, m.KeyUpdate(0).encode()), AD.unexpected_message, peer=s)


def test_client_round_trip_still_works():
    c = make_client()
    s = make_server()
    pump(c, s)
    assert c.handshake_complete and s.handshake_complete
