"""Traces and diagrams against the wire: every handshake message a side's trace shows
(and the diagram draws) is one that crossed the wire, in the same order per direction,
drawn encrypted exactly when its record was. TLS 1.3 and TLS 1.2, full handshakes in
memory; encrypted records are opened with keys derived from the key log, the way a
packet analyser does it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from rich.console import Console

from tlskit import CertifiedKey, ClientConfig, ClientConnection, ServerConfig, ServerConnection
from tlskit.ca import LocalCA
from tlskit.cli.diagram import Arrow, Band, items_from_steps, render_svg
from tlskit.cli.render import render_trace
from tlskit.cli.trace import Recorder
from tlskit.crypto import SUITES, SUITES12
from tlskit.enums import CipherSuite, HandshakeType
from tlskit.keyschedule import traffic_keys
from tlskit.prf12 import key_block
from tlskit.trace import STEPS, TraceStep

HT = HandshakeType
# RFC names of the handshake messages (RFC 8446 4, RFC 5246 7.4, RFC 8879).
NAMES = {HT.client_hello: "ClientHello", HT.server_hello: "ServerHello",
         HT.new_session_ticket: "NewSessionTicket",
         HT.encrypted_extensions: "EncryptedExtensions", HT.certificate: "Certificate",
         HT.compressed_certificate: "Certificate",
         HT.server_key_exchange: "ServerKeyExchange",
         HT.certificate_request: "CertificateRequest", HT.server_hello_done: "ServerHelloDone",
         HT.certificate_verify: "CertificateVerify", HT.client_key_exchange: "ClientKeyExchange",
         HT.finished: "Finished", HT.certificate_status: "CertificateStatus",
         HT.key_update: "KeyUpdate"}
HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")


@pytest.fixture(scope="module")
def ca() -> LocalCA:
    return LocalCA.create(None)


@dataclass
class Seen:
    """One direction of the wire as message names, with whether each was encrypted."""

    messages: list[tuple[str, bool]] = field(default_factory=list)


@dataclass
class Run:
    client: Recorder
    server: Recorder
    wire: dict[str, bytes]  # "client" / "server": everything that side sent


def run(ca: LocalCA, client: dict[str, Any], server: dict[str, Any]) -> Run:
    issued = ca.issue_server(["localhost"])
    c_rec, s_rec = Recorder("client"), Recorder("server", t0=0)
    s_rec.t0 = c_rec.t0
    c = ClientConnection(ClientConfig(trust_anchors=[ca.root], tracer=c_rec.tracer,
                                      keylog=c_rec.keylog, **client), server_name="localhost")
    s = ServerConnection(ServerConfig(certificate_chain=issued.chain,
                                      private_key=issued.private_key, tracer=s_rec.tracer,
                                      keylog=s_rec.keylog, **server))
    wire = {"client": b"", "server": b""}
    for _ in range(8):
        for side, src, dst in (("client", c, s), ("server", s, c)):
            data = src.data_to_send()
            if data:
                wire[side] += data
                dst.receive_data(data)
    assert c.handshake_complete is not None and s.handshake_complete is not None
    return Run(c_rec, s_rec, wire)


def records(data: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos < len(data):
        length = int.from_bytes(data[pos + 3:pos + 5], "big")
        out.append((data[pos], data[pos + 5:pos + 5 + length]))
        pos += 5 + length
    assert pos == len(data)
    return out


def handshake_names(content: bytes) -> list[str]:
    names, pos = [], 0
    while pos < len(content):
        length = int.from_bytes(content[pos + 1:pos + 4], "big")
        msg_type = content[pos]
        body = content[pos + 4:pos + 4 + length]
        hrr = msg_type == HT.server_hello and body[2:34] == HRR_RANDOM
        names.append("HelloRetryRequest" if hrr else NAMES[HT(msg_type)])
        pos += 4 + length
    return names


class Opener:
    """Opens one direction's protected records with keys from the key log."""

    def __init__(self, aead: Any, iv: bytes, tls12: bool) -> None:
        self.aead, self.iv, self.tls12, self.seq = aead, iv, tls12, 0

    def open(self, ctype: int, payload: bytes) -> tuple[int, bytes]:
        nonce = (int.from_bytes(self.iv, "big") ^ self.seq).to_bytes(12, "big")
        if self.tls12:  # RFC 7905: ChaCha20-Poly1305, AAD = seq, header of the plaintext
            aad = self.seq.to_bytes(8, "big") + bytes((ctype, 3, 3)) + (
                len(payload) - 16).to_bytes(2, "big")
        else:
            aad = bytes((ctype, 3, 3)) + len(payload).to_bytes(2, "big")
        self.seq += 1
        plain = self.aead.decrypt(nonce, payload, aad)
        if self.tls12:
            return ctype, plain
        plain = plain.rstrip(b"\x00")
        return plain[-1], plain[:-1]


