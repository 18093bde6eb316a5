"""tlskit against the stdlib `ssl` module, side by side, in memory.

    python bench/bench_tls.py            # full run (about a minute)
    python bench/bench_tls.py --quick    # smoke run (a few seconds)
    python bench/bench_tls.py --profile handshake|bulk-aes|bulk-chacha [--profiler pyinstrument]

1. Handshake: one full TLS 1.3 handshake pair (X25519, ECDSA P-256 leaf issued by an
   intermediate under a root, chain verified for "localhost"), median time per pair.
2. Bulk: application data client -> server in 16 KiB records (encrypt on one side,
   decrypt on the other), MB/s for AES-128-GCM and ChaCha20-Poly1305, with the bare
   AEAD calls of `cryptography` as the ceiling.

Python 3.11's `ssl` cannot choose TLS 1.3 cipher suites, so the stdlib's bulk numbers
come from worker subprocesses of this script whose OPENSSL_CONF sets ``Ciphersuites`` in
the ``system_default`` section; the parent alternates batches with them. Nothing here
asserts on time: it measures and prints. See bench/README.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from tlskit import ClientConfig, DataReceived
from tlskit.record import HEADER

HANDSHAKE_TARGET = 1.0  # tlskit time <= the stdlib's (issue 10)
BULK_TARGETS = {"TLS_AES_128_GCM_SHA256": 1.6, "TLS_CHACHA20_POLY1305_SHA256": 1.0}

OPENSSL_CONF_TEMPLATE = """\
openssl_conf = openssl_init

[openssl_init]
ssl_conf = ssl_sect

[ssl_sect]
system_default = system_default_sect

