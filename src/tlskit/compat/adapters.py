"""Glue for libraries that do not take an `ssl.SSLContext` in their public API.

requests takes one only through a transport adapter: `requests_adapter` is that adapter,
so the recipe stays three lines. requests is imported when it is called, never by tlskit.
"""

from __future__ import annotations

import ssl
import threading
from typing import Any

__all__ = ["requests_adapter"]


def requests_adapter(context: ssl.SSLContext | None = None, **kwargs: Any) -> Any:
    """A `requests.adapters.HTTPAdapter` whose connections use ``context`` (by default
    `tlskit.compat.create_default_context()`); mount it on a session for "https://".
    ``kwargs`` go to `HTTPAdapter` (``max_retries``, ``pool_connections``...).

    requests' ``verify`` keeps its meaning: True trusts what ``context`` trusts (not
    certifi's bundle as well), a path is loaded into ``context``, and False uses a copy
    of ``context`` that checks neither the certificate nor the name. An HTTPS proxy is
    reached through ``context`` too."""
    from requests.adapters import HTTPAdapter

    from .context import SSLContext, create_default_context

    ctx = context if context is not None else create_default_context()
    lock = threading.Lock()
    unverified: list[ssl.SSLContext] = []

    def unverified_context() -> ssl.SSLContext:
        # One per adapter, so verify=False requests share a connection pool.
        with lock:
            if not unverified:
                assert isinstance(ctx, SSLContext)
                unverified.append(ctx.tlskit_unverified_copy())
            return unverified[0]

    class TlskitAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **pool_kwargs: Any) -> None:
            pool_kwargs["ssl_context"] = ctx
            super().init_poolmanager(*args, **pool_kwargs)

        def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
            proxy_kwargs["ssl_context"] = ctx
            proxy_kwargs["proxy_ssl_context"] = ctx  # an https:// proxy's own TLS
            return super().proxy_manager_for(proxy, **proxy_kwargs)

        def build_connection_pool_key_attributes(self, request: Any, verify: Any,
                                                 cert: Any = None) -> Any:
            # verify=False: urllib3 would set CERT_NONE on the shared context, which its
            # check_hostname refuses (ValueError), as it would an ssl one.
            host, pool_kwargs = super().build_connection_pool_key_attributes(
                request, verify, cert)
            if verify is False and isinstance(ctx, SSLContext):
                pool_kwargs["ssl_context"] = unverified_context()
            return host, pool_kwargs

        def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
            super().cert_verify(conn, url, verify, cert)
            if verify is True:
                # requests names certifi's bundle here, which urllib3 would load into the
                # context on every new connection: the context's own trust decides instead.
                conn.ca_certs = conn.ca_cert_dir = None

    return TlskitAdapter(**kwargs)
