"""Client CA names (RFC 8446 4.2.4 certificate_authorities, RFC 5246 7.4.4's list) and
client certificate selection, against real peers.

A tlskit server names its client_trust_anchors' subjects: `openssl s_client` prints them
under "Acceptable client certificate CA names", and CPython's ssl client still completes
with its certificate. A tlskit client holding two certificates from two CAs presents the
one the server names: OpenSSL 3.0's s_server sends the subjects of its -CAfile (unless
-no_ca_names), gnutls-serv those of its --x509cafile; each server's output says whom it
authenticated.
"""

from __future__ import annotations

import socket
import ssl

import pytest

from tlskit import CertifiedKey
from tlskit.ca import LocalCA

from ..support.ports import HOST, TIMEOUT
from ..support.pump import Pump, echo_until_close, tlskit_server
from .conftest import PKI, Peers, openssl_field

pytestmark = pytest.mark.interop

VERSIONS = {"TLSv1.3": "-tls1_3", "TLSv1.2": "-tls1_2"}


@pytest.fixture(scope="module")
def second_ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    """A CA unrelated to the session PKI's, with its own root subject."""
    return LocalCA.create(directory=tmp_path_factory.mktemp("second-ca"),
                          name="second client CA")


def _ca_names_printed(out: str) -> list[str]:
    """The lines s_client prints under "Acceptable client certificate CA names"."""
    head = "Acceptable client certificate CA names\n"
    assert head in out, out[-3000:]
    lines = out.split(head, 1)[1].splitlines()
    return [line.replace(" ", "") for line in
            lines[:next(i for i, line in enumerate(lines) if ":" in line or "---" in line)]]


def _openssl_dn(name: str) -> str:
    """An RFC 4514 "CN=x,O=y" as s_client prints it, most significant first, spaces
    dropped: "O=y,CN=x"."""
    return ",".join(reversed(name.split(",")))


@pytest.mark.parametrize("version", VERSIONS)
def test_s_client_prints_the_ca_names_tlskit_sends(peers: Peers, pki: PKI,
                                                   second_ca: LocalCA, version: str) -> None:
    _issued, files = pki.client_cert("carol")
    config = pki.server_config("ec256", client_auth="optional", versions=[version],
                               client_trust_anchors=[pki.root, second_ca.root])
    server = peers.thread(tlskit_server(config, echo_until_close))
    client = peers.openssl_client(pki, server.port, "-cert", str(files.leaf), "-cert_chain",
                                  str(files.chain), "-key", str(files.key),
                                  version=VERSIONS[version])
    client.wait_for("Verify return code")
    client.write(b"hi\n")
    client.wait_for("hi\n")
    client.close_stdin()
    server.join()
    assert client.wait() == 0, client.describe()
    expected = [_openssl_dn(c.subject.rfc4514_string()) for c in (pki.root, second_ca.root)]
    assert _ca_names_printed(client.stdout) == [e.replace(" ", "") for e in expected]


@pytest.mark.parametrize("version", VERSIONS)
def test_s_client_sees_no_ca_names_when_switched_off(peers: Peers, pki: PKI,
                                                     version: str) -> None:
    config = pki.server_config("ec256", client_auth="optional", versions=[version],
                               client_trust_anchors=[pki.root], send_client_ca_names=False)
    server = peers.thread(tlskit_server(config, echo_until_close))
    client = peers.openssl_client(pki, server.port, version=VERSIONS[version])
    client.wait_for("Verify return code")
    client.close_stdin()
    server.join()
    assert client.wait() == 0, client.describe()
    assert "No client certificate CA names sent" in client.stdout


@pytest.mark.parametrize("version", ["TLSv1_3", "TLSv1_2"])
def test_python_ssl_client_authenticates_to_a_server_naming_its_cas(
        peers: Peers, pki: PKI, second_ca: LocalCA, version: str) -> None:
    """CPython's ssl (OpenSSL 3.0) reads the names and still sends its certificate."""
    _issued, files = pki.client_cert("dave")

    def body(pump: Pump) -> list[str]:
        hc = pump.handshake()
        echo_until_close(pump)
        return [c.subject.rfc4514_string() for c in hc.peer_certificates]

    config = pki.server_config("ec256", client_auth="required",
                               client_trust_anchors=[second_ca.root, pki.root])
    server = peers.thread(tlskit_server(config, body))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion[version]
    ctx.load_verify_locations(cafile=str(pki.root_pem))
    ctx.load_cert_chain(files.fullchain, files.key)
    with socket.create_connection((HOST, server.port), timeout=TIMEOUT) as sock, \
            ctx.wrap_socket(sock, server_hostname="localhost") as tls:
        tls.sendall(b"ping")
        assert tls.recv(4) == b"ping"
        tls.unwrap()
    [subjects] = server.join()
    assert subjects[0] == "CN=dave"


# --------------------------------------------------------------- a tlskit client choosing


def _two_identities(pki: PKI, second_ca: LocalCA) -> list[CertifiedKey]:
    """alice-selecting from the session PKI's CA, zed from the second CA, in that order."""
    alice, _files = pki.client_cert("alice-selecting")
    zed = second_ca.issue_client("zed")
    return [CertifiedKey(i.chain, i.private_key) for i in (alice, zed)]


def _root_pem(pki: PKI, second_ca: LocalCA, which: str) -> str:
    return str(pki.root_pem if which == "first" else second_ca.directory / "root.pem")


def _say_hello(pki: PKI, port: int, version: str, certificates: list[CertifiedKey]) -> None:
    pump = Pump.connect(pki.client_config(versions=[version], certificates=certificates),
                        port)
    try:
        assert pump.handshake().version == version
        pump.send(b"chosen\n")
    finally:
        pump.dispose()


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("which", "subject"), [("first", "alice-selecting"), ("second", "zed")])
def test_tlskit_presents_the_certificate_s_server_names(
        peers: Peers, pki: PKI, second_ca: LocalCA, version: str, which: str,
        subject: str) -> None:
    """s_server -Verify with -CAfile sends that file's subjects (OpenSSL 3.0 has no
    -client_CAfile; -no_ca_names would turn them off) and refuses any other issuer."""
    proc, port = peers.openssl_server(pki, "ec256", "-Verify", "1", "-CAfile",
                                      _root_pem(pki, second_ca, which), "-verify_return_error",
                                      version=VERSIONS[version])
    _say_hello(pki, port, version, _two_identities(pki, second_ca))
    proc.wait_for("chosen")
    assert openssl_field(proc.stdout, r"subject=CN ?= ?([\w-]+)") == subject


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("which", "subject"), [("first", "alice-selecting"), ("second", "zed")])
def test_tlskit_presents_the_certificate_gnutls_serv_names(
        peers: Peers, pki: PKI, second_ca: LocalCA, version: str, which: str,
        subject: str) -> None:
    """gnutls-serv --require-client-cert names the CAs of its --x509cafile."""
    priority = "NORMAL:-VERS-ALL:+VERS-TLS1.3" if version == "TLSv1.3" else \
        "NORMAL:-VERS-ALL:+VERS-TLS1.2"
    proc, port = peers.gnutls_server(pki, "ec256", "--require-client-cert", "--x509cafile",
                                     _root_pem(pki, second_ca, which), "--priority", priority,
                                     "--echo")
    _say_hello(pki, port, version, _two_identities(pki, second_ca))
    proc.wait_for(rf"CN={subject}[,'\s]")
