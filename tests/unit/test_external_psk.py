"""External PSKs in TLS 1.3 (RFC 8446 2.2, 4.2.11, 7.1 "ext binder"), tlskit against
itself: configs, the handshake authenticated by the key instead of a certificate, the
fallback to the certificate, and each check's alert."""

from __future__ import annotations

from typing import Any

import pytest

import tlskit.config
import tlskit.handshake.client13
from tlskit import (
    AlertDescription,
    ClientConfig,
    ClientConnection,
    ConnectionClosed,
    DecryptError,
    ExternalPsk,
    HandshakeFailure,
    IllegalParameter,
    InternalError,
    ServerConfig,
    ServerConnection,
    Session,
    SessionTicketReceived,
    UnexpectedMessage,
)
from tlskit.crypto import SUITES
from tlskit.enums import CipherSuite, ExtensionType
from tlskit.handshake.server13 import ServerHandshake13
from tlskit.psk import MAX_PSK_LOOKUPS
from tlskit.session import SessionCache, TicketState, decode_state, encode_state
from tlskit.trace import TraceStep
from tlskit.wire.extensions import decode_pre_shared_key_client

from ..support.pki import client_config, server_config
from ..support.pump import pump

KEY = ExternalPsk(b"device-1", bytes(range(32)))
KEY384 = ExternalPsk(b"device-384", bytes(range(48)), "sha384")
OTHER = ExternalPsk(b"device-2", bytes(range(1, 33)))


def connect(ccfg: ClientConfig, scfg: ServerConfig,
            name: str | None = "localhost") -> tuple[ClientConnection, ServerConnection]:
    client, server = ClientConnection(ccfg, name), ServerConnection(scfg)
    pump(client, server)
    return client, server


def failure(ccfg: ClientConfig, scfg: ServerConfig, name: str | None = "localhost"
            ) -> tuple[BaseException, AlertDescription | None]:
    """The handshake fails: (what the side that detected it raised, the alert the other
    side received)."""
    client, server = ClientConnection(ccfg, name), ServerConnection(scfg)
    try:
        pump(client, server)
    except Exception as first:
        for conn, peer in ((client, server), (server, client)):
            try:
                events = conn.receive_data(peer.data_to_send())
            except Exception:
                continue
            closed = [e for e in events if isinstance(e, ConnectionClosed)]
            if closed:
                return first, closed[0].alert
        return first, None
    raise AssertionError("the handshake succeeded")


def psk_only(*keys: ExternalPsk, **kw: Any) -> ServerConfig:
    return ServerConfig(external_psks=list(keys) or [KEY], **kw)


# -- the handshake -------------------------------------------------------------------------

def test_psk_only_handshake_authenticates_both_sides_and_data_flows() -> None:
    client, server = connect(ClientConfig(external_psks=[KEY]), psk_only(), name=None)
    for hc in (client.handshake_complete, server.handshake_complete):
        assert hc is not None and hc.external_psk_identity == b"device-1"
        assert not hc.resumed and hc.peer_certificates == [] and hc.signature_scheme is None
        assert hc.group is not None  # psk_dhe_ke by default
        assert hc.cipher_suite == CipherSuite.TLS_AES_128_GCM_SHA256
    client.send_data(b"up")
    assert [e.data for e in pump(client, server)] == [b"up"]
    server.send_data(b"down")
    assert [e.data for e in pump(client, server)] == [b"down"]


def test_sha384_key_selects_a_sha384_suite_through_a_lookup() -> None:
    seen: list[bytes] = []

    def lookup(identity: bytes) -> ExternalPsk | None:
        seen.append(identity)
        return KEY384 if identity == KEY384.identity else None

    client, _server = connect(ClientConfig(external_psks=[KEY, KEY384]),
                             ServerConfig(external_psks=lookup), name=None)
    hc = client.handshake_complete
    assert hc is not None and hc.external_psk_identity == b"device-384"
    assert hc.cipher_suite == CipherSuite.TLS_AES_256_GCM_SHA384
    assert seen == [b"device-1", b"device-384"]  # in the client's order, first match wins


def test_second_listed_key_is_selected_by_index() -> None:
    client, _ = connect(ClientConfig(external_psks=[OTHER, KEY]), psk_only(KEY), name=None)
    assert client.handshake_complete.external_psk_identity == b"device-1"


