"""The handshake state machines: declared tables, the states real handshakes walk, and
"unexpected message" errors that name the true state.

Each side and version declares a `State` enum and a `TABLE`; the tests below state the
RFC flow a second time (`ACCEPTS`) and check the table against it, then run real
in-memory handshakes of every shape tlskit speaks (full, HelloRetryRequest, client
authentication, resumption, compressed certificates, KeyUpdate; TLS 1.2 with and
without stapling and client authentication). While they run, every message is handed
to the handshake one at a time, and before and after each one every message type the
current state does not accept is offered: each must fail with unexpected_message naming
that state, and leave the handshake able to go on.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tlskit import CertifiedKey, ClientConnection, ServerConnection
from tlskit.connection import HandshakeOutput
from tlskit.enums import AlertDescription, HandshakeType
from tlskit.errors import UnexpectedMessage
from tlskit.events import SessionTicketReceived
from tlskit.handshake import client12, client13, server12, server13
from tlskit.handshake.common import Handshake, Transcript
from tlskit.handshake.common12 import Handover12
from tlskit.record import RecordLayer
from tlskit.session import SessionCache
from tlskit.wire import messages as m

from ..hostile import helpers12 as h12
from ..support.pki import AcceptAll, client_config, pki, rsa_server, server_config
from ..support.pump import pump
from ..support.records import messages_of, split_records

HT = HandshakeType
C13, S13, C12, S12 = (client13.ClientHandshake13, server13.ServerHandshake13,
                      client12.ClientHandshake12, server12.ServerHandshake12)
MACHINES = (C13, S13, C12, S12)

# The RFC flows (RFC 8446 2, 4; RFC 5246 7.3), written out independently of the tables.
ACCEPTS: dict[type[Handshake], dict[str, set[HT]]] = {
    C13: {
        "START": set(),
        "WAIT_SERVER_HELLO": {HT.server_hello},
        "WAIT_SERVER_HELLO_AFTER_RETRY": {HT.server_hello},
        "WAIT_ENCRYPTED_EXTENSIONS": {HT.encrypted_extensions},
        "WAIT_CERTIFICATE_OR_REQUEST": {HT.certificate_request, HT.certificate,
                                        HT.compressed_certificate},
        "WAIT_CERTIFICATE": {HT.certificate, HT.compressed_certificate},
        "WAIT_CERTIFICATE_VERIFY": {HT.certificate_verify},
        "WAIT_FINISHED": {HT.finished},
        "CONNECTED": {HT.new_session_ticket, HT.key_update, HT.certificate_request},
        "HANDED_OVER": set(),
    },
    S13: {
        "WAIT_CLIENT_HELLO": {HT.client_hello},
        "WAIT_SECOND_CLIENT_HELLO": {HT.client_hello},
        "WAIT_END_OF_EARLY_DATA": {HT.end_of_early_data},
        "WAIT_CERTIFICATE": {HT.certificate},
        "WAIT_CERTIFICATE_VERIFY": {HT.certificate_verify},
        "WAIT_FINISHED": {HT.finished},
        "CONNECTED": {HT.key_update},
        "PHA_WAIT_CERTIFICATE": {HT.certificate, HT.key_update},
        "PHA_WAIT_CERTIFICATE_VERIFY": {HT.certificate_verify, HT.key_update},
        "PHA_WAIT_FINISHED": {HT.finished, HT.key_update},
        "HANDED_OVER": set(),
    },
    C12: {
        "WAIT_SERVER_HELLO": {HT.server_hello},
        "WAIT_CERTIFICATE": {HT.certificate},
        "WAIT_CERTIFICATE_STATUS": {HT.certificate_status, HT.server_key_exchange},
        "WAIT_SERVER_KEY_EXCHANGE": {HT.server_key_exchange},
        "RSA_WAIT_CERTIFICATE_STATUS": {HT.certificate_status, HT.certificate_request,
                                        HT.server_hello_done},
        "WAIT_CERTIFICATE_REQUEST_OR_DONE": {HT.certificate_request, HT.server_hello_done},
        "WAIT_SERVER_HELLO_DONE": {HT.server_hello_done},
        "WAIT_NEW_SESSION_TICKET": {HT.new_session_ticket},
        "WAIT_CHANGE_CIPHER_SPEC": set(),
        "WAIT_FINISHED": {HT.finished},
        # RFC 5246 7.3 abbreviated handshake (RFC 5077 3.1 with a renewed ticket).
        "RESUMED_WAIT_NEW_SESSION_TICKET": {HT.new_session_ticket},
        "RESUMED_WAIT_CHANGE_CIPHER_SPEC": set(),
        "RESUMED_WAIT_FINISHED": {HT.finished},
        "CONNECTED": {HT.hello_request},
    },
    S12: {
        "WAIT_CLIENT_HELLO": {HT.client_hello},
        "WAIT_CERTIFICATE": {HT.certificate},
        "WAIT_CLIENT_KEY_EXCHANGE": {HT.client_key_exchange},
        "WAIT_CERTIFICATE_VERIFY": {HT.certificate_verify},
        "WAIT_CHANGE_CIPHER_SPEC": set(),
        "WAIT_FINISHED": {HT.finished},
        "RESUMED_WAIT_CHANGE_CIPHER_SPEC": set(),
        "RESUMED_WAIT_FINISHED": {HT.finished},
        "CONNECTED": {HT.client_hello},  # refused with no_renegotiation (RFC 5246 7.2.2)
    },
}
# TLS 1.2: the states a ChangeCipherSpec moves on (it is a record, not a message).
# (Not the ticket states: RFC 5077 3.3, an announced NewSessionTicket comes first.)
CCS_ACCEPTED = {C12: {"WAIT_CHANGE_CIPHER_SPEC", "RESUMED_WAIT_CHANGE_CIPHER_SPEC"},
                S12: {"WAIT_CHANGE_CIPHER_SPEC", "RESUMED_WAIT_CHANGE_CIPHER_SPEC"}}


# --- the tables -------------------------------------------------------------------------

@pytest.mark.parametrize("machine", MACHINES, ids=lambda c: c.__name__)
def test_every_state_accepts_exactly_what_the_rfc_flow_says(machine: type[Handshake]) -> None:
    states: type[enum.Enum] = machine.STATES  # type: ignore[attr-defined]
    assert set(machine.TABLE) == set(states), "every state has a row, and only states do"
    accepted = {s.name: set(row) for s, row in machine.TABLE.items()}
    assert accepted == ACCEPTS[machine]
    assert machine.CONNECTED is states.CONNECTED


@pytest.mark.parametrize("machine", MACHINES, ids=lambda c: c.__name__)
def test_every_rule_names_a_handler_and_states_of_its_own_machine(
        machine: type[Handshake]) -> None:
    states = set(machine.STATES)  # type: ignore[attr-defined]
    for state, row in machine.TABLE.items():
        for msg_type, rule in row.items():
            assert callable(getattr(machine, rule.handler, None)), (state, msg_type)
            assert rule.next and rule.next <= states, (state, msg_type, rule.next)


@pytest.mark.parametrize("machine", (C12, S12), ids=lambda c: c.__name__)
def test_change_cipher_spec_moves_only_the_declared_states(machine: type[Handshake]) -> None:
    assert {s.name for s in machine.CCS_NEXT} == CCS_ACCEPTED[machine]
    assert {s.name for s in machine.CCS_NEXT.values()} == {"WAIT_FINISHED",
                                                           "RESUMED_WAIT_FINISHED"}


def test_every_state_is_reachable_from_the_first() -> None:
    for machine in MACHINES:
        states = list(machine.STATES)  # type: ignore[attr-defined]
        # The client's START -> WAIT_SERVER_HELLO is the ClientHello it sends.
        # The server's CONNECTED -> PHA_WAIT_CERTIFICATE is the CertificateRequest it sends.
        starts = {states[0], *([client13.State.WAIT_SERVER_HELLO] if machine is C13 else []),
                  *([server13.State.PHA_WAIT_CERTIFICATE] if machine is S13 else [])}
        seen, todo = set(starts), list(starts)
        while todo:
            state = todo.pop()
            nexts = {n for r in machine.TABLE[state].values() for n in r.next}
            nexts |= {machine.CCS_NEXT[state]} if state in machine.CCS_NEXT else set()
            todo += nexts - seen
            seen |= nexts
        assert seen == set(states), (machine.__name__, set(states) - seen)


# --- the reproduction from the review ---------------------------------------------------

def test_tls12_flight_without_server_key_exchange_names_the_state_after_certificate() -> None:
    client, server = h12.client12(verifier=AcceptAll()), h12.server12()
    server.receive_data(client.data_to_send())
    messages = messages_of(server.data_to_send())
    assert [raw[0] for raw in messages] == [HT.server_hello, HT.certificate,
                                            HT.server_key_exchange, HT.server_hello_done]
    kept = b"".join(raw for raw in messages if raw[0] != HT.server_key_exchange)
    with pytest.raises(UnexpectedMessage) as info:
        client.receive_data(b"\x16\x03\x03" + len(kept).to_bytes(2, "big") + kept)
    assert info.value.alert == AlertDescription.unexpected_message
    assert "server_hello_done is not expected in state WAIT_SERVER_KEY_EXCHANGE" in str(info.value)
    assert "waiting for ServerKeyExchange" in str(info.value)
    # The alert went out as a plaintext record.
    assert client.data_to_send() == b"\x15\x03\x03\x00\x02\x02\x0a"


# --- walking real handshakes ------------------------------------------------------------

@dataclass
class Walk:
    """What the probes saw: the states visited and the transitions taken, per machine."""

    visited: dict[type[Handshake], set[str]] = field(default_factory=dict)
    edges: dict[type[Handshake], set[tuple[str, str, str]]] = field(default_factory=dict)
    probes: int = 0

    def probe(self, hs: Handshake, original: Callable[[Handshake, bytes], None]) -> None:
        """Offer every message type the state does not accept: each is unexpected_message
        naming the state, and the state does not change."""
        machine, state = type(hs), hs.state
        self.visited.setdefault(machine, set()).add(state.name)
        for msg_type in HT:
            if msg_type in hs.TABLE[state]:
                continue
            if machine is C12 and msg_type == HT.hello_request and not hs.complete:
                continue  # RFC 5246 7.4.1.1: ignored while negotiating (tested in tls12/)
            with pytest.raises(UnexpectedMessage) as info:
                original(hs, m.frame(msg_type, b""))
            assert info.value.alert == AlertDescription.unexpected_message
            assert f"{msg_type.name} is not expected in state {state.name} " in str(info.value)
            assert hs.state is state and not hs.partial_message
            self.probes += 1


@pytest.fixture
def walk(monkeypatch: pytest.MonkeyPatch) -> Iterator[Walk]:
    """Hand every handshake one message at a time, probing before and after each."""
    w = Walk()
    original_receive = Handshake.receive_record
    original_step = Handshake.step
    original_received = Handshake._received

    def receive_record(hs: Handshake, payload: bytes) -> None:
        data = bytes(payload)
        while data:
            if hs.partial_message or len(data) < 4:
                original_receive(hs, data)
                return
            length = 4 + int.from_bytes(data[1:4], "big")
            one, data = data[:length], data[length:]
            w.probe(hs, original_receive)
            original_receive(hs, one)
            if hs.successor is not None:  # TLS 1.2 took over: the rest is its own
                if data:
                    receive_record(hs.successor, data)
                return
            if not hs.partial_message:
                w.probe(hs, original_receive)

    def step(hs: Handshake, found: Any, msg: Any, raw: bytes) -> None:
        before = hs.state.name
        original_step(hs, found, msg, raw)
        w.edges.setdefault(type(hs), set()).add((before, HT(raw[0]).name, hs.state.name))

    def received(hs: Handshake, raw: bytes) -> None:
        # `_received` runs the handler itself (the `step` of a received message, written
        # out); `step` is what a TLS 1.2 hand-over (`take_over`) goes through.
        before = hs.state.name
        original_received(hs, raw)
        w.edges.setdefault(type(hs), set()).add((before, HT(raw[0]).name, hs.state.name))

    monkeypatch.setattr(Handshake, "receive_record", receive_record)
    monkeypatch.setattr(Handshake, "step", step)
    monkeypatch.setattr(Handshake, "_received", received)
    yield w


def _client_cert() -> CertifiedKey:
    return CertifiedKey(pki().client.chain, pki().client.private_key)


def _complete(c: ClientConnection, s: ServerConnection) -> list[Any]:
    events = pump(c, s)
    assert c.handshake_complete is not None and s.handshake_complete is not None
    return events


def _tls13_shapes() -> None:
    # Full handshake with tickets, then a KeyUpdate each way.
    server_cfg = server_config(certificate_compression=("zlib",))
    c = ClientConnection(client_config(), "localhost")
    s = ServerConnection(server_cfg)
    events = _complete(c, s)
    c.update_keys(request_peer_update=True)
    pump(c, s)
    # Resumption with one of the tickets (EncryptedExtensions -> Finished).
    session = next(e.session for e in events if isinstance(e, SessionTicketReceived))
    c = ClientConnection(client_config(), "localhost", session=session)
    s = ServerConnection(server_cfg)
    _complete(c, s)
    assert c.handshake_complete and c.handshake_complete.resumed
    # HelloRetryRequest: the client's one share is for a group the server does not take.
    c = ClientConnection(client_config(groups=["x25519", "secp256r1"],
                                       certificate_compression=()), "localhost")
    _complete(c, ServerConnection(server_config(groups=["secp256r1"])))
    # Client authentication, with and without a certificate to send; with a compressed
    # Certificate after the CertificateRequest; after a HelloRetryRequest.
    auth = {"client_auth": "optional", "client_trust_anchors": [pki().ca.root]}
    for cert in (_client_cert(), None):
        c = ClientConnection(client_config(certificate=cert, certificate_compression=()),
                             "localhost")
        _complete(c, ServerConnection(server_config(**auth)))
    c = ClientConnection(client_config(certificate=_client_cert()), "localhost")
    _complete(c, ServerConnection(server_config(certificate_compression=("zlib",), **auth)))
    c = ClientConnection(client_config(groups=["x25519", "secp256r1"]), "localhost")
    _complete(c, ServerConnection(server_config(groups=["secp256r1"], **auth)))
    # 0-RTT: early data accepted, then EndOfEarlyData.
    early_cfg = server_config(max_early_data_size=1024)
    events = _complete(ClientConnection(client_config(), "localhost"),
                       ServerConnection(early_cfg))
    session = next(e.session for e in events if isinstance(e, SessionTicketReceived))
    c = ClientConnection(client_config(), "localhost", session=session, early_data=b"0-RTT")
    _complete(c, ServerConnection(early_cfg))
    assert c.handshake_complete and c.handshake_complete.early_data_accepted
    # Post-handshake authentication: with a certificate, declined, and a KeyUpdate
    # crossing each step of the request.
    pha_server = server_config(client_trust_anchors=[pki().ca.root])
    for cert in (_client_cert(), None):
        c = ClientConnection(client_config(certificate=cert, post_handshake_auth=True),
                             "localhost")
        s = ServerConnection(pha_server)
        _complete(c, s)
        s.request_client_certificate()
        pump(s, c)
    c = ClientConnection(client_config(certificate=_client_cert()), "localhost")
    s = ServerConnection(pha_server)
    _complete(c, s)
    s.request_client_certificate()
    request = s.data_to_send()
    c.update_keys(request_peer_update=False)
    s.receive_data(c.data_to_send())         # KeyUpdate in PHA_WAIT_CERTIFICATE
    c.receive_data(request)
    s.receive_data(c.data_to_send())


def _tls12_shapes() -> None:
    leaf = pki().server
    stapled = CertifiedKey(leaf.chain, leaf.private_key, ocsp_response=b"a staple")
    for server_cfg in ({"certificates": [stapled], "certificate_chain": None,
                        "private_key": None}, {}):  # stapling asked for: with and without
        _complete(h12.client12(verifier=AcceptAll(), ocsp_stapling=True),
                  h12.server12(**server_cfg))
    for ticket in (False, True):  # offering an RFC 5077 ticket adds a state before the CCS
        _complete(h12.client12(verifier=AcceptAll(), certificate=_client_cert(),
                               legacy_session_ticket=ticket),
                  h12.server12(**h12.client_auth_kw()))
        _complete(h12.client12(verifier=AcceptAll(), legacy_session_ticket=ticket),
                  h12.server12())
    _rsa_kx_shapes(stapled)
    # Resumed (abbreviated) handshakes: by session ID, and by a ticket the server renews
    # (the client's RESUMED_WAIT_NEW_SESSION_TICKET state sees a NewSessionTicket).
    for tickets in (0, 1):
        cache = SessionCache()
        scfg = h12.server12(session_tickets=tickets).config
        for _ in range(2):
            _complete(h12.client12(verifier=AcceptAll(), session_cache=cache),
                      ServerConnection(scfg))


def _rsa_kx_shapes(stapled: CertifiedKey) -> None:
    """RSA key transport: no ServerKeyExchange, so the certificate (or its staple) leads
    straight to CertificateRequest or ServerHelloDone."""
    rsa = rsa_server()
    rsa_stapled = CertifiedKey(rsa.chain, rsa.private_key, ocsp_response=b"a staple")
    rsa_kx = {"legacy_rsa_key_exchange": True,
              "cipher_suites": ["TLS_RSA_WITH_AES_128_GCM_SHA256"]}
    plain = {"certificate_chain": rsa.chain, "private_key": rsa.private_key}
    for server_cfg, stapling in (({"certificates": [rsa_stapled], "certificate_chain": None,
                                   "private_key": None}, True), (plain, False)):
        for auth in ({}, h12.client_auth_kw()):
            client_kw = {"certificate": _client_cert()} if auth else {}
            _complete(h12.client12(verifier=AcceptAll(), ocsp_stapling=stapling,
                                   **rsa_kx, **client_kw),
                      h12.server12(**rsa_kx, **server_cfg, **auth))


def test_real_handshakes_walk_every_state_and_transition(walk: Walk) -> None:
    _tls13_shapes()
    _tls12_shapes()
    # States no message arrives in: START (before the ClientHello is sent), HANDED_OVER
    # (the TLS 1.3 object after TLS 1.2 took over) and the TLS 1.2 entry states (their
    # hello arrived at the TLS 1.3 object, as did the ClientHello that leads a resuming
    # server straight to RESUMED_WAIT_CHANGE_CIPHER_SPEC); they are probed below.
    not_walked = {C13: {"START", "HANDED_OVER"}, S13: {"HANDED_OVER"},
                  C12: {"WAIT_SERVER_HELLO"},
                  S12: {"WAIT_CLIENT_HELLO", "RESUMED_WAIT_CHANGE_CIPHER_SPEC"}}
    for machine in MACHINES:
        names = {s.name for s in machine.STATES}  # type: ignore[attr-defined]
        assert walk.visited[machine] == names - not_walked[machine], machine.__name__
        declared = {(s.name, HT(t).name, n.name) for s, row in machine.TABLE.items()
                    for t, r in row.items() for n in r.next}
        assert walk.edges[machine] <= declared
    # Edges that need a peer tlskit is not: a TLS 1.2 server sending a HelloRequest, a
    # client asking to renegotiate, or a server acknowledging status_request without a
    # CertificateStatus (each is covered against crafted peers in tests/hostile/test_tls12.py).
    untaken = {(machine.__name__, edge) for machine in MACHINES
               for edge in {(s.name, HT(t).name, n.name) for s, row in machine.TABLE.items()
                            for t, r in row.items() for n in r.next} - walk.edges[machine]}
    assert untaken == {
        ("ClientHandshake12", ("WAIT_CERTIFICATE_STATUS", "server_key_exchange",
                               "WAIT_CERTIFICATE_REQUEST_OR_DONE")),
        ("ClientHandshake12", ("CONNECTED", "hello_request", "CONNECTED")),
        ("ServerHandshake12", ("CONNECTED", "client_hello", "CONNECTED")),
        ("ClientHandshake12", ("RSA_WAIT_CERTIFICATE_STATUS", "certificate_request",
                               "WAIT_SERVER_HELLO_DONE")),
        *{("ClientHandshake12", ("RSA_WAIT_CERTIFICATE_STATUS", "server_hello_done", after))
          for after in ("WAIT_CHANGE_CIPHER_SPEC", "WAIT_NEW_SESSION_TICKET")},
        # A tlskit client answers a post-handshake request in one flight, so no KeyUpdate
        # falls between its messages (the table still allows one there, as RFC 8446 does).
        ("ServerHandshake13", ("PHA_WAIT_CERTIFICATE_VERIFY", "key_update",
                               "PHA_WAIT_CERTIFICATE_VERIFY")),
        ("ServerHandshake13", ("PHA_WAIT_FINISHED", "key_update", "PHA_WAIT_FINISHED")),
    }
    assert walk.probes > 500


def test_hand_over_leaves_the_tls13_object_in_handed_over(walk: Walk) -> None:
    c = h12.client12(verifier=AcceptAll(), versions=["TLSv1.3", "TLSv1.2"])
    s = h12.server12(versions=["TLSv1.2"])
    first_client, first_server = c._hs, s._hs
    _complete(c, s)
    for hs, machine in ((first_client, C13), (first_server, S13)):
        assert type(hs) is machine and hs.state.name == "HANDED_OVER"
        walk.probe(hs, _plain_receive)
    assert type(c._hs) is C12 and type(s._hs) is S12


def _plain_receive(hs: Handshake, raw: bytes) -> None:
    hs._received(raw)


def _bare_output() -> HandshakeOutput:
    return HandshakeOutput(RecordLayer(), [])


def test_states_entered_without_a_message_name_themselves(walk: Walk) -> None:
    cfg = client_config()
    fresh = [C13(cfg, _bare_output(), "localhost"),
             C12(Handover12(cfg, _bare_output(), Transcript())),
             S12(Handover12(server_config(), _bare_output(), Transcript()))]
    assert [hs.state.name for hs in fresh] == ["START", "WAIT_SERVER_HELLO",
                                               "WAIT_CLIENT_HELLO"]
    for hs in fresh:
        walk.probe(hs, _plain_receive)
    assert {m_.__name__ for m_ in walk.visited} == {"ClientHandshake13", "ClientHandshake12",
                                                   "ServerHandshake12"}


def test_a_handler_that_returns_an_undeclared_state_is_an_internal_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from tlskit.errors import InternalError
    monkeypatch.setattr(S13, "on_client_hello",
                        lambda self, ch, raw: server13.State.CONNECTED)
    s = ServerConnection(server_config())
    c = ClientConnection(client_config(), "localhost")
    with pytest.raises(InternalError, match="does not allow"):
        s.receive_data(c.data_to_send())


# --- no reference cycles ------------------------------------------------------------------

@pytest.mark.parametrize("versions", [["TLSv1.3"], ["TLSv1.2"]])
def test_a_finished_handshake_is_freed_by_reference_counting(versions: list[str]) -> None:
    """The tables name handlers instead of holding bound methods, the TLS 1.2 successor
    does not point back at its predecessor, and the Output holds no connection: a
    handshake (and the TLS 1.3 one it took over from) dies as soon as it is dropped."""
    import gc
    import weakref
    gc.collect()
    gc.disable()
    try:
        c = ClientConnection(client_config(versions=versions, certificate_compression=()),
                             "localhost")
        s = ServerConnection(server_config())
        first = [weakref.ref(c._hs), weakref.ref(s._hs)]
        _complete(c, s)
        final = [weakref.ref(c._hs), weakref.ref(s._hs)]
        c._hs = s._hs = None  # type: ignore[assignment]
        assert [r() for r in first + final] == [None] * 4
    finally:
        gc.enable()


def test_a_tls12_connection_is_freed_by_reference_counting() -> None:
    import gc
    import weakref
    gc.collect()
    gc.disable()
    try:
        c = h12.client12(verifier=AcceptAll())
        s = h12.server12()
        _complete(c, s)
        refs = [weakref.ref(c), weakref.ref(s)]
        del c, s
        assert [r() for r in refs] == [None, None]
    finally:
        gc.enable()


def test_tls12_server_flight_has_one_record_per_message() -> None:
    """As OpenSSL, BoringSSL and GnuTLS write it: sslscan reads this flight record by
    record and stalled (3 s per group probe) on a single record holding every message."""
    client = h12.client12(verifier=AcceptAll(), ocsp_stapling=True)
    server = h12.server12(ocsp_response=b"\x30\x03\x0a\x01\x00",  # any bytes: not parsed
                          **h12.client_auth_kw())
    server.receive_data(client.data_to_send())
    records = split_records(server.data_to_send())
    assert [r[0] for r in records] == [22] * 6  # handshake records
    assert [messages_of(r) for r in records] == [[r[5:]] for r in records]
    assert [r[5] for r in records] == [HT.server_hello, HT.certificate, HT.certificate_status,
                                       HT.server_key_exchange, HT.certificate_request,
                                       HT.server_hello_done]
