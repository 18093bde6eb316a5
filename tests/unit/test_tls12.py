"""TLS 1.2 (ECDHE + AEAD, extended master secret) in memory: every suite and key type,
client certificates, the downgrade sentinel and the extended-master-secret switch. The
same suites against OpenSSL and Python's ssl are in tests/interop/test_tls12.py."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tlskit import (
    CertifiedKey,
    ClientConfig,
    ClientConnection,
    DataReceived,
    ServerConfig,
    ServerConnection,
    SessionTicketReceived,
    TLSError,
)
from tlskit.ca import LocalCA
from tlskit.enums import AlertDescription

from ..support.pki import CASES12 as CASES
from ..support.pki import AcceptAll
from ..support.pump import completed, exchange


@pytest.mark.parametrize(("kt", "suite"), CASES)
def test_in_memory(ca: LocalCA, issued: dict[str, Any], kt: str, suite: str) -> None:
    i = issued[kt]
    server = ServerConnection(ServerConfig(certificate_chain=i.chain, private_key=i.private_key))
    client = ClientConnection(ClientConfig(trust_anchors=[ca.root], versions=["TLSv1.2"],
                                           cipher_suites=[suite], alpn_protocols=["h2"]),
                              "localhost")
    c_events, s_events = exchange(client, server)
    for d in (completed(c_events), completed(s_events)):
        assert (d.version, d.cipher_suite.name) == ("TLSv1.2", suite)
    client.send_data(b"x" * 40000)
    got = b"".join(e.data for e in server.receive_data(client.data_to_send())
                   if isinstance(e, DataReceived))
    assert got == b"x" * 40000
    assert client.export_keying_material(b"EXPORTER-test", b"", 32) == \
        server.export_keying_material(b"EXPORTER-test", b"", 32)
    client.close()
    server.receive_data(client.data_to_send())
    assert client.receive_data(server.data_to_send())[-1].alert is None  # type: ignore[attr-defined]


def _pair(ca: LocalCA, issued: dict[str, Any], version: str = "TLSv1.2"
          ) -> tuple[ClientConnection, ServerConnection]:
    """A client speaking `version` to a default server with the P-256 leaf."""
    i = issued["ec256"]
    server = ServerConnection(ServerConfig(certificate_chain=i.chain, private_key=i.private_key))
    client = ClientConnection(ClientConfig(trust_anchors=[ca.root], versions=[version]),
                              "localhost")
    return client, server


def _client_auth_pair(ca: LocalCA, issued: dict[str, Any], alice: Any
                      ) -> tuple[ClientConnection, ServerConnection]:
    """A TLS 1.2 client with `alice`'s certificate, and a server requiring one."""
    i = issued["ec256"]
    server = ServerConnection(ServerConfig(certificate_chain=i.chain, private_key=i.private_key,
                                           client_auth="required",
                                           client_trust_anchors=[ca.root]))
    client = ClientConnection(ClientConfig(
        trust_anchors=[ca.root], versions=["TLSv1.2"],
        certificate=CertifiedKey(alice.chain, alice.private_key)), "localhost")
    return client, server


def test_client_certificate_in_tls12(ca: LocalCA, issued: dict[str, Any]) -> None:
    alice = ca.issue_client("alice", key_type="rsa2048")
    _, s_events = exchange(*_client_auth_pair(ca, issued, alice))
    assert completed(s_events).peer_certificates[0] == alice.certificate


@pytest.mark.parametrize("key_type", ["ec256", "rsa2048"])
def test_client_certificate_verify_covers_every_message(ca: LocalCA, issued: dict[str, Any],
                                                        key_type: str) -> None:
    """A TLS 1.2 client with a certificate keeps every handshake message from its
    ClientHello on: its CertificateVerify signs them all and the server checks it."""
    alice = ca.issue_client("alice", key_type=key_type)
    c_events, s_events = exchange(*_client_auth_pair(ca, issued, alice))
    assert completed(s_events).peer_certificates[0] == alice.certificate
    assert completed(c_events).version == "TLSv1.2"


