"""Certificate Transparency: checking a server's SCTs against known logs (RFC 6962).

A Signed Certificate Timestamp is a log's signed promise to publish a certificate. A
server delivers SCTs in the TLS handshake (the signed_certificate_timestamp extension:
signed over the certificate itself, RFC 6962 3.2 x509_entry) or its CA embeds them in
the certificate (signed over the precertificate: the TBSCertificate without the SCT
extension and the issuer's key hash, precert_entry), or its OCSP responder puts them in
the stapled response (over the certificate, like those from TLS). `CTPolicy` asks for
a number of valid SCTs from distinct known logs and is checked after the chain
validated; a shortfall is a `CTPolicyError` (bad_certificate).

    policy = CTPolicy([CTLog(log_key, name="test log")], min_scts=1)
    ClientConfig(ct_policy=policy)   # requests SCTs and enforces the policy
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtensionOID

from ..errors import BadCertificate, DecodeError
from ..wire.sct import SignedCertificateTimestamp, decode_sct, decode_sct_list
from .der import DERError, read_tlv

__all__ = [
    "CTLog",
    "CTPolicy",
    "CTPolicyError",
    "SCTCheck",
    "SCTStatus",
    "check_scts",
    "embedded_scts",
    "signed_data",
    "stapled_scts",
]

# RFC 6962 3.1 / 3.2
X509_ENTRY = 0
PRECERT_ENTRY = 1
_CERTIFICATE_TIMESTAMP = 0  # SignatureType certificate_timestamp
_SHA256 = 4  # RFC 5246 7.4.1.4.1 HashAlgorithm
_RSA, _ECDSA = 1, 3  # SignatureAlgorithm
_HEAD = struct.Struct(">BBQH")  # sct_version, signature_type, timestamp, entry_type
_SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
# A server's SCT list holds up to 64 KiB: hundreds of SCTs naming a known log, each a
# signature to verify. A log counts once, so its SCTs stop being verified once one is
# valid, and after this many that were not.
MAX_ATTEMPTS_PER_LOG = 2
_DESCRIBED = 8  # SCTs told in a CTPolicyError's message (all are in its ``checks``)


@dataclass(frozen=True)
class CTLog:
    """A log whose SCTs are trusted: its public key (a `cryptography` public key or DER
    SubjectPublicKeyInfo bytes) and a name for messages. ``log_id`` is the SHA-256 of
    the key's SubjectPublicKeyInfo (RFC 6962 3.2), how an SCT names its log."""

    public_key: Any
    name: str = ""
    log_id: bytes = field(init=False, repr=False)
    _key: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        key = self.public_key
        if isinstance(key, bytes | bytearray | memoryview):
            try:
                key = serialization.load_der_public_key(bytes(key))
            except ValueError as exc:
                raise ValueError(f"CT log {self.name or '(unnamed)'}: the key is not a DER "
                                 f"SubjectPublicKeyInfo ({exc})") from None
        if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
            raise TypeError(f"CT log {self.name or '(unnamed)'}: RFC 6962 2.1.4 logs sign "
                            f"with ECDSA P-256 or RSA, not {type(key).__name__}")
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "log_id", hashlib.sha256(key.public_bytes(*_SPKI)).digest())

    @classmethod
    def from_pem(cls, data: bytes, name: str = "") -> CTLog:
        """A log from its PEM public key ("BEGIN PUBLIC KEY")."""
        return cls(serialization.load_pem_public_key(data), name)

    def label(self) -> str:
        """The name, or the log ID in hex when it has none."""
        return self.name or self.log_id.hex()

    def verify(self, sct: SignedCertificateTimestamp, data: bytes) -> bool:
        """The SCT's DigitallySigned checks out over ``data`` (see `signed_data`) with
        this log's key: SHA-256 with ECDSA for an EC key, PKCS#1 v1.5 for RSA (RFC 6962
        2.1.4); any other algorithm pair is not valid."""
        if sct.hash_algorithm != _SHA256:
            return False
        key = self._key
        try:
            if isinstance(key, ec.EllipticCurvePublicKey) and sct.signature_algorithm == _ECDSA:
                key.verify(sct.signature, data, ec.ECDSA(hashes.SHA256()))
            elif isinstance(key, rsa.RSAPublicKey) and sct.signature_algorithm == _RSA:
                key.verify(sct.signature, data, padding.PKCS1v15(), hashes.SHA256())
            else:
                return False
        except (InvalidSignature, ValueError):
            return False
        return True


