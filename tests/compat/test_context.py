"""The ssl settings, each shown to take effect against a real peer (or refused when tlskit
cannot honour it), sessions, sni_callback, and tlskit's own extras."""

from __future__ import annotations

import contextlib
import gc
import socket
import ssl
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

import tlskit.compat as tc
from tlskit.ca import LocalCA

from ..support.pki import CertFiles
from ..support.pump import ServerThread
from .conftest import PKI, OpenSSLWWW
from .test_bio import Pair


def get_page(ctx: ssl.SSLContext, port: int, host: str = "localhost",
             session: Any = None) -> tc.SSLSocket:
    """GET / and read the whole answer; the socket is returned (closed) for inspection."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock = ctx.wrap_socket(raw, server_hostname=host, session=session)
    assert isinstance(sock, tc.SSLSocket)
    sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    assert data.startswith(b"HTTP/1.0 200")
    sock.close()
    return sock


@pytest.fixture(scope="module")
def openssl_tls12(pki: PKI) -> Iterator[OpenSSLWWW]:
    srv = OpenSSLWWW(pki.good, "-tls1_2")
    yield srv
    srv.close()


# -- construction and defaults ----------------------------------------------------------------

def test_defaults_match_ssl() -> None:
    ours, theirs = tc.create_default_context(), ssl.create_default_context()
    assert isinstance(ours, ssl.SSLContext)
    for attr in ("verify_mode", "check_hostname", "maximum_version",
                 "protocol", "options", "verify_flags"):
        assert getattr(ours, attr) == getattr(theirs, attr), attr
    # Some builds (Debian's) report MINIMUM_SUPPORTED and take TLS 1.2 from the system's
    # OpenSSL configuration; tlskit's floor is TLS 1.2 either way, and says so.
    floor = theirs.minimum_version
    assert ours.minimum_version == (ssl.TLSVersion.TLSv1_2
                                    if floor == ssl.TLSVersion.MINIMUM_SUPPORTED else floor)
    assert ours.cert_store_stats()["x509_ca"] > 50  # the system roots
    server = tc.create_default_context(ssl.Purpose.CLIENT_AUTH)
    assert (server.verify_mode, server.check_hostname) == (ssl.CERT_NONE, False)
    assert {ours: 1}[ours] == 1  # hashable: urllib3 keys its pools on it


def test_only_tls_client_or_server() -> None:
    with pytest.raises(tc.UnsupportedSetting, match="PROTOCOL_TLS_CLIENT"):
        tc.SSLContext(ssl.PROTOCOL_TLS)


def test_wrap_then_connect(client_ctx: tc.SSLContext, openssl_good: OpenSSLWWW) -> None:
    # The old ssl idiom: wrap an unconnected socket, then connect() shakes hands.
    sock = client_ctx.wrap_socket(socket.socket(), server_hostname="localhost")
    with pytest.raises(OSError):
        sock.getpeercert()  # not connected yet
    sock.settimeout(30)
    sock.connect(("127.0.0.1", openssl_good.port))
    assert sock.version() == "TLSv1.3"
    with pytest.raises(ValueError, match="already-connected"):
        sock.connect(("127.0.0.1", openssl_good.port))
    sock.close()
    refused = client_ctx.wrap_socket(socket.socket(), server_hostname="localhost")
    free = socket.create_server(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()  # nothing listens there now
    assert refused.connect_ex(("127.0.0.1", port)) != 0
    refused.close()


def test_wrong_side_and_missing_hostname(client_ctx: tc.SSLContext,
                                         server_ctx: tc.SSLContext) -> None:
    with socket.socket() as s:
        with pytest.raises(ValueError, match="check_hostname requires server_hostname"):
            client_ctx.wrap_socket(s)
        with pytest.raises(ssl.SSLError, match="PROTOCOL_TLS_CLIENT"):
            client_ctx.wrap_socket(s, server_side=True)
        with pytest.raises(ssl.SSLError, match="PROTOCOL_TLS_SERVER"):
            server_ctx.wrap_socket(s, server_hostname="localhost")
    bare = tc.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with pytest.raises(ssl.SSLError, match="load_cert_chain"):
        bare.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_side=True)


def test_check_hostname_and_verify_mode_rules() -> None:
    ctx = tc.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with pytest.raises(ValueError, match="check_hostname is enabled"):
        ctx.verify_mode = ssl.CERT_NONE
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    assert ctx.tlskit_client_config.verify_mode == "report"
    ctx.check_hostname = True  # turns verification back on, as ssl does
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.tlskit_client_config.verify_mode == "required"


@pytest.mark.parametrize(("setting", "value", "match"), [
    ("hostname_checks_common_name", True, "subjectAltName"),
    ("options", 0x4, "cannot honour"),  # SSL_OP_LEGACY_SERVER_CONNECT
    ("options", ssl.OP_NO_TLSv1_2 | ssl.OP_NO_TLSv1_3, "no TLS version left"),
    ("maximum_version", ssl.TLSVersion.TLSv1_1, "no TLS version left"),
    ("verify_flags", ssl.VERIFY_ALLOW_PROXY_CERTS, "VERIFY_ALLOW_PROXY_CERTS"),
])
def test_settings_tlskit_cannot_honour_are_refused(setting: str, value: Any,
                                                   match: str) -> None:
    ctx = tc.create_default_context()
    before = getattr(ctx, setting)
    with pytest.raises(tc.UnsupportedSetting, match=match):
        setattr(ctx, setting, value)
    assert getattr(ctx, setting) == before


def test_methods_tlskit_cannot_honour_are_refused(tmp_path: Path) -> None:
    ctx = tc.create_default_context()
    with pytest.raises(tc.UnsupportedSetting, match="ALPN"):
        ctx.set_npn_protocols(["http/1.1"])
    with pytest.raises(tc.UnsupportedSetting, match="finite-field"):
        ctx.load_dh_params(str(tmp_path / "dh.pem"))
    with pytest.raises(tc.UnsupportedSetting, match="no curve"):
        ctx.set_ecdh_curve("brainpoolP256r1")


# -- versions, options and ciphers take effect ------------------------------------------------

def test_maximum_version_tls12(client_ctx: tc.SSLContext, openssl_good: OpenSSLWWW) -> None:
    client_ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    assert get_page(client_ctx, openssl_good.port).version() == "TLSv1.2"


def test_op_no_tlsv1_3(client_ctx: tc.SSLContext, openssl_good: OpenSSLWWW) -> None:
    client_ctx.options |= ssl.OP_NO_TLSv1_3
    assert get_page(client_ctx, openssl_good.port).version() == "TLSv1.2"


def test_minimum_version_tls13_refuses_a_tls12_server(client_ctx: tc.SSLContext,
                                                      openssl_tls12: OpenSSLWWW) -> None:
    assert get_page(client_ctx, openssl_tls12.port).version() == "TLSv1.2"
    client_ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    with pytest.raises(ssl.SSLError, match="PROTOCOL_VERSION") as info:
        get_page(client_ctx, openssl_tls12.port)
    assert not isinstance(info.value, ssl.SSLCertVerificationError)


@pytest.mark.parametrize("spec", ["ECDHE-ECDSA-CHACHA20-POLY1305",
                                  "ECDHE+aECDSA+CHACHA20:!aNULL:@SECLEVEL=2",
                                  "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"])
def test_set_ciphers_takes_effect(spec: str, client_ctx: tc.SSLContext,
                                  openssl_tls12: OpenSSLWWW) -> None:
    client_ctx.set_ciphers(spec)
    sock = get_page(client_ctx, openssl_tls12.port)
    assert sock.cipher() == ("ECDHE-ECDSA-CHACHA20-POLY1305", "TLSv1.2", 256)
    names = [c["name"] for c in client_ctx.get_ciphers() if c["protocol"] == "TLSv1.2"]
    assert names == ["ECDHE-ECDSA-CHACHA20-POLY1305"]


def test_set_ciphers_order_and_errors(client_ctx: tc.SSLContext) -> None:
    client_ctx.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384")
    tls12 = [c["name"] for c in client_ctx.get_ciphers() if c["protocol"] == "TLSv1.2"]
    assert tls12 == ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384"]
    with pytest.raises(tc.UnsupportedSetting, match="DHE-RSA-AES128-GCM-SHA256"):
        client_ctx.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256")
    with pytest.raises(tc.UnsupportedSetting, match="legacy_rsa_key_exchange=True"):
        client_ctx.set_ciphers("AES128-GCM-SHA256")  # RSA key transport: config opt-in only
    with pytest.raises(ssl.SSLError, match="No cipher can be selected"):
        client_ctx.set_ciphers("HIGH:!ECDHE")
    # A failed call leaves the previous choice in force, as ssl's does.
    assert [c["name"] for c in client_ctx.get_ciphers()
            if c["protocol"] == "TLSv1.2"] == tls12


def test_set_ecdh_curve(client_ctx: tc.SSLContext, openssl_good: OpenSSLWWW) -> None:
    client_ctx.set_ecdh_curve("secp384r1")
    sock = get_page(client_ctx, openssl_good.port)
    assert sock.tlskit_connection is not None
    hc = sock.tlskit_connection.handshake_complete
    assert hc is not None and hc.group.name == "secp384r1"


@pytest.mark.parametrize("kind", [ssl.SSLContext, tc.SSLContext], ids=["ssl", "tlskit"])
def test_bad_alpn_lists_fail_as_in_ssl(kind: type[ssl.SSLContext]) -> None:
    ctx = kind(ssl.PROTOCOL_TLS_CLIENT)
    with pytest.raises(ssl.SSLError, match="1 to 255"):
        ctx.set_alpn_protocols(["x" * 256])
    with pytest.raises(ssl.SSLError, match="1 to 255"):
        ctx.set_alpn_protocols([""])
    with pytest.raises(TypeError):
        ctx.set_alpn_protocols([b"h2"])  # type: ignore[list-item]


def test_alpn(client_ctx: tc.SSLContext, nginx: Any) -> None:
    client_ctx.set_alpn_protocols(["h2", "http/1.1"])
    raw = socket.create_connection(("127.0.0.1", nginx.port), timeout=30)
    with client_ctx.wrap_socket(raw, server_hostname="localhost") as sock:
        assert sock.selected_alpn_protocol() == "h2"


def test_keylog_filename(client_ctx: tc.SSLContext, openssl_good: OpenSSLWWW,
                         tmp_path: Path) -> None:
    client_ctx.keylog_filename = str(tmp_path / "keys.log")
    get_page(client_ctx, openssl_good.port)
    labels = {line.split()[0] for line in (tmp_path / "keys.log").read_text().splitlines()}
    assert {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0"} <= labels


@pytest.mark.parametrize("kind", [ssl.SSLContext, tc.SSLContext], ids=["ssl", "tlskit"])
def test_the_keylog_file_is_closed_with_the_context(kind: type[ssl.SSLContext], pki: PKI,
                                                    tmp_path: Path) -> None:
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(pki.good.fullchain, pki.good.key)
    keys = tmp_path / "keys.log"

    def handshake_and_forget() -> None:
        ctx = kind(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cafile=str(pki.root))
        ctx.keylog_filename = str(keys)
        Pair(ctx, server).handshake()
        ctx.keylog_filename = str(keys)  # replaced: the first one's file is closed too
        Pair(ctx, server).handshake()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        handshake_and_forget()
        gc.collect()
    assert [str(w.message) for w in caught if w.category is ResourceWarning] == []
    assert keys.read_text().count("CLIENT_TRAFFIC_SECRET_0") == 2


# -- trust ------------------------------------------------------------------------------------

def test_cadata_pem_and_der(pki: PKI, openssl_good: OpenSSLWWW) -> None:
    pem = pki.root.read_text()
    der = pki.ca.root.public_bytes(serialization.Encoding.DER)
    for cadata in (pem, der):
        ctx = tc.create_default_context(cadata=cadata)
        assert ctx.cert_store_stats() == {"x509": 1, "crl": 0, "x509_ca": 1}
        assert ctx.get_ca_certs(binary_form=True) == [der]
        assert get_page(ctx, openssl_good.port).version() == "TLSv1.3"


def test_capath(pki: PKI, openssl_good: OpenSSLWWW, tmp_path: Path) -> None:
    (tmp_path / "root.pem").write_bytes(pki.root.read_bytes())
    ctx = tc.create_default_context(capath=str(tmp_path))
    assert get_page(ctx, openssl_good.port).version() == "TLSv1.3"


def test_bad_locations(tmp_path: Path) -> None:
    ctx = tc.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with pytest.raises(TypeError):
        ctx.load_verify_locations()
    with pytest.raises(FileNotFoundError):
        ctx.load_verify_locations(str(tmp_path / "missing.pem"))
    (tmp_path / "empty.pem").write_text("nothing here\n")
    with pytest.raises(ssl.SSLError, match="no certificate"):
        ctx.load_verify_locations(str(tmp_path / "empty.pem"))


@pytest.mark.parametrize("flag", [ssl.VERIFY_CRL_CHECK_LEAF, ssl.VERIFY_CRL_CHECK_CHAIN])
def test_crl_checks(flag: ssl.VerifyFlags, tmp_path: Path) -> None:
    ca = LocalCA.create()
    good, revoked = (ca.issue_server(["localhost"]) for _ in range(2))
    ca.revoke(revoked.certificate)
    bundle = tmp_path / "root-and-crl.pem"
    bundle.write_bytes(ca.export_root_pem()
                       + ca.crl().public_bytes(serialization.Encoding.PEM))
    ctx = tc.create_default_context(cafile=str(bundle))
    assert ctx.cert_store_stats()["crl"] == 1
    ctx.verify_flags |= flag
    d = tmp_path / "certs"
    if flag == ssl.VERIFY_CRL_CHECK_LEAF:
        assert _page_from(ctx, CertFiles.write(good, d / "good")).version() == "TLSv1.3"
    else:  # the intermediate needs a CRL from the root too, which is not loaded
        _refused(ctx, CertFiles.write(good, d / "good"),
                 3, "no configured CRL is issued by")  # X509_V_ERR_UNABLE_TO_GET_CRL
    _refused(ctx, CertFiles.write(revoked, d / "revoked"),
             23, "revoked")  # X509_V_ERR_CERT_REVOKED


def _page_from(ctx: ssl.SSLContext, cert: CertFiles) -> tc.SSLSocket:
    """`get_page` from an `openssl s_server -www` of its own that serves `cert`."""
    with contextlib.closing(OpenSSLWWW(cert)) as srv:
        return get_page(ctx, srv.port)


def _refused(ctx: ssl.SSLContext, cert: CertFiles, code: int, words: str) -> None:
    """`_page_from` must fail verification with OpenSSL's `code`, saying `words`."""
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        _page_from(ctx, cert)
    assert info.value.verify_code == code
    assert words in info.value.verify_message


