"""Client and server configuration: plain dataclasses, validated once at construction.

Algorithm lists take IANA names ("x25519", "TLS_AES_128_GCM_SHA256",
"ecdsa_secp256r1_sha256") or code points. Randomness, time, key logging and tracing are
injected here so the engine itself stays deterministic and free of I/O.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from . import crypto
from .enums import CipherSuite, NamedGroup, SignatureScheme
from .session import MAX_TICKET_LIFETIME, SessionCache, TicketSealer
from .sessionstore import GuardedStore, MemoryStore, SessionStore
from .verifier import CertificateVerifier

KeyLogCallback = Callable[[str, bytes, bytes], None]  # label, client_random, secret
Tracer = Callable[[str, dict[str, Any]], None]          # step name, fields


def _codes(values: Sequence[str | int] | None, enum: Any, default: Sequence[int],
           implemented: Sequence[int] | None, what: str) -> list[int]:
    if values is None:
        return list(default)
    out: list[int] = []
    for v in values:
        if isinstance(v, int):
            code = v
        else:
            try:
                code = enum[v]
            except KeyError:
                raise ValueError(f"unknown {what} {v!r}") from None
        if implemented is not None and code not in implemented:
            raise ValueError(f"{what} {enum(code).name} is not supported by tlskit")
        out.append(int(code))
    if not out:
        raise ValueError(f"at least one {what} is required")
    return out


def load_pem_chain(path: str | Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(Path(path).read_bytes())


def load_pem_private_key(path: str | Path, password: bytes | None = None) -> Any:
    return serialization.load_pem_private_key(Path(path).read_bytes(), password)


@dataclass(slots=True)
class CertifiedKey:
    """A certificate chain (leaf first) and the private key of its leaf."""

    chain: list[x509.Certificate]
    private_key: Any
    ocsp_response: bytes | Callable[[], bytes | None] | None = None

    def __post_init__(self) -> None:
        if not self.chain:
            raise ValueError("a certificate chain needs at least the leaf")
        self.cert_der = [c.public_bytes(serialization.Encoding.DER) for c in self.chain]
        oid = self.chain[0].public_key_algorithm_oid.dotted_string
        self.schemes = crypto.schemes_for_key(self.private_key, oid)
        self.schemes12 = crypto.schemes_for_key12(self.private_key, oid)
        if not self.schemes:
            raise ValueError("the private key's type cannot sign TLS 1.3 handshakes")
        self._dns_names = self._read_dns_names()
        # 4.2.3: the schemes of the signatures the chain carries (the anchor's own aside).
        self.chain_signatures = [crypto.certificate_signature_schemes(c)
                                 for c in self.chain if c.issuer != c.subject]

    cert_der: list[bytes] = field(init=False, default_factory=list)
    schemes: list[SignatureScheme] = field(init=False, default_factory=list)
    schemes12: list[SignatureScheme] = field(init=False, default_factory=list, repr=False)
    _dns_names: list[str] = field(init=False, default_factory=list, repr=False)
    chain_signatures: list[set[int]] = field(init=False, default_factory=list, repr=False)
    # Compressed Certificate messages by (algorithm, staple): built once, sent many times.
    _compressed: dict[tuple[int, bytes | None], bytes] = field(
        init=False, default_factory=dict, repr=False)

    @classmethod
    def from_files(cls, cert_file: str | Path, key_file: str | Path,
                   chain_file: str | Path | None = None) -> CertifiedKey:
        chain = load_pem_chain(cert_file)
        if chain_file:
            chain += load_pem_chain(chain_file)
        return cls(chain, load_pem_private_key(key_file))

    def dns_names(self) -> list[str]:
        """The leaf's DNS SANs, lower-cased (read once: servers ask on every handshake)."""
        return self._dns_names

    def _read_dns_names(self) -> list[str]:
        try:
            san = self.chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName)
        except x509.ExtensionNotFound:
            return []
        return [n.lower() for n in san.value.get_values_for_type(x509.DNSName)]


