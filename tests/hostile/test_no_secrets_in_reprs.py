"""No secret in any repr or exception text (issue 12).

After a full handshake, a resumption and KeyUpdates, every public object a user can
print -- configs, connections and their public attributes, events, sessions, the
session cache, errors -- is rendered and searched for every secret the key log saw, the
resumption PSKs, and the ticket and cookie keys, in hex and in bytes-repr form.
"""

from __future__ import annotations

from typing import Any

import pytest

from tlskit import ClientConnection, ServerConnection, TLSError
from tlskit.session import SessionCache

from ..support.pki import client_config, server_config
from ..support.pump import pump

TICKET_KEY = bytes(range(100, 132))
COOKIE_KEY = bytes(range(200, 232))


def forms(secret: bytes) -> list[str]:
    """How a secret could show up in text: hex (either case) or a bytes repr body."""
    return [secret.hex(), secret.hex().upper(), repr(secret)[2:-1]]


def rendered(obj: Any, depth: int = 0) -> list[str]:
    """repr() and str() of `obj` and, for our objects, of the objects in their public
    attributes (a bytes attribute is data the user asks for by name, e.g. ticket_key:
    it is not printed, so only its presence inside another repr would count)."""
    if isinstance(obj, bytes | bytearray) and depth:
        return []
    out = [repr(obj), str(obj)]
    if depth < 2 and type(obj).__module__.startswith("tlskit"):
        names = [n for n in dir(obj) if not n.startswith("_")]
        for name in names:
            try:
                value = getattr(obj, name)
            except (AttributeError, TLSError, ValueError):
                continue
            if callable(value) and not isinstance(value, type):
                continue
            out += rendered(value, depth + 1)
    if isinstance(obj, list | tuple):
        for item in obj:
            out += rendered(item, depth + 1)
    return out


def test_no_secret_in_any_repr() -> None:
    secrets: list[bytes] = [TICKET_KEY, COOKIE_KEY]

    def keylog(label: str, client_random: bytes, secret: bytes) -> None:
        secrets.append(secret)

    cache = SessionCache()
    ccfg = client_config(keylog=keylog, session_cache=cache)
    scfg = server_config(keylog=keylog, ticket_key=TICKET_KEY, cookie_key=COOKIE_KEY,
                         groups=["secp256r1", "x25519"])  # the client's x25519 share: HRR
    objects: list[Any] = [ccfg, scfg, cache]
    for _ in range(2):  # a full handshake, then a resumption
        client = ClientConnection(ccfg, server_name="localhost")
        server = ServerConnection(scfg)
        objects += pump(client, server)
        client.update_keys(request_peer_update=True)
        objects += pump(client, server)
        client.send_data(b"hello")
        objects += pump(client, server)
        objects += [client, server]
    assert client.handshake_complete is not None and client.handshake_complete.resumed
    sessions = [e.session for e in objects if hasattr(e, "session") and e.session]
    assert sessions
    secrets += [s.psk for s in sessions]
    objects += sessions
    with pytest.raises(TLSError) as info:
        server.receive_data(b"\x17\x03\x03\x00\x20" + bytes(32))  # a forged record
    objects.append(info.value)

    assert len(secrets) > 10
    text = "\n".join(t for obj in objects for t in rendered(obj))
    for secret in secrets:
        for form in forms(secret):
            assert form not in text, f"a secret ({len(secret)} bytes) shows in a repr"


def test_no_external_psk_secret_in_any_repr() -> None:
    """RFC 8446 2.2: an external PSK's secret shows in no config, key, event, handshake
    or error text (the identity may: it is sent in the clear)."""
    from tlskit import ClientConfig, ExternalPsk, ServerConfig

    secret = bytes(range(60, 92))
    key = ExternalPsk(b"device-7", secret)
    traced: list[Any] = []
    ccfg = ClientConfig(external_psks=[key], tracer=lambda step, f: traced.append(f))
    scfg = ServerConfig(external_psks=[key], tracer=lambda step, f: traced.append(f))
    client, server = ClientConnection(ccfg, None), ServerConnection(scfg)
    objects: list[Any] = [key, ccfg, scfg, client, server, traced]
    objects += pump(client, server)
    assert client.handshake_complete.external_psk_identity == b"device-7"
    bad = ClientConnection(ClientConfig(external_psks=[ExternalPsk(b"device-7", bytes(32))]),
                           None)
    with pytest.raises(TLSError) as info:
        ServerConnection(scfg).receive_data(bad.data_to_send())
    objects.append(info.value)
    text = "\n".join(t for obj in objects for t in rendered(obj))
    assert "device-7" in text
    for form in forms(secret):
        assert form not in text
