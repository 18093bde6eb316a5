"""Tools for the TLS 1.2 hostile and interop tests.

A "scripted" 1.2 peer is a real tlskit peer whose handshake messages are rewritten on the
way out (`rewriting`), before that peer adds them to its own transcript, so that its
signatures and Finished stay consistent with what it sent; or a recorded flight whose
records and messages are cut apart and put back together (`messages_of`, `hs_record`).

Protected 1.2 records are built and opened from first principles (RFC 5246 6.2.3.3,
RFC 5288 3, RFC 7905 2) by `support.records.Keys12`, with keys derived from the key log
(``CLIENT_RANDOM``) the peers emit; the peers made here sit behind the re-sealing MITM of
`support.mitm`, which follows their sequence numbers from what they send.
"""

from __future__ import annotations

import contextlib
import itertools
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any
from unittest import mock

from tlskit import (
    AlertDescription,
    ClientConfig,
    ClientConnection,
    ServerConfig,
    ServerConnection,
    TLSError,
)
from tlskit.connection import Connection
from tlskit.handshake.common12 import Handshake12
from tlskit.wire import messages as m

from ..support.mitm import CLIENT, SERVER, Endpoint, endpoint, logging_keys
from ..support.pki import AcceptAll, det_rng, pki
from ..support.records import (
    ALERT,
    CCS,
    HS,
    KeyLog,
    Keys12,
    hs_record,
    keys12_from_log,
    plain_alert,
    record,
    split_records,
)
from .helpers import after_leading, assert_sticky, raise_failure

AD = AlertDescription

# Message types (RFC 5246 7.4, RFC 6066 8).
HELLO_REQUEST, CLIENT_HELLO, SERVER_HELLO, NEW_SESSION_TICKET = 0, 1, 2, 4
ENCRYPTED_EXTENSIONS, CERTIFICATE, SERVER_KEY_EXCHANGE, CERTIFICATE_REQUEST = 8, 11, 12, 13
SERVER_HELLO_DONE, CERTIFICATE_VERIFY, CLIENT_KEY_EXCHANGE, FINISHED = 14, 15, 16, 20

# Extension code points.
EXT_SERVER_NAME, EXT_SUPPORTED_GROUPS, EXT_EC_POINT_FORMATS = 0, 10, 11
EXT_SIGNATURE_ALGORITHMS, EXT_ALPN, EXT_EMS, EXT_RENEGOTIATION_INFO = 13, 16, 23, 0xFF01
EXT_SUPPORTED_VERSIONS, EXT_KEY_SHARE, EXT_RECORD_SIZE_LIMIT = 43, 51, 28

DOWNGRD_12, DOWNGRD_11 = b"DOWNGRD\x01", b"DOWNGRD\x00"


# --- peers ------------------------------------------------------------------------------

def client12(*, server_name: str | None = "localhost", **kw: Any) -> Endpoint:
    """A tlskit client speaking TLS 1.2 only (pass versions=... for the default 1.3+1.2),
    behind the MITM."""
    kw.setdefault("versions", ["TLSv1.2"])
    kw.setdefault("trust_anchors", [pki().ca.root])
    return endpoint(ClientConnection(logging_keys(ClientConfig(**kw)),
                                     server_name=server_name), CLIENT)


def server12(*, ed25519: bool = False, **kw: Any) -> Endpoint:
    """A tlskit server (1.3 and 1.2 unless versions=... says otherwise), EC P-256 leaf,
    behind the MITM."""
    leaf = pki().server_ed if ed25519 else pki().server
    kw.setdefault("certificate_chain", leaf.chain)
    kw.setdefault("private_key", leaf.private_key)
    return endpoint(ServerConnection(logging_keys(ServerConfig(**kw))), SERVER)


def client_auth_kw(**kw: Any) -> dict[str, Any]:
    kw.setdefault("client_auth", "required")
    kw.setdefault("client_trust_anchors", [pki().ca.root])
    return kw


# --- rewriting what a peer sends ----------------------------------------------------------

Hook12 = Callable[[Any, bytes], "bytes | list[bytes] | None"]


