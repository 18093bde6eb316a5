"""Certificate failures through every client: each library raises its usual certificate
error, and the text carries tlskit's explanation of what is wrong with which certificate."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import socket
import ssl
import threading
import urllib.error
from collections.abc import Iterator

import aiohttp
import httpx
import pytest
import requests
import urllib3

import tlskit.compat as tc

from .clients import CLIENTS
from .conftest import PKI

# The exception each library raises for a certificate that does not verify.
LIBRARY_ERROR: dict[str, type[BaseException]] = {
    "http.client": ssl.SSLCertVerificationError,
    "urllib.request": urllib.error.URLError,
    "urllib3": urllib3.exceptions.SSLError,
    "requests": requests.exceptions.SSLError,
    "httpx": httpx.ConnectError,
    "httpx-async": httpx.ConnectError,
    "aiohttp": aiohttp.ClientConnectorCertificateError,
    "asyncio": ssl.SSLCertVerificationError,
}


def _chain(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return [exc.certificate_error]  # (itself a CertificateError, without the details)
    out: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in out:
        out.append(seen)
        seen = seen.__cause__ or seen.__context__
    return out


def _check(exc: BaseException, reason: str, code: int) -> None:
    assert reason in str(exc)
    # Underneath it is ssl's own certificate error, with tlskit's words in verify_message.
    cert_errors = [e for e in _chain(exc) if isinstance(e, ssl.SSLCertVerificationError)]
    if isinstance(exc, urllib.error.URLError):
        cert_errors.append(exc.reason)  # type: ignore[arg-type]
    assert cert_errors, f"no SSLCertVerificationError under {exc!r}"
    err = cert_errors[0]
    assert isinstance(err, ssl.SSLCertVerificationError)
    assert reason in err.verify_message
    assert err.verify_code == code
    assert err.reason == "CERTIFICATE_VERIFY_FAILED"


# (the server fixture, its certificate, what tlskit's reason says, OpenSSL's X509_V_ERR code)
BAD_CERTIFICATES = {
    "expired": ("openssl_expired", "expired", "certificate for localhost expired on ", 10),
    "wrong-host": ("openssl_wrong_host", "wrong_host", "is not valid for localhost", 62),
}


@pytest.mark.parametrize("case", list(BAD_CERTIFICATES))
@pytest.mark.parametrize("client", list(CLIENTS))
def test_bad_certificate(client: str, case: str, pki: PKI, client_ctx: tc.SSLContext,
                         request: pytest.FixtureRequest) -> None:
    """An expired certificate (X509_V_ERR_CERT_HAS_EXPIRED) and one for another host
    (X509_V_ERR_HOSTNAME_MISMATCH): each library reports tlskit's own reason."""
    server_fixture, cert, says, code = BAD_CERTIFICATES[case]
    server = request.getfixturevalue(server_fixture)
    with pytest.raises(LIBRARY_ERROR[client]) as info:
        CLIENTS[client](server.url(), client_ctx)
    reason = pki.reason(getattr(pki, cert))
    assert says in reason
    _check(info.value, reason, code)


@pytest.mark.parametrize("client", ["http.client", "requests", "httpx", "aiohttp"])
def test_untrusted_root(client: str, pki: PKI, openssl_good: object) -> None:
    ctx = tc.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # trusts nothing, as ssl's would
    with pytest.raises(LIBRARY_ERROR[client]) as info:
        CLIENTS[client](openssl_good.url(), ctx)  # type: ignore[attr-defined]
    err = next(e for e in _chain(info.value) if isinstance(e, ssl.SSLCertVerificationError))
    assert err.verify_code == 20  # X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    assert "neither a trust anchor" in err.verify_message


@pytest.mark.parametrize("client", ["http.client", "httpx-async", "asyncio"])
def test_cert_none_accepts_what_does_not_verify(client: str, openssl_expired: object) -> None:
    ctx = tc.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    page = CLIENTS[client](openssl_expired.url(), ctx)  # type: ignore[attr-defined]
    assert (page.status, page.version) == (200, "TLSv1.3")


# The exception each library raises for a TLS failure other than the certificate's.
LIBRARY_TLS_ERROR: dict[str, type[BaseException]] = {
    **LIBRARY_ERROR,
    "http.client": ssl.SSLError,
    "aiohttp": aiohttp.ClientConnectorSSLError,
    "asyncio": ssl.SSLError,
}


@pytest.fixture(scope="module")
def plain_http_port() -> Iterator[int]:
    """A plain HTTP server: what an https:// URL with the wrong port reaches."""
    class Quiet(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("client", list(CLIENTS))
def test_https_to_a_plain_http_port(client: str, client_ctx: tc.SSLContext,
                                    plain_http_port: int) -> None:
    """OpenSSL's reason (WRONG_VERSION_NUMBER), with what the server sent instead; and the
    SSLError's errno a plain int, as _ssl's (its repr is in requests' message)."""
    with pytest.raises(LIBRARY_TLS_ERROR[client]) as info:
        CLIENTS[client](f"https://localhost:{plain_http_port}/", client_ctx)
    chain = _chain(info.value)
    if isinstance(info.value, urllib.error.URLError):
        chain.append(info.value.reason)  # type: ignore[arg-type]
    if isinstance(info.value, aiohttp.ClientConnectorSSLError):
        chain = [info.value.os_error]  # (itself an ssl.SSLError, without the details)
    err = next(e for e in chain if isinstance(e, ssl.SSLError))
    assert err.reason == "WRONG_VERSION_NUMBER"
    assert "it answered in plain HTTP" in str(err)
    assert type(err.errno) is int
    assert repr(err).startswith("SSLError(1, ")


@pytest.fixture(scope="module")
def silent_port() -> Iterator[int]:
    """A server that accepts connections and never says anything (no ServerHello)."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                held.append(listener.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    yield listener.getsockname()[1]
    listener.close()
    for conn in held:
        conn.close()


def _requests_get(url: str, ctx: ssl.SSLContext) -> None:
    with requests.Session() as session:
        session.mount("https://", tc.requests_adapter(ctx, max_retries=0))
        session.get(url, timeout=0.5)


def _httpx_get(url: str, ctx: ssl.SSLContext) -> None:
    httpx.get(url, verify=ctx, timeout=0.5)


def _urllib3_get(url: str, ctx: ssl.SSLContext) -> None:
    with urllib3.PoolManager(ssl_context=ctx, retries=False, timeout=0.5) as pool:
        pool.request("GET", url)


def _aiohttp_get(url: str, ctx: ssl.SSLContext) -> None:
    async def get() -> None:
        timeout = aiohttp.ClientTimeout(total=0.5)
        async with aiohttp.ClientSession(timeout=timeout) as session, \
                session.get(url, ssl=ctx):
            pass
    asyncio.run(get())


TIMEOUTS = {
    "requests": (_requests_get, requests.exceptions.Timeout),
    "httpx": (_httpx_get, httpx.ConnectTimeout),
    "urllib3": (_urllib3_get, urllib3.exceptions.ReadTimeoutError),
    "aiohttp": (_aiohttp_get, TimeoutError),
}


@pytest.mark.parametrize("client", list(TIMEOUTS))
def test_silent_server_times_out(client: str, client_ctx: tc.SSLContext,
                                 silent_port: int) -> None:
    """A handshake the server never answers ends in the library's timeout error."""
    get, error = TIMEOUTS[client]
    with pytest.raises(error):
        get(f"https://localhost:{silent_port}/", client_ctx)
