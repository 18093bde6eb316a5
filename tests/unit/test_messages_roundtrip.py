"""decode(encode(x)) == x for every handshake message and extension helper, and every
truncation of an encoding is a DecodeError (the few legitimate exceptions are named)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlskit.errors import DecodeError, IllegalParameter, UnexpectedMessage
from tlskit.handshake.common12 import DECODERS12
from tlskit.wire import extensions as ext
from tlskit.wire import messages as m
from tlskit.wire import messages12 as m12

SETTINGS = settings(max_examples=120, deadline=None)

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)


def blob(lo: int = 0, hi: int = 64) -> st.SearchStrategy[bytes]:
    return st.binary(min_size=lo, max_size=hi)


extensions = st.dictionaries(u16, blob(0, 40), max_size=6).map(m.Extensions)

client_hellos = st.builds(
    m.ClientHello, random=blob(32, 32), session_id=blob(0, 32),
    cipher_suites=st.lists(u16, min_size=1, max_size=8), extensions=extensions,
    legacy_version=u16, compression_methods=blob(1, 4))
server_hellos = st.builds(
    m.ServerHello, random=blob(32, 32), session_id=blob(0, 32), cipher_suite=u16,
    extensions=extensions, legacy_version=u16, compression_method=u8)
encrypted_extensions = st.builds(m.EncryptedExtensions, extensions=extensions)
certificates = st.builds(
    m.Certificate, request_context=blob(0, 8),
    entries=st.lists(st.builds(m.CertificateEntry, cert_data=blob(1, 80),
                               extensions=extensions), max_size=3))
certificate_verifies = st.builds(m.CertificateVerify, algorithm=u16, signature=blob(1, 80))
certificate_requests = st.builds(m.CertificateRequest, request_context=blob(0, 8),
                                 extensions=extensions)
finisheds = st.builds(m.Finished, verify_data=blob(0, 64))
tickets = st.builds(m.NewSessionTicket, lifetime=st.integers(0, 604800), age_add=u32,
                    nonce=blob(0, 16), ticket=blob(1, 80), extensions=extensions)
key_updates = st.builds(m.KeyUpdate, request_update=st.sampled_from([0, 1]))
eoeds = st.just(m.EndOfEarlyData())
compressed_certificates = st.builds(m.CompressedCertificate, algorithm=st.integers(0, 0xFFFF),
                                    uncompressed_length=st.integers(0, 0xFFFFFF),
                                    compressed=blob(1, 80))

MESSAGES = {
    m.ClientHello: client_hellos, m.ServerHello: server_hellos,
    m.EncryptedExtensions: encrypted_extensions, m.Certificate: certificates,
    m.CertificateVerify: certificate_verifies, m.CertificateRequest: certificate_requests,
    m.Finished: finisheds, m.NewSessionTicket: tickets, m.KeyUpdate: key_updates,
    m.EndOfEarlyData: eoeds, m.CompressedCertificate: compressed_certificates,
}


# TLS 1.2's own messages (ClientHello, ServerHello and Finished are shared with 1.3).
MESSAGES12 = {
    m12.Certificate12: st.builds(m12.Certificate12, certificates=st.lists(blob(1, 80), max_size=3)),
    m12.ServerKeyExchangeECDHE: st.builds(m12.ServerKeyExchangeECDHE, group=u16,
                                          public=blob(1, 65), scheme=u16, signature=blob(0, 80)),
    m12.ServerHelloDone: st.just(m12.ServerHelloDone()),
    m12.ClientKeyExchangeECDHE: st.builds(m12.ClientKeyExchangeECDHE, public=blob(1, 65)),
    m12.CertificateRequest12: st.builds(
        m12.CertificateRequest12, certificate_types=blob(1, 4),
        schemes=st.lists(u16, min_size=1, max_size=6),
        authorities=st.lists(blob(1, 40), max_size=3)),
    m12.CertificateVerify12: st.builds(m12.CertificateVerify12, scheme=u16, signature=blob(0, 80)),
    m12.CertificateStatus: st.builds(m12.CertificateStatus, response=blob(1, 80)),
    m12.HelloRequest: st.just(m12.HelloRequest()),
    m12.NewSessionTicket12: st.builds(m12.NewSessionTicket12, lifetime=u32, ticket=blob(0, 80)),
}


def test_every_message_class_is_covered():
    assert set(MESSAGES) == set(m.DECODERS.values())
    assert set(MESSAGES12) | {m.ClientHello, m.ServerHello, m.Finished} == set(DECODERS12.values())


def legit_truncation(msg, body: bytes, n: int) -> bool:
    """Truncations that still decode, by the grammar's own rules."""
    if isinstance(msg, m.Finished):
        return True                       # any length parses; its check is semantic
    if isinstance(msg, m.ClientHello | m.ServerHello):
        # A hello may end right before its extensions block (pre-TLS 1.2 hellos).
        return n == len(body) - len(_ext_block(msg.extensions))
    return False


