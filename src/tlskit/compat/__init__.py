"""A drop-in `ssl.SSLContext` backed by tlskit, for the libraries that take one.

    import tlskit.compat as tc
    ctx = tc.create_default_context()              # system trust, like ssl's
    requests / httpx / aiohttp / asyncio / http.client / urllib3 / websockets: pass ctx

`SSLContext` subclasses `ssl.SSLContext`: ``wrap_socket`` returns an `SSLSocket` (tlskit's
blocking socket) and ``wrap_bio`` an `SSLObject` (tlskit's sans-I/O engine behind
`ssl.MemoryBIO`s, the path asyncio uses). Failures surface as the `ssl` exceptions, a
certificate failure as `ssl.SSLCertVerificationError` carrying tlskit's explanation.
Settings tlskit cannot honour raise `UnsupportedSetting` when they are made.
"""

from .adapters import requests_adapter
from .bio import SSLObject
from .context import SSLContext, SSLSession, create_default_context
from .errors import UnsupportedSetting
from .sock import SSLSocket

__all__ = [
    "SSLContext",
    "SSLObject",
    "SSLSession",
    "SSLSocket",
    "UnsupportedSetting",
    "create_default_context",
    "requests_adapter",
]
