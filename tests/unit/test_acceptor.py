"""`tlskit.Acceptor` against tlskit's client in memory: the ClientHello read in any cut,
handed to the connection chosen for it (with what came after it), refused, and every
input that is no ClientHello failing exactly as a `ServerConnection` fails on it."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlskit import (
    Acceptor,
    AlertReceived,
    ClientConnection,
    ClientHelloInfo,
    ConnectionClosed,
    ConnectionClosedError,
    DecodeError,
    EarlyDataReceived,
    ServerConnection,
    SessionTicketReceived,
    TLSError,
    UsageError,
)
from tlskit.acceptor import MAX_AFTER_HELLO, server_connection
from tlskit.enums import AlertDescription as AD
from tlskit.enums import CipherSuite, NamedGroup
from tlskit.wire import messages as m

from ..support.pki import client_config, server_config
from ..support.pump import completed, exchange
from ..support.records import ALERT, APPDATA, CCS, HS, plain_alert, record

NAME = "localhost"


def hello(**kw: Any) -> bytes:
    return ClientConnection(client_config(**kw), server_name=NAME).data_to_send()


def fragmented(flight: bytes, size: int) -> bytes:
    """A one-record flight's handshake bytes again, cut into records of ``size`` bytes."""
    body = flight[5:]
    return b"".join(record(HS, body[i:i + size]) for i in range(0, len(body), size))


HELLOS = {
    "tls13": hello(alpn_protocols=["h2", "http/1.1"]),
    "tls12": hello(versions=["TLSv1.2"]),
    "grease": hello(ech_grease=True),
}


def feed(acceptor: Acceptor, data: bytes, cuts: list[int]) -> list[ClientHelloInfo | None]:
    """Feed ``data`` cut at ``cuts``; what each call returned."""
    at, answers = 0, []
    for cut in [*sorted(cuts), len(data)]:
        answers.append(acceptor.receive_data(data[at:cut]))
        at = cut
    return answers


def test_byte_at_a_time() -> None:
    data = HELLOS["tls13"]
    answers = feed(acceptor := Acceptor(), data, list(range(1, len(data))))
    assert answers[:-1] == [None] * (len(data) - 1)
    info = answers[-1]
    assert info is not None and info == acceptor.client_hello
    assert info.server_name == NAME and info.alpn_protocols == ("h2", "http/1.1")
    assert info.supported_versions == ("TLSv1.3", "TLSv1.2")
    assert CipherSuite.TLS_AES_128_GCM_SHA256 in info.cipher_suites


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(HELLOS)), st.integers(8, 1 << 14),
       st.lists(st.integers(0, 1 << 12), max_size=12))
def test_any_split_of_a_hello_gives_the_same_info(name: str, size: int,
                                                  cuts: list[int]) -> None:
    whole = Acceptor().receive_data(HELLOS[name])
    data = fragmented(HELLOS[name], size)
    answers = feed(Acceptor(), data, [c % (len(data) + 1) for c in cuts])
    first = next(i for i, a in enumerate(answers) if a is not None)
    assert whole is not None and answers[first:] == [whole] * (len(answers) - first)
    assert answers[:first] == [None] * first


@pytest.mark.parametrize("versions", [["TLSv1.3"], ["TLSv1.2"]])
def test_accept_completes_the_handshake(versions: list[str]) -> None:
    acceptor = Acceptor()
    client = ClientConnection(client_config(versions=versions), server_name=NAME)
    assert acceptor.receive_data(client.data_to_send()) is not None
    server = acceptor.accept(server_config())
    client_events, server_events = exchange(client, server)
    assert completed(client_events).server_name == completed(server_events).server_name == NAME
    assert completed(server_events).version == versions[0]
    assert acceptor.data_to_send() == b""


def test_bytes_after_the_hello_reach_the_connection() -> None:
    """0-RTT data sent with the hello: the acceptor keeps it, the connection returns it
    from its next receive call."""
    config = server_config(max_early_data_size=1000)
    first = ClientConnection(client_config(), server_name=NAME)
    events, _ = exchange(first, ServerConnection(config))
    session = next(e.session for e in events if isinstance(e, SessionTicketReceived))
    client = ClientConnection(client_config(), server_name=NAME, session=session,
                              early_data=b"GET / HTTP/1.1\r\n\r\n")
    assert client.early_data_sent
    acceptor = Acceptor()
    assert acceptor.receive_data(client.data_to_send()) is not None
    server = acceptor.accept(config)
    assert server.receive_data(b"") == [EarlyDataReceived(b"GET / HTTP/1.1\r\n\r\n")]
    _, server_events = exchange(client, server)
    assert completed(server_events).early_data_accepted