def _ext_block(exts: m.Extensions) -> bytes:
    from tlskit.wire.codec import Writer
    w = Writer()
    exts.encode(w)
    return w.getvalue()


@pytest.mark.parametrize("cls", [*MESSAGES, *MESSAGES12], ids=lambda c: c.__name__)
def test_message_round_trip_and_truncation(cls):
    tls13 = cls in MESSAGES

    @SETTINGS
    @given(MESSAGES[cls] if tls13 else MESSAGES12[cls])
    def check(msg):
        raw = msg.encode()
        msg_type, body = raw[0], raw[4:]
        assert int.from_bytes(raw[1:4], "big") == len(body)
        assert (m.DECODERS if tls13 else DECODERS12)[msg_type] is cls
        decoded = m.decode_message(msg_type, memoryview(body)) if tls13 else cls.decode(body)
        assert decoded == msg
        for n in range(len(body)):
            if legit_truncation(msg, body, n):
                continue
            with pytest.raises(DecodeError):
                cls.decode(body[:n])
        if not isinstance(msg, m.Finished):
            with pytest.raises(DecodeError):
                cls.decode(body + b"\x00")
    check()


def test_hello_without_extensions_block_decodes_to_no_extensions():
    ch = m.ClientHello(bytes(32), b"", [0x1301], m.Extensions())
    body = ch.encode()[4:-2]
    assert m.ClientHello.decode(body).extensions == {}


@pytest.mark.parametrize("cls", [m.ClientHello, m.ServerHello, m.EncryptedExtensions,
                                 m.CertificateRequest, m.NewSessionTicket])
def test_duplicate_extensions_are_illegal_parameter(cls):
    sample = {
        m.ClientHello: m.ClientHello(bytes(32), b"", [0x1301], m.Extensions()),
        m.ServerHello: m.ServerHello(bytes(32), b"", 0x1301, m.Extensions()),
        m.EncryptedExtensions: m.EncryptedExtensions(m.Extensions()),
        m.CertificateRequest: m.CertificateRequest(b"", m.Extensions()),
        m.NewSessionTicket: m.NewSessionTicket(1, 2, b"", b"t", m.Extensions()),
    }[cls]
    body = sample.encode()[4:-2] + b"\x00\x08" + b"\x00\x2a\x00\x00" * 2
    with pytest.raises(IllegalParameter):
        cls.decode(body)


def test_certificate_entry_duplicate_extension_is_illegal_parameter():
    body = b"\x00" + b"\x00\x00\x0e" + b"\x00\x00\x01x" + b"\x00\x08" + b"\x00\x05\x00\x00" * 2
    with pytest.raises(IllegalParameter):
        m.Certificate.decode(body)