# -- sessions ---------------------------------------------------------------------------------

def test_session_resumption(client_ctx: tc.SSLContext, openssl_good: OpenSSLWWW) -> None:
    first = get_page(client_ctx, openssl_good.port)
    assert first.session_reused is False
    session = first.session
    assert isinstance(session, tc.SSLSession) and session.has_ticket
    assert session.timeout > 0 and len(session.id) == 32
    second = get_page(client_ctx, openssl_good.port, session=session)
    assert second.session_reused is True
    stats = client_ctx.session_stats()
    assert (stats["connect"], stats["connect_good"], stats["hits"]) == (2, 2, 1)


def test_session_setter(client_ctx: tc.SSLContext, openssl_good: OpenSSLWWW) -> None:
    session = get_page(client_ctx, openssl_good.port).session
    raw = socket.create_connection(("127.0.0.1", openssl_good.port), timeout=30)
    sock = client_ctx.wrap_socket(raw, server_hostname="localhost",
                                  do_handshake_on_connect=False)
    sock.session = session
    sock.do_handshake()
    assert sock.session_reused is True
    with pytest.raises(ValueError, match="after handshake"):
        sock.session = session
    sock.close()


# -- the server side: client certificates, sni_callback ---------------------------------------

class BlockingServer(ServerThread):
    """Accept one connection with a compat server context in a thread; keep the outcome
    (`join` does not raise what failed in the server: the tests assert on `error`)."""

    def __init__(self, ctx: tc.SSLContext,
                 action: Callable[[tc.SSLSocket], None] = lambda s: s.sendall(b"hi")) -> None:
        self.ctx, self.action = ctx, action
        self.peercert: Any = None
        super().__init__(self._serve)

    def _serve(self, raw: socket.socket) -> None:
        raw.settimeout(30)
        with self.ctx.wrap_socket(raw, server_side=True) as sock:
            self.peercert = sock.getpeercert()
            self.action(sock)

    def join(self, timeout: float = 30) -> list[Any]:
        self.thread.join(timeout)
        return self.results


