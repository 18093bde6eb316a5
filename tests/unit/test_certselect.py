"""Client certificate selection in memory, a tlskit client against a tlskit server:
``ClientConfig.certificates`` (the first one the CertificateRequest supports, Go's rule),
``certificate_resolver`` (its info, its precedence, and how it fails), in TLS 1.3 (in the
handshake and after it) and TLS 1.2; `CertificateRequestInfo.supports`; and the
certificate_authorities codec, by hypothesis."""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from tlskit import (
    AlertReceived,
    CertificateRequestInfo,
    CertificateRequired,
    CertificateVerificationError,
    CertifiedKey,
    ClientCertificateReceived,
    ClientConnection,
    ConnectionClosed,
    ConnectionClosedError,
    DecodeError,
    HandshakeFailure,
    InternalError,
    ServerConnection,
    SignatureScheme,
    TLSError,
)
from tlskit.certselect import (
    decode_certificate_authorities,
    decode_name,
    encode_certificate_authorities,
)
from tlskit.enums import AlertDescription as AD

from ..support.pki import client_config, other_pki, pki, server_config
from ..support.pump import pump

VERSIONS = ["TLSv1.3", "TLSv1.2"]


def _key(issued: Any) -> CertifiedKey:
    return CertifiedKey(issued.chain, issued.private_key)


@cache
def alice() -> CertifiedKey:
    """Issued under pki()'s CA."""
    return _key(pki().client)


@cache
def mallory() -> CertifiedKey:
    """Issued under other_pki()'s CA."""
    return _key(other_pki().client)


@cache
def rsa_bob() -> CertifiedKey:
    return _key(pki().ca.issue_client("rsa-bob", key_type="rsa2048"))


def _server(version: str, anchors: list[x509.Certificate] | None = None,
            **kw: Any) -> ServerConnection:
    kw.setdefault("client_auth", "required")
    return ServerConnection(server_config(
        versions=[version], client_trust_anchors=anchors or [pki().ca.root], **kw))


def _client(version: str, **kw: Any) -> ClientConnection:
    return ClientConnection(client_config(versions=[version], **kw), "localhost")


def _presented(version: str, anchors: list[x509.Certificate] | None = None,
               server_kw: dict[str, Any] | None = None, **client_kw: Any) -> str:
    """The subject the server authenticated the client as."""
    c, s = _client(version, **client_kw), _server(version, anchors, **(server_kw or {}))
    pump(c, s)
    assert s.handshake_complete is not None
    return s.handshake_complete.peer_certificates[0].subject.rfc4514_string()


def _told(conn: Any, data: bytes) -> ConnectionClosed:
    """The peer's alert, as the other end reports it: a `ConnectionClosed` event."""
    [closed] = [e for e in conn.receive_data(data) if isinstance(e, ConnectionClosed)]
    return closed


def _failure(version: str, server_kw: dict[str, Any] | None = None,
             **client_kw: Any) -> tuple[Any, Any]:
    """How a failing handshake ends: (the client's, the server's), each the error it
    raised or the `ConnectionClosed` its peer's alert made."""
    c, s = _client(version, **client_kw), _server(version, **(server_kw or {}))
    for _ in range(6):
        for src, dst in ((c, s), (s, c)):
            data = src.data_to_send()
            try:
                dst.receive_data(data)
            except TLSError as exc:
                if dst is c:
                    return exc, _told(s, c.data_to_send())
                return _told(c, s.data_to_send()), exc
    raise AssertionError("the handshake did not fail")


# --- default selection ----------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_the_certificate_issued_under_a_named_ca_is_presented(version: str) -> None:
    both = [mallory(), alice()]
    assert _presented(version, certificates=both) == "CN=alice"
    assert _presented(version, [other_pki().ca.root], certificates=both) == "CN=mallory"


@pytest.mark.parametrize("version", VERSIONS)
def test_certificate_is_the_first_candidate(version: str) -> None:
    carol = _key(pki().ca.issue_client("carol"))
    assert _presented(version, certificate=carol, certificates=[alice()]) == "CN=carol"
    assert _presented(version, certificate=mallory(), certificates=[alice()]) == "CN=alice"


@pytest.mark.parametrize("version", VERSIONS)
def test_without_ca_names_the_first_whose_key_fits_is_presented(version: str) -> None:
    """No names: only the key counts; an RSA key the request's schemes (or TLS 1.2
    certificate_types) leave out is passed over."""
    only_ecdsa = {"send_client_ca_names": False, "signature_schemes":
                  ["ecdsa_secp256r1_sha256", "ed25519"]}
    assert _presented(version, server_kw=only_ecdsa,
                      certificates=[rsa_bob(), alice()]) == "CN=alice"
    assert _presented(version, server_kw={"send_client_ca_names": False},
                      certificates=[rsa_bob(), alice()]) == "CN=rsa-bob"


