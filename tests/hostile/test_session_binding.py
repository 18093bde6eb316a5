"""A resumed connection is never less authenticated than a full one (RFC 8446 4.6.1, 5).

Each attack from the adversarial review, driven through the public API in memory: the
attack must fail (no PSK offered, a full handshake, or the exact alert), and the
legitimate resumption next to it must still work and report ``resumed=True``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from tlskit import (
    AlertReceived,
    CertifiedKey,
    ClientConfig,
    ClientConnection,
    ConnectionClosed,
    ServerConfig,
    ServerConnection,
    SessionTicketReceived,
)
from tlskit.ca import Issued, KeyType
from tlskit.enums import ExtensionType as E
from tlskit.enums import SignatureScheme
from tlskit.session import Session, SessionCache
from tlskit.wire import messages as m
from tlskit.x509 import CertificateVerificationError

from ..support.mitm import client_endpoint, server_endpoint
from ..support.pki import CLASSIC_GROUPS, other_pki, pki
from ..support.pump import pump
from ..support.records import HS, plain_alert, record, split_records
from .helpers import AD, expect_alert
from .helpers12 import Run12

TICKET_KEY = bytes(range(32))


@cache
def named_leaves() -> dict[str, Issued]:
    """Leaves from the shared test CA for the names the attacks need."""
    ca = pki().ca
    return {name: ca.issue_server([name]) for name in
            ("bank.example", "evil.example", "fass.de", "xn--fa-hia.de")}


def server_for(name: str, **kw: Any) -> ServerConfig:
    leaf = named_leaves()[name] if name in named_leaves() else pki().server
    kw.setdefault("ticket_key", TICKET_KEY)
    kw.setdefault("groups", CLASSIC_GROUPS)
    return ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key, **kw)


def client_cfg(**kw: Any) -> ClientConfig:
    kw.setdefault("trust_anchors", [pki().ca.root])
    kw.setdefault("groups", CLASSIC_GROUPS)
    return ClientConfig(**kw)


def offers_psk(hello_bytes: bytes) -> bool:
    """Does this ClientHello flight carry a pre_shared_key extension?"""
    rec = split_records(hello_bytes)[0]
    assert rec[0] == HS
    hello = m.ClientHello.decode(rec[5 + 4:])
    return E.pre_shared_key in hello.extensions


def handshake(client: ClientConnection, server: ServerConnection) -> list[Any]:
    events = pump(client, server)
    assert client.handshake_complete is not None and server.handshake_complete is not None
    return events


def session_from(events: list[Any]) -> Session:
    sessions = [e.session for e in events if isinstance(e, SessionTicketReceived)]
    assert sessions, "the server sent no ticket"
    return sessions[0]


def full_handshake_for(cfg: ClientConfig, name: str, server: ServerConfig) -> list[Any]:
    return handshake(client_endpoint(cfg, server_name=name), server_endpoint(server))


def refused_without_psk(client: ClientConnection, server: ServerConfig
                        ) -> CertificateVerificationError:
    """``client`` offers no PSK, so ``server`` must show its certificate, which the
    client refuses: the error it raised."""
    hello = client.data_to_send()
    assert not offers_psk(hello)
    peer = server_endpoint(server)
    peer.receive_data(hello)
    with pytest.raises(CertificateVerificationError) as info:
        client.receive_data(peer.data_to_send())
    return info.value


# --- 1. a session is offered only for names its certificate is valid for ----------------

def test_session_from_another_name_is_not_offered() -> None:
    evil = server_for("evil.example")
    cfg = client_cfg()
    session = session_from(full_handshake_for(cfg, "evil.example", evil))
    client = client_endpoint(cfg, server_name="bank.example", session=session)
    # The evil server holds the ticket key, but without a PSK it must show a certificate,
    # and its certificate is not valid for bank.example.
    error = refused_without_psk(client, evil)
    assert error.reason == "hostname_mismatch"
    assert error.alert == AD.bad_certificate


def test_session_for_the_same_name_still_resumes() -> None:
    bank = server_for("bank.example")
    cfg = client_cfg()
    session = session_from(full_handshake_for(cfg, "bank.example", bank))
    client = client_endpoint(cfg, server_name="bank.example", session=session)
    server = server_endpoint(bank)
    handshake(client, server)
    assert client.handshake_complete.resumed and server.handshake_complete.resumed
    assert client.handshake_complete.peer_certificates == named_leaves()["bank.example"].chain


def test_session_for_another_name_on_the_same_certificate_is_offered() -> None:
    """4.6.1 allows offering it when the new SNI is valid for the original certificate
    (a tlskit server then declines: it binds its tickets to the SNI they were issued
    under, so the handshake is a full one)."""
    leaf = pki().ca.issue_server(["a.example", "b.example"])
    scfg = ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key,
                        ticket_key=TICKET_KEY, groups=CLASSIC_GROUPS)
    cfg = client_cfg()
    session = session_from(full_handshake_for(cfg, "a.example", scfg))
    client = client_endpoint(cfg, server_name="b.example", session=session)
    server = server_endpoint(scfg)
    hello = client.data_to_send()
    assert offers_psk(hello)
    server.receive_data(hello)
    handshake(client, server)
    assert not client.handshake_complete.resumed


# --- 2. sessions from unverified handshakes ---------------------------------------------

def test_report_mode_session_is_not_cached_or_offered() -> None:
    """A man in the middle with an untrusted certificate: report mode lets the
    connection through once, but its session must never resume as verified."""
    mitm = ServerConfig(certificate_chain=other_pki().server.chain,
                        private_key=other_pki().server.private_key,
                        ticket_key=TICKET_KEY, groups=CLASSIC_GROUPS)
    shared = SessionCache()
    report = client_cfg(verify_mode="report", session_cache=shared)
    first = client_endpoint(report, server_name="localhost")
    events = handshake(first, server_endpoint(mitm))
    assert first.verification_error is not None
    session = session_from(events)
    assert not session.authenticated
    assert shared.take("localhost", report.clock()) is None  # nothing was cached

    # The same report-mode config: a full handshake again, the error reported again.
    client = client_endpoint(report, server_name="localhost", session=session)
    assert not offers_psk(client.data_to_send())
    # A strict config handed the session explicitly refuses to offer it.
    strict = client_cfg(session_cache=shared)
    strict_client = client_endpoint(strict, server_name="localhost", session=session)
    assert refused_without_psk(strict_client, mitm).reason == "unknown_issuer"


def test_no_hostname_check_session_is_not_offered_by_a_strict_config() -> None:
    """check_hostname=False accepts a certificate for another name; a strict client
    sharing the cache must not inherit that session."""
    wrong_name = server_for("evil.example")
    shared = SessionCache()
    lax = client_cfg(check_hostname=False, session_cache=shared)
    full_handshake_for(lax, "bank.example", wrong_name)  # evil's cert, dialled as bank

    strict = client_cfg(session_cache=shared)
    client = client_endpoint(strict, server_name="bank.example")
    assert refused_without_psk(client, wrong_name).reason == "hostname_mismatch"

    # The lax config itself resumes its own session under the same name.
    client = client_endpoint(lax, server_name="bank.example")
    server = server_endpoint(wrong_name)
    handshake(client, server)
    assert client.handshake_complete.resumed


def test_session_is_not_offered_under_other_trust_anchors() -> None:
    """A config trusting two CAs shares its cache with one trusting only the first: the
    second CA's sessions must not resume there."""
    stranger = ServerConfig(certificate_chain=other_pki().server.chain,
                            private_key=other_pki().server.private_key,
                            ticket_key=TICKET_KEY, groups=CLASSIC_GROUPS)
    shared = SessionCache()
    broad = client_cfg(trust_anchors=[pki().ca.root, other_pki().ca.root],
                       session_cache=shared)
    full_handshake_for(broad, "localhost", stranger)
    narrow = client_cfg(session_cache=shared)
    client = client_endpoint(narrow, server_name="localhost")
    assert not offers_psk(client.data_to_send())
    # ... while the broad config still resumes with it (the refused session stayed).
    client = client_endpoint(broad, server_name="localhost")
    handshake(client, server_endpoint(stranger))
    assert client.handshake_complete.resumed


