"""Headless Firefox ESR against `tlskit serve` with an OCSP Must-Staple certificate
(RFC 7633, `tlskit ca issue --must-staple`), the root imported into the profile's NSS
database as in test_firefox.py.

Firefox enforces must-staple (security.ssl.enable_ocsp_must_staple, on by default):
served without a staple, the certificate is refused with
MOZILLA_PKIX_ERROR_REQUIRED_TLS_FEATURE_MISSING, which NSS sends to the server as the
alert bad_certificate, and no request follows; served with a valid staple
(``--ocsp-response``), the page loads. This holds for a root the user imported, not
only for built-in roots.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tlskit.ca import LocalCA
from tlskit.x509.revocation import build_ocsp_request

from .conftest import Browser, ServeFactory, assert_clean
from .test_firefox import UA, firefox, profile

pytestmark = pytest.mark.interop


class StrictSite:
    """A CA, a must-staple leaf for localhost and a good staple for it, on disk."""

    def __init__(self, base: Path) -> None:
        ca = LocalCA.create(directory=base / "ca", url="http://127.0.0.1:9")
        self.root = base / "ca" / "root.pem"
        issued = ca.issue_server(["localhost", "127.0.0.1"], must_staple=True)
        self.cert, self.key = issued.write(cert_path=base / "strict.pem",
                                           key_path=base / "strict-key.pem")
        self.staple = base / "strict.der"
        self.staple.write_bytes(ca.ocsp_response(build_ocsp_request(
            issued.certificate, ca.intermediate, None)))

    def args(self, *extra: str) -> tuple[str, ...]:
        return ("--cert", str(self.cert), "--key", str(self.key), *extra)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> StrictSite:
    return StrictSite(tmp_path_factory.mktemp("must-staple-site"))


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_must_staple_without_staple_is_refused(site: StrictSite, serve: ServeFactory,
                                               browsers: list[Browser], tmp_path: Path,
                                               version: str) -> None:
    server = serve(*site.args())
    prefs = {"security.tls.version.max": 3} if version == "TLSv1.2" else {}
    prof = profile(tmp_path / "profile", site.root, **prefs)
    browser = firefox(browsers, tmp_path / "home", prof, server.url, tmp_path / "page.png")
    closed = server.wait_for(r"closed by the client: alert (\w+)")
    browser.kill()
    browser.wait(10)
    log = server.settle()
    assert " GET " not in log, log
    # NSS sends bad_certificate for its certificate errors, this one included (tlskit's
    # client sends bad_certificate_status_response, RFC 6066 8's alert for the staple).
    assert closed.group(1) == "bad_certificate", log


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_must_staple_with_staple_loads(site: StrictSite, serve: ServeFactory,
                                       browsers: list[Browser], tmp_path: Path,
                                       version: str) -> None:
    server = serve(*site.args("--ocsp-response", str(site.staple)))
    prefs = {"security.tls.version.max": 3} if version == "TLSv1.2" else {}
    prof = profile(tmp_path / "profile", site.root, **prefs)
    shot = tmp_path / "page.png"
    run = firefox(browsers, tmp_path / "home", prof, server.url, shot).wait()
    assert run.returncode == 0, (f"firefox exit {run.returncode}:\n{run.tail()}\n"
                                 f"--- tlskit serve:\n{server.log()}")
    assert shot.is_file(), run.tail()
    server.wait_for(rf"^(\S+) GET / .*{UA}")
    done = server.wait_for(r"^\S+ (TLSv1\.[23]) \S+ \S+ sni=localhost alpn=http/1\.1$")
    assert done.group(1) == version
    assert_clean(server.settle())
