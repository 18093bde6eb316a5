"""The local CA's OCSP answers (RFC 6960): each CA signs the status of what it issued,
the intermediate for the leaves and the root for the intermediate, any number of
certificates per request. The responses are built by `tlskit._ocsp_der`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509 import ocsp

from .. import _ocsp_der
from .build import sign_hash
from .files import PrivateKey
from .index import Record
from .model import OCSP_VALIDITY, CAError, Revocation, Status, format_serial

# RFC 5280 4.1.1.2 / RFC 8017 A.2.4 / RFC 5758 3.2 / RFC 8410 3; the hash of a CertID
_CERT_ID_HASHES: dict[str, hashes.HashAlgorithm] = {
    "1.3.14.3.2.26": hashes.SHA1(),
    "2.16.840.1.101.3.4.2.4": hashes.SHA224(),
    "2.16.840.1.101.3.4.2.1": hashes.SHA256(),
    "2.16.840.1.101.3.4.2.2": hashes.SHA384(),
    "2.16.840.1.101.3.4.2.3": hashes.SHA512(),
}
_REASON_CODES: dict[x509.ReasonFlags, int] = {
    x509.ReasonFlags.unspecified: 0,
    x509.ReasonFlags.key_compromise: 1,
    x509.ReasonFlags.ca_compromise: 2,
    x509.ReasonFlags.affiliation_changed: 3,
    x509.ReasonFlags.superseded: 4,
    x509.ReasonFlags.cessation_of_operation: 5,
    x509.ReasonFlags.certificate_hold: 6,
    x509.ReasonFlags.remove_from_crl: 8,
    x509.ReasonFlags.privilege_withdrawn: 9,
    x509.ReasonFlags.aa_compromise: 10,
}

Signer = tuple[x509.Certificate, PrivateKey]


class OCSPAnswers:
    """Answers for one CA. ``issuers`` is (intermediate, root), each with its key;
    ``records`` returns a snapshot of the index (the intermediate's leaves), ``now`` the
    CA's time, both read per request so a revocation made meanwhile is seen."""

    def __init__(self, issuers: tuple[Signer, Signer],
                 records: Callable[[], dict[int, Record]],
                 now: Callable[[], dt.datetime]) -> None:
        self._issuers = issuers
        self._records = records
        self._now = now
        self._hashes: dict[tuple[int, str], tuple[bytes, bytes]] = {}

    def answer(self, request_der: bytes) -> tuple[bytes, str]:
        """The DER OCSPResponse and a one-line summary of it, for the responder's log.

        One response has one signer, so one request must be about one issuer's
        certificates: a request mixing the root's and the intermediate's is answered
        ``unauthorized`` (ask twice), as is one naming any issuer this CA does not know:
        an ``unknown`` for it would be signed by a key that is neither that issuer's nor
        authorized by it (RFC 6960 4.2.2.2)."""
        try:
            request = _ocsp_der.parse_request(request_der)
        except _ocsp_der.OcspDERError as exc:
            return unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST), f"malformed: {exc}"
        issuers = [self._issuer_of(cert_id) for cert_id in request.cert_ids]
        known = {i for i in issuers if i is not None}
        labels = ", ".join(format_serial(c.serial_number) for c in request.cert_ids)
        label = f"serial{'s' if len(request.cert_ids) > 1 else ''} {labels}"
        if len(known) != 1 or None in issuers:
            why = "root and intermediate mixed" if len(known) > 1 else "issuer not this CA"
            return (unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED),
                    f"{label}: unauthorized ({why})")
        signer_cert, signer_key = self._issuers[known.pop()]
        records = self._records()
        now = self._now()
        answers, words = [], []
        for cert_id, issuer in zip(request.cert_ids, issuers, strict=True):
            status, revocation = self._status(issuer, cert_id.serial_number, records)
            reason = None
            if revocation and revocation.reason is not x509.ReasonFlags.unspecified:
                reason = _REASON_CODES[revocation.reason]
            answers.append(_ocsp_der.SingleResponse(
                cert_id, status, now, now + OCSP_VALIDITY,
                revocation.revoked_at if revocation else None, reason))
            words.append(status)
        tbs = _ocsp_der.response_data(
            _digest(hashes.SHA1(), _public_key_bits(signer_cert)), now, answers,
            request.nonce_extension)
        algorithm, signature = _sign(signer_key, tbs)
        body = _ocsp_der.successful_response(
            tbs, algorithm, signature, [signer_cert.public_bytes(serialization.Encoding.DER)])
        return body, f"{label}: {', '.join(words)}"

    def _issuer_of(self, cert_id: _ocsp_der.CertID) -> int | None:
        """Index into the issuers of the CA a CertID names, or None."""
        algorithm = _CERT_ID_HASHES.get(cert_id.hash_oid)
        if algorithm is None:
            return None
        wanted = (cert_id.issuer_name_hash, cert_id.issuer_key_hash)
        for i, (cert, _) in enumerate(self._issuers):
            if self._hashes_for(cert, algorithm) == wanted:
                return i
        return None

    def _hashes_for(
        self, cert: x509.Certificate, algorithm: hashes.HashAlgorithm
    ) -> tuple[bytes, bytes]:
        """(issuerNameHash, issuerKeyHash) of CA certificate ``cert`` under ``algorithm``."""
        key = (cert.serial_number, algorithm.name)
        cached = self._hashes.get(key)
        if cached is None:
            cached = (
                _digest(algorithm, cert.subject.public_bytes()),
                _digest(algorithm, _public_key_bits(cert)),
            )
            self._hashes[key] = cached
        return cached

    def _status(
        self, issuer: int | None, serial: int, records: dict[int, Record]
    ) -> tuple[Status, Revocation | None]:
        if issuer == 0:  # the intermediate's own leaves, from the index
            record = records.get(serial)
            if record is None:
                return "unknown", None
            return ("revoked", record.revocation) if record.revocation else ("good", None)
        if issuer == 1 and serial == self._issuers[0][0].serial_number:
            return "good", None  # the root issued one intermediate, never revoked
        return "unknown", None


def unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    """A DER OCSPResponse with an error status and no body."""
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
        serialization.Encoding.DER
    )


def _public_key_bits(cert: x509.Certificate) -> bytes:
    """The contents of the subjectPublicKey BIT STRING, which an OCSP CertID's key hash is
    computed over (RFC 6960 4.1.1)."""
    key = cert.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    if isinstance(key, rsa.RSAPublicKey):
        return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    raise CAError(f"unsupported CA key type {type(key).__name__}")


def _digest(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    h = hashes.Hash(algorithm)
    h.update(data)
    return h.finalize()


def _sign(key: PrivateKey, data: bytes) -> tuple[bytes, bytes]:
    """(AlgorithmIdentifier DER, signature) over ``data`` with the CA key, hashed as
    `sign_hash` says (the same choice as for the CA's certificates and CRLs)."""
    digest = sign_hash(key)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return _ocsp_der.algorithm_identifier("1.3.101.112", False), key.sign(data)
    assert digest is not None
    sha384 = isinstance(digest, hashes.SHA384)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        oid = "1.2.840.10045.4.3.3" if sha384 else "1.2.840.10045.4.3.2"
        return _ocsp_der.algorithm_identifier(oid, False), key.sign(data, ec.ECDSA(digest))
    oid = "1.2.840.113549.1.1.12" if sha384 else "1.2.840.113549.1.1.11"
    signature = key.sign(data, padding.PKCS1v15(), digest)
    return _ocsp_der.algorithm_identifier(oid, True), signature