def test_session_whose_certificate_expired_is_not_offered() -> None:
    leaf = named_leaves()["bank.example"].chain[0]
    now = [leaf.not_valid_after_utc.timestamp() - 60]
    cfg = client_cfg(clock=lambda: now[0])
    scfg = server_for("bank.example", clock=lambda: now[0])
    session = session_from(full_handshake_for(cfg, "bank.example", scfg))
    now[0] += 120  # the certificate expires between the two connections
    client = client_endpoint(cfg, server_name="bank.example", session=session)
    assert not offers_psk(client.data_to_send())


# --- 3. tickets across client-authentication policies -------------------------------------

def mtls_server(policy: str, anchors: list[Any] | None = None, **kw: Any) -> ServerConfig:
    return server_for("localhost", client_auth=policy,
                      client_trust_anchors=anchors or [pki().ca.root], **kw)


def test_ticket_from_a_no_client_auth_endpoint_does_not_skip_required() -> None:
    open_endpoint = server_for("localhost")              # client_auth="none", same key
    required = mtls_server("required")
    cache_ = SessionCache()
    cfg = client_cfg(session_cache=cache_)
    full_handshake_for(cfg, "localhost", open_endpoint)
    client = client_endpoint(cfg, server_name="localhost")
    hello = client.data_to_send()
    assert offers_psk(hello)  # the client has a valid session and offers it
    server = server_endpoint(required)
    server.receive_data(hello)
    flight = server.data_to_send()
    # No PSK accepted: a full handshake with a CertificateRequest; the client has no
    # certificate, so the server ends it with certificate_required.
    client.receive_data(flight)
    expect_alert(server, client.data_to_send(), AD.certificate_required)
    assert server.handshake_complete is None