@pytest.mark.parametrize("policy", ["optional", "required"])
def test_client_without_certificate_answers_a_request(ca: LocalCA, issued: dict[str, Any],
                                                      policy: str) -> None:
    """A client with no certificate (which keeps no messages: it never signs) answers a
    CertificateRequest with an empty Certificate and no CertificateVerify: accepted when
    the server's policy is optional, handshake_failure when required."""
    i = issued["ec256"]
    server = ServerConnection(ServerConfig(certificate_chain=i.chain, private_key=i.private_key,
                                           client_auth=policy,  # type: ignore[arg-type]
                                           client_trust_anchors=[ca.root]))
    client = ClientConnection(ClientConfig(trust_anchors=[ca.root], versions=["TLSv1.2"]),
                              "localhost")
    if policy == "optional":
        _, s_events = exchange(client, server)
        assert completed(s_events).peer_certificates == []
        return
    with pytest.raises(TLSError) as err:
        exchange(client, server)
    assert err.value.alert == AlertDescription.handshake_failure


def test_server_flight_is_one_record_per_message(ca: LocalCA, issued: dict[str, Any]) -> None:
    """The server writes ServerHello, Certificate, ServerKeyExchange and ServerHelloDone
    in a record each (scanners read them record by record), and CCS then its Finished
    after the client's flight; each record holds exactly one whole message."""
    client, server = _pair(ca, issued)
    server.receive_data(client.data_to_send())
    flight = server.data_to_send()
    kinds = []
    pos = 0
    while pos < len(flight):
        ctype, length = flight[pos], int.from_bytes(flight[pos + 3:pos + 5], "big")
        body = flight[pos + 5:pos + 5 + length]
        assert ctype == 22 and int.from_bytes(body[1:4], "big") == length - 4
        kinds.append(body[0])
        pos += 5 + length
    assert kinds == [2, 11, 12, 14]
    client.receive_data(flight)
    server.receive_data(client.data_to_send())
    last = server.data_to_send()
    assert last[0] == 20 and last[5:6] == b"\x01" and last[6] == 22  # CCS, then Finished
    assert len(last) == 6 + 5 + 8 + 16 + 16  # the Finished alone: nonce, 16 bytes, tag
    assert completed(client.receive_data(last)).version == "TLSv1.2"


def test_every_field_of_the_events_a_full_handshake_leaves(ca: LocalCA,
                                                            issued: dict[str, Any]) -> None:
    """Each field of both HandshakeComplete events and of the client's TLS 1.2 Session
    (session ID only: no ticket was asked for) holds what was negotiated."""
    i = issued["ec256"]
    config = ServerConfig(certificate_chain=i.chain, private_key=i.private_key,
                          alpn_protocols=["h2"])
    client = ClientConnection(ClientConfig(trust_anchors=[ca.root], versions=["TLSv1.2"],
                                           alpn_protocols=["h2", "http/1.1"]), "localhost")
    c_events, s_events = exchange(client, ServerConnection(config))
    for done, peer in ((completed(c_events), list(i.chain)), (completed(s_events), [])):
        assert (done.version, done.cipher_suite.name, done.group.name if done.group else None,
                done.signature_scheme.name if done.signature_scheme else None,
                done.alpn_protocol, done.peer_certificates, done.resumed, done.server_name,
                done.ocsp_response, done.early_data_accepted) == (
            "TLSv1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "x25519",
            "ecdsa_secp256r1_sha256", "h2", peer, False, "localhost", None, False)
    tickets = [e for e in c_events if isinstance(e, SessionTicketReceived)]
    assert len(tickets) == 1 and tickets[0].ticket == b""
    session = tickets[0].session
    assert session is not None and tickets[0].lifetime == session.lifetime == 7200
    assert (session.ticket, len(session.psk), session.suite.name, session.age_add,
            session.server_name, session.alpn_protocol, session.peer_certificates,
            session.group, session.authenticated, session.hostname_checked,
            session.ocsp_response, session.max_early_data, session.tls12,
            len(session.session_id)) == (
        b"", 48, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", 0, "localhost", "h2",
        list(i.chain), "x25519", True, True, None, 0, True, 32)
    assert abs(session.received_at - time.time()) < 60
    resumed = ClientConnection(ClientConfig(trust_anchors=[ca.root], versions=["TLSv1.2"],
                                            alpn_protocols=["h2"]), "localhost",
                               session=session)
    assert completed(exchange(resumed, ServerConnection(config))[0]).resumed


