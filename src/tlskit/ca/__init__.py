"""A small certificate authority for local development and for tests.

`LocalCA` makes a root and an intermediate, issues server and client leaves from the
intermediate, revokes them, and answers for them with a CRL and an OCSP responder. It
exists so that tests and local servers can use a real chain (root -> intermediate -> leaf)
instead of a lone self-signed certificate, which exercises none of the path-building,
revocation or OCSP code.

On disk a CA is one directory::

    root.pem  root-key.pem  intermediate.pem  intermediate-key.pem  index.json

``index.json`` records every certificate the intermediate issued and every revocation, so
the CRL and the OCSP responder can tell "good" from "unknown", and so a revocation made by
one process (``tlskit ca revoke``) is seen by another (a running ``tlskit ca ocsp``).

Revocation for the whole chain: a CA created with ``url=`` (``tlskit ca init`` uses
``http://127.0.0.1:8888`` unless told otherwise) names that URL in its intermediate and its
leaves. `serve_ocsp` (``tlskit ca ocsp``) answers there for both: the intermediate signs the
status of the leaves, the root the status of the intermediate, any number of certificates
per request; ``<url>/crl/intermediate.crl`` and ``<url>/crl/root.crl`` serve the two CRLs.
So hard-fail checking (``tlskit verify --ocsp``) passes on every certificate of the chain.

For test suites (in the spirit of trustme)::

    ca = LocalCA.create()                                   # in memory, nothing on disk
    server = ca.server_config()                             # a localhost leaf + chain
    client = ca.client_config(alpn_protocols=["h2"])        # trusts the root only
    expired = ca.issue_server(["localhost"], not_before=past, not_after=yesterday)
    server = ca.server_config(expired)                      # ...for the failure paths
    mtls = ca.server_config(client_auth="required")         # trusts this CA's clients
    client = ca.client_config(ca.issue_client("alice"))     # presents alice's cert
    ctx = ca.client_ssl_context()                           # stdlib ssl, hostname checks on
    ctx = ca.server_ssl_context(leaf, require_client_cert=True)
    ca.configure_trust(any_ssl_context); leaf.configure_cert(any_ssl_context)

The ``context_class`` parameter of the two context helpers makes another kind of
`ssl.SSLContext`: ``ca.client_ssl_context(context_class=tlskit.compat.SSLContext)`` gives
tlskit's drop-in context (where that module is installed), set up the same way.

The package follows the data: `model` (what a CA deals in), `files` and `index` (the
directory), `build` (certificates and CRLs), `ocsp` (answers), `authority` (`LocalCA`),
`responder` (the HTTP server).
"""

from __future__ import annotations

from .authority import LocalCA
from .files import PrivateKey
from .model import (
    DEFAULT_URL,
    INTERMEDIATE_CRL_PATH,
    LOCAL_NAMES,
    ROOT_CRL_PATH,
    CAError,
    Clock,
    Issued,
    KeyType,
    Revocation,
    default_directory,
    format_serial,
    parse_reason,
)
from .responder import OCSPResponder

__all__ = [
    "DEFAULT_URL",
    "INTERMEDIATE_CRL_PATH",
    "LOCAL_NAMES",
    "ROOT_CRL_PATH",
    "CAError",
    "Clock",
    "Issued",
    "KeyType",
    "LocalCA",
    "OCSPResponder",
    "PrivateKey",
    "Revocation",
    "default_directory",
    "format_serial",
    "parse_reason",
]
