"""Tools for hostile-peer tests: in-memory PKI, connection pairs, recorded flights,
record parsing and forging, message hooks, and the exact-alert assertion.

Everything here drives the public sans-I/O API. Connections made here log their keys
(the public ``keylog`` callback) and sit behind the re-sealing man-in-the-middle of
`support.mitm`: protected records are forged, opened and rewritten with keys derived
from those key-log lines by the independent test-side key schedule, never with the
engine's own state. The one internal left is the client handshake's ``send`` while a
`make_client` is built, to rewrite its first ClientHello before the client adds it to its
own transcript (so a handshake with an edited hello can still complete).
"""

from __future__ import annotations

import gc
import types
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from unittest import mock

import pytest

from tlskit import (
    AlertDescription,
    AlertReceived,
    ClientConfig,
    ClientConnection,
    ConnectionClosed,
    ServerConfig,
    ServerConnection,
    TLSError,
)
from tlskit.connection import Connection
from tlskit.handshake.client13 import ClientHandshake13
from tlskit.wire import messages as m

from ..support.mitm import CLIENT, SERVER, Endpoint, endpoint, logging_keys
from ..support.pki import AcceptAll, client_config, det_rng, server_config
from ..support.pump import flights, pump
from ..support.records import ALERT, APPDATA, COMPAT_CCS, KeyLog, plain_alert, split_records

AD = AlertDescription
Hook = Callable[[bytes], "bytes | list[bytes] | None"]


# --- PKI ------------------------------------------------------------------------------


# The hostile tests pick apart an x25519 handshake; tlskit's default puts the ML-KEM hybrid
# first, which test_inmemory.py and the interop suites cover.


# --- message hooks ----------------------------------------------------------------------

def _apply(hook: Hook, raw: bytes) -> list[bytes]:
    out = hook(raw)
    if out is None:
        return []
    return [out] if isinstance(out, bytes | bytearray) else list(out)


def hook_sends(conn: Endpoint, hook: Hook) -> None:
    """Rewrite every handshake message `conn` sends from now on, on the wire: the MITM
    opens each record, passes its messages through `hook` and seals what it returns (the
    sender's own transcript keeps what it sent)."""
    conn.message_hooks.append(hook)


@contextmanager
def sender_side(cls: type, hook: Hook) -> Iterator[None]:
    """While active, every handshake message an instance of handshake class `cls` sends
    passes through `hook` before the sender adds it to its own transcript, so its
    signatures and Finished cover what the peer gets (what a MITM cannot do)."""
    original = cls.send  # type: ignore[attr-defined]

    def send(self: Any, raw: bytes, *, transcript: bool = True) -> None:
        for new in _apply(hook, raw):
            original(self, bytes(new), transcript=transcript)

    with mock.patch.object(cls, "send", send):
        yield


def on_type(msg_type: int, fn: Callable[[bytes], Any], *, once: bool = False) -> Hook:
    """A hook that applies `fn` to messages of one handshake type only."""
    done = [False]

    def hook(raw: bytes) -> Any:
        if raw[0] == msg_type and not (once and done[0]):
            done[0] = True
            return fn(raw)
        return raw
    return hook


def make_client(config: ClientConfig | None = None, hook: Hook | None = None,
                server_name: str | None = "localhost", **kw: Any) -> Endpoint:
    """A client behind the MITM. With `hook`, its first ClientHello is rewritten before
    the client adds it to its transcript, and every later message on the wire."""
    config = logging_keys(config or client_config())
    if hook is None:
        return endpoint(ClientConnection(config, server_name=server_name, **kw), CLIENT)
    with sender_side(ClientHandshake13, hook):
        client = endpoint(ClientConnection(config, server_name=server_name, **kw), CLIENT)
    first = [True]

    def later(raw: bytes) -> Any:   # the first ClientHello went through `hook` already
        if first[0] and raw[0] == m.HandshakeType.client_hello:
            first[0] = False
            return raw
        return hook(raw)

    hook_sends(client, later)
    return client


def make_server(config: ServerConfig | None = None, hook: Hook | None = None) -> Endpoint:
    """A server behind the MITM; `hook` rewrites its handshake messages on the wire."""
    server = endpoint(ServerConnection(logging_keys(config or server_config())), SERVER)
    if hook is not None:
        hook_sends(server, hook)
    return server


# --- driving a handshake ----------------------------------------------------------------


def connected_pair(client_kw: dict[str, Any] | None = None,
                   server_kw: dict[str, Any] | None = None
                   ) -> tuple[Endpoint, Endpoint]:
    c = make_client(client_config(**(client_kw or {})))
    s = make_server(server_config(**(server_kw or {})))
    pump(c, s)
    assert c.handshake_complete is not None and s.handshake_complete is not None
    return c, s