@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
def test_handshake_objects_stay_in_the_shared_key_layout(ca: LocalCA, issued: dict[str, Any],
                                                          version: str) -> None:
    """The handshakes keep their own attributes in slots: each side's __dict__ stays under
    the 30 keys CPython keeps in its shared-key layout (past that, building one costs about
    four times as much), through a whole handshake, and so does the TLS 1.3 handshake a
    TLS 1.2 one took over from."""
    client, server = _pair(ca, issued, version)
    first = (client._hs, server._hs)
    exchange(client, server)
    for conn, hs13 in zip((client, server), first, strict=True):
        hs = conn._hs
        assert hs.version == version and hs.state is hs.CONNECTED
        assert len(vars(hs)) < 30, sorted(vars(hs))
        assert len(vars(hs13)) < 30, sorted(vars(hs13))


@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
def test_a_whole_message_in_its_own_record_is_held_to_the_limit(
        ca: LocalCA, issued: dict[str, Any], version: str) -> None:
    """max_handshake_message also bounds a message that fills its record exactly (the
    usual record, taken without reassembly): a ClientHello one byte over a server's
    limit is decode_error, one within it is answered."""
    i = issued["ec256"]
    hello = ClientConnection(ClientConfig(trust_anchors=[ca.root], versions=[version]),
                             "localhost").data_to_send()
    size = len(hello) - 5 - 4  # the body of the one ClientHello in the one record
    assert int.from_bytes(hello[3:5], "big") == size + 4
    for limit, ok in ((size, True), (size - 1, False)):
        server = ServerConnection(ServerConfig(certificate_chain=i.chain,
                                               private_key=i.private_key,
                                               max_handshake_message=limit))
        if ok:
            server.receive_data(hello)
            assert server.data_to_send()[5] == 2  # a ServerHello
            continue
        with pytest.raises(TLSError) as err:
            server.receive_data(hello)
        assert err.value.alert == AlertDescription.decode_error


def test_downgrade_sentinel_aborts_a_tls13_client(ca: LocalCA, issued: dict[str, Any]) -> None:
    """RFC 8446 4.1.3: an attacker forcing TLS 1.2 on two 1.3-capable peers is caught."""
    honest, server = _pair(ca, issued)
    server.receive_data(honest.data_to_send())
    flight = server.data_to_send()
    assert flight[5 + 6 + 24:5 + 6 + 32] == b"DOWNGRD\x01"  # ServerHello.random's tail
    victim = ClientConnection(ClientConfig(trust_anchors=[ca.root]), "localhost")
    victim.data_to_send()
    with pytest.raises(TLSError) as err:
        victim.receive_data(flight)
    assert err.value.alert == AlertDescription.illegal_parameter


def test_tls12_only_server_sends_no_sentinel(issued: dict[str, Any], ca: LocalCA) -> None:
    i = issued["ec256"]
    server = ServerConnection(ServerConfig(certificate_chain=i.chain, private_key=i.private_key,
                                           versions=["TLSv1.2"]))
    client = ClientConnection(ClientConfig(trust_anchors=[ca.root]), "localhost")
    c_events, _ = exchange(client, server)
    assert completed(c_events).version == "TLSv1.2"


