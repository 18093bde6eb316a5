"""Blocking sockets over the sans-I/O core: `connect` and `TLSSocket`.

A `TLSSocket` owns a connected TCP socket and a `ClientConnection`/`ServerConnection`.
Reads pull ciphertext from the socket only when the plaintext buffer is empty, so a peer
can never make us buffer more than one socket read (``RECV_SIZE``) of plaintext: while
the application does not read, the kernel buffers fill and TCP pushes back on the peer.

Locking: one lock around the connection object, one serialising readers, one
serialising writers. Output is always taken from the connection *and* written to the
socket under the writer lock, so records reach the wire in the order they were made even
when a reader (answering a KeyUpdate or close_notify) and a writer race.
"""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import select
import socket
import struct
import sys
import threading
import time
from typing import Any, TypeAlias

from ..config import ClientConfig, require_config
from ..connection import ClientConnection, Connection, ServerConnection
from ..errors import AlertReceived, ConnectionClosedError, TLSError, UsageError
from ..events import ConnectionClosed, DataReceived, Event
from ..keylog import with_keylog
from ..record import HELD, MAX_CIPHERTEXT, MAX_PLAINTEXT
from .address import address_label
from .info import ConnectionInfo, peercert_dict

__all__ = ["TLSSocket", "TruncatedConnection", "connect", "peercert_dict"]

log = logging.getLogger("tlskit.io")

Buffer: TypeAlias = "bytes | bytearray | memoryview"

RECV_SIZE = 1 << 16          # ciphertext read per socket recv (caps buffered plaintext)
DIRECT_MIN = MAX_PLAINTEXT + 1  # recv_into buffers this big get records decrypted in place
_MAX_RECORD = 5 + MAX_CIPHERTEXT
SEND_CHUNK = 1 << 17         # plaintext encrypted per socket write
CLOSE_TIMEOUT = 1.0          # how long close() may block to deliver close_notify


# On 64-bit Linux a blocking socket can carry its timeout in the kernel (SO_RCVTIMEO /
# SO_SNDTIMEO take a struct timeval of two longs): each recv/send is then one system call.
# A Python-level timeout makes CPython poll() before every recv/send, and switching
# between blocking and timed mode costs an ioctl each time; in a threaded server every
# call that releases the GIL is a chance to lose it to another thread.
KERNEL_TIMEOUTS = (sys.platform == "linux" and struct.calcsize("@l") == 8
                   and hasattr(socket, "SO_RCVTIMEO"))
_NO_TIMEOUT = struct.pack("@ll", 0, 0) if KERNEL_TIMEOUTS else b""


def _kernel_timeout(sock: socket.socket, seconds: float | None, *, writing: bool) -> None:
    """Bound the next blocking recv (or send) on `sock` at `seconds` (None: unbounded);
    an expired call fails with EAGAIN (BlockingIOError)."""
    if seconds is None:
        value = _NO_TIMEOUT
    else:
        whole = int(seconds)
        micro = int((seconds - whole) * 1e6)
        value = struct.pack("@ll", whole, micro if whole or micro else 1)  # 0,0 = forever
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO if writing else socket.SO_RCVTIMEO,
                    value)


class TruncatedConnection(ConnectionClosedError):
    """The peer closed TCP without close_notify: the data may have been cut short.

    Raised during the handshake always, and after it only by sockets made with
    ``suppress_ragged_eofs=False``: by default, as with `ssl`, a missing close_notify reads
    as end of stream and `TLSSocket.truncated` tells it apart from a clean close."""


def handshake_eof(peer: str, conn: Connection, server_side: bool) -> TruncatedConnection:
    """The error for a peer that hung up during the handshake. A server that hangs up on
    the ClientHello gives no reason: say what servers that do that usually are."""
    said = f"{peer} closed the connection during the handshake"
    if server_side or conn.version is not None:
        return TruncatedConnection(said)
    return TruncatedConnection(
        f"{said} without answering the ClientHello: servers do that when they do not "
        f"speak TLS on this port, speak only TLS 1.1 or older (tlskit implements TLS 1.3 "
        f"and 1.2), or refuse the offer without an alert (the config's versions, groups "
        f"and cipher_suites narrow it)")


_default_config: ClientConfig | None = None
_default_lock = threading.Lock()


def default_client_config() -> ClientConfig:
    """A process-wide `ClientConfig()` (system trust store, built once)."""
    global _default_config
    with _default_lock:
        if _default_config is None:
            _default_config = ClientConfig()
        return _default_config


def _fmt_seconds(t: float | None) -> str:
    return "?" if t is None else f"{t:g}"


# A recv/recv_into/send/sendall call has one deadline, as ssl's do: the socket's timeout
# bounds the whole call, not each socket read or write in it (a record trickled in a
# byte at a time, or a peer reading a byte at a time, would restart it forever). Until
# the call's first socket read (write) its deadline is _UNSTARTED: that read waits with
# the socket's own timeout (no extra system call on the hot path) and the deadline is
# that timeout from when it began; later reads in the call wait (poll) for what is left.
_UNSTARTED = -1.0
_POLL = hasattr(select, "poll")


