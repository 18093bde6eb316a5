"""A test Certificate Transparency log: an ECDSA P-256 (or RSA) key that signs SCTs
(RFC 6962 3.2) over a certificate (x509_entry) or a precertificate (precert_entry), and
certificates with SCTs embedded, the way a CA builds them. The SCT layout and signed
input are built here independently of `tlskit.x509.ct` (only its result is compared)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtensionOID

from tlskit.ca import Issued
from tlskit.x509.ct import CTLog

DER = serialization.Encoding.DER
SPKI = serialization.PublicFormat.SubjectPublicKeyInfo


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class SigningLog:
    """A log key; ``sct(...)`` returns one serialized v1 SCT."""

    name: str = "tlskit test log"
    rsa: bool = False
    key: Any = field(init=False)

    def __post_init__(self) -> None:
        self.key = (rsa.generate_private_key(65537, 2048) if self.rsa
                    else ec.generate_private_key(ec.SECP256R1()))

    @property
    def spki(self) -> bytes:
        return bytes(self.key.public_key().public_bytes(DER, SPKI))

    @property
    def log_id(self) -> bytes:
        return hashlib.sha256(self.spki).digest()

    def ct_log(self) -> CTLog:
        return CTLog(self.key.public_key(), self.name)

    def _sign(self, data: bytes) -> bytes:
        if self.rsa:
            return bytes(self.key.sign(data, padding.PKCS1v15(), hashes.SHA256()))
        return bytes(self.key.sign(data, ec.ECDSA(hashes.SHA256())))

    def sct(self, cert: x509.Certificate | None = None, *, timestamp: int | None = None,
            extensions: bytes = b"", precert: tuple[bytes, bytes] | None = None) -> bytes:
        """An SCT over ``cert``'s x509_entry, or over ``precert`` = (issuer SPKI DER,
        TBSCertificate) as a precert_entry."""
        ts = now_ms() - 60_000 if timestamp is None else timestamp
        if precert is None:
            assert cert is not None
            body = cert.public_bytes(DER)
            entry = struct.pack(">H", 0) + len(body).to_bytes(3, "big") + body
        else:
            issuer_spki, tbs = precert
            entry = (struct.pack(">H", 1) + hashlib.sha256(issuer_spki).digest()
                     + len(tbs).to_bytes(3, "big") + tbs)
        signed = (bytes([0, 0]) + struct.pack(">Q", ts) + entry
                  + struct.pack(">H", len(extensions)) + extensions)
        signature = self._sign(signed)
        algorithm = b"\x04\x01" if self.rsa else b"\x04\x03"  # sha256 + rsa / ecdsa
        return (b"\x00" + self.log_id + struct.pack(">Q", ts)
                + struct.pack(">H", len(extensions)) + extensions
                + algorithm + struct.pack(">H", len(signature)) + signature)

    def openssl_log_file(self, path: Path, *, key_spki: bytes | None = None) -> Path:
        """OpenSSL's CT log list (CTLOG_STORE_load_file): ``enabled_logs`` naming one
        section with the base64 DER key and a description."""
        key = base64.b64encode(key_spki or self.spki).decode()
        path.write_text(f"enabled_logs = testlog\n\n[testlog]\n"
                        f"description = {self.name}\nkey = {key}\n")
        return path


def sct_list(*scts: bytes) -> bytes:
    body = b"".join(struct.pack(">H", len(s)) + s for s in scts)
    return struct.pack(">H", len(body)) + body


def with_embedded_scts(issued: Issued, issuer_key: Any, logs: list[SigningLog], *,
                       timestamp: int | None = None) -> x509.Certificate:
    """``issued``'s leaf issued again by ``issuer_key`` with SCTs from ``logs`` embedded:
    each signed over the TBSCertificate without the extension (the precertificate's),
    which stays the same when the extension is appended last."""
    leaf = issued.chain[0]
    issuer = issued.chain[1]

    def builder() -> x509.CertificateBuilder:
        b = (x509.CertificateBuilder().subject_name(leaf.subject).issuer_name(leaf.issuer)
             .public_key(leaf.public_key()).serial_number(leaf.serial_number)
             .not_valid_before(leaf.not_valid_before_utc)
             .not_valid_after(leaf.not_valid_after_utc))
        for ext in leaf.extensions:
            b = b.add_extension(ext.value, ext.critical)
        return b

    pre = builder().sign(issuer_key, hashes.SHA256())
    issuer_spki = issuer.public_key().public_bytes(DER, SPKI)
    scts = [log.sct(precert=(issuer_spki, pre.tbs_certificate_bytes), timestamp=timestamp)
            for log in logs]
    octets = sct_list(*scts)
    value = b"\x04" + _der_length(len(octets)) + octets
    ext = x509.UnrecognizedExtension(ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS, value)
    final = builder().add_extension(ext, critical=False).sign(issuer_key, hashes.SHA256())
    assert final.tbs_precertificate_bytes == pre.tbs_certificate_bytes
    return final


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def utc(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


SCT_OCSP_OID = "1.3.6.1.4.1.11129.2.4.5"  # RFC 6962 3.3: SCTs in an OCSP singleExtension


def staple_with_scts(issued: Issued, issuer_key: Any, scts: list[bytes]) -> bytes:
    """A "good" OCSP response for ``issued``'s leaf, signed by its issuer, whose answer
    carries ``scts`` in the singleExtensions (which cryptography's builder cannot add)."""
    from cryptography.x509 import ocsp

    from tlskit._ocsp_der import (
        SingleResponse,
        algorithm_identifier,
        encode_oid,
        parse_request,
        successful_response,
        tlv,
    )
    leaf, issuer = issued.chain[0], issued.chain[1]
    request = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, hashes.SHA1()).build()
    cert_id = parse_request(request.public_bytes(DER)).cert_ids[0]
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    single = SingleResponse(cert_id, "good", now - dt.timedelta(hours=1),
                            now + dt.timedelta(days=1)).encode()
    head = 2 if single[1] < 0x80 else 2 + (single[1] & 0x7F)
    ext = tlv(0x30, encode_oid(SCT_OCSP_OID) + tlv(0x04, tlv(0x04, sct_list(*scts))))
    single = tlv(0x30, single[head:] + tlv(0xA1, tlv(0x30, ext)))
    key_hash = x509.SubjectKeyIdentifier.from_public_key(issuer.public_key()).digest
    produced = tlv(0x18, now.strftime("%Y%m%d%H%M%SZ").encode())
    tbs = tlv(0x30, tlv(0xA2, tlv(0x04, key_hash)) + produced + tlv(0x30, single))
    if isinstance(issuer_key, ec.EllipticCurvePrivateKey):
        signature = issuer_key.sign(tbs, ec.ECDSA(hashes.SHA256()))
        algorithm = algorithm_identifier("1.2.840.10045.4.3.2", False)
    else:
        signature = issuer_key.sign(tbs, padding.PKCS1v15(), hashes.SHA256())
        algorithm = algorithm_identifier("1.2.840.113549.1.1.11", True)
    return successful_response(tbs, algorithm, signature, [])
