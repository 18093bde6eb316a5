"""The tlskit server staples what `OcspStapler` holds, and ``openssl s_client -status`` shows
it, in TLS 1.3 and TLS 1.2: a response read from a file, one fetched from a real ``openssl
ocsp`` responder named in the leaf's AIA, nothing when no response is available, and a new
response once the old one is past half its validity.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import re
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.x509 import ocsp

from tlskit import ConnectionClosed, HandshakeComplete, ServerConfig
from tlskit.x509.stapling import OcspStapler

from ..support.pump import Pump
from .conftest import (
    UTC,
    VERSIONS,
    Clock,
    OpensslResponder,
    Peers,
    StaplePKI,
    cert_status,
    this_update,
)

pytestmark = pytest.mark.interop

NO_STAPLE = "OCSP response: no response sent"
# Application data the server sends once the handshake is done; s_client closes when it
# has printed it. It must not occur in what s_client prints about the staple itself.
APP_DATA = b"tlskit application data 5c1e\n"


def s_client_run(peers: Peers, pki: StaplePKI, config: ServerConfig,
                 version: str) -> tuple[HandshakeComplete, str]:
    """One s_client connection to a tlskit server thread: handshake, a line of data, then
    s_client's stdin ends and it closes. Returns tlskit's HandshakeComplete and s_client's
    output, which holds what it printed about the stapled response."""

    def body(pump: Pump) -> tuple[HandshakeComplete, ConnectionClosed]:
        hc = pump.handshake()
        pump.send(APP_DATA)
        return hc, pump.wait_closed()

    server = peers.server(config, body)
    client = peers.s_client(pki, server.port, version)
    client.wait_for(rb"(?m)^" + re.escape(APP_DATA))
    client.close_stdin()
    [(hc, closed)] = server.join()
    assert client.wait() == 0, client.describe()
    assert closed == ConnectionClosed(None)
    assert hc.version == version
    out = client.stdout
    assert re.search(r"Verification: OK", out), out
    return hc, out


def staple_shown(out: str) -> dict[str, str]:
    """The fields s_client printed for the stapled response (fails if there was none)."""
    assert NO_STAPLE not in out, out
    fields = {}
    for name in ("OCSP Response Status", "Cert Status", "Serial Number", "This Update"):
        found = re.search(rf"^\s*{name}: ([^\n]+)$", out, re.M)
        assert found, f"{name} not in s_client output:\n{out}"
        fields[name] = " ".join(found.group(1).split())
    return fields


def openssl_time(text: str) -> dt.datetime:
    """s_client's "Nov 29 03:30:44 2026 GMT" as an aware datetime."""
    return dt.datetime.strptime(text, "%b %d %H:%M:%S %Y GMT").replace(tzinfo=UTC)


def recording(stapler: OcspStapler) -> tuple[Callable[[], bytes | None], list[bytes | None]]:
    """The stapler's `current`, recording what each handshake was given to staple."""
    given: list[bytes | None] = []

    def current() -> bytes | None:
        der = stapler.current()
        given.append(der)
        return der

    return current, given


# --------------------------------------------------------------------------- from a file


@pytest.mark.parametrize("version", VERSIONS)
def test_staple_from_file(peers: Peers, pki: StaplePKI, version: str) -> None:
    leaf = pki.leaves["good"]
    stapler = OcspStapler(leaf.cert, pki.intermediate, response_file=pki.staple_file("good"),
        background=False)
    current, given = recording(stapler)
    _hc, out = s_client_run(peers, pki, pki.server_config("good", ocsp_response=current),
                            version)
    shown = staple_shown(out)
    assert shown["OCSP Response Status"] == "successful (0x0)"
    assert shown["Cert Status"] == "good"
    assert int(shown["Serial Number"], 16) == leaf.cert.serial_number
    assert given == [pki.staples["good"]]