def signed_data(sct: SignedCertificateTimestamp, entry_type: int, entry: bytes) -> bytes:
    """What a log signs for an SCT (RFC 6962 3.2's digitally-signed struct): version,
    certificate_timestamp, the timestamp, the entry type, the entry and the SCT's
    extensions. ``entry`` is the x509_entry's ASN.1Cert (the certificate's DER) or the
    precert_entry's PreCert body (issuer_key_hash then the TBSCertificate), without its
    own length prefix for the certificate part: one is added here."""
    head = _HEAD.pack(sct.version, _CERTIFICATE_TIMESTAMP, sct.timestamp, entry_type)
    if entry_type == X509_ENTRY:
        body = len(entry).to_bytes(3, "big") + entry
    else:  # PreCert: issuer_key_hash[32], TBSCertificate<1..2^24-1>
        key_hash, tbs = entry[:32], entry[32:]
        body = key_hash + len(tbs).to_bytes(3, "big") + tbs
    return head + body + len(sct.extensions).to_bytes(2, "big") + sct.extensions


def x509_entry(cert: x509.Certificate) -> bytes:
    """The x509_entry an SCT delivered in TLS (or OCSP) covers: the certificate's DER."""
    return cert.public_bytes(serialization.Encoding.DER)


def precert_entry(cert: x509.Certificate, issuer: x509.Certificate) -> bytes:
    """The precert_entry an embedded SCT covers (RFC 6962 3.2): the SHA-256 of the
    issuer's SubjectPublicKeyInfo, then the TBSCertificate without the SCT extension."""
    key_hash = hashlib.sha256(issuer.public_key().public_bytes(*_SPKI)).digest()
    return key_hash + cert.tbs_precertificate_bytes


def embedded_scts(cert: x509.Certificate) -> tuple[bytes, ...]:
    """The serialized SCTs the certificate carries in its SCT list extension (OID
    1.3.6.1.4.1.11129.2.4.2, RFC 6962 3.3); empty when it has none or it is malformed."""
    try:
        ext = cert.extensions.get_extension_for_oid(
            ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS)
    except (x509.ExtensionNotFound, ValueError):
        return ()
    return _listed_scts(ext)


def stapled_scts(ocsp_response: bytes | None) -> tuple[bytes, ...]:
    """The serialized SCTs a stapled OCSP response carries in the singleExtensions of its
    answer (OID 1.3.6.1.4.1.11129.2.4.5, RFC 6962 3.3's third way, read by OpenSSL and
    Chrome); empty when there is none, several answers, or it does not parse. They are
    signed over the certificate itself (x509_entry), so which answer holds them does not
    matter: an SCT for another certificate does not verify."""
    if not ocsp_response:
        return ()
    try:
        response = ocsp.load_der_ocsp_response(ocsp_response)
        if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
            return ()
        ext = response.single_extensions.get_extension_for_oid(
            ExtensionOID.SIGNED_CERTIFICATE_TIMESTAMPS)
    except (ValueError, x509.ExtensionNotFound):
        return ()
    return _listed_scts(ext)


def _listed_scts(ext: x509.Extension[Any]) -> tuple[bytes, ...]:
    """The SCTs of a certificate's or an OCSP answer's SCT list extension (an OCTET STRING
    around a SignedCertificateTimestampList, whichever form `cryptography` decoded it to);
    empty when it is malformed."""
    value = ext.value
    der = value.value if isinstance(value, x509.UnrecognizedExtension) else value.public_bytes()
    inner = _octet_string(der)
    if inner is None:
        return ()
    try:
        return decode_sct_list(inner)
    except DecodeError:
        return ()


