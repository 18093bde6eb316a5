"""No stale key material (issue 12): once the handshake is over a connection keeps only
its current traffic secrets and what exporters and resumption need; every older
generation and every handshake-stage secret is gone, after KeyUpdates both ways.

The test walks everything reachable from the connection objects (attributes and slots
of tlskit objects, containers) and compares what it finds with the secrets the key log
saw and the generations derived from them.
"""

from __future__ import annotations

from typing import Any

from tlskit import ClientConnection, ServerConnection
from tlskit.crypto import SUITES
from tlskit.keyschedule import EarlySecret, HandshakeSecret, MasterSecret, next_traffic_secret

from ..support.pki import client_config, server_config
from ..support.pump import pump

UPDATES = 5
STAGES = (EarlySecret, HandshakeSecret, MasterSecret)


def reachable(root: Any) -> tuple[set[bytes], list[str]]:
    """Every bytes value reachable from `root` through tlskit objects, and the key
    schedule stage objects found on the way (by where they were)."""
    values: set[bytes] = set()
    stages: list[str] = []
    seen: set[int] = set()
    todo: list[tuple[Any, str]] = [(root, "conn")]
    while todo:
        obj, path = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, bytes | bytearray | memoryview):
            values.add(bytes(obj))
            continue
        if isinstance(obj, STAGES):
            stages.append(f"{path}: {type(obj).__name__}")
        if isinstance(obj, dict):
            todo += [(v, f"{path}[{k!r}]") for k, v in obj.items()]
        elif isinstance(obj, list | tuple | set | frozenset):
            todo += [(v, f"{path}[]") for v in obj]
        elif (type(obj).__module__ or "").startswith("tlskit"):
            names = set(getattr(obj, "__dict__", {}))
            for cls in type(obj).__mro__:
                names.update(getattr(cls, "__slots__", ()))
            for name in names:
                value = getattr(obj, name, None)
                if value is not None:
                    todo.append((value, f"{path}.{name}"))
    return values, stages


def test_only_current_traffic_secrets_remain_after_key_updates() -> None:
    logged: dict[str, bytes] = {}

    def keylog(label: str, client_random: bytes, secret: bytes) -> None:
        logged[label] = secret

    client = ClientConnection(client_config(keylog=keylog),
                              server_name="localhost")
    server = ServerConnection(server_config(keylog=keylog))
    pump(client, server)
    for _ in range(UPDATES):  # each side moves its own write key on, 5 times (4.6.3)
        client.update_keys(request_peer_update=False)
        server.update_keys(request_peer_update=False)
        pump(client, server)
    hc = client.handshake_complete
    assert hc is not None
    suite = SUITES[hc.cipher_suite]

    def generations(secret: bytes) -> list[bytes]:
        out = [secret]
        for _ in range(UPDATES):
            out.append(next_traffic_secret(suite, out[-1]))
        return out

    client_gens = generations(logged["CLIENT_TRAFFIC_SECRET_0"])
    server_gens = generations(logged["SERVER_TRAFFIC_SECRET_0"])
    handshake_secrets = [logged["CLIENT_HANDSHAKE_TRAFFIC_SECRET"],
                         logged["SERVER_HANDSHAKE_TRAFFIC_SECRET"]]
    for name, conn in (("client", client), ("server", server)):
        values, stages = reachable(conn)
        # The walk does see the keys in use: the current generation each way.
        assert client_gens[-1] in values, (name, [g in values for g in client_gens])
        assert server_gens[-1] in values, (name, [g in values for g in server_gens])
        stale = [g for g in client_gens[:-1] + server_gens[:-1] + handshake_secrets
                 if g in values]
        assert stale == [], f"{name} still holds {len(stale)} old traffic secret(s)"
        assert stages == [], f"{name} still holds key-schedule stages: {stages}"