def _wait_ready(sock: socket.socket, seconds: float, writing: bool) -> bool:
    """Wait up to ``seconds`` for ``sock`` to be readable (writable); False if it is not
    by then. The socket's own timeout is left alone: a reader and a writer share it."""
    if _POLL:
        poller = select.poll()
        poller.register(sock, select.POLLOUT if writing else select.POLLIN)
        return bool(poller.poll(seconds * 1000.0))
    ready = select.select((), (sock,), (), seconds) if writing else \
        select.select((sock,), (), (), seconds)
    return bool(ready[0] or ready[1])


_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)
_SEND_READY = bool(_DONTWAIT) and _POLL  # _send_ready works here


def _drain(sock: socket.socket) -> None:
    """Discard what already sits in the receive buffer (typically session tickets nobody
    read), so closing sends FIN rather than RST and the peer does not lose our last
    records to a connection reset."""
    try:
        flags = 0
        if _DONTWAIT and sock.gettimeout() is None:
            flags = _DONTWAIT  # one non-blocking recv, no mode switch
        else:
            sock.setblocking(False)  # (a socket timeout would make recv poll first)
        for _ in range(16):
            if not sock.recv(1 << 16, flags):
                return
    except OSError:  # BlockingIOError: nothing (more) to read
        pass


def _send_ready(sock: socket.socket, data: bytes) -> int:
    """Bytes of ``data`` the kernel takes now, in any socket mode, without waiting."""
    if sock.gettimeout() is not None:  # (a timeout makes send poll first, and wait)
        poller = select.poll()
        poller.register(sock, select.POLLOUT)
        if not poller.poll(0):
            return 0
    return _send_now(sock, data)


def _send_now(sock: socket.socket, data: bytes) -> int:
    """Bytes of ``data`` a blocking socket without timeout takes without waiting."""
    try:
        return sock.send(data, _DONTWAIT)
    except (BlockingIOError, InterruptedError):
        return 0


def _peer_label(sock: socket.socket) -> str:
    """The peer as messages name it (`address_label`)."""
    try:
        return address_label(sock.getpeername())
    except OSError:
        return "peer"