def read_wire13(data: bytes, keys: dict[str, bytes], side: str, suite: Any) -> Seen:
    seen, opener = Seen(), None
    upper = "CLIENT" if side == "client" else "SERVER"
    secrets = [keys[f"{upper}_HANDSHAKE_TRAFFIC_SECRET"], keys[f"{upper}_TRAFFIC_SECRET_0"]]
    for ctype, payload in records(data):
        if ctype == 20:
            seen.messages.append(("ChangeCipherSpec", False))
        elif ctype == 22:
            seen.messages += [(n, False) for n in handshake_names(payload)]
        elif ctype == 23:
            while True:
                if opener is None:
                    k = traffic_keys(suite, secrets.pop(0))
                    opener = Opener(suite.aead(k.key), k.iv, tls12=False)
                try:
                    inner_type, content = opener.open(ctype, payload)
                    break
                except Exception:  # the next key: handshake -> application
                    opener = None
            assert inner_type == 22, "only handshake records during the handshake"
            names = handshake_names(content)
            seen.messages += [(n, True) for n in names]
            if "Finished" in names:
                opener = None  # the next record uses the application keys
    return seen


def read_wire12(data: bytes, master: bytes, randoms: tuple[bytes, bytes], side: str) -> Seen:
    suite = SUITES12[CipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256]
    c_random, s_random = randoms
    block = key_block("sha256", master, c_random, s_random, 2 * 32 + 2 * 12)
    key, iv = (block[:32], block[64:76]) if side == "client" else (block[32:64], block[76:88])
    seen, opener = Seen(), None
    for ctype, payload in records(data):
        if ctype == 20:
            seen.messages.append(("ChangeCipherSpec", False))
            opener = Opener(ChaCha20Poly1305(key), iv, tls12=True)
        elif opener is None:
            assert ctype == 22
            seen.messages += [(n, False) for n in handshake_names(payload)]
        else:
            inner_type, content = opener.open(ctype, payload)
            assert inner_type == 22
            seen.messages += [(n, True) for n in handshake_names(content)]
    assert suite.code == CipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
    return seen


def drawn(recorder: Recorder, sender: str) -> list[tuple[str, bool]]:
    return [(i.name, i.encrypted) for i in items_from_steps(recorder.steps)
            if isinstance(i, Arrow) and i.sender == sender]


def traced(recorder: Recorder, sender: str) -> list[str]:
    out = []
    for s in recorder.steps:
        if s.sender != sender or s.message is None:
            continue
        out.append(s.message)
    return out


SHAPES13 = {
    "full": ({}, {}),
    "retry and client certificate": (
        {"groups": ["secp256r1", "x25519"], "key_share_groups": ["secp256r1"]},
        {"groups": ["x25519", "secp256r1"], "client_auth": "required"}),
    "compressed certificate": ({}, {"certificate_compression": ("zlib",)}),
}


@pytest.mark.parametrize("shape", SHAPES13)
def test_tls13_trace_and_diagram_match_the_wire(ca: LocalCA, shape: str) -> None:
    client_kw, server_kw = SHAPES13[shape]
    client_kw = {"cipher_suites": ["TLS_AES_128_GCM_SHA256"], **client_kw}
    if server_kw.get("client_auth"):
        alice = ca.issue_client("alice")
        client_kw["certificate"] = CertifiedKey(alice.chain, alice.private_key)
        server_kw = {**server_kw, "client_trust_anchors": [ca.root]}
    r = run(ca, client_kw, {"session_tickets": 1, **server_kw})
    suite = SUITES[CipherSuite.TLS_AES_128_GCM_SHA256]
    for side in ("client", "server"):
        wire = read_wire13(r.wire[side], r.client.keys, side, suite)
        for recorder in (r.client, r.server):  # either side's trace shows both directions
            assert traced(recorder, side) == [n for n, _ in wire.messages], (side, recorder)
        assert drawn(r.client, side) == wire.messages, side
    assert AESGCM  # the suite's AEAD: what traffic_keys' key is used with


