"""tlskit's QUIC-TLS (tlskit.quic, RFC 9001) against aioquic's TLS engine, an independent
QUIC-TLS implementation: handshakes both ways with every traffic secret compared, transport
parameters and ALPN, groups, resumption, client certificates, and the failures a real
peer can be made to cause (each with its alert and QUIC error code).

aioquic runs in a venv of its own (.venv-aioquic, made by .ci/install-test-deps.sh: it
pins a pyOpenSSL that holds cryptography back), driven by tests/support/aioquic_peer.py.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from tlskit import (
    AlertDescription,
    CertifiedKey,
    ClientConfig,
    HandshakeComplete,
    ServerConfig,
    SessionTicketReceived,
    TLSError,
)
from tlskit.ca import Issued, LocalCA
from tlskit.enums import CipherSuite
from tlskit.quic import (
    QUIC_V1,
    QUIC_V2,
    EncryptionLevel,
    QuicClientConnection,
    QuicConnection,
    QuicServerConnection,
    QuicTransportParameterError,
    SecretInstalled,
    TransportParametersReceived,
    header_protection_mask,
    next_secret,
    packet_keys,
    retry_integrity_tag,
)

pytestmark = pytest.mark.interop

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv-aioquic" / "bin" / "python"
PEER = ROOT / "tests" / "support" / "aioquic_peer.py"
TK_PARAMS = bytes.fromhex("0104000075300304000005dc")  # max_idle_timeout, max_udp_payload
AQ_PARAMS = bytes.fromhex("0f0411223344")  # initial_source_connection_id
H, A = EncryptionLevel.HANDSHAKE, EncryptionLevel.APPLICATION
FLIP = {"read": "write", "write": "read"}


@dataclass
class Files:
    ca: LocalCA
    directory: Path
    server: Issued
    client: Issued

    @property
    def cafile(self) -> str:
        return str(self.directory / "root.pem")


def require_aioquic() -> None:
    if not PYTHON.exists():
        pytest.fail(f"{PYTHON} is missing (run .ci/install-test-deps.sh)", pytrace=False)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    require_aioquic()
    directory = tmp_path_factory.mktemp("quic-pki")
    ca = LocalCA.create(directory=None)
    server = ca.issue_server(["localhost"], key_type="ec256")
    client = ca.issue_client("quic-client", key_type="ec256")
    (directory / "root.pem").write_bytes(ca.export_root_pem())
    for name, leaf in (("server", server), ("client", client)):
        (directory / f"{name}.pem").write_bytes(leaf.cert_pem())
        (directory / f"{name}.key").write_bytes(leaf.key_pem())
    return Files(ca, directory, server, client)


@dataclass
class Peer:
    """One aioquic tls.Context process; `log` is every line it reported."""

    proc: subprocess.Popen[str]
    log: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def start(cls, *args: str) -> Peer:
        proc = subprocess.Popen([str(PYTHON), str(PEER), *args], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return cls(proc)

    def step(self) -> list[dict[str, Any]]:
        """The lines of one step, up to its idle line."""
        assert self.proc.stdout is not None
        got = []
        while True:
            line = self.proc.stdout.readline()
            if not line:
                err = self.proc.stderr.read() if self.proc.stderr else ""
                raise AssertionError(f"aioquic peer ended: {err}")
            obj = json.loads(line)
            if obj["type"] == "idle":
                self.log += got
                return got
            got.append(obj)

    def feed(self, level: int, data: bytes) -> list[dict[str, Any]]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"level": int(level), "data": data.hex()}) + "\n")
        self.proc.stdin.flush()
        return self.step()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [x for x in self.log if x["type"] == kind]

    def secrets(self) -> dict[tuple[int, str], bytes]:
        """What aioquic installed, seen from its peer's side (its read is our write)."""
        return {(s["level"], FLIP[s["direction"]]): bytes.fromhex(s["secret"])
                for s in self.of("secret")}

    @property
    def error(self) -> int | None:
        errors = self.of("error")
        return errors[0]["alert"] if errors else None

    @property
    def state(self) -> str:
        return self.of("state")[-1]["state"]


