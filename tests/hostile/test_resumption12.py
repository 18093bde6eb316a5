"""TLS 1.2 resumption (RFC 5246 7.3, RFC 5077) and the extended master secret (RFC 7627)
in memory: sessions by ID and by ticket, the binding rules, and hostile input for every
new message and extension with its exact alert."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from tlskit import ClientConfig, ClientConnection, ServerConfig
from tlskit.enums import AlertDescription as AD
from tlskit.enums import HandshakeType as HT
from tlskit.errors import IllegalParameter, UsageError
from tlskit.events import SessionTicketReceived
from tlskit.handshake.client12 import ClientHandshake12
from tlskit.handshake.client13 import ClientHandshake13
from tlskit.handshake.common import Handshake
from tlskit.handshake.server12 import ServerHandshake12
from tlskit.session import Session, SessionCache
from tlskit.sessionstore import MemoryStore
from tlskit.wire import messages as m
from tlskit.wire import messages12 as m12

from ..support.mitm import client_endpoint, server_endpoint
from ..support.pki import pki
from ..support.pump import pump
from ..support.records import messages_of
from .helpers12 import (
    EXT_EC_POINT_FORMATS,
    EXT_EMS,
    edit_client_hello,
    edit_server_hello,
    expect_alert12,
    on_msg,
    rewriting,
)

EXT_SESSION_TICKET = 35
DER = Encoding.DER


def _server_config(**kw: Any) -> ServerConfig:
    leaf = pki().server
    return ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key, **kw)


def _client_config(**kw: Any) -> ClientConfig:
    kw.setdefault("versions", ["TLSv1.2"])
    kw.setdefault("session_cache", SessionCache())
    return ClientConfig(trust_anchors=[pki().ca.root], **kw)


def _full(ccfg: ClientConfig, scfg: ServerConfig) -> tuple[Session | None, list[Any]]:
    client, server = client_endpoint(ccfg, "localhost"), server_endpoint(scfg)
    events = pump(client, server)
    assert client.handshake_complete and server.handshake_complete
    sessions = [e.session for e in events if isinstance(e, SessionTicketReceived)]
    return (sessions[-1] if sessions else None), events


def _session(ticket: bool, **server_kw: Any) -> tuple[ServerConfig, Session]:
    scfg = _server_config(session_tickets=2 if ticket else 0, **server_kw)
    session, _ = _full(_client_config(), scfg)
    assert session is not None and session.tls12 and bool(session.ticket) == ticket
    return scfg, session


def _resuming(session: Session, **client_kw: Any) -> ClientConnection:
    return client_endpoint(_client_config(**client_kw), "localhost", session=session)


# --- what works ---------------------------------------------------------------------------

@pytest.mark.parametrize("ticket", [True, False], ids=["ticket", "session-id"])
def test_abbreviated_handshake_skips_the_certificate_and_derives_new_keys(ticket: bool) -> None:
    scfg, session = _session(ticket)
    keys = []
    for _ in range(2):
        client, server = _resuming(session), server_endpoint(scfg)
        client_hello = client.data_to_send()
        server.receive_data(client_hello)
        flight = server.data_to_send()
        types = [raw[0] for raw in messages_of(flight)]
        assert HT.certificate not in types and HT.server_key_exchange not in types
        client.receive_data(flight)
        server.receive_data(client.data_to_send())
        assert client.handshake_complete and client.handshake_complete.resumed
        assert server.handshake_complete and server.handshake_complete.resumed
        assert client.handshake_complete.peer_certificates == session.peer_certificates
        keys.append(client.export_keying_material(b"EXPORTER-test", None, 32))
        assert keys[-1] == server.export_keying_material(b"EXPORTER-test", None, 32)
    assert keys[0] != keys[1]  # new randoms, new keys


def test_ticket_resumes_with_an_empty_session_id() -> None:
    """RFC 5077 3.4: a client MAY present its ticket with an empty legacy_session_id and
    tell resumption from the messages that follow; the server resumes (as OpenSSL does),
    echoing the empty ID, renewing the ticket, then CCS and Finished, no Certificate.
    tlsfuzzer's test-session-ticket-resumption.py ("with empty session_id")."""
    scfg, session = _session(True)
    hello = edit_client_hello(lambda ch: setattr(ch, "session_id", b""))(
        _resuming(session).data_to_send())
    server = server_endpoint(scfg)
    server.receive_data(hello)
    flight = server.data_to_send()
    types = [raw[0] for raw in messages_of(flight)]   # the plaintext ones
    assert types == [HT.server_hello, HT.new_session_ticket], types
    assert b"\x14\x03\x03\x00\x01\x01" in flight        # then CCS (and Finished)
    sh = m.ServerHello.decode(memoryview(messages_of(flight)[0])[4:])
    assert sh.session_id == b"" and EXT_SESSION_TICKET in sh.extensions