def test_tightening_optional_to_required_invalidates_old_tickets() -> None:
    optional = mtls_server("optional")
    required = mtls_server("required")
    cfg = client_cfg(session_cache=SessionCache())
    full_handshake_for(cfg, "localhost", optional)  # no client certificate sent
    client = client_endpoint(cfg, server_name="localhost")
    server = server_endpoint(required)
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    expect_alert(server, client.data_to_send(), AD.certificate_required)


def test_ticket_under_other_client_trust_anchors_is_a_full_handshake() -> None:
    alice = pki().client
    cfg = client_cfg(session_cache=SessionCache(),
                     certificate=CertifiedKey(alice.chain, alice.private_key))
    full_handshake_for(cfg, "localhost", mtls_server("required"))
    other_trust = mtls_server("required", anchors=[other_pki().ca.root],
                              send_client_ca_names=False)  # (else alice sends none)
    client = client_endpoint(cfg, server_name="localhost")
    server = server_endpoint(other_trust)
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    # Full handshake: alice's certificate is unknown to the other trust anchors.
    with pytest.raises(CertificateVerificationError) as info:
        server.receive_data(client.data_to_send())
    assert info.value.reason == "unknown_issuer"


def test_mutual_tls_session_resumes_with_the_client_identity() -> None:
    alice = pki().client
    required = mtls_server("required")
    cfg = client_cfg(session_cache=SessionCache(),
                     certificate=CertifiedKey(alice.chain, alice.private_key))
    full_handshake_for(cfg, "localhost", required)
    client = client_endpoint(cfg, server_name="localhost")
    server = server_endpoint(required)
    handshake(client, server)
    assert server.handshake_complete.resumed and client.handshake_complete.resumed
    assert server.handshake_complete.peer_certificates == alice.chain


def test_mutual_tls_ticket_is_refused_once_the_client_certificate_expired() -> None:
    ca = pki().ca
    bob = ca.issue_client("bob", days=1)
    now = [bob.chain[0].not_valid_after_utc.timestamp() - 60]
    required = mtls_server("required", clock=lambda: now[0])
    cfg = client_cfg(session_cache=SessionCache(), clock=lambda: now[0],
                     certificate=CertifiedKey(bob.chain, bob.private_key))
    full_handshake_for(cfg, "localhost", required)
    now[0] += 120
    client = client_endpoint(cfg, server_name="localhost")
    server = server_endpoint(required)
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    with pytest.raises(CertificateVerificationError) as info:  # full handshake
        server.receive_data(client.data_to_send())
    assert info.value.reason == "expired"


