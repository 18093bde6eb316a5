"""0-RTT early data (RFC 8446 2.3, 4.2.10) and psk_ke resumption (4.2.9) against
`openssl`, both directions.

tlskit client -> `s_server -early_data`: a first connection collects s_server's ticket,
the second sends early data with it; s_server prints what it read as early data.
`s_client -early_data FILE -sess_in` -> tlskit server: s_client reports whether the early
data was accepted, and the tlskit server sees it as `EarlyDataReceived` before the
handshake completes.
"""

from __future__ import annotations

from pathlib import Path

from tlskit import EarlyDataReceived, HandshakeComplete

from ..support.peers import PeerProcess
from ..support.pump import Pump, echo_until_close, tlskit_server
from .conftest import PKI, Peers
from .helpers import resume_and_say, ticket_from

EARLY = b"early hello from tlskit\n"


def _s_client_session(peers: Peers, pki: PKI, port: int) -> tuple[Path, Path]:
    """A first s_client connection saving its session (-sess_out); the session file and
    a file holding the early data to send with it."""
    session_file = pki.directory / f"s_client-early-{port}.pem"
    early_file = pki.directory / f"early-{port}.txt"
    early_file.write_bytes(EARLY)
    _s_client_until_ticket(peers.openssl_client(pki, port, "-sess_out", str(session_file)))
    return session_file, early_file


def _s_client_early(peers: Peers, pki: PKI, port: int, session_file: Path,
                    early_file: Path) -> PeerProcess:
    """s_client resuming ``session_file`` with ``early_file`` as 0-RTT data."""
    return _s_client_until_ticket(peers.openssl_client(
        pki, port, "-sess_in", str(session_file), "-early_data", str(early_file)))


def _s_client_until_ticket(client: PeerProcess) -> PeerProcess:
    """Wait for the server's "ticket sent" line, then let s_client end cleanly."""
    client.wait_for("ticket sent")
    client.close_stdin()
    assert client.wait() == 0, client.describe()
    return client


def test_tlskit_client_early_data_accepted_by_s_server(peers: Peers, pki: PKI) -> None:
    proc, port = peers.openssl_server(pki, "ec256", "-early_data")
    session = ticket_from(pki.client_config(), port, proc)
    assert session.max_early_data > 0  # s_server's ticket allows early data
    mark = proc.mark()
    second = Pump.connect(pki.client_config(), port, session=session, early_data=EARLY)
    try:
        assert second.conn.early_data_sent
        hc = second.handshake()
        second.send(b"after the handshake\n")
        proc.wait_for("after the handshake", since=mark)
        second.close()
        second.wait_closed()
    finally:
        second.dispose()
    assert hc.resumed and hc.early_data_accepted
    text = proc.text_since(mark)
    assert "Early data received:" in text, text
    assert text.count(EARLY.decode().strip()) == 1  # read once, as early data
    assert text.index("Early data received:") < text.index(EARLY.decode().strip())


def test_early_traffic_secret_matches_openssls_key_log(peers: Peers, pki: PKI) -> None:
    """Both sides log the same CLIENT_EARLY_TRAFFIC_SECRET for the 0-RTT connection."""
    keylog_file = pki.directory / "s_server-early-keylog.txt"
    proc, port = peers.openssl_server(pki, "ec256", "-early_data",
                                      "-keylogfile", str(keylog_file))
    session = ticket_from(pki.client_config(), port, proc)
    ours: list[str] = []
    config = pki.client_config(
        keylog=lambda label, cr, secret: ours.append(f"{label} {cr.hex()} {secret.hex()}"))
    mark = proc.mark()
    second = Pump.connect(config, port, session=session, early_data=EARLY)
    try:
        assert second.handshake().early_data_accepted
        second.send(b"logged\n")
        proc.wait_for("logged", since=mark)
        second.close()
        second.wait_closed()
    finally:
        second.dispose()
    early = [line for line in ours if line.startswith("CLIENT_EARLY_TRAFFIC_SECRET ")]
    assert len(early) == 1
    theirs = keylog_file.read_text().lower().splitlines()
    assert early[0].lower() in theirs


def test_tlskit_client_declined_by_s_server_resends_after_handshake(
        peers: Peers, pki: PKI) -> None:
    """s_server without -early_data issues tickets that do not allow it: nothing goes
    as 0-RTT, and the bytes arrive once as ordinary data."""
    proc, port = peers.openssl_server(pki, "ec256")
    session = ticket_from(pki.client_config(), port, proc)
    assert session.max_early_data == 0
    mark = proc.mark()
    second = Pump.connect(pki.client_config(), port, session=session, early_data=EARLY)
    try:
        assert not second.conn.early_data_sent
        hc = second.handshake()
        proc.wait_for(EARLY.decode().strip(), since=mark)
        second.close()
        second.wait_closed()
    finally:
        second.dispose()
    assert hc.resumed and not hc.early_data_accepted
    assert "Early data received" not in proc.text_since(mark)