@dataclass
class Flights:
    """The bytes of one real handshake, flight by flight (deterministic: replayable)."""

    client_hello: bytes          # client's first flight
    server_flight: bytes         # ServerHello [CCS] {EE ... Finished}
    client_finished: bytes       # [CCS] {Finished}
    messages: dict[str, bytes] = field(default_factory=dict)   # step -> raw message
    secrets: dict[str, bytes] = field(default_factory=dict)    # keylog label -> secret

    def server_records(self) -> list[bytes]:
        return split_records(self.server_flight)

    def client_records(self) -> list[bytes]:
        return split_records(self.client_finished)


def replay_client(seed: int = 7, **kw: Any) -> Endpoint:
    kw.setdefault("rng", det_rng(seed))
    kw.setdefault("verifier", AcceptAll())
    return make_client(client_config(**kw))


def replay_server(seed: int = 8, **kw: Any) -> Endpoint:
    kw.setdefault("rng", det_rng(seed))
    return make_server(server_config(ed25519=True, **kw))


@cache
def recorded_flights() -> Flights:
    """A handshake between `replay_client()` and `replay_server()`.

    Both sides are deterministic (seeded rng, Ed25519 signature), so a fresh
    `replay_client()` accepts `server_flight` and a fresh `replay_server()` fed
    `client_hello` then accepts `client_finished`.
    """
    seen: dict[str, bytes] = {}

    def tracer(step: str, fields: dict[str, Any]) -> None:
        if "raw" in fields:
            seen[step] = fields["raw"]

    log = KeyLog()
    ch, sf, cf, *_tickets = flights(replay_client(tracer=tracer, keylog=log), replay_server())
    return Flights(ch, sf, cf, seen, log.as_dict())


# --- records ---------------------------------------------------------------------------


def forge(sender: Endpoint, inner: bytes, *, outer_type: int = APPDATA,
          length: int | None = None) -> bytes:
    """A protected TLS 1.3 record `sender` could send next, with TLSInnerPlaintext `inner`
    (content || type || padding): sealed by the MITM under the sender's current write key
    (from the key log), consuming one of the sequence numbers the receiver counts."""
    assert sender.flow.protected, "sender has no write key yet"
    return sender.flow.inject_inner(inner, outer=outer_type, length=length)


def forge_content(sender: Endpoint, ctype: int, content: bytes, padding: int = 0) -> bytes:
    return forge(sender, content + bytes((ctype,)) + bytes(padding))


def held(conn: Any) -> int:
    """How many bytes the connection holds in bytes-like objects, found by walking every
    object it references (its configuration aside: certificates and keys are fixed), so
    no engine buffer needs to be known by name. Compare against a baseline."""
    stack: list[Any] = [conn.conn if isinstance(conn, Endpoint) else conn]
    seen: set[int] = set()
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, bytes | bytearray):
            total += len(obj)
        elif not isinstance(obj, _OPAQUE):
            stack.extend(gc.get_referents(obj))
    return total


_OPAQUE = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
           ClientConfig, ServerConfig, str, int)


def handshake_message(msg_type: int, body: bytes) -> bytes:
    return m.frame(msg_type, body)


# --- the exact-alert assertion ------------------------------------------------------

def assert_peer_alert(conn: Connection, data: bytes, alert: AD) -> None:
    """`data` carries a fatal alert for `conn`: it is reported as ConnectionClosed(alert),
    nothing is sent back, and every later call raises AlertReceived(alert)."""
    events = conn.receive_data(data)
    assert events and events[-1] == ConnectionClosed(alert), events
    assert conn.data_to_send() == b""
    with pytest.raises(AlertReceived) as later:
        conn.receive_data(b"")
    assert later.value.alert == alert


def raise_failure(conn: Connection, data: bytes | Iterable[bytes] | Callable[[], Any]
                  ) -> TLSError:
    """Feed `data` (or call it): it must raise our own `TLSError` (not the peer's
    AlertReceived; anything else propagates and fails the test)."""
    with pytest.raises(TLSError) as info:
        if callable(data):
            data()
        elif isinstance(data, bytes | bytearray):
            conn.receive_data(data)
        else:
            for chunk in data:
                conn.receive_data(chunk)
    exc = info.value
    assert not isinstance(exc, AlertReceived), f"peer alert, not ours: {exc!r}"
    return exc


