"""Headless Firefox ESR (NSS, a TLS stack of its own) loads `tlskit serve`'s page.

Firefox gets a fresh profile whose NSS database (cert9.db) trusts the test root, and a
user.js that turns off first-run pages and everything that would reach the network. It
has no --dump-dom, so `--screenshot` is the page load, and the evidence that the page came
over a verified TLS connection is the server's log: a completed handshake followed by
Firefox's GET / on that connection (Firefox sends no request before the certificate has
passed). Without the root, Firefox must refuse the certificate with an alert.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from ..support.nss import nss_db
from .conftest import (
    BROWSER_TIMEOUT,
    PKI,
    Browser,
    Page,
    ServeFactory,
    assert_clean,
    assert_png,
    isolated_env,
    need,
)

pytestmark = pytest.mark.interop

PREFS = {
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.aboutwelcome.enabled": False,
    "startup.homepage_welcome_url": "",
    "startup.homepage_welcome_url.additional": "",
    "browser.newtabpage.enabled": False,
    "browser.sessionstore.resume_from_crash": False,
    "toolkit.startup.max_resumed_crashes": -1,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.unified": False,
    "app.update.auto": False,
    "app.normandy.enabled": False,
    "extensions.update.enabled": False,
    "extensions.getAddons.cache.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.update.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "network.trr.mode": 5,  # no DNS over HTTPS
    "network.dns.disablePrefetch": True,
    "network.prefetch-next": False,
    "network.http.speculative-parallel-limit": 0,
    "media.gmp-manager.url": "",
    "browser.region.network.url": "",
    "security.OCSP.enabled": 0,
    "security.remote_settings.crlite_filters.enabled": False,
    "security.remote_settings.intermediates.enabled": False,
}

UA = r"Gecko/\d+ Firefox/"


def profile(directory: Path, root: Path | None, **prefs: object) -> Path:
    """A new Firefox profile; its NSS database trusts ``root`` (none: an empty one)."""
    directory.mkdir(parents=True)
    if root is not None:
        nss_db(directory, root)
    lines = []
    for name, value in {**PREFS, **prefs}.items():
        literal = ("true" if value else "false") if isinstance(value, bool) else (
            str(value) if isinstance(value, int) else '"' + str(value) + '"')
        lines.append(f'user_pref("{name}", {literal});\n')
    (directory / "user.js").write_text("".join(lines))
    return directory


def firefox(browsers: list[Browser], home: Path, prof: Path, url: str,
            shot: Path) -> Browser:
    env = isolated_env(home)
    env.update(MOZ_HEADLESS="1", MOZ_CRASHREPORTER_DISABLE="1", MOZ_NO_REMOTE="1")
    argv = [need("firefox-esr"), "--headless", "--no-remote", "-profile", str(prof),
            "--screenshot", str(shot), url]
    browser = Browser(argv, env, cwd=home)
    browsers.append(browser)
    return browser


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_trusts_local_ca(pki: PKI, serve: ServeFactory, browsers: list[Browser],
                         tmp_path: Path, version: str) -> None:
    leaf = pki.leaves["ec256"]
    server = serve(*leaf.serve_args)
    prefs = {"security.tls.version.max": 3} if version == "TLSv1.2" else {}
    prof = profile(tmp_path / "profile", pki.root, **prefs)
    shot = tmp_path / "page.png"
    run = firefox(browsers, tmp_path / "home", prof, server.url, shot).wait()
    assert run.returncode == 0, (f"firefox exit {run.returncode}:\n{run.tail()}\n"
                                 f"--- tlskit serve:\n{server.log()}")
    assert shot.is_file(), run.tail()
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    get = server.wait_for(rf"^(\S+) GET / .*{UA}")
    addr = re.escape(get.group(1))
    done = server.wait_for(rf"^{addr} (TLSv1\.[23]) (\S+) (\S+) sni=localhost "
                           r"alpn=http/1\.1$")
    assert done.group(1) == version
    if version == "TLSv1.3":
        assert done.group(2) in ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                 "TLS_CHACHA20_POLY1305_SHA256")
    else:
        assert done.group(2).startswith("TLS_ECDHE_ECDSA_WITH_"), done.group(2)
    assert done.group(3) in ("X25519MLKEM768", "x25519", "secp256r1"), done.group(3)
    assert_clean(server.settle())


@pytest.mark.parametrize("algorithm", ["zstd", "brotli"])
def test_compressed_certificate(pki: PKI, serve: ServeFactory, browsers: list[Browser],
                                tmp_path: Path, algorithm: str) -> None:
    """Firefox offers zlib, brotli and zstd for RFC 8879 certificate compression: a server
    that prefers `algorithm` sends the (RSA, so large) chain compressed with it, Firefox
    decompresses and verifies it, and asks for the page on that connection."""
    leaf = pki.leaves["rsa2048"]
    server = serve(*leaf.serve_args, "--compress-cert", f"{algorithm},zlib")
    prof = profile(tmp_path / "profile", pki.root)
    run = firefox(browsers, tmp_path / "home", prof, server.url, tmp_path / "page.png").wait()
    assert run.returncode == 0, (f"firefox exit {run.returncode}:\n{run.tail()}\n"
                                 f"--- tlskit serve:\n{server.log()}")
    get = server.wait_for(rf"^(\S+) GET / .*{UA}")
    server.wait_for(rf"^{re.escape(get.group(1))} TLSv1\.3 \S+ \S+ sni=localhost "
                    rf"alpn=http/1\.1 cert-compression={algorithm}$")
    assert_clean(server.settle())


def test_untrusted_root_is_refused(pki: PKI, serve: ServeFactory, browsers: list[Browser],
                                   tmp_path: Path) -> None:
    """The control: an empty NSS database. Firefox aborts the handshake with an alert (and
    its screenshot mode then waits on the error page, so it is stopped here)."""
    leaf = pki.leaves["ec256"]
    server = serve(*leaf.serve_args)
    prof = profile(tmp_path / "profile", None)
    browser = firefox(browsers, tmp_path / "home", prof, server.url, tmp_path / "page.png")
    server.wait_for(r"closed by the client: alert \w+")
    browser.kill()
    browser.wait(10)
    assert " GET " not in server.settle(), server.log()


# --------------------------------------------------------------------------- the DOM, over BiDi


class BiDi:
    """A WebDriver BiDi session with a Firefox started with --remote-debugging-port (the
    protocol Firefox itself speaks, over a WebSocket): navigate, read the DOM as the
    browser built it, take a screenshot."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.next_id = 0
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> BiDi:
        from websockets.sync.client import connect

        self.ws = self._stack.enter_context(
            connect(f"{self.url}/session", max_size=None, open_timeout=30))
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self.call("browser.close", {})
        self._stack.close()

    def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv(timeout=BROWSER_TIMEOUT))
            if reply.get("id") == self.next_id:
                assert reply.get("type") != "error", reply
                return dict(reply["result"])