class TLSSocket(ConnectionInfo):
    """A TLS 1.3 or 1.2 connection over a blocking socket, shaped like `ssl.SSLSocket`.

    Client sockets come from `connect` with the handshake done; server sockets come from
    `TLSListener.accept` and shake hands on first use (or `do_handshake`), in whichever
    thread touches them first. One thread may read while another writes (full duplex):
    a reader never waits for a writer blocked on a peer that is not reading.
    """

    def __init__(self, sock: socket.socket, conn: Connection, *, server_side: bool,
                 handshake_timeout: float | None = 30.0, peer: str | None = None,
                 server_hostname: str | None = None,
                 suppress_ragged_eofs: bool = True, coalesce_tickets: bool = False) -> None:
        self._sock: socket.socket | None = sock
        # Like ssl: a TCP close without close_notify after the handshake reads as end of
        # stream (stdlib clients never send close_notify on close()). Where truncation
        # matters (an HTTP/1.0 body delimited by the close), check `truncated`, or pass
        # False to get TruncatedConnection instead.
        self.suppress_ragged_eofs = suppress_ragged_eofs
        self.truncated = False
        self._conn = conn
        self.server_side = server_side
        self.server_hostname = server_hostname
        self.handshake_timeout = handshake_timeout
        self._peer = peer if peer is not None else _peer_label(sock)
        self._plain = bytearray()
        # recv_into's zero-copy path reads ciphertext into _cbuf (made on first use) and
        # decrypts each record straight into the caller's buffer; _cbuf[_cpos:_cend] is
        # ciphertext read but not yet processed, which every other reader takes first.
        self._cbuf: bytearray | None = None
        self._cpos = self._cend = 0
        self._unsent = b""               # ciphertext a timed-out write left behind
        # Server side, TLS 1.3: the session tickets made when the client's Finished
        # arrives stay queued in the connection and leave with the first write (one
        # send for tickets and answer), or before the first read that would block.
        self._coalesce_tickets = coalesce_tickets and server_side
        self._held_output = False
        self._left_for_writer = False    # a reader queued output while a write was on
        self._kernel_timeouts = False    # the deadline is in SO_RCVTIMEO/SO_SNDTIMEO
        self._timeout_owned = False      # the handshake's: the deadline is the timeout
        self._handshake_done = False
        self._handshake_error: BaseException | None = None
        self._peer_closed = False        # close_notify received
        # The connection failed (our alert or the peer's): every later read raises this
        # again, as the connection does, rather than reading on or ending the stream.
        self._failed: TLSError | None = None
        self._eof = False                # TCP EOF seen
        self._closed = False
        self._io_refs = 0
        self._state = threading.Lock()   # the Connection object
        self._rlock = threading.Lock()   # one reader at a time
        self._wlock = threading.Lock()   # one writer at a time
        self._hs_lock = threading.Lock()

    # -- handshake ------------------------------------------------------------------------

    def do_handshake(self) -> None:
        """Run the handshake if it has not run yet (bounded by ``handshake_timeout``).

        On a non-blocking socket, as with `ssl`, it raises BlockingIOError whenever it
        would wait: call it again when the socket is ready (the caller's event loop then
        bounds the handshake; ``handshake_timeout`` would block it)."""
        if self._handshake_done:
            return
        with self._hs_lock:
            if self._handshake_done:
                return
            if self._handshake_error is not None:
                raise self._handshake_error
            try:
                self._run_handshake()
            except (BlockingIOError, InterruptedError):
                raise  # non-blocking socket: call again when it is ready
            except BaseException as exc:
                self._handshake_error = exc
                raise

    def _run_handshake(self) -> None:
        sock = self._raw()
        timeout = self.handshake_timeout
        saved = sock.gettimeout()
        if saved == 0.0:
            timeout = None  # non-blocking: a deadline would make each read a timed wait
        deadline = None if timeout is None else time.monotonic() + timeout
        self._kernel_timeouts = deadline is not None and saved is None and KERNEL_TIMEOUTS
        self._timeout_owned = deadline is not None
        try:
            with self._rlock:
                self._flush(deadline)
                while self._conn.handshake_complete is None:
                    self._read_more(deadline)
                # The client's Finished went out in _read_more's flush.
            self._handshake_done = True
        except TimeoutError:
            took = timeout if timeout is not None else saved
            raise TimeoutError(
                f"TLS handshake with {self._peer} timed out after {_fmt_seconds(took)} s"
            ) from None
        finally:
            self._timeout_owned = False
            if self._sock is not None and deadline is not None:
                with contextlib.suppress(OSError):
                    if self._kernel_timeouts:
                        self._kernel_timeouts = False
                        _kernel_timeout(self._sock, None, writing=False)
                        _kernel_timeout(self._sock, None, writing=True)
                    else:
                        self._sock.settimeout(saved)

    def _ensure_handshake(self) -> None:
        if not self._handshake_done:
            self._check_open()
            self.do_handshake()

    # -- the two directions -----------------------------------------------------------------

    def _raw(self) -> socket.socket:
        if self._sock is None:
            raise OSError(9, "the TLS socket is closed or detached")
        return self._sock

    def _check_open(self) -> None:
        # Only a real close counts: files from makefile() keep working after close().
        if self._sock is None:
            raise OSError(9, "the TLS socket is closed")

    def _apply_deadline(self, sock: socket.socket, deadline: float | None,
                        writing: bool) -> float | None:
        """Bound the next socket read (write) at ``deadline``; TimeoutError if it passed.
        Returns the deadline for the reads after it (see _UNSTARTED). The handshake owns
        the socket's timeout (restored after) and puts what is left in it; a read or
        write call after it waits for the socket with what is left."""
        if deadline is None:
            return None
        if deadline == _UNSTARTED:
            timeout = sock.gettimeout()
            return time.monotonic() + timeout if timeout else None  # 0.0: non-blocking
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out")
        if self._kernel_timeouts:
            _kernel_timeout(sock, remaining, writing=writing)
        elif self._timeout_owned:
            sock.settimeout(remaining)
        elif not _wait_ready(sock, remaining, writing):
            raise TimeoutError("timed out")
        return deadline

    def _release_held_output(self) -> None:
        """Send the tickets held back for coalescing: we are about to wait for the peer,
        which must not wait for them (caller holds the reader lock)."""
        if self._held_output:
            self._reader_flush()

    def _reader_flush(self, deadline: float | None = _UNSTARTED) -> None:
        """The reader's write (a KeyUpdate answer, TLS 1.2's Finished, held tickets).
        If another thread is writing, it is not waited for: that writer may be blocked
        until the peer reads, and the peer may be waiting for what this reader is about
        to read. The writer sends what is queued with its next record, and whatever is
        still queued when it lets go of the socket (`_end_write`)."""
        if not self._wlock.acquire(blocking=False):
            self._left_for_writer = True
            if not self._wlock.acquire(blocking=False):
                return  # held: whoever holds it sees the flag in _end_write
        try:
            self._left_for_writer = False
            if self._handshake_done and _SEND_READY:
                self._write_ready()
            else:
                self._write_out(deadline)
        finally:
            self._wlock.release()

    def _write_ready(self) -> None:
        """A reader's write after the handshake (caller holds _wlock): what the kernel
        takes now. The rest (only ever a KeyUpdate answer, tickets or an alert, which
        the peer does not wait for) stays queued for the next write or the close: a
        reader whose peer is not reading must still return what it read, as ssl's does,
        rather than time out or report a non-blocking socket as not ready."""
        out = self._take_output()
        if out:
            sent = _send_ready(self._raw(), out)
            if sent < len(out):
                self._unsent = out[sent:]

    def _end_write(self) -> None:
        """After a writer released the socket: send what a reader queued meanwhile."""
        if self._left_for_writer:
            self._reader_flush()

    def _read_more(self, deadline: float | None = _UNSTARTED) -> float | None:
        """One socket read fed to the connection (caller holds the reader lock); returns
        the deadline for the next (`_apply_deadline`)."""
        data = self._take_cipher()
        if data:
            self._feed(data, deadline)
            return deadline
        if self._eof:
            raise self._eof_error()
        self._release_held_output()
        sock = self._raw()
        deadline = self._apply_deadline(sock, deadline, False)
        try:
            data = sock.recv(RECV_SIZE)
        except BlockingIOError:
            if self._kernel_timeouts:
                raise TimeoutError("timed out") from None
            raise
        if not data:
            self._eof = True
            raise self._eof_error()
        self._feed(data, deadline)
        return deadline

    def _take_cipher(self, limit: int = RECV_SIZE) -> bytes:
        """Up to `limit` bytes of ciphertext left over by recv_into's direct path."""
        if self._cend == self._cpos or self._cbuf is None:
            return b""
        end = min(self._cend, self._cpos + limit)
        data = bytes(self._cbuf[self._cpos:end])
        self._cpos = end
        if end == self._cend:
            self._cpos = self._cend = 0
        return data

    def _recv_exact(self, n: int, deadline: float | None) -> tuple[bytes, float | None]:
        """Exactly ``n`` bytes within ``deadline``, and the deadline for the next read."""
        sock = self._raw()
        buf = bytearray(self._take_cipher(n))
        if len(buf) < n:
            self._release_held_output()
        while len(buf) < n:
            deadline = self._apply_deadline(sock, deadline, False)
            data = sock.recv(n - len(buf))
            if not data:
                self._eof = True
                raise self._eof_error()
            buf += data
        return bytes(buf), deadline

    def _read_one_record(self, deadline: float | None = _UNSTARTED) -> float | None:
        """Read exactly one record, so no byte after it is taken from the socket, within
        ``deadline``; returns the deadline for the next read."""
        if self._eof:
            raise self._eof_error()
        header, deadline = self._recv_exact(5, deadline)
        body, deadline = self._recv_exact(int.from_bytes(header[3:5], "big"), deadline)
        self._feed(header + body, deadline)
        return deadline

    def _feed(self, data: bytes, deadline: float | None = _UNSTARTED) -> None:
        try:
            with self._state:
                events = self._conn.receive_data(data)
        except TLSError as exc:
            self._failed = exc
            self._flush_quietly()        # the alert the connection queued
            raise
        for ev in events:
            if isinstance(ev, DataReceived):
                self._plain += ev.data
            elif isinstance(ev, ConnectionClosed):
                self._peer_closed = True
                if ev.alert is not None:  # the peer aborted: a socket API reports an error
                    self._failed = AlertReceived(ev.alert)
                    raise self._failed
            else:
                self._on_event(ev)
        if self._peer_closed:
            self._answer_close()
        elif self._coalesce_tickets and not self._handshake_done and self._holds_tickets():
            self._held_output = True     # see __init__: they go out with the next send
        else:
            self._reader_flush(deadline)

    def _holds_tickets(self) -> bool:
        """True when this feed completed a TLS 1.3 server handshake: what the connection
        queued now is session tickets only (TLS 1.2 servers still owe their Finished)."""
        hc = self._conn.handshake_complete
        return hc is not None and hc.version == "TLSv1.3"

    def _on_event(self, event: Event) -> None:
        """Events other than data and close (session tickets, key updates), for
        subclasses such as `tlskit.compat.SSLSocket` that keep the tickets."""

    def _eof_error(self) -> TruncatedConnection:
        if self._conn.handshake_complete is None:
            return handshake_eof(self._peer, self._conn, self.server_side)
        return TruncatedConnection(
            f"{self._peer} closed the connection without close_notify (truncated data?)")

    def _flush(self, deadline: float | None = _UNSTARTED) -> float | None:
        """Write everything the connection has queued (and any leftover of a timed-out
        write) within ``deadline``; returns the deadline for what follows."""
        with self._wlock:
            return self._write_out(deadline)

    def _take_output(self) -> bytes:
        """Everything to send: a timed-out write's leftover, then what the connection
        queued (caller holds _wlock)."""
        with self._state:
            out = self._conn.data_to_send()
        self._held_output = False
        if self._unsent:
            out = self._unsent + out
            self._unsent = b""
        return out

    def _write_out(self, deadline: float | None = _UNSTARTED) -> float | None:
        """Send what is queued within ``deadline``; returns the deadline for the next
        write (`_apply_deadline`). Caller holds _wlock."""
        out = self._take_output()
        if out:
            deadline = self._send_out(out, deadline)
        return deadline

    def _send_out(self, out: bytes, deadline: float | None = _UNSTARTED) -> float | None:
        sock = self._raw()
        view = memoryview(out)
        try:
            while view:
                deadline = self._apply_deadline(sock, deadline, True)
                try:
                    view = view[sock.send(view):]
                except BlockingIOError:
                    if self._kernel_timeouts:
                        raise TimeoutError("timed out") from None
                    raise
        finally:
            if view:
                self._unsent = bytes(view)
        return deadline

    def _answer_close(self) -> None:
        """Our close_notify answer to the peer's (the reader's write). A writer blocked
        in the kernel on a peer that is not reading holds the socket: it is not waited
        for, so recv returns the end of the stream at once. The writer sends the answer
        when its next chunk is refused (`_encrypt_and_write`), or when it lets go of
        the socket (`_end_write`); close() sends it at the latest."""
        if not self._wlock.acquire(blocking=False):
            self._left_for_writer = True
            if not self._wlock.acquire(blocking=False):
                return  # held: whoever holds it sees the flag
        try:
            self._left_for_writer = False
            self._send_quietly()
        finally:
            self._wlock.release()

    def _flush_quietly(self) -> None:
        """Best effort, bounded by CLOSE_TIMEOUT: an alert or close_notify to a peer that
        may be gone or not reading."""
        if not self._wlock.acquire(timeout=CLOSE_TIMEOUT):
            return
        try:
            self._send_quietly()
        finally:
            self._wlock.release()

    def _send_quietly(self) -> None:
        """`_flush_quietly` with _wlock held: errors swallowed, at most CLOSE_TIMEOUT."""
        try:
            sock = self._sock
            if sock is None:
                return
            out = self._take_output()
            if not out:
                return
            saved = sock.gettimeout()
            if saved is None and _DONTWAIT:
                out = out[_send_now(sock, out):]  # (what fits: no timeout to switch)
                if not out:
                    return
            if saved is None and KERNEL_TIMEOUTS:
                try:
                    _kernel_timeout(sock, CLOSE_TIMEOUT, writing=True)
                    self._send_out(out)
                finally:
                    _kernel_timeout(sock, None, writing=True)
                return
            try:
                if saved is None or saved > CLOSE_TIMEOUT:
                    sock.settimeout(CLOSE_TIMEOUT)
                self._send_out(out)
            finally:
                sock.settimeout(saved)
        except (OSError, TLSError, UsageError):
            pass

    # -- reading ----------------------------------------------------------------------------

    def _fill(self, deadline: float | None = _UNSTARTED) -> bool:
        """Make plaintext available; False at the end of the stream (the peer's
        close_notify, or a TCP close without it when ragged EOFs are suppressed), all
        socket reads within one ``deadline``. Holds the read lock."""
        while not self._plain:
            if self._failed is not None:  # (a fresh traceback: raised again and again)
                raise self._failed.with_traceback(None)
            if self._peer_closed or self.truncated:
                return False
            try:
                deadline = self._read_more(deadline)
            except TruncatedConnection:
                if not self.suppress_ragged_eofs or self._conn.handshake_complete is None:
                    raise
                self.truncated = True
                return False
            except TimeoutError:
                raise TimeoutError(
                    f"recv from {self._peer} timed out after "
                    f"{_fmt_seconds(self.gettimeout())} s") from None
        return True

    def recv(self, bufsize: int = RECV_SIZE, flags: int = 0) -> bytes:
        """Up to ``bufsize`` bytes of plaintext; b"" once the peer sent close_notify."""
        if flags:
            raise ValueError("flags are not supported on TLS sockets")
        if bufsize < 0:
            raise ValueError("negative buffersize in recv")
        self._check_open()
        self._ensure_handshake()
        if bufsize == 0:
            return b""
        with self._rlock:
            if not self._fill():
                return b""
            plain = self._plain
            if bufsize >= len(plain):
                data = bytes(plain)
                plain.clear()
            else:
                data = bytes(plain[:bufsize])
                del plain[:bufsize]
            return data

    def recv_into(self, buffer: Buffer, nbytes: int = 0, flags: int = 0) -> int:
        if flags:
            raise ValueError("flags are not supported on TLS sockets")
        view = memoryview(buffer)
        if view.format != "B" or view.ndim != 1:
            view = view.cast("B")
        if nbytes < 0:
            raise ValueError("negative buffersize in recv_into")
        n = min(nbytes, len(view)) if nbytes else len(view)
        self._check_open()
        self._ensure_handshake()
        if n == 0:
            return 0
        with self._rlock:
            deadline: float | None = _UNSTARTED
            if n >= DIRECT_MIN and not self._plain:
                got, deadline = self._recv_direct(view[:n])
                if got >= 0:
                    return got
            if not self._fill(deadline):
                return 0
            plain = self._plain
            n = min(n, len(plain))
            view[:n] = plain[:n]
            del plain[:n]
            return n

    def _recv_direct(self, view: memoryview) -> tuple[int, float | None]:
        """Zero-copy read (caller holds the reader lock): ciphertext goes from the kernel
        into `_cbuf` and each application-data record is decrypted straight into `view`.
        Returns the bytes written, or -1 when the buffered path must take over (anything
        but application data, close_notify, EOF, errors): what was read stays in `_cbuf`
        for it, but for a record the connection already opened and holds (`HELD`), which
        is consumed here and whose events are taken at once. And the call's deadline,
        which the buffered path keeps."""
        deadline: float | None = _UNSTARTED
        if self._peer_closed or self._eof or self._failed is not None:
            return -1, deadline
        if self._cbuf is None:
            self._cbuf = bytearray(RECV_SIZE + _MAX_RECORD)
        cbuf = self._cbuf
        while True:
            pos, end = self._cpos, self._cend
            if end - pos >= 5:
                total = 5 + ((cbuf[pos + 3] << 8) | cbuf[pos + 4])
                if total > _MAX_RECORD:
                    return -1, deadline  # the connection reports the oversized record
                if end - pos >= total:
                    with memoryview(cbuf) as whole, whole[pos:pos + total] as record, \
                            self._state:
                        got = self._conn.receive_record_into(record, view)
                    if got < 0 and got != HELD:
                        return -1, deadline  # declined: left for the buffered path
                    self._cpos = pos + total
                    if self._cpos == end:
                        self._cpos = self._cend = 0
                    if got < 0:  # HELD: consumed and opened; its events now
                        self._feed(b"", deadline)
                        return -1, deadline
                    if got:
                        return got, deadline
                    continue  # an empty application-data record
            deadline = self._recv_cipher(deadline)
            if self._eof:
                return -1, deadline

    def _recv_cipher(self, deadline: float | None) -> float | None:
        """Read more ciphertext into `_cbuf` (moving a partial record to its start when
        the space after it runs short; setting `_eof` at EOF) within ``deadline``;
        returns the deadline for the next read (`_apply_deadline`)."""
        cbuf = self._cbuf
        assert cbuf is not None
        if len(cbuf) - self._cend < _MAX_RECORD:
            left = self._cend - self._cpos
            cbuf[:left] = cbuf[self._cpos:self._cend]
            self._cpos, self._cend = 0, left
        self._release_held_output()
        sock = self._raw()
        try:
            deadline = self._apply_deadline(sock, deadline, False)
            with memoryview(cbuf) as whole:
                got = sock.recv_into(whole[self._cend:])
        except TimeoutError:
            raise TimeoutError(f"recv from {self._peer} timed out after "
                               f"{_fmt_seconds(self.gettimeout())} s") from None
        if not got:
            self._eof = True
        self._cend += got
        return deadline

    def pending(self) -> int:
        """Plaintext bytes already decrypted and waiting for `recv`."""
        return len(self._plain)

    # -- writing ----------------------------------------------------------------------------

    def _encrypt_and_write(self, view: memoryview,
                           deadline: float | None = _UNSTARTED) -> float | None:
        """Encrypt ``view`` and send it within ``deadline`` (`_apply_deadline`), which
        it returns for the next chunk. Caller holds _wlock."""
        with self._state:
            try:
                self._conn.send_data(view)
            except UsageError:  # close_notify went out meanwhile (from another thread)
                refused = True
            else:
                refused = False
        if refused:
            self._left_for_writer = False
            self._send_quietly()  # the close_notify a reader left queued (_answer_close)
            why = ("it sent close_notify (answered)" if self._peer_closed
                   else "this side sent close_notify (shutdown or close)")
            raise BrokenPipeError(errno.EPIPE, f"cannot send to {self._peer}: {why}")
        try:
            return self._write_out(deadline)
        except TimeoutError:
            raise self._send_timed_out() from None

    def _bytes_to_send(self, data: Buffer, flags: int) -> memoryview:
        """What send and sendall check first; ``data`` as a flat view of bytes."""
        if flags:
            raise ValueError("flags are not supported on TLS sockets")
        self._ensure_handshake()
        self._check_open()
        view = memoryview(data)
        if view.format != "B" or view.ndim != 1:
            view = view.cast("B")
        return view

    def sendall(self, data: Buffer, flags: int = 0) -> None:
        view = self._bytes_to_send(data, flags)
        with self._wlock:
            deadline: float | None = _UNSTARTED  # one for the whole call, as ssl's
            for start in range(0, len(view), SEND_CHUNK):
                deadline = self._encrypt_and_write(view[start:start + SEND_CHUNK], deadline)
        self._end_write()

    def send(self, data: Buffer, flags: int = 0) -> int:
        chunk = self._bytes_to_send(data, flags)[:SEND_CHUNK]
        if not chunk:
            return 0
        with self._wlock:
            self._encrypt_and_write(chunk)
        self._end_write()
        return len(chunk)

    def _send_timed_out(self) -> TimeoutError:
        """What a write that timed out raises: who, after how long, and the likely cause
        (the socket's bare "timed out" said neither)."""
        try:
            after = _fmt_seconds(self.gettimeout())
        except OSError:
            after = "?"
        return TimeoutError(f"send to {self._peer} timed out after {after} s (the peer is "
                            "not reading; a larger timeout or a reader on its side helps)")

    def write(self, data: Buffer) -> int:
        """`ssl.SSLSocket.write` spelling of `send`."""
        return self.send(data)

    def read(self, len: int = 1024) -> bytes:
        return self.recv(len)

    def update_keys(self, request_peer_update: bool = True) -> None:
        """Send a KeyUpdate (the peer answers with its own when asked)."""
        self._ensure_handshake()
        with self._wlock:
            with self._state:
                self._conn.update_keys(request_peer_update)
            self._write_out()
        self._end_write()

    def send_session_ticket(self, early_data: bool | None = None) -> bool:
        """A server's TLS 1.3 ticket sent now (`ServerConnection.send_session_ticket`):
        e.g. once the user is authenticated. True if one was sent."""
        self._ensure_handshake()
        conn = self._conn
        if not isinstance(conn, ServerConnection):
            raise UsageError("send_session_ticket: only a server sends session tickets")
        with self._wlock:
            with self._state:
                queued = conn.send_session_ticket(early_data)
            self._write_out()
        self._end_write()
        return queued

    # -- closing ----------------------------------------------------------------------------

    def _send_close_notify(self) -> None:
        if not self._handshake_done or self._sock is None:
            return
        with self._state:
            try:
                self._conn.close()
            except (TLSError, UsageError):
                return
        self._flush_quietly()

    def shutdown(self, how: int) -> None:
        """Send close_notify for SHUT_WR/SHUT_RDWR, then shut the TCP socket down."""
        if how in (socket.SHUT_WR, socket.SHUT_RDWR):
            self._send_close_notify()
        self._raw().shutdown(how)

    def close(self) -> None:
        """Send close_notify (best effort, bounded by CLOSE_TIMEOUT) and close the socket.

        Files from `makefile` keep the socket open until they are closed too."""
        self._closed = True
        if self._io_refs <= 0:
            self._real_close()

    def _real_close(self) -> None:
        sock = self._sock
        if sock is None:
            return
        try:
            self._send_close_notify()
            _drain(sock)
        finally:
            self._sock = None
            sock.close()

    def files_open(self) -> bool:
        """True while a file from `makefile` is open (close() then waits for it)."""
        return self._io_refs > 0

    def _decref_socketios(self) -> None:
        if self._io_refs > 0:
            self._io_refs -= 1
        if self._closed:
            self.close()

    def unwrap(self) -> socket.socket:
        """Close TLS both ways (close_notify, then wait for the peer's) and return the
        plain TCP socket. Application data still arriving is discarded. The socket's
        timeout bounds the whole call, as ssl's."""
        self._ensure_handshake()
        with self._state:
            self._conn.close()
        deadline = self._flush()
        with self._rlock:
            # Record by record: bytes after the peer's close_notify belong to the caller.
            while not self._peer_closed:
                deadline = self._read_one_record(deadline)
                self._plain.clear()
        sock = self._raw()
        self._sock = None
        self._closed = True
        return sock

    def detach(self) -> int:
        """Forget the TLS state and return the TCP socket's file descriptor (no close_notify)."""
        if self._held_output:
            self._flush_quietly()  # the tickets belong to the stream already
        sock = self._raw()
        self._sock = None
        self._closed = True
        return sock.detach()

    def __enter__(self) -> TLSSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- files ------------------------------------------------------------------------------

    def makefile(self, mode: str = "r", buffering: int | None = None, *,
                 encoding: str | None = None, errors: str | None = None,
                 newline: str | None = None) -> Any:
        """Like `socket.socket.makefile`: a (buffered) file over the TLS stream."""
        if not set(mode) <= {"r", "w", "b"}:
            raise ValueError(f"invalid mode {mode!r} (only r, w, b allowed)")
        writing = "w" in mode
        reading = "r" in mode or not writing
        binary = "b" in mode
        rawmode = ("r" if reading else "") + ("w" if writing else "")
        raw = socket.SocketIO(self, rawmode)  # type: ignore[arg-type]
        self._io_refs += 1
        if buffering is None or buffering < 0:
            buffering = io.DEFAULT_BUFFER_SIZE
        if buffering == 0:
            if not binary:
                raise ValueError("unbuffered streams must be binary")
            return raw
        buffer: io.BufferedIOBase
        if reading and writing:
            buffer = io.BufferedRWPair(raw, raw, buffering)  # type: ignore[arg-type]
        elif reading:
            buffer = io.BufferedReader(raw, buffering)
        else:
            buffer = io.BufferedWriter(raw, buffering)
        if binary:
            return buffer
        text = io.TextIOWrapper(buffer, io.text_encoding(encoding), errors,  # type: ignore[type-var]
                                newline)
        text.mode = mode  # type: ignore[misc]
        return text

    # -- socket passthrough -----------------------------------------------------------------

    def fileno(self) -> int:
        return self._sock.fileno() if self._sock is not None else -1

    def settimeout(self, timeout: float | None) -> None:
        self._raw().settimeout(timeout)

    def gettimeout(self) -> float | None:
        return self._raw().gettimeout()

    def setblocking(self, flag: bool) -> None:
        self._raw().setblocking(flag)

    def getpeername(self) -> Any:
        return self._raw().getpeername()

    def getsockname(self) -> Any:
        return self._raw().getsockname()

    def setsockopt(self, *args: Any) -> None:
        self._raw().setsockopt(*args)

    def getsockopt(self, *args: Any) -> Any:
        return self._raw().getsockopt(*args)

    @property
    def family(self) -> int:
        return self._raw().family

    @property
    def type(self) -> int:
        return self._raw().type

    @property
    def proto(self) -> int:
        return self._raw().proto

    @property
    def socket(self) -> socket.socket | None:
        """The underlying TCP socket (do not read or write it directly)."""
        return self._sock

    @property
    def connection(self) -> Connection:
        """The sans-I/O connection object (for inspection; it is not thread-safe)."""
        return self._conn

    # -- information ------------------------------------------------------------------------

    def export_keying_material(self, label: bytes, context: bytes, length: int) -> bytes:
        with self._state:
            return self._conn.export_keying_material(label, context, length)

    def channel_binding(self, cb_type: str = "tls-exporter") -> bytes:
        """`Connection.channel_binding`: RFC 9266 tls-exporter (the default), RFC 5929
        tls-server-end-point or tls-unique."""
        with self._state:
            return self._conn.channel_binding(cb_type)

    def __repr__(self) -> str:
        side = "server" if self.server_side else "client"
        state = ("closed" if self._sock is None else
                 "established" if self._handshake_done else "handshaking")
        return f"<tlskit.TLSSocket {side} {self._peer} {state}>"


