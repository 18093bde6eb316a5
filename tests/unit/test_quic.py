"""tlskit.quic (RFC 9001) in memory: packet-key vectors (Appendix A), tlskit client <->
tlskit server per level, HelloRetryRequest, resumption, and the failures a conforming peer
never causes (forged bytes), each with its alert and QUIC error code."""

from __future__ import annotations

from typing import Any

import pytest

from tlskit import (
    AlertDescription,
    ClientConfig,
    ClientConnection,
    HandshakeComplete,
    ServerConfig,
    ServerConnection,
    SessionTicketReceived,
    TLSError,
    UsageError,
)
from tlskit.ca import LocalCA
from tlskit.crypto import SUITES
from tlskit.enums import CipherSuite
from tlskit.quic import (
    QUIC_V1,
    QUIC_V2,
    EarlyDataRejected,
    EncryptionLevel,
    QuicClientConnection,
    QuicConnection,
    QuicProtocolViolation,
    QuicServerConnection,
    QuicTransportParameterError,
    SecretInstalled,
    TransportParametersReceived,
    error_code,
    header_protection_mask,
    initial_secrets,
    next_secret,
    packet_keys,
    retry_integrity_tag,
)

INI, H, A = EncryptionLevel.INITIAL, EncryptionLevel.HANDSHAKE, EncryptionLevel.APPLICATION
C_PARAMS, S_PARAMS = b"\x01\x02client", b"\x01\x02server"


# -- RFC 9001 Appendix A ------------------------------------------------------------------

def test_initial_secrets_and_keys_rfc9001_a1() -> None:
    client, server = initial_secrets(bytes.fromhex("8394c8f03e515708"))
    assert client.hex() == "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea"
    assert server.hex() == "3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b"
    suite = CipherSuite.TLS_AES_128_GCM_SHA256
    assert packet_keys(suite, client) == (
        bytes.fromhex("1f369613dd76d5467730efcbe3b1a22d"),
        bytes.fromhex("fa044b2f42a3fd3b46fb255c"),
        bytes.fromhex("9f50449e04a0e810283a1e9933adedd2"))
    assert packet_keys(suite, server) == (
        bytes.fromhex("cf3a5331653c364c88f0f379b6067e37"),
        bytes.fromhex("0ac1493ca1905853b0bba03e"),
        bytes.fromhex("c206b8d9b9f0f37644430b490eeaa314"))


def test_initial_keys_quic_v2_rfc9369_a1() -> None:
    """QUIC version 2: another salt, "quicv2 " labels (RFC 9369 Appendix A.1)."""
    client, server = initial_secrets(bytes.fromhex("8394c8f03e515708"), QUIC_V2)
    assert client.hex() == "14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b"
    assert server.hex() == "0263db1782731bf4588e7e4d93b7463907cb8cd8200b5da55a8bd488eafc37c1"
    suite = CipherSuite.TLS_AES_128_GCM_SHA256
    assert packet_keys(suite, client, QUIC_V2) == (
        bytes.fromhex("8b1a0bc121284290a29e0971b5cd045d"),
        bytes.fromhex("91f73e2351d8fa91660e909f"),
        bytes.fromhex("45b95e15235d6f45a6b19cbcb0294ba9"))
    assert packet_keys(suite, server, QUIC_V2) == (
        bytes.fromhex("82db637861d55e1d011f19ea71d5d2a7"),
        bytes.fromhex("dd13c276499c0249d3310652"),
        bytes.fromhex("edf6d05c83121201b436e16877593c3a"))
    assert next_secret(suite, client, QUIC_V2) != next_secret(suite, client)
    with pytest.raises(ValueError, match="0xff00001d"):
        initial_secrets(b"\x00" * 8, 0xFF00001D)


def test_chacha20_keys_and_key_update_rfc9001_a5() -> None:
    suite = SUITES[CipherSuite.TLS_CHACHA20_POLY1305_SHA256]
    secret = bytes.fromhex("9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b")
    keys = packet_keys(suite, secret)
    assert keys.key.hex() == "c6d98ff3441c3fe1b2182094f69caa2ed4b716b65488960a7a984979fb23e1c8"
    assert keys.iv.hex() == "e0459b3474bdd0e44a41c144"
    assert keys.hp.hex() == "25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4"
    assert next_secret(suite, secret).hex() == \
        "1223504755036d556342ee9361d253421a826c9ecdf3c7148684b36b714881f9"


@pytest.mark.parametrize(("suite", "hp", "sample", "mask"), [
    # RFC 9001 A.2 (the client Initial), A.3 (the server Initial), A.5 (ChaCha20)
    (CipherSuite.TLS_AES_128_GCM_SHA256, "9f50449e04a0e810283a1e9933adedd2",
     "d1b1c98dd7689fb8ec11d242b123dc9b", "437b9aec36"),
    (CipherSuite.TLS_AES_128_GCM_SHA256, "c206b8d9b9f0f37644430b490eeaa314",
     "2cd0991cd25b0aac406a5816b6394100", "2ec0d8356a"),
    (CipherSuite.TLS_CHACHA20_POLY1305_SHA256,
     "25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4",
     "5e5cd55c41f69080575d7999c25a5bfb", "aefefe7d03"),
])
def test_header_protection_mask_rfc9001(suite: CipherSuite, hp: str, sample: str,
                                        mask: str) -> None:
    got = header_protection_mask(suite, bytes.fromhex(hp), bytes.fromhex(sample))
    assert got.hex() == mask


def test_header_protection_sample_is_16_bytes() -> None:
    with pytest.raises(ValueError, match="16 bytes, not 15"):
        header_protection_mask(CipherSuite.TLS_AES_128_GCM_SHA256, bytes(16), bytes(15))


def test_header_protection_key_is_the_suites_length() -> None:
    """AES-256-GCM's hp key is 32 bytes: a 16-byte one (AES-128's) would give a mask the
    peer never computes, so it is refused, as is a short ChaCha20 key, by name."""
    with pytest.raises(ValueError, match="of TLS_AES_256_GCM_SHA384 is 32 bytes, not 16"):
        header_protection_mask(CipherSuite.TLS_AES_256_GCM_SHA384, bytes(16), bytes(16))
    with pytest.raises(ValueError, match="of TLS_AES_128_GCM_SHA256 is 16 bytes, not 32"):
        header_protection_mask(CipherSuite.TLS_AES_128_GCM_SHA256, bytes(32), bytes(16))
    with pytest.raises(ValueError, match="of TLS_CHACHA20_POLY1305_SHA256 is 32 bytes, not 16"):
        header_protection_mask(CipherSuite.TLS_CHACHA20_POLY1305_SHA256, bytes(16), bytes(16))
    keys = packet_keys(CipherSuite.TLS_AES_256_GCM_SHA384, bytes(48))
    assert len(header_protection_mask(CipherSuite.TLS_AES_256_GCM_SHA384, keys.hp,
                                      bytes(16))) == 5


