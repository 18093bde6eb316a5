"""TLS 1.3 session tickets sent on demand over TCP (`ServerConnection.send_session_ticket`,
RFC 8446 4.6.1), in memory between two tlskit connections."""

from __future__ import annotations

from typing import Any

import pytest

from tlskit import (
    AlertReceived,
    CertifiedKey,
    ClientCertificateReceived,
    ClientConnection,
    ServerConfig,
    ServerConnection,
    SessionTicketReceived,
    UsageError,
)
from tlskit.trace import TraceStep

from ..support.pki import client_config, pki, server_config
from ..support.pump import pump


def nonces_traced() -> tuple[list[bytes], Any]:
    """A tracer collecting the nonces of the NewSessionTickets the server sends."""
    seen: list[bytes] = []

    def tracer(step: Any, fields: dict[str, Any]) -> None:
        if step == TraceStep.NEW_SESSION_TICKET:
            seen.append(fields["message"].nonce)
    return seen, tracer


def tickets(events: list[Any]) -> list[Any]:
    return [e.session for e in events if isinstance(e, SessionTicketReceived)]


def pair(server_kw: dict[str, Any] | Any = None, client_kw: dict[str, Any] | None = None,
         ) -> tuple[ClientConnection, ServerConnection, list[Any]]:
    """A completed handshake; ``server_kw`` may be the ServerConfig itself (to resume
    later under its ticket keys)."""
    c = ClientConnection(client_config(**(client_kw or {})), "localhost")
    cfg = server_kw if isinstance(server_kw, ServerConfig) else server_config(**(server_kw or {}))
    s = ServerConnection(cfg)
    events = pump(c, s)
    assert c.handshake_complete and s.handshake_complete
    return c, s, events


def test_on_demand_only_with_automatic_tickets_off() -> None:
    """automatic_tickets=False: no ticket when the handshake ends; each call sends one,
    which resumes."""
    cfg = server_config(session_tickets=1, automatic_tickets=False)
    c, s, events = pair(cfg)
    assert tickets(events) == [] and s.data_to_send() == b""
    assert s.send_session_ticket() is True
    [session] = tickets(pump(s, c))
    again = ClientConnection(client_config(), "localhost", session=session)
    s2 = ServerConnection(cfg)
    pump(again, s2)
    assert s2.handshake_complete is not None and s2.handshake_complete.resumed


def test_nonces_go_on_after_the_automatic_tickets() -> None:
    """RFC 8446 4.6.1: each ticket's nonce is unique on the connection, so each seals
    its own PSK; the on-demand ones follow the two sent when the handshake ended."""
    seen, tracer = nonces_traced()
    c, s, events = pair({"tracer": tracer})
    for _ in range(3):
        s.send_session_ticket()
    sessions = tickets(events) + tickets(pump(s, c))
    assert seen == [bytes([i]) for i in range(5)]
    assert len(sessions) == 5 and len({x.psk for x in sessions}) == 5


def test_the_cap_of_256_tickets_per_connection() -> None:
    seen, tracer = nonces_traced()
    c, s, _ = pair({"tracer": tracer})
    for _ in range(254):  # (two went when the handshake ended)
        assert s.send_session_ticket() is True
    with pytest.raises(UsageError, match="256 tickets were sent on this connection"):
        s.send_session_ticket()
    assert seen == [bytes([i]) for i in range(256)]
    assert len(tickets(pump(s, c))) == 254


def test_refused_before_the_handshake_completes() -> None:
    s = ServerConnection(server_config())
    with pytest.raises(UsageError, match="the handshake is not complete"):
        s.send_session_ticket()
    c = ClientConnection(client_config(), "localhost")
    s.receive_data(c.data_to_send())  # the server's flight is out, the client's Finished not in
    with pytest.raises(UsageError, match="the handshake is not complete"):
        s.send_session_ticket()


def test_refused_after_close() -> None:
    _, s, _ = pair()
    s.close()
    with pytest.raises(UsageError, match="the connection is closed"):
        s.send_session_ticket()


def test_refused_after_answering_the_peers_close_notify() -> None:
    """The message names both ways our close_notify went out, not only close()."""
    c, s, _ = pair()
    c.close()
    s.receive_data(c.data_to_send())  # the server answers with its own close_notify
    with pytest.raises(UsageError, match="the peer's close_notify answered"):
        s.send_session_ticket()


