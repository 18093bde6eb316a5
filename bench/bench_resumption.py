"""Resumed handshakes per second, tlskit vs the stdlib `ssl` module, in one run.

    python bench/bench_resumption.py [--quick] [--handshakes N] [--batches B]

Four pairs, each in memory (no sockets), configs built once, X25519, ECDSA P-256 chain:
TLS 1.2 by session ID, TLS 1.2 by RFC 5077 ticket, TLS 1.3 by ticket (PSK with ECDHE),
and a full TLS 1.3 handshake for scale. tlskit's client keeps its sessions in a
`SessionCache`; ssl's client passes the newest `SSLSession` it got. Every run checks
that both ends report the handshake resumed. Prints ms per pair and ratios tlskit/ssl
(time; lower is better). Nothing is asserted on time.
"""

from __future__ import annotations

import argparse
import contextlib
import ssl
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

from tlskit import ClientConfig, ServerConfig
from tlskit.session import SessionCache


def tlskit_pair(version: str, tickets: bool,
                pki: c.PKI) -> tuple[ClientConfig, ServerConfig]:
    # secp256r1 listed too: a TLS 1.2 client must accept the leaf's curve (RFC 8422 5.1).
    client = ClientConfig(trust_anchors=[pki.root], groups=["x25519", "secp256r1"],
                          versions=[version], session_cache=SessionCache())
    server = ServerConfig(certificate_chain=pki.chain, private_key=pki.key, groups=["x25519"],
                          session_tickets=2 if tickets else 0)
    return client, server


def tlskit_resumed(client_cfg: ClientConfig, server_cfg: ServerConfig) -> bool:
    client, server = c.tlskit_handshake(client_cfg, server_cfg)
    assert client.handshake_complete is not None and server.handshake_complete is not None
    return client.handshake_complete.resumed and server.handshake_complete.resumed


def ssl_pair(version: ssl.TLSVersion, tickets: bool,
             pki: c.PKI) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    client, server = c.ssl_contexts(pki)
    for ctx in (client, server):
        ctx.minimum_version = ctx.maximum_version = version
    if not tickets:
        server.options |= ssl.OP_NO_TICKET  # TLS 1.2: the server's session-ID cache
    return client, server


class SSLResumer:
    """Keeps the newest session the client received and offers it each time."""

    def __init__(self, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext) -> None:
        self.client_ctx, self.server_ctx = client_ctx, server_ctx
        self.session: ssl.SSLSession | None = None

    def handshake(self) -> bool:
        ci, co, si, so = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
        client = self.client_ctx.wrap_bio(ci, co, server_side=False,
                                          server_hostname=c.HOSTNAME, session=self.session)
        server = self.server_ctx.wrap_bio(si, so, server_side=True)
        done = [False, False]
        for _ in range(16):
            for i, (obj, out, peer_in) in enumerate(((client, co, si), (server, so, ci))):
                if not done[i]:
                    try:
                        obj.do_handshake()
                        done[i] = True
                    except ssl.SSLWantReadError:
                        pass
                data = out.read()
                if data:
                    peer_in.write(data)
            if all(done):
                break
        else:
            raise RuntimeError("ssl handshake stalled")
        if ci.pending:  # TLS 1.3 tickets arrive after the handshake
            with contextlib.suppress(ssl.SSLWantReadError):
                client.read(1)
        self.session = client.session
        reused = client.session_reused and server.session_reused
        # OpenSSL drops a server session from its cache if the connection is freed
        # without a shutdown: send the server's close_notify, as a real server would.
        with contextlib.suppress(ssl.SSLWantReadError):
            server.unwrap()
        return reused


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a short smoke run")
    ap.add_argument("--handshakes", type=int, help="handshake pairs per batch")
    ap.add_argument("--batches", type=int, help="interleaved batches per contestant")
    args = ap.parse_args()
    n = args.handshakes or (20 if args.quick else 200)
    batches = args.batches or (3 if args.quick else 7)
    c.set_clock("cpu")  # as bench_tls.py: CPU time, less noise on a shared machine
    print(c.versions())
    pki = c.make_pki()
    cases: dict[str, tuple[Callable[[], bool], Callable[[], bool]]] = {}
    for label, version, ssl_version, tickets in (
            ("TLS 1.2 session ID", "TLSv1.2", ssl.TLSVersion.TLSv1_2, False),
            ("TLS 1.2 ticket", "TLSv1.2", ssl.TLSVersion.TLSv1_2, True),
            ("TLS 1.3 ticket", "TLSv1.3", ssl.TLSVersion.TLSv1_3, True)):
        cfgs = tlskit_pair(version, tickets, pki)
        resumer = SSLResumer(*ssl_pair(ssl_version, tickets, pki))
        tlskit_resumed(*cfgs)  # the full handshake that leaves the first session
        resumer.handshake()
        assert tlskit_resumed(*cfgs), f"tlskit did not resume ({label})"
        assert resumer.handshake(), f"ssl did not resume ({label})"
        cases[label] = (lambda cfgs=cfgs: tlskit_resumed(*cfgs), resumer.handshake)
    full = c.tlskit_configs(pki, tickets=0)
    full_ssl = c.ssl_contexts(pki, num_tickets=0)
    cases["TLS 1.3 full (reference)"] = (lambda: not tlskit_resumed(*full),
                                         lambda: not c.ssl_handshake(*full_ssl)[0].obj
                                         .session_reused)
    runs = {}
    for label, (ours, theirs) in cases.items():
        runs[f"tlskit {label}"] = lambda f=ours: c.time_batch(f, n)
        runs[f"ssl {label}"] = lambda f=theirs: c.time_batch(f, n)
    res = c.interleaved(runs, batches)
    print(f"== resumed handshakes, in memory ({batches} batches of {n}; median per pair) ==")
    for key, values in res.items():
        ms = c.median(values) * 1e3
        print(f"  {key:<36} {ms:7.3f} ms/pair  {1000 / ms:8.0f} pairs/s  ({c.spread(values)})")
    for label in cases:
        ratio = c.median(res[f"tlskit {label}"]) / c.median(res[f"ssl {label}"])
        kind = "handshake" if "full" in label else "resumed"
        print(f"ratio {kind} {label} tlskit/ssl (time): {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