# --- 4. plaintext alerts after the keys are installed ------------------------------------
# RFC 8446 6: an alert goes under the sender's current keys, and until the peer's first
# protected record we cannot know it has switched (a client that gives up before reading
# the ServerHello has no keys): a plaintext alert is read as the alert it is, as OpenSSL's
# server and rustls read it. From the first protected record on, nothing is plain but the
# compatibility change_cipher_spec, and no plaintext handshake or data is ever taken.

def _client_after_server_hello() -> tuple[ClientConnection, ServerConnection]:
    client = client_endpoint(client_cfg(), server_name="localhost")
    server = server_endpoint(server_for("localhost"))
    server.receive_data(client.data_to_send())
    server_hello = split_records(server.data_to_send())[0]
    assert client.receive_data(server_hello) == []
    return client, server


def _server_after_its_flight() -> tuple[ClientConnection, ServerConnection]:
    client = client_endpoint(client_cfg(), server_name="localhost")
    server = server_endpoint(server_for("localhost"))
    server.receive_data(client.data_to_send())
    server.data_to_send()
    return client, server


def _closed_cleanly(conn: ClientConnection | ServerConnection, events: list[Any]) -> None:
    """The peer ended the handshake: no HandshakeComplete, our close_notify (protected:
    ours are the current keys) is the reply, and later reads see nothing more."""
    assert events == [ConnectionClosed(None)]
    assert conn.handshake_complete is None
    out = [r for r in split_records(conn.data_to_send()) if r[0] != 20]  # (a compat CCS)
    assert [r[0] for r in out] == [23]
    assert conn.receive_data(b"") == []


@pytest.mark.parametrize("level", [1, 2])
def test_plaintext_close_notify_after_server_hello_ends_the_handshake(level: int) -> None:
    client, _ = _client_after_server_hello()
    _closed_cleanly(client, client.receive_data(plain_alert(AD.close_notify, level)))


def test_plaintext_user_canceled_then_close_notify_after_server_hello() -> None:
    client, _ = _client_after_server_hello()
    assert client.receive_data(plain_alert(AD.user_canceled, 1)) == []
    _closed_cleanly(client, client.receive_data(plain_alert(AD.close_notify, 1)))


def test_plaintext_fatal_alert_after_server_hello_is_a_failure_not_a_close() -> None:
    client, _ = _client_after_server_hello()
    events = client.receive_data(plain_alert(AD.handshake_failure))
    assert events == [ConnectionClosed(AD.handshake_failure)]
    with pytest.raises(AlertReceived):
        client.send_data(b"x")


@pytest.mark.parametrize("level", [1, 2])
def test_plaintext_close_notify_to_server_after_its_flight_ends_the_handshake(
        level: int) -> None:
    _, server = _server_after_its_flight()
    _closed_cleanly(server, server.receive_data(plain_alert(AD.close_notify, level)))


def test_client_hello_and_close_notify_in_one_read() -> None:
    """A client that gives up at once: both records arrive together."""
    client = client_endpoint(client_cfg(), server_name="localhost")
    server = server_endpoint(server_for("localhost"))
    events = server.receive_data(client.data_to_send() + plain_alert(AD.close_notify, 1))
    assert events == [ConnectionClosed(None)]
    assert server.handshake_complete is None


def test_tls12_client_hello_and_close_notify_in_one_read() -> None:
    """TLS 1.2 reads in the clear until the peer's change_cipher_spec: the same answer."""
    client = client_endpoint(client_cfg(versions=["TLSv1.2"]), server_name="localhost")
    server = server_endpoint(server_for("localhost", versions=["TLSv1.2"]))
    events = server.receive_data(client.data_to_send() + plain_alert(AD.close_notify, 1))
    assert events == [ConnectionClosed(None)]
    assert server.handshake_complete is None


