"""`tlskit demo --classic`: the handshake the usual explanation of SSL describes, run for
real, and what it costs.

"The browser makes a session key, encrypts it with the server's public key, and the
server decrypts it with its private key" is TLS 1.2 RSA key transport
(TLS_RSA_WITH_AES_128_GCM_SHA256, RFC 5246 7.4.7.1). The demo runs it between a tlskit
client and server on 127.0.0.1 (both opted in with ``legacy_rsa_key_exchange=True``) and
shows, from both sides' traces and the bytes on the socket:

1. the premaster secret the client made,
2. its encryption to the server's RSA key, as it crossed the wire,
3. the server decrypting it, and both sides deriving the same master secret;

then what the design costs:

4. `recover` gets the recorded bytes and the server's private key and nothing else (no
   trace, no engine object), decrypts the premaster, rebuilds the master secret and key
   block with the TLS 1.2 PRF, and opens the recorded application records;
5. the default demo's ECDHE handshake (TLS 1.3) runs against the same server and key, and
   `recover` on its recording finds nothing the key can open (forward secrecy).
"""

from __future__ import annotations

import argparse
import hashlib
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .. import prf12
from ..ca import LocalCA
from ..crypto import SUITES12
from ..enums import CipherSuite, ExtensionType, NamedGroup
from ..wire import messages as m
from . import diagram
from .demo import SERVER_NAME, _DemoServer, _hex, _run_session, _Session, emit, write_diagram
from .render import render_classic
from .trace import name_of

RSA_SUITE = "TLS_RSA_WITH_AES_128_GCM_SHA256"
CLIENT_TO_SERVER, SERVER_TO_CLIENT = "client->server", "server->client"
HANDSHAKE, CCS, APPLICATION_DATA = 22, 20, 23
CLIENT_HELLO, SERVER_HELLO, CLIENT_KEY_EXCHANGE, NEW_SESSION_TICKET = 1, 2, 16, 4


def run(args: argparse.Namespace) -> int:
    """`tlskit demo --classic` (the CLI dispatches here on --classic)."""
    result = run_classic()
    sessions = result.pop("_sessions")
    if args.diagram:
        write_diagram(args.diagram, classic_diagram(sessions[0], result),
                      "tlskit demo --classic: TLS 1.2 RSA key transport", result)
    emit(args, result, render_classic)
    return 0 if result["ok"] else 1


# --------------------------------------------------------------------------- recovery


@dataclass
class Recovery:
    """What someone holding a recording and the server's private key gets out of it."""

    key_exchange: str
    attempts: list[str] = field(default_factory=list)
    premaster: bytes | None = None
    master_secret: bytes | None = None
    records_total: int = 0
    records_opened: int = 0
    client_data: bytes = b""
    server_data: bytes = b""

    @property
    def recovered(self) -> bool:
        return self.records_opened > 0

    def to_dict(self) -> dict[str, Any]:
        return {"key_exchange": self.key_exchange, "attempts": self.attempts,
                "recovered": self.recovered, "premaster": _hex(self.premaster),
                "master_secret": _hex(self.master_secret),
                "records_total": self.records_total, "records_opened": self.records_opened,
                "client_data": self.client_data.decode("utf-8", "replace"),
                "server_data": self.server_data.decode("utf-8", "replace")}


def _records(stream: bytes) -> list[tuple[int, bytes]]:
    """(content type, fragment) of every whole record in one direction's bytes."""
    out, pos = [], 0
    while pos + 5 <= len(stream):
        length = int.from_bytes(stream[pos + 3:pos + 5], "big")
        out.append((stream[pos], stream[pos + 5:pos + 5 + length]))
        pos += 5 + length
    return out


def _plain_handshake(records: list[tuple[int, bytes]]) -> list[bytes]:
    """The handshake messages sent in the clear: those before the first CCS."""
    stream = bytearray()
    for ctype, fragment in records:
        if ctype == CCS:
            break
        if ctype == HANDSHAKE:
            stream += fragment
    out = []
    while len(stream) >= 4:
        n = int.from_bytes(stream[1:4], "big")
        out.append(bytes(stream[:4 + n]))
        del stream[:4 + n]
    return out