@pytest.mark.parametrize("version", VERSIONS)
def test_revoked_response_is_stapled_too(peers: Peers, pki: StaplePKI, version: str) -> None:
    """Hiding a "revoked" answer would not make the certificate less revoked."""
    stapler = OcspStapler(pki.leaves["revoked"].cert, pki.intermediate,
                          response_file=pki.staple_file("revoked-openssl"), background=False)
    _hc, out = s_client_run(
        peers, pki, pki.server_config("revoked", ocsp_response=stapler.current), version)
    shown = staple_shown(out)
    assert shown["Cert Status"] == "revoked"
    assert "Revocation Reason: keyCompromise" in out


@pytest.mark.parametrize("version", VERSIONS)
def test_file_replaced_by_newer_response_is_picked_up(peers: Peers, pki: StaplePKI,
                                                      tmp_path: Path, version: str) -> None:
    """An operator's cron job rewrites the file; the stapler re-reads it once the response
    it holds is past half its validity (injected clock), not before."""
    leaf = pki.leaves["good"]
    path = tmp_path / "staple.der"
    first = pki.staples["good"]  # LocalCA: thisUpdate = now, nextUpdate = now + 1 day
    path.write_bytes(first)
    t0 = this_update(first)
    newer = pki.crafted(leaf.cert, status=ocsp.OCSPCertStatus.GOOD, signer=pki.intermediate,
                         key=pki.ca.intermediate_key, start=t0 + dt.timedelta(hours=12),
                         end=t0 + dt.timedelta(hours=36))
    clock = Clock()
    stapler = OcspStapler(leaf.cert, pki.intermediate, response_file=path, clock=clock,
        background=False)
    config = pki.server_config("good", ocsp_response=stapler.current)

    shown = staple_shown(s_client_run(peers, pki, config, version)[1])
    assert openssl_time(shown["This Update"]) == t0
    path.write_bytes(newer)
    clock.advance(hours=6)  # a quarter of the way: the file is not even re-read
    shown = staple_shown(s_client_run(peers, pki, config, version)[1])
    assert openssl_time(shown["This Update"]) == t0
    clock.advance(hours=6, minutes=1)  # past half of the day-long window
    shown = staple_shown(s_client_run(peers, pki, config, version)[1])
    assert openssl_time(shown["This Update"]) == t0 + dt.timedelta(hours=12)
    assert stapler.last_error is None


# --------------------------------------------------------------------------- from a responder


@pytest.mark.parametrize("version", VERSIONS)
def test_staple_fetched_from_openssl_responder(peers: Peers, pki: StaplePKI,
                                               openssl_responder: OpensslResponder,
                                               version: str) -> None:
    """No URL given: the stapler asks the responder named in the leaf's AIA, once."""
    leaf = pki.leaves["aia"]
    stapler = OcspStapler(leaf.cert, pki.intermediate, background=False)
    assert stapler.url == openssl_responder.url
    before = openssl_responder.post_count()
    current, given = recording(stapler)
    config = pki.server_config("aia", ocsp_response=current)
    for _ in range(2):
        shown = staple_shown(s_client_run(peers, pki, config, version)[1])
        assert shown["OCSP Response Status"] == "successful (0x0)"
        assert shown["Cert Status"] == "good"
        assert int(shown["Serial Number"], 16) == leaf.cert.serial_number
    openssl_responder.wait_post_count(before + 1)  # the second handshake reused it
    assert given[0] is not None and given[0] == given[1]
    assert cert_status(given[0]) == "good"


@pytest.mark.parametrize("version", VERSIONS)
def test_revoked_answer_from_openssl_responder(peers: Peers, pki: StaplePKI,
                                               openssl_responder: OpensslResponder,
                                               version: str) -> None:
    stapler = OcspStapler(pki.leaves["aia-revoked"].cert, pki.intermediate, background=False)
    _hc, out = s_client_run(
        peers, pki, pki.server_config("aia-revoked", ocsp_response=stapler.current), version)
    assert staple_shown(out)["Cert Status"] == "revoked"


# time(2), which openssl ocsp stamps thisUpdate from: on Linux it reads the kernel's
# coarse real-time clock, updated once per timer tick, so it lags the precise clock that
# datetime.now() reads by up to a tick or more (measured here: 2-8 ms, more under load).
_libc = ctypes.CDLL(None, use_errno=True)
_libc.time.restype = ctypes.c_long
_libc.time.argtypes = [ctypes.c_void_p]