@pytest.fixture
def peers() -> Any:
    started: list[Peer] = []

    def start(*args: str) -> Peer:
        peer = Peer.start(*args)
        started.append(peer)
        peer.step()  # a client's ClientHello, or a server's first idle
        return peer

    yield start
    for peer in started:
        peer.close()


def pump(conn: QuicConnection, peer: Peer) -> list[Any]:
    """Move handshake bytes both ways until neither side has more; tlskit's events."""
    events: list[Any] = []
    incoming = [x for x in peer.log if x["type"] == "data"]
    for _ in range(10):
        for chunk in incoming:
            events += conn.receive_data(chunk["level"], bytes.fromhex(chunk["data"]))
        incoming = []
        out = conn.data_to_send()
        for level, data in out:
            incoming += [x for x in peer.feed(level, data) if x["type"] == "data"]
        if not out and not incoming:
            return events
    raise AssertionError("the handshake did not settle")


def tk_secrets(events: list[Any]) -> dict[tuple[int, str], bytes]:
    return {(int(e.level), e.direction): e.secret for e in events
            if isinstance(e, SecretInstalled)}


def client_config(files: Files, **kw: Any) -> ClientConfig:
    return ClientConfig(trust_anchors=[files.ca.root], alpn_protocols=["h3"], **kw)


def server_config(files: Files, **kw: Any) -> ServerConfig:
    kw.setdefault("alpn_protocols", ["h3"])
    return ServerConfig(certificate_chain=files.server.chain,
                        private_key=files.server.private_key, **kw)


def aq_server(files: Files, *extra: str) -> tuple[str, ...]:
    return ("server", "--cert", str(files.directory / "server.pem"),
            "--key", str(files.directory / "server.key"), *extra)


def aq_client(files: Files, *extra: str) -> tuple[str, ...]:
    return ("client", "--cafile", files.cafile, "--server-name", "localhost", *extra)


def check_complete(events: list[Any], peer: Peer, conn: QuicConnection, state: str) -> None:
    """Done on both sides, the same four secrets, parameters and ALPN both ways."""
    done = [e for e in events if isinstance(e, HandshakeComplete)]
    assert len(done) == 1 and done[0].alpn_protocol == "h3"
    assert peer.state == state
    mine = tk_secrets(events)
    assert sorted(mine) == [(H, "read"), (H, "write"), (A, "read"), (A, "write")]
    assert mine == peer.secrets()
    suites = {s["suite"] for s in peer.of("secret")}
    assert suites == {int(done[0].cipher_suite)}
    assert [e.data for e in events if isinstance(e, TransportParametersReceived)] == [AQ_PARAMS]
    assert conn.peer_transport_parameters == AQ_PARAMS
    assert [bytes.fromhex(x["data"]) for x in peer.of("transport_parameters")] == [TK_PARAMS]
    assert [x["protocol"] for x in peer.of("alpn")] == ["h3"]
    assert conn.alpn_protocol == "h3"


# -- handshakes -----------------------------------------------------------------------------

@pytest.mark.parametrize("group", ["x25519", "secp256r1"])
def test_tlskit_client_aioquic_server(files: Files, peers: Any, group: str) -> None:
    peer = peers(*aq_server(files, "--alpn", "h3", "--transport-parameters", AQ_PARAMS.hex(),
                            "--groups", group))
    conn = QuicClientConnection(client_config(files, groups=[group]), "localhost",
                                transport_parameters=TK_PARAMS)
    events = pump(conn, peer)
    check_complete(events, peer, conn, "SERVER_POST_HANDSHAKE")
    done = conn.handshake_complete
    assert done is not None and done.group.name == group and not done.resumed
    assert done.peer_certificates[0] == files.server.certificate


@pytest.mark.parametrize("group", ["x25519", "secp256r1"])
def test_aioquic_client_tlskit_server(files: Files, peers: Any, group: str) -> None:
    peer = peers(*aq_client(files, "--alpn", "h3", "--transport-parameters", AQ_PARAMS.hex(),
                            "--groups", group))
    conn = QuicServerConnection(server_config(files, groups=[group]),
                                transport_parameters=TK_PARAMS)
    events = pump(conn, peer)
    check_complete(events, peer, conn, "CLIENT_POST_HANDSHAKE")
    assert conn.handshake_complete is not None
    assert conn.handshake_complete.group.name == group