def after_leading(out: bytes, leading: bytes | int) -> bytes:
    """`out` without what may legitimately precede the alert: exact bytes, or a number of
    non-alert records (e.g. a ServerHello already sent when the error surfaced)."""
    if isinstance(leading, int):
        recs = split_records(out)
        assert len(recs) == leading + 1, f"expected {leading} records before the alert"
        assert all(r[0] != ALERT for r in recs[:leading])
        leading = b"".join(recs[:leading])
    assert out.startswith(leading), "unexpected bytes before the alert"
    return out[len(leading):]


def assert_sticky(conn: Connection, exc: TLSError) -> None:
    """Every later ``receive_data``/``send_data`` raises the very same error and queues
    nothing more."""
    for again in (lambda: conn.receive_data(b"\x17\x03\x03\x00\x01x"),
                  lambda: conn.send_data(b"more")):
        with pytest.raises(TLSError) as later:
            again()
        assert later.value is exc
    assert conn.data_to_send() == b""


def expect_alert(conn: Connection, data: bytes | Iterable[bytes] | Callable[[], Any],
                 alert: AD, *, peer: Connection | None = None,
                 leading: bytes | int = b"") -> TLSError:
    """Feed `data` (or call it) and check the failure is exactly `alert`:

    - a `TLSError` is raised (anything else propagates and fails the test);
    - ``exc.alert == alert`` (so never a leaked internal_error);
    - ``data_to_send()`` holds exactly `leading` and then that one alert record:
      plaintext ``15 03 03 00 02 02 XX`` before keys; once the MITM knows the connection
      writes protected records, one protected record that opens under the connection's
      write key from the key log to ``02 XX 15`` (and which `peer`, if given, decrypts
      into ``AlertReceived(alert)``);
    - later ``receive_data``/``send_data`` raise the very same error.

    `leading` is what may legitimately precede the alert: exact bytes, or a number of
    non-alert records (e.g. a ServerHello already sent when the error surfaced).
    """
    exc = raise_failure(conn, data)
    assert exc.alert == alert, f"expected {alert.name}, got {exc.alert.name}: {exc}"
    out = after_leading(conn.data_to_send(), leading)
    if out.startswith(COMPAT_CCS) and len(out) > len(COMPAT_CCS):
        # RFC 8446 D.4: a client in middlebox-compatibility mode sends its one CCS just
        # before its first protected record -- which may be this alert.
        out = out[len(COMPAT_CCS):]
    flow = conn.flow if isinstance(conn, Endpoint) else None
    if flow is not None and flow.protected:
        recs = split_records(out)
        assert len(recs) == 1, f"expected one alert record, got {len(recs)}"
        rec, seen = recs[0], flow.last[-1]
        assert rec[:3] == b"\x17\x03\x03" and len(rec) == 5 + 2 + 1 + 16, rec.hex()
        assert seen.protected and seen.raw is None, "the alert opens under no logged key"
        assert (seen.ctype, seen.content, seen.padding) == (ALERT, bytes((2, alert)), 0)
        if peer is not None:
            assert_peer_alert(peer, rec, alert)
    else:
        assert out == plain_alert(alert), f"alert record {out.hex()}"
    assert_sticky(conn, exc)
    return exc


def clean(fn: Callable[[], Any]) -> Any:
    """Call `fn`; a TLSError becomes a plain AssertionError without its traceback chain
    (a RecursionError cause would take pytest minutes to render)."""
    try:
        return fn()
    except TLSError as exc:
        cause = exc.__cause__
        raise AssertionError(f"{exc!r} (cause: {type(cause).__name__})") from None


@contextmanager
def no_internal_error() -> Iterator[None]:
    """Anything but a TLSError escaping, or an internal_error alert, is a bug."""
    try:
        yield
    except TLSError as exc:
        assert exc.alert != AD.internal_error, f"internal error: {exc!r} from {exc.__cause__!r}"


# --- message editing ----------------------------------------------------------------------

def edit(msg_cls: Any, fn: Callable[[Any], Any]) -> Callable[[bytes], bytes]:
    """Decode a raw message, let `fn` change the dataclass in place, re-encode."""
    def rewrite(raw: bytes) -> bytes:
        msg = msg_cls.decode(memoryview(raw)[4:])
        out = fn(msg)   # may return a replacement message; other results are ignored
        return (out if isinstance(out, type(msg)) else msg).encode()
    return rewrite


def with_body(raw: bytes, body: bytes) -> bytes:
    return m.frame(raw[0], body)


def truncate_body(k: int) -> Callable[[bytes], bytes]:
    """Cut k bytes off the message body, keeping the header consistent."""
    return lambda raw: with_body(raw, raw[4:len(raw) - k])


def extend_body(extra: bytes = b"\x00") -> Callable[[bytes], bytes]:
    return lambda raw: with_body(raw, raw[4:] + extra)