@cache
def mallory_rsa() -> CertifiedKey:
    """Also issued under other_pki()'s CA."""
    return _key(other_pki().ca.issue_client("mallory-rsa", key_type="rsa2048"))


@pytest.mark.parametrize("version", VERSIONS)
def test_none_supported_sends_an_empty_certificate(version: str) -> None:
    client, server = _failure(version, certificates=[mallory(), mallory_rsa()])
    if version == "TLSv1.3":
        assert isinstance(server, CertificateRequired)
        assert server.alert == AD.certificate_required
    else:  # (RFC 5246 7.4.6)
        assert isinstance(server, HandshakeFailure) and server.alert == AD.handshake_failure
    assert isinstance(client, ConnectionClosed) and client.alert == server.alert


@pytest.mark.parametrize("field", ["certificate", "certificates"])
@pytest.mark.parametrize("version", VERSIONS)
def test_a_single_certificate_is_sent_whatever_cas_are_named(version: str, field: str) -> None:
    """One certificate goes whatever the server names (OpenSSL, rustls and curl send it:
    servers may accept more than they name); this server then refuses it as unknown."""
    value = mallory() if field == "certificate" else [mallory()]
    client, server = _failure(version, **{field: value})
    assert isinstance(server, CertificateVerificationError)
    assert server.alert == AD.unknown_ca and "stranger CA" in str(server)
    assert isinstance(client, ConnectionClosed) and client.alert == AD.unknown_ca


def test_a_post_handshake_request_is_answered_by_the_same_rule() -> None:
    c = _client("TLSv1.3", certificates=[mallory(), alice()])
    s = _server("TLSv1.3", client_auth="none")
    pump(c, s)
    s.request_client_certificate()
    [got] = [e for e in pump(s, c) if isinstance(e, ClientCertificateReceived)]
    assert got.peer_certificates[0].subject.rfc4514_string() == "CN=alice"


# --- the resolver -----------------------------------------------------------------------


class Recorder:
    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.seen: list[CertificateRequestInfo] = []

    def __call__(self, info: CertificateRequestInfo) -> Any:
        self.seen.append(info)
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


@pytest.mark.parametrize("version", VERSIONS)
def test_the_resolver_sees_the_request_and_takes_precedence(version: str) -> None:
    resolver = Recorder(mallory())
    # (the server trusts both CAs and names both; certificates alone would give alice)
    anchors = [pki().ca.root, other_pki().ca.root]
    assert _presented(version, anchors, certificates=[alice()],
                      certificate_resolver=resolver) == "CN=mallory"
    [info] = resolver.seen
    assert info.certificate_authorities == (pki().ca.root.subject, other_pki().ca.root.subject)
    assert info.version == version and info.server_name == "localhost"
    assert SignatureScheme.ecdsa_secp256r1_sha256 in info.signature_schemes
    assert info.supports(alice()) and info.supports(mallory())
    assert "certificate_authorities=" in repr(info)


def test_the_resolver_answers_a_post_handshake_request() -> None:
    resolver = Recorder(alice())
    c = _client("TLSv1.3", certificate_resolver=resolver)
    s = _server("TLSv1.3", client_auth="none")
    pump(c, s)
    assert resolver.seen == []
    s.request_client_certificate()
    [got] = [e for e in pump(s, c) if isinstance(e, ClientCertificateReceived)]
    assert got.peer_certificates[0] == pki().client.certificate
    assert resolver.seen[0].certificate_authorities == (pki().ca.root.subject,)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_resolver_that_raises_ends_the_handshake_with_internal_error(version: str) -> None:
    client, server = _failure(version, certificate_resolver=Recorder(ValueError("no token")))
    assert type(client) is InternalError and client.alert == AD.internal_error
    assert str(client) == "certificate_resolver raised ValueError: no token"
    assert isinstance(client.__cause__, ValueError)
    assert isinstance(server, ConnectionClosed) and server.alert == AD.internal_error


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("error", "alert"), [
    (HandshakeFailure("no smart card"), AD.handshake_failure),
    (CertificateRequired("the user declined"), AD.certificate_required)])
def test_a_resolver_raising_a_tls_error_ends_the_handshake_with_its_alert(
        version: str, error: TLSError, alert: AD) -> None:
    """The server's resolver rule: a `TLSError` keeps its alert (the application chose
    it), anything else is internal_error."""
    client, server = _failure(version, certificate_resolver=Recorder(error))
    assert client is error and client.alert == alert
    assert isinstance(server, ConnectionClosed) and server.alert == alert


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("error", [AlertReceived(AD.bad_record_mac),
                                   ConnectionClosedError("the key server closed")])
