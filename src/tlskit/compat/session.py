"""`SSLSession`: what `ssl.SSLSocket.session` holds, backed by a tlskit ticket.

Its own module so the socket and BIO objects can build one without importing the
context module (which imports them)."""

from __future__ import annotations

import dataclasses
import hashlib

from ..session import Session

__all__ = ["SSLSession"]


@dataclasses.dataclass(frozen=True, eq=False)
class SSLSession:
    """A resumable session (`ssl.SSLSession`'s attributes), backed by a tlskit ticket."""

    tlskit_session: Session

    @property
    def id(self) -> bytes:
        return hashlib.sha256(self.tlskit_session.ticket).digest()

    @property
    def time(self) -> int:
        return int(self.tlskit_session.received_at)

    @property
    def timeout(self) -> int:
        return self.tlskit_session.lifetime

    @property
    def ticket_lifetime_hint(self) -> int:
        return self.tlskit_session.lifetime

    @property
    def has_ticket(self) -> bool:
        return True

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, SSLSession)
                and other.tlskit_session.ticket == self.tlskit_session.ticket)

    def __hash__(self) -> int:
        return hash(self.tlskit_session.ticket)
