"""`ServerConfig.certificate_resolver`, asked by both servers (TLS 1.3 and 1.2)."""

from __future__ import annotations

from typing import Any

from ..config import CertifiedKey
from ..errors import HandshakeFailure, InternalError, UnrecognizedName, call_hook
from ..helloinfo import client_hello_info
from .common import by_server_name


def resolve_certificates(config: Any, offer: Any, server_name: str | None, version: str,
                         ech_accepted: bool = False) -> list[Any]:
    """The chains to choose from with `ServerConfig.certificate_resolver` set: the one it
    returns, else the configured ones (SNI order); ``version``: the one being spoken.
    Whatever it raises ends the handshake: a `TLSError` with its own alert, anything else
    as internal_error (Go's alert for a failing GetCertificate); nothing else escapes."""
    info = client_hello_info(offer, server_name, ech_accepted, version)
    chosen = call_hook(config.certificate_resolver, info, "certificate_resolver")
    if isinstance(chosen, CertifiedKey):
        return [chosen]
    if chosen is not None and not getattr(chosen, "chain", True):  # a RawPublicKey
        # RFC 7250: the certificate type was answered from the config before the
        # resolver ran (a resolver serves X.509); a raw key per client is a config per
        # client (an Acceptor, a config chooser), whose info has the client's types.
        raise InternalError("certificate_resolver returned a RawPublicKey; a resolver "
                            "serves certificates: set ServerConfig.raw_public_key, or "
                            "choose a config per client (tlskit.Acceptor, a config "
                            "chooser) by info.server_certificate_types")
    if chosen is not None:
        raise InternalError(f"certificate_resolver returned a {type(chosen).__name__}, "
                            "not a tlskit.CertifiedKey or None")
    if config._certs:
        return by_server_name(config._certs, server_name)
    if server_name is not None:
        raise UnrecognizedName(f"certificate_resolver has no certificate for "
                               f"{server_name!r}, and none is configured")
    raise HandshakeFailure("certificate_resolver has no certificate for this client "
                           "(it sent no server name), and none is configured")
