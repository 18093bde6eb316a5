"""A re-sealing man-in-the-middle between two in-memory tlskit connections.

It holds no engine state: the keys come from the key log both endpoints emit (their
configs' public ``keylog`` callback, teed into `KEYS` by `logging_keys`), and protection
is computed by the independent test-side code in `records` (the TLS 1.3 key schedule, the
TLS 1.2 PRF). Each record a side sends is opened, shown to the test's hooks (which may
drop, replace, add or hold back handshake messages or whole records), and sealed again
under the same key with the sequence number the receiver expects, so the receiver sees a
correctly protected record carrying whatever the test chose. `inject` forges a record a
side could have sent next; it consumes a sequence number the MITM accounts for, so the
sender's later records still arrive in step.

Which key protects a record is followed from the messages themselves (ServerHello, the
early_data extension, EndOfEarlyData, Finished, KeyUpdate, change_cipher_spec in TLS 1.2)
and, as a fallback, by trying the next keys of the schedule (an AEAD never opens under a
wrong key). A record that opens under no logged key passes through untouched.

Usage: ``c, s = Mitm.pair(make_client(...), make_server(...))`` gives two `Endpoint`
proxies; ``c.data_to_send()`` is what the server receives through the MITM, so existing
code that shuttles bytes (`pump`, `flights`) runs through it unchanged.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag

from .records import (
    APPDATA,
    CCS,
    HS,
    SUITES13,
    Keys,
    Keys12,
    record,
    split_records,
)

CLIENT, SERVER = "client", "server"
KEEP_RANDOMS = 20_000    # connections whose key-log lines `KEYS` keeps
HRR_RANDOM = hashlib.sha256(b"HelloRetryRequest").digest()   # RFC 8446 4.1.3
EXT_EARLY_DATA, EXT_SUPPORTED_VERSIONS = 42, 43
CLIENT_HELLO, SERVER_HELLO, END_OF_EARLY_DATA = 1, 2, 5
ENCRYPTED_EXTENSIONS, FINISHED, KEY_UPDATE = 8, 20, 24


# --- key logs, by client random -------------------------------------------------------------

class KeyBook:
    """Key-log lines of any number of connections, kept by client random, with which side
    logged them. The same random may recur (seeded replays): every secret is kept, newest
    first when asked."""

    def __init__(self) -> None:
        self.lines: dict[bytes, list[tuple[str, bytes, str]]] = {}

    def add(self, label: str, client_random: bytes, secret: bytes, side: str) -> None:
        if len(self.lines) >= KEEP_RANDOMS:   # a long session: forget the oldest half
            for old in list(self.lines)[:KEEP_RANDOMS // 2]:
                del self.lines[old]
        self.lines.setdefault(bytes(client_random), []).append((label, bytes(secret), side))

    def secrets(self, client_random: bytes, label: str, side: str | None = None
                ) -> list[bytes]:
        """Every distinct secret logged under ``label`` for this random (by ``side`` only,
        if given), newest first."""
        found: list[bytes] = []
        for name, secret, who in reversed(self.lines.get(client_random, [])):
            if name == label and secret not in found and side in (None, who):
                found.append(secret)
        return found


KEYS = KeyBook()


@dataclass(frozen=True)
class SideLog:
    """The ``keylog`` callback of one side's config: its lines go to `KEYS`, then to the
    test's own callback (if any)."""

    side: str
    also: Callable[[str, bytes, bytes], Any] | None = None

    def __call__(self, label: str, client_random: bytes, secret: bytes) -> None:
        KEYS.add(label, client_random, secret, self.side)
        if self.also is not None:
            self.also(label, client_random, secret)


_LOGGING: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def logging_keys(config: Any) -> Any:
    """``config`` (a Client- or ServerConfig) whose key log also reaches `KEYS`: a copy
    made once per config, so connections sharing a config (ticket keys, session caches)
    still share one."""
    if isinstance(config.keylog, SideLog):
        return config
    if config not in _LOGGING:
        side = SERVER if type(config).__name__.startswith("Server") else CLIENT
        _LOGGING[config] = config.replace(keylog=SideLog(side, config.keylog))
    return _LOGGING[config]


