"""Typed views of the extension bodies TLS needs (RFC 8446 4.2, 6066, 7301, 8449).

Each pair of functions turns one extension body into Python values and back. Decoders
check every length and raise DecodeError; they keep unknown code points.
"""

from __future__ import annotations

import struct
from functools import partial

from ..enums import CertificateType
from ..errors import DecodeError, IllegalParameter
from .codec import Reader, Writer


def _done(r: Reader, what: str) -> None:
    if r.remaining:  # (the message is built only for the error)
        r.end(f"{what} extension")


# --- server_name (RFC 6066 3) ---------------------------------------------------------

# RFC 9001 8.2: quic_transport_parameters. Not an `ExtensionType` member: TLS treats it
# as any extension it does not know; only `tlskit.quic` sends or reads it (its body is
# QUIC's transport parameters, opaque to TLS).
QUIC_TRANSPORT_PARAMETERS = 0x39

_SNI_HEAD = struct.Struct(">HBH")  # server_name_list length, name_type, HostName length


def encode_server_name(host: str) -> bytes:
    """One host_name entry (name_type 0) in a server_name_list, packed in one go: a
    client sends one for each new host it dials."""
    name = host.encode("ascii")
    n = len(name)
    if n > 0xFFFF - 3:
        raise ValueError(f"vector too long for a 2-byte length: {n + 3}")
    return _SNI_HEAD.pack(n + 3, 0, n) + name


def decode_client_server_name(body: bytes) -> str | None:
    """A ClientHello's server_name, which is never empty (RFC 6066 3: a non-empty
    server_name_list); the server's acknowledgement is (`decode_server_name`)."""
    if not body:
        raise DecodeError("server_name: empty extension in a ClientHello")
    return decode_server_name(body)


def decode_server_name(body: bytes) -> str | None:
    """The host_name from a server_name body; None for an empty (server) body."""
    if not body:
        return None
    n = len(body)
    if (n > 5 and (body[0] << 8) | body[1] == n - 2 and body[2] == 0
            and (body[3] << 8) | body[4] == n - 5):
        return _host_name(body[5:])  # the usual list: one host_name, read in one step
    r = Reader(body)
    names = r.vec16(1, "server_name_list")
    _done(r, "server_name")
    host: str | None = None
    while names.remaining:
        name_type = names.u8()
        value = names.bytes16(1, "HostName")
        if name_type == 0:
            if host is not None:
                raise IllegalParameter("server_name: more than one host_name")
            host = _host_name(value)
    return host


def _host_name(value: bytes) -> str:
    try:
        host = value.decode("ascii")
    except UnicodeDecodeError as exc:
        # The vector decodes; its value is wrong (RFC 6066 3: ASCII A-labels).
        raise IllegalParameter("server_name: host_name is not ASCII") from exc
    # No DNS name holds a control character (NUL, ESC, DEL, ...); refusing them also
    # keeps terminal escapes out of the logs and pages that show the name.
    if host.endswith(".") or not host.isprintable():
        raise IllegalParameter("server_name: malformed host_name (a trailing dot or a "
                               "control character)")
    return host


# --- supported_versions (4.2.1) ------------------------------------------------------

def encode_versions_client(versions: list[int]) -> bytes:
    return encode_u16_list(versions, prefix=1)


# --- supported_groups, signature_algorithms(_cert) (4.2.7, 4.2.3) --------------------

def encode_u16_list(values: list[int], prefix: int = 2) -> bytes:
    """A non-empty list of uint16 code points behind a `prefix`-byte length."""
    w = Writer()
    w.u16_list(values, prefix)
    return bytes(w.buf)


def decode_u16_list(body: bytes, what: str) -> list[int]:
    n = len(body)
    if n >= 4 and not n % 2 and (body[0] << 8) | body[1] == n - 2:  # well formed
        return list(struct.unpack_from(f">{(n - 2) // 2}H", body, 2))
    r = Reader(body)
    out = r.u16_list(2, what)
    _done(r, what)
    return out


def decode_u16_list8(body: bytes, what: str) -> list[int]:
    """`decode_u16_list` with a 1-byte length (supported_versions, compress_certificate)."""
    n = len(body)
    if n >= 3 and body[0] == n - 1 and n % 2:  # well formed: one step (else read below)
        return list(struct.unpack_from(f">{(n - 1) // 2}H", body, 1))
    r = Reader(body)
    out = r.u16_list8(2, what)
    _done(r, what)
    return out


