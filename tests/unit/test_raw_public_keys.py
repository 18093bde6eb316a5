"""RFC 7250 raw public keys between two tlskit connections, TLS 1.3 and TLS 1.2: the
server's key, the client's key, the type negotiation, every refusal with its alert, and
resumption remembering the key."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tlskit import (
    AlertDescription,
    AlertReceived,
    CertifiedKey,
    ClientConfig,
    ClientConnection,
    ConnectionClosed,
    DataReceived,
    RawPublicKey,
    ServerConfig,
    ServerConnection,
    SessionCache,
    SignatureScheme,
    TLSError,
)
from tlskit.enums import ExtensionType as E
from tlskit.wire import messages as m

from ..support.pki import client_config, pki, server_config
from ..support.pump import pump

AD = AlertDescription
VERSIONS = [["TLSv1.3"], ["TLSv1.2"]]
IDS = ["tls13", "tls12"]
SERVER_KEY = RawPublicKey(ec.generate_private_key(ec.SECP256R1()))
CLIENT_KEY = RawPublicKey(ed25519.Ed25519PrivateKey.generate())
STRANGER = RawPublicKey(ec.generate_private_key(ec.SECP256R1()))


def spki(key: Any) -> bytes:
    return bytes(key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo))


def connect(client: ClientConfig, server: ServerConfig, name: str | None = "localhost"
            ) -> tuple[ClientConnection, ServerConnection]:
    c = ClientConnection(client, name)
    s = ServerConnection(server)
    pump(c, s)
    assert c.handshake_complete is not None and s.handshake_complete is not None
    return c, s


def failure(client: ClientConfig, server: ServerConfig) -> tuple[TLSError, AlertDescription,
                                                                 str]:
    """Run the pair until one side fails: (its error, the alert the other side read,
    "client" or "server" for the side that failed)."""
    c = ClientConnection(client, "localhost")
    s = ServerConnection(server)
    sides: list[tuple[Any, Any, str]] = [(c, s, "client"), (s, c, "server")]
    for _ in range(10):
        for me, peer, who in sides:
            data = me.data_to_send()
            if not data:
                continue
            try:
                peer.receive_data(data)
            except AlertReceived as got:
                raise AssertionError(f"{who}'s peer got an alert first: {got}") from None
            except TLSError as exc:
                [closed] = me.receive_data(peer.data_to_send())
                assert isinstance(closed, ConnectionClosed)
                assert closed.alert is not None
                return exc, closed.alert, "server" if who == "client" else "client"
    raise AssertionError("no side failed")


@pytest.mark.parametrize("versions", VERSIONS, ids=IDS)
def test_server_raw_key_pinned_by_the_client(versions: list[str]) -> None:
    c, s = connect(ClientConfig(pinned_server_keys=[SERVER_KEY.spki], versions=versions),
                   ServerConfig(raw_public_key=SERVER_KEY, versions=versions))
    hc = c.handshake_complete
    assert hc is not None and hc.version == versions[0]
    assert hc.peer_raw_public_key == SERVER_KEY.spki and hc.peer_certificates == []
    assert hc.signature_scheme is not None
    assert s.handshake_complete is not None and s.handshake_complete.peer_raw_public_key is None
    c.send_data(b"over a pinned key")
    assert DataReceived(b"over a pinned key") in s.receive_data(c.data_to_send())


@pytest.mark.parametrize("versions", VERSIONS, ids=IDS)
@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_client_raw_key_both_ways(versions: list[str], kind: str) -> None:
    key = (ed25519.Ed25519PrivateKey.generate() if kind == "ed25519"
           else rsa.generate_private_key(65537, 2048))
    mine = RawPublicKey(key)
    _c, s = connect(
        ClientConfig(pinned_server_keys=[SERVER_KEY.private_key.public_key()],
                     raw_public_key=mine, versions=versions),
        ServerConfig(raw_public_key=SERVER_KEY, client_auth="required",
                     pinned_client_keys=[key.public_key()], versions=versions))
    assert s.handshake_complete is not None
    assert s.handshake_complete.peer_raw_public_key == mine.spki
    assert s.handshake_complete.peer_certificates == []


def hello_types(config: ClientConfig) -> tuple[bytes | None, bytes | None]:
    c = ClientConnection(config, "localhost")
    ch = m.ClientHello.decode(memoryview(c.data_to_send())[9:])
    return (ch.extensions.get(E.server_certificate_type),
            ch.extensions.get(E.client_certificate_type))


def test_what_the_client_offers() -> None:
    assert hello_types(ClientConfig()) == (None, None)  # a plain client: nothing
    # Pins alone: RawPublicKey only (no fallback to the system store's web PKI).
    assert hello_types(ClientConfig(pinned_server_keys=[SERVER_KEY.spki])) == (b"\x01\x02",
                                                                                None)
    # Pins and roots: RawPublicKey first, X.509 after it.
    assert hello_types(client_config(pinned_server_keys=[SERVER_KEY.spki])) == (
        b"\x02\x02\x00", None)
    assert hello_types(client_config(raw_public_key=CLIENT_KEY)) == (None, b"\x01\x02")
    both = client_config(raw_public_key=CLIENT_KEY, certificate=CertifiedKey(
        pki().client.chain, pki().client.private_key))
    assert hello_types(both) == (None, b"\x02\x02\x00")



def test_compat_context_with_pins_offers_x509_too_unless_told() -> None:
    """docs/raw-public-keys.md: a compat SSLContext has a verifier (its CA store), so pins
    set through tlskit_configure come with X.509 after them; verifier=None leaves the
    pins alone."""
    from tlskit import compat
    ctx = compat.create_default_context()
    ctx.tlskit_configure(pinned_server_keys=[SERVER_KEY.spki])
    assert hello_types(ctx.tlskit_client_config) == (b"\x02\x02\x00", None)
    ctx.tlskit_configure(pinned_server_keys=[SERVER_KEY.spki], verifier=None)
    assert hello_types(ctx.tlskit_client_config) == (b"\x01\x02", None)

@pytest.mark.parametrize("versions", VERSIONS, ids=IDS)
def test_server_with_both_serves_what_the_client_prefers(versions: list[str]) -> None:
    server = server_config(raw_public_key=SERVER_KEY, versions=versions)
    c, _ = connect(client_config(pinned_server_keys=[SERVER_KEY.spki], versions=versions),
                   server)
    assert c.handshake_complete is not None
    assert c.handshake_complete.peer_raw_public_key == SERVER_KEY.spki
    c, _ = connect(client_config(versions=versions), server)  # no pins: X.509
    assert c.handshake_complete is not None
    assert c.handshake_complete.peer_raw_public_key is None
    assert c.handshake_complete.peer_certificates[0] == pki().server.chain[0]


@pytest.mark.parametrize("versions", VERSIONS, ids=IDS)
def test_raw_key_the_client_cannot_verify_falls_back_to_the_certificate(
        versions: list[str]) -> None:
    """A server with an Ed25519 raw key and a P-256 certificate, a client preferring
    RawPublicKey, taking X.509 too, but not Ed25519 signatures: the raw key cannot serve
    it, the certificate can, so the certificate is served (before: handshake_failure).
    A client taking RawPublicKey alone still gets handshake_failure, naming the schemes."""
    ed_key = RawPublicKey(ed25519.Ed25519PrivateKey.generate())
    server = server_config(raw_public_key=ed_key, versions=versions)
    schemes = ["ecdsa_secp256r1_sha256", "rsa_pss_rsae_sha256"]
    c, _ = connect(client_config(pinned_server_keys=[ed_key.spki], versions=versions,
                                 signature_schemes=schemes), server)
    hc = c.handshake_complete
    assert hc is not None and hc.peer_raw_public_key is None
    assert hc.peer_certificates[0] == pki().server.chain[0]
    exc, alert, who = failure(ClientConfig(pinned_server_keys=[ed_key.spki],
                                           versions=versions, signature_schemes=schemes),
                              server)
    assert (who, alert) == ("server", AD.handshake_failure)
    assert "ed25519" in str(exc)


@pytest.mark.parametrize("versions", VERSIONS, ids=IDS)
def test_client_with_pins_and_roots_takes_a_certificate(versions: list[str]) -> None:
    # The server has no raw key: X.509, validated with the host name as ever.
    c, _ = connect(client_config(pinned_server_keys=[SERVER_KEY.spki], versions=versions),
                   server_config(versions=versions))
    assert c.handshake_complete is not None and c.handshake_complete.peer_certificates


@pytest.mark.parametrize("versions", VERSIONS, ids=IDS)
def test_only_raw_keys_offered_to_a_server_without_one(versions: list[str]) -> None:
    exc, alert, who = failure(ClientConfig(pinned_server_keys=[SERVER_KEY.spki],
                                           versions=versions),
                              server_config(versions=versions))
    assert (who, alert, exc.alert) == ("server", AD.unsupported_certificate,
                                       AD.unsupported_certificate)
    assert "RFC 7250" in str(exc) and "RawPublicKey" in str(exc)


@pytest.mark.parametrize("versions", VERSIONS, ids=IDS)
def test_unpinned_server_key_is_bad_certificate_naming_it(versions: list[str]) -> None:
    exc, alert, who = failure(ClientConfig(pinned_server_keys=[STRANGER.spki],
                                           versions=versions),
                              ServerConfig(raw_public_key=SERVER_KEY, versions=versions))
    assert (who, alert) == ("client", AD.bad_certificate)
    fingerprint = hashlib.sha256(SERVER_KEY.spki).hexdigest()
    assert fingerprint in str(exc) and "pinned_server_keys" in str(exc)
    assert SERVER_KEY.fingerprint == fingerprint



@pytest.mark.parametrize("versions", VERSIONS, ids=IDS)
def test_unpinned_key_is_fatal_even_with_verify_mode_report(versions: list[str]) -> None:
    """verify_mode="report" turns a certificate's validation failure into
    `verification_error`; a key that is not pinned stays fatal: a pin is the config's own
    statement of the one key it takes (nothing else decides whether to trust it), and the
    error already names the key's SHA-256 for diagnostics."""
    exc, alert, who = failure(ClientConfig(pinned_server_keys=[STRANGER.spki],
                                           verify_mode="report", versions=versions),
                              ServerConfig(raw_public_key=SERVER_KEY, versions=versions))
    assert (who, alert) == ("client", AD.bad_certificate)
    assert SERVER_KEY.fingerprint in str(exc)