def test_server_with_certificate_and_psk_uses_the_certificate_when_none_matches() -> None:
    scfg = server_config(external_psks=[KEY])
    client, server = connect(client_config(external_psks=[OTHER]), scfg)
    hc = client.handshake_complete
    assert hc.external_psk_identity is None and hc.peer_certificates
    assert hc.signature_scheme is not None
    client, server = connect(client_config(external_psks=[KEY]), scfg)
    assert client.handshake_complete.external_psk_identity == b"device-1"
    assert server.handshake_complete.peer_certificates == []


def test_no_certificate_request_in_psk_mode() -> None:
    """4.3.2: a server authenticating with a PSK sends no CertificateRequest, even when
    it requires client certificates of certificate handshakes."""
    steps: list[str] = []
    scfg = server_config(external_psks=[KEY], client_auth="required",
                         client_trust_anchors=[client_config().trust_anchors[0]],
                         tracer=lambda step, fields: steps.append(step))
    _client, server = connect(client_config(external_psks=[KEY]), scfg)
    assert server.handshake_complete.external_psk_identity == b"device-1"
    assert "certificate_request" not in steps and "certificate" not in steps
    assert "psk_accepted" in steps


def test_psk_ke_only_when_both_sides_opt_in() -> None:
    client, _ = connect(ClientConfig(external_psks=[KEY], psk_modes=["psk_ke"]),
                        psk_only(allow_psk_ke=True), name=None)
    assert client.handshake_complete.group is None
    exc, other = failure(ClientConfig(external_psks=[KEY], psk_modes=["psk_ke"]), psk_only(),
                         name=None)
    assert isinstance(exc, HandshakeFailure)
    assert other == AlertDescription.handshake_failure


def test_psk_only_server_refuses_unknown_identity_with_handshake_failure() -> None:
    exc, other = failure(ClientConfig(external_psks=[OTHER]), psk_only(), name=None)
    assert isinstance(exc, HandshakeFailure) and "no certificate" in str(exc)
    assert other == AlertDescription.handshake_failure


def test_wrong_secret_is_decrypt_error() -> None:
    wrong = ExternalPsk(KEY.identity, bytes(32))
    exc, other = failure(ClientConfig(external_psks=[wrong]), psk_only(), name=None)
    assert isinstance(exc, DecryptError) and "binder" in str(exc)
    assert other == AlertDescription.decrypt_error


def test_external_binder_differs_from_resumption_binder() -> None:
    """7.1: "ext binder", not "res binder": a server that checked a resumption binder
    would refuse every external key (and vice versa)."""
    from tlskit.handshake.common import Handshake13, Transcript
    suite = SUITES[CipherSuite.TLS_AES_128_GCM_SHA256]
    ext = Handshake13.psk_binder(suite, KEY.secret, Transcript(), b"hello", external=True)
    res = Handshake13.psk_binder(suite, KEY.secret, Transcript(), b"hello")
    assert ext != res


def test_unnamed_client_refuses_a_certificate_when_its_psk_is_declined() -> None:
    exc, _ = failure(ClientConfig(external_psks=[OTHER]), server_config(external_psks=[KEY]),
                     name=None)
    assert isinstance(exc, HandshakeFailure) and "server_name" in str(exc)


def test_ticket_then_external_psk_offered_and_either_selected() -> None:
    """4.2.11: a ticket (identity 0) and external keys may go together; a server that
    cannot open the ticket selects the external key by its index (1)."""
    scfg = server_config(external_psks=[KEY], ticket_key=bytes(32))
    events = pump(ClientConnection(client_config(), "localhost"), ServerConnection(scfg))
    session = next(e.session for e in events if isinstance(e, SessionTicketReceived))
    ccfg = client_config(external_psks=[KEY])
    client = ClientConnection(ccfg, "localhost", session=session)
    pump(client, ServerConnection(scfg))
    assert client.handshake_complete.resumed
    assert client.handshake_complete.external_psk_identity is None
    client = ClientConnection(ccfg, "localhost", session=session)
    server = ServerConnection(scfg.replace(session_tickets=0))
    pump(client, server)
    assert client.handshake_complete.external_psk_identity == b"device-1"
    assert server.handshake_complete.external_psk_identity == b"device-1"
    assert not client.handshake_complete.resumed


def test_tickets_of_an_external_psk_connection_are_not_cached() -> None:
    cache = SessionCache()
    client, _ = connect(client_config(external_psks=[KEY], session_cache=cache),
                        server_config(external_psks=[KEY]))
    assert client.handshake_complete.external_psk_identity == b"device-1"
    assert cache.take("localhost", 0.0, lambda s: True) is None