def _abbreviated_server_hello(ticket: bool) -> m.ServerHello:
    """The ServerHello of a resumption by ticket or by session ID (checked abbreviated)."""
    scfg, session = _session(ticket)
    server = server_endpoint(scfg)
    server.receive_data(_resuming(session).data_to_send())
    messages = messages_of(server.data_to_send())
    assert HT.certificate not in [raw[0] for raw in messages]   # abbreviated
    return m.ServerHello.decode(memoryview(messages[0])[4:])


@pytest.mark.parametrize("ticket", [True, False], ids=["ticket", "session-id"])
def test_abbreviated_handshake_negotiates_record_size_limit(ticket: bool) -> None:
    """RFC 8449 4: the extension is negotiated in every handshake, abbreviated ones too
    (the TLS 1.2 maximum, 2^14, in answer to the client's 16385)."""
    sh = _abbreviated_server_hello(ticket)
    assert sh.extensions[28] == (1 << 14).to_bytes(2, "big")


@pytest.mark.parametrize("ticket", [True, False], ids=["ticket", "session-id"])
def test_abbreviated_handshake_answers_ec_point_formats(ticket: bool) -> None:
    """RFC 8422 5.2: a server selecting an ECC suite for a ClientHello with
    ec_point_formats appends its own (uncompressed) to the ServerHello; a resumed
    session's ECDHE suite is selected too, and OpenSSL and Go answer it there as in a
    full handshake (old clients expect it with an ECC suite). Before, only the full
    handshake's ServerHello carried it."""
    sh = _abbreviated_server_hello(ticket)
    assert sh.extensions[EXT_EC_POINT_FORMATS] == b"\x01\x00"


def test_session_id_is_still_needed_to_resume_by_id() -> None:
    """Without a ticket there is nothing to resume from an empty ID: a full handshake."""
    scfg, session = _session(False)
    hello = edit_client_hello(lambda ch: setattr(ch, "session_id", b""))(
        _resuming(session).data_to_send())
    server = server_endpoint(scfg)
    server.receive_data(hello)
    assert messages_of(server.data_to_send())[1][0] == HT.certificate


def test_server_answers_a_hello_without_ems_with_no_session() -> None:
    """RFC 7627 5.3: a client without the extension still gets a full handshake, but the
    server offers it nothing to resume (no session ID, no ticket)."""
    scfg = _server_config()
    client, server = client_endpoint(_client_config(), "localhost"), server_endpoint(scfg)
    hello = edit_client_hello(lambda ch: ch.extensions.pop(EXT_EMS))(client.data_to_send())
    server.receive_data(hello)
    flight = server.data_to_send()
    sh = m.ServerHello.decode(memoryview(messages_of(flight)[0])[4:])
    assert EXT_EMS not in sh.extensions and sh.session_id == b""
    assert EXT_SESSION_TICKET not in sh.extensions
    assert [raw[0] for raw in messages_of(flight)][1] == HT.certificate