def _protected(records: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    """The records after the first CCS (TLS 1.2: protected under the negotiated keys)."""
    first = next((i for i, (ctype, _) in enumerate(records) if ctype == CCS), len(records))
    return records[first + 1:]


def recover(client_to_server: bytes, server_to_client: bytes,
            private_key: rsa.RSAPrivateKey) -> Recovery:
    """Decrypt a recorded TLS session with the server's private key, from the recorded
    bytes alone, as someone who copied the traffic and later obtained the key would."""
    c_records, s_records = _records(client_to_server), _records(server_to_client)
    c_msgs, s_msgs = _plain_handshake(c_records), _plain_handshake(s_records)
    hello = m.ClientHello.decode(memoryview(c_msgs[0])[4:])
    server_hello = m.ServerHello.decode(memoryview(s_msgs[0])[4:])
    if ExtensionType.supported_versions in server_hello.extensions:
        return _no_key_transport(hello, server_hello, c_records, s_records, private_key)
    cke = next(msg for msg in c_msgs if msg[0] == CLIENT_KEY_EXCHANGE)
    suite = SUITES12[server_hello.cipher_suite]
    out = Recovery(f"{CipherSuite(suite.code).name}: RSA key transport")
    encrypted = cke[6:]  # type, 24-bit length, 16-bit vector length
    try:
        out.premaster = private_key.decrypt(encrypted, padding.PKCS1v15())
    except ValueError as exc:  # another key's ciphertext (without implicit rejection)
        out.attempts.append(f"the private key does not decrypt the ClientKeyExchange: {exc}")
        return out
    out.attempts.append(f"decrypted the {len(encrypted)}-byte ClientKeyExchange with the "
                        f"private key: a {len(out.premaster)}-byte premaster secret")
    out.master_secret = _master_secret(suite.hash_name, out.premaster, hello, server_hello,
                                       c_msgs, s_msgs, out.attempts)
    block = prf12.key_block(suite.hash_name, out.master_secret, hello.random,
                            server_hello.random, 2 * suite.key_length + 8)
    k = suite.key_length
    client_key, server_key = block[:k], block[k:2 * k]
    client_iv, server_iv = block[2 * k:2 * k + 4], block[2 * k + 4:]
    out.attempts.append("expanded it into the key block (RFC 5246 6.3): both write keys")
    for records, key, iv, who in ((c_records, client_key, client_iv, "client"),
                                  (s_records, server_key, server_iv, "server")):
        data = _open_records(_protected(records), AESGCM(key), iv, out)
        if who == "client":
            out.client_data = data
        else:
            out.server_data = data
    out.attempts.append(f"opened {out.records_opened} of {out.records_total} protected "
                        "records (Finished, application data, alerts)")
    return out


def _master_secret(hash_name: str, premaster: bytes, hello: m.ClientHello,
                   server_hello: m.ServerHello, c_msgs: list[bytes], s_msgs: list[bytes],
                   attempts: list[str]) -> bytes:
    """RFC 7627 4 (the hash of the recorded handshake through ClientKeyExchange) when the
    hellos agreed the extended master secret, else RFC 5246 8.1 (the randoms)."""
    if ExtensionType.extended_master_secret in server_hello.extensions:
        server_part = [msg for msg in s_msgs if msg[0] != NEW_SESSION_TICKET]
        client_part = c_msgs[1:c_msgs.index(next(x for x in c_msgs
                                                 if x[0] == CLIENT_KEY_EXCHANGE)) + 1]
        transcript = b"".join([c_msgs[0], *server_part, *client_part])
        session_hash = hashlib.new(hash_name, transcript).digest()
        attempts.append("hashed the recorded handshake messages (extended master secret, "
                        "RFC 7627) and ran the PRF: the master secret")
        return prf12.extended_master_secret(hash_name, premaster, session_hash)
    attempts.append("ran the PRF over the premaster and both randoms: the master secret")
    return prf12.classic_master_secret(hash_name, premaster, hello.random, server_hello.random)


def _open_records(records: list[tuple[int, bytes]], aead: AESGCM, salt: bytes,
                  out: Recovery) -> bytes:
    """RFC 5288 3: nonce = salt || explicit (8 bytes in the record); additional data =
    seq || type || version || plaintext length. Returns the application data."""
    data = bytearray()
    for seq, (ctype, fragment) in enumerate(records):
        out.records_total += 1
        explicit, sealed = fragment[:8], fragment[8:]
        aad = seq.to_bytes(8, "big") + bytes((ctype,)) + b"\x03\x03" + (
            len(sealed) - 16).to_bytes(2, "big")
        try:
            plain = aead.decrypt(salt + explicit, sealed, aad)
        except InvalidTag:
            continue
        out.records_opened += 1
        if ctype == APPLICATION_DATA:
            data += plain
    return bytes(data)


def _no_key_transport(hello: m.ClientHello, server_hello: m.ServerHello,
                      c_records: list[tuple[int, bytes]], s_records: list[tuple[int, bytes]],
                      private_key: rsa.RSAPrivateKey) -> Recovery:
    """A TLS 1.3 recording: the secret came from an ECDHE exchange whose private halves
    were never sent and are gone; the private key signed the handshake, nothing more."""
    out = Recovery(f"{CipherSuite(server_hello.cipher_suite).name}: ECDHE")
    shares = _key_shares(hello)
    out.attempts.append("looked for a ClientKeyExchange (a secret encrypted to the server's "
                        "key): there is none in TLS 1.3")
    for group, public in shares:
        try:
            private_key.decrypt(public, padding.PKCS1v15())
            verdict = "decrypts to noise (it was never encrypted to this key)"
        except ValueError:
            verdict = f"not an RSA ciphertext ({len(public)} bytes, the key needs " \
                      f"{private_key.key_size // 8})"
        out.attempts.append(f"tried the private key on the client's {group} key share: "
                            f"{verdict}")
    out.attempts.append("the shared secret needs a private key share, which neither side "
                        "sent or kept; without it no traffic secret can be derived")
    protected = [r for r in (*c_records, *s_records) if r[0] == APPLICATION_DATA]
    out.records_total = len(protected)
    out.attempts.append(f"opened 0 of {len(protected)} protected records")
    return out


def _key_shares(hello: m.ClientHello) -> list[tuple[str, bytes]]:
    """The client's key shares as (group name, public value), read from the ClientHello."""
    body = hello.extensions.get(ExtensionType.key_share)
    if body is None:
        return []
    data, out, pos = bytes(body), [], 2
    while pos + 4 <= len(data):
        group = int.from_bytes(data[pos:pos + 2], "big")
        n = int.from_bytes(data[pos + 2:pos + 4], "big")
        out.append((name_of(NamedGroup, group), data[pos + 4:pos + 4 + n]))
        pos += 4 + n
    return out


# --------------------------------------------------------------------------- the story


def run_classic() -> dict[str, Any]:
    """Both sessions against one RSA-certificate server; the JSON-able result (plus
    ``_sessions``: the RSA and the ECDHE `_Session`)."""
    ca = LocalCA.create(None, name="tlskit demo CA")
    issued = ca.issue_server([SERVER_NAME, "127.0.0.1"], key_type="rsa2048", days=1)
    server = _DemoServer(issued, None, legacy_rsa_key_exchange=True)
    try:
        classic = _run_session(1, server, ca, legacy_rsa_key_exchange=True,
                               versions=["TLSv1.2"], cipher_suites=[RSA_SUITE])
        ecdhe = _run_session(2, server, ca)  # the default demo's handshake
    finally:
        server.close()
    key = issued.private_key
    assert isinstance(key, rsa.RSAPrivateKey)
    later = recover(classic.wire.stream(CLIENT_TO_SERVER),
                    classic.wire.stream(SERVER_TO_CLIENT), key)
    attempt = recover(ecdhe.wire.stream(CLIENT_TO_SERVER),
                      ecdhe.wire.stream(SERVER_TO_CLIENT), key)
    steps = [*_story(classic), _after_the_fact(classic, later), _ecdhe_beside(ecdhe, attempt)]
    host, port = server.address
    return {
        "server": f"{host}:{port}",
        "ca": {"root": ca.root.subject.rfc4514_string(), "stored": "in memory only"},
        "server_key": f"RSA {key.key_size} bits",
        "rsa_session": _summary(classic),
        "ecdhe_session": _summary(ecdhe),
        "steps": steps,
        "after_the_fact": later.to_dict(),
        "ecdhe_attempt": attempt.to_dict(),
        "ok": all(c["ok"] is not False for st in steps for c in st["checks"]),
        "_sessions": [classic, ecdhe],
    }


def _summary(s: _Session) -> dict[str, Any]:
    hc = s.complete
    return {"version": hc.version, "cipher_suite": hc.cipher_suite.name,
            "group": hc.group.name if hc.group is not None else None,
            "request": s.request.decode(), "reply": s.reply.decode(),
            "wire_bytes": {"client_to_server": s.wire.total(CLIENT_TO_SERVER),
                           "server_to_client": s.wire.total(SERVER_TO_CLIENT)}}


def _row(label: str, value: Any) -> dict[str, Any]:
    return {"label": label, "value": value}


def _check(name: str, ok: bool, detail: str) -> dict[str, Any]:
    return {"name": name, "ok": bool(ok), "detail": detail}


def _step(number: int, title: str, summary: str, messages: list[str], t: tuple[float, float],
          rows: list[dict[str, Any]], checks: list[dict[str, Any]]) -> dict[str, Any]:
    return {"number": number, "title": title, "summary": summary, "messages": messages,
            "t_ms": t[0], "t_end_ms": t[1], "rows": rows, "checks": checks}


def _story(s: _Session) -> list[dict[str, Any]]:
    """Steps 1-3: the premaster made, encrypted, sent and decrypted."""
    c_cke, s_cke = s.client.find("client_key_exchange"), s.server.recorder.find(
        "client_key_exchange")
    assert c_cke is not None and s_cke is not None
    made = c_cke.values["premaster_secret"]
    encrypted = c_cke.values["encrypted_premaster"]
    decrypted = s_cke.values["premaster_secret"]
    leaf_key = s.complete.peer_certificates[0].public_key()
    masters = (s.client.keys.get("CLIENT_RANDOM"), s.server.recorder.keys.get("CLIENT_RANDOM"))
    return [
        _step(1, "The client makes the session secret",
              "With RSA key transport the client alone makes the secret: 48 bytes, the "
              "version it offered (03 03) then 46 random bytes, the premaster secret.",
              ["(local)"], (c_cke.t_ms, c_cke.t_ms),
              [_row("suite", s.complete.cipher_suite.name), _row("premaster secret", made.hex()),
               _row("version inside it", f"0x{made[:2].hex()}")],
              [_check("premaster length", len(made) == 48,
                      f"{len(made)} bytes, as RFC 5246 7.4.7.1 says")]),
        _step(2, "It encrypts the secret with the server's public key",
              "The server's certificate carries its RSA public key; the client encrypts the "
              "premaster to it (PKCS#1 v1.5) and sends the result in ClientKeyExchange.",
              ["Certificate", "ClientKeyExchange"], (c_cke.t_ms, c_cke.t_ms),
              [_row("server public key", f"RSA {leaf_key.key_size} bits"),  # type: ignore[union-attr]
               _row("ciphertext on the wire", encrypted.hex())],
              [_check("ciphertext is on the wire", s.wire.contains(encrypted),
                      "found in the bytes the client sent"),
               _check("premaster is not on the wire", not s.wire.contains(made),
                      "only its encryption travels")]),
        _step(3, "The server decrypts it with its private key",
              "Only the private key's holder can decrypt it; both sides then run the TLS "
              "1.2 PRF over the premaster and the handshake to get the master secret.",
              ["ClientKeyExchange"], (s_cke.t_ms, s_cke.t_ms),
              [_row("premaster (server)", decrypted.hex()),
               _row("master secret", _hex(masters[0]))],
              [_check("same premaster", decrypted == made,
                      "the server decrypted exactly what the client made"),
               _check("same master secret", masters[0] is not None
                      and masters[0] == masters[1], "both sides derived it independently")]),
    ]


def _after_the_fact(s: _Session, later: Recovery) -> dict[str, Any]:
    """Step 4: the recording opened with the private key alone."""
    made = s.client.value("client_key_exchange", "premaster_secret")
    return _step(
        4, "What it costs: the recording, decrypted later with the private key",
        "Whoever recorded these bytes and one day obtains the server's private key (a "
        "breach, a subpoena, a discarded disk) decrypts the premaster, rebuilds every key "
        "with the public PRF, and reads the session: this one and every other recorded.",
        ["(offline)"], (s.reply_t_ms, s.reply_t_ms),
        [_row("inputs", "the recorded bytes and the server's private key, nothing else"),
         *[_row(f"step {i}", a) for i, a in enumerate(later.attempts, 1)],
         _row("client's data, recovered", later.client_data.decode("utf-8", "replace")),
         _row("server's data, recovered", later.server_data.decode("utf-8", "replace"))],
        [_check("premaster recovered", later.premaster == made,
                "equals the one the client made"),
         _check("master secret recovered",
                later.master_secret == s.client.keys.get("CLIENT_RANDOM"),
                "equals the one both sides used"),
         _check("plaintext recovered", later.client_data == s.request
                and later.server_data == s.reply,
                "the decrypted records are exactly what was sent")])


def _ecdhe_beside(s: _Session, attempt: Recovery) -> dict[str, Any]:
    """Step 5: the same key against the default (ECDHE) handshake recovers nothing."""
    shared = s.client.value("server_hello", "shared_secret")
    return _step(
        5, "ECDHE beside it: the same key recovers nothing",
        "The default handshake (TLS 1.3) agrees its secret by ECDHE: each side combines "
        "a throwaway private key with the other's public share, and the server's "
        "certificate key only signs. The recording holds nothing encrypted to that key.",
        ["ClientHello key_share", "ServerHello key_share"], (0.0, s.handshake_ms),
        [_row("suite", s.complete.cipher_suite.name),
         _row("group", s.complete.group.name if s.complete.group else None),
         *[_row(f"attempt {i}", a) for i, a in enumerate(attempt.attempts, 1)]],
        [_check("nothing recovered", not attempt.recovered and attempt.records_total > 0,
                f"0 of {attempt.records_total} records opened with the private key"),
         _check("shared secret never on the wire",
                shared is not None and not s.wire.contains(shared),
                "the ECDHE shared secret was computed on each side, never sent"),
         _check("the session itself worked", s.server.received == s.request,
                "the server read the client's message")])


def classic_diagram(s: _Session, result: dict[str, Any]) -> list[diagram.Item]:
    """The RSA session's messages, with notes where the premaster is decrypted and what
    the private key does to the recording, and the ECDHE verdict."""
    items = diagram.items_from_steps(s.client.steps, s.app_arrows)
    at = next(i for i, it in enumerate(items) if isinstance(it, diagram.Arrow)
              and it.name == "ClientKeyExchange")
    items.insert(at + 1, diagram.Note("server", "private key decrypts premaster"))
    later, attempt = result["after_the_fact"], result["ecdhe_attempt"]
    items.append(diagram.Band("later: the recording + the server's private key"))
    for name, what in (("RSA", later), ("ECDHE", attempt)):
        items.append(diagram.Note("server", f"{name}: {what['records_opened']}/"
                                  f"{what['records_total']} records decrypted",
                                  ok=what["recovered"] is False))
    return items