def test_resumption_tlskit_client(files: Files, peers: Any, tmp_path: Path) -> None:
    """aioquic issues a ticket (at the 1-RTT level); a second connection resumes with it."""
    store = str(tmp_path / "tickets.json")
    args = aq_server(files, "--alpn", "h3", "--transport-parameters", AQ_PARAMS.hex(),
                     "--ticket-store", store)
    first = QuicClientConnection(client_config(files), "localhost",
                                 transport_parameters=TK_PARAMS)
    events = pump(first, peers(*args))
    tickets = [e for e in events if isinstance(e, SessionTicketReceived)]
    assert len(tickets) == 1 and tickets[0].session is not None
    assert tickets[0].ticket.hex() == json.loads(Path(store).read_text())[0]["ticket"]
    second = QuicClientConnection(client_config(files), "localhost",
                                  transport_parameters=TK_PARAMS, session=tickets[0].session)
    peer = peers(*args)
    events = pump(second, peer)
    check_complete(events, peer, second, "SERVER_POST_HANDSHAKE")
    assert second.handshake_complete is not None and second.handshake_complete.resumed
    assert peer.of("state")[-1]["resumed"] is True


def test_resumption_aioquic_client(files: Files, peers: Any, tmp_path: Path) -> None:
    """tlskit issues tickets after the handshake; aioquic resumes with one."""
    saved = str(tmp_path / "ticket.json")
    config = server_config(files, session_tickets=1)
    args = aq_client(files, "--alpn", "h3", "--transport-parameters", AQ_PARAMS.hex(),
                     "--save-ticket", saved)
    peer = peers(*args)
    pump(QuicServerConnection(config, transport_parameters=TK_PARAMS), peer)
    assert len(peer.of("ticket")) == 1
    assert peer.of("ticket")[0]["max_early_data_size"] is None  # 0-RTT is off
    peer = peers(*args, "--ticket", saved)
    conn = QuicServerConnection(config, transport_parameters=TK_PARAMS)
    events = pump(conn, peer)
    check_complete(events, peer, conn, "CLIENT_POST_HANDSHAKE")
    assert conn.handshake_complete is not None and conn.handshake_complete.resumed
    assert peer.of("state")[-1]["resumed"] is True


def test_aioquic_client_offering_0rtt_is_declined(files: Files, peers: Any,
                                                  tmp_path: Path) -> None:
    """0-RTT off on the server (no max_early_data_size): aioquic, given a ticket that
    claims to allow early data, offers it (and installs its 0-RTT write key); tlskit
    resumes without accepting it."""
    saved = tmp_path / "ticket.json"
    config = server_config(files, session_tickets=1)
    args = aq_client(files, "--alpn", "h3", "--transport-parameters", AQ_PARAMS.hex(),
                     "--save-ticket", str(saved))
    pump(QuicServerConnection(config, transport_parameters=TK_PARAMS), peers(*args))
    ticket = json.loads(saved.read_text())
    assert ticket["max_early_data_size"] is None  # this server's tickets allow no 0-RTT
    saved.write_text(json.dumps({**ticket, "max_early_data_size": 0xFFFFFFFF}))
    peer = peers(*args, "--ticket", str(saved))
    assert [(s["level"], s["direction"]) for s in peer.of("secret")] == [(1, "write")]
    conn = QuicServerConnection(config, transport_parameters=TK_PARAMS)
    events = pump(conn, peer)
    assert conn.handshake_complete is not None and conn.handshake_complete.resumed
    assert not conn.handshake_complete.early_data_accepted
    assert peer.of("state")[-1]["early_data_accepted"] is False
    assert peer.of("state")[-1]["resumed"] is True
    theirs = peer.secrets()
    del theirs[(1, "read")]  # its 0-RTT key, which tlskit never installs
    assert tk_secrets(events) == theirs
    assert all(e.level != EncryptionLevel.EARLY for e in events
               if isinstance(e, SecretInstalled))