def test_a_peer_event_from_another_connection_is_internal_error(version: str,
                                                                error: TLSError) -> None:
    """A resolver that fetched its key over another tlskit connection and let that one's
    AlertReceived (or ConnectionClosedError) escape: this connection's peer sent
    nothing, so it gets internal_error, and this side reports an InternalError caused
    by it (before: AlertReceived(bad_record_mac) as if the server had sent it, and no
    alert, the server left waiting)."""
    client, server = _failure(version, certificate_resolver=Recorder(error))
    assert type(client) is InternalError and client.alert == AD.internal_error
    assert client.__cause__ is error and "from another connection" in str(client)
    assert isinstance(server, ConnectionClosed) and server.alert == AD.internal_error


@pytest.mark.parametrize("version", VERSIONS)
def test_a_resolver_returning_something_else_is_internal_error(version: str) -> None:
    client, server = _failure(version, certificate_resolver=Recorder(pki().client))
    assert type(client) is InternalError
    assert str(client) == ("certificate_resolver returned Issued, not a tlskit.CertifiedKey "
                           "or None")
    assert isinstance(server, ConnectionClosed) and server.alert == AD.internal_error


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("answer", ["none", "unusable key"])
def test_a_resolver_giving_none_or_an_unusable_key_sends_an_empty_certificate(
        version: str, answer: str) -> None:
    """An RSA key when the server asks for ECDSA and EdDSA alone: no scheme to sign with,
    so no certificate (as when the default rule finds none); the server decides."""
    client, server = _failure(
        version, server_kw={"signature_schemes": ["ecdsa_secp256r1_sha256", "ed25519"]},
        certificate_resolver=Recorder(None if answer == "none" else rsa_bob()))
    expected = AD.certificate_required if version == "TLSv1.3" else AD.handshake_failure
    assert server.alert == expected and type(server) is (
        CertificateRequired if version == "TLSv1.3" else HandshakeFailure)
    assert isinstance(client, ConnectionClosed) and client.alert == expected


def test_a_config_refuses_what_is_not_a_certified_key_or_a_callable() -> None:
    with pytest.raises(TypeError, match=r"certificates must be a tlskit\.CertifiedKey"):
        client_config(certificates=[pki().client])
    with pytest.raises(TypeError, match="a list of CertifiedKey"):
        client_config(certificates=alice())
    with pytest.raises(TypeError, match="certificate_resolver must be a callable"):
        client_config(certificate_resolver=alice())


def test_post_handshake_auth_is_offered_for_certificates_or_a_resolver() -> None:
    for kw in ({"certificates": [alice()]}, {"certificate_resolver": Recorder(None)}):
        c = _client("TLSv1.3", **kw)
        s = _server("TLSv1.3", client_auth="none")
        pump(c, s)
        s.request_client_certificate()  # (UsageError unless the client offered it)


# --- CertificateRequestInfo.supports ----------------------------------------------------


def test_supports_needs_a_common_scheme_and_a_named_issuer() -> None:
    ecdsa = (SignatureScheme.ecdsa_secp256r1_sha256,)
    assert CertificateRequestInfo((), ecdsa).supports(alice())
    assert not CertificateRequestInfo((), (SignatureScheme.rsa_pss_rsae_sha256,)).supports(
        alice())
    # The intermediate in alice's chain is issued by the root: naming the root is enough,
    # as naming the intermediate (the leaf's issuer) is.
    assert CertificateRequestInfo((pki().ca.root.subject,), ecdsa).supports(alice())
    assert CertificateRequestInfo((pki().ca.intermediate.subject,), ecdsa).supports(alice())
    assert not CertificateRequestInfo((other_pki().ca.root.subject,), ecdsa).supports(alice())
    # TLS 1.2 reads the key's TLS 1.2 schemes.
    assert CertificateRequestInfo((), ecdsa, "TLSv1.2").supports(alice())
    assert not CertificateRequestInfo((), (0x0201,), "TLSv1.2").supports(alice())


def test_a_leaf_alone_must_name_its_issuer() -> None:
    leaf_only = CertifiedKey(pki().client.chain[:1], pki().client.private_key)
    ecdsa = (SignatureScheme.ecdsa_secp256r1_sha256,)
    assert not CertificateRequestInfo((pki().ca.root.subject,), ecdsa).supports(leaf_only)
    assert CertificateRequestInfo((pki().ca.intermediate.subject,), ecdsa).supports(leaf_only)