def _client_connect(ctx: ssl.SSLContext, port: int, host: str = "localhost") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw, \
            ctx.wrap_socket(raw, server_hostname=host) as sock:
        return sock.recv(100)


def test_client_certificate_required(pki: PKI, server_ctx: tc.SSLContext,
                                     client_ctx: tc.SSLContext) -> None:
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server_ctx.load_verify_locations(cafile=str(pki.root))
    client_ctx.load_cert_chain(pki.client.fullchain, pki.client.key)
    srv = BlockingServer(server_ctx)
    assert _client_connect(client_ctx, srv.port) == b"hi"
    srv.join()
    assert srv.error is None
    assert srv.peercert["subject"] == ((("commonName", "alice"),),)


def test_client_certificate_missing(pki: PKI, server_ctx: tc.SSLContext,
                                    client_ctx: tc.SSLContext) -> None:
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server_ctx.load_verify_locations(cafile=str(pki.root))
    srv = BlockingServer(server_ctx)
    with pytest.raises(ssl.SSLError, match="CERTIFICATE_REQUIRED"):
        _client_connect(client_ctx, srv.port)
    srv.join()
    assert isinstance(srv.error, ssl.SSLError)
    assert srv.error.reason == "CERTIFICATE_REQUIRED"


def test_client_certificate_untrusted(pki: PKI, server_ctx: tc.SSLContext,
                                      client_ctx: tc.SSLContext, tmp_path: Path) -> None:
    stranger = LocalCA.create().issue_client("mallory")
    stranger.write(cert_path=tmp_path / "c.pem", key_path=tmp_path / "k.pem")
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server_ctx.load_verify_locations(cafile=str(pki.root))
    client_ctx.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    srv = BlockingServer(server_ctx)
    with pytest.raises(ssl.SSLError, match="UNKNOWN_CA"):
        _client_connect(client_ctx, srv.port)
    srv.join()
    assert isinstance(srv.error, ssl.SSLCertVerificationError)
    assert srv.error.verify_code == 20
    assert "neither a trust anchor" in srv.error.verify_message