def test_an_unknown_suite_is_a_value_error() -> None:
    """A TLS 1.2 suite (or any code not TLS 1.3's) is the caller's mistake, said as for a
    bad version: ValueError naming it, not a KeyError from a lookup table."""
    for derive in (lambda: header_protection_mask(0xC02F, bytes(16), bytes(16)),
                   lambda: packet_keys(0xC02F, bytes(32)), lambda: next_secret(0x9999, bytes(32))):
        with pytest.raises(ValueError, match=r"is not a TLS 1\.3 suite tlskit derives QUIC keys"):
            derive()


@pytest.mark.parametrize(("version", "packet"), [
    # RFC 9001 A.4 and RFC 9369 A.4: a Retry answering DCID 8394c8f03e515708
    (QUIC_V1, "ff000000010008f067a5502a4262b5746f6b656e04a265ba2eff4d829058fb3f0f2496ba"),
    (QUIC_V2, "cf6b3343cf0008f067a5502a4262b5746f6b656ec8646ce8bfe33952d955543665dcc7b6"),
])
def test_retry_integrity_tag(version: int, packet: str) -> None:
    retry = bytes.fromhex(packet)
    odcid = bytes.fromhex("8394c8f03e515708")
    assert retry_integrity_tag(odcid, retry[:-16], version) == retry[-16:]
    assert retry_integrity_tag(odcid[:-1], retry[:-16], version) != retry[-16:]
    with pytest.raises(ValueError, match="at most 20 bytes"):
        retry_integrity_tag(bytes(21), retry[:-16], version)
    with pytest.raises(ValueError, match="0x00000002"):
        retry_integrity_tag(odcid, retry[:-16], 2)


# -- in memory --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pki() -> tuple[LocalCA, Any]:
    ca = LocalCA.create(directory=None)
    return ca, ca.issue_server(["localhost"], key_type="ec256")


def client(pki: tuple[LocalCA, Any], **kw: Any) -> QuicClientConnection:
    session = kw.pop("session", None)
    early_data = kw.pop("early_data", False)
    kw.setdefault("alpn_protocols", ["h3"])
    return QuicClientConnection(ClientConfig(trust_anchors=[pki[0].root], **kw), "localhost",
                                transport_parameters=C_PARAMS, session=session,
                                early_data=early_data)


def server_config(pki: tuple[LocalCA, Any], **kw: Any) -> ServerConfig:
    kw.setdefault("alpn_protocols", ["h3"])
    return ServerConfig(certificate_chain=pki[1].chain, private_key=pki[1].private_key, **kw)


def server(pki: tuple[LocalCA, Any], **kw: Any) -> QuicServerConnection:
    return QuicServerConnection(server_config(pki, **kw), transport_parameters=S_PARAMS)


def flight(sender: QuicConnection, receiver: QuicConnection) -> tuple[list[Any], list[Any]]:
    """One flight: what `sender` had queued (by level) and the events it caused."""
    sent = sender.data_to_send()
    events: list[Any] = []
    for level, data in sent:
        events += receiver.receive_data(level, data)
    return sent, events


def handshake(c: QuicConnection, s: QuicConnection) -> tuple[list[Any], list[Any]]:
    c_events: list[Any] = []
    s_events: list[Any] = []
    for _ in range(6):
        _, got = flight(c, s)
        s_events += got
        _, got = flight(s, c)
        c_events += got
    return c_events, s_events


def secrets(events: list[Any]) -> dict[tuple[EncryptionLevel, str], bytes]:
    return {(e.level, e.direction): e.secret for e in events if isinstance(e, SecretInstalled)}


def mirrored(events: list[Any]) -> dict[tuple[EncryptionLevel, str], bytes]:
    flip = {"read": "write", "write": "read"}
    return {(level, flip[d]): s for (level, d), s in secrets(events).items()}


def test_levels_secrets_and_parameters(pki: tuple[LocalCA, Any]) -> None:
    c, s = client(pki), server(pki)
    sent, s_events = flight(c, s)
    assert [(lvl, d[0]) for lvl, d in sent] == [(INI, 1)]  # ClientHello
    ch = sent[0][1]
    assert ch[4 + 2 + 32] == 0  # legacy_session_id is empty (8.4)
    assert s_events[0] == TransportParametersReceived(C_PARAMS)
    sent, c_events = flight(s, c)
    assert [(lvl, d[0]) for lvl, d in sent] == [(INI, 2), (H, 8)]  # SH; EE ... Finished
    assert TransportParametersReceived(S_PARAMS) in c_events
    assert c.peer_transport_parameters == S_PARAMS
    assert s.peer_transport_parameters == C_PARAMS
    assert s.write_level is A and s.read_level is H
    sent, more = flight(c, s)
    s_events += more
    assert [(lvl, d[0]) for lvl, d in sent] == [(H, 20)]  # the client Finished
    sent, more = flight(s, c)
    c_events += more
    assert [(lvl, d[0]) for lvl, d in sent] == [(A, 4), ]  # the tickets, at 1-RTT
    for conn in (c, s):
        assert conn.read_level is A and conn.write_level is A
        assert conn.alpn_protocol == "h3"
    assert sorted(secrets(c_events)) == [(H, "read"), (H, "write"), (A, "read"), (A, "write")]
    assert secrets(c_events) == mirrored(s_events)
    assert {e.cipher_suite for e in c_events if isinstance(e, SecretInstalled)} == {
        CipherSuite.TLS_AES_128_GCM_SHA256}
    assert c.handshake_complete is not None and s.handshake_complete is not None
    assert c.export_keying_material(b"x", b"", 16) == s.export_keying_material(b"x", b"", 16)
    assert len([e for e in c_events if isinstance(e, SessionTicketReceived)]) == 2


def test_hello_retry_request(pki: tuple[LocalCA, Any]) -> None:
    """The client shares x25519 only; the server takes secp256r1 alone: a retry, at the
    Initial level, before any secret."""
    c = client(pki, groups=["x25519", "secp256r1"], key_share_groups=["x25519"])
    s = server(pki, groups=["secp256r1"])
    flight(c, s)
    sent, c_events = flight(s, c)
    assert [lvl for lvl, _ in sent] == [INI] and c_events == []
    assert sent[0][1][6:38] == bytes.fromhex(
        "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")  # HRR random
    c_events, s_events = handshake(c, s)
    assert c.handshake_complete is not None and c.handshake_complete.group.name == "secp256r1"
    assert secrets(c_events) == mirrored(s_events)
    assert len(secrets(c_events)) == 4


def test_resumption(pki: tuple[LocalCA, Any]) -> None:
    config = server_config(pki, session_tickets=1)
    c = client(pki)
    c_events, _ = handshake(c, QuicServerConnection(config, transport_parameters=S_PARAMS))
    ticket = next(e for e in c_events if isinstance(e, SessionTicketReceived))
    assert ticket.session is not None and ticket.session.max_early_data == 0
    again = client(pki, session=ticket.session)
    s = QuicServerConnection(config, transport_parameters=S_PARAMS)
    c_events, s_events = handshake(again, s)
    for conn in (again, s):
        assert conn.handshake_complete is not None and conn.handshake_complete.resumed
    assert secrets(c_events) == mirrored(s_events)