def decode_u16(body: bytes, what: str) -> int:
    """An extension body that is a single uint16."""
    if len(body) == 2:
        return (body[0] << 8) | body[1]
    r = Reader(body)
    value = r.u16()
    _done(r, what)
    return value


# supported_versions (4.2.1): the generic readers, named (partials: no frame of their own).
decode_versions_client = partial(decode_u16_list8, what="supported_versions")
decode_version_server = partial(decode_u16, what="supported_versions")


# --- key_share (4.2.8) ---------------------------------------------------------------

_GROUP_LENGTH = struct.Struct(">HH")


def encode_key_share_client(shares: list[tuple[int, bytes]]) -> bytes:
    parts = []
    for group, key in shares:
        parts.append(_GROUP_LENGTH.pack(group, len(key)))
        parts.append(key)
    entries = b"".join(parts)
    if len(entries) > 0xFFFF:
        raise ValueError(f"vector too long for a 2-byte length: {len(entries)}")
    return len(entries).to_bytes(2, "big") + entries


def decode_key_share_client(body: bytes) -> list[tuple[int, bytes]]:
    """client_shares; in one pass when well formed with no group twice, else read
    again through `Reader`, which raises with the detailed message."""
    n = len(body)
    if n >= 2 and (body[0] << 8) | body[1] == n - 2:
        shares: list[tuple[int, bytes]] = []
        seen: set[int] = set()
        at = 2
        while at + 4 <= n:
            group = (body[at] << 8) | body[at + 1]
            end = at + 4 + ((body[at + 2] << 8) | body[at + 3])
            if end == at + 4 or end > n or group in seen:  # key_exchange<1..2^16-1>
                break
            seen.add(group)
            shares.append((group, body[at + 4:end]))
            at = end
        if at == n:
            return shares
    return _decode_key_share_client(body)


def _decode_key_share_client(body: bytes) -> list[tuple[int, bytes]]:
    r = Reader(body)
    lst = r.vec16(what="client_shares")
    _done(r, "key_share")
    shares: list[tuple[int, bytes]] = []
    seen: set[int] = set()
    while lst.remaining:
        group = lst.u16()
        key = lst.bytes16(1, "key_exchange")
        if group in seen:
            raise IllegalParameter("key_share: two shares for the same group")
        seen.add(group)
        shares.append((group, key))
    return shares


def encode_key_share_server(group: int, key: bytes) -> bytes:
    return _GROUP_LENGTH.pack(group, len(key)) + key


def decode_key_share_server(body: bytes) -> tuple[int, bytes]:
    if len(body) > 4 and (body[2] << 8) | body[3] == len(body) - 4:  # well formed
        return (body[0] << 8) | body[1], body[4:]
    r = Reader(body)
    group = r.u16()
    key = r.bytes16(1, "key_exchange")
    _done(r, "key_share")
    return group, key


def encode_key_share_hrr(group: int) -> bytes:
    return group.to_bytes(2, "big")


decode_key_share_hrr = partial(decode_u16, what="key_share")


# --- ALPN (RFC 7301) -----------------------------------------------------------------

def encode_alpn(protocols: list[str]) -> bytes:
    w = Writer()
    with w.prefixed(2):
        for p in protocols:
            w.bytes8(p.encode("ascii"))
    return bytes(w.buf)


def decode_alpn(body: bytes) -> list[str]:
    r = Reader(body)
    lst = r.vec16(2, "protocol_name_list")
    _done(r, "application_layer_protocol_negotiation")
    out = []
    while lst.remaining:
        name = lst.bytes8(1, "ProtocolName")
        out.append(name.decode("latin-1"))
    return out


# --- max_fragment_length (RFC 6066 4) ----------------------------------------------

# The code points and the plaintext bytes per record each one asks for.
MAX_FRAGMENT_LENGTHS = {1: 512, 2: 1024, 3: 2048, 4: 4096}