@pytest.mark.parametrize("versions", VERSIONS, ids=IDS)
def test_unpinned_client_key_is_bad_certificate(versions: list[str]) -> None:
    exc, alert, who = failure(
        ClientConfig(pinned_server_keys=[SERVER_KEY.spki], raw_public_key=CLIENT_KEY,
                     versions=versions),
        ServerConfig(raw_public_key=SERVER_KEY, client_auth="required",
                     pinned_client_keys=[STRANGER.spki], versions=versions))
    assert (who, alert) == ("server", AD.bad_certificate)
    assert CLIENT_KEY.fingerprint in str(exc) and "pinned_client_keys" in str(exc)


@pytest.mark.parametrize("versions", VERSIONS, ids=IDS)
def test_raw_key_only_server_refuses_a_plain_client(versions: list[str]) -> None:
    exc, alert, who = failure(client_config(versions=versions),
                              ServerConfig(raw_public_key=SERVER_KEY, versions=versions))
    assert (who, alert) == ("server", AD.handshake_failure)
    assert "only a raw public key" in str(exc)


@pytest.mark.parametrize("versions", VERSIONS, ids=IDS)
def test_client_raw_key_to_a_server_taking_certificates_only(versions: list[str]) -> None:
    # client_auth "required" with roots only: no type in common (RFC 7250 4.2).
    _exc, alert, who = failure(
        client_config(raw_public_key=CLIENT_KEY, versions=versions),
        server_config(client_auth="required", client_trust_anchors=[pki().ca.root],
                      versions=versions))
    assert (who, alert) == ("server", AD.unsupported_certificate)
    # "optional": the extension is left out; the client sends no certificate.
    _c, s = connect(client_config(raw_public_key=CLIENT_KEY, versions=versions),
                   server_config(client_auth="optional",
                                 client_trust_anchors=[pki().ca.root], versions=versions))
    assert s.handshake_complete is not None
    assert s.handshake_complete.peer_raw_public_key is None