def test_plaintext_warning_level_error_alert_is_still_fatal_in_tls13() -> None:
    _, server = _server_after_its_flight()
    events = server.receive_data(plain_alert(AD.bad_certificate, 1))
    assert events == [ConnectionClosed(AD.bad_certificate)]
    with pytest.raises(AlertReceived):
        server.receive_data(b"")


def test_a_plaintext_handshake_record_after_the_keys_is_unexpected_message() -> None:
    """(Plaintext data cannot even be told apart: type 23 is what protected records say
    outside, so it is opened and fails as bad_record_mac.)"""
    _, server = _server_after_its_flight()
    expect_alert(server, record(HS, b"\x14\x00\x00\x00"), AD.unexpected_message)


def test_plaintext_close_notify_after_the_first_protected_record_is_unexpected_message() -> None:
    """The server's first protected record read: it has shown it switched, and a
    plaintext close_notify after it is anyone's forgery."""
    client = client_endpoint(client_cfg(), server_name="localhost")
    server = server_endpoint(server_for("localhost"))
    server.receive_data(client.data_to_send())
    records = [r for r in split_records(server.data_to_send()) if r[0] != 20]
    client.receive_data(records[0] + records[1])  # the ServerHello, a protected record
    client.data_to_send()
    expect_alert(client, plain_alert(AD.close_notify, 1), AD.unexpected_message)


def test_plaintext_close_notify_to_server_after_the_client_finished() -> None:
    client = client_endpoint(client_cfg(), server_name="localhost")
    server = server_endpoint(server_for("localhost"))
    pump(client, server)
    assert server.handshake_complete is not None
    expect_alert(server, plain_alert(AD.close_notify, 1), AD.unexpected_message)


# --- IDNA 2008 --------------------------------------------------------------------------

def test_fass_de_certificate_does_not_validate_for_fass_with_sharp_s() -> None:
    """IDNA 2003 maps faß.de to fass.de; IDNA 2008 / UTS 46 (browsers, curl) to
    xn--fa-hia.de, another domain."""
    client = client_endpoint(client_cfg(), server_name="faß.de")
    server = server_endpoint(server_for("fass.de"))
    server.receive_data(client.data_to_send())
    with pytest.raises(CertificateVerificationError) as info:
        client.receive_data(server.data_to_send())
    assert info.value.reason == "hostname_mismatch"


def test_fass_with_sharp_s_validates_for_its_a_label() -> None:
    client = client_endpoint(client_cfg(), server_name="faß.de")
    server = server_endpoint(server_for("xn--fa-hia.de"))
    handshake(client, server)


# --- TLS 1.2: rsa_pss_pss_* vs rsa_pss_rsae_* bound to the key's OID ---------------------

@cache
def rsa_leaf() -> Issued:
    return pki().ca.issue_server(["localhost"], key_type=KeyType.RSA2048)


def test_tls12_server_key_exchange_pss_pss_with_rsae_key_is_illegal_parameter() -> None:
    leaf = rsa_leaf()
    ck = CertifiedKey(leaf.chain, leaf.private_key)
    ck.schemes12 = [SignatureScheme.rsa_pss_pss_sha256]  # a server that mislabels its scheme
    client = client_endpoint(client_cfg(versions=["TLSv1.2"]), server_name="localhost")
    server = server_endpoint(ServerConfig(certificates=[ck], versions=["TLSv1.2"]))
    run = Run12(client, server).to_server_flight()
    expect_alert(client, run.server_flight, AD.illegal_parameter)


def test_tls12_client_certificate_verify_pss_pss_with_rsae_key_is_illegal_parameter() -> None:
    leaf = pki().ca.issue_client("carol", key_type=KeyType.RSA2048)
    ck = CertifiedKey(leaf.chain, leaf.private_key)
    ck.schemes12 = [SignatureScheme.rsa_pss_pss_sha256]
    client = client_endpoint(client_cfg(versions=["TLSv1.2"], certificate=ck),
                              server_name="localhost")
    server = server_endpoint(server_for("localhost", versions=["TLSv1.2"],
                                         client_auth="required",
                                         client_trust_anchors=[pki().ca.root]))
    run = Run12(client, server).to_client_flight()
    expect_alert(server, run.client_flight, AD.illegal_parameter)