@dataclass
class _Common:
    groups: Sequence[str | int] | None = None
    cipher_suites: Sequence[str | int] | None = None
    signature_schemes: Sequence[str | int] | None = None
    alpn_protocols: Sequence[str] = ()
    record_size_limit: int | None = 16385
    rng: Callable[[int], bytes] = os.urandom
    clock: Callable[[], float] = time.time
    keylog: KeyLogCallback | None = None
    tracer: Tracer | None = None
    max_handshake_message: int = 1 << 17
    versions: Sequence[str] = ("TLSv1.3", "TLSv1.2")
    # Answer the peer's close_notify at once. False allows a TLS 1.3 half-close: keep
    # sending after the peer closed its side, then call close() yourself (RFC 8446 6.1).
    close_reply: bool = True
    # RFC 8879, TLS 1.3: what a client accepts / a server sends, in preference order.
    # Servers compress only when configured (certificate_compression=("zlib",)).
    certificate_compression: Sequence[str] = ()
    # TLS 1.2 (RFC 7627): the extended master secret is always offered and preferred.
    # A peer without it still gets a full handshake (as OpenSSL, Go and browsers do),
    # but its session is never resumed (RFC 7627 5.3); True refuses such peers, which
    # also refuses old stacks and some test tools.
    require_extended_master_secret: bool = False

    def _validate_common(self) -> None:
        self._versions = [v for v in ("TLSv1.3", "TLSv1.2") if v in self.versions]
        unknown = set(self.versions) - {"TLSv1.3", "TLSv1.2"}
        if unknown or not self._versions:
            raise ValueError(f"versions must be TLSv1.3 and/or TLSv1.2, not {sorted(unknown)}")
        from .wire.certcompress import algorithm_code
        self._cert_compression = [algorithm_code(a) for a in self.certificate_compression]
        self._groups = _codes(self.groups, NamedGroup, crypto.DEFAULT_GROUPS,
                              crypto.IMPLEMENTED_GROUPS, "group")
        both = [*crypto.DEFAULT_SUITES, *crypto.DEFAULT_SUITES12]
        all_suites = _codes(self.cipher_suites, CipherSuite, both,
                            [*crypto.SUITES, *crypto.SUITES12], "cipher suite")
        self._suites = [s for s in all_suites if s in crypto.SUITES] \
            if "TLSv1.3" in self._versions else []
        self._suites12 = [s for s in all_suites if s in crypto.SUITES12] \
            if "TLSv1.2" in self._versions else []
        if not self._suites and not self._suites12:
            raise ValueError("no cipher suite for the enabled versions")
        # A version with no suite configured is not offered at all (e.g. only TLS 1.3
        # suite names given: the ClientHello then offers TLS 1.3 alone).
        self._versions = [v for v in self._versions
                          if (self._suites if v == "TLSv1.3" else self._suites12)]
        default_schemes = list(crypto.HANDSHAKE_SCHEMES)
        if "TLSv1.2" in self._versions:
            default_schemes += crypto.TLS12_EXTRA_SCHEMES
        self._schemes = _codes(self.signature_schemes, SignatureScheme,
                               default_schemes, None, "signature scheme")
        for p in self.alpn_protocols:
            if not 0 < len(p.encode()) < 256:
                raise ValueError(f"ALPN protocol {p!r} must be 1..255 bytes")
        if self.record_size_limit is not None and not 64 <= self.record_size_limit <= 16385:
            raise ValueError("record_size_limit must be within 64..16385")


@dataclass
class ClientConfig(_Common):
    """What a client offers and how it checks the server.

    ``trust_anchors`` builds the default `tlskit.x509.Verifier`; pass ``verifier`` to plug
    in another `CertificateVerifier`. ``verify_mode="report"`` completes the handshake
    and reports a verification failure in `HandshakeComplete` instead of aborting (for
    diagnostics only).
    """

    trust_anchors: Sequence[x509.Certificate] | None = None
    verifier: CertificateVerifier | None = None
    verify_mode: Literal["required", "report"] = "required"
    check_hostname: bool = True
    key_share_groups: Sequence[str | int] | None = None
    certificate: CertifiedKey | None = None
    middlebox_compat: bool = True
    ocsp_stapling: bool = False
    # TLS 1.2 (RFC 5077): ask for a ticket. Also asked for whenever a session_cache is set
    # and TLS 1.2 is enabled; a held TLS 1.2 session is offered by ticket or session ID.
    legacy_session_ticket: bool = False
    signature_schemes_cert: Sequence[str | int] | None = None
    session_cache: SessionCache | None = None
    certificate_compression: Sequence[str] = ("zlib",)

    def __post_init__(self) -> None:
        self._validate_common()
        # By default one share for the first group, plus x25519 when the first is the
        # hybrid: servers without ML-KEM then need no HelloRetryRequest.
        default_shares = self._groups[:1]
        if default_shares == [NamedGroup.X25519MLKEM768] and NamedGroup.x25519 in self._groups:
            default_shares = [NamedGroup.X25519MLKEM768, NamedGroup.x25519]
        self._share_groups = _codes(self.key_share_groups, NamedGroup, default_shares,
                                    crypto.IMPLEMENTED_GROUPS, "key share group")
        for g in self._share_groups:
            if g not in self._groups:
                raise ValueError(f"key share group {NamedGroup(g).name} is not in groups")
        self._cert_schemes = (None if self.signature_schemes_cert is None else
                              _codes(self.signature_schemes_cert, SignatureScheme, (), None,
                                     "certificate signature scheme"))
        self._verifier: CertificateVerifier | None = self.verifier

    def get_verifier(self) -> CertificateVerifier:
        """The verifier, built lazily from the trust anchors (or the system store)."""
        if self._verifier is None:
            from .x509 import TrustStore, Verifier
            store = (TrustStore(list(self.trust_anchors)) if self.trust_anchors is not None
                     else TrustStore.default())
            self._verifier = Verifier(store)
        return self._verifier