@pytest.mark.parametrize("client_auth", [False, True])
def test_tls12_trace_and_diagram_match_the_wire(ca: LocalCA, client_auth: bool) -> None:
    client_kw: dict[str, Any] = {
        "versions": ["TLSv1.2"],
        "cipher_suites": ["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"],
        "groups": ["x25519", "secp256r1"]}
    server_kw: dict[str, Any] = {}
    if client_auth:
        alice = ca.issue_client("alice")
        client_kw["certificate"] = CertifiedKey(alice.chain, alice.private_key)
        server_kw = {"client_auth": "required", "client_trust_anchors": [ca.root]}
    r = run(ca, client_kw, server_kw)
    master = r.client.keys["CLIENT_RANDOM"]
    server_random = bytes.fromhex(r.client.find("server_hello").fields["random"])
    randoms = (r.client.client_random, server_random)
    expected = {
        "server": ["ServerHello", "Certificate", "ServerKeyExchange",
                   *(["CertificateRequest"] if client_auth else []), "ServerHelloDone",
                   "ChangeCipherSpec", "Finished"],
        "client": ["ClientHello",
                   *(["Certificate", "ClientKeyExchange", "CertificateVerify"] if client_auth
                     else ["ClientKeyExchange"]), "ChangeCipherSpec", "Finished"]}
    for side in ("client", "server"):
        wire = read_wire12(r.wire[side], master, randoms, side)
        assert [n for n, _ in wire.messages] == expected[side]
        # only the Finished travels encrypted; the Certificate does not
        assert [n for n, enc in wire.messages if enc] == ["Finished"]
        for recorder in (r.client, r.server):
            assert traced(recorder, side) == expected[side], (side, recorder.side)
        assert drawn(r.client, side) == wire.messages, side


def test_tls12_client_certificate_verify_is_drawn_after_client_key_exchange(
        ca: LocalCA) -> None:
    """RFC 5246 7.3: Certificate, ClientKeyExchange, CertificateVerify (in 1.3 the
    CertificateVerify follows the Certificate directly)."""
    alice = ca.issue_client("alice")
    r = run(ca, {"versions": ["TLSv1.2"], "certificate": CertifiedKey(alice.chain,
                                                                       alice.private_key)},
            {"client_auth": "required", "client_trust_anchors": [ca.root]})
    names = [s.step for s in r.client.steps if s.sender == "client"]
    assert names == ["client_hello", "client_certificate", "client_key_exchange",
                     "client_certificate_verify", "client_change_cipher_spec",
                     "client_finished"]
    assert r.client.find("client_certificate_verify").fields["scheme"].startswith("ecdsa")
    assert r.server.find("client_certificate_verify").fields["scheme"].startswith("ecdsa")


def test_tls12_diagram_labels(ca: LocalCA) -> None:
    r = run(ca, {"versions": ["TLSv1.2"]}, {"groups": ["secp256r1", "x25519"]})
    items = items_from_steps(r.client.steps)
    bands = [i.label for i in items if isinstance(i, Band)]
    assert bands == ["key change: the client's records are encrypted from here",
                     "key change: the server's records are encrypted from here"]
    svg = render_svg(items, title="TLS 1.2")
    assert "group: None" not in svg and "None" not in svg
    ske = next(i for i in items if isinstance(i, Arrow) and i.name == "ServerKeyExchange")
    assert ske.details[0] == "group: secp256r1; signed with ecdsa_secp256r1_sha256"
    assert ske.details[1].startswith("server key share: 04")
    cke = next(i for i in items if isinstance(i, Arrow) and i.name == "ClientKeyExchange")
    assert cke.details[0].startswith("client key share: 04")
    hello = next(i for i in items if isinstance(i, Arrow) and i.name == "ServerHello")
    assert "version: TLSv1.2" in hello.details[0]


def test_tls12_rich_trace_shows_every_message(ca: LocalCA) -> None:
    r = run(ca, {"versions": ["TLSv1.2"]}, {})
    out = io.StringIO()
    render_trace(r.client.steps, Console(file=out, width=200, color_system=None))
    text = out.getvalue()
    for name in ("ClientHello", "ServerHello", "Certificate", "ServerKeyExchange",
                 "ServerHelloDone", "ClientKeyExchange", "ChangeCipherSpec", "Finished"):
        assert name in text, name
    assert text.count("ChangeCipherSpec") == 2 and text.count("Finished") == 2


def test_every_step_the_engine_emits_is_in_the_vocabulary(ca: LocalCA) -> None:
    seen: set[str] = set()
    for client_kw, server_kw in ({}, {"session_tickets": 1}), ({"versions": ["TLSv1.2"]}, {}):
        r = run(ca, client_kw, server_kw)
        seen |= {s.step for s in r.client.steps} | {s.step for s in r.server.steps}
    assert seen <= {str(s) for s in TraceStep}
    assert set(STEPS) == set(TraceStep)
    assert {"server_key_exchange", "client_key_exchange", "server_hello_done",
            "client_change_cipher_spec", "server_change_cipher_spec"} <= seen
