"""`SSLObject` (wrap_bio, the path asyncio takes) side by side with the stdlib's own: each
scenario runs with ``impl="ssl"`` (the stdlib on both ends) and ``impl="tlskit"`` (a
tlskit.compat object against a stdlib peer), and both must give the same outcome."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import cast

import pytest

import tlskit.compat as tc

from .conftest import PKI
from .test_bio import Pair

IGNORE_EOF = getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)


def _ctx(impl: str, pki: PKI, *, server: bool, options: int) -> ssl.SSLContext:
    kind: type[ssl.SSLContext] = tc.SSLContext if impl == "tlskit" else ssl.SSLContext
    if server:
        ctx = kind(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pki.good.fullchain, pki.good.key)
    else:
        ctx = kind(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cafile=str(pki.root))
    # The same start on every Python (some set OP_IGNORE_UNEXPECTED_EOF by default).
    ctx.options = (ctx.options & ~IGNORE_EOF) | options
    return ctx


@dataclass
class Scene:
    """``me`` (the object under test, ``impl``'s) and ``peer`` (always the stdlib's)."""

    pair: Pair
    me: ssl.SSLObject
    peer: ssl.SSLObject
    incoming: ssl.MemoryBIO
    outgoing: ssl.MemoryBIO


def scene(impl: str, side: str, pki: PKI, options: int = 0) -> Scene:
    server = side == "server"
    ours = _ctx(impl, pki, server=server, options=options)
    theirs = _ctx("ssl", pki, server=not server, options=0)
    pair = Pair(theirs, ours) if server else Pair(ours, theirs)
    if server:
        return Scene(pair, pair.server, pair.client, pair.s_in, pair.s_out)
    return Scene(pair, pair.client, pair.server, pair.c_in, pair.c_out)


def established(impl: str, side: str, pki: PKI, peer_sent: bytes, options: int = 0) -> Scene:
    """A `scene` after the handshake, with ``peer_sent`` on its way to ``me``."""
    s = scene(impl, side, pki, options)
    s.pair.handshake()
    s.peer.write(peer_sent)
    s.pair.pump()
    return s


IMPLS = pytest.mark.parametrize("impl", ["ssl", "tlskit"])
SIDES = pytest.mark.parametrize("side", ["client", "server"])


@IMPLS
@SIDES
def test_read_zero_is_empty_and_reads_nothing(impl: str, side: str, pki: PKI) -> None:
    s = scene(impl, side, pki)
    assert s.me.read(0) == b""  # not even the handshake is started
    assert s.outgoing.pending == 0
    s.pair.handshake()
    assert s.me.read(0) == b""  # nothing arrived: still no SSLWantReadError
    s.peer.write(b"hello")
    s.pair.pump()
    assert s.me.read(0) == b""
    assert s.me.read(10) == b"hello"


@IMPLS
@SIDES
def test_read_into_a_buffer_takes_its_size(impl: str, side: str, pki: PKI) -> None:
    s = established(impl, side, pki, b"0123456789")
    buf = bytearray(4)

    def read_into(n: int) -> int:
        return cast(int, s.me.read(n, buf))  # (typeshed has bytes for both forms)

    assert read_into(0) == 4 and buf == b"0123"
    assert read_into(-1) == 4 and buf == b"4567"  # ssl: len <= 0 means the buffer's size
    assert read_into(100) == 2 and buf[:2] == b"89"
    with pytest.raises(ssl.SSLWantReadError):
        s.me.read(10, buf)


@IMPLS
@SIDES
def test_empty_write_sends_no_record(impl: str, side: str, pki: PKI) -> None:
    s = scene(impl, side, pki)
    with pytest.raises(ssl.SSLWantReadError):
        s.me.write(b"")  # the handshake first, as for any write
    s.pair.handshake()
    s.outgoing.read()
    assert s.me.write(b"") == 0
    assert s.outgoing.pending == 0


@IMPLS
def test_server_writes_after_the_clients_close_notify(impl: str, pki: PKI) -> None:
    # TLS 1.3 half-close: the client's close_notify ends its direction only. A server
    # answers with its own close_notify when it calls unwrap(), not by itself.
    s = scene(impl, "server", pki)
    s.pair.handshake()
    with pytest.raises(ssl.SSLWantReadError):
        s.peer.unwrap()
    s.pair.pump()
    assert s.me.read(10) == b""
    assert s.outgoing.pending == 0  # no close_notify of ours yet
    assert s.me.write(b"last") == 4
    s.pair.pump()
    assert s.peer.read(10) == b"last"
    s.me.unwrap()  # returns at once: the client's came already
    s.pair.pump()
    s.peer.unwrap()


@IMPLS
@SIDES
def test_after_both_close_notifies(impl: str, side: str, pki: PKI) -> None:
    s = scene(impl, side, pki)
    s.pair.handshake()
    with pytest.raises(ssl.SSLWantReadError):
        s.peer.unwrap()
    s.pair.pump()
    assert s.me.read(10) == b""
    assert s.me.read(10) == b""
    s.me.unwrap()  # returns: theirs came
    # Once our close_notify went out too, ssl reports the closed connection as errors.
    with pytest.raises(ssl.SSLZeroReturnError):
        s.me.read(10)
    with pytest.raises(ssl.SSLError) as info:
        s.me.write(b"x")
    assert info.value.reason == "PROTOCOL_IS_SHUTDOWN"
    assert not isinstance(info.value, ssl.SSLZeroReturnError)


@IMPLS
@SIDES
def test_unwrap_before_the_handshake(impl: str, side: str, pki: PKI) -> None:
    s = scene(impl, side, pki)
    with pytest.raises(ssl.SSLError) as info:
        s.me.unwrap()
    assert (info.value.library, info.value.reason) == ("SSL", "SHUTDOWN_WHILE_IN_INIT")


@IMPLS
@SIDES
def test_ragged_eof_ends_the_connection(impl: str, side: str, pki: PKI) -> None:
    s = established(impl, side, pki, b"abc")
    s.incoming.write_eof()  # TCP EOF without close_notify
    assert s.me.read(10) == b"abc"
    # tlskit raises SSLEOFError, as current Pythons do; older ssl modules (Debian's 3.11.2)
    # raise its base class SSLError for OpenSSL 3's unexpected EOF, with the same reason.
    eof = ssl.SSLEOFError if impl == "tlskit" else ssl.SSLError
    with pytest.raises(eof) as info:
        s.me.read(10)
    assert (info.value.library, info.value.reason) == ("SSL", "UNEXPECTED_EOF_WHILE_READING")
    with pytest.raises(eof):
        s.me.read(10)
    with pytest.raises(eof):
        s.me.write(b"more")  # the failure sticks, as in OpenSSL


@IMPLS
@SIDES
def test_ragged_eof_with_op_ignore_unexpected_eof(impl: str, side: str, pki: PKI) -> None:
    s = established(impl, side, pki, b"abc", options=IGNORE_EOF)
    s.incoming.write_eof()
    assert s.me.read(10) == b"abc"
    assert s.me.read(10) == b""  # the EOF reads as a close...
    s.me.unwrap()  # ...and unwrap takes it as the peer's close_notify (no SSLEOFError)


def _no_shared_ciphers(impl: str, shared: object) -> None:
    """None, as current Pythons' ssl gives before the handshake and on a client; older
    ssl modules (Debian's 3.11.2) listed the context's own ciphers there instead, so only
    tlskit's answer is held to it."""
    assert shared is None or impl == "ssl"


@IMPLS
@SIDES
def test_information_before_and_after_the_handshake(impl: str, side: str, pki: PKI) -> None:
    s = scene(impl, side, pki)
    assert (s.me.server_side, s.me.server_hostname) == (
        (True, None) if side == "server" else (False, "localhost"))
    assert (s.me.version(), s.me.cipher(), s.me.selected_alpn_protocol()) == (None, None, None)
    _no_shared_ciphers(impl, s.me.shared_ciphers())
    assert (s.me.pending(), s.me.session_reused) == (0, False)
    with pytest.raises(ValueError, match="handshake not done yet"):
        s.me.getpeercert()
    s.pair.handshake()
    assert s.me.version() == "TLSv1.3"
    cipher = s.me.cipher()
    assert cipher is not None and cipher[1] == "TLSv1.3"
    shared = s.me.shared_ciphers()
    if side == "client":
        _no_shared_ciphers(impl, shared)  # ssl: a client does not know the server's list
    else:
        assert shared is not None and cipher in shared
    der = s.me.getpeercert(binary_form=True)
    if side == "server":
        assert der is None  # no client certificate was asked for
    else:
        assert der is not None and ssl.DER_cert_to_PEM_cert(der) == pki.good.leaf.read_text()
    # ssl (CPython 3.11-3.13) knows tls-unique alone; so does the look-alike, though the
    # connection under it has tls-exporter and tls-server-end-point (channel_binding).
    for cb_type in ("tls-server-end-point", "tls-exporter"):
        with pytest.raises(ValueError, match=rf"^'{cb_type}' channel binding type not "
                                             r"implemented$"):
            s.me.get_channel_binding(cb_type)


@IMPLS
def test_a_received_alert_has_openssls_reason(impl: str, pki: PKI) -> None:
    # A TLS 1.3 server that wants a client certificate and gets none: the client's
    # handshake is done by then, and its next read meets the server's alert.
    theirs = _ctx("ssl", pki, server=True, options=0)
    theirs.verify_mode = ssl.CERT_REQUIRED
    theirs.load_verify_locations(cafile=str(pki.root))
    pair = Pair(_ctx(impl, pki, server=False, options=0), theirs)
    with pytest.raises(ssl.SSLWantReadError):
        pair.client.do_handshake()
    pair.pump()
    with pytest.raises(ssl.SSLWantReadError):
        pair.server.do_handshake()
    pair.pump()
    pair.client.do_handshake()
    pair.pump()
    with pytest.raises(ssl.SSLError, match="PEER_DID_NOT_RETURN_A_CERTIFICATE"):
        pair.server.do_handshake()
    pair.pump()
    with pytest.raises(ssl.SSLError) as info:
        pair.client.read(10)
    assert (info.value.library, info.value.reason) == (
        "SSL", "TLSV13_ALERT_CERTIFICATE_REQUIRED")