# --- what crossed the wire ------------------------------------------------------------------

@dataclass
class Seen:
    """One record as its sender meant it: content type (the inner type under TLS 1.3
    protection), content, and whether it was protected. ``padding`` is TLS 1.3 inner
    padding; ``version`` the plaintext header's version."""

    ctype: int
    content: bytes
    protected: bool
    padding: int = 0
    version: int = 0x0303
    raw: bytes | None = None     # a record nothing could open: forwarded as it was


def frame_messages(data: bytes) -> tuple[list[bytes], bytes]:
    """The complete handshake messages at the start of ``data``, and the rest."""
    out, pos = [], 0
    while len(data) - pos >= 4:
        end = pos + 4 + int.from_bytes(data[pos + 1:pos + 4], "big")
        if end > len(data):
            break
        out.append(data[pos:end])
        pos = end
    return out, data[pos:]


def _vector(body: bytes, pos: int, size: int) -> tuple[bytes, int]:
    n = int.from_bytes(body[pos:pos + size], "big")
    return body[pos + size:pos + size + n], pos + size + n


def extensions(blob: bytes) -> dict[int, bytes]:
    out, pos = {}, 0
    while pos + 4 <= len(blob):
        kind = int.from_bytes(blob[pos:pos + 2], "big")
        data, pos = _vector(blob, pos + 2, 2)
        out[kind] = data
    return out


def hello_fields(msg: bytes) -> tuple[bytes, int, dict[int, bytes]]:
    """(random, cipher suite or 0, extensions) of a ClientHello or ServerHello."""
    body = msg[4:]
    random = body[2:34]
    _sid, pos = _vector(body, 34, 1)
    if msg[0] == CLIENT_HELLO:
        suite = 0
        _suites, pos = _vector(body, pos, 2)
        _comp, pos = _vector(body, pos, 1)
    else:
        suite = int.from_bytes(body[pos:pos + 2], "big")
        pos += 3
    exts, _ = _vector(body, pos, 2)
    return random, suite, extensions(exts)


# --- one direction's protection ---------------------------------------------------------------

class Protection:
    """A write key with its own sequence number: TLS 1.3 (`Keys`) or TLS 1.2 (`Keys12`)."""

    def __init__(self, label: str, keys13: Keys | None = None,
                 keys12: Keys12 | None = None) -> None:
        self.label, self.k13, self.k12, self.seq12 = label, keys13, keys12, 0

    def open(self, rec: bytes) -> Seen | None:
        """The record's content under this key at the current sequence number (which then
        advances), or None if it does not open."""
        if self.k13 is not None:
            seq = self.k13.seq
            try:
                inner = self.k13.open(rec)
            except InvalidTag:
                self.k13.seq = seq
                return None
            body = inner.rstrip(b"\x00")
            padding = len(inner) - len(body)
            if not body:
                return Seen(0, b"", True, padding)
            return Seen(body[-1], body[:-1], True, padding)
        assert self.k12 is not None
        try:
            ctype, plain = self.k12.open(self.seq12, rec)
        except (InvalidTag, ValueError):
            return None
        self.seq12 += 1
        return Seen(ctype, plain, True)

    def seal(self, seen: Seen, *, outer: int = APPDATA, length: int | None = None) -> bytes:
        """The next record carrying ``seen`` (a TLS 1.3 inner type 0 means: no type byte,
        all padding, as the sender sent it)."""
        if self.k13 is not None:
            inner = seen.content + (bytes((seen.ctype,)) if seen.ctype else b"")
            return self.k13.seal(inner + bytes(seen.padding), outer=outer, length=length)
        assert self.k12 is not None
        out = self.k12.seal(self.seq12, seen.ctype, seen.content)
        self.seq12 += 1
        return out

    def seal_inner(self, inner: bytes, *, outer: int = APPDATA, length: int | None = None,
                   version: int = 0x0303) -> bytes:
        """TLS 1.3: a record with exactly this TLSInnerPlaintext (and header fields)."""
        assert self.k13 is not None, "a raw TLSInnerPlaintext is TLS 1.3 only"
        return self.k13.seal(inner, outer=outer, length=length, version=version)

    def seal12(self, ctype: int, plain: bytes, *, explicit: bytes | None = None,
               version: int = 0x0303) -> bytes:
        assert self.k12 is not None, "TLS 1.2 only"
        out = self.k12.seal(self.seq12, ctype, plain, explicit=explicit, version=version)
        self.seq12 += 1
        return out


