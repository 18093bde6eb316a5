"""The seam between the handshake and certificate validation.

The handshake hands the peer's chain (and any stapled OCSP response) to a
`CertificateVerifier`; the full validator in `tlskit.x509` is the default one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

from cryptography import x509

Usage = Literal["server", "client"]


class CertificateVerifier(Protocol):
    """What checks a peer's chain; `tlskit.x509.Verifier` is one, a test double another."""

    def verify(
        self,
        leaf: x509.Certificate,
        intermediates: list[x509.Certificate],
        server_name: str | None = None,
        at: datetime | None = None,
        usage: Usage = "server",
        ocsp_response: bytes | None = None,
    ) -> list[x509.Certificate]:
        """Return the validated chain, leaf first, anchor last, or raise
        `tlskit.x509.CertificateVerificationError`."""
        ...
