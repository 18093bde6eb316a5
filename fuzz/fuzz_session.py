#!/usr/bin/env python3
"""Fuzz the session-ticket state decoder (`tlskit.session.decode_state`) and
`TicketSealer.open`, which every resumption attempt (a TLS 1.3 PSK identity, a TLS 1.2
ticket or session-ID cache entry) goes through.

With atheris installed:   python fuzz/fuzz_session.py -max_total_time=60 CORPUS_DIR
Without it (standalone):  python fuzz/fuzz_session.py [ITERATIONS] [SEED]

The contract under test: `decode_state` returns a `TicketState` or None, never raises;
what it returns re-encodes (`encode_state`) to something that decodes to the same state;
`open` returns a state or None for any ticket.

Byte 0 of the input picks the mode: even, the rest is a decrypted ticket body handed to
`decode_state` (and also sealed under the sealer's real key and opened, so the decoder
is reached behind a good tag); odd, the rest is a ticket as a client sends it.
"""

from __future__ import annotations

import sys

from _harness import main, seeded

from tlskit.crypto import SUITES, SUITES12
from tlskit.session import TicketSealer, TicketState, decode_state, encode_state
from tlskit.sessionstore import GuardedStore, MemoryStore

NOW = 1_700_000_000.0
SEALER = TicketSealer(GuardedStore(MemoryStore(fixed_key=bytes(range(32)))), lambda: NOW)
NONCE = bytes(12)


def _check(state: TicketState | None) -> None:
    if state is not None:
        assert decode_state(encode_state(state)) == state


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    body = data[1:]
    if data[0] % 2 == 0:
        _check(decode_state(body))
        sealed = SEALER.seal_many([body], [NONCE])
        assert sealed is not None
        opened = SEALER.open(sealed[0])
        assert opened == decode_state(body)
        _check(opened)
    else:
        _check(SEALER.open(body))


def seeds() -> list[bytes]:
    suite = next(iter(SUITES.values()))
    states = [
        TicketState(suite, bytes(32), 1_700_000_000_000, 7200, "h2", "example.com"),
        TicketState(suite, b"p" * 48, 5, 1, None, None, bytes(32), [b"\x30\x03\x02\x01\x01"],
                    max_early_data=16384, age_add=0xDEADBEEF),
        TicketState(next(iter(SUITES12.values())), bytes(48), 5, 60, None, "example.com",
                    tls12=True,
                    server_end_point=b"\xe0" * 32),  # (RFC 5929 4.1's binding)
        TicketState(suite, bytes(32), 5, 60, None, None, server_end_point=b""),  # (none)
    ]
    out = [b"\x00" + encode_state(s) for s in states]
    sealed = SEALER.seal_many([encode_state(s) for s in states],
                              [NONCE, b"\x01" * 12, b"\x02" * 12, b"\x03" * 12])
    assert sealed is not None
    return out + [b"\x01" + t for t in sealed]


random_input = seeded(seeds, raw_max=120, keep=1, rounds=3,
                      interesting=(0, 1, 2, 3, 0x13, 0x7F, 0xFF))

if __name__ == "__main__":
    sys.exit(main(sys.argv, TestOneInput, random_input))