def _octet_string(der: bytes) -> bytes | None:
    """The contents of a DER OCTET STRING (the extension's SignedCertificateTimestampList
    is wrapped in one), or None."""
    try:
        tag, body, stop = read_tlv(der, 0, len(der))
    except DERError:
        return None
    return der[body:stop] if tag == 0x04 and stop == len(der) else None


class SCTStatus(StrEnum):
    """What became of one SCT."""

    valid = "valid"
    unknown_log = "unknown log"
    invalid_signature = "invalid signature"
    future_timestamp = "timestamp in the future"
    malformed = "malformed"
    # RFC 6962 3.2 / 3.3: a version this client does not know is ignored, not an error.
    unknown_version = "unknown version"
    duplicate = "not checked (its log already vouched)"
    not_checked = "not checked (too many SCTs from its log)"


@dataclass(frozen=True)
class SCTCheck:
    """One SCT checked: where it came from ("tls" or "certificate"), the decoded SCT
    (None when malformed), the known log that issued it (None if unknown) and the
    outcome."""

    source: str
    sct: SignedCertificateTimestamp | None
    log: CTLog | None
    status: SCTStatus

    def describe(self) -> str:
        if self.sct is None:
            return f"{self.source} SCT: {self.status}"
        who = self.log.label() if self.log is not None else self.sct.log_id.hex()[:16]
        return f"{self.source} SCT from {who}: {self.status}"


def check_scts(logs: Sequence[CTLog], leaf: x509.Certificate, issuer: x509.Certificate | None,
               tls_scts: Sequence[bytes], now_ms: int,
               ocsp_response: bytes | None = None) -> list[SCTCheck]:
    """Every SCT the server gave for ``leaf``: those from TLS and those in its stapled
    ``ocsp_response`` (source "ocsp") over its x509_entry, those embedded in it over its
    precert_entry (which needs the ``issuer``; without one they cannot be checked and
    count as unknown). An SCT whose timestamp is after ``now_ms``
    (milliseconds since the epoch) is not valid: a log cannot have seen it yet. Once a
    log has a valid SCT its others are not verified (duplicate), nor any after
    `MAX_ATTEMPTS_PER_LOG` that were not (not_checked)."""
    checker = _Checker({log.log_id: log for log in logs}, now_ms)
    out: list[SCTCheck] = []
    entry = x509_entry(leaf)
    for raw in tls_scts:
        out.append(checker.check(raw, "tls", X509_ENTRY, entry))
    for raw in stapled_scts(ocsp_response):
        out.append(checker.check(raw, "ocsp", X509_ENTRY, entry))
    embedded = embedded_scts(leaf)
    if embedded:
        pre = None
        if issuer is not None:
            try:
                pre = precert_entry(leaf, issuer)
            except (ValueError, UnsupportedAlgorithm):  # no precertificate to rebuild
                return out + [SCTCheck("certificate", None, None, SCTStatus.malformed)
                              for _ in embedded]
        if pre is None:
            checker.by_id = {}
        for raw in embedded:
            out.append(checker.check(raw, "certificate", PRECERT_ENTRY, pre or b""))
    return out