def test_psk_survives_a_hello_retry_request() -> None:
    client, _server = connect(ClientConfig(external_psks=[KEY], groups=["x25519", "secp256r1"]),
                             psk_only(groups=["secp256r1"]), name=None)
    assert client.handshake_complete.external_psk_identity == b"device-1"
    assert client.handshake_complete.group.name == "secp256r1"


# -- a server that misbehaves -----------------------------------------------------------

def _patched(monkeypatch: pytest.MonkeyPatch, name: str, replacement: Any) -> None:
    monkeypatch.setattr(ServerHandshake13, name, replacement)


def test_certificate_after_accepted_psk_is_unexpected_message(
        monkeypatch: pytest.MonkeyPatch) -> None:
    original = ServerHandshake13._send_encrypted_extensions

    def with_certificate(self: ServerHandshake13, offer: Any) -> None:
        original(self, offer)
        self._choose_certificate(self.config._certs, offer.schemes, offer.schemes)
        self._send_certificate(offer)

    _patched(monkeypatch, "_send_encrypted_extensions", with_certificate)
    exc, other = failure(client_config(external_psks=[KEY]), server_config(external_psks=[KEY]))
    assert isinstance(exc, UnexpectedMessage)
    assert other == AlertDescription.unexpected_message


@pytest.mark.parametrize("index", [1, 7])
def test_selected_identity_out_of_range_is_illegal_parameter(
        monkeypatch: pytest.MonkeyPatch, index: int) -> None:
    original = ServerHandshake13._accept_external

    def bad_index(self: ServerHandshake13, offer: Any, raw: bytes) -> bytes | None:
        secret = original(self, offer, raw)
        self._psk_index = index
        return secret

    _patched(monkeypatch, "_accept_external", bad_index)
    exc, _ = failure(ClientConfig(external_psks=[KEY]), psk_only(), name=None)
    assert isinstance(exc, IllegalParameter) and "identity" in str(exc)


def test_suite_of_another_hash_than_the_psk_is_illegal_parameter(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def other_hash(self: ServerHandshake13, offer: Any, raw: bytes) -> bytes | None:
        self.suite = SUITES[CipherSuite.TLS_AES_128_GCM_SHA256]
        self._psk_index, self._external = 0, KEY384
        return KEY384.secret

    _patched(monkeypatch, "_accept_external", other_hash)
    exc, _ = failure(ClientConfig(external_psks=[KEY384]), psk_only(KEY384), name=None)
    assert isinstance(exc, IllegalParameter) and "hash" in str(exc)


# -- configs ---------------------------------------------------------------------------

def test_repr_never_shows_the_secret() -> None:
    text = repr(KEY) + repr(ClientConfig(external_psks=[KEY])) + repr(psk_only())
    assert KEY.secret.hex() not in text and repr(KEY.secret)[2:-1] not in text
    assert "device-1" in repr(KEY)


@pytest.mark.parametrize(("args", "error", "words"), [
    ((b"", bytes(32)), ValueError, "identity"),
    ((b"id", bytes(15)), ValueError, "at least 16 bytes"),
    (("id", bytes(32)), TypeError, "bytes, not str"),
    ((b"id", bytes(32).hex()), TypeError, "bytes, not str"),
    ((b"id", bytes(32), "sha512"), ValueError, "sha256"),
])
def test_external_psk_checks(args: tuple[Any, ...], error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words):
        ExternalPsk(*args)


def test_config_checks() -> None:
    with pytest.raises(ValueError, match=r"no configured TLS 1\.3 cipher suite uses sha384"):
        ClientConfig(external_psks=[KEY384], cipher_suites=["TLS_AES_128_GCM_SHA256"])
    with pytest.raises(ValueError, match="sha256"):
        ServerConfig(external_psks=[KEY], cipher_suites=["TLS_AES_256_GCM_SHA384"])
    with pytest.raises(ValueError, match=r"need TLS 1\.3"):
        ClientConfig(external_psks=[KEY], versions=["TLSv1.2"])
    with pytest.raises(ValueError, match=r"need TLS 1\.3"):
        server_config(external_psks=lambda identity: None, versions=["TLSv1.2"])
    with pytest.raises(ValueError, match="listed twice"):
        ClientConfig(external_psks=[KEY, ExternalPsk(KEY.identity, bytes(16))])
    with pytest.raises(TypeError, match="ExternalPsk"):
        ClientConfig(external_psks=[(b"id", bytes(32))])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="at least one certificate and key"):
        ServerConfig()
    from tlskit import generate_ech_key
    with pytest.raises(ValueError, match="cannot go with ech_config_list"):
        ClientConfig(external_psks=[KEY],
                     ech_config_list=generate_ech_key("public.example").config_list)


