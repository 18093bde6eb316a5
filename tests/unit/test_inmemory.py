"""tlskit client <-> tlskit server in memory: the full matrix, resumption, client auth,
KeyUpdate, close_notify, ALPN, HelloRetryRequest, record_size_limit."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from tlskit import (
    AlertReceived,
    CertifiedKey,
    ClientConfig,
    ClientConnection,
    ConnectionClosed,
    DataReceived,
    KeyUpdated,
    ServerConfig,
    ServerConnection,
    SessionTicketReceived,
    TLSError,
)
from tlskit.ca import LocalCA
from tlskit.enums import AlertDescription
from tlskit.session import SessionCache

from ..support.pump import completed, exchange

KEY_TYPES = {"ec256": "ecdsa_secp256r1_sha256", "ec384": "ecdsa_secp384r1_sha384",
             "rsa2048": "rsa_pss_rsae_sha256", "ed25519": "ed25519"}
GROUPS = ["x25519", "x448", "secp256r1", "secp384r1", "secp521r1", "X25519MLKEM768",
          "ffdhe2048"]
SUITES = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
          "TLS_AES_128_CCM_SHA256"]


def server_config(issued: dict[str, Any], kt: str = "ec256", **kw: Any) -> ServerConfig:
    i = issued[kt]
    return ServerConfig(certificate_chain=i.chain, private_key=i.private_key, **kw)


@pytest.mark.parametrize(("kt", "group", "suite"),
                         list(itertools.product(KEY_TYPES, GROUPS, SUITES)))
def test_matrix(ca: LocalCA, issued: dict[str, Any], kt: str, group: str, suite: str) -> None:
    server = ServerConnection(server_config(issued, kt, groups=[group], cipher_suites=[suite]))
    client = ClientConnection(ClientConfig(trust_anchors=[ca.root], groups=[group],
                                           cipher_suites=[suite]), server_name="localhost")
    c_events, s_events = exchange(client, server)
    for done in (completed(c_events), completed(s_events)):
        assert (done.version, done.cipher_suite.name, done.group.name) == ("TLSv1.3", suite, group)
    assert completed(c_events).signature_scheme.name == KEY_TYPES[kt]
    assert completed(c_events).peer_certificates[0] == issued[kt].certificate
    payload = bytes(range(256)) * 300
    client.send_data(payload)
    got = server.receive_data(client.data_to_send())
    assert b"".join(e.data for e in got if isinstance(e, DataReceived)) == payload
    server.send_data(b"pong")
    assert client.receive_data(server.data_to_send()) == [DataReceived(b"pong")]


def test_hello_retry_request_when_server_wants_another_group(
        ca: LocalCA, issued: dict[str, Any]) -> None:
    steps: list[str] = []
    server = ServerConnection(server_config(issued, groups=["secp384r1"]))
    client = ClientConnection(ClientConfig(
        trust_anchors=[ca.root], groups=["x25519", "secp384r1"],
        tracer=lambda step, fields: steps.append(step)), server_name="localhost")
    c_events, _ = exchange(client, server)
    assert completed(c_events).group.name == "secp384r1"
    assert "hello_retry_request" in steps


def test_alpn_key_update_and_close(ca: LocalCA, issued: dict[str, Any]) -> None:
    server = ServerConnection(server_config(issued, alpn_protocols=["h2", "http/1.1"]))
    client = ClientConnection(ClientConfig(trust_anchors=[ca.root],
                                           alpn_protocols=["http/1.1", "h2"]),
                              server_name="localhost")
    c_events, s_events = exchange(client, server)
    assert completed(c_events).alpn_protocol == "h2" == completed(s_events).alpn_protocol
    client.update_keys(request_peer_update=True)
    client.send_data(b"after update")
    s_events = server.receive_data(client.data_to_send())
    assert s_events == [KeyUpdated(True), DataReceived(b"after update")]
    c_events = client.receive_data(server.data_to_send())  # the server's own KeyUpdate
    assert c_events == [KeyUpdated(False)]
    server.send_data(b"still here")
    assert client.receive_data(server.data_to_send()) == [DataReceived(b"still here")]
    client.close()
    assert server.receive_data(client.data_to_send()) == [ConnectionClosed(None)]
    assert client.receive_data(server.data_to_send()) == [ConnectionClosed(None)]
    assert client.closed and server.closed


def test_resumption_with_tickets(ca: LocalCA, issued: dict[str, Any]) -> None:
    scfg = server_config(issued)
    ccfg = ClientConfig(trust_anchors=[ca.root], session_cache=SessionCache())
    first_events, _ = exchange(ClientConnection(ccfg, "localhost"), ServerConnection(scfg))
    first = completed(first_events)
    assert not first.resumed
    assert sum(isinstance(e, SessionTicketReceived) for e in first_events) == 2
    second_events, server_events = exchange(ClientConnection(ccfg, "localhost"),
                                        ServerConnection(scfg))
    second = completed(second_events)
    assert second.resumed and completed(server_events).resumed
    assert second.signature_scheme is None  # no CertificateVerify in a PSK handshake
    assert second.peer_certificates == first.peer_certificates


def test_ticket_from_another_server_falls_back_to_full_handshake(
        ca: LocalCA, issued: dict[str, Any]) -> None:
    ccfg = ClientConfig(trust_anchors=[ca.root], session_cache=SessionCache())
    exchange(ClientConnection(ccfg, "localhost"), ServerConnection(server_config(issued)))
    events, _ = exchange(ClientConnection(ccfg, "localhost"),
                     ServerConnection(server_config(issued)))  # a different ticket key
    assert not completed(events).resumed


def test_resumption_after_hello_retry_request(ca: LocalCA, issued: dict[str, Any]) -> None:
    scfg = server_config(issued, groups=["secp384r1", "x25519"])
    ccfg = ClientConfig(trust_anchors=[ca.root], groups=["secp256r1", "secp384r1"],
                        session_cache=SessionCache())
    exchange(ClientConnection(ccfg, "localhost"), ServerConnection(scfg))
    events, _ = exchange(ClientConnection(ccfg, "localhost"), ServerConnection(scfg))
    assert completed(events).resumed and completed(events).group.name == "secp384r1"


def test_tampered_binder_is_decrypt_error(ca: LocalCA, issued: dict[str, Any]) -> None:
    scfg = server_config(issued)
    ccfg = ClientConfig(trust_anchors=[ca.root], session_cache=SessionCache())
    exchange(ClientConnection(ccfg, "localhost"), ServerConnection(scfg))
    client = ClientConnection(ccfg, "localhost")
    hello = bytearray(client.data_to_send())
    hello[-1] ^= 1  # the binder is the last byte of the ClientHello
    with pytest.raises(TLSError) as err:
        ServerConnection(scfg).receive_data(bytes(hello))
    assert err.value.alert == AlertDescription.decrypt_error


def test_client_authentication(ca: LocalCA, issued: dict[str, Any]) -> None:
    alice = ca.issue_client("alice")
    scfg = server_config(issued, client_auth="required", client_trust_anchors=[ca.root])
    client = ClientConnection(ClientConfig(
        trust_anchors=[ca.root], certificate=CertifiedKey(alice.chain, alice.private_key)),
        server_name="localhost")
    _, s_events = exchange(client, ServerConnection(scfg))
    assert completed(s_events).peer_certificates[0] == alice.certificate

    anonymous = ClientConnection(ClientConfig(trust_anchors=[ca.root]), "localhost")
    server = ServerConnection(scfg)
    with pytest.raises(TLSError) as err:
        exchange(anonymous, server)
    assert err.value.alert == AlertDescription.certificate_required


def test_server_picks_certificate_by_sni(ca: LocalCA) -> None:
    a = ca.issue_server(["a.example"])
    b = ca.issue_server(["b.example"], key_type="ed25519")
    scfg = ServerConfig(certificates=[CertifiedKey(a.chain, a.private_key),
                                      CertifiedKey(b.chain, b.private_key)])
    for name, want in (("a.example", a), ("b.example", b)):
        events, _ = exchange(ClientConnection(ClientConfig(trust_anchors=[ca.root]), name),
                         ServerConnection(scfg))
        assert completed(events).peer_certificates[0] == want.certificate


def test_server_picks_certificate_by_signature_scheme(ca: LocalCA) -> None:
    ec_cert = ca.issue_server(["localhost"], key_type="ec256")
    rsa_cert = ca.issue_server(["localhost"], key_type="rsa2048")
    scfg = ServerConfig(certificates=[CertifiedKey(ec_cert.chain, ec_cert.private_key),
                                      CertifiedKey(rsa_cert.chain, rsa_cert.private_key)])
    client = ClientConnection(ClientConfig(trust_anchors=[ca.root],
                                           signature_schemes=["rsa_pss_rsae_sha256"]),
                              "localhost")
    events, _ = exchange(client, ServerConnection(scfg))
    assert completed(events).signature_scheme.name == "rsa_pss_rsae_sha256"


def test_record_size_limit_is_honoured(ca: LocalCA, issued: dict[str, Any]) -> None:
    server = ServerConnection(server_config(issued, record_size_limit=1024))
    client = ClientConnection(ClientConfig(trust_anchors=[ca.root], record_size_limit=512),
                              "localhost")
    exchange(client, server)
    server.send_data(bytes(5000))
    wire = server.data_to_send()
    lengths = []
    pos = 0
    while pos < len(wire):
        n = int.from_bytes(wire[pos + 3:pos + 5], "big")
        lengths.append(n)
        pos += 5 + n
    assert max(lengths) <= 512 + 16  # inner plaintext <= 512 (content + type) + tag
    assert sum(len(e.data) for e in client.receive_data(wire)
               if isinstance(e, DataReceived)) == 5000


def test_hostname_mismatch_is_rejected(ca: LocalCA, issued: dict[str, Any]) -> None:
    client = ClientConnection(ClientConfig(trust_anchors=[ca.root]), "other.example")
    with pytest.raises(TLSError) as err:
        exchange(client, ServerConnection(server_config(issued)))
    assert err.value.alert == AlertDescription.bad_certificate
    assert "other.example" in str(err.value)


def test_unknown_ca_is_rejected() -> None:
    other = LocalCA.create(directory=None)
    mine = LocalCA.create(directory=None)
    leaf = other.issue_server(["localhost"])
    client = ClientConnection(ClientConfig(trust_anchors=[mine.root]), "localhost")
    with pytest.raises(TLSError) as err:
        exchange(client, ServerConnection(ServerConfig(certificate_chain=leaf.chain,
                                                   private_key=leaf.private_key)))
    assert err.value.alert == AlertDescription.unknown_ca


def test_pem_helpers_round_trip(tmp_path: Any, issued: dict[str, Any]) -> None:
    i = issued["ec256"]
    (tmp_path / "c.pem").write_bytes(b"".join(
        c.public_bytes(serialization.Encoding.PEM) for c in i.chain))
    (tmp_path / "k.pem").write_bytes(i.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    ck = CertifiedKey.from_files(tmp_path / "c.pem", tmp_path / "k.pem")
    assert ck.chain == i.chain


def test_a_client_without_server_name_is_refused_unless_it_opts_out(ca: LocalCA) -> None:
    """Secure by default: no name, no way to check the certificate names the server."""
    from tlskit import UsageError
    with pytest.raises(UsageError, match="server_name"):
        ClientConnection(ClientConfig(trust_anchors=[ca.root]))
    ClientConnection(ClientConfig(trust_anchors=[ca.root], check_hostname=False))


@pytest.mark.parametrize(("name", "why"), [
    ("exa mple.com", "invalid label 'exa mple'"),
    ("bad\x00name", "invalid label"),
    ("*.example.com", "invalid label '*'"),
    ("a..b", "invalid label ''"),
    ("10.0.0.256", "looks like a numeric address"),
])
def test_a_server_name_no_certificate_could_match_is_refused_before_sending(
        ca: LocalCA, name: str, why: str) -> None:
    """Not sent in the clear to be refused later: rustls and Python's ssl refuse such
    names up front too (RFC 6066 3: HostName is a DNS host name)."""
    for check in (True, False):
        with pytest.raises(ValueError, match=f"server_name {re.escape(repr(name))} is not a "
                                             f"valid host name: .*{re.escape(why)}"):
            ClientConnection(ClientConfig(trust_anchors=[ca.root], check_hostname=check), name)


def test_an_empty_server_name_is_a_usage_error(ca: LocalCA) -> None:
    from tlskit import UsageError
    with pytest.raises(UsageError, match="server_name is empty"):
        ClientConnection(ClientConfig(trust_anchors=[ca.root]), "")


@pytest.mark.parametrize(("name", "sent"), [
    ("LocalHost.", "localhost"),             # RFC 6066 3: no trailing dot; case folded
    ("bücher.example", "xn--bcher-kva.example"),
    ("my_host.internal", "my_host.internal"),  # underscores occur in real host names
])
def test_the_server_name_is_sent_in_its_canonical_form(ca: LocalCA, name: str,
                                                       sent: str) -> None:
    client = ClientConnection(ClientConfig(trust_anchors=[ca.root], check_hostname=False),
                              name)
    hello = client.data_to_send()
    assert len(sent).to_bytes(2, "big") + sent.encode() in hello
    assert name.encode("utf-8") not in hello or name == sent


def test_text_passed_as_data_is_a_clear_type_error(ca: LocalCA) -> None:
    """The TypeError `ssl` gives, saying what to do; the connection is unharmed."""
    issued = ca.issue_server(["localhost"])
    client = ClientConnection(ClientConfig(trust_anchors=[ca.root]), "localhost")
    server = ServerConnection(ServerConfig(certificate_chain=issued.chain,
                                           private_key=issued.private_key))
    exchange(client, server)
    hint = "takes bytes, bytearray or memoryview, not str (encode text first, e.g. text.encode())"
    with pytest.raises(TypeError, match=re.escape("send_data " + hint)):
        client.send_data("hello")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=re.escape("receive_data " + hint)):
        server.receive_data("hello")  # type: ignore[arg-type]
    client.send_data(b"hello")
    assert [e.data for e in server.receive_data(client.data_to_send())] == [b"hello"]  # type: ignore[attr-defined]


def test_server_prefers_a_chain_signed_as_signature_algorithms_cert_asks() -> None:
    """RFC 8446 4.2.3: with two chains for the same name, the one whose certificate
    signatures the client accepts is sent."""
    ec_ca = LocalCA.create(directory=None, key_type="ec256")
    rsa_ca = LocalCA.create(directory=None, key_type="rsa2048")
    by_ec = ec_ca.issue_server(["localhost"], key_type="ec256")
    by_rsa = rsa_ca.issue_server(["localhost"], key_type="ec256")
    scfg = ServerConfig(certificates=[CertifiedKey(by_rsa.chain, by_rsa.private_key),
                                      CertifiedKey(by_ec.chain, by_ec.private_key)])
    for accepted, want in ((["ecdsa_secp256r1_sha256"], by_ec),
                           (["rsa_pkcs1_sha256", "rsa_pss_rsae_sha256"], by_rsa)):
        client = ClientConnection(ClientConfig(trust_anchors=[ec_ca.root, rsa_ca.root],
                                               signature_schemes_cert=accepted), "localhost")
        events, _ = exchange(client, ServerConnection(scfg))
        assert completed(events).peer_certificates[0] == want.certificate, accepted


def test_ech_required_alert_is_named_and_explained(ca: LocalCA, issued: dict[str, Any]) -> None:
    """Chrome and Android (BoringSSL) end a handshake with ech_required (121) when the
    server did not accept their Encrypted Client Hello: tlskit's server names that alert
    and says what it means instead of reporting an unknown one."""
    server = ServerConnection(server_config(issued))
    server.receive_data(ClientConnection(ClientConfig(trust_anchors=[ca.root]),
                                         "localhost").data_to_send())
    events = server.receive_data(bytes([21, 3, 3, 0, 2, 2, 121]))  # a fatal alert record
    assert events == [ConnectionClosed(AlertDescription.ech_required)]
    with pytest.raises(AlertReceived) as err:
        server.send_data(b"too late")
    assert err.value.alert == AlertDescription.ech_required
    assert str(err.value).startswith("peer sent alert ech_required (121): the client "
                                     "offered Encrypted Client Hello")


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_no_common_signature_scheme_names_both_sides(issued: dict[str, Any], ca: LocalCA,
                                                     version: str) -> None:
    """A client whose signature schemes leave out our key type (as BoringSSL leaves out
    Ed25519): the server's error names the schemes each side has, in TLS 1.2 too, where
    it used to blame the cipher suites, which do fit."""
    client = ClientConnection(ClientConfig(trust_anchors=[ca.root], versions=[version],
                                           signature_schemes=["ecdsa_secp256r1_sha256"]),
                              "localhost")
    with pytest.raises(TLSError) as err:
        exchange(client, ServerConnection(server_config(issued, "rsa2048")))
    assert err.value.alert == AlertDescription.handshake_failure
    assert (f"no certificate can be signed with a {version.replace('v', ' ')} scheme the "
            "client accepts (it accepts ecdsa_secp256r1_sha256; our certificates sign "
            "with rsa_pss_rsae_sha256, ") in str(err.value)