@contextlib.contextmanager
def _clients_without_ems() -> Iterator[None]:
    """Clients whose ClientHello leaves EMS out (rewritten before its transcript, so both
    sides agree on the classic master secret)."""
    def drop(raw: bytes) -> bytes:
        ch = m.ClientHello.decode(memoryview(raw)[4:])
        ch.extensions.pop(EXT_EMS)
        return ch.encode()
    original = Handshake.send

    def send(self: Any, raw: bytes, *, transcript: bool = True) -> None:
        original(self, drop(raw) if raw[0] == HT.client_hello else raw, transcript=transcript)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ClientHandshake13, "send", send)
        yield


def test_without_ems_both_sides_connect_and_nothing_resumes() -> None:
    """A client that does not offer EMS (rewritten before its transcript) and a default
    server: the handshake completes on the classic master secret; no session is left."""
    hellos: list[m.ServerHello] = []

    def tracer(step: str, fields: dict[str, Any]) -> None:
        if step == "server_hello":
            hellos.append(fields["message"])

    with _clients_without_ems():
        session, events = _full(_client_config(), _server_config(tracer=tracer))
    assert hellos and EXT_EMS not in hellos[0].extensions  # the classic master secret
    assert session is None
    assert not [e for e in events if isinstance(e, SessionTicketReceived)]


def test_require_ems_refuses_a_server_without_it() -> None:
    with rewriting(ServerHandshake12, edit_server_hello(lambda sh: sh.extensions.pop(EXT_EMS))):
        client = client_endpoint(_client_config(require_extended_master_secret=True),
                                  "localhost")
        server = server_endpoint(_server_config())
        server.receive_data(client.data_to_send())
        flight = server.data_to_send()
    err = expect_alert12(client, flight, AD.handshake_failure)
    assert "require_extended_master_secret" in str(err)


def test_session_not_resumed_under_another_session_context() -> None:
    """The server-side binding: a session made where no client certificate was asked
    for does not resume on a config that requires one (full handshake instead)."""
    _, session = _session(True)
    strict = _server_config(client_auth="required", client_trust_anchors=[pki().ca.root])
    client = _resuming(session, certificate=None)
    server = server_endpoint(strict)
    server.receive_data(client.data_to_send())
    types = [raw[0] for raw in messages_of(server.data_to_send())]
    assert HT.certificate in types and HT.certificate_request in types


def test_client_does_not_offer_a_session_for_another_name() -> None:
    """The client-side binding: the remembered chain must be valid for the name dialled."""
    _, session = _session(False)
    client = client_endpoint(_client_config(), "other.example", session=session)
    hello = client.data_to_send()
    ch = m.ClientHello.decode(memoryview(hello)[9:])
    assert ch.session_id != session.session_id


# --- hostile servers ------------------------------------------------------------------------

def _resumed_flight(ticket: bool, hook: Any) -> tuple[ClientConnection, bytes]:
    scfg, session = _session(ticket)
    client = _resuming(session)
    server = server_endpoint(scfg)
    with rewriting(ServerHandshake12, hook):
        server.receive_data(client.data_to_send())
        flight = server.data_to_send()
    return client, flight


def _set_suite(sh: m.ServerHello) -> None:
    sh.cipher_suite = 0xC02C  # ECDHE_ECDSA_AES_256_GCM_SHA384: offered, not the session's


RESUMED_SERVER_CASES = {
    # RFC 7627 5.3: a session made with EMS resumes only with EMS.
    "resumed-without-ems": (edit_server_hello(lambda sh: sh.extensions.pop(EXT_EMS)),
                            AD.handshake_failure),
    # RFC 5246 7.4.1.3: a resumed session keeps its cipher suite.
    "resumed-other-suite": (edit_server_hello(_set_suite), AD.illegal_parameter),
    # RFC 5077 3.2: the server's session_ticket extension is empty.
    "session-ticket-not-empty": (edit_server_hello(
        lambda sh: sh.extensions.__setitem__(EXT_SESSION_TICKET, b"\x00")), AD.decode_error),
    # An abbreviated handshake has no Certificate.
    "certificate-in-resumption": (on_msg(HT.server_hello, lambda hs, raw: [
        raw, m12.Certificate12([c.public_bytes(DER) for c in pki().server.chain]).encode()]),
        AD.unexpected_message),
    # The server's Finished must match the resumed transcript and master secret.
    "bad-finished": (on_msg(HT.finished, lambda hs, raw: raw[:-1] + bytes([raw[-1] ^ 1])),
                     AD.decrypt_error),
}