def encode_max_fragment_length(length: int) -> bytes:
    """The code point for `length` bytes (one of MAX_FRAGMENT_LENGTHS' values)."""
    for code, size in MAX_FRAGMENT_LENGTHS.items():
        if size == length:
            return bytes((code,))
    raise ValueError(f"max_fragment_length must be one of 512, 1024, 2048, 4096, not {length}")


def decode_max_fragment_length(body: bytes) -> int:
    """The plaintext bytes per record the extension names; RFC 6066 4 makes any other
    code point illegal_parameter."""
    if len(body) != 1:
        raise DecodeError(f"max_fragment_length: {len(body)} bytes, not 1")
    size = MAX_FRAGMENT_LENGTHS.get(body[0])
    if size is None:
        raise IllegalParameter(f"max_fragment_length code {body[0]} is not one of 1..4 "
                               "(RFC 6066 4)")
    return size


# --- record_size_limit (RFC 8449) ----------------------------------------------------

def encode_record_size_limit(limit: int) -> bytes:
    return limit.to_bytes(2, "big")


def decode_record_size_limit(body: bytes) -> int:
    limit = decode_u16(body, "record_size_limit")
    if limit < 64:
        raise IllegalParameter(f"record_size_limit {limit} is below the minimum of 64")
    return limit


# --- cookie (4.2.2), psk_key_exchange_modes (4.2.9) ----------------------------------

def encode_cookie(cookie: bytes) -> bytes:
    w = Writer()
    w.bytes16(cookie)
    return bytes(w.buf)


def decode_cookie(body: bytes) -> bytes:
    r = Reader(body)
    cookie = r.bytes16(1, "cookie")
    _done(r, "cookie")
    return cookie


def encode_psk_modes(modes: list[int]) -> bytes:
    return bytes((len(modes), *modes))


def decode_psk_modes(body: bytes) -> list[int]:
    n = len(body)
    if n >= 2 and body[0] == n - 1:  # well formed: one step (else read below, which raises)
        return list(body[1:])
    r = Reader(body)
    modes = list(r.bytes8(1, "ke_modes"))
    _done(r, "psk_key_exchange_modes")
    return modes


# --- status_request (RFC 6066 8) ------------------------------------------------------

# RFC 6066 8: ocsp, no responder IDs, no request extensions: what nearly every client
# sends, tlskit's included.
_PLAIN_OCSP_REQUEST = b"\x01\x00\x00\x00\x00"


def encode_status_request_ocsp() -> bytes:
    return _PLAIN_OCSP_REQUEST


def decode_status_request(body: bytes) -> int:
    if body == _PLAIN_OCSP_REQUEST:  # one compare (the TLS 1.3 server decodes every one)
        return 1
    r = Reader(body)
    status_type = r.u8()
    if status_type == 1:
        r.bytes16()
        r.bytes16()
    else:
        r.rest()
    _done(r, "status_request")
    return status_type


def encode_ocsp_status(response: bytes) -> bytes:
    """CertificateStatus as carried in a TLS 1.3 CertificateEntry extension."""
    w = Writer()
    w.u8(1)
    w.bytes24(response)
    return bytes(w.buf)


def decode_ocsp_status(body: bytes) -> bytes:
    r = Reader(body)
    if r.u8() != 1:
        raise IllegalParameter("status_request: unknown CertificateStatusType")
    resp = r.bytes24(1, "OCSPResponse")
    _done(r, "status_request")
    return resp


# --- pre_shared_key (4.2.11) ---------------------------------------------------------

def decode_pre_shared_key_client(body: bytes) -> tuple[list[tuple[bytes, int]], list[bytes]]:
    r = Reader(body)
    ids = r.vec16(7, "identities")
    identities = []
    while ids.remaining:
        identity = ids.bytes16(1, "identity")
        identities.append((identity, ids.u32()))
    binders_r = r.vec16(33, "binders")
    binders = []
    while binders_r.remaining:
        binders.append(binders_r.bytes8(32, "binder"))
    _done(r, "pre_shared_key")
    if len(binders) != len(identities):
        raise IllegalParameter("pre_shared_key: identity and binder counts differ")
    return identities, binders


def encode_pre_shared_key_client(identities: list[tuple[bytes, int]],
                                 binders: list[bytes]) -> bytes:
    w = Writer()
    with w.prefixed(2):
        for identity, age in identities:
            w.bytes16(identity)
            w.u32(age)
    with w.prefixed(2):
        for b in binders:
            w.bytes8(b)
    return bytes(w.buf)