def test_no_0rtt_unless_the_server_allows_it(pki: tuple[LocalCA, Any]) -> None:
    """A server without max_early_data_size issues tickets without early_data; a client
    asked for 0-RTT then offers none."""
    config = server_config(pki, session_tickets=1)
    c = client(pki)
    c_events, _ = handshake(c, QuicServerConnection(config, transport_parameters=S_PARAMS))
    ticket = next(e for e in c_events if isinstance(e, SessionTicketReceived))
    assert ticket.session is not None and ticket.session.max_early_data == 0
    again = client(pki, session=ticket.session, early_data=True)
    assert not again.early_data_offered and again.take_events() == []
    hello = again.data_to_send()[0][1]
    assert b"\x00\x2a\x00\x00" not in hello  # no empty early_data extension


def zero_rtt_session(pki: tuple[LocalCA, Any], config: ServerConfig) -> Any:
    c = client(pki)
    c_events, _ = handshake(c, QuicServerConnection(config, transport_parameters=S_PARAMS))
    ticket = next(e for e in c_events if isinstance(e, SessionTicketReceived))
    assert ticket.session is not None
    assert ticket.session.max_early_data == 0xFFFFFFFF  # 4.6.1, whatever the config says
    return ticket.session


def test_0rtt_accepted(pki: tuple[LocalCA, Any]) -> None:
    """The client's 0-RTT write secret is reported when it is created, the server's read
    secret when it takes the hello; both at EARLY, equal; no EndOfEarlyData: the
    client's Handshake-level flight is its Finished alone."""
    config = server_config(pki, session_tickets=1, max_early_data_size=1000)
    session = zero_rtt_session(pki, config)
    c = client(pki, session=session, early_data=True)
    assert c.early_data_offered
    [early_write] = c.take_events()
    assert (early_write.level, early_write.direction) == (EncryptionLevel.EARLY, "write")
    s = QuicServerConnection(config, transport_parameters=S_PARAMS)
    _, s_events = flight(c, s)
    early_read = [e for e in s_events if isinstance(e, SecretInstalled)
                  and e.level is EncryptionLevel.EARLY]
    assert [(e.direction, e.secret) for e in early_read] == [("read", early_write.secret)]
    _, c_events = flight(s, c)
    sent, more = flight(c, s)
    s_events += more
    assert [(lvl, d[0], len(d)) for lvl, d in sent] == [(H, 20, 4 + 32)]  # Finished only
    more_c, more_s = handshake(c, s)
    c_events += more_c
    s_events += more_s
    for conn in (c, s):
        assert conn.handshake_complete is not None
        assert conn.handshake_complete.resumed and conn.handshake_complete.early_data_accepted
    assert secrets([early_write, *c_events]) == mirrored(s_events)
    assert len(secrets(c_events)) == 4
    assert not any(isinstance(e, EarlyDataRejected) for e in c_events)


def test_0rtt_replayed_ticket_is_declined(pki: tuple[LocalCA, Any]) -> None:
    """8.1 of RFC 8446 through the replay cache: a ticket's second 0-RTT is declined; the
    handshake resumes without it and no EARLY read secret is installed."""
    config = server_config(pki, session_tickets=1, max_early_data_size=1000)
    session = zero_rtt_session(pki, config)
    first = client(pki, session=session, early_data=True)
    handshake(first, QuicServerConnection(config, transport_parameters=S_PARAMS))
    assert first.handshake_complete is not None
    assert first.handshake_complete.early_data_accepted
    again = client(pki, session=session, early_data=True)
    assert again.early_data_offered
    assert [(e.level, e.direction) for e in again.take_events()] == [
        (EncryptionLevel.EARLY, "write")]
    s = QuicServerConnection(config, transport_parameters=S_PARAMS)
    c_events, s_events = handshake(again, s)
    assert again.handshake_complete is not None and s.handshake_complete is not None
    assert again.handshake_complete.resumed
    assert not again.handshake_complete.early_data_accepted
    assert not s.handshake_complete.early_data_accepted
    assert all(e.level is not EncryptionLevel.EARLY for e in s_events
               if isinstance(e, SecretInstalled))
    assert secrets(c_events) == mirrored(s_events)
    # The client is told once, before its 1-RTT secrets (Go's QUICRejectedEarlyData):
    kinds = [type(e).__name__ if not isinstance(e, SecretInstalled) else e.level.name
             for e in c_events]
    assert kinds.count("EarlyDataRejected") == 1
    assert kinds.index("EarlyDataRejected") < kinds.index("APPLICATION")


def test_0rtt_after_hello_retry_request_is_declined(pki: tuple[LocalCA, Any]) -> None:
    """4.2.10 of RFC 8446: a retry declines 0-RTT; the second hello goes at the Initial
    level and offers no early data."""
    config = server_config(pki, session_tickets=1, max_early_data_size=1000,
                           groups=["x25519", "secp256r1"])
    session = zero_rtt_session(pki, config)
    c = client(pki, session=session, early_data=True, groups=["secp256r1", "x25519"],
               key_share_groups=["secp256r1"])
    c.take_events()
    s = QuicServerConnection(server_config(pki, session_tickets=1, max_early_data_size=1000,
                                           groups=["x25519"]),
                             transport_parameters=S_PARAMS)
    flight(c, s)
    sent, c_events = flight(s, c)
    assert [lvl for lvl, _ in sent] == [INI]  # the HelloRetryRequest
    assert c_events == [EarlyDataRejected()]  # known now: stop sending 0-RTT
    sent, _ = flight(c, s)
    assert [lvl for lvl, _ in sent] == [INI]
    assert b"\x00\x2a\x00\x00" not in sent[0][1]
    c_events, _ = handshake(c, s)
    assert c.handshake_complete is not None
    assert not c.handshake_complete.early_data_accepted
    assert not any(isinstance(e, EarlyDataRejected) for e in c_events)  # (told once)


# -- failures -----------------------------------------------------------------------------

def raises(conn: QuicConnection, level: EncryptionLevel, data: bytes,
           alert: AlertDescription, words: str = "") -> TLSError:
    with pytest.raises(TLSError) as info:
        conn.receive_data(level, data)
    exc = info.value
    assert exc.alert == alert
    assert exc.quic_error_code == 0x100 + alert == error_code(exc)
    assert words in str(exc)
    assert conn.data_to_send() == []
    with pytest.raises(TLSError) as again:  # the connection stays failed
        conn.receive_data(level, b"")
    assert again.value is exc
    return exc


def established(pki: tuple[LocalCA, Any]) -> tuple[QuicClientConnection,
                                                     QuicServerConnection]:
    c, s = client(pki), server(pki)
    handshake(c, s)
    assert c.handshake_complete is not None and s.handshake_complete is not None
    return c, s


KEY_UPDATE = b"\x18\x00\x00\x01\x00"
END_OF_EARLY_DATA = b"\x05\x00\x00\x00"
CCS_RECORD = b"\x14\x03\x03\x00\x01\x01"  # what a TCP peer sends as change_cipher_spec