@pytest.mark.parametrize("versions", VERSIONS, ids=IDS)
def test_pins_only_server_refuses_an_x509_client_certificate(versions: list[str]) -> None:
    alice = CertifiedKey(pki().client.chain, pki().client.private_key)
    exc, alert, who = failure(
        client_config(certificate=alice, versions=versions),
        server_config(client_auth="required", pinned_client_keys=[CLIENT_KEY.spki],
                      versions=versions))
    assert (who, alert) == ("server", AD.unsupported_certificate)
    assert "pinned_client_keys" in str(exc)


@pytest.mark.parametrize("versions", VERSIONS, ids=IDS)
def test_resumption_remembers_the_raw_keys(versions: list[str]) -> None:
    cache = SessionCache()
    client = ClientConfig(pinned_server_keys=[SERVER_KEY.spki], raw_public_key=CLIENT_KEY,
                          session_cache=cache, versions=versions)
    server = ServerConfig(raw_public_key=SERVER_KEY, client_auth="required",
                          pinned_client_keys=[CLIENT_KEY.spki], versions=versions)
    c, s = connect(client, server)
    c.send_data(b"x")  # (TLS 1.3 tickets arrive after the handshake)
    pump(c, s)
    c2, s2 = connect(client, server)
    assert c2.handshake_complete is not None and s2.handshake_complete is not None
    assert c2.handshake_complete.resumed and s2.handshake_complete.resumed
    assert c2.handshake_complete.peer_raw_public_key == SERVER_KEY.spki
    assert s2.handshake_complete.peer_raw_public_key == CLIENT_KEY.spki
    # A client whose pins changed does not resume the session of another key.
    other = ClientConfig(pinned_server_keys=[STRANGER.spki], session_cache=cache,
                         versions=versions)
    with pytest.raises(TLSError):
        connect(other, ServerConfig(raw_public_key=SERVER_KEY, versions=versions))


