"""One `TLSSocket`, two threads: one blocked in `sendall` because the peer is not
reading, the other reading. Whatever the reader processes (session tickets, a KeyUpdate
it must answer) must not make it wait for the writer: the peer may be waiting for the
reader before it reads again, and both ends would then sit until a timeout."""

from __future__ import annotations

import socket
import sys
import threading
import time

import pytest

import tlskit
from tlskit import ClientConfig, ServerConfig, ServerConnection

from ..support.pump import ServerThread

PAYLOAD = bytes(range(256)) * (32 * 4096)  # 32 MiB: more than loopback buffers hold
WAIT = 20.0


def handshake_keeping_tickets(sock: socket.socket,
                              config: ServerConfig) -> tuple[ServerConnection, int]:
    """The server's handshake, but the tickets queued with the client's Finished stay
    queued (the caller sends them later). Also returns how much application data came
    in the same read as the Finished."""
    conn = ServerConnection(config)
    early = 0
    while conn.handshake_complete is None:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("client went away during the handshake")
        early += sum(len(ev.data) for ev in conn.receive_data(data)
                     if isinstance(ev, tlskit.DataReceived))
        if conn.handshake_complete is None and (out := conn.data_to_send()):
            sock.sendall(out)
    return conn, early


def drain(sock: socket.socket, conn: ServerConnection, want: int) -> int:
    """Read and decrypt until `want` bytes of application data arrived."""
    got = 0
    while got < want:
        data = sock.recv(1 << 20)
        if not data:
            break
        for ev in conn.receive_data(data):
            if isinstance(ev, tlskit.DataReceived):
                got += len(ev.data)
        if out := conn.data_to_send():
            sock.sendall(out)
    return got


def wait_until_blocked_in_send(thread: threading.Thread) -> None:
    """Return once `thread` sits in the kernel's send (the peer's window and our socket
    buffer are full), not merely somewhere inside sendall: Linux's /proc tells a thread
    asleep in the kernel, and its innermost Python frame tells it is TLSSocket's send."""
    tid = thread.native_id
    seen = 0
    deadline = time.monotonic() + WAIT
    while seen < 3:
        assert time.monotonic() < deadline, "the writer never blocked in send"
        threading.Event().wait(0.002)
        frame = sys._current_frames().get(thread.ident or 0)
        with open(f"/proc/self/task/{tid}/stat") as f:
            state = f.read().rpartition(")")[2].split()[0]
        with open(f"/proc/self/task/{tid}/wchan") as f:
            wchan = f.read()
        asleep = state == "S" and "futex" not in wchan  # (not waiting for the GIL)
        in_send = frame is not None and frame.f_code.co_name == "_send_out"
        seen = seen + 1 if asleep and in_send else 0


def start_writer(sock: tlskit.TLSSocket) -> tuple[threading.Thread, list[BaseException]]:
    """A thread in ``sock.sendall(PAYLOAD)``, returned once it holds the writer's lock;
    and the list its exception (if any) lands in."""
    errors: list[BaseException] = []

    def write() -> None:
        try:
            sock.sendall(PAYLOAD)
        except BaseException as exc:
            errors.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    while not sock._wlock.locked() and writer.is_alive():
        threading.Event().wait(0.001)
    return writer, errors


@pytest.mark.parametrize("what", ["tickets", "key-update"])
def test_reader_is_not_held_up_by_a_blocked_writer(what: str, server_config: ServerConfig,
                                                   client_config: ClientConfig) -> None:
    tickets = 2 if what == "tickets" else 0
    server_config = server_config.replace(session_tickets=tickets)
    writer_blocked = threading.Event()
    reader_done = threading.Event()
    received: list[int] = []

    def action(sock: socket.socket) -> None:
        conn, early = handshake_keeping_tickets(sock, server_config)
        assert writer_blocked.wait(WAIT)
        if what == "key-update":  # the client must answer with its own KeyUpdate
            conn.update_keys(request_peer_update=True)
        conn.send_data(b"ping")
        sock.sendall(conn.data_to_send())
        reader_done.wait(WAIT)  # not reading until the client's reader had its ping
        received.append(early + drain(sock, conn, len(PAYLOAD) - early))

    srv = ServerThread(action)
    with tlskit.connect("127.0.0.1", srv.port, client_config,
                        server_name="localhost", timeout=5) as sock:
        writer, writer_error = start_writer(sock)
        writer_blocked.set()
        assert sock.recv(100) == b"ping"
        reader_done.set()
        writer.join(WAIT)
        assert not writer.is_alive()
        # Without the fix the reader waits for the writer's lock until the writer's send
        # times out (the server is not reading): the payload is cut short.
        assert writer_error == []
    srv.join(WAIT)
    assert received == [len(PAYLOAD)]


def hello_when_told(config: ServerConfig, go: threading.Event,
                    done: threading.Event) -> ServerThread:
    """A server that never reads after the handshake: on `go` it sends b"hello", then
    waits for `done`."""
    def action(sock: socket.socket) -> None:
        conn, _ = handshake_keeping_tickets(sock, config)
        sock.sendall(conn.data_to_send())  # (tickets, if any)
        assert go.wait(WAIT)
        conn.send_data(b"hello")
        sock.sendall(conn.data_to_send())
        done.wait(WAIT)
    return ServerThread(action)