MessageHook = Callable[[bytes], "bytes | list[bytes] | None"]
RecordHook = Callable[[Seen], "Seen | list[Seen] | None"]


def _listed(out: Any) -> list[Any]:
    if out is None:
        return []
    return list(out) if isinstance(out, list | tuple) else [out]


@dataclass
class Flow:
    """What one side (``sender``) writes, on its way to the other side."""

    mitm: Mitm
    sender: str
    phase: str = "plain"           # which key the sender writes under: plain, early, hs, app
    generation: int = 0            # TLS 1.3 application key generation (KeyUpdates)
    opener: Protection | None = None   # in step with the sender
    sealer: Protection | None = None   # in step with the receiver
    stream: bytes = b""            # handshake bytes not yet a whole message (the sender's)
    message_hooks: list[MessageHook] = field(default_factory=list)
    record_hooks: list[RecordHook] = field(default_factory=list)
    last: list[Seen] = field(default_factory=list)   # the records of the last `relay`
    pinned: bool = False           # a record opened under ``opener``: it is the one

    # -- the key schedule, followed -------------------------------------------------------

    def _label(self, phase: str) -> str:
        side = "CLIENT" if self.sender == CLIENT else "SERVER"
        return {"early": "CLIENT_EARLY_TRAFFIC_SECRET", "hs": f"{side}_HANDSHAKE_TRAFFIC_SECRET",
                "app": f"{side}_TRAFFIC_SECRET_0"}[phase]

    def _suites(self, phase: str, secret: bytes) -> list[int]:
        """The TLS 1.3 suites a secret may key: the negotiated one, or before the
        ServerHello (0-RTT: the ticket's suite) every suite of that hash size."""
        if self.mitm.suite in SUITES13 and phase != "early":
            return [self.mitm.suite]
        return [s for s, (_a, _k, h, _t) in SUITES13.items()
                if hashlib.new(h).digest_size == len(secret)]

    def _candidates(self, phase: str, generation: int = 0) -> list[Protection]:
        """Every key the sender may write under in ``phase``, fresh (sequence number 0)."""
        m = self.mitm
        if phase == "tls12":
            return [Protection("tls12", keys12=Keys12.from_master(
                m.suite, master, m.client_random, m.server_random,
                client=self.sender == CLIENT))
                for master in KEYS.secrets(m.client_random, "CLIENT_RANDOM")]
        label = self._label(phase)
        out = []
        for secret in KEYS.secrets(m.client_random, label):
            for suite in self._suites(phase, secret):
                keys = Keys(suite, secret)
                for _ in range(generation):
                    keys = keys.updated()
                out.append(Protection(f"{label}/{generation}", keys))
        return out

    def enter(self, phase: str, generation: int = 0) -> None:
        """The sender writes under a new key from its next record on."""
        self.phase, self.generation = phase, generation
        self.opener = self.sealer = None
        self.pinned = False
        self._resolve()

    def _resolve(self) -> None:
        """Pick the key for the current phase once its secret is in the log."""
        if self.opener is None and self.phase != "plain":
            found = self._candidates(self.phase, self.generation)
            if found:
                self._adopt(found[0], pinned=len(found) == 1)

    def _adopt(self, prot: Protection, *, pinned: bool) -> None:
        """``prot`` (fresh, or having opened the first record) is the sender's key."""
        self.opener, self.pinned = prot, pinned
        if prot.k13 is not None:
            self.sealer = Protection(prot.label, Keys(prot.k13.suite, prot.k13.secret))
        else:
            self.sealer = Protection(prot.label, keys12=prot.k12)

    def _next_phases(self) -> list[tuple[str, int]]:
        order = {"plain": [("early", 0), ("hs", 0)], "early": [("hs", 0)],
                 "hs": [("app", 0)], "app": [("app", self.generation + 1)]}
        return order.get(self.phase, [])

    def open(self, rec: bytes) -> Seen | None:
        """Open a protected record: under the current key; while nothing opened under it
        yet, under any logged secret of its label; else under the next key of the TLS 1.3
        schedule (the messages did not tell, e.g. a declined 0-RTT)."""
        self._resolve()
        if self.opener is not None:
            seen = self.opener.open(rec)
            if seen is not None:
                self.pinned = True
                return seen
        tries = [] if self.pinned or self.phase == "plain" else [(self.phase, self.generation)]
        if self.mitm.version != "TLSv1.2":
            tries += self._next_phases()
        for phase, generation in tries:
            for prot in self._candidates(phase, generation):
                seen = prot.open(rec)
                if seen is not None:
                    self.phase, self.generation = phase, generation
                    self._adopt(prot, pinned=True)   # fresh: the receiver's count is 0 too
                    return seen
        return None

    # -- handshake messages ---------------------------------------------------------------

    def _track(self, msg: bytes, after: list[Callable[[], None]]) -> None:
        """Follow the key schedule from one message the sender wrote; key changes that
        apply from the next record on go to ``after``."""
        m, kind = self.mitm, msg[0]
        if kind == CLIENT_HELLO and self.sender == CLIENT:
            random, _suite, exts = hello_fields(msg)
            m.client_random = random
            if EXT_EARLY_DATA in exts and KEYS.secrets(random, "CLIENT_EARLY_TRAFFIC_SECRET"):
                after.append(lambda: self.enter("early"))
        elif kind == SERVER_HELLO and self.sender == SERVER:
            random, suite, exts = hello_fields(msg)
            if random == HRR_RANDOM:
                m.client_flow.enter("plain")
                return
            m.server_random, m.suite = random, suite
            m.version = "TLSv1.3" if EXT_SUPPORTED_VERSIONS in exts else "TLSv1.2"
            if m.version == "TLSv1.3":
                after.append(lambda: self.enter("hs"))
            elif m.client_flow.phase == "early":
                m.client_flow.enter("plain")   # no 0-RTT key in TLS 1.2
        elif m.version == "TLSv1.3":
            self._track13(kind, msg, after)

    def _track13(self, kind: int, msg: bytes, after: list[Callable[[], None]]) -> None:
        client = self.mitm.client_flow
        if kind == ENCRYPTED_EXTENSIONS and client.phase == "early":
            if EXT_EARLY_DATA not in extensions(msg[6:]):
                client.enter("hs")      # declined: the client's next records are handshake
        elif kind == END_OF_EARLY_DATA:
            after.append(lambda: self.enter("hs"))
        elif kind == FINISHED and self.phase == "hs":
            after.append(lambda: self.enter("app"))
        elif kind == KEY_UPDATE and self.phase == "app":
            after.append(lambda: self.enter("app", self.generation + 1))

    def _messages(self, seen: Seen, after: list[Callable[[], None]]) -> list[Seen]:
        """Track a handshake record's messages; with message hooks, rebuild its content."""
        whole, self.stream = frame_messages(self.stream + seen.content)
        for msg in whole:
            self._track(msg, after)
        if not self.message_hooks:
            return [seen]
        out: list[bytes] = []
        for msg in whole:
            msgs = [msg]
            for hook in self.message_hooks:
                msgs = [new for one in msgs for new in _listed(hook(one))]
            out += msgs
        if not out:
            return []
        return [Seen(HS, b"".join(out), seen.protected, seen.padding, seen.version)]

    # -- relaying ---------------------------------------------------------------------------

    def _one(self, rec: bytes) -> tuple[list[Seen], list[Callable[[], None]]]:
        after: list[Callable[[], None]] = []
        if self.phase == "tls12" or (rec[0] == APPDATA and self.mitm.version != "TLSv1.2"):
            seen = self.open(rec)
            if seen is None:    # nothing logged opens it: forwarded as it is
                return [Seen(rec[0], rec[5:], self.phase != "plain", raw=rec)], after
        else:
            seen = Seen(rec[0], rec[5:], False, version=int.from_bytes(rec[1:3], "big"))
        if seen.ctype == HS:
            out = self._messages(seen, after)
        else:
            out = [seen]
        if seen.ctype == CCS and not seen.protected and self.mitm.version == "TLSv1.2":
            after.append(lambda: self.enter("tls12"))
        for hook in self.record_hooks:
            out = [new for one in out for new in _listed(hook(one))]
        return out, after

    def emit(self, seen: Seen) -> bytes:
        """The bytes the receiver gets for ``seen``."""
        if seen.raw is not None:
            return seen.raw
        if seen.protected:
            assert self.sealer is not None, f"no {self.sender} write key logged"
            return self.sealer.seal(seen)
        return record(seen.ctype, seen.content, seen.version)

    def relay(self, data: bytes) -> bytes:
        """What the sender wrote, as the receiver is to get it (``last`` keeps the records
        of the latest non-empty call)."""
        if not data:
            return b""
        out, self.last = [], []
        for rec in split_records(data, whole=True):
            seen_list, after = self._one(rec)
            for seen in seen_list:
                out.append(self.emit(seen))
                self.last.append(seen)
            for step in after:
                step()
        return b"".join(out)

    # -- forging --------------------------------------------------------------------------

    @property
    def protected(self) -> bool:
        """Whether the sender writes protected records now (as far as the log tells)."""
        self._resolve()
        return self.sealer is not None and self.phase != "plain"

    def inject(self, ctype: int, content: bytes, padding: int = 0) -> bytes:
        """A record the sender could send next (protected if the sender's writes are)."""
        self._resolve()
        seen = Seen(ctype, content, self.protected, padding)
        return self.emit(seen)

    def inject_inner(self, inner: bytes, *, outer: int = APPDATA, length: int | None = None,
                     version: int = 0x0303) -> bytes:
        """TLS 1.3: the next protected record with exactly this TLSInnerPlaintext."""
        self._resolve()
        assert self.sealer is not None, f"no {self.sender} write key yet"
        return self.sealer.seal_inner(inner, outer=outer, length=length, version=version)

    def inject12(self, ctype: int, plain: bytes, *, explicit: bytes | None = None,
                 version: int = 0x0303) -> bytes:
        """TLS 1.2: the next protected record (explicit nonce ``explicit`` if AES-GCM;
        ``version`` in its header and additional data, as a sender would put it)."""
        self._resolve()
        assert self.sealer is not None, f"no {self.sender} write key yet"
        return self.sealer.seal12(ctype, plain, explicit=explicit, version=version)

    def keys12(self) -> Keys12:
        """TLS 1.2: the sender's write key (from the key log)."""
        assert self.sealer is not None and self.sealer.k12 is not None
        return self.sealer.k12

    def snapshot(self) -> Protection:
        """A copy of the sender's current write key at the receiver's next sequence
        number, to forge with after the sender has moved on (a stale key)."""
        self._resolve()
        assert self.sealer is not None and self.sealer.k13 is not None, "TLS 1.3 only"
        keys = self.sealer.k13
        return Protection(self.sealer.label, Keys(keys.suite, keys.secret, keys.seq))

    def skip(self, n: int = 1) -> None:
        """The receiver got ``n`` records under this key from elsewhere (a test's own)."""
        assert self.sealer is not None
        for _ in range(n):
            if self.sealer.k13 is not None:
                self.sealer.k13.seq += 1
            else:
                self.sealer.seq12 += 1