@pytest.mark.parametrize("cls,body", [
    (m.ClientHello, b"\x03\x03" + bytes(32) + b"\x21" + bytes(33) + b"\x00\x02\x13\x01\x01\x00"),
    (m.ServerHello, b"\x03\x03" + bytes(32) + b"\x21" + bytes(33) + b"\x13\x01\x00"),
    (m.ClientHello, b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x00" + b"\x01\x00"),
    (m.ClientHello, b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x13\x01" + b"\x00"),
    (m.Certificate, b"\x00\x00\x00\x05\x00\x00\x00\x00\x00"),            # empty cert_data
    (m.NewSessionTicket, bytes(8) + b"\x00" + b"\x00\x00" + b"\x00\x00"),  # empty ticket
    (m.EncryptedExtensions, b""),
    (m.CertificateRequest, b"\x00"),
    (m.KeyUpdate, b""),
    (m.EndOfEarlyData, b"\x00"),
], ids=["sid33", "sh-sid33", "no-suites", "no-compression", "empty-cert",
        "empty-ticket", "ee-empty", "cr-no-exts", "ku-empty", "eoed-body"])
def test_out_of_range_vectors_are_decode_error(cls, body):
    with pytest.raises(DecodeError):
        cls.decode(body)


def test_semantic_checks_in_decoders():
    with pytest.raises(IllegalParameter):
        m.KeyUpdate.decode(b"\x02")
    with pytest.raises(IllegalParameter):
        m.NewSessionTicket.decode((604801).to_bytes(4, "big") + bytes(4) + b"\x00"
                                  + b"\x00\x01t" + b"\x00\x00")


@pytest.mark.parametrize("t", [3, 6, 7, 9, 12, 14, 16, 21, 22, 99, 254, 255])
def test_unknown_message_types_are_unexpected_message(t):
    with pytest.raises(UnexpectedMessage):
        m.decode_message(t, b"")


def test_hello_retry_request_marker():
    assert m.ServerHello(m.HRR_RANDOM, b"", 0x1301, m.Extensions()).is_hello_retry_request
    assert not m.ServerHello(bytes(32), b"", 0x1301, m.Extensions()).is_hello_retry_request


# --- extension helpers ---------------------------------------------------------------------

hostnames = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z0-9]{1,10}){0,3}",
                          fullmatch=True)
alpn_names = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1,
                     max_size=20)
binder = blob(32, 64)

EXTENSIONS = [
    ("server_name", hostnames, ext.encode_server_name, ext.decode_server_name),
    ("versions", st.lists(u16, min_size=1, max_size=20), ext.encode_versions_client,
     ext.decode_versions_client),
    ("version_server", u16, lambda v: v.to_bytes(2, "big"), ext.decode_version_server),
    ("u16_list", st.lists(u16, min_size=1, max_size=20), ext.encode_u16_list,
     lambda b: ext.decode_u16_list(b, "list")),
    ("key_share_client",
     st.dictionaries(u16, blob(1, 40), max_size=4).map(lambda d: list(d.items())),
     ext.encode_key_share_client, ext.decode_key_share_client),
    ("key_share_server", st.tuples(u16, blob(1, 40)),
     lambda t: ext.encode_key_share_server(*t), ext.decode_key_share_server),
    ("key_share_hrr", u16, ext.encode_key_share_hrr, ext.decode_key_share_hrr),
    ("alpn", st.lists(alpn_names, min_size=1, max_size=5), ext.encode_alpn, ext.decode_alpn),
    ("record_size_limit", st.integers(64, 0xFFFF), ext.encode_record_size_limit,
     ext.decode_record_size_limit),
    ("max_fragment_length", st.sampled_from([512, 1024, 2048, 4096]),
     ext.encode_max_fragment_length, ext.decode_max_fragment_length),
    ("cookie", blob(1, 100), ext.encode_cookie, ext.decode_cookie),
    ("psk_modes", st.lists(u8, min_size=1, max_size=5), ext.encode_psk_modes,
     ext.decode_psk_modes),
    ("ocsp_status", blob(1, 100), ext.encode_ocsp_status, ext.decode_ocsp_status),
    ("pre_shared_key",
     st.lists(st.tuples(st.tuples(blob(1, 40), u32), binder), min_size=1, max_size=3)
     .map(lambda pairs: ([p[0] for p in pairs], [p[1] for p in pairs])),
     lambda t: ext.encode_pre_shared_key_client(*t), ext.decode_pre_shared_key_client),
    ("selected_identity", u16, lambda v: v.to_bytes(2, "big"), ext.decode_selected_identity),
]


@pytest.mark.parametrize("name,values,encode,decode", EXTENSIONS, ids=[e[0] for e in EXTENSIONS])
def test_extension_round_trip_and_truncation(name, values, encode, decode):
    @SETTINGS
    @given(values)
    def check(value):
        body = encode(value)
        got = decode(body)
        assert got == (tuple(value) if name == "pre_shared_key" else value)
        for n in range(len(body)):
            if name == "server_name" and n == 0:
                continue      # an empty body is the server's acknowledgement -> None
            with pytest.raises(DecodeError):
                decode(body[:n])
        with pytest.raises(DecodeError):
            decode(body + b"\x00")
    check()