def test_refuse_sends_the_alert_and_ends_the_acceptor() -> None:
    acceptor = Acceptor()
    assert acceptor.receive_data(HELLOS["tls13"]) is not None
    acceptor.refuse(AD.unrecognized_name)
    assert acceptor.data_to_send() == plain_alert(AD.unrecognized_name)
    with pytest.raises(UsageError):
        acceptor.receive_data(b"more")
    with pytest.raises(UsageError):
        acceptor.accept(server_config())


@pytest.mark.parametrize("limit", [0, -1, "64k", None, 1.5, True])
def test_a_limit_that_is_no_size_is_refused_at_once(limit: Any) -> None:
    """Not with the first client, as an internal_error alert sent to it."""
    with pytest.raises((TypeError, ValueError), match="max_handshake_message"):
        Acceptor(limit)


def test_accept_needs_a_complete_hello_once() -> None:
    acceptor = Acceptor()
    assert acceptor.receive_data(HELLOS["tls13"][:20]) is None
    with pytest.raises(UsageError, match="complete ClientHello"):
        acceptor.accept(server_config())
    acceptor.receive_data(HELLOS["tls13"][20:])
    acceptor.accept(server_config())
    with pytest.raises(UsageError):
        acceptor.accept(server_config())


def test_a_config_that_refuses_the_hello_fails_accept_with_its_alert() -> None:
    acceptor = Acceptor()
    acceptor.receive_data(hello(versions=["TLSv1.3"]))
    with pytest.raises(TLSError) as info:
        acceptor.accept(server_config(versions=["TLSv1.2"]))
    assert info.value.alert is AD.protocol_version
    assert acceptor.data_to_send() == plain_alert(AD.protocol_version)


def test_data_after_the_hello_is_bounded() -> None:
    acceptor = Acceptor(max_handshake_message=2000)
    acceptor.receive_data(HELLOS["tls13"])
    acceptor.receive_data(record(APPDATA, bytes(1000)))
    with pytest.raises(UsageError, match="call accept"):
        acceptor.receive_data(bytes(1 << 17))


@pytest.mark.parametrize("cut", [0, 1], ids=["whole-records", "1-byte-records"])
def test_the_bound_after_the_hello_is_64_kib_whatever_the_hello(cut: int) -> None:
    """What the guide says: 64 KiB may follow the hello (counted from the call that
    completed it), not more, however large or finely cut the hello was."""
    data = fragmented(HELLOS["tls13"], 1) if cut else HELLOS["tls13"]
    acceptor = Acceptor()
    assert acceptor.receive_data(data) is not None
    acceptor.receive_data(bytes(MAX_AFTER_HELLO))
    with pytest.raises(UsageError, match="too much data"):
        acceptor.receive_data(b"x")


def test_data_over_the_bound_leaves_no_gap_for_the_connection() -> None:
    """The bytes that overflowed were not kept: a connection made now would read the
    stream with a hole in it, so the acceptor stays over its bound (refuse() remains)."""
    acceptor = Acceptor(max_handshake_message=2000)
    acceptor.receive_data(HELLOS["tls13"])
    with pytest.raises(UsageError, match="call accept"):
        acceptor.receive_data(bytes(1 << 17))
    with pytest.raises(UsageError, match="too much data"):
        acceptor.receive_data(b"")
    with pytest.raises(UsageError, match="too much data"):
        acceptor.accept(server_config())
    acceptor.refuse()
    assert acceptor.data_to_send() == plain_alert(AD.handshake_failure)


@pytest.mark.parametrize("then", ["refuse", "receive"])
def test_after_a_failure_the_client_gets_one_alert(then: str) -> None:
    """The failure's alert is the client's answer: a later refuse() adds no second one,
    and the failure stays (each call raises it, with nothing new to send)."""
    acceptor = Acceptor()
    with pytest.raises(DecodeError):
        acceptor.receive_data(b"GET / HTTP/1.1\r\n\r\n")
    assert acceptor.data_to_send() == plain_alert(AD.decode_error)
    if then == "refuse":
        acceptor.refuse(AD.unrecognized_name)
    else:
        with pytest.raises(DecodeError):
            acceptor.receive_data(HELLOS["tls13"])
    assert acceptor.data_to_send() == b""