def test_key_update_is_unexpected(pki: tuple[LocalCA, Any]) -> None:
    c, s = established(pki)
    raises(c, A, KEY_UPDATE, AlertDescription.unexpected_message, "RFC 9001 6")
    raises(s, A, KEY_UPDATE, AlertDescription.unexpected_message, "RFC 9001 6")


def test_end_of_early_data_is_unexpected(pki: tuple[LocalCA, Any]) -> None:
    c, s = client(pki), server(pki)
    flight(c, s)
    flight(s, c)
    raises(s, H, END_OF_EARLY_DATA, AlertDescription.unexpected_message, "EndOfEarlyData")


@pytest.mark.parametrize("side", ["client", "server"])
def test_change_cipher_spec_is_unexpected(pki: tuple[LocalCA, Any], side: str) -> None:
    c, s = client(pki), server(pki)
    if side == "client":
        flight(c, s)
        raises(c, INI, CCS_RECORD, AlertDescription.unexpected_message, "finished")
    else:
        raises(s, INI, CCS_RECORD, AlertDescription.unexpected_message, "finished")


def test_data_at_the_wrong_level(pki: tuple[LocalCA, Any]) -> None:
    c, s = client(pki), server(pki)
    hello = c.data_to_send()[0][1]
    raises(s, H, hello, AlertDescription.unexpected_message, "HANDSHAKE level")
    s = server(pki)
    s.receive_data(INI, hello)
    _, (_, rest) = s.data_to_send()
    raises(c, INI, rest, AlertDescription.unexpected_message,
           "encrypted_extensions is not expected at the INITIAL level")
    c = client(pki)
    raises(c, A, b"", AlertDescription.unexpected_message, "APPLICATION level")


@pytest.mark.parametrize("side", ["client", "server"])
@pytest.mark.parametrize("when", ["first", "after the hello"])
def test_handshake_data_at_the_early_level_is_a_protocol_violation(
        pki: tuple[LocalCA, Any], side: str, when: str) -> None:
    """RFC 9001 8.3, RFC 9000 12.5: CRYPTO frames never travel in 0-RTT packets, so
    handshake bytes handed over at EARLY are PROTOCOL_VIOLATION (0x0a), not a
    CRYPTO_ERROR; the connection stays failed."""
    c, s = client(pki), server(pki)
    hello = c.data_to_send()[0][1]
    if when != "first":
        s.receive_data(INI, hello)
        c.receive_data(INI, s.data_to_send()[0][1])
    conn = c if side == "client" else s
    with pytest.raises(QuicProtocolViolation, match="0-RTT packet") as info:
        conn.receive_data(EncryptionLevel.EARLY, hello if when == "first" else b"")
    assert info.value.quic_error_code == 0x0A == error_code(info.value)
    assert conn.data_to_send() == []
    with pytest.raises(QuicProtocolViolation) as again:
        conn.receive_data(INI, b"")
    assert again.value is info.value


def test_a_failed_connection_raises_the_same_error_without_growing_it(
        pki: tuple[LocalCA, Any]) -> None:
    """Late packets keep coming after a failure: each receive_data raises the first
    error again, and its traceback stays as long as it was (a re-raised exception object
    otherwise gains frames on every raise)."""
    c, _ = established(pki)
    exc = raises(c, A, KEY_UPDATE, AlertDescription.unexpected_message)

    def depth() -> int:
        with pytest.raises(TLSError) as info:
            c.receive_data(A, b"\x04")
        assert info.value is exc
        tb, n = info.value.__traceback__, 0
        while tb is not None:
            tb, n = tb.tb_next, n + 1
        return n

    first = depth()
    for _ in range(20):
        assert depth() == first


def test_data_left_at_a_level_after_its_keys_changed(pki: tuple[LocalCA, Any]) -> None:
    """A second message type the level allows, after the ServerHello moved reading on."""
    c, s = client(pki), server(pki)
    s.receive_data(INI, c.data_to_send()[0][1])
    (_, sh), _ = s.data_to_send()
    raises(c, INI, sh + sh[:3], AlertDescription.unexpected_message, "left at the INITIAL")


def test_data_at_a_level_is_bounded(pki: tuple[LocalCA, Any]) -> None:
    s = QuicServerConnection(server_config(pki, max_handshake_message=4096),
                             transport_parameters=S_PARAMS)
    s.receive_data(INI, b"\x01\x00\x10")  # an incomplete header is kept
    raises(s, INI, b"\x01", AlertDescription.decode_error, "exceeds the 4096-byte limit")


def test_tls12_server_is_protocol_version(pki: tuple[LocalCA, Any]) -> None:
    """A TLS 1.2 ServerHello (from a TLS 1.2-only tlskit server) to a QUIC client."""
    plain_c = ClientConnection(ClientConfig(trust_anchors=[pki[0].root],
                                            versions=["TLSv1.2"]), "localhost")
    plain_s = ServerConnection(server_config(pki, versions=["TLSv1.2"]))
    plain_s.receive_data(plain_c.data_to_send())
    out = plain_s.data_to_send()
    server_hello = out[5:5 + int.from_bytes(out[3:5], "big")]  # one record per message
    assert server_hello[0] == 2
    c = client(pki)
    c.data_to_send()
    raises(c, INI, server_hello, AlertDescription.protocol_version, "TLSv1.2")


def test_tls12_client_is_protocol_version(pki: tuple[LocalCA, Any]) -> None:
    hello = handshake_messages(ClientConnection(
        ClientConfig(trust_anchors=[pki[0].root], versions=["TLSv1.2"], alpn_protocols=["h3"]),
        "localhost").data_to_send())
    raises(server(pki), INI, hello, AlertDescription.protocol_version, "TLSv1.2")


def handshake_messages(records: bytes) -> bytes:
    """The handshake bytes of plaintext records."""
    out, pos = b"", 0
    while pos < len(records):
        length = int.from_bytes(records[pos + 3:pos + 5], "big")
        if records[pos] == 22:
            out += records[pos + 5:pos + 5 + length]
        pos += 5 + length
    return out


def tcp_hello(pki: tuple[LocalCA, Any], **kw: Any) -> bytes:
    kw.setdefault("alpn_protocols", ["h3"])
    return handshake_messages(ClientConnection(ClientConfig(
        trust_anchors=[pki[0].root], versions=["TLSv1.3"], **kw), "localhost").data_to_send())


def test_legacy_session_id_is_a_protocol_violation(pki: tuple[LocalCA, Any]) -> None:
    """8.4: a TCP client in middlebox compatibility mode (a 32-byte session ID)."""
    with pytest.raises(TLSError) as info:
        server(pki).receive_data(INI, tcp_hello(pki, middlebox_compat=True))
    assert info.value.alert == AlertDescription.illegal_parameter
    assert info.value.quic_error_code == 0x0A