@pytest.mark.parametrize("versions", VERSIONS, ids=IDS)
def test_server_resumes_a_client_key_only_while_pinned(versions: list[str]) -> None:
    cache = SessionCache()
    client = ClientConfig(pinned_server_keys=[SERVER_KEY.spki], raw_public_key=CLIENT_KEY,
                          session_cache=cache, versions=versions)
    server = ServerConfig(raw_public_key=SERVER_KEY, client_auth="required",
                          pinned_client_keys=[CLIENT_KEY.spki], versions=versions,
                          ticket_key=bytes(32))
    c, s = connect(client, server)
    c.send_data(b"x")
    pump(c, s)
    repinned = server.replace(pinned_client_keys=[CLIENT_KEY.spki, STRANGER.spki])
    _c2, s2 = connect(client, repinned)
    assert s2.handshake_complete is not None and not s2.handshake_complete.resumed
    assert s2.handshake_complete.peer_raw_public_key == CLIENT_KEY.spki



def test_unnamed_client_with_psks_takes_a_pinned_key() -> None:
    """A client dialling no name (an address) with external PSKs refuses a certificate
    when the server takes none of them (it could not check one against a name); a raw
    key needs no name: the pin authenticates it (before: handshake_failure)."""
    from tlskit import ExternalPsk
    c, _s = connect(ClientConfig(pinned_server_keys=[SERVER_KEY.spki],
                                 external_psks=[ExternalPsk(b"device-1", bytes(32))]),
                    ServerConfig(raw_public_key=SERVER_KEY), name=None)
    hc = c.handshake_complete
    assert hc is not None and hc.peer_raw_public_key == SERVER_KEY.spki
    assert hc.external_psk_identity is None