class Mitm:
    """The man in the middle between one client and one server."""

    def __init__(self) -> None:
        self.client_random = b""
        self.server_random = b""
        self.suite = 0
        self.version: str | None = None
        self.client_flow = Flow(self, CLIENT)
        self.server_flow = Flow(self, SERVER)
        self.server_joined = False

    @classmethod
    def pair(cls, client: Any, server: Any) -> tuple[Endpoint, Endpoint]:
        """Proxies for ``client`` and ``server`` whose output passes through one MITM.
        Their configs must log keys to `KEYS` (`logging_keys`)."""
        mitm = cls()
        mitm.server_joined = True
        return Endpoint(client, CLIENT, mitm), Endpoint(server, SERVER, mitm)

    def flow(self, side: str) -> Flow:
        return self.client_flow if side == CLIENT else self.server_flow


# The MITM of each client random a client endpoint sent, for the server endpoint that
# receives that ClientHello to join.
_BY_RANDOM: weakref.WeakValueDictionary[bytes, Mitm] = weakref.WeakValueDictionary()


def first_client_hello(data: bytes) -> bytes | None:
    """The ClientHello at the start of ``data`` (plaintext records), once it is whole;
    b"" if ``data`` does not start with one."""
    stream = b""
    for rec in split_records(data, whole=False):
        if rec[0] != HS:
            break
        stream += rec[5:]
        if len(stream) >= 4:
            end = 4 + int.from_bytes(stream[1:4], "big")
            if stream[0] != CLIENT_HELLO:
                return b""
            if len(stream) >= end:
                return stream[:end]
    if data and (data[0] != HS or len(data) > 1 << 17):
        return b""
    return None