[system_default_sect]
Ciphersuites = {suite}
"""


# ---------------------------------------------------------------------------- handshake

def asymmetric_floor(pki: c.PKI, n: int) -> tuple[float, float]:
    """Seconds for the public-key operations of one tlskit handshake pair: two X25519 key
    pairs and exchanges, one ECDSA P-256 sign and verify (CertificateVerify). The second
    number adds the two chain signatures, which tlskit's Verifier caches and OpenSSL
    re-verifies on every handshake."""
    key: ec.EllipticCurvePrivateKey = pki.key  # type: ignore[assignment]
    pub = key.public_key()
    data = b"\x20" * 64 + b"TLS 1.3, server CertificateVerify\x00" + bytes(32)
    sig_alg = ec.ECDSA(hashes.SHA256())
    leaf, inter = pki.chain
    inter_pub = cast(ec.EllipticCurvePublicKey, inter.public_key())
    root_pub = cast(ec.EllipticCurvePublicKey, pki.root.public_key())
    leaf_hash = cast(hashes.HashAlgorithm, leaf.signature_hash_algorithm)
    inter_hash = cast(hashes.HashAlgorithm, inter.signature_hash_algorithm)

    def core() -> None:
        a = x25519.X25519PrivateKey.from_private_bytes(os.urandom(32))
        b = x25519.X25519PrivateKey.from_private_bytes(os.urandom(32))
        a_pub = a.public_key().public_bytes_raw()
        b_pub = b.public_key().public_bytes_raw()
        b.exchange(x25519.X25519PublicKey.from_public_bytes(a_pub))
        a.exchange(x25519.X25519PublicKey.from_public_bytes(b_pub))
        pub.verify(key.sign(data, sig_alg), data, sig_alg)

    def chain() -> None:
        inter_pub.verify(leaf.signature, leaf.tbs_certificate_bytes, ec.ECDSA(leaf_hash))
        root_pub.verify(inter.signature, inter.tbs_certificate_bytes, ec.ECDSA(inter_hash))

    warm = c.median(c.time_batch(core, n) for _ in range(5))
    extra = c.median(c.time_batch(chain, n) for _ in range(5))
    return warm, warm + extra


def bench_handshake(pki: c.PKI, n: int, batches: int) -> dict[str, float]:
    tickets = c.server_ticket_default()
    tls_cfgs = c.tlskit_configs(pki)
    tls_cfgs0 = c.tlskit_configs(pki, tickets=0) if tickets else tls_cfgs
    ssl_ctxs = c.ssl_contexts(pki, num_tickets=tickets)
    ssl_ctxs0 = c.ssl_contexts(pki, num_tickets=0)
    # Sanity, and warm-up (the first tlskit handshake fills the verifier's caches).
    for cfgs in (tls_cfgs, tls_cfgs0):
        cl, _ = c.tlskit_handshake(*cfgs)
        hc = cl.handshake_complete
        assert hc is not None and hc.group.name == "x25519" and not hc.resumed \
            and hc.signature_scheme.name == "ecdsa_secp256r1_sha256", hc
        assert len(hc.peer_certificates) == 2
    for ctxs in (ssl_ctxs, ssl_ctxs0):
        a, _ = c.ssl_handshake(*ctxs)
        assert a.obj.version() == "TLSv1.3" and not a.obj.session_reused
        peer = a.obj.getpeercert()
        assert peer and peer["subjectAltName"] == (("DNS", c.HOSTNAME),)

    server_cfg = tls_cfgs[1]

    def cold() -> None:  # a fresh ClientConfig each time: verifier and caches rebuilt
        c.tlskit_handshake(ClientConfig(trust_anchors=[pki.root], groups=["x25519"]),
                           server_cfg)

    def pairs(fn: object, *args: object) -> object:
        return lambda: c.time_batch(lambda: fn(*args), n)  # type: ignore[operator]

    n_cold = max(n // 4, 5)
    runs = {
        "tlskit": pairs(c.tlskit_handshake, *tls_cfgs),
        "ssl": pairs(c.ssl_handshake, *ssl_ctxs),
        "tlskit-0": pairs(c.tlskit_handshake, *tls_cfgs0),
        "ssl-0": pairs(c.ssl_handshake, *ssl_ctxs0),
        "tlskit-cold": lambda: c.time_batch(cold, n_cold),
    }
    res = c.interleaved(runs, batches)  # type: ignore[arg-type]
    floor_warm, floor_cold = asymmetric_floor(pki, n)
    ms = {k: c.median(v) * 1e3 for k, v in res.items()}
    ratios = {"": ms["tlskit"] / ms["ssl"], " (no tickets)": ms["tlskit-0"] / ms["ssl-0"]}
    best = {"": min(res["tlskit"]) / min(res["ssl"]),
            " (no tickets)": min(res["tlskit-0"]) / min(res["ssl-0"])}
    print(f"== handshake: X25519, ECDSA P-256 leaf <- intermediate <- root, "
          f"hostname {c.HOSTNAME!r} ({batches} batches; median per pair) ==")

    def line(label: str, key: str, note: str, per: int = n) -> None:
        print(f"  {label:<30} {ms[key]:7.3f} ms/pair  ({per}/batch, {c.spread(res[key])}; "
              f"{note})")

    line("tlskit", "tlskit", f"configs reused; {tickets} session tickets, tlskit's default")
    line("ssl", "ssl", f"num_tickets={tickets}, client processes them too")
    line("tlskit, no tickets", "tlskit-0", "ServerConfig(session_tickets=0)")
    line("ssl, no tickets", "ssl-0", "num_tickets=0")
    line("tlskit, cold verifier", "tlskit-cold",
         "new ClientConfig per handshake; for reference", n_cold)
    print(f"  {'asymmetric crypto floor':<30} {floor_warm * 1e3:7.3f} ms/pair  (tlskit's "
          f"public-key ops; {floor_cold * 1e3:.3f} ms with the 2 chain signatures that "
          "OpenSSL re-verifies and tlskit caches)")
    print(f"  {'tlskit overhead over floor':<30} {ms['tlskit'] - floor_warm * 1e3:7.3f} ms/pair")
    for label, ratio in ratios.items():
        print(f"ratio handshake{label} tlskit/ssl (time): {ratio:.2f}x  "
              f"(best batches: {best[label]:.2f}x)  "
              f"[target <= {HANDSHAKE_TARGET:.2f}x: {c.verdict(ratio <= HANDSHAKE_TARGET)}]")
    return ratios


# ---------------------------------------------------------------------------- bulk

def aead_ceiling(suite: str, total: int, chunk: bytes) -> float:
    """Seconds for cryptography's bare AEAD over `total` bytes: seal 16 KiB + type byte
    with a 5-byte header as AAD, then open it; the least any TLS record layer does."""
    key = bytes(16 if "AES_128" in suite else 32)
    aead = AESGCM(key) if "AES" in suite else ChaCha20Poly1305(key)
    inner = chunk + b"\x17"
    aad = b"\x17\x03\x03" + (len(inner) + 16).to_bytes(2, "big")
    enc, dec = aead.encrypt, aead.decrypt
    start = c.clock()
    for i in range(total // len(chunk)):
        nonce = i.to_bytes(12, "big")
        dec(nonce, enc(nonce, inner, aad), aad)
    return c.clock() - start


def bytes_api_floor(suite: str, total: int, chunk: bytes) -> float:
    """Seconds for the least a bytes-in/bytes-out TLS 1.3 record layer can do on top of
    the bare AEAD: the three 16 KiB copies its API implies (type byte appended to the
    caller's bytes, header joined to the ciphertext into one wire `bytes`, type byte
    stripped into the caller's `bytes`) and one event object, with no protocol checks
    and no method calls. tlskit's distance to this line is its Python overhead; the
    distance from here to the bare AEAD is the price of the API."""
    key = bytes(16 if "AES_128" in suite else 32)
    aead = AESGCM(key) if "AES" in suite else ChaCha20Poly1305(key)
    enc, dec, pack = aead.encrypt, aead.decrypt, HEADER.pack
    received = 0
    start = c.clock()
    for i in range(total // len(chunk)):
        nonce = i.to_bytes(12, "big")
        header = pack(23, 0x0303, len(chunk) + 17)
        wire = header + enc(nonce, chunk + b"\x17", header)
        plain = dec(nonce, memoryview(wire)[5:], wire[:5])
        for event in [DataReceived(plain[:-1])]:
            received += len(event.data)
    seconds = c.clock() - start
    assert received == total // len(chunk) * len(chunk)
    return seconds


def zero_copy_floor(suite: str, total: int, chunk: bytes) -> float:
    """Seconds for the least a zero-copy TLS 1.3 record layer can do on top of the bare
    AEAD: per record the header written into one reused wire buffer, the type byte
    appended (the one 16 KiB copy: `cryptography` takes no overlapping input and output),
    `encrypt_into` after the header and `decrypt_into` a reused plaintext buffer, with no
    protocol checks and no method calls. tlskit's zero-copy distance to this line is its
    Python per record (printed in microseconds)."""
    key = bytes(16 if "AES_128" in suite else 32)
    aead = AESGCM(key) if "AES" in suite else ChaCha20Poly1305(key)
    enc, dec = aead.encrypt_into, aead.decrypt_into
    size = len(chunk) + 17
    header = HEADER.pack(23, 0x0303, size)
    wire = memoryview(bytearray(5 + size))
    plain = memoryview(bytearray(size - 16))
    received = 0
    start = c.clock()
    for i in range(total // len(chunk)):
        nonce = i.to_bytes(12)
        wire[:5] = header
        enc(nonce, chunk + b"\x17", header, wire[5:])
        dec(nonce, wire[5:], wire[:5], plain)
        if plain[-1] == 23:
            received += len(chunk)
    seconds = c.clock() - start
    assert received == total // len(chunk) * len(chunk)
    return seconds


class SSLBulkWorker:
    """A subprocess of this script with OPENSSL_CONF restricting TLS 1.3 to one suite."""

    def __init__(self, pki: c.PKI, suite: str, clock: str) -> None:
        conf = pki.directory / f"openssl-{suite}.cnf"
        conf.write_text(OPENSSL_CONF_TEMPLATE.format(suite=suite))
        env = dict(os.environ, OPENSSL_CONF=str(conf))
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--ssl-bulk-worker", suite, "--pki", str(pki.directory),
             "--clock", clock],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)
        hello = self._answer()
        self.cipher = str(hello["cipher"])

    def _answer(self) -> dict[str, object]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"ssl bulk worker died (exit {self.proc.wait()})")
        return json.loads(line)  # type: ignore[no-any-return]

    def run(self, total: int, into: bool = False) -> float:
        """CPU seconds for `total` bytes; `into` reads into a preallocated buffer."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{total} {'into' if into else 'bytes'}\n")
        self.proc.stdin.flush()
        answer = self._answer()
        if answer["received"] != total:
            raise RuntimeError(f"ssl worker received {answer['received']} of {total} bytes")
        return float(answer["seconds"])  # type: ignore[arg-type]

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


