"""tlskit client <-> tlskit server in memory, stapling end to end: the server's `OcspStapler`
fetches from a `LocalCA.serve_ocsp()` responder over real HTTP on 127.0.0.1, the client asks
for and validates the staple. One injected clock drives the CA, its responder, the stapler
and the client, so the whole life of a staple (reuse, refresh at half-life, revocation
reaching clients at the next refresh) runs in milliseconds and without sleeping.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tlskit import (
    AlertDescription,
    AlertReceived,
    ClientConfig,
    ClientConnection,
    ConnectionClosed,
    HandshakeComplete,
    ServerConfig,
    ServerConnection,
    TLSError,
)
from tlskit.ca import LocalCA, OCSPResponder
from tlskit.x509.errors import CertificateVerificationError, Reason
from tlskit.x509.stapling import OcspStapler

from .conftest import VERSIONS, Clock, StaplePKI, cert_status, now, this_update

# The shared `pki` fixture runs `openssl ocsp -respout`, hence the marker.
pytestmark = pytest.mark.interop


@dataclass
class Outcome:
    client: ClientConnection
    server: ServerConnection
    client_error: TLSError | None = None
    server_error: TLSError | None = None

    @property
    def complete(self) -> HandshakeComplete:
        assert self.client_error is None and self.server_error is None, (
            self.client_error, self.server_error)
        hc = self.client.handshake_complete
        assert hc is not None and self.server.handshake_complete is not None
        return hc


def handshake(client_config: ClientConfig, server_config: ServerConfig) -> Outcome:
    """Shuttle bytes until both sides are done or one failed and its alert was delivered."""
    out = Outcome(ClientConnection(client_config, server_name="localhost"),
                  ServerConnection(server_config))
    for _ in range(20):
        moved = False
        for sender, receiver, side in ((out.client, out.server, "server"),
                                       (out.server, out.client, "client")):
            data = sender.data_to_send()
            if not data or getattr(out, f"{side}_error") is not None:
                continue
            moved = True
            try:
                events = receiver.receive_data(data)
            except TLSError as exc:
                setattr(out, f"{side}_error", exc)
                continue
            closed = [e for e in events if isinstance(e, ConnectionClosed) and e.alert]
            if closed:  # the other side aborted: recorded as the alert it sent
                setattr(out, f"{side}_error", AlertReceived(closed[0].alert))
        if not moved:
            return out
    raise AssertionError("the handshake did not settle")


class Requests:
    """Counts the requests a `LocalCA` responder answered (its log runs after the answer
    is written, so waiting on a condition rather than reading a plain counter)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()

    def __call__(self, line: str) -> None:
        with self._cond:
            self.lines.append(line)
            self._cond.notify_all()

    def wait_for(self, count: int) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.lines) >= count, timeout=10), self.lines
            assert len(self.lines) == count, self.lines


@dataclass
class Site:
    ca: LocalCA
    responder: OCSPResponder
    requests: Requests
    clock: Clock
    stapler: OcspStapler
    given: list[bytes | None]
    server_config: ServerConfig


@pytest.fixture
def site() -> Iterator[Site]:
    clock = Clock(start=now())
    ca = LocalCA.create(clock=clock)
    requests = Requests()
    responder = ca.serve_ocsp(log=requests)
    try:
        leaf = ca.issue_server(["localhost"], ocsp_url=responder.url)
        stapler = OcspStapler(leaf.certificate, ca.intermediate, clock=clock, background=False)
        given: list[bytes | None] = []

        def current() -> bytes | None:
            given.append(stapler.current())
            return given[-1]

        config = ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key,
                              ocsp_response=current)
        yield Site(ca, responder, requests, clock, stapler, given, config)
    finally:
        responder.close()


