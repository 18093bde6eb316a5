"""A small, fast test PKI built with cryptography's builders.

Every knob the validator cares about is a keyword: key type, validity window,
basicConstraints / pathlen, keyUsage, EKU, name constraints, SANs, extra (critical)
extensions, signature hash. Keys are cached per (type, slot) because RSA key generation
dominates the cost otherwise; distinct slots give distinct keys.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)

SERVER_AUTH = ExtendedKeyUsageOID.SERVER_AUTH
CLIENT_AUTH = ExtendedKeyUsageOID.CLIENT_AUTH
ANY_EKU = ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE

PrivateKey = Any  # the union of cryptography's signing keys


@cache
def key(kind: str = "ec256", slot: str = "default") -> PrivateKey:
    """A private key of ``kind``; the same (kind, slot) always returns the same key."""
    if kind == "ec256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ec384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind == "ec521":
        return ec.generate_private_key(ec.SECP521R1())
    if kind == "secp256k1":
        return ec.generate_private_key(ec.SECP256K1())
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if kind == "ed448":
        return ed448.Ed448PrivateKey.generate()
    if kind.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
    raise ValueError(f"unknown key kind {kind}")


def name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def general_name(text: str) -> x509.GeneralName:
    """'1.2.3.4' / '::1' -> IPAddress; 'ip:10.0.0.0/8' -> network; 'email:' / 'uri:' /
    'dn:' prefixes; 'dns:' forces a DNSName (even for an address); anything else a DNSName."""
    if text.startswith("dns:"):
        return x509.DNSName(text[4:])
    if text.startswith("ip:"):
        return x509.IPAddress(ipaddress.ip_network(text[3:], strict=False))
    if text.startswith("email:"):
        return x509.RFC822Name(text[6:])
    if text.startswith("uri:"):
        return x509.UniformResourceIdentifier(text[4:])
    if text.startswith("dn:"):
        return x509.DirectoryName(name(text[3:]))
    try:
        return x509.IPAddress(ipaddress.ip_address(text))
    except ValueError:
        return x509.DNSName(text)


@dataclass
class Issued:
    """A certificate with its private key (the key signs what this one issues)."""

    cert: x509.Certificate
    key: PrivateKey

    @property
    def subject(self) -> x509.Name:
        return self.cert.subject

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


DEFAULT = object()
CA_KU = {"key_cert_sign": True, "crl_sign": True}
LEAF_KU = {"digital_signature": True}


def _key_usage(flags: dict[str, bool]) -> x509.KeyUsage:
    fields = dict.fromkeys(
        ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
         "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"),
        False,
    )
    fields.update(flags)
    return x509.KeyUsage(**fields)


def _hash_for(signer: PrivateKey, hash_name: str | None) -> hashes.HashAlgorithm | None:
    if isinstance(signer, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return None
    return {
        None: hashes.SHA256(), "sha256": hashes.SHA256(), "sha384": hashes.SHA384(),
        "sha512": hashes.SHA512(), "sha1": hashes.SHA1(), "sha224": hashes.SHA224(),
        "md5": hashes.MD5(),
    }[hash_name]


def make(
    cn: str,
    issuer: Issued | None = None,
    *,
    key_kind: str = "ec256",
    slot: str | None = None,
    ca: bool | None = False,
    path_len: int | None = None,
    ku: dict[str, bool] | object | None = DEFAULT,
    eku: Sequence[x509.ObjectIdentifier] | None = None,
    sans: Sequence[str] | None = None,
    permitted: Sequence[str] | None = None,
    excluded: Sequence[str] | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    hash_name: str | None = None,
    pss: bool = False,
    serial: int | None = None,
    extra: Sequence[tuple[x509.ExtensionType, bool]] = (),
    subject: x509.Name | None = None,
    issuer_name: x509.Name | None = None,
    key_ids: bool = True,
    ski: bytes | None = None,
    bc_critical: bool = True,
    private: PrivateKey | None = None,
) -> Issued:
    """Issue one certificate. ``issuer=None`` self-signs. ``ku=DEFAULT`` picks the usual
    keyUsage for a CA or a leaf; ``ku=None`` omits the extension."""
    private = private if private is not None else key(key_kind, slot or cn)
    public = private.public_key()
    signer = issuer.key if issuer else private
    subj = subject if subject is not None else name(cn)
    iss = issuer_name or (issuer.subject if issuer else subj)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subj)
        .issuer_name(iss)
        .public_key(public)
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(not_before or NOW - 30 * DAY)
        .not_valid_after(not_after or NOW + 60 * DAY)
    )
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca, path_len), bc_critical)
    usage = (CA_KU if ca else LEAF_KU) if ku is DEFAULT else ku
    if usage is not None:
        builder = builder.add_extension(_key_usage(usage), True)  # type: ignore[arg-type]
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), False)
    if sans is not None:
        san = x509.SubjectAlternativeName([general_name(s) for s in sans])
        builder = builder.add_extension(san, False)
    if permitted is not None or excluded is not None:
        nc = x509.NameConstraints(
            [general_name(s) for s in permitted] if permitted is not None else None,
            [general_name(s) for s in excluded] if excluded is not None else None,
        )
        builder = builder.add_extension(nc, True)
    if key_ids:
        skid = x509.SubjectKeyIdentifier(ski) if ski else (
            x509.SubjectKeyIdentifier.from_public_key(public))
        builder = builder.add_extension(skid, False)
        if issuer is not None:
            aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key())
            builder = builder.add_extension(aki, False)
    for ext, critical in extra:
        builder = builder.add_extension(ext, critical)
    algorithm = _hash_for(signer, hash_name)
    if pss:
        pad = padding.PSS(mgf=padding.MGF1(algorithm), salt_length=32)  # type: ignore[arg-type]
        cert = builder.sign(signer, algorithm, rsa_padding=pad)
    else:
        cert = builder.sign(signer, algorithm)
    return Issued(cert, private)


def root(cn: str = "Test Root", **kw: Any) -> Issued:
    kw.setdefault("ca", True)
    return make(cn, None, **kw)


def intermediate(cn: str, issuer: Issued, **kw: Any) -> Issued:
    kw.setdefault("ca", True)
    return make(cn, issuer, **kw)


def leaf(host: str, issuer: Issued, **kw: Any) -> Issued:
    kw.setdefault("sans", [host])
    kw.setdefault("eku", [SERVER_AUTH])
    return make(host, issuer, **kw)


def cross_sign(subject: Issued, issuer: Issued, **kw: Any) -> Issued:
    """Re-issue ``subject``'s name and key under ``issuer`` (a cross-certificate)."""
    kw.setdefault("ca", True)
    cn = str(subject.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
    return make(cn, issuer, private=subject.key, subject=subject.subject, **kw)


def tamper_signature(cert: x509.Certificate) -> x509.Certificate:
    """Flip the last byte of the signature (the DER stays well formed)."""
    der = bytearray(cert.public_bytes(serialization.Encoding.DER))
    der[-1] ^= 0x01
    return x509.load_der_x509_certificate(bytes(der))


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


@dataclass
class Chain:
    root: Issued
    inter: Issued
    leaf: Issued

    @property
    def intermediates(self) -> list[x509.Certificate]:
        return [self.inter.cert]


def simple_chain(host: str = "www.example.org", kind: str = "ec256", **leaf_kw: Any) -> Chain:
    """Root -> intermediate -> leaf for ``host``, all of ``kind`` keys."""
    r = root(f"Root {kind}", key_kind=kind)
    i = intermediate(f"Intermediate {kind}", r, key_kind=kind)
    lf = leaf(host, i, key_kind=kind, **leaf_kw)
    return Chain(r, i, lf)


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _der(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(body)) + body


_ALG_RSA_SHA256 = bytes.fromhex("300d06092a864886f70d01010b0500")
_ALG_RSA_OTHER = {
    "sha1": bytes.fromhex("300d06092a864886f70d0101050500"),
    "md5": bytes.fromhex("300d06092a864886f70d0101040500"),
}


def resign_rsa_legacy(issued: Issued, issuer: Issued, hash_name: str = "sha1") -> Issued:
    """Re-sign an RSA-SHA256-signed certificate with a legacy hash (cryptography's builder
    refuses SHA-1 and MD5): swap the AlgorithmIdentifier in the TBS, sign it with the raw
    RSA primitive, and reassemble the DER."""
    cert = issued.cert
    tbs = cert.tbs_certificate_bytes
    assert _ALG_RSA_SHA256 in tbs, "the certificate must be signed with RSA-SHA256 first"
    alg = _ALG_RSA_OTHER[hash_name]
    new_tbs = tbs.replace(_ALG_RSA_SHA256, alg, 1)
    hash_alg = hashes.SHA1() if hash_name == "sha1" else hashes.MD5()
    signature = issuer.key.sign(new_tbs, padding.PKCS1v15(), hash_alg)
    der = _der(0x30, new_tbs + alg + _der(0x03, b"\x00" + signature))
    return Issued(x509.load_der_x509_certificate(der), issued.key)


def der_elements(data: bytes) -> list[bytes]:
    """Split concatenated DER TLVs (short or long definite lengths) into whole elements."""
    out, i = [], 0
    while i < len(data):
        length, header = data[i + 1], 2
        if length & 0x80:
            count = length & 0x7F
            length = int.from_bytes(data[i + 2:i + 2 + count], "big")
            header += count
        out.append(data[i:i + header + length])
        i += header + length
    return out


def der_body(element: bytes) -> bytes:
    """The contents of one DER element."""
    length = element[1]
    return element[2 + (length & 0x7F if length & 0x80 else 0):]


def rebuild(issued: Issued, issuer: Issued, edit: Any) -> x509.Certificate:
    """Edit the TBSCertificate's top-level elements with ``edit(list) -> list`` and re-sign
    it with the (EC) issuer key: for encodings the builder refuses to produce."""
    outer = der_elements(der_body(issued.cert.public_bytes(serialization.Encoding.DER)))
    tbs_items = der_elements(der_body(outer[0]))
    tbs = _der(0x30, b"".join(edit(tbs_items)))
    signature = issuer.key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    der = _der(0x30, tbs + outer[1] + _der(0x03, b"\x00" + signature))
    return x509.load_der_x509_certificate(der)


def zero_serial_root(cn: str) -> Issued:
    """A self-signed root whose serial number is 0, as several real roots have (Go Daddy
    G2, Starfield G2); cryptography warns while building it, silenced here."""
    import warnings

    plain = root(cn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Issued(rebuild(plain, plain, lambda items: [
            items[0], der_integer(0), *items[2:]]), plain.key)


def der_integer(value: int) -> bytes:
    raw = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True)
    return _der(0x02, raw)