def test_refused_for_tls12() -> None:
    _, s, _ = pair(client_kw={"versions": ("TLSv1.2",)})
    assert s.version == "TLSv1.2"
    with pytest.raises(UsageError, match=r"this connection is TLS 1\.2"):
        s.send_session_ticket()


@pytest.mark.parametrize("asks_ticket", [True, False])
def test_tls12_gets_no_session_when_tickets_are_on_demand(asks_ticket: bool) -> None:
    """automatic_tickets=False: a TLS 1.2 handshake gives no ticket (nor, to a client that
    asks for none, a session ID), since TLS 1.2 can give them only in the handshake,
    before the application decided; the same config gives TLS 1.2 a session when
    tickets are automatic."""
    client_kw = {"versions": ("TLSv1.2",), "legacy_session_ticket": asks_ticket}
    _, s, events = pair({"session_tickets": 1, "automatic_tickets": False}, client_kw)
    assert s.version == "TLSv1.2" and tickets(events) == []
    _, s, events = pair({"session_tickets": 1}, client_kw)
    assert s.version == "TLSv1.2" and len(tickets(events)) == 1


def test_refused_without_tickets_or_0rtt() -> None:
    _, s, _ = pair({"session_tickets": 0})
    with pytest.raises(UsageError, match="session_tickets=0"):
        s.send_session_ticket()
    _, s, _ = pair()
    with pytest.raises(UsageError, match="max_early_data_size=0"):
        s.send_session_ticket(early_data=True)


def test_after_a_failure_the_failure_again() -> None:
    c, s, _ = pair()
    c.send_data(b"x")
    wire = bytearray(c.data_to_send())
    wire[-1] ^= 1  # a bad tag: bad_record_mac
    with pytest.raises(Exception) as first:
        s.receive_data(bytes(wire))
    with pytest.raises(type(first.value)) as again:
        s.send_session_ticket()
    assert again.value is first.value
    assert not isinstance(again.value, AlertReceived)


def test_early_data_flag_is_honoured() -> None:
    """None: as the config (0-RTT allowed); False: a ticket without early_data; True:
    the config's limit. The one allowing 0-RTT resumes with early data accepted."""
    cfg = server_config(max_early_data_size=1000, automatic_tickets=False)
    c, s, _ = pair(cfg)
    s.send_session_ticket()
    s.send_session_ticket(early_data=False)
    s.send_session_ticket(early_data=True)
    sessions = tickets(pump(s, c))
    assert [x.max_early_data for x in sessions] == [1000, 0, 1000]
    assert not ClientConnection(client_config(), "localhost", session=sessions[1],
                                early_data=b"GET").early_data_sent
    again = ClientConnection(client_config(), "localhost", session=sessions[2],
                             early_data=b"GET")
    assert again.early_data_sent
    s2 = ServerConnection(cfg)
    pump(again, s2)
    assert s2.handshake_complete is not None and s2.handshake_complete.early_data_accepted


def test_a_ticket_after_post_handshake_auth_resumes_with_the_client_identity() -> None:
    """The ticket sent after the client proved its certificate carries that chain: the
    session resumed from it reports the client's certificate (the handshake's own
    tickets, sent before, carry none)."""
    p = pki()
    cfg = server_config(client_trust_anchors=[p.ca.root])
    c = ClientConnection(client_config(certificate=CertifiedKey(p.client.chain,
                                                                 p.client.private_key)),
                         "localhost")
    s = ServerConnection(cfg)
    before = tickets(pump(c, s))
    assert s.handshake_complete is not None and s.handshake_complete.peer_certificates == []
    s.request_client_certificate()
    events = pump(s, c)
    assert [type(e) for e in events] == [ClientCertificateReceived]
    s.send_session_ticket()
    [after] = tickets(pump(s, c))

    def resumed_identity(session: Any) -> list[Any]:
        again = ClientConnection(client_config(), "localhost", session=session)
        s2 = ServerConnection(cfg)
        pump(again, s2)
        hc = s2.handshake_complete
        assert hc is not None and hc.resumed
        return list(hc.peer_certificates)
    assert resumed_identity(before[0]) == []
    assert resumed_identity(after) == list(p.client.chain)