# --- the certificate_authorities codec --------------------------------------------------

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1,
                max_size=20)
_ASCII = st.text(st.sampled_from("abcXYZ019 '()+,-./:=?"), min_size=1, max_size=20)
_ATTRIBUTES = st.one_of(
    st.builds(lambda v: x509.NameAttribute(NameOID.COMMON_NAME, v), _TEXT),
    st.builds(lambda v: x509.NameAttribute(NameOID.ORGANIZATION_NAME, v,
                                           _ASN1Type.PrintableString), _ASCII),
    st.builds(lambda v: x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, v,
                                           _ASN1Type.BMPString), _TEXT),
    st.builds(lambda v: x509.NameAttribute(NameOID.DOMAIN_COMPONENT, v), _ASCII),
    st.builds(lambda v: x509.NameAttribute(x509.ObjectIdentifier("1.2.3.4.5.999999"), v),
              _TEXT),
)
_RDNS = st.lists(_ATTRIBUTES, min_size=1, max_size=3, unique_by=lambda a: (a.oid, a.value)
                 ).map(x509.RelativeDistinguishedName)
_NAMES = st.lists(_RDNS, max_size=4).map(x509.Name)
FAST = settings(max_examples=200, deadline=None)


@FAST
@given(st.lists(_NAMES, min_size=1, max_size=4))
def test_names_round_trip(names: list[x509.Name]) -> None:
    body = encode_certificate_authorities(names)
    assert decode_certificate_authorities(body) == names
    for name in names:
        assert decode_name(name.public_bytes()).public_bytes() == name.public_bytes()


@FAST
@given(st.binary(max_size=80))
def test_any_bytes_decode_or_are_decode_error(data: bytes) -> None:
    for decode in (decode_certificate_authorities, decode_name):
        try:
            decode(data)
        except DecodeError as exc:
            assert exc.alert == AD.decode_error


@FAST
@given(_NAMES.filter(lambda n: len(n) > 0), st.data())
def test_a_mutated_name_decodes_or_is_decode_error(name: x509.Name, data: st.DataObject) -> None:
    der = bytearray(name.public_bytes())
    at = data.draw(st.integers(0, len(der) - 1))
    der[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(der)))
    for candidate in (bytes(der), bytes(der[:cut])):
        try:
            decode_name(candidate)
        except DecodeError as exc:
            assert exc.alert == AD.decode_error


@pytest.mark.parametrize(("names", "message"), [
    ([], "at least one name"),
    ([pki().ca.root.subject, b""], "none empty"),
    ([b"\x30\x00"] * 16384, "of 65536 bytes: at most 65535"),
    ([b"\x30\x82\xff\xff" + bytes(0xFFFF)], "of 65541 bytes: at most 65535"),
], ids=["none", "an-empty-name", "too-many", "one-too-long"])
def test_the_encoder_refuses_what_the_decoder_would(names: list[Any], message: str) -> None:
    """The public encoder makes nothing its decoder refuses (an empty list or name), nor
    raises struct.error for a name longer than a 2-byte length: ValueError saying why."""
    with pytest.raises(ValueError, match=message):
        encode_certificate_authorities(names)
    assert decode_certificate_authorities(encode_certificate_authorities(
        [b"\x30\x00"] * 16383)) == [x509.Name([])] * 16383


@pytest.mark.parametrize("body", [
    b"\x00\x00",                          # an empty list (4.2.4: at least one name)
    b"\x00\x02\x00\x00",                  # an empty DistinguishedName
    b"\x00\x04\x00\x02\x04\x00",          # not a SEQUENCE
    b"\x00\x05\x00\x03\x30\x01\x31",      # a Name running past its end
    b"\x00\x06\x00\x04\x30\x02\x31\x00",  # an empty RelativeDistinguishedName
    b"\x00\x04\x00\x02\x30\x00\x00",      # trailing bytes
    bytes.fromhex("000f000d300b3109300706035504031e01"),  # an odd BMPString (truncated)
    bytes.fromhex("0010000e300c310a300806035504030201ff"),  # an INTEGER value
], ids=["empty-list", "empty-name", "not-sequence", "overrun", "empty-rdn", "trailing",
        "truncated", "integer-value"])
