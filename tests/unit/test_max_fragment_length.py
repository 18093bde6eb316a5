"""max_fragment_length (RFC 6066 4) between two tlskit connections, both versions.

A constrained client asks for records of at most 512..4096 plaintext bytes; the server
grants it by echoing the code, and from then on every record either side sends keeps to
it, handshake messages included (in TLS 1.2 the server's plaintext Certificate too). A
client that also sent record_size_limit is answered with that instead (RFC 8449 5).
"""

from __future__ import annotations

from typing import Any

import pytest

from tlskit import ClientConfig, ClientConnection, DataReceived, ServerConnection
from tlskit.enums import ExtensionType
from tlskit.errors import IllegalParameter, RecordOverflow, TLSError, UnsupportedExtension

from ..support.pki import client_config, server_config
from ..support.pump import handshake_keeping_hellos, pump
from ..support.records import KeyLog, Keys, keys12_from_log, split_records

VERSIONS = ["TLSv1.3", "TLSv1.2"]
# Bytes a protected record adds to its plaintext with AES-128-GCM: TLS 1.3's content type
# and tag; TLS 1.2's explicit nonce and tag.
OVERHEAD = {"TLSv1.3": 1 + 16, "TLSv1.2": 8 + 16}
SUITES = ["TLS_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]
CHANGE_CIPHER_SPEC, APPLICATION_DATA = 20, 23
MFL = int(ExtensionType.max_fragment_length)


def _configs(version: str, **client_kw: Any) -> tuple[ClientConfig, Any]:
    client_kw.setdefault("record_size_limit", None)  # what OpenSSL's clients send
    return (client_config(versions=[version], cipher_suites=SUITES, **client_kw),
            server_config(versions=[version], cipher_suites=SUITES))


class _Direction:
    """Sizes the records one side sends: plaintext bytes, the AEAD's overhead taken off
    a protected record (TLS 1.3: application_data records; TLS 1.2: every record after
    this side's change_cipher_spec)."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.after_ccs = False

    def sizes(self, data: bytes) -> list[int]:
        out = []
        for rec in split_records(data):
            protected = rec[0] == APPLICATION_DATA if self.version == "TLSv1.3" \
                else self.after_ccs
            out.append(len(rec) - 5 - (OVERHEAD[self.version] if protected else 0))
            self.after_ccs |= rec[0] == CHANGE_CIPHER_SPEC
        return out


def _shuttle(client: ClientConnection, server: ServerConnection, version: str
             ) -> tuple[list[int], _Direction, _Direction]:
    """Run the handshake; the plaintext size of every record either side sent after the
    ClientHello, and each side's record sizer for what follows."""
    seen: list[int] = []
    sides = {"server": _Direction(version), "client": _Direction(version)}
    server.receive_data(client.data_to_send())
    for _ in range(10):
        moved = False
        for name, src, dst in (("server", server, client), ("client", client, server)):
            data = src.data_to_send()
            if data:
                moved = True
                seen += sides[name].sizes(data)
                dst.receive_data(data)
        if not moved:
            return seen, sides["client"], sides["server"]
    raise AssertionError("the handshake never went quiet")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("size", [512, 1024, 2048, 4096])
def test_a_granted_length_bounds_every_record_both_ways(version: str, size: int) -> None:
    ccfg, scfg = _configs(version, max_fragment_length=size)
    client, server = ClientConnection(ccfg, server_name="localhost"), ServerConnection(scfg)
    seen, client_side, server_side = _shuttle(client, server, version)
    assert client.handshake_complete is not None and server.handshake_complete is not None
    assert client.max_fragment == server.max_fragment == size
    assert max(seen) <= size, seen
    if size == 512:  # the P-256 chain's Certificate message is longer: it was fragmented
        assert seen.count(512) >= 1, seen
    payload = bytes(range(256)) * 40  # 10 KiB
    for src, dst, side in ((server, client, server_side), (client, server, client_side)):
        src.send_data(payload)
        wire = src.data_to_send()
        sizes = side.sizes(wire)
        assert max(sizes) == size and len(sizes) == -(-len(payload) // size), sizes
        got = b"".join(ev.data for ev in dst.receive_data(wire) if isinstance(ev, DataReceived))
        assert got == payload


@pytest.mark.parametrize("version", VERSIONS)
def test_record_size_limit_beside_it_governs_instead(version: str) -> None:
    """RFC 8449 5: a server with record_size_limit ignores max_fragment_length when both
    are offered, so the records stay full size (16 KiB of data: one record)."""
    ccfg, scfg = _configs(version, max_fragment_length=512, record_size_limit=16385)
    client, server = ClientConnection(ccfg, server_name="localhost"), ServerConnection(scfg)
    pump(client, server)
    assert client.max_fragment == server.max_fragment == 1 << 14
    server.send_data(b"x" * (1 << 14))
    assert len(split_records(server.data_to_send())) == 1


@pytest.mark.parametrize("version", VERSIONS)
def test_without_the_extension_nothing_changes(version: str) -> None:
    ccfg, scfg = _configs(version)
    client, server = ClientConnection(ccfg, server_name="localhost"), ServerConnection(scfg)
    seen, _, _ = _shuttle(client, server, version)
    assert client.max_fragment == server.max_fragment == 1 << 14
    assert max(seen) > 512  # the Certificate, in one record


@pytest.mark.parametrize("size", [0, 256, 1000, 8192, 16384])
def test_a_client_config_asks_only_for_the_four_lengths(size: int) -> None:
    with pytest.raises(ValueError, match="512, 1024, 2048 or 4096"):
        ClientConfig(max_fragment_length=size)


def _server_hello12_with(client: ClientConnection, server: ServerConnection,
                         body: bytes | None) -> bytes:
    """The server's TLS 1.2 flight with the ServerHello's max_fragment_length body replaced
    (None: removed), the ServerHello's lengths fixed up; the client has not seen it."""
    server.receive_data(client.data_to_send())
    flight = server.data_to_send()
    records = split_records(flight)
    sh = records[0][5:]
    assert sh[0] == 2
    exts_at = 4 + 2 + 32 + 1 + sh[4 + 2 + 32] + 2 + 1
    exts, pos, out = sh[exts_at + 2:], 0, b""
    found = False
    while pos < len(exts):
        etype = int.from_bytes(exts[pos:pos + 2], "big")
        n = int.from_bytes(exts[pos + 2:pos + 4], "big")
        if etype == MFL:
            found = True
            if body is not None:
                out += exts[pos:pos + 2] + len(body).to_bytes(2, "big") + body
        else:
            out += exts[pos:pos + 4 + n]
        pos += 4 + n
    if not found and body is not None:
        out += MFL.to_bytes(2, "big") + len(body).to_bytes(2, "big") + body
    body_ = sh[4:exts_at] + len(out).to_bytes(2, "big") + out
    new_sh = b"\x02" + len(body_).to_bytes(3, "big") + body_
    return b"\x16\x03\x03" + len(new_sh).to_bytes(2, "big") + new_sh + b"".join(records[1:])


@pytest.mark.parametrize("body,error,alert", [
    (b"\x02", IllegalParameter, 47),      # 1024, not the 512 asked for
    (b"\x05", IllegalParameter, 47),      # not a code point
    (b"", TLSError, 50),                  # no code at all: decode_error
], ids=["other-length", "unknown-code", "empty"])
def test_a_client_refuses_a_wrong_answer(body: bytes, error: type[TLSError],
                                         alert: int) -> None:
    ccfg, scfg = _configs("TLSv1.2", max_fragment_length=512)
    client, server = ClientConnection(ccfg, server_name="localhost"), ServerConnection(scfg)
    tampered = _server_hello12_with(client, server, body)
    with pytest.raises(error) as info:
        client.receive_data(tampered)
    assert info.value.alert == alert
    assert "max_fragment_length" in str(info.value)


def test_a_client_refuses_an_answer_it_did_not_ask_for() -> None:
    ccfg, scfg = _configs("TLSv1.2")
    client, server = ClientConnection(ccfg, server_name="localhost"), ServerConnection(scfg)
    with pytest.raises(UnsupportedExtension):
        client.receive_data(_server_hello12_with(client, server, b"\x01"))


def _granted_pair(version: str, size: int) -> tuple[ClientConnection, ServerConnection,
                                                    KeyLog, bytes, bytes]:
    """A handshake in which the server granted `size`, with no ticket sent: the key log,
    and the two hello flights as sent (for the TLS 1.2 keys)."""
    log = KeyLog()
    ccfg, scfg = _configs(version, max_fragment_length=size, keylog=log)
    client = ClientConnection(ccfg, server_name="localhost")
    server = ServerConnection(scfg.replace(session_tickets=0))
    return client, server, log, *handshake_keeping_hellos(client, server)


def _forged(version: str, log: KeyLog, hellos: tuple[bytes, bytes], *, by_client: bool,
            content: bytes) -> bytes:
    """The sender's next application_data record, as a peer ignoring the grant would
    write it: the first under TLS 1.3's application key, the one after Finished in 1.2."""
    if version == "TLSv1.3":
        label = "CLIENT_TRAFFIC_SECRET_0" if by_client else "SERVER_TRAFFIC_SECRET_0"
        return Keys(0x1301, log.secret(label)).seal_content(APPLICATION_DATA, content)
    keys = keys12_from_log(log, 0xC02B, *hellos, client=by_client)
    return keys.seal(1, APPLICATION_DATA, content)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("receiver", ["client", "server"])
def test_a_record_over_the_grant_is_record_overflow(version: str, receiver: str) -> None:
    """RFC 6066 4 holds both sides to the granted length, as OpenSSL and GnuTLS enforce
    it: one byte over is record_overflow, the length itself is data."""
    for size, refused in ((512, False), (513, True)):
        client, server, log, *hellos = _granted_pair(version, 512)
        to = client if receiver == "client" else server
        record = _forged(version, log, (hellos[0], hellos[1]), by_client=receiver == "server",
                         content=b"z" * size)
        if not refused:
            events = to.receive_data(record)
            assert [e.data for e in events if isinstance(e, DataReceived)] == [b"z" * 512]
            continue
        with pytest.raises(RecordOverflow, match="exceeds") as info:
            to.receive_data(record)
        assert info.value.alert == 22


def test_without_a_grant_a_full_record_is_data() -> None:
    """The same forged 16 KiB record is fine where nothing was negotiated."""
    log = KeyLog()
    ccfg, scfg = _configs("TLSv1.3", keylog=log)
    client = ClientConnection(ccfg, server_name="localhost")
    server = ServerConnection(scfg.replace(session_tickets=0))
    pump(client, server)
    record = _forged("TLSv1.3", log, (b"", b""), by_client=True, content=b"z" * (1 << 14))
    assert [len(e.data) for e in server.receive_data(record)
            if isinstance(e, DataReceived)] == [1 << 14]


def test_a_client_refuses_both_limits_in_one_answer() -> None:
    """A client offering both extensions gets record_size_limit alone (RFC 8449 5); a
    server answering with both is illegal_parameter."""
    ccfg, scfg = _configs("TLSv1.2", max_fragment_length=512, record_size_limit=16385)
    client, server = ClientConnection(ccfg, server_name="localhost"), ServerConnection(scfg)
    with pytest.raises(IllegalParameter) as info:
        client.receive_data(_server_hello12_with(client, server, b"\x01"))
    assert info.value.alert == 47
    assert str(info.value) == ("server sent both max_fragment_length and record_size_limit "
                               "(RFC 8449 5)")
