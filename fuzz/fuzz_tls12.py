#!/usr/bin/env python3
"""Fuzz tlskit's TLS 1.2 client and server with what a hostile peer could send.

With atheris installed:   python fuzz/fuzz_tls12.py -atheris_runs=100000
Without it (standalone):  python fuzz/fuzz_tls12.py [ITERATIONS] [SEED]

The contract under test: `receive_data` returns events or raises a `TLSError` whose
alert is a real protocol alert (never internal_error); after a failure the queued output
ends with an alert record and every later call raises the same error.

One TLS 1.2 handshake is recorded between a deterministic client (seeded rng, TLS 1.2
only) and a deterministic server (seeded rng, Ed25519 certificate: deterministic
signatures), so fresh peers replay it byte for byte, and the record keys of both sides
are known. Byte 0 of the input picks the mode, byte 1 is an argument:

client side (a 1.2 client that has sent its ClientHello)
 0. raw bytes, cut into chunks of arg+1 bytes;
 1. the recorded server flight (ServerHello..ServerHelloDone) with the input written
    over it at an arg-chosen offset;
 2. the server flight with message arg%4 (ServerHello, Certificate, ServerKeyExchange,
    ServerHelloDone) replaced by the input: the decoders and checks of each message;
 3. the server flight, a CCS, then the input sealed under the server's real key as one
    record of type arg%4+20 (the server Finished position);
 4. a completed handshake, then the input sealed as the server's next record
    (HelloRequest, alerts, application data, CCS);
server side (a fresh 1.2-only server)
 5. raw bytes, cut into chunks of arg+1 bytes;
 6. the recorded ClientHello with the input written over it;
 7. the ClientHello, then the recorded client flight (ClientKeyExchange, CCS, Finished)
    with the input written over it;
 8. the ClientHello, then the input as the ClientKeyExchange message, CCS, Finished;
 9. the ClientHello, ClientKeyExchange, CCS, then the input sealed under the client's
    real key as one record of type arg%4+20 (the client Finished position);
10. a completed handshake, then the input sealed as the client's next record
    (a renegotiating ClientHello, alerts, application data);
RSA key transport (a 1.2 server opted in with legacy_rsa_key_exchange, RSA-2048 key made
once per process; the client offers TLS_RSA_WITH_AES_128_GCM_SHA256 only)
11. the ClientHello, then the input as the body of the ClientKeyExchange (the
    length-prefixed encrypted premaster: framing, PKCS#1 decryption, the premaster
    checks), the recorded CCS and Finished: a bad premaster must end in bad_record_mac;
12. the ClientHello, then the recorded RSA client flight with the input written over it.

Known findings (now fixed; tests/hostile/test_tls12.py
keeps them as regression tests):
- a certificate whose X.509 version is not 1..3 raises cryptography's InvalidVersion (not
  a ValueError) in `on_certificate`: internal_error instead of bad_certificate;
- a leaf with an unknown public-key algorithm (the harness's verifier accepts anything)
  raises UnsupportedAlgorithm from `public_key()`: internal_error instead of
  unsupported_certificate.
"""

from __future__ import annotations

import datetime
import random
import sys
from functools import cache
from typing import Any

import _harness
import _peers
from _harness import overwrite
from _peers import AcceptAll
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.x509.oid import NameOID
from tests.support.contract import survive
from tests.support.pump import flights
from tests.support.records import (
    COMPAT_CCS,
    KeyLog,
    Keys12,
    chunked,
    hs_record,
    keys12_from_log,
    messages_of,
    split_records,
)

from tlskit import ClientConfig, ClientConnection, ServerConfig, ServerConnection

MODES = 13
RSA_SUITE = "TLS_RSA_WITH_AES_128_GCM_SHA256"
COMPLETED = [0]  # handshakes the fuzzed peer completed (the seeds must reach some)


# --- the deterministic peers ----------------------------------------------------------------

def identity() -> tuple[x509.Certificate, ed25519.Ed25519PrivateKey]:
    return _peers.identity(100, 12)


def new_client(keylog: Any = None) -> ClientConnection:
    return ClientConnection(ClientConfig(verifier=AcceptAll(), versions=["TLSv1.2"],
                                         rng=random.Random(121).randbytes, keylog=keylog),
                            server_name="localhost")