def _alpn_corrupted() -> bytes:
    """A real hello whose ALPN list claims one byte more than it holds."""
    data = HELLOS["tls13"]
    alpn = b"\x00\x10\x00\x0e\x00\x0c\x02h2\x08http/1.1"
    assert alpn in data
    return data.replace(alpn, b"\x00\x10\x00\x0e\x00\x0d\x02h2\x08http/1.1")


GARBAGE = {
    "http": b"GET / HTTP/1.1\r\nHost: example\r\n\r\n",
    "sslv2": b"\x80\x2e\x01\x03\x01\x00\x15\x00\x00\x00\x10" + bytes(37),
    "appdata-first": record(APPDATA, b"hello"),
    "ccs-first": record(CCS, b"\x01"),
    "finished-first": record(HS, b"\x14\x00\x00\x04abcd"),
    "server-hello": record(HS, b"\x02\x00\x00\x04abcd"),
    "hello-too-large": record(HS, b"\x01\x03\x00\x00"),
    "hello-truncated": record(HS, b"\x01\x00\x00\x04\x03\x03\x00\x00"),
    "record-too-large": b"\x16\x03\x01\x48\x01" + bytes(100),
    "empty-record": record(HS, b""),
    "bad-alert": record(ALERT, b"\x02"),
    "hello-then-junk-record": record(HS, HELLOS["tls13"][5:] + b"\x14\x00\x00\x00"),
}


def server_says(data: bytes, step: int = 0, **kw: Any) -> tuple[TLSError, bytes]:
    """A `ServerConnection`'s error on ``data`` (fed whole, or ``step`` bytes at a time),
    and what it sent."""
    server = ServerConnection(server_config(**kw))
    with pytest.raises(TLSError) as info:
        for at in range(0, len(data), step or len(data)):
            server.receive_data(data[at:at + (step or len(data))])
    return info.value, server.data_to_send()


@pytest.mark.parametrize("name", [n for n in GARBAGE if n != "hello-then-junk-record"])
@pytest.mark.parametrize("step", [0, 1], ids=["whole", "byte-at-a-time"])
def test_garbage_fails_as_the_server_fails(name: str, step: int) -> None:
    data = GARBAGE[name]
    expected, alert = server_says(data, step)
    acceptor = Acceptor()
    with pytest.raises(TLSError) as info:
        feed(acceptor, data, list(range(1, len(data))) if step else [])
    assert type(info.value) is type(expected) and info.value.alert is expected.alert
    assert str(info.value) == str(expected)
    assert acceptor.data_to_send() == alert == plain_alert(expected.alert)
    with pytest.raises(type(expected)):  # and it stays failed
        acceptor.receive_data(b"")


def with_extension(flight: bytes, code: int, body: bytes) -> bytes:
    """A one-record ClientHello flight with extension ``code`` set to ``body``."""
    ch = m.ClientHello.decode(flight[9:])
    ch.extensions[code] = body
    return record(HS, ch.encode())


# Hellos that parse, with an extension whose contents a server judges when it reads it
# (in an order, or not at all, that depends on the version its config speaks).
ODD_EXTENSIONS = {
    "alpn-malformed": _alpn_corrupted(),
    "tls12-junk-key-share": with_extension(HELLOS["tls12"], 51, b"\x00\x00junk"),
    "tls12-junk-versions": with_extension(HELLOS["tls12"], 43, b"\x05\x03"),
    "tls13-junk-groups": with_extension(HELLOS["tls13"], 10, b"\x00\x03\x00\x1d\x00"),
    "trailing-dot-name": HELLOS["tls13"].replace(b"\x00\x09localhost", b"\x00\x09localhos."),
}


def outcome(make: Any) -> tuple[Any, ...]:
    """``make()``'s connection's first flight's record type, or its error."""
    try:
        conn = make()
        return ("ok", conn.data_to_send()[:1])
    except TLSError as exc:
        return (type(exc), exc.alert, str(exc))