def test_server_requires_extended_master_secret(issued: dict[str, Any]) -> None:
    """With require_extended_master_secret, a 1.2 ClientHello without the extension is
    refused (RFC 7627), with an error that names the switch."""
    i = issued["ec256"]
    client = ClientConnection(ClientConfig(versions=["TLSv1.2"], verifier=AcceptAll()),
                              "localhost")
    hello = client.data_to_send()
    stripped = _drop_extension(hello, 23)
    server = ServerConnection(ServerConfig(certificate_chain=i.chain, private_key=i.private_key,
                                           require_extended_master_secret=True))
    with pytest.raises(TLSError) as err:
        server.receive_data(stripped)
    assert err.value.alert == AlertDescription.handshake_failure
    assert "require_extended_master_secret" in str(err.value)


@pytest.mark.parametrize(("client_version", "server_version", "says"), [
    ("TLSv1.2", "TLSv1.3", "client offers only TLSv1.2; this server speaks TLSv1.3"),
    ("TLSv1.3", "TLSv1.2", "client offers TLSv1.3 and not TLSv1.2; this server speaks "
     "TLSv1.2")])
def test_client_and_server_with_no_version_in_common(
        issued: dict[str, Any], client_version: str, server_version: str,
        says: str) -> None:
    """Nothing the client offers is a version the server speaks: protocol_version (RFC
    8446 4.2.1 and D.2). A TLS 1.3-only client used to get handshake_failure from a TLS
    1.2-only server, which began a TLS 1.3 handshake with no TLS 1.3 suite to pick (seen
    with Erlang's and OpenSSL's clients)."""
    i = issued["ec256"]
    server = ServerConnection(ServerConfig(certificate_chain=i.chain, private_key=i.private_key,
                                           versions=[server_version]))
    client = ClientConnection(ClientConfig(versions=[client_version], verifier=AcceptAll()),
                              "localhost")
    with pytest.raises(TLSError) as err:
        server.receive_data(client.data_to_send())
    assert err.value.alert == AlertDescription.protocol_version
    assert says in str(err.value)


def _drop_extension(record: bytes, etype: int) -> bytes:
    """Rebuild a one-record ClientHello without one extension."""
    from tlskit.wire import messages as m
    hello = m.ClientHello.decode(record[9:])
    del hello.extensions[etype]
    body = hello.encode()
    return record[:3] + len(body).to_bytes(2, "big") + body


def test_tls12_server_reports_what_the_client_offered(issued: dict[str, Any]) -> None:
    """`ServerConnection.client_offer` after a TLS 1.2 handshake (the tlskit demo and serve
    read it): the offer by IANA name, as for TLS 1.3."""
    i = issued["ec256"]
    server = ServerConnection(ServerConfig(certificate_chain=i.chain, private_key=i.private_key))
    client = ClientConnection(ClientConfig(verifier=AcceptAll(), versions=["TLSv1.2"]),
                              "localhost")
    exchange(client, server)
    assert server.version == "TLSv1.2"
    assert "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" in server.client_offer["cipher_suites"]


@pytest.mark.parametrize(("versions", "length"), [(["TLSv1.2"], 0), (["TLSv1.3", "TLSv1.2"], 32),
                                                  (["TLSv1.3"], 32)])
def test_client_session_id_is_empty_without_a_session_to_resume(
        ca: LocalCA, versions: list[str], length: int) -> None:
    """RFC 5246 7.4.1.2: a TLS 1.2 client names a session only to resume it (a random ID
    would send the server to its session store for nothing); the fresh ID of RFC 8446
    D.4's compatibility mode is for a client that offers TLS 1.3."""
    from tlskit.wire import messages as m

    client = ClientConnection(ClientConfig(trust_anchors=[ca.root], versions=versions),
                              "localhost")
    record = client.data_to_send()
    hello = m.ClientHello.decode(record[5 + 4:])
    assert len(hello.session_id) == length