@pytest.mark.parametrize("case", RESUMED_SERVER_CASES)
@pytest.mark.parametrize("ticket", [True, False], ids=["ticket", "session-id"])
def test_client_rejects_resumed_server_flight(case: str, ticket: bool) -> None:
    hook, alert = RESUMED_SERVER_CASES[case]
    client, flight = _resumed_flight(ticket, hook)
    expect_alert12(client, flight, alert)


def test_client_rejects_an_echo_of_a_session_id_it_did_not_offer() -> None:
    """A client offering TLS 1.3 and 1.2 sends a random legacy_session_id (compatibility
    mode) and no TLS 1.2 session: a TLS 1.2 ServerHello echoing it claims a resumption
    we never offered. (A client of TLS 1.2 alone sends an empty ID.)"""
    client = client_endpoint(_client_config(session_cache=None,
                                            versions=["TLSv1.3", "TLSv1.2"]), "localhost")
    hello = client.data_to_send()
    offered = m.ClientHello.decode(memoryview(hello)[9:]).session_id
    assert len(offered) == 32
    server = server_endpoint(_server_config(versions=["TLSv1.2"]))
    with rewriting(ServerHandshake12, edit_server_hello(
            lambda sh: setattr(sh, "session_id", offered))):
        server.receive_data(hello)
        flight = server.data_to_send()
    expect_alert12(client, flight, AD.illegal_parameter)


def _full_with_server_hook(hook: Any) -> tuple[ClientConnection, list[bytes]]:
    """A full handshake to the point where the server's last flight is due."""
    client, server = client_endpoint(_client_config(), "localhost"), \
        server_endpoint(_server_config())
    with rewriting(ServerHandshake12, hook):
        server.receive_data(client.data_to_send())
        client.receive_data(server.data_to_send())
        server.receive_data(client.data_to_send())
        final = server.data_to_send()
    return client, [final]


def _nst_body(hook: Any) -> Any:
    return on_msg(HT.new_session_ticket, hook)


TICKET_CASES = {
    # RFC 5077 3.3: lifetime (4) + ticket<0..2^16-1>; short or with trailing bytes.
    "nst-truncated": (_nst_body(lambda hs, raw: m.frame(HT.new_session_ticket, b"\x00\x00")),
                      AD.decode_error),
    "nst-ticket-length-overruns": (_nst_body(lambda hs, raw: m.frame(
        HT.new_session_ticket, bytes(4) + b"\x00\x10abc")), AD.decode_error),
    "nst-trailing-bytes": (_nst_body(lambda hs, raw: raw[:1] + (len(raw) - 3).to_bytes(3, "big")
                                     + raw[4:] + b"\x00"), AD.decode_error),
    # One NewSessionTicket only (RFC 5077 3.3).
    "two-tickets": (_nst_body(lambda hs, raw: [raw, raw]), AD.unexpected_message),
    # RFC 5077 3.3: announced in the ServerHello, the message "MUST be sent" (an empty
    # ticket if the server has none): a CCS in its place is unexpected.
    "announced-ticket-missing": (_nst_body(lambda hs, raw: None), AD.unexpected_message),
}


@pytest.mark.parametrize("case", TICKET_CASES)
def test_client_rejects_bad_new_session_ticket(case: str) -> None:
    hook, alert = TICKET_CASES[case]
    client, final = _full_with_server_hook(hook)
    expect_alert12(client, final, alert)


def test_client_rejects_a_ticket_the_server_hello_did_not_announce() -> None:
    """RFC 5077 3.3: NewSessionTicket only after session_ticket in the ServerHello."""
    client, final = _full_with_server_hook(edit_server_hello(
        lambda sh: sh.extensions.pop(EXT_SESSION_TICKET)))
    expect_alert12(client, final, AD.unexpected_message)


