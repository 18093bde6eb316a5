"""The in-memory test PKI (one `LocalCA` per process, cached) and configs built on it."""

from __future__ import annotations

import random
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding

from tlskit import ClientConfig, ServerConfig
from tlskit.ca import Issued, LocalCA


@dataclass
class PKI:
    ca: LocalCA
    server: Issued          # EC P-256 leaf for "localhost"
    server_ed: Issued       # Ed25519 leaf (deterministic signatures: replayable flights)
    client: Issued          # clientAuth leaf


@cache
def pki() -> PKI:
    ca = LocalCA.create(directory=None)
    return PKI(ca, ca.issue_server(["localhost"]),
               ca.issue_server(["localhost"], key_type="ed25519"),
               ca.issue_client("alice"))


@cache
def rsa_server() -> Issued:
    """An RSA-2048 leaf for "localhost" from `pki`'s CA (RSA key transport needs one)."""
    return pki().ca.issue_server(["localhost"], key_type="rsa2048")


@cache
def other_pki() -> PKI:
    """A second, unrelated CA: its certificates are unknown to the first one's clients."""
    ca = LocalCA.create(directory=None, name="stranger CA")
    return PKI(ca, ca.issue_server(["localhost"]),
               ca.issue_server(["localhost"], key_type="ed25519"),
               ca.issue_client("mallory"))


def det_rng(seed: int = 1) -> Callable[[int], bytes]:
    """A deterministic rng: two connections built with the same seed say the same bytes."""
    r = random.Random(seed)
    return r.randbytes


class AcceptAll:
    """A verifier that accepts any chain (for tests about everything but X.509)."""

    def verify(self, leaf: Any, intermediates: list[Any], server_name: str | None = None,
               at: Any = None, usage: str = "server",
               ocsp_response: bytes | None = None) -> list[Any]:
        return [leaf, *intermediates]


CLASSIC_GROUPS = ["x25519", "secp256r1", "secp384r1"]


def client_config(**kw: Any) -> ClientConfig:
    kw.setdefault("trust_anchors", [pki().ca.root])
    kw.setdefault("groups", CLASSIC_GROUPS)
    return ClientConfig(**kw)


def server_config(*, ed25519: bool = False, **kw: Any) -> ServerConfig:
    leaf = pki().server_ed if ed25519 else pki().server
    kw.setdefault("certificate_chain", leaf.chain)
    kw.setdefault("private_key", leaf.private_key)
    kw.setdefault("groups", CLASSIC_GROUPS)
    return ServerConfig(**kw)


# TLS 1.2 suites by certificate key type: every (key type, suite) pair is a test case.
SUITES12 = {
    "ec256": ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
              "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"],
    "rsa2048": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"],
    "ed25519": ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"],
}
CASES12 = [(kt, s) for kt, suites in SUITES12.items() for s in suites]


@dataclass
class CertFiles:
    """An issued chain on disk, as servers and the ssl module want it: ``fullchain``,
    ``leaf`` alone, ``chain`` (the intermediate) and ``key``, all in ``directory``."""

    issued: Issued
    directory: Path
    fullchain: Path = field(init=False)
    leaf: Path = field(init=False)
    chain: Path = field(init=False)
    key: Path = field(init=False)

    def __post_init__(self) -> None:
        names = ("fullchain.pem", "leaf.pem", "inter.pem", "key.pem")
        self.fullchain, self.leaf, self.chain, self.key = (self.directory / n for n in names)

    @classmethod
    def write(cls, issued: Issued, directory: Path) -> CertFiles:
        directory.mkdir(parents=True, exist_ok=True)
        files = cls(issued, directory)
        issued.write(cert_path=files.fullchain, key_path=files.key)
        files.leaf.write_bytes(issued.chain[0].public_bytes(Encoding.PEM))
        files.chain.write_bytes(issued.chain[1].public_bytes(Encoding.PEM))
        return files


def ssl_client_context(root_pem: Path | str, version: str,
                       alpn: list[str] | None = None) -> ssl.SSLContext:
    """A CPython `ssl` client context trusting ``root_pem``, pinned to ``version``
    ("TLSv1.3" or "TLSv1.2"), offering ``alpn`` if given."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and the name
    ctx.load_verify_locations(cafile=str(root_pem))
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion[version.replace(".", "_")]
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx
