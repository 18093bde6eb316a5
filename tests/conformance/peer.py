"""A scriptable TLS 1.3 client for conformance tests against `ServerConnection`.

The conditions come from the published tlsfuzzer scripts (what they send, what alert
they expect back); the code is ours. Messages are built with tlskit's codec
(`tlskit.wire`) or by hand, so any byte can be wrong on purpose, but everything that
decides whether the server is right is computed here independently of tlskit: the key
schedule (RFC 8446 7.1), record protection (5.2), the server's Finished and its
CertificateVerify signature.

A `Peer` feeds bytes to an in-memory server and decodes everything the server writes
back into ``peer.events``:

    ("server_hello", ServerHello)   ("hrr", ServerHello)     ("ccs", payload)
    ("hs", type, body)              ("finished",)            ("nst", NewSessionTicket)
    ("key_update", request)         ("data", bytes)          ("alert", level, desc)
    ("hs12", type, body)            (TLS 1.2 messages after a TLS 1.2 ServerHello)

The server plays an echo application (``tlskit serve --echo``): data it receives is
sent back, which is what the tlsfuzzer "sanity" conversations need.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa

from tlskit import DataReceived, ServerConfig, ServerConnection, TLSError
from tlskit.ca import Issued, LocalCA
from tlskit.crypto import KeyShare, new_key_share
from tlskit.errors import AlertReceived
from tlskit.wire import extensions as ext
from tlskit.wire import messages as m

from ..support.records import (
    ALERT,
    APPDATA,
    CCS,
    FATAL,
    HS,
    SUITES13,
    WARNING,
    Keys,
    derive,
    expand_label,
    extract,
    finished_mac,
    hash_of,
    inner,
    record,
    split_records,
)

# --- code points (IANA), spelled out so the tests read like the scripts --------------


AES128, AES256, CHACHA = 0x1301, 0x1302, 0x1303
CCM, CCM8 = 0x1304, 0x1305
EMPTY_RENEGOTIATION_INFO_SCSV = 0x00FF
FALLBACK_SCSV = 0x5600
ECDHE_RSA_AES128_GCM = 0xC02F
ECDHE_ECDSA_AES128_GCM = 0xC02B
RSA_AES128_CBC = 0x002F

SECP256R1, SECP384R1, SECP521R1, X25519, X448 = 0x0017, 0x0018, 0x0019, 0x001D, 0x001E
FFDHE2048, FFDHE3072, FFDHE4096 = 0x0100, 0x0101, 0x0102

RSA_PSS_RSAE_SHA256, RSA_PSS_RSAE_SHA384, RSA_PSS_RSAE_SHA512 = 0x0804, 0x0805, 0x0806
RSA_PSS_PSS_SHA256, RSA_PSS_PSS_SHA384, RSA_PSS_PSS_SHA512 = 0x0809, 0x080A, 0x080B
RSA_PKCS1_SHA1, RSA_PKCS1_SHA256, RSA_PKCS1_SHA384, RSA_PKCS1_SHA512 = (
    0x0201, 0x0401, 0x0501, 0x0601)
ECDSA_SECP256R1_SHA256, ECDSA_SECP384R1_SHA384 = 0x0403, 0x0503
ED25519, ED448 = 0x0807, 0x0808
# tlsfuzzer's RSA_SIG_ALL: PKCS#1 with every hash (sha512..md5), then the PSS schemes.
RSA_SIG_ALL = [0x0601, 0x0501, 0x0401, 0x0301, 0x0201, 0x0101,
               0x0804, 0x0805, 0x0806, 0x0809, 0x080A, 0x080B]

E_SERVER_NAME, E_SUPPORTED_GROUPS, E_EC_POINT_FORMATS, E_SIG_ALGS = 0, 10, 11, 13
E_PADDING, E_EMS, E_RECORD_SIZE_LIMIT, E_SESSION_TICKET = 21, 23, 28, 35
E_PSK, E_EARLY_DATA, E_SUPPORTED_VERSIONS, E_COOKIE = 41, 42, 43, 44
E_PSK_MODES, E_SIG_ALGS_CERT, E_KEY_SHARE = 45, 50, 51
E_RENEGOTIATION_INFO = 0xFF01
PSK_KE, PSK_DHE_KE = 0, 1

HRR_RANDOM = m.HRR_RANDOM
DOWNGRD_TLS12 = b"DOWNGRD\x01"


# --- the key schedule (RFC 8446 7.1), written out independently -----------------------


# --- PKI -------------------------------------------------------------------------------

@dataclass
class TestPKI:
    ca: LocalCA
    rsa: Issued        # RSA-2048 leaf for localhost (tlsfuzzer's scripts assume RSA)
    ecdsa: Issued      # P-256 leaf
    client_rsa: Issued
    client_ec: Issued


@cache
def pki() -> TestPKI:
    ca = LocalCA.create(directory=None, name="conformance CA")
    return TestPKI(ca, ca.issue_server(["localhost"], key_type="rsa2048"),
                   ca.issue_server(["localhost"], key_type="ec256"),
                   ca.issue_client("alice", key_type="rsa2048"),
                   ca.issue_client("bob", key_type="ec256"))


def server_config(*, key: str = "rsa", **kw: Any) -> ServerConfig:
    leaf = pki().rsa if key == "rsa" else pki().ecdsa
    kw.setdefault("certificate_chain", leaf.chain)
    kw.setdefault("private_key", leaf.private_key)
    return ServerConfig(**kw)


# --- ClientHello construction ---------------------------------------------------------

Share = int | tuple[int, bytes]


@dataclass
class Hello:
    """A ClientHello whose extensions are an ordered list (duplicates allowed)."""

    suites: list[int]
    exts: list[tuple[int, bytes]]
    random: bytes = field(default_factory=lambda: os.urandom(32))
    session_id: bytes = field(default_factory=lambda: os.urandom(32))
    legacy_version: int = 0x0303
    compression: bytes = b"\x00"
    shares: dict[int, KeyShare] = field(default_factory=dict)

    def encode(self) -> bytes:
        body = bytearray(self.legacy_version.to_bytes(2, "big"))
        body += self.random
        body += bytes((len(self.session_id),)) + self.session_id
        suites = b"".join(s.to_bytes(2, "big") for s in self.suites)
        body += len(suites).to_bytes(2, "big") + suites
        body += bytes((len(self.compression),)) + self.compression
        if self.exts is not None:
            block = b"".join(t.to_bytes(2, "big") + len(b).to_bytes(2, "big") + b
                             for t, b in self.exts)
            body += len(block).to_bytes(2, "big") + block
        return m.frame(1, body)

    def get(self, etype: int) -> bytes | None:
        return next((b for t, b in self.exts if t == etype), None)

    def set(self, etype: int, body: bytes) -> Hello:
        """Replace the extension in place, or append it."""
        for i, (t, _) in enumerate(self.exts):
            if t == etype:
                self.exts[i] = (etype, body)
                return self
        self.exts.append((etype, body))
        return self

    def drop(self, *etypes: int) -> Hello:
        self.exts = [(t, b) for t, b in self.exts if t not in etypes]
        return self


def key_shares(shares: Iterable[Share], into: dict[int, KeyShare]) -> bytes:
    entries = []
    for share in shares:
        if isinstance(share, tuple):
            entries.append(share)
        else:
            ks = new_key_share(share, os.urandom)
            into[share] = ks
            entries.append((share, ks.public))
    return ext.encode_key_share_client(entries)


def hello(*, suites: Sequence[int] = (AES128, EMPTY_RENEGOTIATION_INFO_SCSV),
          groups: Sequence[int] = (SECP256R1,), shares: Sequence[Share] | None = None,
          versions: Sequence[int] | None = (0x0304, 0x0303),
          sig_algs: Sequence[int] | None = (RSA_PSS_RSAE_SHA256, RSA_PSS_PSS_SHA256),
          sig_algs_cert: Sequence[int] | None = tuple(RSA_SIG_ALL),
          extra: Sequence[tuple[int, bytes]] = (), **kw: Any) -> Hello:
    """The ClientHello of the tlsfuzzer TLS 1.3 scripts (same extensions, same order)."""
    h = Hello(list(suites), [], **kw)
    if shares is None:
        shares = list(groups[:1])
    h.exts.append((E_KEY_SHARE, key_shares(shares, h.shares)))
    if versions is not None:
        h.exts.append((E_SUPPORTED_VERSIONS, ext.encode_versions_client(list(versions))))
    if groups is not None:
        h.exts.append((E_SUPPORTED_GROUPS, ext.encode_u16_list(list(groups))))
    if sig_algs is not None:
        h.exts.append((E_SIG_ALGS, ext.encode_u16_list(list(sig_algs))))
    if sig_algs_cert is not None:
        h.exts.append((E_SIG_ALGS_CERT, ext.encode_u16_list(list(sig_algs_cert))))
    h.exts.extend(extra)
    return h


def hello12(*, suites: Sequence[int] = (ECDHE_RSA_AES128_GCM, EMPTY_RENEGOTIATION_INFO_SCSV),
            legacy_version: int = 0x0303, ems: bool = True,
            versions: Sequence[int] | None = None,
            extra: Sequence[tuple[int, bytes]] = ()) -> Hello:
    """A TLS 1.2 ClientHello (ECDHE, AEAD, EMS: what tlskit's TLS 1.2 needs)."""
    h = Hello(list(suites), [], legacy_version=legacy_version, session_id=b"")
    h.exts.append((E_SUPPORTED_GROUPS, ext.encode_u16_list([SECP256R1, X25519])))
    h.exts.append((E_EC_POINT_FORMATS, b"\x01\x00"))
    h.exts.append((E_SIG_ALGS, ext.encode_u16_list(
        [RSA_PSS_RSAE_SHA256, RSA_PKCS1_SHA256, ECDSA_SECP256R1_SHA256])))
    if ems:
        h.exts.append((E_EMS, b""))
    if versions is not None:
        h.exts.append((E_SUPPORTED_VERSIONS, ext.encode_versions_client(list(versions))))
    h.exts.extend(extra)
    return h


# --- the peer ----------------------------------------------------------------------------

_CV_CONTEXT = b"\x20" * 64 + b"TLS 1.3, server CertificateVerify\x00"
_CV_CLIENT_CONTEXT = b"\x20" * 64 + b"TLS 1.3, client CertificateVerify\x00"


class Peer:
    """Drives one `ServerConnection` with hand-built records; see the module docstring."""

    def __init__(self, server: ServerConnection | ServerConfig | None = None, *,
                 echo: bool = True, verify_cv: bool = True) -> None:
        if server is None:
            server = server_config()
        self.server = server if isinstance(server, ServerConnection) else \
            ServerConnection(server)
        self.echo = echo
        self.verify_cv = verify_cv
        self.events: list[tuple[Any, ...]] = []
        self.server_events: list[Any] = []
        self.error: TLSError | None = None
        self.hello: Hello | None = None
        self.transcript = b""        # handshake messages, as the RFC hashes them
        self.suite: int | None = None
        self.hash_name = "sha256"
        self.read: Keys | None = None
        self.write: Keys | None = None
        self.psk: bytes | None = None
        self.tls12 = False
        self.tickets: list[tuple[m.NewSessionTicket, bytes]] = []   # (NST, its PSK)
        self._hs_buf = b""
        self._c_hs = self._s_hs = self._c_ap = self._s_ap = b""
        self._master = b""
        self._res_master = b""
        self.server_cert: x509.Certificate | None = None
        self.cv_scheme: int | None = None
        self.offered_psks: list[bytes] = []   # PSKs in the order of our identities

    # -- talking to the server --------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Give bytes to the server; decode whatever it writes back."""
        if self.error is None:
            try:
                evs = self.server.receive_data(data)
            except TLSError as exc:
                self.error = exc
                evs = []
            for ev in evs:
                self.server_events.append(ev)
                if self.echo and isinstance(ev, DataReceived):
                    self.server.send_data(ev.data)
        self._decode(self.server.data_to_send())

    def send_hello(self, h: Hello, *, record_version: int = 0x0301,
                   fragment: int = 1 << 14, extra: bytes = b"") -> None:
        if self.hello is None or self.hello.random != h.random:
            self.hello = h
        else:
            self.hello.shares.update(h.shares)
        raw = h.encode()
        self.transcript += raw
        data = b"".join(record(HS, raw[i:i + fragment], record_version)
                        for i in range(0, len(raw), fragment))
        self.feed(data + extra)

    def plain(self, ctype: int, payload: bytes, version: int = 0x0303) -> bytes:
        return record(ctype, payload, version)

    def protect(self, ctype: int, content: bytes, padding: int = 0, *,
                keys: Keys | None = None, outer: int = APPDATA,
                length: int | None = None) -> bytes:
        keys = keys or self.write
        assert keys is not None, "no client write keys yet"
        return keys.seal(inner(ctype, content, padding), outer=outer, length=length)

    def send(self, ctype: int, content: bytes, padding: int = 0, **kw: Any) -> None:
        self.feed(self.protect(ctype, content, padding, **kw))

    def app(self, data: bytes, padding: int = 0) -> None:
        self.send(APPDATA, data, padding)

    def alert(self, desc: int, level: int = FATAL, *, encrypted: bool = True) -> None:
        body = bytes((level, desc))
        self.feed(self.protect(ALERT, body) if encrypted else record(ALERT, body))

    def close_notify(self) -> None:
        self.alert(0, WARNING)

    def finished_message(self) -> bytes:
        return m.frame(20, finished_mac(self.hash_name, self._c_hs, self.transcript))

    def finished(self, message: bytes | None = None, *, padding: int = 0,
                 plaintext: bool = False, send: bool = True) -> bytes:
        """Send the client Finished (``message`` replaces the correct one), then switch
        to the application keys. Returns what was (or would be) sent."""
        good = self.finished_message()
        msg = good if message is None else message
        data = record(HS, msg) if plaintext else self.protect(HS, msg, padding)
        self.transcript += good
        self._res_master = derive(self.hash_name, self._master, b"res master", self.transcript)
        self.write = Keys(self.suite, self._c_ap)  # type: ignore[arg-type]
        if send:
            self.feed(data)
        return data

    def key_update(self, request: bool, *, send: bool = True) -> bytes:
        data = self.protect(HS, m.frame(24, bytes((int(request),))))
        assert self.write is not None
        self.write = self.write.updated()
        if send:
            self.feed(data)
        return data

    # -- decoding the server ------------------------------------------------------------

    def _decode(self, data: bytes) -> None:
        for rec in split_records(data):
            ctype, payload = rec[0], rec[5:]
            if ctype == APPDATA and self.read is not None and not self.tls12:
                plain = self.read.open(rec).rstrip(b"\x00")
                ctype, payload = plain[-1], plain[:-1]
            if ctype == HS:
                self._hs_buf += payload
                while len(self._hs_buf) >= 4:
                    n = int.from_bytes(self._hs_buf[1:4], "big")
                    if len(self._hs_buf) < 4 + n:
                        break
                    raw, self._hs_buf = self._hs_buf[:4 + n], self._hs_buf[4 + n:]
                    self._handshake(raw)
            elif ctype == CCS:
                self.events.append(("ccs", payload))
            elif ctype == ALERT:
                self.events.append(("alert", payload[0], payload[1]))
            elif ctype == APPDATA:
                self.events.append(("data", payload))
            else:
                raise AssertionError(f"server sent content type {ctype}")

    def _handshake(self, raw: bytes) -> None:
        mtype, body = raw[0], raw[4:]
        if self.tls12:
            self.events.append(("hs12", mtype, body))
            return
        if mtype == 2:
            sh = m.ServerHello.decode(body)
            if sh.is_hello_retry_request:
                self._on_hrr(sh, raw)
            else:
                self._on_server_hello(sh, raw)
        elif mtype == 20:
            self._on_server_finished(body, raw)
        elif mtype == 4:
            nst = m.NewSessionTicket.decode(body)
            size = hashlib.new(self.hash_name).digest_size
            psk = expand_label(self.hash_name, self._res_master, b"resumption", nst.nonce, size)
            self.tickets.append((nst, psk))
            self.events.append(("nst", nst))
        elif mtype == 24:
            self.events.append(("key_update", body[0]))
            assert self.read is not None
            self.read = self.read.updated()
        else:
            if mtype == 11:
                cert = m.Certificate.decode(body)
                self.server_cert = x509.load_der_x509_certificate(cert.entries[0].cert_data)
            elif mtype == 15:
                cv = m.CertificateVerify.decode(body)
                self.cv_scheme = cv.algorithm
                if self.verify_cv:
                    assert self.server_cert is not None
                    _verify(self.server_cert.public_key(), cv.algorithm, cv.signature,
                            _CV_CONTEXT + hash_of(self.hash_name, self.transcript))
            self.transcript += raw
            self.events.append(("hs", mtype, body))

    def _on_hrr(self, sh: m.ServerHello, raw: bytes) -> None:
        self.suite = sh.cipher_suite
        self.hash_name = SUITES13[sh.cipher_suite][2]
        first = hash_of(self.hash_name, self.transcript)
        self.transcript = m.frame(254, first) + raw
        self.events.append(("hrr", sh))

    def _on_server_hello(self, sh: m.ServerHello, raw: bytes) -> None:
        self.events.append(("server_hello", sh))
        if E_SUPPORTED_VERSIONS not in sh.extensions:
            self.tls12 = True
            return
        self.suite = sh.cipher_suite
        self.hash_name = h = SUITES13[sh.cipher_suite][2]
        self.transcript += raw
        size = hashlib.new(h).digest_size
        psk = bytes(size)
        if E_PSK in sh.extensions:
            index = ext.decode_selected_identity(sh.extensions[E_PSK])
            psk = self.offered_psks[index]
        self.psk = psk
        shared = bytes(size)
        if E_KEY_SHARE in sh.extensions:
            group, public = ext.decode_key_share_server(sh.extensions[E_KEY_SHARE])
            assert self.hello is not None
            shared = self.hello.shares[group].exchange(public)
        early = extract(h, bytes(size), psk)
        hs_secret = extract(h, derive(h, early, b"derived", b""), shared)
        self._c_hs = derive(h, hs_secret, b"c hs traffic", self.transcript)
        self._s_hs = derive(h, hs_secret, b"s hs traffic", self.transcript)
        self._master = extract(h, derive(h, hs_secret, b"derived", b""), bytes(size))
        self.read = Keys(sh.cipher_suite, self._s_hs)
        self.write = Keys(sh.cipher_suite, self._c_hs)

    def _on_server_finished(self, body: bytes, raw: bytes) -> None:
        expected = finished_mac(self.hash_name, self._s_hs, self.transcript)
        assert hmac.compare_digest(body, expected), "server Finished does not verify"
        self.transcript += raw
        h = self.hash_name
        self._c_ap = derive(h, self._master, b"c ap traffic", self.transcript)
        self._s_ap = derive(h, self._master, b"s ap traffic", self.transcript)
        self.read = Keys(self.suite, self._s_ap)  # type: ignore[arg-type]
        self.events.append(("finished",))

    # -- what happened ------------------------------------------------------------------

    def kinds(self) -> list[Any]:
        return [e[0] if e[0] != "hs" else e[1] for e in self.events]

    def alerts(self) -> list[tuple[int, int]]:
        return [(e[1], e[2]) for e in self.events if e[0] == "alert"]

    def data(self) -> bytes:
        return b"".join(e[1] for e in self.events if e[0] == "data")

    def server_hello(self) -> m.ServerHello:
        return next(e[1] for e in self.events if e[0] == "server_hello")

    def expect_alert(self, desc: int) -> None:
        """The server refused with exactly this fatal alert, sent it, and closed."""
        assert self.error is not None, f"server accepted; events: {self.kinds()}"
        assert not isinstance(self.error, AlertReceived), self.error
        assert int(self.error.alert) == desc, \
            f"expected alert {desc}, server sent {self.error.alert.name} ({self.error})"
        assert self.alerts()[-1:] == [(FATAL, desc)], self.alerts()
        assert self.server.closed
        # ExpectClose: nothing else is ever processed or sent.
        with _raises_tls_error():
            self.server.receive_data(b"\x17\x03\x03\x00\x01\x00")
        assert self.server.data_to_send() == b""

    def expect_flight(self, *, hrr: bool = False, certificate_request: bool = False,
                      psk: bool = False) -> None:
        """ServerHello, the compatibility CCS (not after a HelloRetryRequest, which had
        its own), EncryptedExtensions, [CertificateRequest], [Certificate,
        CertificateVerify] unless resuming, Finished."""
        assert self.error is None, self.error
        want = ["server_hello", *([] if hrr else ["ccs"]), 8,
                *([13] if certificate_request else []), *([] if psk else [11, 15]),
                "finished"]
        kinds = self.kinds()
        start = kinds.index("server_hello")
        assert kinds[start:start + len(want)] == want, kinds

    # -- client authentication and PSKs -------------------------------------------------

    def client_certificate(self, chain: Sequence[bytes], context: bytes = b"") -> bytes:
        msg = m.Certificate(context, [m.CertificateEntry(d) for d in chain]).encode()
        self.transcript += msg
        return self.protect(HS, msg)

    def client_certificate_verify(self, scheme: int, sign: Callable[[bytes], bytes]) -> bytes:
        data = _CV_CLIENT_CONTEXT + hash_of(self.hash_name, self.transcript)
        msg = m.CertificateVerify(scheme, sign(data)).encode()
        self.transcript += msg
        return self.protect(HS, msg)

    def add_psks(self, h: Hello, psks: Sequence[tuple[bytes, int, bytes, str]],
                 binders: Sequence[bytes] | None = None) -> Hello:
        """Append pre_shared_key (identity, obfuscated age, PSK, hash name) with correct
        binders (4.2.11.2), unless `binders` replaces them."""
        placeholder = [bytes(hashlib.new(hn).digest_size) for _, _, _, hn in psks]
        identities = [(ident, age) for ident, age, _, _ in psks]
        h.drop(E_PSK).exts.append((E_PSK, ext.encode_pre_shared_key_client(
            identities, placeholder)))
        if binders is None:
            raw = h.encode()
            truncated = self.transcript + raw[:len(raw) - ext.binders_length(placeholder)]
            binders = []
            for _, _, psk, hn in psks:
                size = hashlib.new(hn).digest_size
                early = extract(hn, bytes(size), psk)
                binders.append(finished_mac(hn, derive(hn, early, b"res binder", b""),
                                            truncated))
        h.exts[-1] = (E_PSK, ext.encode_pre_shared_key_client(identities, list(binders)))
        self.offered_psks = [psk for _, _, psk, _ in psks]
        return h


class _raises_tls_error:
    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        assert exc_type is not None and issubclass(exc_type, TLSError), \
            "a closed connection accepted more input"
        return True


def _verify(key: Any, scheme: int, signature: bytes, data: bytes) -> None:
    """Check the server's CertificateVerify with `cryptography` directly (4.4.3)."""
    if isinstance(key, rsa.RSAPublicKey):
        h = {0x0804: hashes.SHA256, 0x0805: hashes.SHA384, 0x0806: hashes.SHA512,
             0x0809: hashes.SHA256, 0x080A: hashes.SHA384, 0x080B: hashes.SHA512}[scheme]()
        key.verify(signature, data, padding.PSS(padding.MGF1(h), h.digest_size), h)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        h = {0x0403: hashes.SHA256, 0x0503: hashes.SHA384, 0x0603: hashes.SHA512}[scheme]()
        key.verify(signature, data, ec.ECDSA(h))
    elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        key.verify(signature, data)
    else:  # pragma: no cover
        raise AssertionError(f"unexpected key {key!r}")


# --- whole conversations ---------------------------------------------------------------

def handshake(peer: Peer, h: Hello | None = None, **kw: Any) -> Peer:
    """CH -> the server flight -> Finished (the part every sanity conversation shares)."""
    peer.send_hello(h or hello(**kw))
    peer.expect_flight()
    peer.finished()
    assert peer.error is None, peer.error
    assert peer.server.handshake_complete is not None
    return peer


def sanity(peer: Peer, h: Hello | None = None, *, payload: bytes = b"GET / HTTP/1.0\r\n\r\n",
           **kw: Any) -> Peer:
    """The tlsfuzzer "sanity" conversation: handshake, request, 0..n NewSessionTickets,
    the echoed reply, close_notify answered by close_notify."""
    if peer.server.handshake_complete is None:
        handshake(peer, h, **kw)
    before = len(peer.events)
    peer.app(payload)
    assert peer.error is None, peer.error
    assert peer.data().endswith(payload)
    assert all(e[0] in ("nst", "data") for e in peer.events[before:]), peer.kinds()
    peer.close_notify()
    assert peer.error is None, peer.error
    assert peer.alerts()[-1] == (WARNING, 0), peer.alerts()
    return peer


def fuzz(data: bytes, pos: int, xor: int) -> bytes:
    out = bytearray(data)
    out[pos] ^= xor
    return bytes(out)


Mutator = Callable[[bytes], bytes]
