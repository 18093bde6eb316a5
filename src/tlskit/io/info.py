"""What the blocking and asyncio adapters both report about a connection, in the shape
of the stdlib `ssl` objects (``getpeercert``, ``cipher``, ``version``, ...)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import AuthorityInformationAccessOID

from ..connection import Connection
from ..events import HandshakeComplete


class ConnectionInfo:
    """Read-only handshake facts; the class using it sets ``self._conn``."""

    _conn: Connection

    @property
    def handshake_info(self) -> HandshakeComplete | None:
        """The `HandshakeComplete` event, or None before the handshake."""
        return self._conn.handshake_complete

    @property
    def peer_certificates(self) -> list[x509.Certificate]:
        hc = self._conn.handshake_complete
        return list(hc.peer_certificates) if hc is not None else []

    @property
    def peer_raw_public_key(self) -> bytes | None:
        """RFC 7250: the peer's pinned raw public key (DER SubjectPublicKeyInfo) when it
        presented one instead of a certificate (`getpeercert` is then None)."""
        hc = self._conn.handshake_complete
        return hc.peer_raw_public_key if hc is not None else None

    @property
    def signed_certificate_timestamps(self) -> tuple[bytes, ...]:
        """RFC 6962 3.3: the serialized SCTs the server delivered in TLS (client side,
        with ``request_scts``); empty before the handshake or when none came."""
        hc = self._conn.handshake_complete
        return hc.signed_certificate_timestamps if hc is not None else ()

    def getpeercert(self, binary_form: bool = False) -> Any:
        """The peer's leaf as DER bytes or an `ssl`-style dict; None if it sent none."""
        hc = self._conn.handshake_complete
        if hc is None:
            raise ValueError("handshake not done yet")
        if not hc.peer_certificates:
            return None
        leaf = hc.peer_certificates[0]
        if binary_form:
            return leaf.public_bytes(serialization.Encoding.DER)
        return peercert_dict(leaf)

    def cipher(self) -> tuple[str, str, int] | None:
        """(suite name, protocol version, secret bits), like `ssl.SSLSocket.cipher()`."""
        suite = self._conn.negotiated_suite
        hc = self._conn.handshake_complete
        if suite is None or hc is None:
            return None
        return suite.name, hc.version, suite.key_length * 8

    def version(self) -> str | None:
        hc = self._conn.handshake_complete
        return hc.version if hc is not None else None

    def selected_alpn_protocol(self) -> str | None:
        hc = self._conn.handshake_complete
        return hc.alpn_protocol if hc is not None else None


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _asn1_time(when: dt.datetime) -> str:
    # OpenSSL's ASN1_TIME_print format, which ssl.cert_time_to_seconds parses.
    return f"{_MONTHS[when.month - 1]} {when.day:2d} {when:%H:%M:%S} {when.year} GMT"


def _name_tuple(name: x509.Name) -> tuple[tuple[tuple[str, str], ...], ...]:
    out = []
    for rdn in name.rdns:
        pairs = []
        for attr in rdn:
            label = attr.oid._name
            if label == "Unknown OID":
                label = attr.oid.dotted_string
            value = attr.value if isinstance(attr.value, str) else attr.value.hex()
            pairs.append((label, value))
        out.append(tuple(pairs))
    return tuple(out)


def peercert_dict(cert: x509.Certificate) -> dict[str, Any]:
    """The subset of `ssl.SSLSocket.getpeercert()`'s dict that tools rely on."""
    info: dict[str, Any] = {
        "subject": _name_tuple(cert.subject),
        "issuer": _name_tuple(cert.issuer),
        "version": cert.version.value + 1,
        "serialNumber": f"{cert.serial_number:X}".rjust(2, "0"),
        "notBefore": _asn1_time(cert.not_valid_before_utc),
        "notAfter": _asn1_time(cert.not_valid_after_utc),
    }
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        pass
    else:
        alt: list[tuple[str, str]] = []
        for gn in san:
            if isinstance(gn, x509.DNSName):
                alt.append(("DNS", gn.value))
            elif isinstance(gn, x509.IPAddress):
                alt.append(("IP Address", str(gn.value)))
            elif isinstance(gn, x509.RFC822Name):
                alt.append(("email", gn.value))
            elif isinstance(gn, x509.UniformResourceIdentifier):
                alt.append(("URI", gn.value))
        info["subjectAltName"] = tuple(alt)
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        pass
    else:
        for key, oid in (("OCSP", AuthorityInformationAccessOID.OCSP),
                         ("caIssuers", AuthorityInformationAccessOID.CA_ISSUERS)):
            urls = tuple(d.access_location.value for d in aia
                         if d.access_method == oid
                         and isinstance(d.access_location, x509.UniformResourceIdentifier))
            if urls:
                info[key] = urls
    return info


# -- client entry point -------------------------------------------------------------------

