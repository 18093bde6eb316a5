"""Tools for hostile-peer tests: in-memory PKI, connection pairs, recorded flights,
record parsing and forging, message hooks, and the exact-alert assertion.

Everything here drives the public sans-I/O API; the only internals touched are the
record layer's protection state (to forge or open protected records with the keys a
real peer holds) and the handshake's ``send`` (to rewrite a message before the peer
adds it to its own transcript, so signatures and Finished stay consistent).
"""

from __future__ import annotations

import random
import struct
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
from tlskit.ca import Issued, LocalCA
from tlskit.connection import Connection
from tlskit.crypto import SUITES, Suite
from tlskit.enums import CipherSuite
from tlskit.handshake.client13 import ClientHandshake13
from tlskit.keyschedule import traffic_keys
from tlskit.wire import messages as m

AD = AlertDescription
HS, ALERT, APPDATA, CCS = 22, 21, 23, 20
Hook = Callable[[bytes], "bytes | list[bytes] | None"]


# --- PKI ------------------------------------------------------------------------------

@dataclass
class PKI:
    ca: LocalCA
    server: Issued          # EC P-256 leaf for "localhost"
    server_ed: Issued       # Ed25519 leaf (deterministic signatures: replayable flights)
    client: Issued          # clientAuth leaf


@cache
def pki() -> PKI:
    ca = LocalCA.create(directory=None)
    return PKI(ca, ca.issue_server(["localhost"]),
               ca.issue_server(["localhost"], key_type="ed25519"),
               ca.issue_client("alice"))


@cache
def rsa_server() -> Issued:
    """An RSA-2048 leaf for "localhost" from `pki`'s CA (RSA key transport needs one)."""
    return pki().ca.issue_server(["localhost"], key_type="rsa2048")


@cache
def other_pki() -> PKI:
    """A second, unrelated CA: its certificates are unknown to the first one's clients."""
    ca = LocalCA.create(directory=None, name="stranger CA")
    return PKI(ca, ca.issue_server(["localhost"]),
               ca.issue_server(["localhost"], key_type="ed25519"),
               ca.issue_client("mallory"))


def det_rng(seed: int = 1) -> Callable[[int], bytes]:
    """A deterministic rng: two connections built with the same seed say the same bytes."""
    r = random.Random(seed)
    return r.randbytes


class AcceptAll:
    """A verifier that accepts any chain (for tests about everything but X.509)."""

    def verify(self, leaf: Any, intermediates: list[Any], server_name: str | None = None,
               at: Any = None, usage: str = "server",
               ocsp_response: bytes | None = None) -> list[Any]:
        return [leaf, *intermediates]


# The hostile tests pick apart an x25519 handshake; tlskit's default puts the ML-KEM hybrid
# first, which test_inmemory.py and the interop suites cover.
CLASSIC_GROUPS = ["x25519", "secp256r1", "secp384r1"]


def client_config(**kw: Any) -> ClientConfig:
    kw.setdefault("trust_anchors", [pki().ca.root])
    kw.setdefault("groups", CLASSIC_GROUPS)
    return ClientConfig(**kw)


def server_config(*, ed25519: bool = False, **kw: Any) -> ServerConfig:
    leaf = pki().server_ed if ed25519 else pki().server
    kw.setdefault("certificate_chain", leaf.chain)
    kw.setdefault("private_key", leaf.private_key)
    kw.setdefault("groups", CLASSIC_GROUPS)
    return ServerConfig(**kw)


# --- message hooks ----------------------------------------------------------------------

def _apply(hook: Hook, raw: bytes) -> list[bytes]:
    out = hook(raw)
    if out is None:
        return []
    return [out] if isinstance(out, bytes | bytearray) else list(out)


def hook_sends(conn: Connection, hook: Hook) -> None:
    """Rewrite every handshake message `conn` sends from now on (before its transcript)."""
    hs = conn._hs
    original = type(hs).send

    def send(raw: bytes, *, transcript: bool = True) -> None:
        for new in _apply(hook, raw):
            original(hs, bytes(new), transcript=transcript)

    hs.send = send  # type: ignore[method-assign]


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
                server_name: str | None = "localhost") -> ClientConnection:
    """A client whose messages (including the first ClientHello) pass through `hook`."""
    config = config or client_config()
    if hook is None:
        return ClientConnection(config, server_name=server_name)
    original = ClientHandshake13.send

    def send(self: Any, raw: bytes, *, transcript: bool = True) -> None:
        for new in _apply(hook, raw):
            original(self, bytes(new), transcript=transcript)

    with mock.patch.object(ClientHandshake13, "send", send):
        client = ClientConnection(config, server_name=server_name)
    hook_sends(client, hook)
    return client


def make_server(config: ServerConfig | None = None, hook: Hook | None = None
                ) -> ServerConnection:
    server = ServerConnection(config or server_config())
    if hook is not None:
        hook_sends(server, hook)
    return server


# --- driving a handshake ----------------------------------------------------------------

def pump(a: Connection, b: Connection, limit: int = 20) -> list[Any]:
    """Shuttle bytes both ways until both are quiet; returns all events."""
    events: list[Any] = []
    for _ in range(limit):
        moved = False
        for src, dst in ((a, b), (b, a)):
            data = src.data_to_send()
            if data:
                moved = True
                events += dst.receive_data(data)
        if not moved:
            return events
    raise AssertionError("connections never went quiet")


def connected_pair(client_kw: dict[str, Any] | None = None,
                   server_kw: dict[str, Any] | None = None
                   ) -> tuple[ClientConnection, ServerConnection]:
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


def replay_client(seed: int = 7, **kw: Any) -> ClientConnection:
    kw.setdefault("rng", det_rng(seed))
    kw.setdefault("verifier", AcceptAll())
    return make_client(client_config(**kw))


