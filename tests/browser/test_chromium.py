"""Headless Chromium (BoringSSL) loads `tlskit serve`'s handshake page.

Chromium is told to trust the server in two ways: a pin of the leaf's public key
(--ignore-certificate-errors-spki-list), and, closer to what a user does, the test root in
the NSS database of $HOME, with no pin: there the page only loads if Chromium itself
validated the chain root -> intermediate -> leaf for "localhost". A run with neither must
fail with ERR_CERT_AUTHORITY_INVALID, which shows the other two prove something.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ..support.nss import nss_db
from .conftest import (
    PKI,
    Browser,
    BrowserRun,
    Leaf,
    Page,
    Serve,
    ServeFactory,
    assert_clean,
    assert_png,
    isolated_env,
    need,
)

pytestmark = pytest.mark.interop

TLS13_SUITES = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                "TLS_CHACHA20_POLY1305_SHA256"}
UA = "HeadlessChrome/"


def chromium(browsers: list[Browser], home: Path, url: str, *flags: str,
             env: dict[str, str] | None = None) -> BrowserRun:
    """`chromium --headless --dump-dom url` with a fresh profile and HOME=home."""
    profile = home / "chromium-profile"
    profile.mkdir(parents=True)
    argv = [need("chromium"), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-extensions", "--disable-default-apps",
            "--no-default-browser-check", "--host-resolver-rules=MAP localhost 127.0.0.1",
            f"--user-data-dir={profile}", *flags, "--dump-dom", url]
    browser = Browser(argv, env or isolated_env(home), cwd=home)
    browsers.append(browser)
    run = browser.wait()
    assert run.returncode is not None, f"chromium timed out:\n{run.tail()}"
    return run


def pinned(leaf: Leaf) -> str:
    """The flag that makes Chromium accept `leaf` by its key alone, with no trusted root."""
    return f"--ignore-certificate-errors-spki-list={leaf.spki_sha256}"


def load(browsers: list[Browser], server: Serve, home: Path, *flags: str,
         env: dict[str, str] | None = None, shot: Path | None = None) -> Page:
    """Load the page (and screenshot it to ``shot``); check it came over a TLS connection
    the server logged as complete, followed by Chromium's GET on that same connection,
    that the page says what every page must (`Page.check`), that Chromium fetched its
    diagram, and that nothing went wrong."""
    shot = shot or home / "page.png"
    run = chromium(browsers, home, server.url, *flags, "--window-size=1200,2400",
                   f"--screenshot={shot}", env=env)
    assert "<h1>Your TLS handshake</h1>" in run.stdout, (
        f"chromium did not load the page (exit {run.returncode}):\n{run.stdout[:2000]}\n"
        f"{run.tail()}\n--- tlskit serve:\n{server.log()}")
    page = Page.parse(run.stdout)
    addr = re.escape(page.address)
    server.wait_for(rf"^{addr} {page.version} {page.suite} {page.group} sni=localhost "
                    r"alpn=http/1\.1( cert-compression=\w+)?$")
    server.wait_for(rf"^{addr} GET / .*{UA}")
    assert page.diagram is not None
    server.wait_for(rf" GET {re.escape(page.diagram)} .*{UA}")
    assert_clean(server.settle())
    assert UA in page.negotiated["User agent"]
    assert page.negotiated["SNI (server name you asked for)"] == "localhost"
    assert page.negotiated["ALPN protocol"] == "http/1.1"
    page.check()
    assert_png(shot)
    return page


def assert_chromium_offer(page: Page) -> None:
    """What Chromium offers, as the page names it: GREASE in every list that has it,
    the post-quantum hybrid group, ECH GREASE, ALPS, ML-DSA."""
    groups = page.offered["Groups"]
    assert "X25519MLKEM768" in groups or "x25519" in groups, groups
    assert "TLS_AES_128_GCM_SHA256" in page.offered["Cipher suites"]
    exts = page.offered["Extensions"]
    assert "supported_versions" in exts
    for title in ("Cipher suites", "Groups", "Extensions", "Versions", "Key shares sent"):
        assert page.offered[title][0].startswith("GREASE"), (title, page.offered[title])
    assert "encrypted_client_hello" in exts, exts
    assert any(e.startswith("application_settings (ALPS") for e in exts), exts
    assert page.verdict["ech"][0] == "ok"
    assert page.verdict["weak_suites"][0] == "ok"


def test_spki_pin_tls13(pki: PKI, serve: ServeFactory, browsers: list[Browser],
                        tmp_path: Path, artifacts: Path) -> None:
    leaf = pki.leaves["ec256"]
    server = serve(*leaf.serve_args)
    shot = artifacts / "chromium-tls13.png"
    page = load(browsers, server, tmp_path / "home", pinned(leaf), shot=shot)
    print(f"screenshot: {shot}")
    assert page.version == "TLSv1.3"
    assert page.suite in TLS13_SUITES
    assert page.group in ("X25519MLKEM768", "x25519"), page.group
    assert page.scheme == "ecdsa_secp256r1_sha256"
    assert_chromium_offer(page)


def test_trusts_local_ca_through_nss(pki: PKI, serve: ServeFactory, browsers: list[Browser],
                                     tmp_path: Path) -> None:
    """No pin: the root is in $HOME/.pki/nssdb, where Chromium on Linux finds user trust."""
    leaf = pki.leaves["ec256"]
    server = serve(*leaf.serve_args)
    home = tmp_path / "home"
    nss_db(home / ".pki" / "nssdb", pki.root)
    page = load(browsers, server, home)
    assert page.version == "TLSv1.3"
    assert page.suite in TLS13_SUITES
    assert_chromium_offer(page)


def test_ca_install_makes_chromium_trust_the_root(pki: PKI, serve: ServeFactory,
                                                  browsers: list[Browser],
                                                  tmp_path: Path) -> None:
    """`tlskit ca install` (NSS only: the system store is not this test's to change) puts
    the root in $HOME/.pki/nssdb, and Chromium then loads the page with no pin; `tlskit ca
    uninstall` takes it out again and Chromium refuses."""
    leaf = pki.leaves["ec256"]
    server = serve(*leaf.serve_args)
    home = tmp_path / "home"
    env = isolated_env(home)
    ca = ["ca", "--dir", str(pki.root.parent), "--no-system"]
    for action in ("install", "uninstall"):
        argv = [sys.executable, "-m", "tlskit", ca[0], action, *ca[1:]]
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert str(home / ".pki" / "nssdb") in done.stdout
        if action == "install":
            page = load(browsers, server, home, env=env)
            assert page.version == "TLSv1.3"
    run = chromium(browsers, tmp_path / "again", server.url, env=env)
    assert "Your TLS handshake" not in run.stdout
    assert "ERR_CERT_AUTHORITY_INVALID" in run.stderr, run.tail()


def test_untrusted_root_is_refused(pki: PKI, serve: ServeFactory, browsers: list[Browser],
                                   tmp_path: Path) -> None:
    """The control for the two tests above: same server, no pin, empty NSS database."""
    leaf = pki.leaves["ec256"]
    server = serve(*leaf.serve_args)
    run = chromium(browsers, tmp_path / "home", server.url)
    assert "Your TLS handshake" not in run.stdout
    assert "ERR_CERT_AUTHORITY_INVALID" in run.stderr, run.tail()
    server.wait_for(r"closed by the client: alert \w+")
    assert " GET " not in server.settle(), server.log()


@pytest.mark.parametrize("kind, scheme", [("ec256", "ecdsa_secp256r1_sha256"),
                                          ("rsa2048", "rsa_pss_rsae_sha256")])
@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_versions_and_key_types(pki: PKI, serve: ServeFactory, browsers: list[Browser],
                                tmp_path: Path, version: str, kind: str, scheme: str) -> None:
    """tlskit's TLS 1.3 and TLS 1.2 server paths, ECDSA and RSA-PSS signatures; the chain
    is validated through NSS trust (no pin)."""
    leaf = pki.leaves[kind]
    server = serve(*leaf.serve_args)
    home = tmp_path / "home"
    nss_db(home / ".pki" / "nssdb", pki.root)
    flags = ["--ssl-version-max=tls1.2"] if version == "TLSv1.2" else []
    page = load(browsers, server, home, *flags)
    assert page.version == version
    assert page.scheme == scheme
    if version == "TLSv1.2":
        auth = "ECDSA" if kind == "ec256" else "RSA"
        assert re.fullmatch(rf"TLS_ECDHE_{auth}_WITH_(AES_(128|256)_GCM_SHA(256|384)|"
                            r"CHACHA20_POLY1305_SHA256)", page.suite), page.suite
    else:
        assert page.suite in TLS13_SUITES


def test_hybrid_mlkem_group(pki: PKI, serve: ServeFactory, browsers: list[Browser],
                            tmp_path: Path) -> None:
    """X25519MLKEM768 first on the server: tlskit encapsulates to Chromium's ML-KEM share."""
    leaf = pki.leaves["ec256"]
    server = serve(*leaf.serve_args, "--groups", "X25519MLKEM768,x25519")
    page = load(browsers, server, tmp_path / "home", pinned(leaf))
    assert "X25519MLKEM768" in page.offered["Key shares sent"], page.offered
    assert page.group == "X25519MLKEM768"
    assert page.version == "TLSv1.3"
    assert page.verdict["post_quantum"] == ("ok", "Post-quantum key exchange: yes")
    share = next(i for i in page.items["Key shares sent"] if i.name == "X25519MLKEM768")
    assert "chosen" in share.classes and share.note == "0x11ec, 1216 bytes", share


def test_hello_retry_request(pki: PKI, serve: ServeFactory, browsers: list[Browser],
                             tmp_path: Path) -> None:
    """A server that only takes secp256r1, for which Chromium sends no key share: the
    handshake needs a HelloRetryRequest, and Chromium's second ClientHello must pass."""
    leaf = pki.leaves["ec256"]
    server = serve(*leaf.serve_args, "--groups", "secp256r1")
    page = load(browsers, server, tmp_path / "home", pinned(leaf))
    # The lists are from the first ClientHello (the one fingerprints are taken from): its
    # shares are for other groups, so the server asked for secp256r1, and says so.
    shares = page.offered["Key shares sent"]
    assert "secp256r1" not in shares and "x25519" in shares, shares
    assert page.negotiated["HelloRetryRequest"] == "secp256r1"
    assert page.verdict["hello_retry"] == ("info", "HelloRetryRequest: yes")
    assert 'id="hrr"' in page.dom
    assert page.group == "secp256r1"
    assert page.version == "TLSv1.3"


def test_chacha20_only(pki: PKI, serve: ServeFactory, browsers: list[Browser],
                       tmp_path: Path) -> None:
    leaf = pki.leaves["ec256"]
    server = serve(*leaf.serve_args, "--ciphers", "TLS_CHACHA20_POLY1305_SHA256")
    page = load(browsers, server, tmp_path / "home", pinned(leaf))
    assert page.suite == "TLS_CHACHA20_POLY1305_SHA256"


def test_brotli_compressed_certificate(pki: PKI, serve: ServeFactory, browsers: list[Browser],
                                       tmp_path: Path) -> None:
    """Chromium offers brotli alone for RFC 8879 certificate compression: a server that
    prefers zstd and zlib still sends it a brotli-compressed (RSA, so large) chain, and
    the page loads over that connection."""
    leaf = pki.leaves["rsa2048"]
    server = serve(*leaf.serve_args, "--compress-cert", "zstd,zlib,brotli")
    page = load(browsers, server, tmp_path / "home", pinned(leaf))
    assert page.version == "TLSv1.3"
    server.wait_for(rf"^{re.escape(page.address)} TLSv1\.3 .* cert-compression=brotli$")