@pytest.mark.parametrize("version", ["TLSv1_3", "TLSv1_2"])
def test_client_certificate_sent_whatever_ca_names_are_listed(
        pki: PKI, client_ctx: tc.SSLContext, tmp_path: Path, version: str) -> None:
    """As ssl (OpenSSL) does: the loaded certificate goes to a server that names other
    CAs (s_server names its -CAfile's root), which refuses it with unknown_ca; tlskit's
    own ClientConfig.certificate would be held back (certificate_required)."""
    stranger = LocalCA.create().issue_client("mallory")
    stranger.write(cert_path=tmp_path / "c.pem", key_path=tmp_path / "k.pem")
    client_ctx.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    client_ctx.minimum_version = client_ctx.maximum_version = ssl.TLSVersion[version]
    server = OpenSSLWWW(pki.good, "-Verify", "1", "-CAfile", str(pki.root),
                        "-verify_return_error")
    with contextlib.closing(server), pytest.raises(ssl.SSLError, match="UNKNOWN_CA"), \
            socket.create_connection(("127.0.0.1", server.port), timeout=30) as raw, \
            client_ctx.wrap_socket(raw, server_hostname="localhost") as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        sock.recv(100)


def test_load_cert_chain_errors(pki: PKI) -> None:
    ctx = tc.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with pytest.raises(ssl.SSLError, match="KEY_VALUES_MISMATCH"):
        ctx.load_cert_chain(pki.good.fullchain, pki.client.key)
    encrypted = pki.good.directory / "encrypted-key.pem"
    encrypted.write_bytes(pki.good.issued.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"s3cret")))
    with pytest.raises(ssl.SSLError, match="private key"):
        ctx.load_cert_chain(pki.good.fullchain, encrypted, password="wrong")
    ctx.load_cert_chain(pki.good.fullchain, encrypted, password=lambda: b"s3cret")
    assert ctx.tlskit_server_config.certificates[0].chain == pki.good.issued.chain