@dataclass
class ServerConfig(_Common):
    """What a server accepts and the certificates it presents.

    ``certificate_chain``/``private_key`` is the default certificate; ``certificates`` adds
    more, chosen by SNI (a name in the leaf's SAN) and the client's signature schemes.
    """

    certificate_chain: Sequence[x509.Certificate] | None = None
    private_key: Any = None
    certificates: Sequence[CertifiedKey] = ()
    client_auth: Literal["none", "optional", "required"] = "none"
    client_verifier: CertificateVerifier | None = None
    client_trust_anchors: Sequence[x509.Certificate] | None = None
    ocsp_response: bytes | Callable[[], bytes | None] | None = None
    send_supported_groups: bool = False
    cookie_key: bytes | None = field(default=None, repr=False)
    hrr_cookie: Callable[[bytes], bytes] | None = None
    session_tickets: int = 2
    ticket_lifetime: int = 7200
    ticket_key: bytes | None = field(default=None, repr=False)
    # Names who this server accepts, for tickets (like OpenSSL's session-ID context): a
    # ticket resumes only under the context it was issued in. Default: derived from
    # client_auth and client_trust_anchors, or unique to this config when a custom
    # client_verifier is given (set it to share tickets across such configs).
    session_context: bytes | None = None
    # Where tickets keys, TLS 1.2 session IDs and 0-RTT replay tokens live (see
    # `tlskit.sessionstore`); default: this process's memory (with `ticket_key`, if
    # given, as the one ticket key). Share one store among servers to resume across them.
    session_store: SessionStore | None = None
    # TLS 1.2: give clients that ask for no ticket a session ID to resume with.
    session_ids: bool = True

    def __post_init__(self) -> None:
        self._validate_common()
        certs = list(self.certificates)
        if self.certificate_chain:
            certs.insert(0, CertifiedKey(list(self.certificate_chain), self.private_key,
                                         self.ocsp_response))
        if not certs:
            raise ValueError("a server needs at least one certificate and key")
        self._certs = certs
        for g in self._groups:
            if g not in crypto.IMPLEMENTED_GROUPS:
                raise ValueError(f"group {NamedGroup(g).name} is not supported by tlskit")
        custom_verifier = self.client_verifier is not None
        if self.client_auth != "none" and self.client_verifier is None:
            if self.client_trust_anchors is None:
                raise ValueError("client_auth needs client_trust_anchors or client_verifier")
            from .x509 import TrustStore, Verifier
            self.client_verifier = Verifier(TrustStore(list(self.client_trust_anchors)))
        self._session_context = self._derive_session_context(custom_verifier)
        self._cookie_key = self.cookie_key
        self._sealer: TicketSealer | None = None
        self._store = GuardedStore(self.session_store or MemoryStore(
            fixed_key=self.ticket_key, rng=self.rng, clock=self.clock))
        self._lazy_lock = threading.Lock()  # configs are shared by server threads
        if not 0 < self.ticket_lifetime <= MAX_TICKET_LIFETIME:
            raise ValueError("ticket_lifetime must be within 1..604800 seconds")

    def _derive_session_context(self, custom_verifier: bool) -> bytes:
        """The digest sealed into tickets: policy, then who vouches for clients."""
        h = hashlib.sha256(b"tlskit session context\0" + self.client_auth.encode() + b"\0")
        if self.session_context is not None:
            h.update(b"app\0" + self.session_context)
        elif self.client_auth != "none":
            if custom_verifier:
                h.update(b"verifier\0" + os.urandom(32))  # unique: no other config matches
            for der in sorted(c.public_bytes(serialization.Encoding.DER)
                              for c in self.client_trust_anchors or ()):
                h.update(hashlib.sha256(der).digest())
        return h.digest()

    def get_ticket_sealer(self) -> TicketSealer:
        """Seals resumption tickets under the store's ticket-key ring."""
        if self._sealer is None:
            with self._lazy_lock:
                if self._sealer is None:
                    self._sealer = TicketSealer(self._store, self.clock)
        return self._sealer

    def get_session_store(self) -> GuardedStore:
        """The session store, guarded: its failures degrade to full handshakes."""
        return self._store

    def get_cookie_key(self) -> bytes:
        """The HMAC key for HelloRetryRequest cookies, drawn from the rng on first use."""
        if self._cookie_key is None:
            with self._lazy_lock:
                if self._cookie_key is None:
                    self._cookie_key = self.rng(32)
        return self._cookie_key
