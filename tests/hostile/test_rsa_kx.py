"""TLS 1.2 RSA key transport (RFC 5246 7.4.7.1, RFC 5288): TLS_RSA_WITH_AES_128_GCM_SHA256
and TLS_RSA_WITH_AES_256_GCM_SHA384, off unless both configs opt in with
``legacy_rsa_key_exchange=True``.

Shown here: the opt-in (never offered, accepted or configurable without it, and ECDHE still
preferred with it); the certificate rules on both sides (an RSA encryption key whose
KeyUsage, if present, allows keyEncipherment); the extended master secret and resumption
for such sessions; and hostile messages around the new ClientKeyExchange with their exact
alerts. The server's padding-oracle resistance is in tests/hostile/test_rsa_oracle.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from functools import cache
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from tlskit import ClientConfig, HandshakeComplete, ServerConfig, SessionCache, TLSError
from tlskit.enums import CipherSuite
from tlskit.errors import DecodeError
from tlskit.handshake.client12 import ClientHandshake12
from tlskit.handshake.server12 import ServerHandshake12
from tlskit.wire import messages as m
from tlskit.wire import messages12 as m12

from ..support.mitm import CLIENT, KEYS, SERVER, server_endpoint
from ..support.pki import AcceptAll, pki, rsa_server
from ..support.records import SUITES12, hello_random, messages_of, prf12
from .helpers12 import (
    AD,
    CERTIFICATE,
    CLIENT_KEY_EXCHANGE,
    EXT_EMS,
    SERVER_KEY_EXCHANGE,
    Run12,
    client12,
    edit_server_hello,
    expect_alert12,
    message,
    on_msg,
    rewriting,
    server12,
)

RSA_128 = "TLS_RSA_WITH_AES_128_GCM_SHA256"
RSA_256 = "TLS_RSA_WITH_AES_256_GCM_SHA384"
RSA_CODES = {int(CipherSuite[RSA_128]), int(CipherSuite[RSA_256])}
OPT_IN: dict[str, Any] = {"legacy_rsa_key_exchange": True}
EXT_STATUS_REQUEST = 5
EXT_SUPPORTED_GROUPS, EXT_EC_POINT_FORMATS = 10, 11


def rsa_client(suites: list[str] | None = None, **kw: Any) -> Any:
    """A TLS 1.2 client that opted in (offering only RSA key transport by default)."""
    kw.setdefault("cipher_suites", suites or [RSA_128, RSA_256])
    return client12(**OPT_IN, **kw)


def rsa_server_conn(**kw: Any) -> Any:
    """An opted-in server with an RSA-2048 leaf (keyEncipherment allowed)."""
    leaf = rsa_server()
    kw.setdefault("certificate_chain", leaf.chain)
    kw.setdefault("private_key", leaf.private_key)
    return server12(**{**OPT_IN, **kw})


def _complete(run: Run12) -> tuple[HandshakeComplete, HandshakeComplete]:
    """Run the handshake; return (client's, server's) HandshakeComplete."""
    run.to_server_flight()
    c_events = run.client.receive_data(run.server_flight)
    run.client_flight = run.client.data_to_send()
    s_events = run.server.receive_data(run.client_flight)
    run.server_final = run.server.data_to_send()
    c_events += run.client.receive_data(run.server_final)
    done = [next(e for e in ev if isinstance(e, HandshakeComplete))
            for ev in (c_events, s_events)]
    return done[0], done[1]


def _offered_suites(client: Any) -> list[int]:
    hello = client.data_to_send()
    return list(m.ClientHello.decode(memoryview(hello)[9:]).cipher_suites)


# --- the handshake, and what it negotiates -------------------------------------------------

@pytest.mark.parametrize("suite", [RSA_128, RSA_256])
def test_rsa_key_transport_handshake_and_data(suite: str) -> None:
    run = Run12(rsa_client([suite]), rsa_server_conn())
    c_done, s_done = _complete(run)
    for done in (c_done, s_done):
        assert done.cipher_suite.name == suite
        assert done.group is None and done.signature_scheme is None  # no ServerKeyExchange
    assert [msg[0] for msg in messages_of(run.server_flight)] == [2, 11, 14]  # SH Cert SHD
    run.client.send_data(b"the classic handshake")
    got = run.server.receive_data(run.client.data_to_send())
    assert got[0].data == b"the classic handshake"  # type: ignore[attr-defined]
    assert run.client.export_keying_material(b"EXPORTER-x", None, 16) == \
        run.server.export_keying_material(b"EXPORTER-x", None, 16)


def test_extended_master_secret_is_used_with_rsa_key_transport() -> None:
    """Both sides' master secret (their key-log lines) is the RFC 7627 one, computed here
    from the premaster the test decrypts with the server's key and the session hash."""
    leaf = rsa_server()
    run = Run12(rsa_client(), rsa_server_conn(certificate_chain=leaf.chain,
                                              private_key=leaf.private_key))
    c_done, _ = _complete(run)
    sh = m.ServerHello.decode(memoryview(messages_of(run.server_flight)[0])[4:])
    assert EXT_EMS in sh.extensions
    cke = messages_of(run.client_flight)[0]
    assert cke[0] == CLIENT_KEY_EXCHANGE
    premaster = leaf.private_key.decrypt(  # type: ignore[union-attr]
        cke[6:], asym_padding.PKCS1v15())
    hash_name = SUITES12[int(c_done.cipher_suite)][2]
    session_hash = hashlib.new(hash_name, b"".join(
        messages_of(run.client_hello) + messages_of(run.server_flight) + [cke])).digest()
    ems = prf12(hash_name, premaster, b"extended master secret", session_hash, 48)
    random = hello_random(run.client_hello)
    for side in (CLIENT, SERVER):
        assert KEYS.secrets(random, "CLIENT_RANDOM", side) == [ems]


@pytest.mark.parametrize("tickets", [0, 2])
def test_rsa_key_transport_sessions_resume(tickets: int) -> None:
    """Session IDs (tickets=0) and RFC 5077 tickets both resume an RSA-kx session."""
    cache_ = SessionCache()
    scfg = rsa_server_conn(session_tickets=tickets).config
    first = Run12(rsa_client(session_cache=cache_, legacy_session_ticket=bool(tickets)),
                  server_endpoint(scfg))
    c1, _ = _complete(first)
    assert not c1.resumed
    second = Run12(rsa_client(session_cache=cache_, legacy_session_ticket=bool(tickets)),
                   server_endpoint(scfg))
    c2, s2 = _complete(second)
    assert c2.resumed and s2.resumed
    assert c2.cipher_suite.name == RSA_128
    assert [msg[0] for msg in messages_of(second.server_flight)][:1] == [2]  # no Certificate
    assert CERTIFICATE not in [msg[0] for msg in messages_of(second.server_flight)]


# --- off by default ------------------------------------------------------------------------

def test_default_client_never_offers_rsa_key_transport() -> None:
    for versions in (["TLSv1.2"], ["TLSv1.3", "TLSv1.2"]):
        assert not RSA_CODES & set(_offered_suites(client12(versions=versions)))


def test_opted_in_client_offers_it_after_every_ecdhe_suite() -> None:
    offered = [s for s in _offered_suites(client12(**OPT_IN)) if s < 0x1300 or s > 0x13FF]
    assert offered[-2:] == [0x009C, 0x009D]
    assert all(s not in RSA_CODES for s in offered[:-2])


@pytest.mark.parametrize("cls", [ClientConfig, ServerConfig])
def test_naming_an_rsa_suite_without_the_opt_in_is_a_config_error(cls: Any) -> None:
    kw: dict[str, Any] = {}
    if cls is ServerConfig:
        kw = {"certificate_chain": rsa_server().chain, "private_key": rsa_server().private_key}
    with pytest.raises(ValueError, match="legacy_rsa_key_exchange=True") as info:
        cls(cipher_suites=["AES128-GCM-SHA256"], **kw)
    assert RSA_128 in str(info.value)
    assert cls(cipher_suites=["AES128-GCM-SHA256"], **OPT_IN, **kw)._suites12 == [0x009C]