@contextlib.contextmanager
def rewriting(cls: type[Handshake12], hook: Hook12) -> Iterator[None]:
    """While active, every handshake message an instance of `cls` sends passes through
    ``hook(handshake, raw)`` first: return new bytes, a list of messages, or None to drop
    it. The sender's own transcript sees what the hook returned."""
    original = Handshake12.send

    def send(self: Any, raw: bytes, *, transcript: bool = True) -> None:
        out = hook(self, raw)
        if out is None:
            return
        for new in [out] if isinstance(out, bytes | bytearray) else out:
            original(self, bytes(new), transcript=transcript)

    with mock.patch.object(cls, "send", send):
        yield


def on_msg(msg_type: int, fn: Callable[[Any, bytes], Any]) -> Hook12:
    """A hook applying ``fn(handshake, raw)`` to one message type only."""
    def hook(hs: Any, raw: bytes) -> Any:
        return fn(hs, raw) if raw[0] == msg_type else raw
    return hook


def edit_server_hello(fn: Callable[[m.ServerHello], Any]) -> Hook12:
    def rewrite(_hs: Any, raw: bytes) -> bytes:
        sh = m.ServerHello.decode(memoryview(raw)[4:])
        fn(sh)
        return sh.encode()
    return on_msg(SERVER_HELLO, rewrite)


def edit_client_hello(fn: Callable[[m.ClientHello], Any]) -> Callable[[bytes], bytes]:
    """Rewrite a one-record plaintext ClientHello (as `data_to_send` returned it)."""
    def rewrite(rec: bytes) -> bytes:
        ch = m.ClientHello.decode(memoryview(rec)[9:])
        fn(ch)
        return hs_record(ch.encode())
    return rewrite


# --- records and messages -----------------------------------------------------------------


def message(msg_type: int, body: bytes = b"") -> bytes:
    return m.frame(msg_type, body)


def refragment(data: bytes, cuts: Callable[[int], list[int]]) -> bytes:
    """Re-cut the plaintext handshake records of one flight: those before its first
    change_cipher_spec (what follows a CCS is protected). Their content, as one stream,
    is cut at ``cuts(length)`` (positions within 1..length-1); other records stay as
    they are. RFC 5246 6.2.1: message boundaries need not match record boundaries."""
    recs = split_records(data)
    first_ccs = next((i for i, r in enumerate(recs) if r[0] == CCS), len(recs))
    head = [r for r in recs[:first_ccs] if r[0] == HS]
    if len(head) != first_ccs:  # an alert or data among them: leave the flight alone
        return data
    stream = b"".join(r[5:] for r in head)
    if not stream:
        return data
    bounds = [0, *sorted({c for c in cuts(len(stream)) if 0 < c < len(stream)}), len(stream)]
    pieces = [record(HS, stream[a:b]) for a, b in itertools.pairwise(bounds)]
    return b"".join(pieces + recs[first_ccs:])


# --- 1.2 record protection, independently of tlskit's record layer --------------------------


def keys12_of(conn: Endpoint) -> Keys12:
    """`conn`'s write key, derived from the key log (``CLIENT_RANDOM``) and the hellos."""
    return conn.flow.keys12()


def seal_as(conn: Endpoint, ctype: int, plain: bytes, *, explicit: bytes | None = None,
            version: int = 0x0303) -> bytes:
    """A record `conn` could have sent next: sealed under its write key at the next
    sequence number its peer expects, which the MITM then counts (so `conn`'s own later
    records stay in step); `version` is its header's (and additional data's)."""
    return conn.flow.inject12(ctype, plain, explicit=explicit, version=version)


# --- the exact-alert assertion ----------------------------------------------------------------