def replay_server(seed: int = 8, **kw: Any) -> ServerConnection:
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

    secrets: dict[str, bytes] = {}
    c = replay_client(tracer=tracer, keylog=lambda label, _r, sec: secrets.__setitem__(label, sec))
    s = replay_server()

    ch = c.data_to_send()
    s.receive_data(ch)
    sf = s.data_to_send()
    c.receive_data(sf)
    cf = c.data_to_send()
    s.receive_data(cf)
    assert c.handshake_complete and s.handshake_complete
    return Flights(ch, sf, cf, seen, secrets)


# --- records ---------------------------------------------------------------------------

def record(ctype: int, body: bytes, version: int = 0x0303) -> bytes:
    return struct.pack(">BHH", ctype, version, len(body)) + body


def split_records(data: bytes) -> list[bytes]:
    """Whole records (header included); asserts `data` is exactly a sequence of them."""
    out, pos = [], 0
    while pos < len(data):
        assert len(data) - pos >= 5, "trailing partial record header"
        n = int.from_bytes(data[pos + 3:pos + 5], "big")
        assert len(data) - pos >= 5 + n, "trailing partial record"
        out.append(data[pos:pos + 5 + n])
        pos += 5 + n
    return out


COMPAT_CCS = b"\x14\x03\x03\x00\x01\x01"


def plain_alert(alert: int, level: int = 2) -> bytes:
    return record(ALERT, bytes((level, alert)))


def forge(sender: Connection, inner: bytes, *, outer_type: int = APPDATA,
          length: int | None = None) -> bytes:
    """A protected record under `sender`'s current write key with TLSInnerPlaintext
    `inner` (content || type || padding), consuming one sequence number."""
    prot = sender._records._write
    assert prot is not None, "sender has no write key yet"
    n = len(inner) + 16
    header = struct.pack(">BHH", outer_type, 0x0303, n if length is None else length)
    return header + prot.aead.encrypt(prot.next_nonce(), inner, header)


def forge_content(sender: Connection, ctype: int, content: bytes, padding: int = 0) -> bytes:
    return forge(sender, content + bytes((ctype,)) + bytes(padding))


SUITE = SUITES[CipherSuite.TLS_AES_128_GCM_SHA256]


def seal(secret: bytes, seq: int, inner: bytes, *, outer_type: int = APPDATA,
         length: int | None = None, suite: Suite = SUITE) -> bytes:
    """A protected record built from a traffic secret (keylog) and a sequence number."""
    keys = traffic_keys(suite, secret)
    nonce = (int.from_bytes(keys.iv, "big") ^ seq).to_bytes(12, "big")
    header = struct.pack(">BHH", outer_type, 0x0303,
                         len(inner) + 16 if length is None else length)
    return header + suite.aead(keys.key).encrypt(nonce, inner, header)


def open_record(conn: Connection, rec: bytes, seq: int) -> bytes:
    """Decrypt one record `conn` wrote with its current write key at sequence `seq`."""
    prot = conn._records._write
    assert prot is not None
    nonce = (prot.iv ^ seq).to_bytes(12, "big")
    return bytes(prot.aead.decrypt(nonce, rec[5:], rec[:5]))


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


def expect_alert(conn: Connection, data: bytes | Iterable[bytes] | Callable[[], Any],
                 alert: AD, *, peer: Connection | None = None,
                 leading: bytes | int = b"") -> TLSError:
    """Feed `data` (or call it) and check the failure is exactly `alert`:

    - a `TLSError` is raised (anything else propagates and fails the test);
    - ``exc.alert == alert`` (so never a leaked internal_error);
    - ``data_to_send()`` holds exactly `leading` and then that one alert record:
      plaintext ``15 03 03 00 02 02 XX`` before keys; after keys, one protected record
      which `peer` (if given) decrypts into ``AlertReceived(alert)``, else which opens
      under the connection's own write key to ``02 XX 15``;
    - later ``receive_data``/``send_data`` raise the very same error.

    `leading` is what may legitimately precede the alert: exact bytes, or a number of
    non-alert records (e.g. a ServerHello already sent when the error surfaced).
    """
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
    assert exc.alert == alert, f"expected {alert.name}, got {exc.alert.name}: {exc}"
    out = conn.data_to_send()
    if isinstance(leading, int):
        recs = split_records(out)
        assert len(recs) == leading + 1, f"expected {leading} records before the alert"
        assert all(r[0] != ALERT for r in recs[:leading])
        leading = b"".join(recs[:leading])
    assert out.startswith(leading), "unexpected bytes before the alert"
    out = out[len(leading):]
    if out.startswith(COMPAT_CCS) and len(out) > len(COMPAT_CCS):
        # RFC 8446 D.4: a client in middlebox-compatibility mode sends its one CCS just
        # before its first protected record -- which may be this alert.
        out = out[len(COMPAT_CCS):]
    if conn._records.write_protected:
        recs = split_records(out)
        assert len(recs) == 1, f"expected one alert record, got {len(recs)}"
        rec = recs[0]
        assert rec[:3] == b"\x17\x03\x03" and len(rec) == 5 + 2 + 1 + 16, rec.hex()
        if peer is not None:
            assert_peer_alert(peer, rec, alert)
        else:
            seq = conn._records._write.seq - 1  # type: ignore[union-attr]
            assert open_record(conn, rec, seq) == bytes((2, alert, ALERT))
    else:
        assert out == plain_alert(alert), f"alert record {out.hex()}"
    for again in (lambda: conn.receive_data(b"\x17\x03\x03\x00\x01x"),
                  lambda: conn.send_data(b"more")):
        with pytest.raises(TLSError) as later:
            again()
        assert later.value is exc
    assert conn.data_to_send() == b""
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