def test_malformed_lists_are_decode_error(body: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_certificate_authorities(body)


def _one_attribute_name(oid_body: bytes) -> bytes:
    """A Name of one RDN of one attribute: the OID contents given, a UTF8String "a"."""
    def tlv(tag: int, body: bytes) -> bytes:
        length = len(body)
        size = b"" if length < 0x80 else length.to_bytes((length.bit_length() + 7) // 8, "big")
        return bytes((tag, 0x80 | len(size) if size else length)) + size + body

    return tlv(0x30, tlv(0x31, tlv(0x30, tlv(0x06, oid_body) + tlv(0x0C, b"a"))))


def test_a_long_attribute_type_is_refused_before_its_arcs_are_read() -> None:
    """A server's name with one 60 KB OID arc: decode_error, without the quadratic work
    of reading the arc (about half a second a name) before cryptography's 63-byte OID
    limit refuses it anyway; 63 bytes still decode."""
    longest = b"\x2a" + b"\x01" * 62
    assert decode_name(_one_attribute_name(longest)).rdns[0].get_attributes_for_oid(
        x509.ObjectIdentifier("1.2" + ".1" * 62))
    with pytest.raises(DecodeError, match=r"an attribute type of 64 bytes \(at most 63\)"):
        decode_name(_one_attribute_name(longest + b"\x01"))
    with pytest.raises(DecodeError, match=r"an attribute type of 60002 bytes \(at most 63\)"):
        decode_name(_one_attribute_name(b"\x2a" + b"\xff" * 60000 + b"\x01"))


# --- names as cryptography reads them -------------------------------------------------

_SUBJECT_VALUES = [  # (type, oid, value): every value type cryptography keeps in a Name
    (_ASN1Type.BitString, NameOID.X500_UNIQUE_IDENTIFIER, b"\x00\x5a\x17"),
    (_ASN1Type.OctetString, NameOID.ORGANIZATIONAL_UNIT_NAME, "octets"),
    (_ASN1Type.UTCTime, NameOID.ORGANIZATIONAL_UNIT_NAME, "250101000000Z"),
    (_ASN1Type.GeneralizedTime, NameOID.ORGANIZATIONAL_UNIT_NAME, "20250101000000Z"),
    (_ASN1Type.T61String, NameOID.ORGANIZATIONAL_UNIT_NAME, "caf\u00e9"),
    (_ASN1Type.PrintableString, NameOID.ORGANIZATIONAL_UNIT_NAME, "plain"),
    (_ASN1Type.UniversalString, NameOID.ORGANIZATIONAL_UNIT_NAME, "\U0001f512"),
    (_ASN1Type.BMPString, NameOID.ORGANIZATIONAL_UNIT_NAME, "\u00e9t\u00e9"),
]


def _issue(subject: x509.Name, issuer: x509.Name, key: Any, signer: Any,
           ca: bool) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(hours=1))
               .not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            False, False, False, False, False, True, True, False, False), True)
    else:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), False)
    return builder.sign(signer, hashes.SHA256())


@cache
def _unusual_ca() -> tuple[x509.Certificate, CertifiedKey]:
    """A root whose subject holds every value type of ``_SUBJECT_VALUES``, and a client
    certificate it issued."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "unusual root"),
                         *(x509.NameAttribute(oid, value, kind)
                           for kind, oid, value in _SUBJECT_VALUES)])
    root_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), \
        ec.generate_private_key(ec.SECP256R1())
    root = _issue(subject, subject, root_key, root_key, ca=True)
    leaf = _issue(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "unusual client")]),
                  subject, leaf_key, root_key, ca=False)
    return root, CertifiedKey([leaf, root], leaf_key)


@pytest.mark.parametrize(("kind", "oid", "value"), _SUBJECT_VALUES,
                         ids=[k.name for k, _, _ in _SUBJECT_VALUES])
def test_a_name_reads_as_cryptography_reads_it_from_a_certificate(
        kind: _ASN1Type, oid: x509.ObjectIdentifier, value: Any) -> None:
    """A CA name from the wire equals its certificate's subject as cryptography loads it
    (a BIT STRING x500UniqueIdentifier, OCTET STRING and time values were decode_error,
    a T61String was read as Latin-1 where cryptography reads UTF-8)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ca"),
                      x509.NameAttribute(oid, value, kind)])
    key = ec.generate_private_key(ec.SECP256R1())
    loaded = x509.load_der_x509_certificate(
        _issue(name, name, key, key, ca=True).public_bytes(Encoding.DER)).subject
    assert decode_name(loaded.public_bytes()) == loaded == name


@pytest.mark.parametrize("version", VERSIONS)
def test_a_tlskit_server_can_name_any_ca_it_loads(version: str) -> None:
    """The server names a root whose subject has every value type cryptography reads;
    the client reads the request and presents the certificate that root issued (it
    ended the handshake with decode_error)."""
    root, client_key = _unusual_ca()
    assert _presented(version, [root], certificates=[alice(), client_key]) == \
        "CN=unusual client"