def expect_alert12(conn: Connection, data: bytes | Iterable[bytes] | Callable[[], Any],
                   alert: AD, *, leading: bytes | int = b"") -> TLSError:
    """Feed `data` (or call it) and check the failure is exactly `alert`:

    - a `TLSError` and nothing else escapes (not the peer's AlertReceived, not an
      internal_error wrapping some other exception);
    - ``exc.alert == alert``;
    - ``data_to_send()`` holds `leading` (bytes, or a number of non-alert records) and
      then exactly one alert record: ``15 03 03 00 02 02 XX`` before our write key is on,
      afterwards one 1.2-protected record of type 21 that opens under our write key from
      the key log (explicit nonce as sent, seq = the one it used) to ``02 XX``;
    - every later ``receive_data``/``send_data`` raises the very same error, and nothing
      more is queued.
    """
    exc = raise_failure(conn, data)
    assert exc.alert == alert, f"expected {alert.name}, got {exc.alert.name}: {exc!r}"
    out = after_leading(conn.data_to_send(), leading)
    flow = conn.flow if isinstance(conn, Endpoint) else None
    if flow is not None and flow.protected:
        recs = split_records(out)
        assert len(recs) == 1, f"expected one alert record, got {len(recs)}"
        keys = keys12_of(conn)
        rec, seen = recs[0], flow.last[-1]
        assert rec[:3] == b"\x15\x03\x03" and len(rec) == 5 + 2 + keys.overhead, rec.hex()
        assert seen.protected and seen.raw is None, "the alert opens under no logged key"
        assert (seen.ctype, seen.content) == (ALERT, bytes((2, alert)))
    else:
        assert out == plain_alert(alert), f"alert record {out.hex()}"
    assert_sticky(conn, exc)
    return exc


# --- driving a 1.2 handshake ------------------------------------------------------------------


@dataclass
class Run12:
    """One live 1.2 handshake, stopped flight by flight."""

    client: Endpoint
    server: Endpoint
    client_hello: bytes = b""
    server_flight: bytes = b""     # ServerHello ... ServerHelloDone
    client_flight: bytes = b""     # [Certificate] ClientKeyExchange [CertificateVerify] CCS Fin
    server_final: bytes = b""      # CCS Finished

    def to_server_flight(self) -> Run12:
        self.client_hello = self.client.data_to_send()
        self.server.receive_data(self.client_hello)
        self.server_flight = self.server.data_to_send()
        return self

    def to_client_flight(self) -> Run12:
        self.to_server_flight()
        self.client.receive_data(self.server_flight)
        self.client_flight = self.client.data_to_send()
        return self

    def to_server_final(self) -> Run12:
        self.to_client_flight()
        self.server.receive_data(self.client_flight)
        self.server_final = self.server.data_to_send()
        return self

    def complete(self) -> Run12:
        self.to_server_final()
        self.client.receive_data(self.server_final)
        assert self.client.handshake_complete and self.server.handshake_complete
        assert self.client.version == self.server.version == "TLSv1.2"
        return self


def run12(client_kw: dict[str, Any] | None = None,
          server_kw: dict[str, Any] | None = None) -> Run12:
    return Run12(client12(**(client_kw or {})), server12(**(server_kw or {})))


# --- deterministic recording (replayable byte for byte) --------------------------------------

def replay_client12(seed: int = 11, **kw: Any) -> ClientConnection:
    kw.setdefault("rng", det_rng(seed))
    kw.setdefault("verifier", AcceptAll())
    return client12(**kw)


def replay_server12(seed: int = 12, **kw: Any) -> ServerConnection:
    kw.setdefault("rng", det_rng(seed))
    return server12(ed25519=True, **kw)


@dataclass
class Recording12:
    client_hello: bytes
    server_flight: bytes
    client_flight: bytes
    server_final: bytes
    server_keys: Keys12   # the server's write key (Finished is its seq 0)
    client_keys: Keys12   # the client's write key (Finished is its seq 0)


@cache
def recorded12() -> Recording12:
    """A 1.2 handshake between `replay_client12()` and `replay_server12()` (Ed25519 leaf:
    deterministic signatures), so fresh replay peers accept the recorded flights."""
    log = KeyLog()
    run = Run12(replay_client12(keylog=log), replay_server12()).complete()
    suite = run.client.handshake_complete.cipher_suite
    keys = [keys12_from_log(log, suite, run.client_hello, run.server_flight, client=client)
            for client in (False, True)]
    return Recording12(run.client_hello, run.server_flight, run.client_flight,
                       run.server_final, *keys)


# --- external peers (GnuTLS) ------------------------------------------------------------------


def random_cuts(rng: random.Random, max_pieces: int = 12) -> Callable[[int], list[int]]:
    def cuts(n: int) -> list[int]:
        return [rng.randrange(1, n) for _ in range(rng.randrange(max_pieces))] if n > 1 else []
    return cuts
