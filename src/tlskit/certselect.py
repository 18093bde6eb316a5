"""Client certificate selection: what a server's CertificateRequest asks for
(`CertificateRequestInfo`), which of a client's certificates answers it, and the
certificate_authorities list a server names its client CAs with.

A server lists the subjects of the CAs it accepts (RFC 8446 4.2.4, RFC 5246 7.4.4); a
client holding several certificates sends the first one issued under a named CA whose key
can sign with a scheme the server offered (the rule Go's ``SupportsCertificate`` applies),
or asks its ``certificate_resolver``. The names are advice: the server's verifier decides.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography import x509
from cryptography.x509.name import _ASN1Type

from ._ocsp_der import decode_oid
from .config import CertifiedKey
from .enums import SignatureScheme
from .errors import DecodeError, InternalError, call_hook
from .wire.extensions import decode_ca_names, encode_ca_names
from .x509.der import DERError, read_tlv

__all__ = ["CertificateRequestInfo", "CertificateResolver", "decode_certificate_authorities",
           "decode_name", "encode_certificate_authorities"]

# The value tags cryptography reads in a Name (its _ASN1Type), and how it reads them: a
# BIT STRING (x500UniqueIdentifier) as its raw contents, BMP and Universal strings in
# their encodings, every other tag as UTF-8. Read alike, a name from the wire equals the
# one cryptography reads from the CA's certificate (so a tlskit server can name any CA
# it loads); a T61String that is not UTF-8 is read as Latin-1 rather than refused.
_VALUE_TAGS: dict[int, _ASN1Type] = {int(t.value): t for t in _ASN1Type}
_CODECS = {0x1C: "utf-32-be", 0x1E: "utf-16-be"}


def _value(raw: bytes, tag: int) -> str | bytes:
    """An attribute value as cryptography holds it (see ``_VALUE_TAGS``)."""
    if tag == 0x03:
        return raw
    try:
        return raw.decode(_CODECS.get(tag, "utf-8"))
    except UnicodeDecodeError:
        if tag != 0x14:
            raise
        return raw.decode("latin-1")


# The longest OBJECT IDENTIFIER contents cryptography takes (rust-asn1's limit): checked
# before the arcs are read, which costs time quadratic in the length of one long arc.
_MAX_OID_LENGTH = 63


def _attribute(der: bytes, start: int, end: int) -> x509.NameAttribute[Any]:
    """One AttributeTypeAndValue (RFC 5280 4.1.2.4): an OID, then one string."""
    tag, oid, oid_end = read_tlv(der, start, end)
    if tag != 0x06:
        raise DERError("an attribute type is not an OBJECT IDENTIFIER")
    if oid_end - oid > _MAX_OID_LENGTH:
        raise DERError(f"an attribute type of {oid_end - oid} bytes (at most "
                       f"{_MAX_OID_LENGTH})")
    tag, value, value_end = read_tlv(der, oid_end, end)
    if value_end != end:
        raise DERError("trailing data in an attribute")
    asn1 = _VALUE_TAGS.get(tag)
    if asn1 is None:
        raise DERError(f"an attribute value of tag {tag:#04x}, not one a Name holds")
    # (_validate off: lengths such as a two-letter country are the CA's business, and a
    # name must compare as sent; the structure is checked here. A BIT STRING of another
    # type than x500UniqueIdentifier is a TypeError there.)
    return x509.NameAttribute(x509.ObjectIdentifier(decode_oid(der[oid:oid_end])),
                              _value(der[value:value_end], tag), asn1, _validate=False)


def decode_name(der: bytes) -> x509.Name:
    """An encoded Name (a SEQUENCE of non-empty SETs of attributes), read strictly:
    DecodeError for anything else, trailing bytes included. Attribute values are read
    as cryptography reads a certificate's names, so the Name equals the CA's subject.
    (A length in a longer form than DER's shortest is taken, as OpenSSL takes it: such
    a name matches no issuer, which are compared as encoded.)"""
    try:
        tag, pos, end = read_tlv(der, 0, len(der))
        if tag != 0x30 or end != len(der):
            raise DERError("not one SEQUENCE")
        rdns = []
        while pos < end:
            tag, rdn, pos = read_tlv(der, pos, end)
            if tag != 0x31 or rdn == pos:
                raise DERError("an empty or mistagged RelativeDistinguishedName")
            attributes = []
            while rdn < pos:
                tag, attr, rdn = read_tlv(der, rdn, pos)
                if tag != 0x30:
                    raise DERError("a mistagged attribute")
                attributes.append(_attribute(der, attr, rdn))
            rdns.append(x509.RelativeDistinguishedName(attributes))
        return x509.Name(rdns)
    except (ValueError, TypeError) as exc:  # DERError, UnicodeDecodeError, bad OIDs
        raise DecodeError(f"certificate_authorities: a DistinguishedName that is not a "
                          f"DER Name ({exc})") from exc


def decode_certificate_authorities(body: bytes | memoryview) -> list[x509.Name]:
    """The names of a TLS 1.3 certificate_authorities extension (RFC 8446 4.2.4: at
    least one), read strictly: DecodeError (decode_error) for a malformed list or name.
    (TLS 1.2's CertificateRequest splits its list itself; `decode_name` reads each.)"""
    return [decode_name(der) for der in decode_ca_names(body)]


def encode_certificate_authorities(names: Sequence[x509.Name | bytes]) -> bytes:
    """The certificate_authorities vector (the TLS 1.3 extension's body) of ``names``:
    `x509.Name` objects or their DER. ValueError for what the extension cannot carry
    (RFC 8446 4.2.4: one name at least, none empty, 2^16-1 bytes in all), which
    `decode_certificate_authorities` would refuse."""
    ders = [n if isinstance(n, bytes) else n.public_bytes() for n in names]
    if not ders or not all(ders):
        raise ValueError("certificate_authorities carries at least one name, none empty")
    total = sum(2 + len(d) for d in ders)
    if total > 0xFFFF:
        raise ValueError(f"certificate_authorities of {total} bytes: at most 65535")
    return encode_ca_names(ders)


# The key family of each TLS 1.2 signature scheme: RSA (PKCS#1 and PSS) or EC (ECDSA
# and EdDSA, which RFC 8422 5.5 files under ecdsa_sign). Others are not ours to sign.
_RSA_SCHEMES = frozenset({0x0201, 0x0401, 0x0501, 0x0601, 0x0804, 0x0805, 0x0806, 0x0809,
                          0x080A, 0x080B})
_EC_SCHEMES = frozenset({0x0203, 0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x081A, 0x081B,
                         0x081C})


def schemes_for_types(schemes: Sequence[int], certificate_types: bytes) -> list[int]:
    """TLS 1.2: the offered schemes whose key family the request's certificate_types
    allow (rsa_sign 1: RSA; ecdsa_sign 64: ECDSA and EdDSA, RFC 8422 5.5), as Go reads
    them."""
    allowed = (_RSA_SCHEMES if 1 in certificate_types else frozenset()) \
        | (_EC_SCHEMES if 64 in certificate_types else frozenset())
    return [s for s in schemes if s in allowed]


# Known scheme values to their members: a server may list ~32000 schemes, and an Enum
# call that fails costs an exception each (0.07 s for such a request, not 2 ms).
_KNOWN_SCHEMES: dict[int, SignatureScheme] = {int(s): s for s in SignatureScheme}


def _scheme(value: int) -> int:
    """A scheme as its `SignatureScheme` member when it has one, else the number."""
    return _KNOWN_SCHEMES.get(value, value)


def _entries(vector: bytes) -> Iterator[bytes]:
    """The DERs of a vector of DistinguishedNames, each behind its 2-byte length (as
    `encode_ca_names` writes them, so well formed)."""
    at, n = 0, len(vector)
    while at < n:
        end = at + 2 + ((vector[at] << 8) | vector[at + 1])
        yield vector[at + 2:end]
        at = end


class _Authorities:
    """`CertificateRequestInfo.certificate_authorities`: a tuple of `x509.Name`, decoded
    from the names' bytes on first access when the info came from a CertificateRequest.
    Until then an info keeps only those bytes (each name was read once, strictly, when
    the request arrived): a server may name ~16,000 minimal CAs, which as `x509.Name`
    objects are ~40 times their bytes, kept while the client waits for its Finished."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.key = name

    def __get__(self, obj: Any, owner: Any = None) -> tuple[x509.Name, ...]:
        if obj is None:
            return ()  # (the dataclass field's default)
        value = obj.__dict__[self.key]
        if isinstance(value, bytes):  # received: decoded now, and kept
            value = tuple(map(decode_name, _entries(value)))
            obj.__dict__[self.key] = value
        return value  # type: ignore[no-any-return]

    def __set__(self, obj: Any, value: Sequence[x509.Name]) -> None:
        obj.__dict__[self.key] = tuple(value)


@dataclass(frozen=True)
class CertificateRequestInfo:
    """What a server's CertificateRequest asks of a client certificate, as handed to
    `ClientConfig.certificate_resolver`.

    :param certificate_authorities: the CAs the server names (their subjects), in its
        order; empty when it names none (any issuer may do). An info from a
        CertificateRequest keeps the names as the server sent them (each read strictly
        when it arrived) and decodes this tuple on first access: a server may name
        ~16,000 CAs, ~40 times their bytes as `x509.Name` objects. The client lets the
        info go once it has answered the request.
    :param signature_schemes: the schemes the certificate's key may sign the
        CertificateVerify with (TLS 1.2: only those of the key types the request's
        certificate_types allow).
    :param version: "TLSv1.3" or "TLSv1.2".
    :param server_name: the name the client sent in SNI (None: none sent).
    """

    certificate_authorities: _Authorities = _Authorities()  # tuple[x509.Name, ...]
    signature_schemes: tuple[int, ...] = ()
    version: Literal["TLSv1.3", "TLSv1.2"] = "TLSv1.3"
    server_name: str | None = None
    # The names as the server sent them (`received`: each DER behind its 2-byte length),
    # compared with issuers byte for byte; None for an info built by hand (then encoded
    # from the names).
    _authority_ders: bytes | None = field(default=None, init=False, repr=False,
                                          compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "signature_schemes",
                           tuple(_scheme(s) for s in self.signature_schemes))

    @classmethod
    def received(cls, ders: Sequence[bytes], schemes: Sequence[int],
                 version: Literal["TLSv1.3", "TLSv1.2"], server_name: str | None
                 ) -> CertificateRequestInfo:
        """The info of a CertificateRequest naming the CAs ``ders`` (DER Names, each read
        strictly: DecodeError for a malformed one)."""
        for der in ders:  # (read now, strictly; kept as bytes, decoded again on access)
            decode_name(der)
        vector = b"".join([b for der in ders for b in (len(der).to_bytes(2, "big"), der)])
        info = cls((), tuple(schemes), version, server_name)
        info.__dict__["certificate_authorities"] = vector  # (decoded on first access)
        object.__setattr__(info, "_authority_ders", vector)
        return info

    def names(self) -> list[str]:
        """The named CAs as RFC 4514 strings (for traces and messages)."""
        return [n.rfc4514_string() for n in self.certificate_authorities]

    def signing_scheme(self, certified_key: CertifiedKey) -> int | None:
        """The first scheme of the key's own order the server accepts, or None."""
        mine = certified_key.schemes if self.version == "TLSv1.3" else certified_key.schemes12
        offered = self.signature_schemes
        return next((s for s in mine if s in offered), None)

    def supports(self, certified_key: CertifiedKey) -> bool:
        """Would the server accept this certificate? Its key signs with a scheme offered,
        and, when CAs are named, one of its chain's certificates is issued by one of them
        (their issuer names compared as encoded: Go's ``SupportsCertificate`` rule)."""
        if self.signing_scheme(certified_key) is None:
            return False
        vector = self._authority_ders
        named = set(_entries(vector)) if vector is not None else \
            {n.public_bytes() for n in self.certificate_authorities}
        return not named or any(issuer in named for issuer in certified_key.issuer_ders)


CertificateResolver = Callable[[CertificateRequestInfo], CertifiedKey | None]
"""What `ClientConfig.certificate_resolver` takes: ``resolver(info)`` returns the
`CertifiedKey` to present, or None to present none (an empty Certificate message)."""


def choose(info: CertificateRequestInfo, certificates: Sequence[CertifiedKey],
           resolver: CertificateResolver | None) -> tuple[CertifiedKey, int] | None:
    """The certificate to answer ``info`` with and its scheme, or None for an empty
    Certificate: the resolver's answer when one is set, else the first certificate the
    request supports. A client with one certificate sends it whatever CAs the server
    names, as OpenSSL, rustls and curl do (the server decides: it may accept more than
    it names, e.g. by pinning); the named CAs choose among several, as in Go. A
    certificate no offered scheme can sign for is treated as none (the server then
    decides, as for a client without one)."""
    if resolver is None:
        if len(certificates) == 1:
            ck: CertifiedKey | None = certificates[0]
        else:
            ck = next((c for c in certificates if info.supports(c)), None)
    else:
        ck = call_hook(resolver, info, "certificate_resolver")
        if ck is not None and not isinstance(ck, CertifiedKey):
            raise InternalError(f"certificate_resolver returned {type(ck).__name__}, not "
                                "a tlskit.CertifiedKey or None")
    if ck is None:
        return None
    scheme = info.signing_scheme(ck)
    return None if scheme is None else (ck, scheme)