def test_client_rejects_a_renewal_announced_but_not_sent() -> None:
    """RFC 5077 3.3 holds in an abbreviated handshake too (3.1: a server renewing the
    ticket announces it in the ServerHello): a CCS where the NewSessionTicket is due is
    unexpected_message, as OpenSSL's and Go's clients answer it."""
    client, flight = _resumed_flight(True, on_msg(HT.new_session_ticket, lambda hs, raw: None))
    assert EXT_SESSION_TICKET in m.ServerHello.decode(
        memoryview(messages_of(flight)[0])[4:]).extensions
    expect_alert12(client, flight, AD.unexpected_message)


# --- hostile clients ------------------------------------------------------------------------

def test_server_ignores_a_ticket_it_cannot_open() -> None:
    """Garbage (or another server's ticket) in session_ticket: a full handshake, which
    announces a fresh ticket."""
    client = client_endpoint(_client_config(), "localhost")
    hello = edit_client_hello(lambda ch: (
        ch.extensions.__setitem__(EXT_SESSION_TICKET, b"\xAA" * 200),
        setattr(ch, "session_id", bytes(range(32)))))(client.data_to_send())
    server = server_endpoint(_server_config())
    server.receive_data(hello)
    messages = messages_of(server.data_to_send())
    sh = m.ServerHello.decode(memoryview(messages[0])[4:])
    assert sh.session_id == b"" and sh.extensions[EXT_SESSION_TICKET] == b""
    assert messages[1][0] == HT.certificate


@pytest.mark.parametrize("ticket", [True, False], ids=["ticket", "session-id"])
def test_server_aborts_resumption_of_an_ems_session_without_ems(ticket: bool) -> None:
    """RFC 7627 5.3: the session used EMS and the ClientHello offering it does not; the
    server "MUST abort" (where a session without EMS offered with it only gets a full
    handshake): handshake_failure, as OpenSSL, BoringSSL and Go do, and as tlsfuzzer's
    test-extended-master-secret-extension.py expects."""
    scfg, session = _session(ticket)
    client = _resuming(session)
    hello = edit_client_hello(lambda ch: ch.extensions.pop(EXT_EMS))(client.data_to_send())
    server = server_endpoint(scfg)
    expect_alert12(server, hello, AD.handshake_failure)


OTHER_NAME = b"\x00\x0c\x00\x00\x09otherhost"  # server_name: "otherhost"


@pytest.mark.parametrize("why", ["expired", "other-name"])
@pytest.mark.parametrize("ticket", [True, False], ids=["ticket", "session-id"])
def test_server_without_ems_gets_a_full_handshake_for_a_session_it_would_not_resume(
        ticket: bool, why: str) -> None:
    """RFC 7627 5.3's abort is for the abbreviated handshake: an EMS session offered
    without the extension ends the connection only if we would resume it. One past its
    lifetime, or made for another server name, gets the full handshake (without a new
    session) that any client without EMS gets, as OpenSSL (ssl_get_prev_session drops an
    expired session before its EMS check) and Go (checkForResumption) answer; before,
    such a ticket was handshake_failure, while the same session by ID (which the store
    had expired) got a full handshake."""
    now = [time.time()]
    scfg, session = _session(ticket, clock=lambda: now[0])

    def fn(ch: m.ClientHello) -> None:
        del ch.extensions[EXT_EMS]
        if why == "other-name":
            ch.extensions[0] = OTHER_NAME
    hello = edit_client_hello(fn)(_resuming(session).data_to_send())
    if why == "expired":
        now[0] += scfg.ticket_lifetime + 1
    server = server_endpoint(scfg)
    server.receive_data(hello)
    messages = messages_of(server.data_to_send())
    sh = m.ServerHello.decode(memoryview(messages[0])[4:])
    assert messages[1][0] == HT.certificate
    assert EXT_EMS not in sh.extensions and EXT_SESSION_TICKET not in sh.extensions
    assert sh.session_id == b""  # no session is left without EMS