def test_0rtt_aioquic_client(files: Files, peers: Any, tmp_path: Path) -> None:
    """tlskit's tickets allow 0-RTT as 0xffffffff; aioquic offers it and tlskit takes it:
    its EARLY read secret is the one aioquic writes 0-RTT packets with."""
    saved = tmp_path / "ticket.json"
    config = server_config(files, session_tickets=1, max_early_data_size=1000)
    args = aq_client(files, "--alpn", "h3", "--transport-parameters", AQ_PARAMS.hex(),
                     "--save-ticket", str(saved))
    pump(QuicServerConnection(config, transport_parameters=TK_PARAMS), peers(*args))
    assert json.loads(saved.read_text())["max_early_data_size"] == 0xFFFFFFFF
    peer = peers(*args, "--ticket", str(saved))
    conn = QuicServerConnection(config, transport_parameters=TK_PARAMS)
    events = pump(conn, peer)
    assert conn.handshake_complete is not None
    assert conn.handshake_complete.resumed and conn.handshake_complete.early_data_accepted
    assert peer.of("state")[-1]["early_data_accepted"] is True
    mine = tk_secrets(events)
    assert (1, "read") in mine and mine == peer.secrets()
    assert len(mine) == 5


def test_0rtt_tlskit_client(files: Files, peers: Any, tmp_path: Path) -> None:
    """aioquic's tickets with max_early_data 0xffffffff; tlskit offers 0-RTT on the next
    connection and aioquic accepts it: the EARLY secrets agree."""
    store = str(tmp_path / "tickets.json")
    args = aq_server(files, "--alpn", "h3", "--transport-parameters", AQ_PARAMS.hex(),
                     "--ticket-store", store, "--max-early-data", str(0xFFFFFFFF))
    first = QuicClientConnection(client_config(files), "localhost",
                                 transport_parameters=TK_PARAMS)
    events = pump(first, peers(*args))
    session = next(e for e in events if isinstance(e, SessionTicketReceived)).session
    assert session is not None and session.max_early_data == 0xFFFFFFFF
    second = QuicClientConnection(client_config(files), "localhost",
                                  transport_parameters=TK_PARAMS, session=session,
                                  early_data=True)
    assert second.early_data_offered
    early = second.take_events()
    peer = peers(*args)
    events = early + pump(second, peer)
    assert second.handshake_complete is not None
    assert second.handshake_complete.resumed and second.handshake_complete.early_data_accepted
    mine = tk_secrets(events)
    assert (1, "write") in mine and mine == peer.secrets()
    assert len(mine) == 5


def test_client_certificate_tlskit_client(files: Files, peers: Any) -> None:
    peer = peers(*aq_server(files, "--alpn", "h3", "--transport-parameters", AQ_PARAMS.hex(),
                            "--request-client-certificate"))
    ck = CertifiedKey(files.client.chain, files.client.private_key)
    conn = QuicClientConnection(client_config(files, certificate=ck), "localhost",
                                transport_parameters=TK_PARAMS)
    check_complete(pump(conn, peer), peer, conn, "SERVER_POST_HANDSHAKE")


def test_client_certificate_aioquic_client(files: Files, peers: Any) -> None:
    peer = peers(*aq_client(files, "--alpn", "h3", "--transport-parameters", AQ_PARAMS.hex(),
                            "--cert", str(files.directory / "client.pem"),
                            "--key", str(files.directory / "client.key")))
    conn = QuicServerConnection(server_config(files, client_auth="required",
                                              client_trust_anchors=[files.ca.root]),
                                transport_parameters=TK_PARAMS)
    check_complete(pump(conn, peer), peer, conn, "CLIENT_POST_HANDSHAKE")
    assert conn.handshake_complete is not None
    assert conn.handshake_complete.peer_certificates[0] == files.client.certificate


# -- failures a real peer causes ------------------------------------------------------------