def test_s_client_early_data_accepted_by_tlskit_server(peers: Peers, pki: PKI) -> None:
    def body(pump: Pump) -> tuple[bool, bytes]:
        hc = pump.handshake()
        pump.send(b"ticket sent\n")
        echo_until_close(pump)
        early = b"".join(e.data for e in pump.events if isinstance(e, EarlyDataReceived))
        before = [type(e) for e in pump.events].index(HandshakeComplete)
        assert all(not isinstance(e, EarlyDataReceived) for e in pump.events[before:])
        return hc.early_data_accepted, early

    config = pki.server_config("ec256", max_early_data_size=16384)
    server = peers.thread(tlskit_server(config, body, count=2))
    session_file, early_file = _s_client_session(peers, pki, server.port)
    second = _s_client_early(peers, pki, server.port, session_file, early_file)
    assert "Early data was accepted" in second.stdout, second.describe()
    assert server.join() == [(False, b""), (True, EARLY)]


def test_s_client_early_data_rejected_by_tlskit_server_without_0rtt(
        peers: Peers, pki: PKI) -> None:
    """A tlskit server that does not enable 0-RTT: s_client (holding a ticket from a
    0-RTT server with the same ticket key) reports its early data rejected, the
    handshake still completes."""
    def body(pump: Pump) -> bool:
        hc = pump.handshake()
        pump.send(b"ticket sent\n")
        echo_until_close(pump)
        assert not any(isinstance(e, EarlyDataReceived) for e in pump.events)
        return hc.resumed

    key = bytes(range(32))
    with_0rtt = peers.thread(tlskit_server(
        pki.server_config("ec256", max_early_data_size=16384, ticket_key=key), body))
    session_file, early_file = _s_client_session(peers, pki, with_0rtt.port)
    assert with_0rtt.join() == [False]
    without = peers.thread(tlskit_server(pki.server_config("ec256", ticket_key=key), body))
    second = _s_client_early(peers, pki, without.port, session_file, early_file)
    assert "Early data was rejected" in second.stdout, second.describe()
    assert without.join() == [True]


# ------------------------------------------------------------------- psk_ke resumption


def test_psk_ke_resumption_tlskit_client_s_server(peers: Peers, pki: PKI) -> None:
    """tlskit offering psk_ke only; `s_server -allow_no_dhe_kex` resumes without a
    key_share in its ServerHello."""
    proc, port = peers.openssl_server(pki, "ec256", "-allow_no_dhe_kex", "-trace")
    session = ticket_from(pki.client_config(), port, proc)
    mark = proc.mark()
    hc = resume_and_say(pki.client_config(psk_modes=["psk_ke"]), port, proc, session,
                        b"psk_ke\n")
    assert hc.resumed and hc.group is None
    proc.wait_for("EncryptedExtensions", since=mark)  # its -trace output may still be on its way
    text = proc.text_since(mark)
    server_hello = text[text.index("ServerHello"):text.index("EncryptedExtensions")]
    assert "psk" in server_hello and "key_share" not in server_hello, server_hello


def test_psk_ke_resumption_s_client_tlskit_server(peers: Peers, pki: PKI) -> None:
    """`s_client -allow_no_dhe_kex` offers psk_ke beside psk_dhe_ke: a tlskit server that
    allows psk_ke resumes it, and still prefers (EC)DHE when both are offered."""
    def body(pump: Pump) -> tuple[bool, str | None]:
        hc = pump.handshake()
        pump.send(b"ticket sent\n")
        echo_until_close(pump)
        return hc.resumed, hc.group.name if hc.group else None

    server = peers.thread(tlskit_server(pki.server_config("ec256", allow_psk_ke=True),
                                        body, count=2))
    session_file = pki.directory / f"s_client-pskke-{server.port}.pem"
    for extra in (("-sess_out", str(session_file)), ("-sess_in", str(session_file))):
        client = peers.openssl_client(pki, server.port, "-allow_no_dhe_kex", *extra)
        client.wait_for("ticket sent")
        client.close_stdin()
        assert client.wait() == 0, client.describe()
    assert server.join() == [(False, "x25519"), (True, "x25519")]  # resumed, with ECDHE
