"""What `ssl.SSLSocket` and `ssl.SSLObject` both report about an established connection,
in one place for `SSLSocket` and `SSLObject` (each has ``_conn`` and ``_context``)."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization

from ..io.info import peercert_dict
from .ciphers import openssl_name

if TYPE_CHECKING:
    from ..connection import Connection
    from .context import SSLContext
    from .session import SSLSession

__all__ = ["SSLInfo"]


class SSLInfo:
    """The negotiated parameters, with `ssl`'s names and None before the handshake."""

    _conn: Connection | None
    _context: SSLContext

    _pha_chain: list[Any] | None = None  # from post-handshake authentication
    _session: SSLSession | None
    _offered: SSLSession | None

    if TYPE_CHECKING:
        def _flush(self) -> None: ...

        @property
        def server_side(self) -> bool: ...

    # -- what both have the same way ----------------------------------------------------------

    @property
    def context(self) -> SSLContext:
        return self._context

    @context.setter
    def context(self, ctx: SSLContext) -> None:
        # Checked by what it offers: this module must not import .context (it imports us).
        if not isinstance(ctx, ssl.SSLContext) or not hasattr(type(ctx), "tlskit_client_config"):
            raise TypeError("a tlskit.compat.SSLContext is required")
        if self._conn is not None:
            raise ValueError("the context can only change before the handshake "
                             "(e.g. in sni_callback)")
        self._context = ctx

    @property
    def session(self) -> SSLSession | None:
        """The newest resumable session (a tlskit ticket); None until one arrived."""
        return self._session

    @session.setter
    def session(self, session: SSLSession | None) -> None:
        if self.server_side:
            raise ValueError(f"Cannot set session for server-side {type(self).__name__}.")
        if self._conn is not None:
            raise ValueError("Cannot set session after handshake.")
        self._session = self._offered = session

    @property
    def session_reused(self) -> bool:
        hc = self._conn.handshake_complete if self._conn is not None else None
        return hc.resumed if hc is not None else False

    def _count_handshake(self) -> None:
        """The context's session statistics (`SSLContext.session_stats`), once per handshake."""
        ctx, hc = self._context, self._conn.handshake_complete if self._conn else None
        ctx._count("accept_good" if self.server_side else "connect_good")
        if hc is not None and hc.resumed:
            ctx._count("hits")
        elif self._offered is not None:
            ctx._count("misses")

    def getpeercert(self, binary_form: bool = False) -> Any:
        self._check_peercert()
        hc = self._conn.handshake_complete if self._conn is not None else None
        if hc is None:
            raise ValueError("handshake not done yet")
        chain = self._peer_chain()
        if not chain:
            return None
        leaf = chain[0]
        if binary_form:
            return leaf.public_bytes(serialization.Encoding.DER)
        if self._context.verify_mode == ssl.CERT_NONE:
            return {}  # not verified: ssl reports nothing about it either
        return peercert_dict(leaf)


    def _check_peercert(self) -> None:
        """Hook: the socket refuses an unconnected socket first, as ssl does."""

    def _peer_chain(self) -> list[Any]:
        """The peer's certificates: from post-handshake authentication once it happened,
        else from the handshake."""
        if self._pha_chain is not None:
            return self._pha_chain
        hc = self._conn.handshake_complete if self._conn is not None else None
        return list(hc.peer_certificates) if hc is not None else []

    def cipher(self) -> tuple[str, str, int] | None:
        if self._conn is None or self._conn.handshake_complete is None:
            return None
        suite = self._conn.negotiated_suite
        assert suite is not None
        return (openssl_name(suite.code), self._conn.handshake_complete.version,
                suite.key_length * 8)

    def shared_ciphers(self) -> list[tuple[str, str, int]] | None:
        """As ssl: None for a client, and for a server before the handshake. A server
        reports the suites it offers (the client's own list is not kept)."""
        if not self.server_side or self._conn is None or self._conn.handshake_complete is None:
            return None
        return [(c["name"], c["protocol"], c["strength_bits"])
                for c in self._context.get_ciphers()]

    def version(self) -> str | None:
        hc = self._conn.handshake_complete if self._conn is not None else None
        return hc.version if hc is not None else None

    def selected_alpn_protocol(self) -> str | None:
        hc = self._conn.handshake_complete if self._conn is not None else None
        return hc.alpn_protocol if hc is not None else None

    def selected_npn_protocol(self) -> None:
        return None

    def compression(self) -> None:
        return None

    def verify_client_post_handshake(self) -> None:
        """Ask the client for its certificate now (TLS 1.3, RFC 8446 4.6.2); it is checked
        when the client's answer is read, and `getpeercert()` reports it then."""
        from ..errors import UsageError
        if self._conn is None or self._conn.handshake_complete is None:
            raise ssl.SSLError(1, "[SSL] the handshake is not done yet")
        request = getattr(self._conn, "request_client_certificate", None)
        if request is None:
            raise ssl.SSLError(1, "[SSL] only a server asks for a client certificate")
        try:
            request()
        except UsageError as exc:  # not TLS 1.3, the client did not offer it, ...
            raise ssl.SSLError(1, f"[SSL: EXTENSION_NOT_RECEIVED] {exc}") from None
        self._flush()  # each adapter sends the CertificateRequest its own way

    def get_channel_binding(self, cb_type: str = "tls-unique") -> bytes | None:
        if cb_type != "tls-unique":
            raise ValueError(f"{cb_type!r} channel binding type not implemented")
        # TLS 1.2 with the extended master secret; None for TLS 1.3 (RFC 9266 replaces
        # tls-unique with tls-exporter) and without EMS (see Connection.tls_unique).
        return None if self._conn is None else self._conn.tls_unique