def fails(conn: QuicConnection, peer: Peer, alert: AlertDescription) -> TLSError:
    with pytest.raises(TLSError) as info:
        pump(conn, peer)
    assert info.value.alert == alert
    assert info.value.quic_error_code == 0x100 + alert
    assert conn.data_to_send() == []  # nothing is sent: QUIC closes with the code
    return info.value


def test_aioquic_server_without_transport_parameters(files: Files, peers: Any) -> None:
    peer = peers(*aq_server(files, "--alpn", "h3"))
    conn = QuicClientConnection(client_config(files), "localhost",
                                transport_parameters=TK_PARAMS)
    fails(conn, peer, AlertDescription.missing_extension)


def test_aioquic_client_without_transport_parameters(files: Files, peers: Any) -> None:
    peer = peers(*aq_client(files, "--alpn", "h3"))
    conn = QuicServerConnection(server_config(files), transport_parameters=TK_PARAMS)
    fails(conn, peer, AlertDescription.missing_extension)


def test_aioquic_server_without_alpn(files: Files, peers: Any) -> None:
    """8.1: a server that selects no protocol is no_application_protocol for the client."""
    peer = peers(*aq_server(files, "--transport-parameters", AQ_PARAMS.hex()))
    conn = QuicClientConnection(client_config(files), "localhost",
                                transport_parameters=TK_PARAMS)
    fails(conn, peer, AlertDescription.no_application_protocol)


def test_aioquic_client_without_alpn(files: Files, peers: Any) -> None:
    peer = peers(*aq_client(files, "--transport-parameters", AQ_PARAMS.hex()))
    conn = QuicServerConnection(server_config(files), transport_parameters=TK_PARAMS)
    fails(conn, peer, AlertDescription.no_application_protocol)


def test_aioquic_client_other_alpn(files: Files, peers: Any) -> None:
    peer = peers(*aq_client(files, "--alpn", "hq-interop",
                            "--transport-parameters", AQ_PARAMS.hex()))
    conn = QuicServerConnection(server_config(files), transport_parameters=TK_PARAMS)
    fails(conn, peer, AlertDescription.no_application_protocol)


def test_aioquic_client_tls12_only(files: Files, peers: Any) -> None:
    peer = peers(*aq_client(files, "--alpn", "h3", "--transport-parameters",
                            AQ_PARAMS.hex(), "--tls12-only"))
    conn = QuicServerConnection(server_config(files), transport_parameters=TK_PARAMS)
    fails(conn, peer, AlertDescription.protocol_version)


def test_aioquic_client_with_legacy_session_id(files: Files, peers: Any) -> None:
    """8.4: a ClientHello asking for middlebox compatibility mode is refused (QUIC's
    PROTOCOL_VIOLATION; the alert illegal_parameter)."""
    peer = peers(*aq_client(files, "--alpn", "h3", "--transport-parameters",
                            AQ_PARAMS.hex(), "--session-id", "11" * 32))
    conn = QuicServerConnection(server_config(files), transport_parameters=TK_PARAMS)
    with pytest.raises(TLSError) as info:
        pump(conn, peer)
    assert info.value.alert == AlertDescription.illegal_parameter
    assert info.value.quic_error_code == 0x0A
    assert "legacy_session_id" in str(info.value)


def test_aioquic_server_ticket_with_other_early_data_limit(files: Files, peers: Any,
                                                           tmp_path: Path) -> None:
    """4.6.1: a ticket's early_data must say 0xffffffff; aioquic's server sends the
    max_early_data it is given (here 1000): a PROTOCOL_VIOLATION for the client."""
    peer = peers(*aq_server(files, "--alpn", "h3", "--transport-parameters",
                            AQ_PARAMS.hex(), "--ticket-store", str(tmp_path / "t.json"),
                            "--max-early-data", "1000"))
    conn = QuicClientConnection(client_config(files), "localhost",
                                transport_parameters=TK_PARAMS)
    with pytest.raises(TLSError) as info:
        pump(conn, peer)
    assert info.value.alert == AlertDescription.illegal_parameter
    assert info.value.quic_error_code == 0x0A
    assert conn.handshake_complete is not None  # (the ticket came after the handshake)