def test_client_hello_without_transport_parameters(pki: tuple[LocalCA, Any]) -> None:
    raises(server(pki), INI, tcp_hello(pki, middlebox_compat=False),
           AlertDescription.missing_extension, "quic_transport_parameters")


def test_client_hello_without_alpn(pki: tuple[LocalCA, Any]) -> None:
    hello = client(pki).data_to_send()[0][1]
    # The QUIC client's hello with its ALPN extension renamed to an unknown type:
    alpn = hello.index(b"\x00\x10\x00\x05\x00\x03\x02h3")
    renamed = hello[:alpn] + b"\xfa\xfa" + hello[alpn + 2:]
    raises(server(pki), INI, renamed, AlertDescription.no_application_protocol, "RFC 9001 8.1")


def test_no_common_alpn(pki: tuple[LocalCA, Any]) -> None:
    c, s = client(pki), server(pki, alpn_protocols=["hq-interop"])
    raises(s, INI, c.data_to_send()[0][1], AlertDescription.no_application_protocol)


def test_configs_quic_cannot_use(pki: tuple[LocalCA, Any]) -> None:
    with pytest.raises(UsageError, match=r"TLS 1\.3"):
        client(pki, versions=["TLSv1.2"])
    with pytest.raises(UsageError, match="ALPN"):
        client(pki, alpn_protocols=())
    with pytest.raises(UsageError, match="ALPN"):
        server(pki, alpn_protocols=())
    with pytest.raises(UsageError, match="empty"):
        QuicClientConnection(ClientConfig(trust_anchors=[pki[0].root], alpn_protocols=["h3"]),
                             "", transport_parameters=b"")


def test_a_plain_server_sends_no_transport_parameters(pki: tuple[LocalCA, Any]) -> None:
    """The server hook is off in TLS: its EncryptedExtensions carry no 0x39."""
    from tlskit.trace import TraceStep
    seen: list[Any] = []
    s = ServerConnection(server_config(pki, tracer=lambda step, f: seen.append((step, f))))
    c = ClientConnection(ClientConfig(trust_anchors=[pki[0].root], alpn_protocols=["h3"]),
                         "localhost")
    s.receive_data(c.data_to_send())
    ee = next(f["message"] for step, f in seen if step is TraceStep.ENCRYPTED_EXTENSIONS)
    assert 0x39 not in ee.extensions and 16 in ee.extensions


def test_a_finished_quic_connection_is_freed_by_reference_counting(
        pki: tuple[LocalCA, Any]) -> None:
    import gc
    import weakref
    gc.collect()
    gc.disable()
    try:
        c, s = established(pki)
        refs = [weakref.ref(c), weakref.ref(s), weakref.ref(c._hs), weakref.ref(s._hs)]
        del c, s
        assert [r() for r in refs] == [None] * 4
    finally:
        gc.enable()


def test_handshake_complete_is_the_tls_event(pki: tuple[LocalCA, Any]) -> None:
    c, s = client(pki), server(pki)
    c_events, _ = handshake(c, s)
    done = [e for e in c_events if isinstance(e, HandshakeComplete)]
    assert done == [c.handshake_complete]
    assert done[0].version == "TLSv1.3" and done[0].alpn_protocol == "h3"
    assert not done[0].early_data_accepted


# -- review fixes ---------------------------------------------------------------------------

def with_extension(hello: bytes, extension: bytes) -> bytes:
    """A ServerHello (or HelloRetryRequest) with `extension` appended to its extensions."""
    body = bytearray(hello[4:])
    at = 2 + 32 + 1 + body[2 + 32] + 2 + 1  # version, random, session ID, suite, method
    length = int.from_bytes(body[at:at + 2], "big") + len(extension)
    body[at:at + 2] = length.to_bytes(2, "big")
    body += extension
    return hello[:1] + len(body).to_bytes(3, "big") + bytes(body)


@pytest.mark.parametrize("retry", [False, True])
def test_transport_parameters_in_server_hello_are_illegal(pki: tuple[LocalCA, Any],
                                                          retry: bool) -> None:
    """8.2: quic_transport_parameters goes in EncryptedExtensions; in a ServerHello or a
    HelloRetryRequest a QUIC client recognises it as misplaced: illegal_parameter (RFC
    8446 4.2), QUIC error 0x12f."""
    if retry:
        c = client(pki, groups=["x25519", "secp256r1"], key_share_groups=["x25519"])
        s = server(pki, groups=["secp256r1"])
    else:
        c, s = client(pki), server(pki)
    flight(c, s)
    hello = s.data_to_send()[0][1]
    exc = raises(c, INI, with_extension(hello, b"\x00\x39\x00\x02\x01\x00"),
                 AlertDescription.illegal_parameter,
                 "HelloRetryRequest" if retry else "ServerHello")
    assert exc.quic_error_code == 0x12F


def test_receive_data_at_no_level_is_a_usage_error(pki: tuple[LocalCA, Any]) -> None:
    """A level that is not an EncryptionLevel is the caller's mistake: UsageError, not an
    internal_error, and the connection goes on."""
    c, s = client(pki), server(pki)
    with pytest.raises(UsageError, match="not an EncryptionLevel"):
        s.receive_data(7, c.data_to_send()[0][1])
    c2 = client(pki)
    s.receive_data(INI, c2.data_to_send()[0][1])
    handshake(c2, s)
    assert s.handshake_complete is not None


def tls_ticket(pki: tuple[LocalCA, Any], config: ServerConfig) -> Any:
    """A session from a TLS-over-TCP handshake with `config`."""
    c = ClientConnection(ClientConfig(trust_anchors=[pki[0].root], alpn_protocols=["h3"]),
                         "localhost")
    s = ServerConnection(config)
    session = None
    for _ in range(4):
        s.receive_data(c.data_to_send())
        for event in c.receive_data(s.data_to_send()):
            if isinstance(event, SessionTicketReceived):
                session = event.session
    assert session is not None
    return session


def tls_resumption(pki: tuple[LocalCA, Any], config: ServerConfig, session: Any,
                   client_config: ClientConfig | None = None) -> bool:
    """Whether a TLS-over-TCP handshake with `config` resumed, given `session`."""
    if client_config is None:
        client_config = ClientConfig(trust_anchors=[pki[0].root], alpn_protocols=["h3"])
    tc = ClientConnection(client_config, "localhost", session=session)
    ts = ServerConnection(config)
    for _ in range(4):
        ts.receive_data(tc.data_to_send())
        tc.receive_data(ts.data_to_send())
    assert ts.handshake_complete is not None
    return ts.handshake_complete.resumed