def binders_length(binders: list[bytes]) -> int:
    """Bytes the binders list takes at the end of a ClientHello (with its prefix)."""
    return 2 + sum(1 + len(b) for b in binders)


def decode_selected_identity(body: bytes) -> int:
    return decode_u16(body, "pre_shared_key")


def decode_renegotiation_info(body: bytes) -> bytes:
    """RFC 5746 3.2: the renegotiated_connection<0..255> field. A body that is not that
    vector does not decode (RFC 5246 7.2.2 decode_error); whether a well-formed one may
    be non-empty is the handshake's rule (on an initial handshake it may not)."""
    r = Reader(body)
    connection = r.bytes8(0, "renegotiated_connection")
    _done(r, "renegotiation_info")
    return connection


def decode_ec_point_formats(body: bytes) -> bytes:
    n = len(body)
    if n >= 2 and body[0] == n - 1:  # well formed: one step (else read below, which raises)
        return bytes(body[1:])
    r = Reader(body)
    formats = r.bytes8(1, "ec_point_format_list")
    _done(r, "ec_point_formats")
    return formats


# --- certificate_authorities (RFC 8446 4.2.4; RFC 5246 7.4.4's list is the same vector) --

# The most bytes of DistinguishedNames (each with its 2-byte length) a server sends: both
# vectors allow 2^16-1, and 1 KiB is left for the rest of a TLS 1.3 CertificateRequest's
# extensions, so the whole message stays under 64 KiB (Go's clients refuse larger
# handshake messages). A longer list is not sent at all: a cut one would steer clients
# away from the CAs left out, where no list lets them choose freely.
MAX_CA_NAMES_LENGTH = 0xFFFF - 0x400


def encode_ca_names(ders: list[bytes]) -> bytes:
    """The vector of DistinguishedNames (each a DER Name) behind its 2-byte length."""
    w = Writer()
    with w.prefixed(2):
        for der in ders:
            w.bytes16(der)
    return bytes(w.buf)


def decode_ca_names(body: bytes | memoryview) -> list[bytes]:
    """The DistinguishedNames of a TLS 1.3 certificate_authorities extension: at least
    one, none empty (their DER is read by `tlskit.certselect.decode_name`)."""
    r = Reader(body)
    names = r.vec16(3, "certificate_authorities")
    _done(r, "certificate_authorities")
    ders = []
    while names.remaining:
        ders.append(names.bytes16(1, "DistinguishedName"))
    return ders


# --- client_certificate_type, server_certificate_type (RFC 7250 3, 4.1, 4.2) ----------

# The registry's certificate types are `tlskit.enums.CertificateType`; their names as
# errors and traces print them:
CERT_TYPE_NAMES: dict[int, str] = {CertificateType.X509: "X.509",
                                   CertificateType.RawPublicKey: "RawPublicKey"}


def encode_cert_types(types: list[int]) -> bytes:
    """A ClientHello's list form (RFC 7250 3): 1-byte length, then one byte per type,
    in preference order."""
    if not 1 <= len(types) <= 255 or any(not 0 <= t <= 255 for t in types):
        raise ValueError(f"certificate types must be 1..255 bytes, not {types!r}")
    return bytes((len(types), *types))


def decode_cert_types(body: bytes, what: str) -> list[int]:
    """The client's list (RFC 7250 3: ``CertificateType <1..2^8-1>``): a length that
    is not the body's, or an empty list, is decode_error. Unknown types are kept (a
    server picks only among those it has)."""
    if len(body) < 2 or body[0] != len(body) - 1:
        raise DecodeError(f"{what}: the list must hold 1..255 types and fill the "
                          f"extension (got {len(body)} bytes)")
    return list(body[1:])


def encode_cert_type(cert_type: int) -> bytes:
    """The server's answer (RFC 7250 3): one type, no length."""
    return bytes((cert_type,))


def decode_cert_type(body: bytes, what: str) -> int:
    """The server's single-byte form: anything but exactly one byte is decode_error."""
    if len(body) != 1:
        raise DecodeError(f"{what}: a server's answer is one certificate type byte, "
                          f"not {len(body)} bytes (RFC 7250 3)")
    return body[0]