def firefox_bidi(browsers: list[Browser], home: Path, prof: Path) -> tuple[Browser, str]:
    """Firefox waiting for a BiDi client; the WebSocket URL it announced."""
    env = isolated_env(home)
    env.update(MOZ_HEADLESS="1", MOZ_CRASHREPORTER_DISABLE="1", MOZ_NO_REMOTE="1")
    argv = [need("firefox-esr"), "--headless", "--no-remote", "-profile", str(prof),
            "--remote-debugging-port=0", "--window-size=1200,2400"]
    browser = Browser(argv, env, cwd=home)
    browsers.append(browser)
    assert browser.proc.stderr is not None
    deadline = time.monotonic() + BROWSER_TIMEOUT
    seen = []
    while time.monotonic() < deadline:
        line = browser.proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        found = re.search(r"WebDriver BiDi listening on (ws://\S+)", line)
        if found:
            threading.Thread(target=browser.proc.stderr.read, daemon=True).start()  # drain
            return browser, found.group(1)
    pytest.fail("firefox did not start its BiDi server:\n" + "".join(seen[-20:]))


def test_page_dom_and_screenshot(pki: PKI, serve: ServeFactory, browsers: list[Browser],
                                 tmp_path: Path, artifacts: Path) -> None:
    """Firefox (NSS) loads the page, trusting the root through its profile's database; the
    DOM it built says what every page must say, about Firefox's own offer (NSS names no
    GREASE; its ECH and delegated credentials are named), and its screenshot is kept."""
    leaf = pki.leaves["ec256"]
    server = serve(*leaf.serve_args)
    prof = profile(tmp_path / "profile", pki.root)
    browser, url = firefox_bidi(browsers, tmp_path / "home", prof)
    try:
        with BiDi(url) as bidi:
            bidi.call("session.new", {"capabilities": {}})
            context = bidi.call("browsingContext.getTree", {})["contexts"][0]["context"]
            bidi.call("browsingContext.navigate", {"context": context, "url": server.url,
                                                   "wait": "complete"})
            dom = bidi.call("script.evaluate", {
                "expression": "document.documentElement.outerHTML",
                "target": {"context": context}, "awaitPromise": False})["result"]["value"]
            loaded = bidi.call("script.evaluate", {
                "expression": "document.getElementById('diagram').naturalWidth",
                "target": {"context": context}, "awaitPromise": False})["result"]["value"]
            shot = bidi.call("browsingContext.captureScreenshot",
                             {"context": context, "origin": "document"})["data"]
    finally:
        browser.kill()
    page = Page.parse(dom)
    page.check()
    assert loaded == 820, "the diagram (an SVG 820 wide) did not load"
    path = artifacts / "firefox-tls13.png"
    path.write_bytes(base64.b64decode(shot))
    assert_png(path)
    print(f"screenshot: {path}")
    assert page.version == "TLSv1.3"
    assert re.search(UA, page.negotiated["User agent"]), page.negotiated
    exts = page.offered["Extensions"]
    assert "encrypted_client_hello" in exts and "delegated_credential" in exts, exts
    assert page.verdict["ech"][0] == "ok"
    mlkem = [i for i in page.items["Key shares sent"] if i.name == "X25519MLKEM768"]
    assert mlkem and mlkem[0].note == "0x11ec, 1216 bytes", page.items["Key shares sent"]
    addr = re.escape(page.address)
    server.wait_for(rf"^{addr} GET / .*{UA}")
    server.wait_for(rf" GET {re.escape(page.diagram or '')} .*{UA}")
    assert_clean(server.settle())