def test_psk_only_server_speaks_tls13_alone() -> None:
    assert psk_only()._versions == ["TLSv1.3"]
    assert server_config(external_psks=[KEY])._versions == ["TLSv1.3", "TLSv1.2"]


def test_lookup_returning_something_else_fails_loudly() -> None:
    client = ClientConnection(ClientConfig(external_psks=[KEY]), None)
    server = ServerConnection(ServerConfig(external_psks=lambda i: KEY.secret))  # type: ignore[arg-type,return-value]
    with pytest.raises(Exception, match="not ExternalPsk"):
        server.receive_data(client.data_to_send())


def test_unnamed_client_refuses_a_tls12_certificate_too() -> None:
    exc, _ = failure(ClientConfig(external_psks=[KEY]), server_config(versions=["TLSv1.2"]),
                     name=None)
    assert isinstance(exc, HandshakeFailure) and "server_name" in str(exc)


def test_after_a_retry_only_keys_of_its_suites_hash_are_offered_again() -> None:
    """4.1.4 / 4.2.11: the HelloRetryRequest names the SHA-384 suite of the key the
    server chose; the second hello drops the SHA-256 key."""
    hellos: list[Any] = []
    client, server = connect(
        ClientConfig(external_psks=[KEY, KEY384], groups=["x25519", "secp256r1"],
                     tracer=lambda step, f: hellos.append(f["message"])
                     if step is TraceStep.CLIENT_HELLO else None),
        psk_only(KEY384, groups=["secp256r1"]), name=None)
    offered = [[identity for identity, _ in decode_pre_shared_key_client(
        h.extensions[ExtensionType.pre_shared_key])[0]] for h in hellos]
    assert offered == [[b"device-1", b"device-384"], [b"device-384"]]
    assert client.handshake_complete.cipher_suite == CipherSuite.TLS_AES_256_GCM_SHA384
    assert server.handshake_complete.external_psk_identity == b"device-384"


# -- sessions an external PSK authenticated (RFC 8446 4.6.1) -------------------------------

def _psk_session(scfg: ServerConfig) -> Session:
    """A ticket from an external-PSK handshake with ``scfg``."""
    events = pump(ClientConnection(ClientConfig(external_psks=[KEY]), None),
                  ServerConnection(scfg))
    return next(e.session for e in events if isinstance(e, SessionTicketReceived))


def _resume(monkeypatch: pytest.MonkeyPatch, session: Session, scfg: ServerConfig,
            **client: Any) -> tuple[ClientConnection, ServerConnection, list[Any]]:
    """Offer ``session`` as a client that keeps such tickets does (OpenSSL's: a tlskit
    client never offers one, it has no certificate to re-check). Returns the server's
    trace steps (with their reasons) and then the handshake's events."""
    monkeypatch.setattr(tlskit.handshake.client13, "_may_resume", lambda *a: True)
    steps: list[Any] = []
    client.setdefault("external_psks", [KEY])  # (the ticket goes first, then the key)
    client_conn = ClientConnection(ClientConfig(**client), None, session=session)
    server = ServerConnection(scfg.replace(tracer=lambda step, fields: steps.append(
        (step, fields.get("reason")))))
    steps += pump(client_conn, server)
    return client_conn, server, steps


@pytest.mark.parametrize("client_auth", ["none", "required"])
def test_a_resumed_session_keeps_the_identity_its_external_psk_gave_it(
        monkeypatch: pytest.MonkeyPatch, client_auth: str) -> None:
    """2.2, 4.6.1: the session is the PSK's, so its resumption names the PSK's identity,
    and resumes where client certificates are required (its handshake had none: the PSK
    stood for one)."""
    anchors = {} if client_auth == "none" else {
        "client_auth": client_auth, "client_trust_anchors": [client_config().trust_anchors[0]]}
    scfg = server_config(external_psks=[KEY], ticket_key=bytes(32), **anchors)
    session = _psk_session(scfg)
    client, server, seen = _resume(monkeypatch, session, scfg)
    hc = server.handshake_complete
    assert hc.resumed and client.handshake_complete.resumed
    assert hc.external_psk_identity == b"device-1" and hc.peer_certificates == []
    # ... and so do the tickets of the resumed session
    again = next(e.session for e in seen if isinstance(e, SessionTicketReceived))
    _client, server, _ = _resume(monkeypatch, again, scfg)
    assert server.handshake_complete.resumed
    assert server.handshake_complete.external_psk_identity == b"device-1"