def wait_until_after(moment: dt.datetime) -> None:
    """Block until openssl's clock is past ``moment``'s second. openssl ocsp stamps
    thisUpdate from time(2) in whole seconds, and the stapler (rightly) adopts only a
    strictly newer response: a refetch within the same second could not be told apart.
    This waits on that clock itself (at most one second and a tick), not for a guessed
    duration; waiting on the precise clock instead let a refetch a few milliseconds past
    the second still get the old second's stamp."""
    target = int(moment.timestamp())
    pause = threading.Event()
    while _libc.time(None) <= target:
        pause.wait(0.005)


@pytest.mark.parametrize("version", VERSIONS)
def test_responder_staple_refreshed_past_half_life(peers: Peers, pki: StaplePKI,
                                                   openssl_responder: OpensslResponder,
                                                   version: str) -> None:
    """openssl ocsp -ndays 1 answers with a day-long window. While the injected clock is in
    the first half, handshakes reuse the response (no request); past half, the next
    handshake makes the stapler fetch again and staples the new response."""
    leaf = pki.leaves["aia"]
    clock = Clock()
    stapler = OcspStapler(leaf.cert, pki.intermediate, clock=clock, background=False)
    current, given = recording(stapler)
    config = pki.server_config("aia", ocsp_response=current)
    before = openssl_responder.post_count()

    first_shown = staple_shown(s_client_run(peers, pki, config, version)[1])
    openssl_responder.wait_post_count(before + 1)
    first = given[-1]
    assert first is not None
    assert openssl_time(first_shown["This Update"]) == this_update(first)

    clock.advance(hours=11)  # not yet half-way
    s_client_run(peers, pki, config, version)
    assert given[-1] == first
    assert openssl_responder.post_count() == before + 1

    wait_until_after(this_update(first))
    clock.advance(hours=1, minutes=1)  # 12 h 1 min into the 24 h window
    second_shown = staple_shown(s_client_run(peers, pki, config, version)[1])
    openssl_responder.wait_post_count(before + 2)
    second = given[-1]
    assert second is not None and second != first
    assert this_update(second) > this_update(first)
    assert openssl_time(second_shown["This Update"]) == this_update(second)
    assert second_shown["Cert Status"] == "good"
    assert stapler.last_error is None


# --------------------------------------------------------------------------- nothing to staple


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("source", ["missing-file", "responder-down"])
def test_no_staple_available(peers: Peers, pki: StaplePKI, tmp_path: Path, source: str,
                             version: str) -> None:
    """The stapler has nothing (and does not raise): the handshake goes on unstapled."""
    if source == "missing-file":
        leaf = "good"
        stapler = OcspStapler(pki.leaves[leaf].cert, pki.intermediate,
                              response_file=tmp_path / "absent.der", background=False)
        why = "absent.der"
    else:
        leaf = "aia-dead"
        stapler = OcspStapler(pki.leaves[leaf].cert, pki.intermediate, timeout=2, background=False)
        why = f"127.0.0.1:{pki.dead_port} unreachable"
    current, given = recording(stapler)
    _hc, out = s_client_run(peers, pki, pki.server_config(leaf, ocsp_response=current),
                            version)
    assert NO_STAPLE in out
    assert "OCSP Response Status" not in out
    assert given == [None]
    assert why in (stapler.last_error or "")


@pytest.mark.parametrize("version", VERSIONS)
def test_stale_response_is_not_stapled(peers: Peers, pki: StaplePKI, version: str) -> None:
    """A response past its nextUpdate would make careful clients fail: staple nothing."""
    stapler = OcspStapler(pki.leaves["good"].cert, pki.intermediate,
                          response_file=pki.staple_file("stale"), background=False)
    _hc, out = s_client_run(peers, pki, pki.server_config("good", ocsp_response=stapler.current),
                            version)
    assert NO_STAPLE in out
    assert "is expired" in (stapler.last_error or "")