def new_server() -> ServerConnection:
    cert, key = identity()
    return ServerConnection(ServerConfig(certificate_chain=[cert], private_key=key,
                                         versions=["TLSv1.2"],
                                         rng=random.Random(122).randbytes))


@cache
def rsa_identity() -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """An RSA-2048 certificate allowing keyEncipherment (made once: RSA key generation
    takes no rng, so the RSA recording replays within one process only)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(7)
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
            .sign(key, hashes.SHA256()))
    return cert, key


def new_rsa_client(keylog: Any = None) -> ClientConnection:
    return ClientConnection(ClientConfig(verifier=AcceptAll(), versions=["TLSv1.2"],
                                         rng=random.Random(123).randbytes, keylog=keylog,
                                         legacy_rsa_key_exchange=True,
                                         cipher_suites=[RSA_SUITE]),
                            server_name="localhost")


def new_rsa_server() -> ServerConnection:
    cert, key = rsa_identity()
    return ServerConnection(ServerConfig(certificate_chain=[cert], private_key=key,
                                         versions=["TLSv1.2"], legacy_rsa_key_exchange=True,
                                         rng=random.Random(124).randbytes))


@cache
def recorded() -> dict[str, Any]:
    return record(new_client, new_server())


@cache
def recorded_rsa() -> dict[str, Any]:
    return record(new_rsa_client, new_rsa_server())


def record(new_client: Any, server: ServerConnection) -> dict[str, Any]:
    """A whole 1.2 handshake, flight by flight, with both write keys from the key log."""
    log = KeyLog()
    client = new_client(log)
    ch, sf, cf, sfin = flights(client, server)
    assert client.handshake_complete is not None and client.version == "TLSv1.2"
    suite = client.handshake_complete.cipher_suite

    def keys(client: bool) -> Keys12:
        return keys12_from_log(log, suite, ch, sf, client=client)

    return {"client_hello": ch, "server_flight": sf, "client_flight": cf,
            "server_final": sfin, "server_keys": keys(False), "client_keys": keys(True)}


def check(conn: Any, chunks: list[bytes]) -> None:
    if survive(conn, chunks) is None and conn.handshake_complete is not None:
        COMPLETED[0] += 1


def client_after_hello() -> ClientConnection:
    return _harness.hello_sent(new_client())


def TestOneInput(data: bytes) -> None:
    if len(data) < 2:
        return
    mode, arg, body = data[0] % MODES, data[1], data[2:]
    rec = recorded()
    chunks = chunked(body, arg + 1)
    if mode == 0:
        check(client_after_hello(), chunks)
    elif mode == 1:
        check(client_after_hello(), [overwrite(rec["server_flight"], arg, body)])
    elif mode == 2:
        msgs = messages_of(rec["server_flight"])
        msgs[arg % len(msgs)] = body
        check(client_after_hello(), [hs_record(b"".join(msgs))])
    elif mode == 3:
        c = client_after_hello()
        c.receive_data(rec["server_flight"])
        c.data_to_send()
        check(c, [COMPAT_CCS + rec["server_keys"].seal(0, arg % 4 + 20, body)])
    elif mode == 4:
        c = client_after_hello()
        c.receive_data(rec["server_flight"])
        c.data_to_send()
        c.receive_data(rec["server_final"])
        check(c, [rec["server_keys"].seal(1, arg % 4 + 20, body)])
    elif mode == 5:
        check(new_server(), chunks)
    elif mode == 6:
        check(new_server(), [overwrite(rec["client_hello"], arg, body)])
    elif mode in (11, 12):
        rsa_kx(mode, arg, body)
    else:
        s = new_server()
        s.receive_data(rec["client_hello"])
        s.data_to_send()
        cke, ccs, fin = split_records(rec["client_flight"])
        if mode == 7:
            check(s, [overwrite(rec["client_flight"], arg, body)])
        elif mode == 8:
            check(s, [hs_record(body) + ccs + fin])
        elif mode == 9:
            check(s, [cke + ccs + rec["client_keys"].seal(0, arg % 4 + 20, body)])
        else:
            s.receive_data(rec["client_flight"])
            s.data_to_send()
            check(s, [rec["client_keys"].seal(1, arg % 4 + 20, body)])


def rsa_kx(mode: int, arg: int, body: bytes) -> None:
    """Modes 11 and 12: the RSA ClientKeyExchange and the flight around it."""
    rec = recorded_rsa()
    s = new_rsa_server()
    s.receive_data(rec["client_hello"])
    s.data_to_send()
    _cke, ccs, fin = split_records(rec["client_flight"])
    if mode == 11:
        check(s, [hs_record(b"\x10" + len(body).to_bytes(3, "big") + body) + ccs + fin])
    else:
        check(s, [overwrite(rec["client_flight"], arg, body)])


# --- standalone driver ----------------------------------------------------------------------

def seeds() -> list[bytes]:
    rec = recorded()
    sh, cert, ske, shd = messages_of(rec["server_flight"])
    cke = messages_of(rec["client_flight"])[0]
    return [
        b"\x00\xff" + rec["server_flight"],
        b"\x00\x07" + rec["server_flight"][:300],
        b"\x01\x00" + b"\x16\x03\x03",
        b"\x01\x30" + b"\xff\x01\x00\x01\x00",
        b"\x02\x00" + sh,
        b"\x02\x01" + cert,
        b"\x02\x02" + ske,
        b"\x02\x02" + ske[:4] + b"\x03\x00\x17\x41\x04" + bytes(64) + ske[-68:],
        b"\x02\x03" + shd,
        b"\x02\x03" + b"\x0d\x00\x00\x08\x01\x40\x00\x02\x08\x07\x00\x00" + shd,
        b"\x03\x02" + finished("server"),
        b"\x03\x00" + b"\x01",
        b"\x04\x02" + b"\x00\x00\x00\x00",
        b"\x04\x01" + b"\x01\x64",
        b"\x04\x03" + b"HTTP/1.1 200 OK\r\n",
        b"\x05\x00" + rec["client_hello"],
        b"\x06\x80" + b"\x00\x17\x00\x00",
        b"\x07\x20" + b"\x14\x03\x03\x00\x01\x01",
        b"\x08\x00" + cke,
        b"\x08\x00" + cke[:4] + b"\x20" + bytes(32),
        b"\x09\x02" + finished("client"),
        b"\x0a\x02" + rec["client_hello"][5:],
        b"\x0a\x03" + b"GET / HTTP/1.1\r\n\r\n",
        *rsa_seeds(),
    ]


def rsa_seeds() -> list[bytes]:
    """The real RSA ClientKeyExchange body (the handshake completes), and spoilt ones."""
    cke = messages_of(recorded_rsa()["client_flight"])[0][4:]
    return [b"\x0b\x00" + cke, b"\x0b\x00" + cke[:-1] + bytes((cke[-1] ^ 1,)),
            b"\x0b\x00" + cke[:2] + bytes(len(cke) - 2), b"\x0b\x00" + cke[:40],
            b"\x0b\x00\x00\x00", b"\x0c\x00" + b"\x10\x00\x01\x02\x01\x00"]


def finished(side: str) -> bytes:
    """The real Finished message of one side, opened from its recorded record."""
    rec = recorded()
    flight = rec["server_final"] if side == "server" else rec["client_flight"]
    return rec[f"{side}_keys"].open(0, split_records(flight)[-1])[1]


def random_input(rng: random.Random) -> bytes:
    if rng.random() < 0.1:
        return bytes((rng.randrange(MODES),)) + rng.randbytes(rng.randint(1, 200))
    data = bytearray(_harness.mutate(rng, rng.choice(seeds()), keep=2,
                                     interesting=(0, 1, 2, 3, 4, 0x14, 0x16, 0x17, 0xFF)))
    if rng.random() < 0.2:
        data[1] = rng.randrange(256)
    return bytes(data)


def run(iterations: int, seed: int = 0) -> None:
    _harness.run(TestOneInput, random_input, iterations, seed)


def reached_completion() -> int:
    """How many seeds that put the input in a Finished position (modes 3 and 9) or the
    real RSA ClientKeyExchange in its place (mode 11) complete the handshake: with the
    real message, all three must (a depth check of the harness)."""
    before = COMPLETED[0]
    for data in seeds():
        if data[0] % MODES in (3, 9) or data == rsa_seeds()[0]:
            TestOneInput(data)
    return COMPLETED[0] - before


if __name__ == "__main__":
    sys.exit(_harness.main(sys.argv, TestOneInput, random_input))