def test_tls_and_quic_tickets_do_not_cross(pki: tuple[LocalCA, Any]) -> None:
    """One ServerConfig (one ticket key) serving TCP and QUIC: a TLS ticket carries no
    QUIC state (no transport parameters remembered, a 0-RTT limit in TLS bytes; RFC 9001
    4.6.1-4.6.2) and a QUIC ticket allows 0xffffffff bytes of 0-RTT; neither resumes the
    other (a full handshake), while each still resumes its own protocol."""
    config = server_config(pki, session_tickets=1, ticket_key=bytes(range(32)),
                           max_early_data_size=1000)
    session = tls_ticket(pki, config)
    c = client(pki, session=session)
    s = QuicServerConnection(config, transport_parameters=S_PARAMS)
    handshake(c, s)
    assert s.handshake_complete is not None and not s.handshake_complete.resumed
    quic_session = zero_rtt_session(pki, config)
    assert tls_resumption(pki, config, quic_session) is False
    again = client(pki, session=quic_session)
    s = QuicServerConnection(config, transport_parameters=S_PARAMS)
    handshake(again, s)
    assert s.handshake_complete is not None and s.handshake_complete.resumed


@pytest.mark.parametrize("params", [5, None, "\x01\x02"])
def test_transport_parameters_must_be_bytes(pki: tuple[LocalCA, Any], params: Any) -> None:
    """bytes(5) is five zero bytes: an int (a length? a count?) would have gone out as
    transport parameters; each wrong type says what is wanted instead."""
    with pytest.raises(TypeError, match="encoded QUIC transport parameters"):
        QuicClientConnection(ClientConfig(trust_anchors=[pki[0].root], alpn_protocols=["h3"]),
                             "localhost", transport_parameters=params)
    with pytest.raises(TypeError, match="encoded QUIC transport parameters"):
        QuicServerConnection(server_config(pki), transport_parameters=params)
    assert QuicServerConnection(server_config(pki), transport_parameters=bytearray(b"\x01"))


def test_transport_parameters_longer_than_their_extension(pki: tuple[LocalCA, Any]) -> None:
    """quic_transport_parameters is one extension (at most 65535 bytes): more is refused
    where it is given (ValueError), or, made by the server's callable, is the
    application's bug (internal_error), not a struct.error from the encoder."""
    huge = bytes(0x10000)
    with pytest.raises(ValueError, match="65536 bytes of transport parameters, more than"):
        QuicClientConnection(ClientConfig(trust_anchors=[pki[0].root], alpn_protocols=["h3"]),
                             "localhost", transport_parameters=huge)
    with pytest.raises(ValueError, match="65536 bytes of transport parameters, more than"):
        QuicServerConnection(server_config(pki), transport_parameters=huge)
    exc = refused_by(pki, lambda client_params: huge)
    assert exc.alert == AlertDescription.internal_error and exc.quic_error_code == 0x150
    assert isinstance(exc.__cause__, ValueError)
    assert str(exc) == ("the transport_parameters callable returned 65536 bytes of transport "
                        "parameters, more than the quic_transport_parameters extension holds "
                        "(65535)")


def test_external_psk_without_a_server_name() -> None:
    """As `ClientConnection`: a client with external PSKs may dial no name (a certificate
    it could not check is refused by the handshake); the PSK authenticates both sides."""
    from tlskit import ExternalPsk
    psk = ExternalPsk(b"sensor-7", bytes(range(32)))
    c = QuicClientConnection(ClientConfig(external_psks=[psk], alpn_protocols=["h3"]), None,
                             transport_parameters=C_PARAMS)
    s = QuicServerConnection(ServerConfig(external_psks=[psk], alpn_protocols=["h3"]),
                             transport_parameters=S_PARAMS)
    c_events, s_events = handshake(c, s)
    for conn in (c, s):
        assert conn.handshake_complete is not None
        assert conn.handshake_complete.external_psk_identity == b"sensor-7"
    assert secrets(c_events) == mirrored(s_events)
    assert c.peer_transport_parameters == S_PARAMS and s.peer_transport_parameters == C_PARAMS


def test_early_data_context_decides_0rtt(pki: tuple[LocalCA, Any]) -> None:
    """RFC 9001 4.6.2 / RFC 9000 7.4.1: the server's tickets carry a digest of its
    early_data_context (say, the 0-RTT limits of its transport parameters); a later
    connection with another context declines 0-RTT but resumes, and the decline does
    not spend the ticket's one 0-RTT: with the first context again it is accepted."""
    config = server_config(pki, session_tickets=1, max_early_data_size=1000)
    c = client(pki)
    c_events, _ = handshake(c, QuicServerConnection(config, transport_parameters=S_PARAMS,
                                                    early_data_context=b"max_data=1M"))
    session = next(e.session for e in c_events if isinstance(e, SessionTicketReceived))

    def resume(context: bytes) -> tuple[Any, Any]:
        again = client(pki, session=session, early_data=True)
        assert again.early_data_offered
        s = QuicServerConnection(config, transport_parameters=S_PARAMS,
                                 early_data_context=context)
        _, s_events = handshake(again, s)
        assert s.handshake_complete is not None and s.handshake_complete.resumed
        early = [e for e in s_events if isinstance(e, SecretInstalled)
                 and e.level is EncryptionLevel.EARLY]
        return s.handshake_complete.early_data_accepted, early

    assert resume(b"max_data=64K") == (False, [])  # limits lowered since: declined
    assert resume(b"") == (False, [])
    accepted, early = resume(b"max_data=1M")
    assert accepted and len(early) == 1
    with pytest.raises(TypeError, match="early_data_context takes bytes"):
        QuicServerConnection(config, transport_parameters=S_PARAMS,
                             early_data_context="max_data=1M")  # type: ignore[arg-type]


def test_a_ticket_without_early_data_context_reads_as_before() -> None:
    """The context is an optional last field under its own flag bit: tickets without it
    are byte for byte what they were (so those already issued still decode), one with it
    round-trips, and an explicitly empty one is refused (never written)."""
    from tlskit.session import TicketState, decode_state, encode_state
    state = TicketState(SUITES[CipherSuite.TLS_AES_128_GCM_SHA256], b"k" * 32, 5, 60, "h3",
                        "a.test", bytes(32), [], max_early_data=0xFFFFFFFF, age_add=7)
    plain = encode_state(state)
    assert plain.endswith((0xFFFFFFFF).to_bytes(4, "big") + (7).to_bytes(4, "big"))
    assert decode_state(plain) == state
    with_context = TicketState(*[getattr(state, f) for f in (
        "suite", "psk", "issued_ms", "lifetime", "alpn_protocol", "server_name", "context",
        "client_chain")], max_early_data=0xFFFFFFFF, age_add=7, early_data_context=b"d" * 32)
    flagged = plain[:1] + bytes([plain[1] | 8]) + plain[2:]  # (byte 1: the flags)
    assert encode_state(with_context) == flagged + b"\x20" + b"d" * 32
    assert decode_state(encode_state(with_context)) == with_context
    assert decode_state(plain + b"\x20" + b"d" * 32) is None  # no flag: trailing bytes
    assert decode_state(flagged + b"\x00") is None
    assert decode_state(flagged + b"\x20" + b"d" * 31) is None


# -- transport parameters chosen per client ---------------------------------------------------