def test_server_without_ems_ignores_a_ticket_it_cannot_open() -> None:
    """Only a session we sealed counts: garbage in session_ticket from a client without
    EMS is no downgrade, just a full handshake (without a session, RFC 7627 5.3)."""
    client = client_endpoint(_client_config(), "localhost")
    hello = edit_client_hello(lambda ch: (
        ch.extensions.pop(EXT_EMS), ch.extensions.__setitem__(EXT_SESSION_TICKET, b"\xAA" * 99)))(
        client.data_to_send())
    server = server_endpoint(_server_config())
    server.receive_data(hello)
    assert messages_of(server.data_to_send())[1][0] == HT.certificate


RESUMED_CLIENT_CASES = {
    # After our CCS and Finished, the client owes CCS then Finished: nothing else.
    "key-exchange-instead": (on_msg(HT.finished, lambda hs, raw: m12.ClientKeyExchangeECDHE(
        bytes(65)).encode()), AD.unexpected_message),
    "bad-finished": (on_msg(HT.finished, lambda hs, raw: raw[:-1] + bytes([raw[-1] ^ 1])),
                     AD.decrypt_error),
}


@pytest.mark.parametrize("case", RESUMED_CLIENT_CASES)
@pytest.mark.parametrize("ticket", [True, False], ids=["ticket", "session-id"])
def test_server_rejects_resumed_client_flight(case: str, ticket: bool) -> None:
    hook, alert = RESUMED_CLIENT_CASES[case]
    scfg, session = _session(ticket)
    client, server = _resuming(session), server_endpoint(scfg)
    server.receive_data(client.data_to_send())
    with rewriting(ClientHandshake12, hook):
        client.receive_data(server.data_to_send())
        flight = client.data_to_send()
    expect_alert12(server, flight, alert)


@pytest.mark.parametrize("ticket", [True, False], ids=["ticket", "session-id"])
def test_mutual_tls_session_resumes_with_the_client_certificate(ticket: bool) -> None:
    """The session carries the client's chain: the resumed connection reports it, and it
    is validated again (a server trusting another CA makes a full handshake)."""
    from tlskit import CertifiedKey

    from ..support.pki import other_pki
    alice = pki().client
    auth = {"client_auth": "required", "client_trust_anchors": [pki().ca.root]}
    scfg = _server_config(session_tickets=2 if ticket else 0, **auth)
    ccfg = _client_config(certificate=CertifiedKey(alice.chain, alice.private_key))
    session, _ = _full(ccfg, scfg)
    assert session is not None
    client, server = client_endpoint(ccfg, "localhost", session=session), \
        server_endpoint(scfg)
    pump(client, server)
    assert server.handshake_complete and server.handshake_complete.resumed
    assert server.handshake_complete.peer_certificates[0] == alice.certificate
    # Same policy words, other trust: another session context, so no resumption.
    other = _server_config(session_tickets=2 if ticket else 0, client_auth="required",
                           client_trust_anchors=[other_pki().ca.root],
                           session_store=scfg.get_session_store().backend)
    client = client_endpoint(ccfg, "localhost", session=session)
    server = server_endpoint(other)
    server.receive_data(client.data_to_send())
    types = [raw[0] for raw in messages_of(server.data_to_send())]
    assert HT.certificate in types  # a full handshake (which alice's CA then fails)


def test_server_does_not_echo_a_session_id_it_does_not_know() -> None:
    """A legacy_session_id the cache does not hold (forged, expired, another fleet's): a
    full handshake under a fresh session ID, never an echo."""
    client = client_endpoint(_client_config(session_cache=None), "localhost")
    forged = bytes(range(32))
    hello = edit_client_hello(lambda ch: setattr(ch, "session_id", forged))(
        client.data_to_send())
    server = server_endpoint(_server_config())
    server.receive_data(hello)
    messages = messages_of(server.data_to_send())
    sh = m.ServerHello.decode(memoryview(messages[0])[4:])
    assert sh.session_id != forged and len(sh.session_id) == 32
    assert messages[1][0] == HT.certificate