# -- ssl-style certificate dict ----------------------------------------------------------

def connect(host: str, port: int, config: ClientConfig | None = None, *,
            server_name: str | None = None, timeout: float | None = None,
            handshake_timeout: float | None = 30.0,
            source_address: tuple[str, int] | None = None,
            suppress_ragged_eofs: bool = True, starttls: str | None = None) -> TLSSocket:
    """Open TCP to ``host:port``, run the TLS handshake (1.3 or 1.2, as ``config``
    allows) and return the `TLSSocket`.

    ``timeout`` is the socket timeout afterwards: it bounds each ``recv``/``send`` call
    as a whole, as `ssl`'s does (a record trickled in a byte at a time does not restart
    it), not the idle time between bytes; ``handshake_timeout`` bounds the TCP connect
    and, separately, the whole handshake. ``server_name`` (default
    ``host``) is sent as SNI and checked against the certificate. With
    ``suppress_ragged_eofs`` (the default, as in `ssl`) a close without close_notify
    after the handshake reads as end of stream and sets `TLSSocket.truncated`.
    ``starttls`` (``"smtp"``, ``"imap"``, ``"pop3"``, ``"ftp"``, ``"postgres"``,
    ``"xmpp"``) first
    plays that protocol's plaintext part (`tlskit.starttls`, bounded by
    ``handshake_timeout``) and raises `StartTLSError` when the server does not offer TLS.
    """
    cfg = config if config is not None else default_client_config()
    require_config(cfg, ClientConfig, "tlskit.connect")
    cfg = with_keylog(cfg)
    name = server_name if server_name is not None else host
    peer = f"{host}:{port}"
    limits = [t for t in (timeout, handshake_timeout) if t is not None]
    connect_timeout = min(limits) if limits else None
    try:
        sock = socket.create_connection((host, port), timeout=connect_timeout,
                                        source_address=source_address)
    except TimeoutError:
        raise TimeoutError(
            f"TCP connect to {peer} timed out after {_fmt_seconds(connect_timeout)} s"
        ) from None
    try:
        if starttls is not None:
            from .preamble import starttls as play_starttls
            play_starttls(sock, starttls, server_name=name, timeout=handshake_timeout)
        sock.settimeout(timeout)
        conn = ClientConnection(cfg, server_name=name)
        tls = TLSSocket(sock, conn, server_side=False, handshake_timeout=handshake_timeout,
                        peer=peer, server_hostname=name,
                        suppress_ragged_eofs=suppress_ragged_eofs)
        tls.do_handshake()
    except BaseException:
        sock.close()
        raise
    return tls