def test_server_chooses_transport_parameters_per_client(pki: tuple[LocalCA, Any]) -> None:
    """Go's QUICTransportParametersRequired: the callable sees the client's parameters
    (those of the second hello, after a HelloRetryRequest), once, and what it returns is
    what the client receives."""
    seen: list[bytes] = []

    def choose(client_params: bytes) -> bytes:
        seen.append(client_params)
        return S_PARAMS + b"\x0f" + bytes([len(client_params)]) + client_params

    c = client(pki, groups=["x25519", "secp256r1"], key_share_groups=["x25519"])
    s = QuicServerConnection(server_config(pki, groups=["secp256r1"]),
                             transport_parameters=choose)
    flight(c, s)
    sent, _ = flight(s, c)
    assert [lvl for lvl, _ in sent] == [INI] and seen == []  # a retry: nothing chosen yet
    c_events, s_events = handshake(c, s)
    assert seen == [C_PARAMS]
    chosen = S_PARAMS + b"\x0f\x08" + C_PARAMS
    assert c.peer_transport_parameters == chosen
    assert [e.data for e in c_events if isinstance(e, TransportParametersReceived)] == [chosen]
    assert s.peer_transport_parameters == C_PARAMS
    assert secrets(c_events) == mirrored(s_events)


def refused_by(pki: tuple[LocalCA, Any], choose: Any) -> TLSError:
    """The server's failure when its callable is `choose`; nothing goes to the client."""
    c = client(pki)
    s = QuicServerConnection(server_config(pki), transport_parameters=choose)
    with pytest.raises(TLSError) as info:
        s.receive_data(INI, c.data_to_send()[0][1])
    assert s.data_to_send() == []
    with pytest.raises(TLSError) as again:
        s.receive_data(INI, b"")
    assert again.value is info.value
    return info.value


def test_a_callable_that_raises_is_a_transport_parameter_error(
        pki: tuple[LocalCA, Any]) -> None:
    """RFC 9000 7.4: parameters refused are TRANSPORT_PARAMETER_ERROR (0x08), not a
    TLS alert's CRYPTO_ERROR; what the callable raised is the cause."""
    def choose(client_params: bytes) -> bytes:
        raise ValueError("original_destination_connection_id from a client")

    exc = refused_by(pki, choose)
    assert isinstance(exc, QuicTransportParameterError)
    assert exc.quic_error_code == 0x08 == error_code(exc)
    assert exc.alert == AlertDescription.illegal_parameter
    assert str(exc) == ("the transport_parameters callable refused the client's transport "
                        "parameters: ValueError: original_destination_connection_id from "
                        "a client")
    assert isinstance(exc.__cause__, ValueError)


def test_a_tls_error_from_the_callable_goes_through(pki: tuple[LocalCA, Any]) -> None:
    refusal = QuicProtocolViolation("initial_source_connection_id missing")

    def choose(client_params: bytes) -> bytes:
        raise refusal

    exc = refused_by(pki, choose)
    assert exc is refusal and exc.quic_error_code == 0x0A


@pytest.mark.parametrize("result", [None, "\x01\x02", 5])
def test_a_callable_returning_no_bytes_is_an_internal_error(pki: tuple[LocalCA, Any],
                                                            result: Any) -> None:
    """The application's bug, not the client's: internal_error (0x150), from a
    TypeError naming what came back."""
    exc = refused_by(pki, lambda client_params: result)
    assert exc.alert == AlertDescription.internal_error and exc.quic_error_code == 0x150
    assert isinstance(exc.__cause__, TypeError)
    assert str(exc) == (f"the transport_parameters callable returned {type(result).__name__}"
                        ", not bytes (the server's encoded transport parameters)")


# -- tickets on demand ---------------------------------------------------------------------

def test_tickets_on_demand(pki: tuple[LocalCA, Any]) -> None:
    """automatic_tickets=False: none when the handshake ends; each send_session_ticket()
    queues one at the 1-RTT level, allowing 0-RTT (0xffffffff) or not as asked, with
    its own nonce (so its own PSK); the one that allows 0-RTT resumes with it."""
    config = server_config(pki, session_tickets=1, max_early_data_size=1000)
    c = client(pki)
    s = QuicServerConnection(config, transport_parameters=S_PARAMS, automatic_tickets=False)
    with pytest.raises(UsageError, match="the handshake is not complete"):
        s.send_session_ticket()
    c_events, _ = handshake(c, s)
    assert s.handshake_complete is not None and s.data_to_send() == []
    assert not any(isinstance(e, SessionTicketReceived) for e in c_events)
    assert s.send_session_ticket() is True
    assert s.send_session_ticket(early_data=False) is True
    assert s.send_session_ticket(early_data=True) is True
    sent, c_events = flight(s, c)
    assert [(lvl, d[0]) for lvl, d in sent] == [(A, 4)]
    sessions = [e.session for e in c_events if isinstance(e, SessionTicketReceived)]
    assert [x.max_early_data for x in sessions] == [0xFFFFFFFF, 0, 0xFFFFFFFF]
    assert len({x.psk for x in sessions}) == 3
    assert not client(pki, session=sessions[1], early_data=True).early_data_offered
    again = client(pki, session=sessions[2], early_data=True)
    assert again.early_data_offered
    s2 = QuicServerConnection(config, transport_parameters=S_PARAMS, automatic_tickets=False)
    handshake(again, s2)
    assert s2.handshake_complete is not None and s2.handshake_complete.resumed
    assert s2.handshake_complete.early_data_accepted
    assert s2.data_to_send() == []


def test_tickets_on_demand_after_the_automatic_ones(pki: tuple[LocalCA, Any]) -> None:
    """The nonces go on from the automatic tickets' (RFC 8446 4.6.1: unique on the
    connection), so no two tickets share a PSK; a server without 0-RTT sends tickets
    without early_data by default."""
    c, s = client(pki), server(pki)
    c_events, _ = handshake(c, s)
    s.send_session_ticket()
    _, more = flight(s, c)
    sessions = [e.session for e in c_events + more if isinstance(e, SessionTicketReceived)]
    assert len(sessions) == 3 and len({x.psk for x in sessions}) == 3
    assert [x.max_early_data for x in sessions] == [0, 0, 0]


def test_the_configs_automatic_tickets_false_holds_for_quic(pki: tuple[LocalCA, Any]) -> None:
    """ServerConfig(automatic_tickets=False) is the same choice as the connection's
    argument: no ticket when the handshake ends, one per send_session_ticket()."""
    c = client(pki)
    s = QuicServerConnection(server_config(pki, automatic_tickets=False),
                             transport_parameters=S_PARAMS)
    c_events, _ = handshake(c, s)
    assert not any(isinstance(e, SessionTicketReceived) for e in c_events)
    assert s.send_session_ticket() is True
    _, more = flight(s, c)
    assert len([e for e in more if isinstance(e, SessionTicketReceived)]) == 1