def test_status_request_round_trip():
    assert ext.decode_status_request(ext.encode_status_request_ocsp()) == 1
    body = ext.encode_status_request_ocsp()
    for n in range(len(body)):
        with pytest.raises(DecodeError):
            ext.decode_status_request(body[:n])
    with pytest.raises(DecodeError):  # (the plain request's one-compare path is exact)
        ext.decode_status_request(body + b"\x00")
    assert ext.decode_status_request(b"\x01\x00\x03\x00\x01\xaa\x00\x00") == 1


def test_binders_length_matches_the_encoding():
    ids, binders = [(b"ticket", 5)], [bytes(32), bytes(48)]
    body = ext.encode_pre_shared_key_client([*ids, (b"x", 1)], binders)
    assert body.endswith(ext.encode_pre_shared_key_client([], binders)[2:])
    assert ext.binders_length(binders) == 2 + 33 + 49


@pytest.mark.parametrize("decode,body,error", [
    (ext.decode_key_share_client, b"\x00\x0a\x00\x1d\x00\x01\x01\x00\x1d\x00\x01\x02",
     IllegalParameter),
    (ext.decode_key_share_client, b"\x00\x04\x00\x1d\x00\x00", DecodeError),
    (ext.decode_record_size_limit, b"\x00\x3f", IllegalParameter),
    (ext.decode_max_fragment_length, b"\x00", IllegalParameter),
    (ext.decode_max_fragment_length, b"\x05", IllegalParameter),
    (ext.decode_server_name, b"\x00\x0d\x00\x00\x04abcd\x00\x00\x03xyz", IllegalParameter),
    (ext.decode_server_name, b"\x00\x07\x00\x00\x04abc.", IllegalParameter),
    (ext.decode_server_name, b"\x00\x07\x00\x00\x04ab\xffc", IllegalParameter),
    (ext.decode_server_name, b"\x00\x00", DecodeError),
    (ext.decode_client_server_name, b"", DecodeError),
    (ext.decode_alpn, b"\x00\x00", DecodeError),
    (ext.decode_alpn, b"\x00\x02\x00\x00", DecodeError),
    (ext.decode_ocsp_status, b"\x02\x00\x00\x01x", IllegalParameter),
    (ext.decode_cookie, b"\x00\x00", DecodeError),
    (ext.decode_psk_modes, b"\x00", DecodeError),
    (ext.decode_versions_client, b"\x00", DecodeError),
    (ext.decode_versions_client, b"\x03\x03\x04\x03", DecodeError),
    (ext.decode_pre_shared_key_client, ext.encode_pre_shared_key_client(
        [(b"a", 0), (b"b", 0)], [bytes(32)]), IllegalParameter),
    (ext.decode_pre_shared_key_client, ext.encode_pre_shared_key_client(
        [(b"a", 0)], [bytes(31)]), DecodeError),
], ids=["dup-share", "empty-share", "rsl63", "mfl0", "mfl5", "two-hosts", "trailing-dot",
        "non-ascii",
        "empty-list", "client-empty-extension", "alpn-empty", "alpn-empty-name", "ocsp-type",
        "empty-cookie", "no-modes", "versions-short", "versions-odd", "psk-counts",
        "short-binder"])
def test_extension_decoders_refuse(decode, body, error):
    with pytest.raises(error):
        decode(body)


def test_empty_certificate_verify_signature_decodes():
    """RFC 8446 4.4.3: signature<0..2^16-1>; an empty one fails verification instead."""
    assert m.CertificateVerify.decode(b"\x04\x03\x00\x00").signature == b""


def test_ec_point_formats_decode():
    # RFC 8422 5.1.2: ec_point_format_list<1..2^8-1>; the one-step path for a well-formed
    # body answers as the Reader does, and anything else still raises.
    assert ext.decode_ec_point_formats(b"\x03\x00\x01\x02") == b"\x00\x01\x02"
    assert ext.decode_ec_point_formats(memoryview(b"\x01\x00")) == b"\x00"
    for body in (b"", b"\x00", b"\x01", b"\x02\x00", b"\x01\x00\x00", b"\x00\x00"):
        with pytest.raises(DecodeError):
            ext.decode_ec_point_formats(body)
