"""Typed views of the hellos: each known extension decoded once, on first use.

A `ClientHelloView` wraps a decoded `ClientHello` whose extensions are still raw bytes.
Each field decodes its extension the first time a check reads it and keeps the result, so
a malformed extension fails (with its decode_error) at the same check as before, and no
extension is decoded twice however many checks read it (Go's `clientHelloMsg` fields,
rustls's typed extensions; DESIGN.md: "a typed view decodes only the ones a state needs").
Unknown extensions stay raw in ``hello.extensions`` for the "allowed in" checks.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from ..enums import (
    CipherSuite,
    ExtensionType,
    NamedGroup,
    ProtocolVersion,
    SignatureScheme,
    names_of,
)
from ..errors import DecodeError
from ..wire import certcompress
from ..wire import extensions as ext
from ..wire import messages as m

_E = ExtensionType
T = TypeVar("T")
H = TypeVar("H", m.ClientHello, m.ServerHello)


class cached_property(Generic[T]):
    """Computed on first access, then a plain instance attribute (functools' version
    takes a lock on every first access; a view belongs to one handshake)."""

    def __init__(self, fn: Callable[[Any], T]) -> None:
        self.fn = fn
        self.name = fn.__name__

    def __get__(self, obj: Any, owner: Any = None) -> T:
        value = self.fn(obj)
        obj.__dict__[self.name] = value
        return value


class extension(Generic[T]):
    """A view field: one extension's body decoded on first access (None when the
    extension is absent), then a plain instance attribute. The decoder is looked up in
    `tlskit.wire.extensions` by name when it runs; this descriptor calls it directly
    (no method of the view in between: a server reads about a dozen per hello)."""

    def __init__(self, etype: int, decoder: str, *args: Any, doc: str | None = None) -> None:
        self.etype = etype
        self.decoder = decoder
        self.args = args
        self.name = ""
        self.__doc__ = doc

    def __set_name__(self, owner: Any, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: Any = None) -> T | None:
        if obj is None:
            return self  # type: ignore[return-value]  # (the class's attribute: docs)
        body = obj.extensions.get(self.etype)
        value = None if body is None else getattr(ext, self.decoder)(body, *self.args)
        obj.__dict__[self.name] = value
        return value  # type: ignore[no-any-return]


class _HelloView(Generic[H]):
    """What both views share: the hello, its raw extensions, decoding one on demand."""

    def __init__(self, hello: H) -> None:
        self.hello: H = hello
        self.extensions: m.Extensions = hello.extensions

    def has(self, etype: int) -> bool:
        return etype in self.extensions


def decode_client_hello(body: memoryview) -> m.ClientHello:
    """`m.ClientHello.decode`, in one pass when the fixed fields and the extensions
    block are well formed (every server handshake decodes one): anything else (a hello
    without extensions, anything left after them) goes through the checked decoder,
    which raises what it always raised."""
    n = len(body)
    if n >= 38:
        sid_end = 35 + body[34]
        if sid_end <= 67 and sid_end + 2 <= n:  # legacy_session_id<0..32>
            suites_length = (body[sid_end] << 8) | body[sid_end + 1]
            comp_at = sid_end + 2 + suites_length
            if suites_length >= 2 and not suites_length & 1 and comp_at < n:
                exts_at = comp_at + 1 + body[comp_at]  # compression_methods<1..2^8-1>
                if comp_at + 1 < exts_at <= n:
                    found = m.block_at(body, exts_at, n)
                    if found is not None and found[1] == n:
                        return m.ClientHello(
                            bytes(body[2:34]), bytes(body[35:sid_end]),
                            list(struct.unpack_from(f">{suites_length >> 1}H", body,
                                                    sid_end + 2)),
                            found[0], (body[0] << 8) | body[1],
                            bytes(body[comp_at + 1:exts_at]))
    return m.ClientHello.decode(body)


class ClientHelloView(_HelloView[m.ClientHello]):
    """A ClientHello's offer. A field is None when its extension is absent."""

    versions = extension[list[int]](_E.supported_versions, "decode_versions_client",
                                    doc="supported_versions (4.2.1).")

    @cached_property
    def offered_versions(self) -> list[int]:
        """What the client can speak: supported_versions, else legacy_version."""
        return self.versions if self.versions is not None else [self.hello.legacy_version]

    groups = extension[list[int]](_E.supported_groups, "decode_u16_list", "supported_groups")
    shares = extension[list[tuple[int, bytes]]](_E.key_share, "decode_key_share_client")
    schemes = extension[list[int]](_E.signature_algorithms, "decode_u16_list",
                                   "signature_algorithms")
    cert_schemes = extension[list[int]](_E.signature_algorithms_cert, "decode_u16_list",
                                        "signature_algorithms_cert")
    alpn = extension[list[str]](_E.application_layer_protocol_negotiation, "decode_alpn")
    server_name = extension[str](_E.server_name, "decode_client_server_name")
    record_size_limit = extension[int](_E.record_size_limit, "decode_record_size_limit")
    max_fragment_length = extension[int](_E.max_fragment_length,
                                         "decode_max_fragment_length",
                                         doc="max_fragment_length (RFC 6066 4), in bytes.")
    cookie = extension[bytes](_E.cookie, "decode_cookie")
    psk_modes = extension[list[int]](_E.psk_key_exchange_modes, "decode_psk_modes")
    psk = extension[tuple[list[tuple[bytes, int]], list[bytes]]](
        _E.pre_shared_key, "decode_pre_shared_key_client",
        doc="pre_shared_key: the identities (ticket, obfuscated age) and their binders.")
    point_formats = extension[bytes](_E.ec_point_formats, "decode_ec_point_formats")
    status_request = extension[int](_E.status_request, "decode_status_request",
                                    doc="status_request (RFC 6066 8): the status type asked for.")

    @cached_property
    def cert_compression(self) -> list[int]:
        """RFC 8879 algorithms; a malformed offer is an optimisation not taken: none."""
        body = self.extensions.get(_E.compress_certificate)
        if body is None:
            return []
        try:
            return list(certcompress.decode_extension(body))
        except DecodeError:
            return []

    @cached_property
    def named(self) -> dict[str, object]:
        """`describe`, worked out once per hello (and only when someone asks)."""
        return self.describe()

    def describe(self) -> dict[str, object]:
        """What the client offered, by IANA name (for logs and `tlskit serve`'s page)."""
        return {
            "versions": [ProtocolVersion(v).label for v in self.offered_versions],
            "cipher_suites": names_of(CipherSuite, self.hello.cipher_suites),
            "groups": names_of(NamedGroup, self.groups or []),
            "key_shares": names_of(NamedGroup, [g for g, _ in self.shares or []]),
            "signature_schemes": names_of(SignatureScheme, self.schemes or []),
            "extensions": names_of(ExtensionType, self.extensions),
            "server_name": self.server_name,
            "alpn": self.alpn or [],
        }