def test_send_session_ticket_refusals(pki: tuple[LocalCA, Any]) -> None:
    c = client(pki)
    s = QuicServerConnection(server_config(pki, session_tickets=0),
                             transport_parameters=S_PARAMS)
    handshake(c, s)
    with pytest.raises(UsageError, match="session_tickets=0"):
        s.send_session_ticket()
    c, s = established(pki)
    with pytest.raises(UsageError, match="max_early_data_size=0"):
        s.send_session_ticket(early_data=True)
    for _ in range(254):  # (two were sent when the handshake ended)
        s.send_session_ticket()
    with pytest.raises(UsageError, match="256 tickets"):
        s.send_session_ticket()
    exc = raises(s, A, KEY_UPDATE, AlertDescription.unexpected_message)
    with pytest.raises(TLSError) as again:
        s.send_session_ticket()
    assert again.value is exc


def test_a_ticket_on_demand_is_a_quic_ticket(pki: tuple[LocalCA, Any]) -> None:
    """Sent on demand or not, a QUIC ticket does not resume TLS over TCP."""
    config = server_config(pki, session_tickets=1, ticket_key=bytes(range(32)))
    c = client(pki)
    s = QuicServerConnection(config, transport_parameters=S_PARAMS, automatic_tickets=False)
    handshake(c, s)
    s.send_session_ticket()
    _, c_events = flight(s, c)
    [session] = [e.session for e in c_events if isinstance(e, SessionTicketReceived)]
    assert tls_resumption(pki, config, session) is False


# -- resumption from a session cache --------------------------------------------------------

def test_a_shared_session_cache_keeps_quic_and_tls_apart(pki: tuple[LocalCA, Any]) -> None:
    """One SessionCache for a QUIC client and a TLS-over-TCP one dialling one name: each
    offers only sessions of its own kind (the server would refuse the other kind, and
    the single-use ticket would be spent on a full handshake), so each resumes its own."""
    from tlskit import SessionCache
    from tlskit.trace import TraceStep
    cache = SessionCache()
    config = server_config(pki, session_tickets=1, ticket_key=bytes(range(32)),
                           max_early_data_size=1000)
    offered: list[bool] = []

    def tracer(step: TraceStep, fields: dict[str, Any]) -> None:
        if step is TraceStep.CLIENT_HELLO:
            offered.append(0x29 in fields["message"].extensions)  # pre_shared_key

    client_config = ClientConfig(trust_anchors=[pki[0].root], alpn_protocols=["h3"],
                                 session_cache=cache, tracer=tracer)

    def quic(session: Any = None) -> tuple[bool, bool]:
        c = QuicClientConnection(client_config, "localhost", transport_parameters=C_PARAMS,
                                 session=session)
        s = QuicServerConnection(config, transport_parameters=S_PARAMS)
        handshake(c, s)
        assert s.handshake_complete is not None
        return offered.pop(), s.handshake_complete.resumed

    def tls(session: Any = None) -> tuple[bool, bool]:
        resumed = tls_resumption(pki, config, session, client_config)
        return offered.pop(), resumed

    assert quic() == (False, False)
    assert tls() == (False, False)  # the QUIC session stays in the cache
    assert quic() == (True, True)   # ... for QUIC
    assert tls() == (True, True)    # and the TLS one for TLS
    quic_session = zero_rtt_session(pki, config)
    assert quic_session.quic
    assert tls(quic_session) == (False, False)  # given explicitly: not offered either
    tls_session = tls_ticket(pki, config)
    assert not tls_session.quic
    assert quic(tls_session) == (False, False)


@pytest.mark.parametrize("flood", ["tls", "quic"])
def test_one_kind_of_session_does_not_evict_the_other_from_a_shared_cache(
        pki: tuple[LocalCA, Any], flood: str) -> None:
    """Four tickets are kept per name and kind: more TLS tickets than that (a busy HTTP/2
    client sharing the cache with an HTTP/3 one) leave the QUIC ticket for the name, and
    the other way round; the flood keeps its own newest four."""
    from tlskit import SessionCache
    config = server_config(pki, session_tickets=1, ticket_key=bytes(range(32)),
                           max_early_data_size=1000)
    cache = SessionCache()
    keep = zero_rtt_session(pki, config) if flood == "tls" else tls_ticket(pki, config)
    cache.put(keep)
    floods = [tls_ticket(pki, config) if flood == "tls" else zero_rtt_session(pki, config)
              for _ in range(6)]
    for session in floods:
        cache.put(session)
    now = floods[-1].received_at
    kept = cache.take("localhost", now, lambda s: s.quic == keep.quic)
    assert kept is keep
    left = []
    while (got := cache.take("localhost", now)) is not None:
        left.append(got)
    assert left == floods[:1:-1]  # the newest four of the flood, newest first


def test_sessions_remember_the_servers_transport_parameters(pki: tuple[LocalCA, Any]) -> None:
    """RFC 9000 7.4.1: 0-RTT keeps to the limits the server set last time; the client
    offering a session (given or from its cache) has them before the server's new
    ones arrive, as rustls' quic_transport_parameters."""
    from tlskit import SessionCache
    config = server_config(pki, session_tickets=1, max_early_data_size=1000)
    cache = SessionCache()
    client_config = ClientConfig(trust_anchors=[pki[0].root], alpn_protocols=["h3"],
                                 session_cache=cache)
    first = QuicClientConnection(client_config, "localhost", transport_parameters=C_PARAMS)
    assert first.remembered_transport_parameters is None
    c_events, _ = handshake(first, QuicServerConnection(
        config, transport_parameters=b"\x04\x04\x80\x10\x00\x00"))  # initial_max_data 1M
    [session] = [e.session for e in c_events if isinstance(e, SessionTicketReceived)]
    assert session.quic_transport_parameters == b"\x04\x04\x80\x10\x00\x00"
    assert session.quic
    again = QuicClientConnection(client_config, "localhost", transport_parameters=C_PARAMS,
                                 early_data=True)
    assert again.early_data_offered
    assert again.offered_session is session  # (taken from the cache)
    assert first.offered_session is None
    assert again.remembered_transport_parameters == b"\x04\x04\x80\x10\x00\x00"
    s = QuicServerConnection(config, transport_parameters=S_PARAMS)
    handshake(again, s)
    assert again.handshake_complete is not None and again.handshake_complete.resumed
    assert again.peer_transport_parameters == S_PARAMS
    assert again.remembered_transport_parameters == b"\x04\x04\x80\x10\x00\x00"
    assert tls_ticket(pki, config).quic_transport_parameters is None


def test_a_ticket_on_demand_without_the_session_store(pki: tuple[LocalCA, Any]) -> None:
    """The store's ticket keys cannot be had: send_session_ticket says no ticket went
    out (False) and the connection goes on, as when tickets fail at a handshake's end."""
    from tlskit.sessionstore import MemoryStore

    class StoreDown(MemoryStore):
        def ticket_keys(self, now: float) -> Any:
            raise ConnectionError("store down")

    c = client(pki)
    s = QuicServerConnection(server_config(pki, session_store=StoreDown()),
                             transport_parameters=S_PARAMS, automatic_tickets=False)
    handshake(c, s)
    assert s.handshake_complete is not None
    assert s.send_session_ticket() is False
    assert s.data_to_send() == []
    assert s.export_keying_material(b"x", b"", 8) == c.export_keying_material(b"x", b"", 8)
