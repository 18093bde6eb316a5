"""Glue for libraries that do not take an `ssl.SSLContext` in their public API.

requests takes one only through a transport adapter: `requests_adapter` is that adapter,
so the recipe stays three lines. requests is imported when it is called, never by tlskit.
"""

from __future__ import annotations

import ssl
from typing import Any

__all__ = ["requests_adapter"]


def requests_adapter(context: ssl.SSLContext | None = None, **kwargs: Any) -> Any:
    """A `requests.adapters.HTTPAdapter` whose connections use ``context`` (by default
    `tlskit.compat.create_default_context()`); mount it on a session for "https://".
    ``kwargs`` go to `HTTPAdapter` (``max_retries``, ``pool_connections``...)."""
    from requests.adapters import HTTPAdapter

    from .context import create_default_context

    ctx = context if context is not None else create_default_context()

    class TlskitAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **pool_kwargs: Any) -> None:
            pool_kwargs["ssl_context"] = ctx
            super().init_poolmanager(*args, **pool_kwargs)

        def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
            proxy_kwargs["ssl_context"] = ctx
            return super().proxy_manager_for(proxy, **proxy_kwargs)

    return TlskitAdapter(**kwargs)