def test_config_refusals() -> None:
    with pytest.raises(ValueError, match="not a DER SubjectPublicKeyInfo"):
        ClientConfig(pinned_server_keys=[b"\x30\x03\x02\x01\x00"])
    with pytest.raises(TypeError, match="pinned_server_keys takes"):
        ClientConfig(pinned_server_keys=SERVER_KEY.spki)  # one key, not a list
    with pytest.raises(TypeError, match="public keys"):
        ServerConfig(raw_public_key=SERVER_KEY, pinned_client_keys=["a pem string"])
    with pytest.raises(TypeError, match="RawPublicKey"):
        ServerConfig(raw_public_key=SERVER_KEY.private_key)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="private key"):
        RawPublicKey(SERVER_KEY.spki)
    # A server with a raw key alone is a server (no certificate needed).
    assert ServerConfig(raw_public_key=SERVER_KEY).raw_public_key is SERVER_KEY


def test_raw_public_key_files(tmp_path: Any) -> None:
    from cryptography.hazmat.primitives.serialization import (
        NoEncryption,
        PrivateFormat,
        load_pem_public_key,
    )
    path = tmp_path / "k.pem"
    path.write_bytes(SERVER_KEY.private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8,
                                                          NoEncryption()))
    loaded = RawPublicKey.from_file(path)
    assert loaded.spki == SERVER_KEY.spki
    assert spki(load_pem_public_key(loaded.public_pem())) == SERVER_KEY.spki


def test_post_handshake_authentication_with_a_raw_key() -> None:
    """RFC 8446 4.6.2 after RFC 7250 negotiated the client's type: the later Certificate
    is the raw key too, checked against the pins and reported."""
    from tlskit import ClientCertificateReceived
    c, s = connect(ClientConfig(pinned_server_keys=[SERVER_KEY.spki],
                                raw_public_key=CLIENT_KEY, post_handshake_auth=True),
                   ServerConfig(raw_public_key=SERVER_KEY, client_auth="optional",
                                pinned_client_keys=[CLIENT_KEY.spki]))
    s.request_client_certificate()
    events = pump(s, c)
    [got] = [e for e in events if isinstance(e, ClientCertificateReceived)]
    assert got.peer_raw_public_key == CLIENT_KEY.spki and got.peer_certificates == []


# A client that trusts the "system" store (a root given through SSL_CERT_FILE, in a
# subprocess: the store is loaded once per process) and a pinning client share a
# SessionCache; the server holds a certificate from that root, not the pinned key.
_SHARED_CACHE = """
import os, sys
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from tlskit import (ClientConfig, ClientConnection, RawPublicKey, ServerConfig,
                    ServerConnection, SessionCache, TLSError)
from tlskit.ca import LocalCA
ca = LocalCA.create(directory=None)
leaf = ca.issue_server(["localhost"])
with open(sys.argv[1], "wb") as f:
    f.write(ca.root.public_bytes(Encoding.PEM))
os.environ["SSL_CERT_FILE"] = sys.argv[1]
versions = [sys.argv[2]]
server = ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key,
                      versions=versions)
cache = SessionCache()
pinned = RawPublicKey(ec.generate_private_key(ec.SECP256R1())).spki

def run(config):
    c, s = ClientConnection(config, "localhost"), ServerConnection(server)
    for _ in range(4):
        s.receive_data(c.data_to_send())
        c.receive_data(s.data_to_send())
    return c.handshake_complete

web = run(ClientConfig(session_cache=cache, versions=versions))
assert web is not None and not web.resumed
try:
    hc = run(ClientConfig(pinned_server_keys=[pinned], session_cache=cache,
                          versions=versions))
except TLSError as exc:
    print(exc.alert.name)
else:
    print("resumed" if hc is not None and hc.resumed else "completed")
"""


@pytest.mark.parametrize("versions", VERSIONS, ids=IDS)
def test_pinning_client_never_resumes_a_session_a_certificate_made(
        versions: list[str], tmp_path: Any) -> None:
    """A client with pins and no trust anchors takes no X.509 certificate in a full
    handshake (unsupported_certificate), so it must not take one through a session either:
    an X.509 session of a web-PKI client sharing its SessionCache would stand in for the
    pinned key (before: resumed, the pin never checked)."""
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-c", _SHARED_CACHE, str(tmp_path / "root.pem"),
                           versions[0]], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "unsupported_certificate"


