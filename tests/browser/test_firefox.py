"""Headless Firefox ESR (NSS, a TLS stack of its own) loads `tlskit serve`'s page.

Firefox gets a fresh profile whose NSS database (cert9.db) trusts the test root, and a
user.js that turns off first-run pages and everything that would reach the network. It
has no --dump-dom, so `--screenshot` is the page load, and the evidence that the page came
over a verified TLS connection is the server's log: a completed handshake followed by
Firefox's GET / on that connection (Firefox sends no request before the certificate has
passed). Without the root, Firefox must refuse the certificate with an alert.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import PKI, Browser, ServeFactory, assert_clean, isolated_env, need, nss_db

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
    server = serve("--cert", str(leaf.cert), "--key", str(leaf.key))
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


def test_untrusted_root_is_refused(pki: PKI, serve: ServeFactory, browsers: list[Browser],
                                   tmp_path: Path) -> None:
    """The control: an empty NSS database. Firefox aborts the handshake with an alert (and
    its screenshot mode then waits on the error page, so it is stopped here)."""
    leaf = pki.leaves["ec256"]
    server = serve("--cert", str(leaf.cert), "--key", str(leaf.key))
    prof = profile(tmp_path / "profile", None)
    browser = firefox(browsers, tmp_path / "home", prof, server.url, tmp_path / "page.png")
    server.wait_for(r"closed by the client: alert \w+")
    browser.kill()
    browser.wait(10)
    assert " GET " not in server.settle(), server.log()
