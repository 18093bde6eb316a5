"""Read a ClientHello before choosing the server's config: rustls' ``Acceptor``.

    acceptor = Acceptor()
    info = acceptor.receive_data(first_bytes)      # None until the hello is complete
    ... look info.server_name up (a database, a file), then:
    conn = acceptor.accept(config)                 # has consumed what was read
    sock.sendall(conn.data_to_send())

The bytes are read by the server handshake's own record layer and message reassembly,
stopped at the ClientHello, so anything that is no ClientHello fails here with the error
and alert a `ServerConnection` gives for the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from .config import MAX_CLIENT_HELLO, ServerConfig, _check_size, require_config
from .connection import Connection, ServerConnection
from .enums import AlertDescription, AlertLevel, ContentType
from .errors import (
    AlertReceived,
    ConnectionClosedError,
    InternalError,
    TLSError,
    UsageError,
    call_hook,
)
from .events import ConnectionClosed
from .handshake.common import Output
from .handshake.hello import ClientHelloView
from .handshake.server13 import ServerHandshake13, State
from .helloinfo import ClientHelloInfo, client_hello_info, offered_server_name
from .wire import messages as m

__all__ = ["Acceptor", "ConfigChooser"]

# What the server adapters take in place of a config: the ClientHello's info -> the config.
ConfigChooser = Callable[[ClientHelloInfo], ServerConfig]

# What may arrive after the ClientHello before `accept` (0-RTT data, a CCS): kept for the
# connection, up to this much fed after the call that completed the hello.
MAX_AFTER_HELLO = 1 << 16


def alert_record(alert: int) -> bytes:
    """A fatal alert in a plaintext record, as a server sends one before its ServerHello."""
    return bytes((ContentType.alert, 3, 3, 0, 2, AlertLevel.fatal, alert))


@dataclass(frozen=True)
class _Limits:
    """The config fields the record layer and reassembly read before the ClientHello."""

    max_handshake_message: int
    tracer: None = None
    keylog: None = None


class _HelloReader(ServerHandshake13):
    """The TLS 1.3 server's reading of a first flight, stopped at the ClientHello (a
    client that speaks only TLS 1.2 reaches the same point: the hand-over comes after)."""

    __slots__ = ("hello",)

    def __init__(self, limit: int, out: Output) -> None:
        super().__init__(cast(ServerConfig, _Limits(limit)), out)
        self.hello: m.ClientHello | None = None

    def on_client_hello(self, ch: m.ClientHello, raw: bytes) -> State:
        self.hello = ch
        return State.HANDED_OVER  # (a state that accepts nothing more)


class _HelloConnection(Connection):
    """A connection that only reads up to the ClientHello (errors, alerts as the server's)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self._hs = self.reader = _HelloReader(limit, self._out)


class Acceptor:
    """Reads a ClientHello so the server can pick its config by it, then hands the bytes
    to the `ServerConnection` made with that config (sans-I/O, like rustls' Acceptor).

    Between `receive_data` returning a `ClientHelloInfo` and `accept`, the application
    may take its time (do I/O, ask a database). Every failure is a `TLSError` whose
    alert is then waiting in `data_to_send`: bytes that are not a ClientHello (not a TLS
    record, another message, one over ``max_handshake_message`` bytes, a hello that does
    not parse) fail as a `ServerConnection` fails on them; a client that ends the
    connection first (a fatal alert: `AlertReceived`, close_notify:
    `ConnectionClosedError`) fails too. An extension whose contents do not decode is
    left out of the info and judged by the connection `accept` makes (whether and when
    a server reads it depends on its config). Without a config, an
    Encrypted Client Hello is not decrypted here: the info is the outer hello's; the
    config given to `accept` decrypts it, and its ``certificate_resolver`` sees the
    real name.

    :param max_handshake_message: the largest ClientHello read, in bytes (default: the
        largest one its syntax allows, as `ServerConfig`'s default).
    """

    def __init__(self, max_handshake_message: int = MAX_CLIENT_HELLO) -> None:
        _check_size(max_handshake_message, "max_handshake_message")
        self._reader = _HelloConnection(max_handshake_message)
        self._received = bytearray()
        self._output = b""
        self._info: ClientHelloInfo | None = None
        self._error: TLSError | None = None
        self._handed_over = False
        self._overflowed = False  # bytes after the hello were dropped: no connection now
        self._hello_end = 0
        self._sent_name: str | None = None  # the SNI name as spelled (the info lower-cases)

    @property
    def client_hello(self) -> ClientHelloInfo | None:
        """The ClientHello's info once it is complete; None before."""
        return self._info

    def receive_data(self, data: bytes | bytearray | memoryview) -> ClientHelloInfo | None:
        """Feed bytes from the client: the info once its ClientHello is complete (also
        on later calls, whose bytes are kept for the connection), else None. Raises the
        `TLSError` a server gives for bytes that are not a ClientHello."""
        if self._error is not None:
            raise self._error
        if self._handed_over:
            raise UsageError("accept() or refuse() was called: feed the connection instead")
        if self._info is not None:
            if self._overflowed or \
                    len(self._received) - self._hello_end + len(data) > MAX_AFTER_HELLO:
                self._overflowed = True  # (kept: a connection would read past a hole)
                raise UsageError("too much data after the ClientHello: call accept() or "
                                 "refuse() first; the bytes over the bound were dropped, "
                                 "so only refuse() remains")
            self._received += data
            return self._info
        reader = self._reader
        try:
            for event in reader.receive_data(data):
                if isinstance(event, ConnectionClosed) and reader.reader.hello is None:
                    raise (ConnectionClosedError("the client closed the connection before "
                                                 "its ClientHello")
                           if event.alert is None else AlertReceived(event.alert))
        except TLSError as exc:
            if reader.reader.hello is None:  # after the hello, the connection judges
                self._output = reader.data_to_send()
                self._error = exc
                raise
        self._received += data
        hello = reader.reader.hello
        if hello is not None:
            self._info = self._describe(hello)
            self._hello_end = len(self._received)  # (MAX_AFTER_HELLO counts from here)
            # Described: the decoded hello goes (its lists hold a Python int per code,
            # ~18x the hello, while the application takes its time); `accept` feeds
            # the connection the bytes, and later calls return before the reader.
            reader.reader.hello = None
        return self._info

    def _describe(self, hello: m.ClientHello) -> ClientHelloInfo:
        offer = ClientHelloView(hello)
        self._sent_name = offered_server_name(offer)
        return client_hello_info(offer, self._sent_name)

    def accept(self, config: ServerConfig) -> ServerConnection:
        """A `ServerConnection` with ``config`` that has consumed every byte received: its
        first flight waits in its `data_to_send`, and events from bytes that came after
        the hello are returned by its next ``receive_data`` call (``b""`` will do).
        Raises the connection's `TLSError` if it fails on them (the alert is then in this
        acceptor's `data_to_send`)."""
        problem = self._cannot_accept()
        if problem is not None:
            raise UsageError(problem)
        self._handed_over = True
        conn = ServerConnection(config)
        data = bytes(self._received)
        self._received.clear()
        try:
            conn.receive_held(data)
        except TLSError as exc:
            self._error = exc
            self._output = conn.data_to_send()
            raise
        return conn

    def _cannot_accept(self) -> str | None:
        """Why `accept` may not make a connection now; None when it may."""
        if self._error is not None:
            return f"the ClientHello failed: {self._error}"
        if self._info is None or self._handed_over:
            return "accept() needs a complete ClientHello, once"
        if self._overflowed:
            return "too much data after the ClientHello was fed: refuse() it"
        return None

    def refuse(self, alert: AlertDescription = AlertDescription.handshake_failure) -> None:
        """Turn the client away: a fatal ``alert`` (handshake_failure by default;
        unrecognized_name for a name this server does not serve, access_denied for a
        client it will not serve) is queued in `data_to_send`, then close the socket.
        After a failure nothing more is queued: the failure's alert was the answer."""
        if self._handed_over:
            raise UsageError("this acceptor's connection was already accepted or refused")
        self._handed_over = True
        self._received.clear()
        if self._error is None:  # (after a failure, its alert is the client's answer)
            self._output += alert_record(AlertDescription.of(int(alert)))

    def data_to_send(self) -> bytes:
        """What the client should get from the acceptor itself: a failure's or
        `refuse`'s alert; b"" otherwise (after `accept`, the connection's own output)."""
        out, self._output = self._output, b""
        return out

    def __repr__(self) -> str:
        state: Any = ("failed" if self._error is not None else "handed over"
                      if self._handed_over else "hello complete" if self._info is not None
                      else "reading")
        return f"<Acceptor {state}>"


def sent_server_name(acceptor: Acceptor) -> str | None:
    """The SNI name as the client spelled it (compat's sni_callback gets it so, as the
    ssl module's does); `ClientHelloInfo.server_name` is lower-cased."""
    return acceptor._sent_name


def take_received(acceptor: Acceptor) -> bytearray:
    """Every byte fed to ``acceptor`` (the hello and what came after it), handed to an
    adapter that feeds a connection of its own (`tlskit.aio`'s async chooser): the
    acceptor's buffer is the only copy the adapter needs, and afterwards it holds
    nothing and accepts nothing."""
    data, acceptor._received = acceptor._received, bytearray()
    acceptor._handed_over = True
    return data


# -- a connection that chooses its config (the server adapters' ``config`` callable) ----


def choose_config(choose: ConfigChooser, info: ClientHelloInfo) -> ServerConfig:
    """``choose(info)``, checked: a `TLSError` it raises keeps its alert, anything else
    (or an answer that is not a `ServerConfig`) is an internal_error."""
    config = call_hook(choose, info, "the config chooser")
    if not isinstance(config, ServerConfig):
        raise InternalError(f"the config chooser returned a {type(config).__name__}, not a "
                            "tlskit.ServerConfig")
    return config


class _ChoosingReader(_HelloReader):
    """Reads the ClientHello, asks for the config, then hands the hello (and everything
    after it) to a TLS 1.3 server made with it, as its successor."""

    __slots__ = ("choose", "chosen")

    def __init__(self, choose: ConfigChooser, out: Output) -> None:
        super().__init__(MAX_CLIENT_HELLO, out)
        self.choose = choose
        self.chosen: ServerConfig | None = None

    def on_client_hello(self, ch: m.ClientHello, raw: bytes) -> State:
        offer = ClientHelloView(ch)
        config = self.chosen = choose_config(self.choose, client_hello_info(
            offer, offered_server_name(offer)))
        self.successor = server = ServerHandshake13(config, self.out)
        server.receive_record(raw)  # the hello again, read by the chosen server
        return State.HANDED_OVER


class _ChosenConnection(ServerConnection):
    """A `ServerConnection` whose config ``choose(info)`` picks when its ClientHello
    arrives (``config`` raises `UsageError` before that)."""

    def __init__(self, choose: ConfigChooser) -> None:
        self._reply: bool | None = None  # an adapter's close_reply, else the config's
        Connection.__init__(self)
        self._hs = self._reader = _ChoosingReader(choose, self._out)

    @property
    def config(self) -> ServerConfig:  # type: ignore[override]
        chosen = self._reader.chosen
        if chosen is None:
            raise UsageError("no config was chosen yet: the ClientHello has not arrived")
        return chosen

    @property
    def close_reply(self) -> bool:  # type: ignore[override]
        chosen = self._reader.chosen
        if self._reply is not None or chosen is None:
            return self._reply is not False
        return chosen.close_reply

    @close_reply.setter
    def close_reply(self, value: bool) -> None:
        self._reply = value if hasattr(self, "_reader") else None


def server_connection(config: ServerConfig | ConfigChooser, user: str) -> ServerConnection:
    """A `ServerConnection` with ``config``, or one whose config the callable ``config``
    chooses from the ClientHello (what the server adapters do); TypeError for anything
    else, naming ``user``."""
    if isinstance(config, ServerConfig):
        return ServerConnection(config)
    check_server_config(config, user)
    return _ChosenConnection(config)


def check_server_config(config: object, user: str) -> None:
    """A `ServerConfig` or a callable choosing one, else the config TypeError."""
    if not callable(config) or isinstance(config, type):
        require_config(config, ServerConfig, user)