def test_sni_callback_switches_context(pki: PKI, server_ctx: tc.SSLContext,
                                       client_ctx: tc.SSLContext) -> None:
    other = tc.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    other.load_cert_chain(pki.wrong_host.fullchain, pki.wrong_host.key)
    names: list[str | None] = []

    def pick(sslsock: Any, name: str | None, ctx: ssl.SSLContext) -> None:
        names.append(name)
        if name == "wrong.example":
            sslsock.context = other

    server_ctx.sni_callback = pick
    for host in ("wrong.example", "localhost"):
        srv = BlockingServer(server_ctx)
        assert _client_connect(client_ctx, srv.port, host) == b"hi"
        srv.join()
        assert srv.error is None
    assert names == ["wrong.example", "localhost"]


def test_sni_callback_refuses(server_ctx: tc.SSLContext, client_ctx: tc.SSLContext) -> None:
    server_ctx.sni_callback = lambda s, name, ctx: ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
    srv = BlockingServer(server_ctx)
    with pytest.raises(ssl.SSLError, match="UNRECOGNIZED_NAME"):
        _client_connect(client_ctx, srv.port)
    srv.join()
    assert isinstance(srv.error, ssl.SSLError)


# -- tlskit's extras --------------------------------------------------------------------------

def test_tlskit_configure_groups_and_tracer(client_ctx: tc.SSLContext,
                                            tlskit_serve: Any) -> None:
    steps: list[str] = []
    client_ctx.tlskit_configure(groups=["X25519MLKEM768", "x25519"],
                                tracer=lambda step, fields: steps.append(step))
    sock = get_page_http11(client_ctx, tlskit_serve.port)
    hc = sock.tlskit_connection.handshake_complete
    assert hc is not None and hc.group.name == "X25519MLKEM768"
    assert "certificate_verified" in steps
    # An ssl-level setting still applies on top.
    client_ctx.set_alpn_protocols(["http/1.1"])
    assert [g.name for g in client_ctx.tlskit_client_config.groups] == ["X25519MLKEM768", "x25519"]
    assert list(client_ctx.tlskit_client_config.alpn_protocols) == ["http/1.1"]
    with pytest.raises(TypeError, match="no field"):
        client_ctx.tlskit_configure(colour="blue")
    with pytest.raises(ValueError, match="unknown group"):
        client_ctx.tlskit_configure(groups=["p-999"])


def get_page_http11(ctx: ssl.SSLContext, port: int) -> tc.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock = ctx.wrap_socket(raw, server_hostname="localhost")
    assert isinstance(sock, tc.SSLSocket)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    while sock.recv(65536):
        pass
    sock.close()
    return sock