def test_aioquic_server_ticket_with_quic_early_data_limit(files: Files, peers: Any,
                                                          tmp_path: Path) -> None:
    """4.6.1's one value, 0xffffffff, is taken and kept with the session."""
    peer = peers(*aq_server(files, "--alpn", "h3", "--transport-parameters",
                            AQ_PARAMS.hex(), "--ticket-store", str(tmp_path / "t.json"),
                            "--max-early-data", str(0xFFFFFFFF)))
    conn = QuicClientConnection(client_config(files), "localhost",
                                transport_parameters=TK_PARAMS)
    events = pump(conn, peer)
    tickets = [e for e in events if isinstance(e, SessionTicketReceived)]
    assert len(tickets) == 1 and tickets[0].session is not None
    assert tickets[0].session.max_early_data == 0xFFFFFFFF


# -- what a QUIC stack needs beyond the handshake ---------------------------------------------

def test_transport_parameters_chosen_per_aioquic_client(files: Files, peers: Any) -> None:
    """The server makes its parameters from the client's (here it echoes aioquic's
    initial_source_connection_id back as original_destination_connection_id, 0x00):
    the callable sees aioquic's bytes once, and aioquic receives what it returned."""
    seen: list[bytes] = []

    def choose(client_params: bytes) -> bytes:
        seen.append(client_params)
        assert client_params[:2] == b"\x0f\x04"
        return TK_PARAMS + b"\x00\x04" + client_params[2:6]

    peer = peers(*aq_client(files, "--alpn", "h3", "--transport-parameters", AQ_PARAMS.hex()))
    conn = QuicServerConnection(server_config(files), transport_parameters=choose)
    events = pump(conn, peer)
    assert seen == [AQ_PARAMS]
    assert [bytes.fromhex(x["data"]) for x in peer.of("transport_parameters")] == [
        TK_PARAMS + bytes.fromhex("000411223344")]
    assert peer.state == "CLIENT_POST_HANDSHAKE"
    assert tk_secrets(events) == peer.secrets()


def test_transport_parameters_refused_for_aioquic_client(files: Files, peers: Any) -> None:
    """The callable raises: TRANSPORT_PARAMETER_ERROR (0x08) to close with, and aioquic
    is sent nothing (no ServerHello)."""
    def choose(client_params: bytes) -> bytes:
        raise ValueError("no initial_max_streams_bidi")

    peer = peers(*aq_client(files, "--alpn", "h3", "--transport-parameters", AQ_PARAMS.hex()))
    conn = QuicServerConnection(server_config(files), transport_parameters=choose)
    with pytest.raises(QuicTransportParameterError) as info:
        pump(conn, peer)
    assert info.value.quic_error_code == 0x08
    assert "ValueError: no initial_max_streams_bidi" in str(info.value)
    assert conn.data_to_send() == []
    assert peer.state == "CLIENT_EXPECT_SERVER_HELLO"  # it never saw a ServerHello


@pytest.mark.parametrize("early_data", [True, False])
def test_tickets_on_demand_to_aioquic(files: Files, peers: Any, tmp_path: Path,
                                      early_data: bool) -> None:
    """automatic_tickets=False: aioquic gets no ticket from the handshake; the one
    send_session_ticket() queues (at the 1-RTT level) it takes, allowing 0-RTT as asked,
    and resumes with on the next connection, its 0-RTT accepted when allowed."""
    saved = tmp_path / "ticket.json"
    config = server_config(files, session_tickets=1, max_early_data_size=1000)
    args = aq_client(files, "--alpn", "h3", "--transport-parameters", AQ_PARAMS.hex(),
                     "--save-ticket", str(saved))
    peer = peers(*args)
    conn = QuicServerConnection(config, transport_parameters=TK_PARAMS,
                                automatic_tickets=False)
    pump(conn, peer)
    assert peer.state == "CLIENT_POST_HANDSHAKE" and peer.of("ticket") == []
    conn.send_session_ticket(early_data=early_data)
    [(level, data)] = conn.data_to_send()
    assert level is A
    peer.feed(level, data)
    [ticket] = peer.of("ticket")
    assert ticket["max_early_data_size"] == (0xFFFFFFFF if early_data else None)
    peer = peers(*args, "--ticket", str(saved))
    conn = QuicServerConnection(config, transport_parameters=TK_PARAMS,
                                automatic_tickets=False)
    events = pump(conn, peer)
    assert conn.handshake_complete is not None and conn.handshake_complete.resumed
    assert conn.handshake_complete.early_data_accepted is early_data
    assert peer.of("state")[-1]["resumed"] is True
    assert peer.of("state")[-1]["early_data_accepted"] is early_data
    assert tk_secrets(events) == peer.secrets()