class ServerHelloView(_HelloView[m.ServerHello]):
    """A ServerHello's (or HelloRetryRequest's) answer. A field is None when its
    extension is absent."""

    version = extension[int](
        _E.supported_versions, "decode_version_server",
        doc="supported_versions (4.2.1); None: a TLS 1.2 (or older) server.")
    share = extension[tuple[int, bytes]](
        _E.key_share, "decode_key_share_server",
        doc="The server's key share: (group, public key).")
    retry_group = extension[int](_E.key_share, "decode_key_share_hrr",
                                 doc="A HelloRetryRequest's key_share: the group it asks for.")
    cookie = extension[bytes](_E.cookie, "decode_cookie")
    selected_identity = extension[int](
        _E.pre_shared_key, "decode_selected_identity",
        doc="pre_shared_key: the index of the PSK identity the server chose.")


class AnsweredHello:
    """What a server keeps of a ClientHello once it has answered it, for the rest of the
    connection: the message's bytes and the two limits the TLS 1.3 server reads after its
    answer (at EndOfEarlyData; None where nothing reads them), not the decoded view. A
    view holds each listed code as a Python int (~36 bytes for 2 on the wire: a hello
    listing 32,000 suites was ~1.2 MB kept per connection, where OpenSSL keeps 2-8 bytes
    per code); these bytes are the hello's own size. `named` and `hello()` decode them
    again, on demand."""

    __slots__ = ("max_fragment_length", "raw", "record_size_limit")

    def __init__(self, raw: bytes, record_size_limit: int | None = None,
                 max_fragment_length: int | None = None) -> None:
        self.raw = raw  # the whole message, header included (what the transcript took)
        self.record_size_limit = record_size_limit
        self.max_fragment_length = max_fragment_length

    def hello(self) -> m.ClientHello:
        """The hello, decoded again (it decoded before, so it does again)."""
        return decode_client_hello(memoryview(self.raw)[4:])

    @property
    def named(self) -> dict[str, object]:
        """`ClientHelloView.describe`, named again at each call and not kept: a hostile
        hello's names are ~35 times its size."""
        return ClientHelloView(self.hello()).describe()