def test_default_server_refuses_rsa_only_client_naming_the_opt_in() -> None:
    client = rsa_client()
    server = rsa_server_conn(legacy_rsa_key_exchange=False)
    exc = expect_alert12(server, client.data_to_send(), AD.handshake_failure)
    assert "no TLS 1.2 cipher suite in common" in str(exc)
    assert "legacy_rsa_key_exchange=True" in str(exc) and "--legacy-rsa-kx" in str(exc)


def test_default_server_answers_a_mixed_offer_with_ecdhe() -> None:
    c_done, _ = _complete(Run12(client12(**OPT_IN), rsa_server_conn(
        legacy_rsa_key_exchange=False)))
    assert c_done.cipher_suite.name == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"


def test_opted_in_server_still_prefers_ecdhe() -> None:
    c_done, s_done = _complete(Run12(client12(**OPT_IN), rsa_server_conn()))
    assert s_done.cipher_suite.name == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    assert c_done.group is not None


# --- the certificate's key must be able to receive the premaster --------------------------

@cache
def signing_only_rsa() -> tuple[list[x509.Certificate], rsa.RSAPrivateKey]:
    """An RSA leaf whose KeyUsage allows digitalSignature only (no keyEncipherment)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    usage = x509.KeyUsage(digital_signature=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          key_cert_sign=False, crl_sign=False, encipher_only=False,
                          decipher_only=False)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(usage, critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), False)
            .sign(key, hashes.SHA256()))
    return [cert], key


def test_server_does_not_choose_rsa_kx_for_a_key_without_key_encipherment() -> None:
    chain, key = signing_only_rsa()
    server = rsa_server_conn(certificate_chain=chain, private_key=key)
    exc = expect_alert12(server, rsa_client(verifier=AcceptAll()).data_to_send(),
                         AD.handshake_failure)
    assert "keyEncipherment" in str(exc)
    # Offered ECDHE too, the same server signs with that key instead.
    c_done, _ = _complete(Run12(client12(**OPT_IN, verifier=AcceptAll()),
                                rsa_server_conn(certificate_chain=chain, private_key=key)))
    assert c_done.cipher_suite.name.startswith("TLS_ECDHE_RSA_")


def test_server_does_not_choose_rsa_kx_with_an_ec_certificate() -> None:
    server = server12(**OPT_IN)  # EC P-256 leaf
    exc = expect_alert12(server, rsa_client().data_to_send(), AD.handshake_failure)
    assert "keyEncipherment" in str(exc)


def _swap_certificate(chain: list[x509.Certificate]) -> Any:
    from cryptography.hazmat.primitives.serialization import Encoding
    return on_msg(CERTIFICATE, lambda hs, raw: m12.Certificate12(
        [c.public_bytes(Encoding.DER) for c in chain]).encode())


@pytest.mark.parametrize(("chain", "why"), [
    (lambda: signing_only_rsa()[0], "KeyUsage does not allow keyEncipherment"),
    (lambda: pki().server.chain, "not an RSA encryption key"),
])
def test_client_refuses_a_certificate_that_cannot_receive_the_premaster(
        chain: Any, why: str) -> None:
    run = Run12(rsa_client(verifier=AcceptAll()), rsa_server_conn())
    with rewriting(ServerHandshake12, _swap_certificate(chain())):
        run.to_server_flight()
    exc = expect_alert12(run.client, run.server_flight, AD.unsupported_certificate)
    assert why in str(exc) and RSA_128 in str(exc)


def test_client_checks_the_chain_before_encrypting_to_it() -> None:
    """Without AcceptAll, an unknown issuer stops the client before any ClientKeyExchange."""
    from ..support.pki import other_pki
    run = Run12(rsa_client(trust_anchors=[other_pki().ca.root]), rsa_server_conn())
    run.to_server_flight()
    with pytest.raises(TLSError) as info:
        run.client.receive_data(run.server_flight)
    assert info.value.alert == AD.unknown_ca
    assert all(rec[0] != 16 for rec in messages_of(run.client.data_to_send()))


# --- hostile messages ---------------------------------------------------------------------

def test_client_refuses_rsa_kx_it_did_not_offer() -> None:
    """A server picking RSA key transport for a client that did not opt in."""
    run = Run12(client12(), rsa_server_conn())
    with rewriting(ServerHandshake12, edit_server_hello(
            lambda sh: setattr(sh, "cipher_suite", 0x009C))):
        run.to_server_flight()
    exc = expect_alert12(run.client, run.server_flight, AD.illegal_parameter)
    assert "0x009c" in str(exc) and "not offered" in str(exc)


def test_client_refuses_server_key_exchange_under_rsa_kx() -> None:
    ske = message(SERVER_KEY_EXCHANGE, b"\x03\x00\x1d\x01\x00\x04\x01\x00\x00")

    def add_ske(hs: Any, raw: bytes) -> list[bytes]:
        return [raw, ske]
    run = Run12(rsa_client(), rsa_server_conn())
    with rewriting(ServerHandshake12, on_msg(CERTIFICATE, add_ske)):
        run.to_server_flight()
    exc = expect_alert12(run.client, run.server_flight, AD.unexpected_message)
    assert "waiting for CertificateRequest or ServerHelloDone" in str(exc)


def _client_flight_with(body: Any) -> Run12:
    run = Run12(rsa_client(), rsa_server_conn()).to_server_flight()
    with rewriting(ClientHandshake12, on_msg(
            CLIENT_KEY_EXCHANGE, lambda hs, raw: message(CLIENT_KEY_EXCHANGE, body(raw)))):
        run.client.receive_data(run.server_flight)
    run.client_flight = run.client.data_to_send()
    return run


CKE_FRAMING = {
    "empty": lambda raw: b"",
    "one-byte": lambda raw: raw[4:5],
    "truncated": lambda raw: raw[4:-1],          # the length prefix promises one more byte
    "over-long": lambda raw: raw[4:] + b"\x00",  # a byte after the vector
    "prefix-too-short": lambda raw: (len(raw) - 7).to_bytes(2, "big") + raw[6:],
    "ecdhe-form": lambda raw: bytes((32,)) + bytes(range(1, 33)),  # 1-byte length prefix
}


@pytest.mark.parametrize("case", CKE_FRAMING)
def test_server_rejects_misframed_rsa_client_key_exchange(case: str) -> None:
    run = _client_flight_with(CKE_FRAMING[case])
    expect_alert12(run.server, run.client_flight, AD.decode_error)


# --- status_request acknowledged, no CertificateStatus (RFC 6066 8) -------------------------

def _ack_status_request(sh: m.ServerHello) -> None:
    sh.extensions[EXT_STATUS_REQUEST] = b""


@pytest.mark.parametrize("client_auth", [False, True])
def test_client_checks_the_certificate_when_no_staple_follows(client_auth: bool) -> None:
    """The client's RSA_WAIT_CERTIFICATE_STATUS state then sees ServerHelloDone (or a
    CertificateRequest): the chain is verified there, before the premaster is encrypted."""
    from .helpers12 import client_auth_kw
    auth = client_auth_kw() if client_auth else {}
    client_kw = {"certificate": _alice()} if client_auth else {}
    run = Run12(rsa_client(ocsp_stapling=True, **client_kw), rsa_server_conn(**auth))
    with rewriting(ServerHandshake12, edit_server_hello(_ack_status_request)):
        c_done, _ = _complete(run)
    assert c_done.cipher_suite.name == RSA_128 and c_done.ocsp_response is None
    # verified (verify_mode "required": a failure would have ended the handshake)
    assert c_done.peer_certificates == list(run.server.config.certificate_chain)
    assert run.client.verification_error is None


def test_client_refuses_an_unverified_certificate_when_no_staple_follows() -> None:
    from ..support.pki import other_pki
    run = Run12(rsa_client(ocsp_stapling=True, trust_anchors=[other_pki().ca.root]),
                rsa_server_conn())
    with rewriting(ServerHandshake12, edit_server_hello(_ack_status_request)):
        run.to_server_flight()
    expect_alert12(run.client, run.server_flight, AD.unknown_ca)


def _alice() -> Any:
    from tlskit import CertifiedKey
    alice = pki().client
    return CertifiedKey(alice.chain, alice.private_key)


# --- the message itself ---------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=600))
def test_rsa_client_key_exchange_round_trip_truncation_and_trailing_bytes(blob: bytes) -> None:
    """Any ciphertext length round-trips (a wrong one is for the oracle-safe decryption to
    absorb); a cut length prefix or vector, or a byte after it, is decode_error."""
    raw = m12.ClientKeyExchangeRSA(blob).encode()
    assert raw[0] == CLIENT_KEY_EXCHANGE and int.from_bytes(raw[1:4], "big") == len(raw) - 4
    body = raw[4:]
    assert m12.ClientKeyExchangeRSA.decode(body) == m12.ClientKeyExchangeRSA(blob)
    for n in range(len(body)):
        with pytest.raises(DecodeError):
            m12.ClientKeyExchangeRSA.decode(body[:n])
    with pytest.raises(DecodeError):
        m12.ClientKeyExchangeRSA.decode(body + b"\x00")


def test_no_ecdhe_group_leaves_rsa_key_transport_without_supported_groups() -> None:
    """A TLS 1.2 client that opted in, with only groups TLS 1.2 cannot use (ffdhe2048 here):
    it offers its RSA key transport suites alone, without supported_groups or
    ec_point_formats (RFC 8422 5.1: those are for ECC suites), and connects. Before, it
    was refused at construction (the check made for ECDHE-only clients), and before that
    it sent an empty supported_groups, which servers reject as malformed."""
    client = client12(**OPT_IN, groups=["ffdhe2048"])
    hello = m.ClientHello.decode(memoryview(client.data_to_send())[9:])
    assert set(hello.cipher_suites) == RSA_CODES
    assert EXT_SUPPORTED_GROUPS not in hello.extensions
    assert EXT_EC_POINT_FORMATS not in hello.extensions
    run = Run12(client12(**OPT_IN, groups=["ffdhe2048"]), rsa_server_conn())
    c_done, _ = _complete(run)
    assert int(c_done.cipher_suite) in RSA_CODES and c_done.group is None
    with pytest.raises(ValueError, match=r"no group usable with TLS 1\.2"):
        client12(groups=["ffdhe2048"])  # no RSA key transport to fall back on


@cache
def _key_encipherment_only() -> tuple[list[x509.Certificate], rsa.RSAPrivateKey]:
    """An RSA-2048 leaf for localhost, issued by the test PKI's intermediate, whose keyUsage
    is keyEncipherment alone: the key of an RSA key transport server, which never signs."""
    ca = pki().ca
    key = rsa.generate_private_key(65537, 2048)
    now = dt.datetime.now(dt.UTC)
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca.intermediate.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .add_extension(x509.KeyUsage(False, False, True, False, False, False, False, False,
                                         False), True)
            .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .sign(ca.intermediate_key, hashes.SHA256()))  # type: ignore[arg-type]
    return [leaf, ca.intermediate], key


def test_a_key_encipherment_only_leaf_serves_rsa_key_transport_not_ecdhe() -> None:
    """RFC 5246 7.4.2: for RSA key transport the server's key must allow keyEncipherment
    (it decrypts, it signs nothing); for ECDHE_RSA it signs the ServerKeyExchange, so
    digitalSignature. Before, the client's verifier asked digitalSignature of every leaf
    and refused the leaf an RSA key transport server needs (the verifier's
    require_digital_signature was never turned off for it); OpenSSL and browsers take it."""
    chain, key = _key_encipherment_only()
    server = {"certificate_chain": chain, "private_key": key}
    run = Run12(client12(**OPT_IN, cipher_suites=[RSA_128]),
                rsa_server_conn(**server))
    c_done, _ = _complete(run)
    assert c_done.cipher_suite.name == RSA_128 and c_done.peer_certificates[0] == chain[0]
    ecdhe = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    run = Run12(client12(**OPT_IN, cipher_suites=[ecdhe]),
                rsa_server_conn(cipher_suites=[ecdhe], **server))
    with pytest.raises(TLSError, match="does not allow digitalSignature") as refused:
        _complete(run)
    assert refused.value.alert.name == "bad_certificate"
