"""A tlskit server choosing its certificate (`ServerConfig.certificate_resolver`) or its
whole config (`tlskit.Acceptor`) from the ClientHello, against `openssl s_client` and
CPython's `ssl` (OpenSSL 3.0), TLS 1.3 and 1.2; and ACME TLS-ALPN-01 (RFC 8737) end to
end: the challenge certificate for a client offering acme-tls/1, the site's otherwise."""

from __future__ import annotations

import hashlib
import re
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tlskit import Acceptor, CertifiedKey, ClientHelloInfo, ServerConfig

from ..support.pki import ssl_client_context
from ..support.ports import HOST, TIMEOUT
from ..support.pump import Pump, ServerThread, tlskit_server
from .conftest import PKI, Peers, openssl_field

pytestmark = pytest.mark.interop

NAMES = ("a.test", "b.test")
VERSIONS = {"TLSv1.3": "-tls1_3", "TLSv1.2": "-tls1_2"}
ACME_OID = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.31")  # id-pe-acmeIdentifier (RFC 8737)
ACME_ALPN = "acme-tls/1"


@pytest.fixture(scope="module")
def sites(pki: PKI) -> dict[str, CertifiedKey]:
    """One leaf per name from the test CA (RSA for b.test: two key types in play)."""
    return {name: CertifiedKey(*_chain_and_key(pki, name, kind))
            for name, kind in zip(NAMES, ("ec256", "rsa2048"), strict=True)}


def _chain_and_key(pki: PKI, name: str, kind: str) -> tuple[list[x509.Certificate], Any]:
    issued = pki.ca.issue_server([name], key_type=kind)
    return issued.chain, issued.private_key


def by_name(sites: dict[str, CertifiedKey]) -> Callable[[ClientHelloInfo], CertifiedKey | None]:
    return lambda info: sites.get(info.server_name or "")


def s_client(peers: Peers, pki: PKI, port: int, name: str, *args: str) -> str:
    """`openssl s_client` with SNI ``name``, verifying that name; its output once done."""
    client = peers.start(["openssl", "s_client", "-connect", f"{HOST}:{port}",
                          "-servername", name, "-CAfile", pki.root_pem, *args])
    client.wait()
    return client.stdout


@pytest.mark.parametrize("version", VERSIONS)
def test_s_client_gets_the_resolvers_certificate_for_each_name(
        peers: Peers, pki: PKI, sites: dict[str, CertifiedKey], version: str) -> None:
    server = peers.thread(tlskit_server(ServerConfig(certificate_resolver=by_name(sites)),
                                        Pump.handshake_and_close, count=len(NAMES)))
    for name in NAMES:
        out = s_client(peers, pki, server.port, name, VERSIONS[version],
                       "-verify_hostname", name, "-verify_return_error")
        assert openssl_field(out, r"(?m)^subject=(.*)$") == f"CN = {name}"
        assert openssl_field(out, r"Verify return code: (\d+)") == "0"
        assert openssl_field(out, r"Protocol *: (\S+)") == version
    assert [hc.server_name for hc in server.join()] == list(NAMES)


def test_s_client_typing_the_name_in_capitals_gets_that_sites_certificate(
        peers: Peers, pki: PKI, sites: dict[str, CertifiedKey]) -> None:
    """s_client sends the name as typed; a resolver keyed by lower-case names (the
    guide's dict) still finds the site: the info's name is lower-cased."""
    server = peers.thread(tlskit_server(ServerConfig(certificate_resolver=by_name(sites)),
                                        Pump.handshake_and_close, count=1))
    out = s_client(peers, pki, server.port, "B.Test", "-verify_hostname", "b.test",
                   "-verify_return_error")
    assert openssl_field(out, r"(?m)^subject=(.*)$") == "CN = b.test"
    assert openssl_field(out, r"Verify return code: (\d+)") == "0"
    assert [hc.server_name for hc in server.join()] == ["B.Test"]  # (as the client sent it)


# --------------------------------------------------------------------------- Acceptor