def client_config(site: Site, version: str, **kw: object) -> ClientConfig:
    return ClientConfig(trust_anchors=[site.ca.root], versions=[version],
                        clock=site.clock.timestamp, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("version", VERSIONS)
def test_staple_lifecycle(site: Site, version: str) -> None:
    config = client_config(site, version, ocsp_stapling=True)

    hc = handshake(config, site.server_config).complete
    site.requests.wait_for(1)
    first = site.given[-1]
    assert first is not None and hc.ocsp_response == first
    assert cert_status(first) == "good" and this_update(first) == site.clock()

    site.clock.advance(hours=6)  # a quarter into the CA's one-day window: reused
    assert handshake(config, site.server_config).complete.ocsp_response == first
    assert site.given[-1] == first

    site.clock.advance(hours=6, seconds=1)  # past half-life: fetched again
    hc = handshake(config, site.server_config).complete
    site.requests.wait_for(2)
    second = site.given[-1]
    assert second is not None and second != first and hc.ocsp_response == second
    assert this_update(second) == site.clock()

    # The CA revokes the certificate. Clients learn it at the stapler's next refresh: until
    # then the good response, still valid, is what the server has to staple.
    site.ca.revoke(site.stapler.leaf, "keyCompromise")
    assert handshake(config, site.server_config).complete.ocsp_response == second

    site.clock.advance(hours=12, seconds=1)
    outcome = handshake(config, site.server_config)
    site.requests.wait_for(3)
    third = site.given[-1]
    assert third is not None and cert_status(third) == "revoked"
    assert isinstance(outcome.client_error, CertificateVerificationError)
    assert outcome.client_error.reason == Reason.revoked
    assert outcome.client_error.alert == AlertDescription.certificate_revoked
    assert isinstance(outcome.server_error, AlertReceived)
    assert outcome.server_error.alert == AlertDescription.certificate_revoked
    assert outcome.client.handshake_complete is None


@pytest.mark.parametrize("version", VERSIONS)
def test_no_status_request_no_staple(site: Site, version: str) -> None:
    """A client that did not ask gets no staple, and the stapler is not even consulted."""
    hc = handshake(client_config(site, version), site.server_config).complete
    assert hc.ocsp_response is None
    assert site.given == []
    assert site.requests.lines == []


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("policy", "accepted"), [("off", True), ("soft-fail", True),
                                                  ("hard-fail", False)])
def test_responder_down_means_no_staple(pki: StaplePKI, version: str, policy: str,
                                        accepted: bool) -> None:
    """Responder unreachable: the server staples nothing and does not fail; the client's
    policy decides (hard-fail: revocation_unknown, since nothing else can answer)."""
    leaf = pki.leaves["aia-dead"]
    stapler = OcspStapler(leaf.cert, pki.intermediate, timeout=2, background=False)
    server = pki.server_config("aia-dead", ocsp_response=stapler.current)
    client = ClientConfig(verifier=pki.verifier(policy), ocsp_stapling=True, versions=[version])
    outcome = handshake(client, server)
    assert stapler.current() is None and "unreachable" in (stapler.last_error or "")
    if accepted:
        assert outcome.complete.ocsp_response is None
    else:
        assert isinstance(outcome.client_error, CertificateVerificationError)
        assert outcome.client_error.reason == Reason.revocation_unknown
        assert outcome.client_error.alert == AlertDescription.certificate_unknown


def test_server_staples_bytes_as_given(pki: StaplePKI) -> None:
    """`ServerConfig.ocsp_response` may also be plain bytes (a callable is the other form)."""
    for staple in (pki.staples["good"], lambda: pki.staples["good"]):
        server = pki.server_config("good", ocsp_response=staple)  # type: ignore[arg-type]
        for version in VERSIONS:
            client = ClientConfig(trust_anchors=[pki.root], ocsp_stapling=True,
                                  versions=[version])
            assert handshake(client, server).complete.ocsp_response == pki.staples["good"]


def test_background_refresh_never_blocks_a_handshake() -> None:
    """With the default background refresh, current() answers at once even while the
    responder hangs; the fetch happens in the stapler's own thread."""
    import socket
    import time

    from tlskit.ca import LocalCA

    silent = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    try:
        ca = LocalCA.create(directory=None)
        port = silent.getsockname()[1]
        leaf = ca.issue_server(["localhost"], ocsp_url=f"http://127.0.0.1:{port}/")
        stapler = OcspStapler(leaf.certificate, ca.intermediate, timeout=2)
        started = time.monotonic()
        assert stapler.current() is None
        # A fetch in current() itself would take the whole 2 s timeout (nothing answers);
        # a tighter bound only measures how loaded the machine is.
        assert time.monotonic() - started < 2
        stapler.wait(30)
        assert stapler.last_error is not None
    finally:
        silent.close()


def test_current_answers_at_once_while_a_background_refresh_is_in_flight() -> None:
    """The refresh thread held the stapler's lock for its whole fetch: the call that
    started it returned at once, but every later current() (each handshake meanwhile)
    waited on the lock until the responder answered or the fetch timed out."""
    import socket
    import time

    from tlskit.ca import LocalCA

    silent = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    silent.settimeout(30)
    try:
        ca = LocalCA.create(directory=None)
        port = silent.getsockname()[1]
        leaf = ca.issue_server(["localhost"], ocsp_url=f"http://127.0.0.1:{port}/")
        stapler = OcspStapler(leaf.certificate, ca.intermediate, timeout=10)
        assert stapler.current() is None  # starts the refresh
        fetching, _ = silent.accept()  # the refresh is connected, waiting for an answer
        with fetching:
            started = time.monotonic()
            assert stapler.current() is None
            # the fetch cannot end before its 10 s timeout while we hold its connection
            assert time.monotonic() - started < 10, "current() waited for the fetch"
        stapler.wait(30)  # our close ends it
        assert stapler.last_error is not None
    finally:
        silent.close()