def ssl_bulk_worker(suite: str, pki_dir: str) -> int:
    """Worker mode: connect once, then answer each stdin line N with a transfer of N bytes."""
    pki = c.load_pki(pki_dir)
    client_ctx, server_ctx = c.ssl_contexts(pki)
    client, server = c.ssl_handshake(client_ctx, server_ctx)
    cipher = client.obj.cipher()[0]  # type: ignore[index]
    if cipher != suite:
        print(f"OPENSSL_CONF did not select {suite} (got {cipher})", file=sys.stderr)
        return 2
    chunk = os.urandom(c.RECORD)
    print(json.dumps({"cipher": cipher}), flush=True)
    for line in sys.stdin:
        size, mode = line.split()
        total = int(size)
        gc.collect()
        start = c.clock()
        received = c.ssl_transfer(client, server, total, chunk, into=mode == "into")
        seconds = c.clock() - start
        print(json.dumps({"seconds": seconds, "received": received}), flush=True)
    return 0


def bench_suite(pki: c.PKI, suite: str, total: int, batches: int, chunk: bytes,
                clock: str) -> tuple[dict[str, list[float]], str]:
    """Seconds per batch for the bare AEAD, tlskit and ssl; and the cipher ssl used."""
    client, server = c.tlskit_handshake(*c.tlskit_configs(pki, suite))
    assert client.handshake_complete is not None
    assert client.handshake_complete.cipher_suite.name == suite

    def tls_run(transfer: Callable[..., int] = c.tlskit_transfer) -> float:
        gc.collect()
        start = c.clock()
        got = transfer(client, server, total, chunk)
        seconds = c.clock() - start
        if got != total:
            raise RuntimeError(f"tlskit received {got} of {total} bytes")
        return seconds

    worker = SSLBulkWorker(pki, suite, clock)
    try:
        tls_run()  # warm-up, both sides
        tls_run(c.tlskit_transfer_into)
        worker.run(min(total, 4 * c.MiB))
        worker.run(min(total, 4 * c.MiB), into=True)
        res = c.interleaved({
            "aead": lambda: aead_ceiling(suite, total, chunk),
            "floor": lambda: bytes_api_floor(suite, total, chunk),
            "floor-into": lambda: zero_copy_floor(suite, total, chunk),
            "tlskit": tls_run,
            "ssl": lambda: worker.run(total),
            "tlskit-into": lambda: tls_run(c.tlskit_transfer_into),
            "ssl-into": lambda: worker.run(total, into=True),
        }, batches)
    finally:
        worker.close()
    return res, worker.cipher


