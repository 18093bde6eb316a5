"""Channel bindings (`Connection.channel_binding`) in memory between two tlskit
connections: RFC 9266 tls-exporter, RFC 5929 tls-server-end-point and tls-unique. The
certificate hashes are computed here independently (hashlib over the DER); the exporter
values are checked against OpenSSL in tests/interop/test_openssl_channel_binding.py."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding

from tlskit import (
    CertifiedKey,
    ClientConfig,
    ClientConnection,
    ExternalPsk,
    ServerConfig,
    ServerConnection,
    SessionCache,
    SessionTicketReceived,
    UsageError,
)
from tlskit.channelbinding import CHANNEL_BINDING_TYPES, tls_server_end_point

from ..support.pki import client_config, pki, server_config
from ..support.pump import pump
from ..x509.pki import SERVER_AUTH, Issued, make, root

NOW = datetime.now(UTC)
WINDOW = {"not_before": NOW - timedelta(days=1), "not_after": NOW + timedelta(days=30)}


def connected(version: str = "TLSv1.3", server: ServerConfig | None = None,
              client: ClientConfig | None = None,
              ) -> tuple[ClientConnection, ServerConnection, list[Any]]:
    c = ClientConnection(client or client_config(versions=[version]), "localhost")
    s = ServerConnection(server or server_config())
    events = pump(c, s)
    assert c.handshake_complete is not None and s.handshake_complete is not None
    assert c.version == version
    return c, s, events


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_tls_exporter_is_32_bytes_both_sides_agree(version: str) -> None:
    """RFC 9266 2: 32 bytes, the same on both sides, new for each connection; the
    default type."""
    c, s, _ = connected(version)
    value = c.channel_binding("tls-exporter")
    assert len(value) == 32 and value == s.channel_binding("tls-exporter")
    assert c.channel_binding() == value
    c2, _, _ = connected(version)
    assert c2.channel_binding("tls-exporter") != value


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_exporter_is_the_rfc9266_exporter(version: str) -> None:
    """The exporter with RFC 9266's label, its zero-length context and 32 bytes. In TLS
    1.2 that context is given (RFC 5705 4 hashes its length into the seed), as GnuTLS
    and Bouncy Castle export it (tests/interop/test_gnutls12.py checks GnuTLS); TLS
    1.3 makes no difference (RFC 8446 7.5)."""
    c, s, _ = connected(version)
    assert c.channel_binding("tls-exporter") == \
        s.export_keying_material(b"EXPORTER-Channel-Binding", b"", 32)


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_tls_server_end_point_is_the_hash_of_the_servers_der(version: str) -> None:
    """RFC 5929 4.1: the leaf's DER under its signature's hash (the test CA signs with
    ECDSA-SHA256): the client hashes what it received, the server its own."""
    c, s, _ = connected(version)
    want = hashlib.sha256(der(pki().server.chain[0])).digest()
    assert c.channel_binding("tls-server-end-point") == want
    assert s.channel_binding("tls-server-end-point") == want


def test_tls_server_end_point_after_resumption() -> None:
    """A resumed TLS 1.3 connection sends no certificate: the client binds to the one it
    remembered, the server to the one its session recorded; they agree."""
    cfg = server_config()
    _, _, events = connected(server=cfg)
    session = next(e.session for e in events if isinstance(e, SessionTicketReceived))
    again = ClientConnection(client_config(), "localhost", session=session)
    s2 = ServerConnection(cfg)
    pump(again, s2)
    assert s2.handshake_complete is not None and s2.handshake_complete.resumed
    want = hashlib.sha256(der(pki().server.chain[0])).digest()
    assert again.channel_binding("tls-server-end-point") == want
    assert s2.channel_binding("tls-server-end-point") == want


@pytest.mark.parametrize(("version", "ticket"), [
    pytest.param("TLSv1.3", True, id="tls13-ticket"),
    pytest.param("TLSv1.2", True, id="tls12-ticket"),
    pytest.param("TLSv1.2", False, id="tls12-session-id"),
])
def test_server_end_point_after_a_certificate_rotation(version: str, ticket: bool) -> None:
    """RFC 5929 4.1 names the certificate of the handshake: a session made with
    certificate A and resumed after the server moved to certificate B binds to A on both
    sides (before: the server hashed B, the client A, so SCRAM-*-PLUS failed after every
    rotation). A full handshake afterwards binds to B. The store (ticket keys, session
    IDs) is shared by the two configs, as by a server reloading its certificate."""
    from tlskit.sessionstore import MemoryStore
    store = MemoryStore()
    a, b = pki().server, pki().ca.issue_server(["localhost"], key_type="ec384")
    before = server_config(session_store=store, versions=[version])
    after = server_config(session_store=store, versions=[version],
                          certificate_chain=b.chain, private_key=b.private_key)
    client = client_config(versions=[version], legacy_session_ticket=ticket)
    _, _, events = connected(version, server=before, client=client)
    first = next(e.session for e in events if isinstance(e, SessionTicketReceived))
    assert bool(first.ticket) == ticket  # (TLS 1.2 without one: a session ID)
    again = ClientConnection(client, "localhost", session=first)
    s2 = ServerConnection(after)
    pump(again, s2)
    assert s2.handshake_complete is not None and s2.handshake_complete.resumed
    assert again.handshake_complete is not None
    assert again.handshake_complete.peer_certificates[0] == a.chain[0]
    want = hashlib.sha256(der(a.chain[0])).digest()
    assert again.channel_binding("tls-server-end-point") == want
    assert s2.channel_binding("tls-server-end-point") == want
    fresh, s3, _ = connected(version, server=after,
                             client=client_config(versions=[version]))
    assert not fresh.handshake_complete.resumed  # type: ignore[union-attr]
    want_b = hashlib.sha256(der(b.chain[0])).digest()  # (the CA signs with ECDSA-SHA256)
    assert fresh.channel_binding("tls-server-end-point") == want_b
    assert s3.channel_binding("tls-server-end-point") == want_b


@pytest.mark.parametrize("case", ["hello-retry", "0-rtt", "client-certificate"])
def test_server_end_point_after_a_rotation_with(case: str) -> None:
    """The resumed TLS 1.3 handshake's variants bind to certificate A on both sides
    after the server moved to B: resumed after a HelloRetryRequest (the client's first
    key share is not the server's group), with 0-RTT accepted, and for a session the
    client authenticated with its certificate."""
    from tlskit.sessionstore import MemoryStore
    store = MemoryStore()
    a, b = pki().server, pki().ca.issue_server(["localhost"], key_type="ec384")
    alice = pki().client
    extra: dict[str, Any] = {
        "hello-retry": {"groups": ["secp384r1"]},
        "0-rtt": {"max_early_data_size": 1024},
        "client-certificate": {"client_auth": "required",
                               "client_trust_anchors": [pki().ca.root]},
    }[case]
    client = client_config(
        groups=["x25519", "secp384r1"],
        certificates=[CertifiedKey(alice.chain, alice.private_key)]
        if case == "client-certificate" else ())
    _, _, events = connected(server=server_config(session_store=store, **extra),
                             client=client)
    session = next(e.session for e in events if isinstance(e, SessionTicketReceived))
    again = ClientConnection(client, "localhost", session=session,
                             early_data=b"early" if case == "0-rtt" else b"")
    steps: list[Any] = []
    s2 = ServerConnection(server_config(session_store=store, certificate_chain=b.chain,
                                        private_key=b.private_key,
                                        tracer=lambda step, _: steps.append(step), **extra))
    pump(again, s2)
    hc = s2.handshake_complete
    assert hc is not None and hc.resumed
    if case == "hello-retry":
        assert "hello_retry_request" in steps
    if case == "0-rtt":
        assert again.early_data_sent and hc.early_data_accepted
    if case == "client-certificate":
        assert hc.peer_certificates[0] == alice.chain[0]
    want = hashlib.sha256(der(a.chain[0])).digest()
    assert again.channel_binding("tls-server-end-point") == want
    assert s2.channel_binding("tls-server-end-point") == want


def test_tickets_from_a_resumed_connection_keep_the_original_certificate() -> None:
    """TLS 1.3: the tickets a resumed connection issues seal the session's binding (not
    the rotated config's certificate, nor none), so a second resumption binds to A too."""
    from tlskit.sessionstore import MemoryStore
    store = MemoryStore()
    a, b = pki().server, pki().ca.issue_server(["localhost"], key_type="ec384")
    after = server_config(session_store=store, certificate_chain=b.chain,
                          private_key=b.private_key)
    cache = SessionCache()
    client = client_config(session_cache=cache)
    connected(server=server_config(session_store=store), client=client)
    for _ in range(2):
        c = ClientConnection(client, "localhost")
        s = ServerConnection(after)
        pump(c, s)
        assert s.handshake_complete is not None and s.handshake_complete.resumed
        want = hashlib.sha256(der(a.chain[0])).digest()
        assert c.channel_binding("tls-server-end-point") == want
        assert s.channel_binding("tls-server-end-point") == want


def test_a_raw_public_key_server_has_no_server_end_point() -> None:
    """A server that authenticated with an RFC 7250 raw key sent no certificate: a
    UsageError saying so on both sides (before: the server raised IndexError)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from tlskit import RawPublicKey
    key = RawPublicKey(ec.generate_private_key(ec.SECP256R1()))
    c, s, _ = connected(server=ServerConfig(raw_public_key=key),
                        client=ClientConfig(pinned_server_keys=[key.spki]))
    with pytest.raises(UsageError, match="raw public key"):
        c.channel_binding("tls-server-end-point")
    with pytest.raises(UsageError, match="raw public key"):
        s.channel_binding("tls-server-end-point")


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_a_resumed_raw_key_session_has_no_server_end_point(version: str) -> None:
    """A session the server's raw key authenticated records "none" (not "unknown"): on
    its resumption the server refuses the binding like the client, though its config
    also has one certificate, the one an unrecorded session would bind to."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from tlskit import RawPublicKey
    from tlskit.sessionstore import MemoryStore
    key = RawPublicKey(ec.generate_private_key(ec.SECP256R1()))
    cfg = server_config(raw_public_key=key, session_store=MemoryStore(),
                        versions=[version])
    client = ClientConfig(pinned_server_keys=[key.spki], versions=[version],
                          legacy_session_ticket=True)
    _, _, events = connected(version, server=cfg, client=client)
    session = next(e.session for e in events if isinstance(e, SessionTicketReceived))
    again = ClientConnection(client, "localhost", session=session)
    s2 = ServerConnection(cfg)
    pump(again, s2)
    assert s2.handshake_complete is not None and s2.handshake_complete.resumed
    with pytest.raises(UsageError, match="raw public key"):
        again.channel_binding("tls-server-end-point")
    with pytest.raises(UsageError, match="resumed no session made with one"):
        s2.channel_binding("tls-server-end-point")


def _as_previous_release(cfg: ServerConfig, store: Any, session: Any) -> None:
    """Re-seal ``session``'s ticket (or TLS 1.2 session-ID entry) as the previous tlskit
    wrote it: the same layout without the binding's flag (32) and the length and bytes
    that end the state now."""
    from tlskit.session import TicketSealer, encode_state
    from tlskit.sessionstore import GuardedStore
    sealer = TicketSealer(GuardedStore(store), cfg.clock)
    sealed = session.ticket or store.get_session(session.session_id)
    state = sealer.open(sealed)
    assert state is not None and state.server_end_point  # recorded now
    body = bytearray(encode_state(state))
    assert body[1] & 32 and body[-1 - len(state.server_end_point)] == 32
    body[1] &= ~32
    del body[-1 - len(state.server_end_point):]
    [old] = sealer.seal_many([bytes(body)], [bytes(12)])  # type: ignore[misc]
    if session.ticket:
        session.ticket = old
    else:
        store.put_session(session.session_id, old, 60)


def test_a_previous_release_ticket_binds_as_that_release_did() -> None:
    """A ticket sealed before sessions recorded the binding resumes, and its server
    binds as the previous release did: to its one configured certificate (the client's,
    unless it rotated since). The tickets that connection issues record that binding,
    so a client that keeps resuming keeps it after a rotation (before: the server
    refused the binding on such a connection and on every resumption that followed)."""
    from tlskit.sessionstore import MemoryStore
    store = MemoryStore(fixed_key=bytes(32))
    cfg = server_config(session_store=store)
    _, _, events = connected(server=cfg)
    session = next(e.session for e in events if isinstance(e, SessionTicketReceived))
    _as_previous_release(cfg, store, session)
    again = ClientConnection(client_config(), "localhost", session=session)
    s2 = ServerConnection(cfg)
    events = pump(again, s2)
    assert s2.handshake_complete is not None and s2.handshake_complete.resumed
    want = hashlib.sha256(der(pki().server.chain[0])).digest()
    assert again.channel_binding("tls-server-end-point") == want
    assert s2.channel_binding("tls-server-end-point") == want
    b = pki().ca.issue_server(["localhost"], key_type="ec384")
    rotated = server_config(session_store=store, certificate_chain=b.chain,
                            private_key=b.private_key)
    later = next(e.session for e in events if isinstance(e, SessionTicketReceived))
    third = ClientConnection(client_config(), "localhost", session=later)
    s3 = ServerConnection(rotated)
    pump(third, s3)
    assert s3.handshake_complete is not None and s3.handshake_complete.resumed
    assert third.channel_binding("tls-server-end-point") == want
    assert s3.channel_binding("tls-server-end-point") == want


@pytest.mark.parametrize("ticket", [True, False], ids=["ticket", "session-id"])
def test_a_previous_release_tls12_session_binds_as_that_release_did(ticket: bool) -> None:
    """The same for a TLS 1.2 ticket (the ticket renewed on resumption records the
    binding) and a TLS 1.2 session-ID entry."""
    from tlskit.sessionstore import MemoryStore
    store = MemoryStore(fixed_key=bytes(32))
    cfg = server_config(session_store=store, versions=["TLSv1.2"])
    client = client_config(versions=["TLSv1.2"], legacy_session_ticket=ticket)
    _, _, events = connected("TLSv1.2", server=cfg, client=client)
    session = next(e.session for e in events if isinstance(e, SessionTicketReceived))
    _as_previous_release(cfg, store, session)
    again = ClientConnection(client, "localhost", session=session)
    s2 = ServerConnection(cfg)
    events = pump(again, s2)
    assert s2.handshake_complete is not None and s2.handshake_complete.resumed
    want = hashlib.sha256(der(pki().server.chain[0])).digest()
    assert again.channel_binding("tls-server-end-point") == want
    assert s2.channel_binding("tls-server-end-point") == want
    if not ticket:
        return  # (a session ID names the same entry: nothing renewed)
    renewed = next(e.session for e in events if isinstance(e, SessionTicketReceived))
    b = pki().ca.issue_server(["localhost"], key_type="ec384")
    third = ClientConnection(client, "localhost", session=renewed)
    s3 = ServerConnection(server_config(session_store=store, versions=["TLSv1.2"],
                                        certificate_chain=b.chain, private_key=b.private_key))
    pump(third, s3)
    assert s3.handshake_complete is not None and s3.handshake_complete.resumed
    assert s3.channel_binding("tls-server-end-point") == want


def test_a_previous_release_ticket_with_no_single_certificate_gives_none() -> None:
    """With several certificates the server cannot tell which one an unrecorded
    session was made with: a UsageError, never a guess among them."""
    from tlskit.sessionstore import MemoryStore
    store = MemoryStore(fixed_key=bytes(32))
    b = pki().ca.issue_server(["localhost"], key_type="ec384")
    cfg = server_config(session_store=store,
                        certificates=[CertifiedKey(b.chain, b.private_key)])
    _, _, events = connected(server=cfg)
    session = next(e.session for e in events if isinstance(e, SessionTicketReceived))
    _as_previous_release(cfg, store, session)
    again = ClientConnection(client_config(), "localhost", session=session)
    s2 = ServerConnection(cfg)
    pump(again, s2)
    assert s2.handshake_complete is not None and s2.handshake_complete.resumed
    with pytest.raises(UsageError, match="several certificates"):
        s2.channel_binding("tls-server-end-point")


def test_tls_unique_only_in_tls12() -> None:
    c, s, _ = connected("TLSv1.2")
    assert c.channel_binding("tls-unique") == s.channel_binding("tls-unique") == c.tls_unique
    c, s, _ = connected("TLSv1.3")
    for conn in (c, s):
        with pytest.raises(UsageError, match=r"tls-unique is undefined here: TLS 1\.3 has none"):
            conn.channel_binding("tls-unique")


def test_unknown_type_names_the_known_ones() -> None:
    c, _, _ = connected()
    with pytest.raises(ValueError, match=r"unknown channel binding type 'tls-foo': tlskit "
                                         r"knows 'tls-exporter', 'tls-server-end-point', "
                                         r"'tls-unique'") as err:
        c.channel_binding("tls-foo")
    assert not isinstance(err.value, UsageError)
    assert CHANNEL_BINDING_TYPES == ("tls-exporter", "tls-server-end-point", "tls-unique")


@pytest.mark.parametrize("cb_type", CHANNEL_BINDING_TYPES)
def test_refused_before_the_handshake(cb_type: str) -> None:
    for conn in (ClientConnection(client_config(), "localhost"),
                 ServerConnection(server_config())):
        with pytest.raises(UsageError, match="channel bindings need a completed handshake"):
            conn.channel_binding(cb_type)


# -- tls-server-end-point by the leaf's signature algorithm (RFC 5929 4.1) -----------------

def issued(ca_kind: str, hash_name: str | None = None, pss: bool = False) -> tuple[Issued, Issued]:
    """A root of ``ca_kind`` and a localhost leaf (P-256) it signs as asked."""
    ca = root(f"cb root {ca_kind} {hash_name} {pss}", key_kind=ca_kind, **WINDOW)
    leaf = make("localhost", ca, sans=["localhost"], eku=[SERVER_AUTH], hash_name=hash_name,
                pss=pss, **WINDOW)
    return ca, leaf


def over(ca: Issued, leaf: Issued) -> tuple[ClientConnection, ServerConnection]:
    c, s, _ = connected(server=ServerConfig(certificate_chain=[leaf.cert],
                                            private_key=leaf.key),
                        client=ClientConfig(trust_anchors=[ca.cert]))
    return c, s


@pytest.mark.parametrize(("ca_kind", "hash_name", "pss", "digest"), [
    pytest.param("ec384", "sha384", False, hashlib.sha384, id="ecdsa-sha384"),
    pytest.param("rsa2048", "sha384", True, hashlib.sha384, id="rsa-pss-sha384"),
    pytest.param("rsa2048", "sha512", False, hashlib.sha512, id="rsa-sha512"),
])
def test_the_signatures_hash(ca_kind: str, hash_name: str, pss: bool, digest: Any) -> None:
    """ECDSA-SHA384 and RSA-PSS with SHA-384 (MGF1-SHA384, one hash function) hash the
    DER with SHA-384; RSA-SHA512 with SHA-512: both sides agree."""
    ca, leaf = issued(ca_kind, hash_name, pss)
    c, s = over(ca, leaf)
    want = digest(der(leaf.cert)).digest()
    assert c.channel_binding("tls-server-end-point") == want
    assert s.channel_binding("tls-server-end-point") == want


def test_ed25519_signed_leaf_is_refused() -> None:
    """Ed25519 uses no single hash function: RFC 5929 4.1 leaves the binding undefined,
    so both sides refuse (as PostgreSQL does) rather than invent one."""
    ca, leaf = issued("ed25519")
    c, s = over(ca, leaf)
    for conn in (c, s):
        with pytest.raises(UsageError, match=r"undefined for this certificate: its signature "
                                             r"algorithm \(ed25519\) uses no single hash"):
            conn.channel_binding("tls-server-end-point")
        assert len(conn.channel_binding("tls-exporter")) == 32  # the way out


# sha256WithRSAEncryption's OID as DER, and the same for MD5 and SHA-1 (RFC 8017 A.2.4).
RSA_SHA256_OID = bytes.fromhex("06092a864886f70d01010b")
WEAK_OIDS = {"md5": bytes.fromhex("06092a864886f70d010104"),
             "sha1": bytes.fromhex("06092a864886f70d010105")}


@pytest.mark.parametrize("hash_name", ["sha1", "md5"])
def test_md5_and_sha1_become_sha256(hash_name: str) -> None:
    """RFC 5929 4.1: a certificate signed with MD5 or SHA-1 is hashed with SHA-256.
    `cryptography` no longer signs with them, so an RSA-SHA256 certificate has its
    algorithm identifiers rewritten (the binding never checks the signature; such a leaf
    would not validate, so the rule is checked on the certificate alone)."""
    _, leaf = issued("rsa2048", "sha256")
    raw = der(leaf.cert)
    assert raw.count(RSA_SHA256_OID) == 2  # in tbsCertificate and in the outer SEQUENCE
    weak = x509.load_der_x509_certificate(raw.replace(RSA_SHA256_OID, WEAK_OIDS[hash_name]))
    assert weak.signature_hash_algorithm is not None
    assert weak.signature_hash_algorithm.name == hash_name
    assert tls_server_end_point(weak) == hashlib.sha256(der(weak)).digest()


def test_rsa_pss_with_two_hash_functions_is_refused() -> None:
    """RSA-PSS hashing with SHA-384 but masking with MGF1-SHA256 uses two hash functions:
    undefined (RFC 5929 4.1)."""
    ca = root("cb root mixed pss", key_kind="rsa2048", **WINDOW)
    builder = (x509.CertificateBuilder().subject_name(ca.subject).issuer_name(ca.subject)
               .public_key(ca.key.public_key()).serial_number(7)
               .not_valid_before(WINDOW["not_before"]).not_valid_after(WINDOW["not_after"]))
    cert = builder.sign(ca.key, hashes.SHA384(),
                        rsa_padding=padding.PSS(padding.MGF1(hashes.SHA256()), 32))
    with pytest.raises(UsageError, match="RSA-PSS signature hashes with sha384 and masks "
                                         "with MGF1-sha256, two hash functions"):
        tls_server_end_point(cert)


def test_an_external_psk_connection_has_no_server_end_point() -> None:
    """Authenticated by an external PSK, the server sent no certificate: neither side
    gives tls-server-end-point (the server does not fall back to its configured one);
    tls-exporter binds the connection."""
    key = ExternalPsk(b"device-1", bytes(range(32)))
    c, s, _ = connected(server=server_config(external_psks=[key]),
                        client=client_config(external_psks=[key], versions=["TLSv1.3"]))
    assert s.handshake_complete is not None
    assert s.handshake_complete.external_psk_identity == b"device-1"
    with pytest.raises(UsageError, match="the server authenticated with no certificate"):
        c.channel_binding("tls-server-end-point")
    with pytest.raises(UsageError, match="this connection sent no certificate"):
        s.channel_binding("tls-server-end-point")
    assert c.channel_binding("tls-exporter") == s.channel_binding("tls-exporter")