SESSION_SUITE = 0xC02B  # TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: what `_session` makes


@pytest.mark.parametrize("suites", [[0xC02C, 0xCCA9], [0x0002]],
                         ids=["other-suites", "only-a-suite-we-refuse"])
@pytest.mark.parametrize("ticket", [True, False], ids=["ticket", "session-id"])
def test_server_rejects_resumption_without_the_sessions_suite(ticket: bool,
                                                              suites: list[int]) -> None:
    """RFC 5246 7.4.1.2: a ClientHello offering a session "MUST include at least the
    cipher_suite from that session". A client that leaves it out is ended with
    illegal_parameter, as OpenSSL and BoringSSL do and tlsfuzzer's
    test-resumption-with-wrong-ciphers.py expects (CVE-2010-4180), also when nothing
    it lists is a suite we would take (there: TLS_RSA_WITH_NULL_SHA); before, the first
    got a full handshake and the second handshake_failure."""
    scfg, session = _session(ticket)
    assert session.suite.code == SESSION_SUITE
    hello = edit_client_hello(lambda ch: setattr(ch, "cipher_suites", suites))(
        _resuming(session).data_to_send())
    err = expect_alert12(server_endpoint(scfg), hello, AD.illegal_parameter)
    assert isinstance(err, IllegalParameter)
    assert "not its cipher suite" in str(err)


@pytest.mark.parametrize("why", ["suite-no-longer-enabled", "other-name"])
@pytest.mark.parametrize("ticket", [True, False], ids=["ticket", "session-id"])
def test_a_session_we_would_not_resume_gets_a_full_handshake_without_its_suite(
        ticket: bool, why: str) -> None:
    """The illegal_parameter above is for a session we would resume. One whose suite the
    server no longer enables (the client's config dropped it too, so the hello leaves it
    out), or made for another server name, is declined first: a full handshake, with the
    suites the hello does list. (The session is looked up before the suite choice; the
    order of its checks decides this.)"""
    store = MemoryStore()
    scfg, session = _session(ticket, session_store=store)
    if why == "suite-no-longer-enabled":
        scfg = _server_config(session_tickets=scfg.session_tickets, session_store=store,
                              cipher_suites=["TLS_AES_128_GCM_SHA256",
                                             "ECDHE-ECDSA-AES256-GCM-SHA384"])

    def fn(ch: m.ClientHello) -> None:
        ch.cipher_suites = [c for c in ch.cipher_suites if c != SESSION_SUITE]
        if why == "other-name":
            ch.extensions[0] = OTHER_NAME
    hello = edit_client_hello(fn)(_resuming(session).data_to_send())
    server = server_endpoint(scfg)
    server.receive_data(hello)
    messages = messages_of(server.data_to_send())
    sh = m.ServerHello.decode(memoryview(messages[0])[4:])
    assert messages[1][0] == HT.certificate  # a full handshake
    assert sh.cipher_suite != SESSION_SUITE


@pytest.mark.parametrize("ticket", [True, False], ids=["ticket", "session-id"])
def test_server_resumes_without_a_group_or_scheme_in_common(ticket: bool) -> None:
    """The abbreviated handshake uses the session's suite and master secret: no key
    exchange group, certificate or signature scheme. A resuming ClientHello whose
    supported_groups and signature_algorithms would not do for a full handshake still
    resumes (OpenSSL and Go choose those only for a full handshake); before, the server
    failed it with handshake_failure."""
    scfg, session = _session(ticket)

    def fn(ch: m.ClientHello) -> None:
        ch.extensions[10] = b"\x00\x02\x00\x1e"  # supported_groups: x448 alone
        del ch.extensions[13]  # no signature_algorithms
    hello = edit_client_hello(fn)(_resuming(session).data_to_send())
    server = server_endpoint(scfg)
    server.receive_data(hello)
    messages = messages_of(server.data_to_send())
    sh = m.ServerHello.decode(memoryview(messages[0])[4:])
    assert sh.cipher_suite == SESSION_SUITE
    assert HT.certificate not in [raw[0] for raw in messages]