@pytest.mark.parametrize("name", ODD_EXTENSIONS)
@pytest.mark.parametrize("versions", [["TLSv1.3", "TLSv1.2"], ["TLSv1.2"]])
def test_an_odd_extension_is_judged_by_the_accepting_connection(name: str,
                                                                versions: list[str]) -> None:
    """The acceptor has no config, so it cannot know whether (or in which order) the
    server reads an extension: it shows what it could read, and the connection made
    with the config succeeds or fails exactly as a `ServerConnection` fed the bytes
    (and so does one whose config a chooser picks)."""
    data = ODD_EXTENSIONS[name]
    config = server_config(versions=versions)

    def direct() -> ServerConnection:
        conn = ServerConnection(config)
        conn.receive_data(data)
        return conn

    def chosen() -> ServerConnection:  # (the server adapters' chooser: the same)
        conn = server_connection(lambda info: config, "test")
        conn.receive_data(data)
        return conn

    acceptor = Acceptor()
    assert acceptor.receive_data(data) is not None
    assert outcome(lambda: acceptor.accept(config)) == outcome(direct) == outcome(chosen)


def receive_twice(conn: ServerConnection) -> list[Any]:
    """Two ``receive_data(b"")`` calls: each one's events, or its error's type."""
    out: list[Any] = []
    for _ in range(2):
        try:
            out.append(conn.receive_data(b""))
        except TLSError as exc:
            out.append(type(exc))
    return out


@pytest.mark.parametrize("name", ["tls13", "tls12"])
def test_a_client_that_ends_right_after_its_hello_is_told_by_the_connection(
        name: str) -> None:
    """The held events include the client's fatal alert: the connection's next receive
    returns it (as a `ServerConnection` fed the same bytes returned it), then behaves as
    one that ended."""
    data = HELLOS[name] + plain_alert(AD.handshake_failure)
    direct = ServerConnection(server_config())
    first = direct.receive_data(data)
    acceptor = Acceptor()
    acceptor.receive_data(data)
    conn = acceptor.accept(server_config())
    assert receive_twice(conn) == [first, *receive_twice(direct)[:1]]
    assert first and isinstance(first[-1], ConnectionClosed)


def test_what_follows_the_hello_is_left_to_the_connection() -> None:
    acceptor = Acceptor()
    assert acceptor.receive_data(GARBAGE["hello-then-junk-record"]) is not None
    expected, _ = server_says(GARBAGE["hello-then-junk-record"])
    with pytest.raises(TLSError) as info:
        acceptor.accept(server_config())
    assert type(info.value) is type(expected) and str(info.value) == str(expected)
    assert info.value.alert is expected.alert is AD.unexpected_message
    assert acceptor.data_to_send()  # the connection's flight and its alert


def test_a_hello_over_the_limit_fails_as_the_server_with_that_limit() -> None:
    data = HELLOS["grease"]
    expected, alert = server_says(data, max_handshake_message=300)
    acceptor = Acceptor(max_handshake_message=300)
    with pytest.raises(DecodeError) as info:
        acceptor.receive_data(data)
    assert str(info.value) == str(expected) and acceptor.data_to_send() == alert


@pytest.mark.parametrize(("data", "error", "reply"), [
    (plain_alert(AD.handshake_failure), AlertReceived, b""),
    (plain_alert(AD.close_notify, level=1), ConnectionClosedError, plain_alert(0, level=1)),
], ids=["fatal-alert", "close-notify"])
def test_a_client_that_ends_first(data: bytes, error: type, reply: bytes) -> None:
    acceptor = Acceptor()
    with pytest.raises(error):
        acceptor.receive_data(data)
    assert acceptor.data_to_send() == reply


@pytest.mark.parametrize("versions", [["TLSv1.3"], ["TLSv1.2"]])
def test_a_chosen_config_carries_the_handshake_through_a_retry(versions: list[str]) -> None:
    """What the io and aio servers build from a config chooser: the chosen server takes
    the hello over, and asks again for a share (TLS 1.3) or hands over to TLS 1.2."""
    config = server_config(groups=["secp256r1"], close_reply=False)
    seen: list[ClientHelloInfo] = []
    server = server_connection(lambda info: seen.append(info) or config, "test")
    with pytest.raises(UsageError, match="no config was chosen yet"):
        server.config  # noqa: B018
    client = ClientConnection(client_config(groups=["x25519", "secp256r1"],
                                            versions=versions), server_name=NAME)
    client_events, _ = exchange(client, server)
    hc = completed(client_events)
    assert (hc.version, hc.group) == (versions[0], NamedGroup.secp256r1)
    assert server.config is config and not server.close_reply and len(seen) == 1