def _rsassa_pss_spki(key: Any) -> bytes:
    """``key``'s SPKI under the id-RSASSA-PSS OID (no parameters), as GnuTLS and
    ``openssl genpkey -algorithm RSA-PSS`` write such keys."""
    der = spki(key)
    assert der[4:19] == bytes.fromhex("300d06092a864886f70d0101010500")  # rsaEncryption
    body = bytes.fromhex("300b06092a864886f70d01010a") + der[19:]
    return b"\x30\x82" + len(body).to_bytes(2, "big") + body


def _unusable_keys() -> list[tuple[str, Any]]:
    import warnings

    from cryptography.hazmat.primitives.asymmetric import dh, dsa, x448, x25519
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (DSA is deprecated)
        dsa_key = dsa.generate_private_key(1024)
        dh_key = dh.generate_parameters(2, 512).generate_private_key()  # (FFDH deprecated)
    return [("X25519", x25519.X25519PrivateKey.generate()),
            ("X448", x448.X448PrivateKey.generate()),
            ("DH", dh_key),
            ("DSA", dsa_key),
            ("EC secp256k1", ec.generate_private_key(ec.SECP256K1())),
            ("EC brainpoolP256r1", ec.generate_private_key(ec.BrainpoolP256R1()))]


@pytest.mark.filterwarnings("ignore:Diffie-Hellman")  # (a DH pin parsed to refuse it)
def test_pins_and_raw_keys_that_cannot_sign_are_refused() -> None:
    """A key no TLS signature scheme uses could never authenticate: refused when the
    config is made, naming its type and what is supported (before: pins were taken and
    every handshake failed; RawPublicKey said only that it "cannot sign")."""
    for kind, private in _unusable_keys():
        public = private.public_key()
        der = spki(public)
        for pin in (public, der):
            with pytest.raises(ValueError, match=f"pinned_server_keys: the key type {kind} "
                                                 "cannot sign TLS handshakes.*Ed25519"):
                ClientConfig(pinned_server_keys=[pin])
            with pytest.raises(ValueError, match=f"pinned_client_keys: the key type {kind} "):
                ServerConfig(raw_public_key=SERVER_KEY, pinned_client_keys=[pin])
        with pytest.raises(ValueError, match=f"RawPublicKey: the key type {kind} cannot"):
            RawPublicKey(private)
    # Every key type tlskit verifies is still taken, as an object and as SPKI bytes,
    # and so is an RSASSA-PSS SPKI.
    from cryptography.hazmat.primitives.asymmetric import ed448
    rsa_key = rsa.generate_private_key(65537, 2048)
    signers = [ec.generate_private_key(c) for c in (ec.SECP256R1(), ec.SECP384R1(),
                                                    ec.SECP521R1())]
    signers += [ed25519.Ed25519PrivateKey.generate(), ed448.Ed448PrivateKey.generate(),
                rsa_key]
    for private in signers:
        RawPublicKey(private)
        for pin in (private.public_key(), spki(private.public_key())):
            ClientConfig(pinned_server_keys=[pin])
            ServerConfig(raw_public_key=SERVER_KEY, pinned_client_keys=[pin])
    pss = _rsassa_pss_spki(rsa_key.public_key())
    assert ClientConfig(pinned_server_keys=[pss]).pinned_server_keys == (pss,)
    assert pss in ServerConfig(raw_public_key=SERVER_KEY, pinned_client_keys=[pss])._client_pins


def _info(config: ClientConfig, edit_hello: Any = None) -> Any:
    """The ClientHelloInfo an Acceptor makes of ``config``'s ClientHello."""
    from tlskit import Acceptor
    hello = ClientConnection(config, "localhost").data_to_send()
    if edit_hello is not None:
        ch = m.ClientHello.decode(memoryview(hello)[9:])
        edit_hello(ch)
        msg = ch.encode()
        hello = b"\x16\x03\x01" + len(msg).to_bytes(2, "big") + msg
    info = Acceptor().receive_data(hello)
    assert info is not None
    return info