def test_session_cache_resumes_with_aioquic(files: Files, peers: Any, tmp_path: Path) -> None:
    """A QUIC client with ClientConfig.session_cache keeps aioquic's ticket and offers it
    on its own next time to the same name, with 0-RTT when asked and aioquic's transport
    parameters remembered; the cache marks it as a QUIC session (a TLS-over-TCP client
    sharing the cache would leave it alone)."""
    from tlskit import SessionCache
    cache = SessionCache()
    config = client_config(files, session_cache=cache)
    args = aq_server(files, "--alpn", "h3", "--transport-parameters", AQ_PARAMS.hex(),
                     "--ticket-store", str(tmp_path / "tickets.json"),
                     "--max-early-data", str(0xFFFFFFFF))
    first = QuicClientConnection(config, "localhost", transport_parameters=TK_PARAMS)
    pump(first, peers(*args))
    assert first.handshake_complete is not None and not first.handshake_complete.resumed
    second = QuicClientConnection(config, "localhost", transport_parameters=TK_PARAMS,
                                  early_data=True)
    assert second.early_data_offered
    assert second.remembered_transport_parameters == AQ_PARAMS  # its 0-RTT limits
    peer = peers(*args)
    events = second.take_events() + pump(second, peer)
    assert second.handshake_complete is not None
    assert second.handshake_complete.resumed and second.handshake_complete.early_data_accepted
    assert peer.of("state")[-1]["resumed"] is True
    assert tk_secrets(events) == peer.secrets()
    [session] = [e.session for e in events if isinstance(e, SessionTicketReceived)]
    assert session is not None and session.quic
    assert cache.take("localhost", session.received_at) is session  # filed for next time


def test_0rtt_rejected_by_aioquic_is_reported(files: Files, peers: Any,
                                              tmp_path: Path) -> None:
    """aioquic declines tlskit's 0-RTT by not knowing its ticket (a server with another
    ticket store: EncryptedExtensions without early_data): tlskit reports
    EarlyDataRejected once, before the 1-RTT secrets. (aioquic's server sends no
    HelloRetryRequest, the other way to decline: tests/unit/test_quic.py has it.)"""
    args = aq_server(files, "--alpn", "h3", "--transport-parameters", AQ_PARAMS.hex(),
                     "--ticket-store", str(tmp_path / "tickets.json"),
                     "--max-early-data", str(0xFFFFFFFF))
    first = QuicClientConnection(client_config(files), "localhost",
                                 transport_parameters=TK_PARAMS)
    events = pump(first, peers(*args))
    session = next(e for e in events if isinstance(e, SessionTicketReceived)).session
    second = QuicClientConnection(client_config(files), "localhost",
                                  transport_parameters=TK_PARAMS, session=session,
                                  early_data=True)
    assert second.early_data_offered
    second.take_events()
    peer = peers(*aq_server(files, "--alpn", "h3", "--transport-parameters",
                            AQ_PARAMS.hex(), "--ticket-store", str(tmp_path / "other.json")))
    events = pump(second, peer)
    kinds = [type(e).__name__ if not isinstance(e, SecretInstalled) else e.level.name
             for e in events]
    assert kinds.count("EarlyDataRejected") == 1
    assert kinds.index("EarlyDataRejected") < kinds.index("APPLICATION")
    assert second.handshake_complete is not None
    assert not second.handshake_complete.early_data_accepted
    assert not second.handshake_complete.resumed
    assert peer.of("state")[-1]["early_data_accepted"] is False
    assert tk_secrets(events) == peer.secrets()