@dataclass
class _Checker:
    """Checks SCTs one by one, verifying each log's signatures only while they can still
    count (`MAX_ATTEMPTS_PER_LOG`): the verifications stay bounded by the known logs."""

    by_id: dict[bytes, CTLog]
    now_ms: int
    vouched: set[bytes] = field(default_factory=set)
    attempts: dict[bytes, int] = field(default_factory=dict)

    def check(self, raw: bytes, source: str, entry_type: int, entry: bytes) -> SCTCheck:
        if raw and raw[0] != 0:  # RFC 6962 3.3: another version than v1 (0) is ignored
            return SCTCheck(source, None, None, SCTStatus.unknown_version)
        try:
            sct = decode_sct(raw)
        except DecodeError:
            return SCTCheck(source, None, None, SCTStatus.malformed)
        log = self.by_id.get(sct.log_id)
        if log is None:
            return SCTCheck(source, sct, None, SCTStatus.unknown_log)
        if sct.log_id in self.vouched:
            return SCTCheck(source, sct, log, SCTStatus.duplicate)
        tried = self.attempts.get(sct.log_id, 0)
        if tried >= MAX_ATTEMPTS_PER_LOG:
            return SCTCheck(source, sct, log, SCTStatus.not_checked)
        self.attempts[sct.log_id] = tried + 1
        if not log.verify(sct, signed_data(sct, entry_type, entry)):
            return SCTCheck(source, sct, log, SCTStatus.invalid_signature)
        if sct.timestamp > self.now_ms:
            return SCTCheck(source, sct, log, SCTStatus.future_timestamp)
        self.vouched.add(sct.log_id)
        return SCTCheck(source, sct, log, SCTStatus.valid)


class CTPolicyError(BadCertificate):
    """The server's certificate has too few valid SCTs for the client's `CTPolicy`
    (bad_certificate). ``checks`` holds what became of each SCT."""

    def __init__(self, message: str, checks: Sequence[SCTCheck] = ()) -> None:
        super().__init__(message)
        self.checks = list(checks)


@dataclass(frozen=True)
class CTPolicy:
    """Require ``min_scts`` valid SCTs, each from a different one of ``logs``, for the
    server's leaf certificate (delivered in TLS, in its OCSP staple, or embedded in the
    certificate)."""

    logs: Sequence[CTLog]
    min_scts: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "logs", tuple(self.logs))
        for log in self.logs:
            if not isinstance(log, CTLog):
                raise TypeError(f"CTPolicy logs must be CTLog objects, not "
                                f"{type(log).__name__}")
        if type(self.min_scts) is not int or self.min_scts < 1:
            raise ValueError(f"min_scts must be a whole number of at least 1, not "
                             f"{self.min_scts!r}")
        distinct = len({log.log_id for log in self.logs})  # (a key given twice counts once)
        if self.min_scts > distinct:
            raise ValueError(f"min_scts={self.min_scts} asks for more distinct logs than "
                             f"the {distinct} given: no server could pass")

    def enforce(self, chain: Sequence[x509.Certificate], tls_scts: Sequence[bytes],
                now: float, ocsp_response: bytes | None = None) -> list[SCTCheck]:
        """Check the SCTs for ``chain[0]`` (issued by ``chain[1]``, when there is one) at
        ``now`` (Unix seconds), also those of its stapled ``ocsp_response``; raise
        `CTPolicyError` when too few logs vouch for it."""
        leaf = chain[0]
        issuer = chain[1] if len(chain) > 1 else None
        checks = check_scts(self.logs, leaf, issuer, tls_scts, int(now * 1000),
                            ocsp_response)
        vouching = {c.log.log_id: c.log for c in checks
                    if c.status is SCTStatus.valid and c.log is not None}
        if len(vouching) >= self.min_scts:
            return checks
        found = "; ".join(c.describe() for c in checks[:_DESCRIBED]) or "none received"
        if len(checks) > _DESCRIBED:  # (a hostile list holds hundreds: see `checks`)
            found += f"; and {len(checks) - _DESCRIBED} more"
        logs = ", ".join(log.label() for log in vouching.values())
        raise CTPolicyError(
            f"certificate {leaf.subject.rfc4514_string()!r} has valid SCTs from "
            f"{len(vouching)} known log(s){f' ({logs})' if logs else ''}, the CT policy "
            f"requires {self.min_scts} (SCTs: {found}); the server must deliver SCTs from "
            f"logs in the policy (or add the logs that signed them to it)", checks)