@pytest.mark.parametrize("later", [
    psk_only(OTHER, ticket_key=bytes(32)),                                        # removed
    psk_only(OTHER, ExternalPsk(KEY.identity, bytes(32)), ticket_key=bytes(32)),  # new secret
    psk_only(OTHER, ExternalPsk(KEY.identity, KEY.secret, "sha384"), ticket_key=bytes(32)),
], ids=["removed", "new-secret", "other-hash"])
def test_a_session_ends_with_its_external_psk(monkeypatch: pytest.MonkeyPatch,
                                             later: ServerConfig) -> None:
    """A key taken out of the lookup, or given a new secret, ends the sessions it made
    (as a revoked client certificate does): their tickets mean a full handshake."""
    session = _psk_session(psk_only(ticket_key=bytes(32)))
    _client, server, steps = _resume(monkeypatch, session, later, external_psks=[OTHER])
    assert not server.handshake_complete.resumed
    assert server.handshake_complete.external_psk_identity == b"device-2"
    assert ("psk_declined", "its external PSK is no longer configured") in steps


def test_ticket_state_round_trips_its_external_identity() -> None:
    suite = SUITES[CipherSuite.TLS_AES_128_GCM_SHA256]
    state = TicketState(suite, bytes(32), 5, 7200, None, "localhost",
                        external_identity=b"\xffdevice", external_fingerprint=bytes(range(16)))
    assert decode_state(encode_state(state)) == state
    plain = TicketState(suite, bytes(32), 5, 7200, None, None)
    assert decode_state(encode_state(plain)) == plain  # (the format without it: unchanged)
    assert decode_state(encode_state(state)[:-1]) is None


# -- bounded work and callbacks that fail ----------------------------------------------------

def test_the_lookup_is_asked_about_a_bounded_number_of_identities(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A ClientHello with 300 identities (~15 KB) costs MAX_PSK_LOOKUPS lookups, not 300:
    the identities after them are not looked up (the last one here is the server's key)."""
    monkeypatch.setattr(tlskit.config, "MAX_OFFERED", 1000)
    asked: list[bytes] = []

    def lookup(identity: bytes) -> ExternalPsk | None:
        asked.append(identity)
        return KEY if identity == KEY.identity else None

    keys = [ExternalPsk(b"unknown-%03d" % n, bytes(32)) for n in range(299)] + [KEY]
    exc, other = failure(ClientConfig(external_psks=keys), ServerConfig(external_psks=lookup),
                         name=None)
    assert len(asked) == MAX_PSK_LOOKUPS == 16
    assert isinstance(exc, HandshakeFailure) and other == AlertDescription.handshake_failure


def test_a_client_offers_a_bounded_number_of_keys() -> None:
    keys = [ExternalPsk(b"key-%d" % n, bytes(32)) for n in range(9)]
    with pytest.raises(ValueError, match="at most 8 keys"):
        ClientConfig(external_psks=keys)
    assert len(ClientConfig(external_psks=keys[:8]).external_psks) == 8


@pytest.mark.parametrize("answer", [RuntimeError("database down"), KEY.secret])
def test_a_lookup_that_fails_is_internal_error(answer: object) -> None:
    """As for OpenSSL's find-session callback: the handshake ends with internal_error
    (an exception from the lookup is not the client's doing, and never escapes raw)."""
    def lookup(identity: bytes) -> Any:
        if isinstance(answer, Exception):
            raise answer
        return answer

    exc, other = failure(ClientConfig(external_psks=[KEY]), ServerConfig(external_psks=lookup),
                         name=None)
    assert isinstance(exc, InternalError)
    assert other == AlertDescription.internal_error


def test_ech_keys_need_a_certificate() -> None:
    """RFC 9849 6.1.6, 7.1: an ECH server answers a hello it cannot decrypt as the public
    name, with a certificate; a PSK-only server would fail every such client."""
    from tlskit import generate_ech_key
    key = generate_ech_key("public.example")
    with pytest.raises(ValueError, match="ech_keys need a certificate"):
        psk_only(ech_keys=[(key.config, key.private_key)])
    assert server_config(external_psks=[KEY], ech_keys=[(key.config, key.private_key)])