def acceptor_server(choose: Callable[[ClientHelloInfo], ServerConfig],
                    count: int) -> ServerThread:
    """A server that reads each ClientHello with an `Acceptor`, picks the config by it,
    then runs the connection it accepted to a clean close."""

    def handle(sock: socket.socket) -> Any:
        acceptor = Acceptor()
        sock.settimeout(TIMEOUT)
        info = None
        while info is None:
            data = sock.recv(1 << 16)
            assert data, "the client left before its ClientHello"
            info = acceptor.receive_data(data)
        pump = Pump(acceptor.accept(choose(info)), sock)
        try:
            return info, pump.handshake_and_close()
        finally:
            pump.dispose()

    return ServerThread(handle, count=count)


@pytest.mark.parametrize("version", VERSIONS)
def test_python_ssl_through_the_acceptor(peers: Peers, pki: PKI,
                                         sites: dict[str, CertifiedKey], version: str) -> None:
    configs = {name: ServerConfig(certificates=[ck], alpn_protocols=["http/1.1"])
               for name, ck in sites.items()}
    server = peers.thread(acceptor_server(lambda info: configs[info.server_name or ""],
                                          count=len(NAMES)))
    ctx = ssl_client_context(pki.root_pem, version, ["h2", "http/1.1"])
    seen = []
    for name in NAMES:
        with socket.create_connection((HOST, server.port), timeout=TIMEOUT) as raw, \
                ctx.wrap_socket(raw, server_hostname=name) as tls:
            subject = dict(x[0] for x in tls.getpeercert()["subject"])
            seen.append((subject["commonName"], tls.version(), tls.selected_alpn_protocol()))
            assert tls.recv(10) == b""  # the server's close_notify
            tls.unwrap()
    assert seen == [(name, version, "http/1.1") for name in NAMES]
    infos = [info for info, _hc in server.join()]
    assert [i.server_name for i in infos] == list(NAMES)
    assert all(i.alpn_protocols == ("h2", "http/1.1") for i in infos)
    assert all(version in i.supported_versions for i in infos)


# --------------------------------------------------------------------------- ACME


def acme_challenge_certificate(domain: str, key_authorization: str) -> CertifiedKey:
    """RFC 8737 3: self-signed, the domain as its one dNSName, and the SHA-256 of the key
    authorization in a critical id-pe-acmeIdentifier extension (an OCTET STRING)."""
    key = ec.generate_private_key(ec.SECP256R1())
    digest = hashlib.sha256(key_authorization.encode()).digest()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ACME challenge")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]),
                           critical=False)
            .add_extension(x509.UnrecognizedExtension(ACME_OID, b"\x04\x20" + digest),
                           critical=True)
            .sign(key, hashes.SHA256()))
    return CertifiedKey([cert], key)


def test_acme_tls_alpn_01(peers: Peers, pki: PKI, sites: dict[str, CertifiedKey],
                          tmp_path: Any) -> None:
    challenge = acme_challenge_certificate("a.test", "token-123.thumbprint-abc")

    def resolver(info: ClientHelloInfo) -> CertifiedKey | None:
        if ACME_ALPN in info.alpn_protocols:  # RFC 8737 3: the validation handshake
            return challenge if info.server_name == "a.test" else None
        return sites.get(info.server_name or "")

    config = ServerConfig(certificate_resolver=resolver,
                          alpn_protocols=[ACME_ALPN, "h2", "http/1.1"])
    server = peers.thread(tlskit_server(config, Pump.handshake_and_close, count=2))
    out = s_client(peers, pki, server.port, "a.test", "-tls1_3", "-alpn", ACME_ALPN,
                   "-showcerts")
    assert openssl_field(out, r"ALPN protocol: (\S+)") == ACME_ALPN
    assert openssl_field(out, r"(?m)^subject=(.*)$") == "CN = ACME challenge"
    [pem] = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", out,
                       re.S)
    received = x509.load_pem_x509_certificate(pem.encode())
    ext = received.extensions.get_extension_for_oid(ACME_OID)
    assert ext.critical and ext.value.value == b"\x04\x20" + hashlib.sha256(
        b"token-123.thumbprint-abc").digest()
    normal = s_client(peers, pki, server.port, "a.test", "-tls1_3", "-alpn", "h2",
                      "-verify_hostname", "a.test", "-verify_return_error")
    assert openssl_field(normal, r"(?m)^subject=(.*)$") == "CN = a.test"
    assert openssl_field(normal, r"ALPN protocol: (\S+)") == "h2"
    assert [hc.alpn_protocol for hc in server.join()] == [ACME_ALPN, "h2"]