class Endpoint:
    """A connection seen through a MITM: everything is the connection's own, except that
    ``data_to_send`` returns what the MITM forwards to the other side.

    Made alone (`endpoint`), a client endpoint starts a MITM with its first ClientHello
    and a server endpoint joins the MITM of the ClientHello it receives (or starts one),
    so two endpoints that talk share one MITM without being introduced."""

    def __init__(self, conn: Any, side: str, mitm: Mitm | None = None) -> None:
        # hooks on what this side sends: the flow of whichever MITM it ends up in uses them
        self.__dict__.update(conn=conn, side=side, mitm=None, _heard=b"",
                             message_hooks=[], record_hooks=[])
        if mitm is not None:
            self._attach(mitm)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)

    def _attach(self, mitm: Mitm) -> None:
        flow = mitm.flow(self.side)
        flow.message_hooks, flow.record_hooks = self.message_hooks, self.record_hooks
        self.__dict__.update(mitm=mitm, _heard=b"")

    @property
    def flow(self) -> Flow:
        if self.mitm is None:
            self._attach(Mitm())
        assert self.mitm is not None
        return self.mitm.flow(self.side)

    def data_to_send(self) -> bytes:
        out = self.flow.relay(self.conn.data_to_send())
        mitm = self.mitm
        if self.side == CLIENT and mitm is not None and mitm.client_random \
                and not mitm.server_joined:
            _BY_RANDOM[mitm.client_random] = mitm
        return out

    def receive_data(self, data: Any) -> Any:
        if self.side == SERVER and self.mitm is None:
            self._join(bytes(data))
        return self.conn.receive_data(data)

    def _join(self, data: bytes) -> None:
        heard = self._heard + data
        self.__dict__["_heard"] = heard
        hello = first_client_hello(heard)
        if hello is None:
            return
        if not hello:        # no ClientHello will come: stop listening
            self._attach(Mitm())
            return
        random = hello_fields(hello)[0]
        mitm = _BY_RANDOM.get(random)
        if mitm is None or mitm.server_joined:
            mitm = Mitm()      # bytes from no client endpoint: learn the hello from them
            mitm.client_flow.relay(b"".join(r for r in split_records(heard, whole=False)
                                            if r[0] == HS))
        mitm.server_joined = True
        self._attach(mitm)

    def __repr__(self) -> str:
        return f"Endpoint({self.conn!r})"


def endpoint(conn: Any, side: str) -> Endpoint:
    """``conn`` (configured with `logging_keys`) behind a MITM it shares with its peer."""
    return Endpoint(conn, side)


def client_endpoint(config: Any, server_name: str | None = None, **kw: Any) -> Endpoint:
    """A `ClientConnection` logging its keys, behind a MITM."""
    from tlskit import ClientConnection
    return Endpoint(ClientConnection(logging_keys(config), server_name=server_name, **kw),
                    CLIENT)


def server_endpoint(config: Any) -> Endpoint:
    """A `ServerConnection` logging its keys, behind a MITM."""
    from tlskit import ServerConnection
    return Endpoint(ServerConnection(logging_keys(config)), SERVER)
