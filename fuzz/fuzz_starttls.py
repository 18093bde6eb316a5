#!/usr/bin/env python3
"""Fuzz the STARTTLS plaintext exchanges (`tlskit.io.preamble`), both sides.

With atheris installed:   python fuzz/fuzz_starttls.py -atheris_runs=100000
Without it (standalone):  python fuzz/fuzz_starttls.py [ITERATIONS] [SEED]

The first byte picks the protocol and the side; the rest is what the peer sends before
it closes. The contract: `starttls` / `starttls_accept` either return (the peer said what
a real one says) or raise `StartTLSError`; never another exception, never a hang.
"""

from __future__ import annotations

import random
import socket
import sys

from _harness import main

from tlskit.io.preamble import STARTTLS_PROTOCOLS, StartTLSError, starttls, starttls_accept

_CHOICES = [(p, side) for p in STARTTLS_PROTOCOLS for side in ("client", "server")]


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    protocol, side = _CHOICES[data[0] % len(_CHOICES)]
    ours, peer = socket.socketpair()
    with ours, peer:
        peer.sendall(data[1:])
        peer.shutdown(socket.SHUT_WR)
        try:
            if side == "client":
                starttls(ours, protocol, timeout=5)
            else:
                starttls_accept(ours, protocol, timeout=5)
        except StartTLSError as exc:
            assert str(exc)


def seeds() -> list[bytes]:
    def pick(protocol: str, side: str) -> bytes:
        return bytes([_CHOICES.index((protocol, side))])

    return [
        pick("smtp", "client") + b"220 mx\r\n250-mx\r\n250 STARTTLS\r\n220 go\r\n",
        pick("smtp", "client") + b"220 mx\r\n250-mx\r\n250 STARTTLS\r\n220 go\r\n250 x\r\n",
        pick("imap", "client") + b"* OK\r\n* CAPABILITY STARTTLS\r\na1 OK\r\na2 OK\r\n",
        pick("pop3", "client") + b"+OK\r\n+OK\r\nSTLS\r\n.\r\n+OK\r\n",
        pick("ftp", "client") + b"220-a\r\n b\r\n220 c\r\n234 go\r\n",
        pick("postgres", "client") + b"S",
        pick("smtp", "server") + b"EHLO x\r\nSTARTTLS\r\n",
        pick("smtp", "server") + b"EHLO x\r\nSTARTTLS\r\nMAIL FROM:<a>\r\n",
        pick("imap", "server") + b"a CAPABILITY\r\nb STARTTLS\r\n",
        pick("pop3", "server") + b"CAPA\r\nSTLS\r\n",
        pick("ftp", "server") + b"FEAT\r\nAUTH TLS\r\n",
        pick("postgres", "server") + b"\x00\x00\x00\x08\x04\xd2\x16\x30",
        pick("xmpp", "client") + b"<stream:stream version='1.0'><stream:features><starttls "
                                 b"xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>"
                                 b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
        pick("xmpp", "server") + b"<stream:stream to='x'><starttls "
                                 b"xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
        pick("postgres", "server") + b"\x00\x00\x00\x08\x04\xd2\x16\x2f\x00\x00\x00\x08"
                                     b"\x04\xd2\x16\x2f",
        pick("xmpp", "client") + b"<stream:stream a='>'><stream:error><host-unknown/>",
        pick("xmpp", "server") + b"<stream:stream to='x'><starttls a='>' "
                                 b"xmlns='urn:ietf:params:xml:ns:xmpp-tls'></starttls>",
        pick("postgres", "server") + b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        pick("smtp", "client") + b"220-mx\r\n554 no\r\n",
        pick("ftp", "client") + b"120 wait\r\n220 ok\r\n234 go\r\n",
    ]


def random_input(rng: random.Random) -> bytes:
    base = rng.choice(seeds())
    if rng.random() < 0.5:
        return base
    body = bytearray(base)
    for _ in range(rng.randint(1, 6)):
        at = rng.randint(1, len(body))
        body[at:at] = rng.choice([b"\r\n", b"\n", b"-", b" ", b"\xff", b"220", b".",
                                  bytes([rng.randrange(256)])])
    return bytes(body)


if __name__ == "__main__":
    sys.exit(main(sys.argv, TestOneInput, random_input, default_iterations=2_000))