def test_server_rejects_an_overlong_session_id() -> None:
    """RFC 5246 7.4.1.2: SessionID is opaque<0..32>; 33 bytes does not decode."""
    client = client_endpoint(_client_config(session_cache=None), "localhost")
    hello = edit_client_hello(lambda ch: setattr(ch, "session_id", bytes(33)))(
        client.data_to_send())
    expect_alert12(server_endpoint(_server_config()), hello, AD.decode_error)


# --- tls-unique (RFC 5929), which the extended master secret makes safe --------------------

def _finished_log() -> tuple[list[tuple[str, bytes]], Any]:
    """A tracer noting each Finished (step, verify_data) in the order the side met it."""
    seen: list[tuple[str, bytes]] = []

    def tracer(step: str, fields: dict[str, Any]) -> None:
        if step in ("client_finished", "server_finished"):
            seen.append((step, bytes(fields["verify_data"])))
    return seen, tracer


@pytest.mark.parametrize("resumed", [False, True], ids=["full", "abbreviated"])
def test_tls_unique_is_the_first_finished_of_the_handshake(resumed: bool) -> None:
    """The client's Finished in a full handshake, the server's in an abbreviated one
    (RFC 5929 3.1), the same on both sides, new for each connection; `ssl`-compatible
    sockets give it through get_channel_binding("tls-unique")."""
    seen, tracer = _finished_log()
    scfg = _server_config(session_tickets=2, tracer=tracer)
    if resumed:
        session, _ = _full(_client_config(), scfg)
        assert session is not None
        seen.clear()
        client = _resuming(session)
    else:
        client = client_endpoint(_client_config(), "localhost")
    server = server_endpoint(scfg)
    assert client.tls_unique is None and server.tls_unique is None  # not yet
    pump(client, server)
    assert client.handshake_complete and client.handshake_complete.resumed == resumed
    first = "server_finished" if resumed else "client_finished"
    assert seen[0][0] == first and len(seen[0][1]) == 12, seen
    assert client.tls_unique == server.tls_unique == seen[0][1]


def test_tls_unique_is_withheld_without_the_extended_master_secret() -> None:
    """Without EMS a man in the middle can give two connections the same Finished (the
    triple handshake, RFC 7627 1): no tls-unique then, where OpenSSL would report one."""
    with _clients_without_ems():
        client = client_endpoint(_client_config(), "localhost")
        server = server_endpoint(_server_config())
        pump(client, server)
    assert client.handshake_complete is not None  # on the classic master secret
    assert client.tls_unique is None and server.tls_unique is None


def test_channel_bindings_without_the_extended_master_secret() -> None:
    """RFC 9266 4.2: tls-exporter is not used in TLS 1.2 without EMS (RFC 7627 1: a man
    in the middle can give two connections one master secret), nor is tls-unique: both
    sides refuse them; tls-server-end-point binds the certificate and is still given."""
    with _clients_without_ems():
        client = client_endpoint(_client_config(), "localhost")
        server = server_endpoint(_server_config())
        pump(client, server)
    assert client.handshake_complete is not None
    for conn in (client, server):
        with pytest.raises(UsageError, match=r"tls-exporter: this TLS 1\.2 connection did "
                                             r"not negotiate the extended master secret"):
            conn.channel_binding("tls-exporter")
        with pytest.raises(UsageError, match=r"tls-unique: this TLS 1\.2 connection did not "
                                             r"negotiate the extended master secret"):
            conn.channel_binding("tls-unique")
        assert len(conn.channel_binding("tls-server-end-point")) == 32
        assert len(conn.export_keying_material(b"EXPORTER-other", b"", 32)) == 32


def test_tls13_has_no_tls_unique() -> None:
    client = client_endpoint(_client_config(versions=["TLSv1.3"]), "localhost")
    server = server_endpoint(_server_config())
    pump(client, server)
    assert client.handshake_complete is not None and client.tls_unique is None
    assert server.tls_unique is None