# -- packet protection: tlskit's helpers against aioquic's own -----------------------------

def tlskit_protect(suite: CipherSuite, secret: bytes, version: int, key_updates: int,
                   header: bytes, payload: bytes, pn: int) -> bytes:
    """A packet protected with tlskit.quic's derivations alone: `packet_keys` (after
    `next_secret` per key update), the AEAD nonce (the IV XOR the packet number, RFC
    9001 5.3) and `header_protection_mask` over the sample 4 bytes past the packet
    number's start (5.4.2)."""
    for _ in range(key_updates):
        secret = next_secret(suite, secret, version)
    keys = packet_keys(suite, secret, version)
    nonce = (int.from_bytes(keys.iv, "big") ^ pn).to_bytes(12, "big")
    aead = ChaCha20Poly1305 if suite == CipherSuite.TLS_CHACHA20_POLY1305_SHA256 else AESGCM
    sealed = aead(keys.key).encrypt(nonce, payload, header)
    pn_length = (header[0] & 0x03) + 1
    pn_offset = len(header) - pn_length
    sample = sealed[4 - pn_length:20 - pn_length]
    mask = header_protection_mask(suite, keys.hp, sample)
    first = header[0] ^ (mask[0] & (0x0F if header[0] & 0x80 else 0x1F))
    number = bytes(b ^ m for b, m in zip(header[pn_offset:], mask[1:], strict=False))
    return bytes([first]) + header[1:pn_offset] + number + sealed


@pytest.mark.parametrize("version", [QUIC_V1, QUIC_V2])
@pytest.mark.parametrize("suite", [CipherSuite.TLS_AES_128_GCM_SHA256,
                                   CipherSuite.TLS_AES_256_GCM_SHA384,
                                   CipherSuite.TLS_CHACHA20_POLY1305_SHA256])
def test_packet_protection_matches_aioquic(suite: CipherSuite, version: int) -> None:
    """Packets (1-RTT with a 2-byte packet number, after 0 to 2 key updates; a long
    header with a 4-byte one) protected with tlskit's key, key-update and
    header-protection helpers are byte for byte aioquic's; and so is the Retry
    integrity tag. (RFC 9001 Appendix A's vectors cover AES-128 and ChaCha20 for v1;
    this adds AES-256 and v2's key updates.)"""
    require_aioquic()
    secret = bytes(range(48 if suite == CipherSuite.TLS_AES_256_GCM_SHA384 else 32))
    cases = [(k, bytes([0x41]) + bytes(8) + pn.to_bytes(2, "big"), pn)
             for k, pn in ((0, 0), (1, 0x1234), (2, 0xFFFE))]
    cases.append((0, bytes.fromhex("c3") + version.to_bytes(4, "big") + b"\x08" + bytes(8)
                  + b"\x00" + b"\x00\x40\x30" + (0x0A0B0C0D).to_bytes(4, "big"), 0x0A0B0C0D))
    payload = bytes(range(40))
    odcid, retry = bytes.fromhex("8394c8f03e515708"), bytes(range(0xF0, 0x100)) * 2
    requests = [{"suite": int(suite), "secret": secret.hex(), "version": version,
                 "key_updates": k, "header": header.hex(), "payload": payload.hex(),
                 "pn": pn} for k, header, pn in cases]
    requests.append({"odcid": odcid.hex(), "retry": retry.hex(), "version": version})
    run = subprocess.run([str(PYTHON), str(PEER), "protect"], capture_output=True,
                         text=True, timeout=60, check=True,
                         input="".join(json.dumps(r) + "\n" for r in requests))
    answers = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(answers) == len(requests)
    for (k, header, pn), answer in zip(cases, answers, strict=False):
        mine = tlskit_protect(suite, secret, version, k, header, payload, pn)
        assert mine.hex() == answer["packet"], (k, pn)
    assert retry_integrity_tag(odcid, retry, version).hex() == answers[-1]["tag"]