def test_client_hello_info_shows_the_certificate_types() -> None:
    """RFC 7250 lists in ClientHelloInfo (before: not shown, so a chooser could not tell
    whether the client takes a raw key), and `supports` judges the type as well."""
    from tlskit.enums import CertificateType as CT
    alice = CertifiedKey(pki().client.chain, pki().client.private_key)
    server_ck = CertifiedKey(pki().server.chain, pki().server.private_key)
    plain = _info(client_config())
    assert (plain.server_certificate_types, plain.client_certificate_types) == ((), ())
    pins_only = _info(ClientConfig(pinned_server_keys=[SERVER_KEY.spki],
                                   raw_public_key=CLIENT_KEY, certificate=alice))
    assert pins_only.server_certificate_types == (CT.RawPublicKey,)
    assert pins_only.client_certificate_types == (CT.RawPublicKey, CT.X509)
    assert all(type(t) is CT for t in pins_only.client_certificate_types)
    both = _info(client_config(pinned_server_keys=[SERVER_KEY.spki]))
    assert both.server_certificate_types == (CT.RawPublicKey, CT.X509)
    assert both.server_certificate_types == (2, 0)  # (ints compare equal)
    # supports: a raw key only for a client taking one, a certificate only for one
    # taking X.509 (no list at all means X.509).
    assert pins_only.supports(SERVER_KEY) and both.supports(SERVER_KEY)
    assert not plain.supports(SERVER_KEY)
    assert not pins_only.supports(server_ck)
    assert both.supports(server_ck) and plain.supports(server_ck)
    # An unknown type stays an int; a malformed list is shown as absent.
    odd = _info(client_config(), lambda ch: ch.extensions.__setitem__(
        E.server_certificate_type, b"\x02\x03\x02"))
    assert odd.server_certificate_types == (3, CT.RawPublicKey)
    assert type(odd.server_certificate_types[0]) is int
    bad = _info(client_config(), lambda ch: ch.extensions.__setitem__(
        E.server_certificate_type, b"\x05\x02"))
    assert bad.server_certificate_types == ()


def test_certificate_resolver_returning_a_raw_key_is_refused_saying_what_to_do() -> None:
    """A resolver serves certificates: the RFC 7250 type is answered from the config
    before it runs, so a RawPublicKey from it is internal_error, with a message naming
    ServerConfig.raw_public_key and the per-client config choosers."""
    server = ServerConfig(certificate_resolver=lambda info: SERVER_KEY)  # type: ignore[arg-type,return-value]
    exc, alert, who = failure(client_config(), server)
    assert (who, alert) == ("server", AD.internal_error)
    assert "returned a RawPublicKey" in str(exc) and "raw_public_key" in str(exc)


# -- the raw key's curve (RFC 8422 5.1 in TLS 1.2; the scheme in TLS 1.3) -----------------

P384_KEY = RawPublicKey(ec.generate_private_key(ec.SECP384R1()))
NO_P384 = ["x25519", "secp256r1"]


def test_tls12_raw_key_on_a_curve_the_client_lacks_gives_way_to_the_certificate() -> None:
    """TLS 1.2: the server's P-384 raw key, a client whose supported_groups leave P-384
    out (RFC 8422 5.1: the server's ECDSA key must be on a curve the client lists, as
    for a certificate). A client taking X.509 too gets the P-256 certificate; one taking
    raw keys alone gets handshake_failure, whose message names the raw key and its
    curve (before: it spoke of "our ECDSA certificate's key")."""
    server = server_config(raw_public_key=P384_KEY, versions=["TLSv1.2"])
    c, _ = connect(client_config(pinned_server_keys=[P384_KEY.spki], versions=["TLSv1.2"],
                                 groups=NO_P384), server)
    hc = c.handshake_complete
    assert hc is not None and hc.peer_raw_public_key is None
    assert hc.peer_certificates[0] == pki().server.chain[0]
    exc, alert, who = failure(ClientConfig(pinned_server_keys=[P384_KEY.spki],
                                           versions=["TLSv1.2"], groups=NO_P384), server)
    assert (who, alert, exc.alert) == ("server", AD.handshake_failure, AD.handshake_failure)
    assert f"our raw public key (SHA-256 of SPKI {P384_KEY.fingerprint}) is on " \
           "secp384r1, which the client's supported_groups (x25519, secp256r1) leave out " \
           "(RFC 8422 5.1)" in str(exc)
    # With P-384 listed, the raw key serves (ECDSA with SHA-256, on any curve, in 1.2).
    c, _ = connect(client_config(pinned_server_keys=[P384_KEY.spki], versions=["TLSv1.2"],
                                 groups=[*NO_P384, "secp384r1"]), server)
    assert c.handshake_complete is not None
    assert c.handshake_complete.peer_raw_public_key == P384_KEY.spki


