"""FFDHE is opt-in and deliberate: using it must not spray cryptography's FFDH
deprecation warning (one per key share with cryptography >= 50) over the user's output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

HANDSHAKE = """
from tlskit import ClientConfig, ClientConnection, HandshakeComplete, ServerConfig
from tlskit import ServerConnection
from tlskit.ca import LocalCA
ca = LocalCA.create(None)
issued = ca.issue_server(["localhost"])
for group in ("ffdhe2048", "ffdhe3072"):
    server = ServerConnection(ServerConfig(certificate_chain=issued.chain,
                                           private_key=issued.private_key, groups=[group]))
    client = ClientConnection(ClientConfig(trust_anchors=[ca.root], groups=[group]),
                              server_name="localhost")
    server.receive_data(client.data_to_send())
    [done] = client.receive_data(server.data_to_send())
    assert isinstance(done, HandshakeComplete) and done.group.name == group, done
    server.receive_data(client.data_to_send())
print("ok")
"""


def test_ffdhe_handshakes_raise_no_warning() -> None:
    # -W error: any warning at all, FFDH deprecation included, fails the handshake.
    proc = subprocess.run([sys.executable, "-W", "error", "-c", HANDSHAKE],
                          env={**os.environ, "PYTHONPATH": str(SRC)},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (proc.stdout, proc.stderr) == ("ok\n", "")