def bench_bulk(pki: c.PKI, total: int, batches: int, clock: str) -> dict[str, float]:
    """Both APIs against the stdlib; the zero-copy ratio is the one held to the target."""
    chunk = os.urandom(c.RECORD)
    print(f"== bulk: {total // c.MiB} MiB client -> server in 16 KiB records, in memory "
          f"({batches} batches; median MB/s, 1 MB = 10^6 bytes) ==")
    ratios: dict[str, float] = {}
    lines: list[str] = []
    for suite, short in c.SUITES.items():
        res, cipher = bench_suite(pki, suite, total, batches, chunk, clock)
        rate = {k: c.mbps(total, c.median(v)) for k, v in res.items()}
        print(f"  {short:<18} bare AEAD {rate['aead']:6.0f} | bytes-API floor "
              f"{rate['floor']:6.0f} | zero-copy floor {rate['floor-into']:6.0f}  "
              f"(ssl: subprocess, OPENSSL_CONF Ciphersuites={cipher})")
        for api, tls, ssl_key, ssl_note in (
                ("bytes API", "tlskit", "ssl", "read() -> bytes"),
                ("zero-copy", "tlskit-into", "ssl-into", "read(n, buffer)")):
            ratio = rate[tls] / rate[ssl_key]
            best = min(res[ssl_key]) / min(res[tls])
            ratios[f"{suite} {api}"] = ratio
            print(f"    {api:<10} tlskit {rate[tls]:6.0f} ({c.spread(res[tls])}) | ssl "
                  f"{rate[ssl_key]:6.0f} ({c.spread(res[ssl_key])}; {ssl_note})  tlskit at "
                  f"{rate[tls] / rate['aead'] * 100:.0f}% of the bare AEAD")
            floor = "floor" if api == "bytes API" else "floor-into"
            extra = (c.median(res[tls]) - c.median(res[floor])) / (total // len(chunk))
            print(f"{'':15}tlskit's Python over the {api} floor: {extra * 1e6:.2f} us per "
                  "record (seal and open)")
            target = BULK_TARGETS[suite]
            verdict = (f"[target >= {target:.2f}x: {c.verdict(ratio >= target)}]"
                       if api == "zero-copy" else "[for reference; the target is held "
                       "against the zero-copy line]")
            lines.append(f"ratio bulk {short} {api} tlskit/ssl (throughput): {ratio:.2f}x  "
                         f"(best batches: {best:.2f}x)  {verdict}")
    for line in lines:
        print(line)
    return ratios


# ---------------------------------------------------------------------------- profiling

def profile(pki: c.PKI, what: str, profiler: str, quick: bool) -> None:
    """Profile tlskit alone (never the stdlib) for one scenario and print the hot spots."""
    if what == "handshake":
        client_cfg, server_cfg = c.tlskit_configs(pki)
        c.tlskit_handshake(client_cfg, server_cfg)  # warm the verifier

        def work() -> None:
            for _ in range(100 if quick else 1000):
                c.tlskit_handshake(client_cfg, server_cfg)
    else:
        suite = "TLS_AES_128_GCM_SHA256" if what == "bulk-aes" else \
            "TLS_CHACHA20_POLY1305_SHA256"
        client, server = c.tlskit_handshake(*c.tlskit_configs(pki, suite))
        chunk = os.urandom(c.RECORD)
        total = (8 if quick else 64) * c.MiB

        def work() -> None:
            c.tlskit_transfer(client, server, total, chunk)

    if profiler == "pyinstrument":
        from pyinstrument import Profiler
        prof = Profiler(interval=0.0002)
        prof.start()
        work()
        prof.stop()
        print(prof.output_text(unicode=False, color=False, show_all=False))
        return
    import cProfile
    import pstats
    pr = cProfile.Profile()
    pr.enable()
    work()
    pr.disable()
    stats = pstats.Stats(pr).strip_dirs().sort_stats("tottime")
    stats.print_stats(30)
    stats.sort_stats("cumulative").print_stats(30)


# ---------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="reduced smoke run (< 10 s)")
    ap.add_argument("--batches", type=int, help="batches per measurement (>= 5 by default)")
    ap.add_argument("--handshakes", type=int, help="handshake pairs per batch")
    ap.add_argument("--mib", type=int, help="MiB per bulk batch")
    ap.add_argument("--only", choices=("handshake", "bulk"), help="run one part")
    ap.add_argument("--profile", choices=("handshake", "bulk-aes", "bulk-chacha"),
                    help="profile tlskit for one scenario instead of benchmarking")
    ap.add_argument("--profiler", choices=("cprofile", "pyinstrument"), default="cprofile")
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                    help="process CPU time (default; robust when other jobs share the "
                         "machine) or wall-clock time")
    ap.add_argument("--ssl-bulk-worker", metavar="SUITE", help=argparse.SUPPRESS)
    ap.add_argument("--pki", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    c.set_clock(args.clock)

    if args.ssl_bulk_worker:
        return ssl_bulk_worker(args.ssl_bulk_worker, args.pki)

    quick = args.quick
    batches = args.batches or 5 if quick else args.batches or 7
    handshakes = args.handshakes or (20 if quick else 200)
    total = (args.mib or (4 if quick else 64)) * c.MiB

    with tempfile.TemporaryDirectory(prefix="tlskit-bench-") as tmp:
        pki = c.make_pki(tmp)
        if args.profile:
            profile(pki, args.profile, args.profiler, quick)
            return 0
        print(f"tlskit bench ({'quick' if quick else 'full'}, {args.clock} clock): "
              f"{c.versions()}")
        started = time.perf_counter()
        if args.only in (None, "handshake"):
            bench_handshake(pki, handshakes, batches)
        if args.only in (None, "bulk"):
            bench_bulk(pki, total, batches, args.clock)
        print(f"(took {time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
