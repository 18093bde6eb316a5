"""NSS key log files (the SSLKEYLOGFILE format Wireshark and curl use).

    CLIENT_TRAFFIC_SECRET_0 <client_random hex> <secret hex>

`KeyLogFile` is a thread-safe ``keylog`` callback for `ClientConfig`/`ServerConfig`;
`keylog_from_env` returns one for ``$SSLKEYLOGFILE`` (shared per path, so every connection
of the process appends to the same open file). `with_keylog` is what the I/O adapters
use: the config itself if it already logs or the variable is unset, otherwise a copy with
the env logger set, so a config shared between threads is never mutated.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import threading
from typing import IO, Any, TypeVar

from .config import ClientConfig, ServerConfig

__all__ = ["KeyLogFile", "keylog_from_env", "with_keylog"]

ENV_VAR = "SSLKEYLOGFILE"


class KeyLogFile:
    """Append NSS key log lines to ``path``; call it as ``(label, client_random, secret)``.

    The file is opened lazily in append mode (created 0600: it holds secrets) and flushed
    after every line, so a capture tool reading it live sees each key as it is derived.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._lock = threading.Lock()
        self._file: IO[str] | None = None

    def __call__(self, label: str, client_random: bytes, secret: bytes) -> None:
        line = f"{label} {client_random.hex()} {secret.hex()}\n"
        with self._lock:
            self._open_locked().write(line)
            assert self._file is not None
            self._file.flush()

    def open(self) -> None:
        """Create (0600) or open the file now, so that a bad path fails at once (the CLI
        checks its --keylog option this way) rather than at the first secret."""
        with self._lock:
            self._open_locked()

    def _open_locked(self) -> IO[str]:
        if self._file is None:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            self._file = os.fdopen(fd, "a", encoding="ascii")
        return self._file

    def close(self) -> None:
        """Close the file now; a secret logged later opens it again (appending)."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def __enter__(self) -> KeyLogFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<KeyLogFile {self.path!r}>"


_env_loggers: dict[str, KeyLogFile] = {}
_env_lock = threading.Lock()


def keylog_from_env() -> KeyLogFile | None:
    """The `KeyLogFile` for ``$SSLKEYLOGFILE``, or None when the variable is unset/empty."""
    path = os.environ.get(ENV_VAR)
    if not path:
        return None
    with _env_lock:
        logger = _env_loggers.get(path)
        if logger is None:
            logger = _env_loggers[path] = KeyLogFile(path)
            # Open for the process's life (every connection appends), closed at exit
            # rather than left to the collector (a ResourceWarning under -X dev).
            atexit.register(logger.close)
        return logger


C = TypeVar("C", ClientConfig, ServerConfig)


def with_keylog(config: C) -> C:
    """``config`` if it has a keylog or $SSLKEYLOGFILE is unset; else a copy logging there."""
    if config.keylog is not None:
        return config
    logger = keylog_from_env()
    if logger is None:
        return config
    extra: dict[str, Any] = {}
    if isinstance(config, ClientConfig):
        # Carry the (possibly already built) verifier over instead of rebuilding it.
        extra["verifier"] = config.get_verifier()
    return dataclasses.replace(config, keylog=logger, **extra)
