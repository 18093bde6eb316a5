"""What every `tlskit` command shares: exit codes, error reporting (one line on stderr,
plus a JSON error object on stdout under ``--json``) and the terminal width.

Kept free of heavy imports: `tlskit --help` and `--version` load only this module and
`tlskit.cli.main`.
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
import sys
from typing import Any

EXIT_OK = 0
EXIT_FAILURE = 1  # verification or handshake failure, or any other failure at run time
EXIT_USAGE = 2    # bad arguments or unusable input files
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = ("exit status: 0 ok, 1 verification or handshake failure (or another "
                   "run-time failure), 2 usage error (bad arguments, unreadable input "
                   "files), 130 interrupted.")


def wants_json(args: argparse.Namespace | None, argv: list[str] | None = None) -> bool:
    """``--json`` was given (parsed, or still only in ``argv`` when parsing failed)."""
    if args is not None and getattr(args, "json", False):
        return True
    return argv is not None and "--json" in argv


def error_object(prog: str, message: str, code: int,
                 exc: BaseException | None = None) -> dict[str, Any]:
    """The JSON error a ``--json`` caller gets instead of a result: what failed, the exit
    code, and, when the failure carries them, the alert and the certificate reason."""
    command = prog.removesuffix(": error")
    error: dict[str, Any] = {"command": command, "message": message, "exit_code": code}
    seen: set[int] = set()
    cause = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if "type" not in error or error["type"] in ("ConnectError", "ServeError", "CAError"):
            error["type"] = type(cause).__name__
        reason = getattr(cause, "reason", None)
        if reason is not None and "reason" not in error:
            error["reason"] = getattr(reason, "value", None) or str(reason)
        alert = getattr(cause, "alert", None)
        if getattr(cause, "alert_sent", True) is False:  # (StartTLSError: TLS never began)
            alert = None
        if alert is not None and "alert" not in error:
            error["alert"] = getattr(alert, "name", None) or str(alert)
        cause = cause.__cause__ or cause.__context__
    return {"error": error}


def report_error(args: argparse.Namespace | None, prog: str, exc: BaseException | str,
                 code: int = EXIT_FAILURE, argv: list[str] | None = None) -> int:
    """One line ``PROG: message`` on stderr, and under ``--json`` the error object on
    stdout (so a script reading stdout always gets JSON). Returns ``code``."""
    message = str(exc)
    print(f"{prog}: {message}", file=sys.stderr, flush=True)
    if wants_json(args, argv):
        import json

        obj = error_object(prog, message, code, exc if isinstance(exc, BaseException) else None)
        json.dump(obj, sys.stdout, indent=2)
        sys.stdout.write("\n")
        sys.stdout.flush()
    return code


def terminal_width(stream: Any = None, default: int = 100) -> int | None:
    """``COLUMNS`` when set (what a user or test asks for); else the terminal's own width
    for a terminal (None lets the renderer ask), else ``default`` for pipes and files."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    stream = sys.stdout if stream is None else stream
    if hasattr(stream, "isatty") and stream.isatty():
        return None
    return default


def no_color() -> bool:
    """https://no-color.org: a non-empty ``NO_COLOR`` turns colour off."""
    return bool(os.environ.get("NO_COLOR"))


def listen_error(host: str, port: int, exc: OSError) -> str:
    """Why a server could not listen, with the usual way out."""
    from ..io.address import host_port  # (tlskit.io loads cryptography: not for --help)
    where = host_port(host, port)
    reason = exc.strerror or str(exc)
    if isinstance(exc, socket.gaierror):
        return f"cannot listen on {where}: {host} is not an address or a name that resolves"
    hint = {
        errno.EADDRINUSE: "something else listens there: stop it, or choose another --port "
                          "(0 picks a free one)",
        errno.EACCES: "ports below 1024 need root or CAP_NET_BIND_SERVICE: choose a higher "
                      "--port",
        errno.EADDRNOTAVAIL: f"{host} is not an address of this machine",
    }.get(exc.errno or 0)
    return f"cannot listen on {where}: {reason}" + (f"; {hint}" if hint else "")


def write_line(line: str) -> None:
    """``line`` (its lines, when it holds several) and a newline, in one write, flushed:
    `print` writes the text and the newline apart, so another thread's line or a Ctrl-C
    could come between them. Once nobody reads stdout (``tlskit ca ocsp | head`` ended),
    stdout is pointed at the null device, so neither this call nor a later one (a
    server's "stopped", its log) nor the exit's flush writes into the closed pipe again:
    a broken pipe is not the command's failure."""
    try:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