def test_tls13_curve_is_the_schemes_not_supported_groups() -> None:
    """TLS 1.3: supported_groups are key exchange groups only; the raw key's curve is
    bound by its scheme (ecdsa_secp384r1_sha384), which the client must accept."""
    server = ServerConfig(raw_public_key=P384_KEY, versions=["TLSv1.3"])
    c, _ = connect(ClientConfig(pinned_server_keys=[P384_KEY.spki], groups=["x25519"],
                                versions=["TLSv1.3"]), server)
    assert c.handshake_complete is not None
    assert c.handshake_complete.signature_scheme == SignatureScheme.ecdsa_secp384r1_sha384
    exc, alert, who = failure(ClientConfig(pinned_server_keys=[P384_KEY.spki],
                                           versions=["TLSv1.3"],
                                           signature_schemes=["ecdsa_secp256r1_sha256"]),
                              server)
    assert (who, alert) == ("server", AD.handshake_failure)
    assert "ecdsa_secp384r1_sha384" in str(exc)


@pytest.mark.parametrize("side", ["server", "client"])
def test_tls13_signature_with_another_curves_scheme_is_refused(side: str) -> None:
    """A P-384 raw key signing its TLS 1.3 CertificateVerify under ecdsa_secp256r1_sha256
    (a peer ignoring the curve binding, its scheme list set by hand here):
    illegal_parameter (RFC 8446 4.2.3: the scheme names the curve)."""
    rogue = RawPublicKey(ec.generate_private_key(ec.SECP384R1()))
    rogue.schemes = [SignatureScheme.ecdsa_secp256r1_sha256]
    if side == "server":
        client = ClientConfig(pinned_server_keys=[rogue.spki], versions=["TLSv1.3"])
        server = ServerConfig(raw_public_key=rogue, versions=["TLSv1.3"])
    else:
        client = ClientConfig(pinned_server_keys=[SERVER_KEY.spki], raw_public_key=rogue,
                              versions=["TLSv1.3"])
        server = ServerConfig(raw_public_key=SERVER_KEY, client_auth="required",
                              pinned_client_keys=[rogue.spki], versions=["TLSv1.3"])
    exc, alert, who = failure(client, server)
    assert (who, alert) == ("client" if side == "server" else "server", AD.illegal_parameter)
    assert "ecdsa_secp256r1_sha256 does not match" in str(exc)


@pytest.mark.parametrize("algorithm", ["zlib", "brotli", "zstd"])
def test_raw_key_certificate_message_compressed(algorithm: str) -> None:
    """RFC 8879 4: with RFC 7250's altered Certificate message, the altered message is what
    is compressed; the client decompresses it and pins the key as usual."""
    steps: list[dict[str, Any]] = []
    c, _ = connect(ClientConfig(pinned_server_keys=[SERVER_KEY.spki],
                                certificate_compression=(algorithm,),
                                tracer=lambda step, f: steps.append({"step": step, **f})),
                   ServerConfig(raw_public_key=SERVER_KEY,
                                certificate_compression=(algorithm,)))
    assert c.handshake_complete is not None
    assert c.handshake_complete.peer_raw_public_key == SERVER_KEY.spki
    assert [s["algorithm"] for s in steps if s["step"] == "compressed_certificate"] == [
        algorithm]