def test_reader_after_a_timed_out_sendall_returns_what_arrived(
        server_config: ServerConfig, client_config: ClientConfig) -> None:
    """A sendall that timed out leaves the end of a record queued; the next read must not
    wait to send it to the peer that is not reading (it goes with the next write): ssl's
    recv returns the data. Before, recv sat out the socket timeout and raised TimeoutError
    with b"hello" already decrypted."""
    go, done = threading.Event(), threading.Event()
    srv = hello_when_told(server_config.replace(session_tickets=0), go, done)
    with tlskit.connect("127.0.0.1", srv.port, client_config,
                        server_name="localhost", timeout=5) as sock:
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.sendall(PAYLOAD)
        go.set()
        sock.settimeout(WAIT)
        sock.connection.update_keys(request_peer_update=False)  # more queued output
        assert sock.recv(100) == b"hello"
        done.set()
    srv.join(WAIT)



@pytest.mark.parametrize("blocked_in", ["recv", "sendall"])
def test_shutdown_from_another_thread_wakes_a_blocked_call(
        blocked_in: str, server_config: ServerConfig, client_config: ClientConfig) -> None:
    """As with ssl: shutdown(SHUT_RDWR) from another thread ends a recv (end of stream)
    or a sendall (an OSError) blocked on a peer that neither writes nor reads, on a
    socket without a timeout; close() then releases the socket."""
    done = threading.Event()

    def action(sock: socket.socket) -> None:
        handshake_keeping_tickets(sock, server_config)
        done.wait(WAIT)

    srv = ServerThread(action)
    outcome: list[object] = []

    def blocked(sock: tlskit.TLSSocket) -> None:
        try:
            if blocked_in == "recv":
                outcome.append(sock.recv(100))
            else:
                sock.sendall(PAYLOAD)
        except OSError as exc:
            outcome.append(exc)

    sock = tlskit.connect("127.0.0.1", srv.port, client_config, server_name="localhost",
                          timeout=None)
    thread = threading.Thread(target=blocked, args=(sock,))
    thread.start()
    lock = sock._rlock if blocked_in == "recv" else sock._wlock
    while not lock.locked() and thread.is_alive():
        threading.Event().wait(0.001)
    sock.shutdown(socket.SHUT_RDWR)
    thread.join(WAIT)
    assert not thread.is_alive()
    if blocked_in == "recv":
        assert outcome == [b""]
    else:
        assert len(outcome) == 1 and isinstance(outcome[0], OSError)
    sock.close()
    assert sock.socket is None
    done.set()
    srv.join(WAIT)


def test_peer_close_notify_ends_a_blocked_sendall_with_an_oserror(
        server_config: ServerConfig, client_config: ClientConfig) -> None:
    """The peer half-closes (TLS 1.3: close_notify, then it reads on) while our writer is
    blocked in the kernel because the peer was not reading. The reader gets the end of
    the stream without waiting for the writer; the writer's next chunk is refused with
    BrokenPipeError (an OSError, as ssl's errors are) saying why, not the engine's
    UsageError; and our close_notify answer reaches the peer then, not only when the
    socket is closed. (Before, a reader that found the writer blocked waited a second
    for it and then gave up on the answer, and the writer raised without sending it.)"""
    writer_blocked, reader_returned, done = (threading.Event(), threading.Event(),
                                             threading.Event())
    answered = threading.Event()

    def action(sock: socket.socket) -> None:
        conn, _ = handshake_keeping_tickets(sock, server_config.replace(session_tickets=0))
        assert writer_blocked.wait(WAIT)
        conn.close()
        sock.sendall(conn.data_to_send())
        assert reader_returned.wait(WAIT)  # not reading until the client's recv returned
        while not answered.is_set():       # a half-closed peer reads on
            data = sock.recv(1 << 20)
            if not data:
                break
            if any(isinstance(ev, tlskit.ConnectionClosed) and ev.alert is None
                   for ev in conn.receive_data(data)):
                answered.set()
        done.wait(WAIT)

    srv = ServerThread(action)
    # Small buffers both ways: the window the server's close_notify may reopen cannot
    # take the rest of a 128 KiB chunk, so the writer stays blocked until the server reads.
    srv.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    with tlskit.connect("127.0.0.1", srv.port, client_config, server_name="localhost",
                        timeout=None) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        writer, errors = start_writer(sock)
        wait_until_blocked_in_send(writer)
        writer_blocked.set()
        assert sock.recv(100) == b""
        reader_returned.set()
        writer.join(WAIT)
        assert not writer.is_alive()
        assert len(errors) == 1 and isinstance(errors[0], BrokenPipeError), errors
        assert "sent close_notify (answered)" in str(errors[0])
        assert answered.wait(WAIT)  # before our close(): the writer sent the answer
        done.set()
    srv.join(WAIT)
