"""`tlskit connect HOST[:PORT]`: connect to a TLS server and show the handshake.

A readable summary with the certificate chain as a tree (``--json`` for one JSON object,
``--trace`` for every handshake message with its fields, ``--diagram`` for an SVG sequence
diagram), optionally sending ``--request`` and printing the answer.

Exit status 0 means the handshake completed and the server's certificate was verified (or
``--insecure`` let a verification failure through). A stapled OCSP response is asked for
by default (``--no-ocsp-stapling`` turns that off) and checked soft-fail: no staple is fine,
an authentic staple saying "revoked" fails the connection (exit 1). Every failure is one
line on stderr: ``tlskit connect: <what went wrong>``; ``--debug`` shows the traceback
instead.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import hashlib
import ipaddress
import json
import os
import re
import socket
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from ..config import CertifiedKey, ClientConfig, RawPublicKey
from ..connection import ClientConnection
from ..enums import AlertDescription
from ..errors import (
    AlertReceived,
    BadCertificate,
    EchRejected,
    TLSError,
    _starttls_protocol,
    not_tls_hint,
)
from ..io.address import host_port
from ..io.blocking import RECV_SIZE, TLSSocket, TruncatedConnection
from ..io.preamble import StartTLSError, starttls
from ..io.tap import tap_socket
from ..keylog import KeyLogFile
from ..psk import ExternalPsk
from . import diagram
from .options import DEFAULT_PORT, STARTTLS_PORTS
from .rawkeys import key_kind, spki_text
from .render import make_console, render_connect, render_trace
from .trace import (
    ExplainingVerifier,
    Recorder,
    cert_info,
    quiet_library_logs,
    report_checks,
)

PROG = "tlskit connect"
# STARTTLS protocols whose server speaks first (a greeting), as a TLS port never does.
SERVER_FIRST = ("smtp", "imap", "pop3", "ftp")
MAX_RESPONSE = 16 * 1024 * 1024
FIRST_BYTES = 80  # what a server that does not speak TLS said, kept to tell the user
_BASE64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")



def _ech_list_advice(message: str) -> str:
    """parse_config_list's complaint in the CLI's terms: bytes that do not decode get
    what the option expects instead of the Python parameter's name and a byte count."""
    prefix = "ech_config_list is not an ECHConfigList: "
    if not message.startswith(prefix):
        return message.removeprefix("ech_config_list ")
    return (f"neither an ECHConfigList nor base64 of one ({message.removeprefix(prefix)}): "
            "give the list `tlskit serve --ech` prints or writes with "
            "--ech-config-list-out, or a DNS HTTPS record's ech= value")

# What to do when a server does not serve a raw public key that --pin-key expects.
ENABLE_RPK = ("Enable them on the server (gnutls-serv --rawpkfile/--rawpkkeyfile with "
              "--priority NORMAL:+CTYPE-SRV-RAWPK; openssl s_server -enable_server_rpk, "
              "OpenSSL 3.2+; tlskit serve --raw-key), or add --cafile to accept a "
              "certificate from that CA instead")


class ConnectError(Exception):
    """A failure already phrased for the user; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code




def run(args: argparse.Namespace) -> int:
    quiet_library_logs()
    try:
        with warnings.catch_warnings():
            # e.g. cryptography's deprecation warnings about odd certificates in the system
            # trust store: noise on stderr, and not about this connection.
            warnings.simplefilter("ignore")
            return _Connect(args).run()
    except ConnectError as exc:
        if getattr(args, "debug", False):
            raise
        from .conventions import report_error
        return report_error(args, PROG, exc, exc.code)  # also a JSON object under --json


# --------------------------------------------------------------------------- parsing


def parse_target(target: str, default_port: int = DEFAULT_PORT) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]``, ``[v6]:port``, or a bare IPv6 address;
    ``default_port`` when it names none (443, or the --starttls protocol's port)."""
    text = target.strip()
    if "://" in text:  # a URL pasted from a browser: say what to type instead
        from urllib.parse import urlsplit
        try:
            parts = urlsplit(text)
            hint = parts.netloc.rpartition("@")[2] or "HOST"
        except ValueError:
            hint = "HOST"
        raise ConnectError(f"HOST[:PORT] {target} is a URL; give the host and port alone, "
                           f"e.g. tlskit connect {hint}", 2)
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ConnectError(f"bad address {target!r}: missing ']'", 2)
        host, rest = text[1:end], text[end + 1:]
        if rest and not rest.startswith(":"):
            raise ConnectError(f"bad address {target!r}", 2)
        port_text = rest[1:] if rest else ""
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, ""  # a name, or an IPv6 address without a port
    if not host:
        raise ConnectError(f"bad address {target!r}: no host", 2)
    if not port_text:
        return host, default_port
    try:
        port = int(port_text)
    except ValueError:
        raise ConnectError(f"HOST[:PORT] {target}: {port_text!r} is not a port number "
                           "(give 1-65535)", 2) from None
    if not 0 < port < 65536:
        raise ConnectError(f"HOST[:PORT] {target}: port {port} is out of range (1-65535)", 2)
    return host, port


def _flag_words(text: str) -> str:
    """A library message's advice in this command's words: the must-staple rule is
    turned off by leaving out --must-staple (--insecure reports it in the summary)."""
    from ..x509.muststaple import NOT_ENFORCED
    return text.replace(NOT_ENFORCED, "leave out --must-staple")


def split_list(text: str | None) -> list[str] | None:
    if text is None:
        return None
    items = [x.strip() for x in re.split(r"[,:]", text) if x.strip()]
    return items


_ESCAPES = {"r": "\r", "n": "\n", "t": "\t", "\\": "\\", "0": "\0"}


def unescape(text: str) -> str:
    r"""``\r``, ``\n``, ``\t``, ``\0``, ``\\`` and ``\xHH``; anything else stays as it is."""
    def sub(match: re.Match[str]) -> str:
        token = match.group(1)
        if token.startswith("x"):
            return chr(int(token[1:], 16))
        return _ESCAPES.get(token, "\\" + token)
    return re.sub(r"\\(x[0-9a-fA-F]{2}|.)", sub, text)


def psk_option(identity: str | None, key_hex: str | None) -> list[ExternalPsk]:
    """--psk-identity / --psk (for connect and serve): the key they name; ValueError,
    worded for the command line, when they are not both given or not a usable key."""
    if identity is None and key_hex is None:
        return []
    if identity is None or key_hex is None:
        raise ValueError("--psk-identity and --psk go together")
    try:
        secret = bytes.fromhex(key_hex.removeprefix("0x"))
    except ValueError:
        raise ValueError("--psk takes the key in hex (as openssl's -psk), e.g. "
                         "--psk $(openssl rand -hex 32)") from None
    try:  # (the identity's bytes as given: one that is not UTF-8 too, as openssl's)
        return [ExternalPsk(os.fsencode(identity), secret)]
    except ValueError as exc:
        raise ValueError(f"--psk-identity/--psk: {exc}") from None


def psk_text(identity: bytes) -> str:
    """An identity as the summary and the log show it: quoted text (control characters
    escaped), or as bytes (``b'\\xff'``) when it is not UTF-8, so that two identities
    never look alike."""
    try:
        return repr(identity.decode("utf-8"))
    except UnicodeDecodeError:
        return repr(identity)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- the command


class _Connect:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.recorder = Recorder("client", on_step=None)
        self.phase = "connecting to"
        self.port_note = ""  # set when --starttls chose the port
        self.keylog: KeyLogFile | None = None
        self.verifier: ExplainingVerifier | None = None
        self.first_bytes = bytearray()  # the start of what the server sent
        self._raw_key_sent: str | None = None  # SHA-256 of --raw-key's SPKI
        self.ct_logs: list[Any] = []  # --ct-log: the CTLog objects SCTs are checked with

    def _watch(self, outgoing: bool, data: bytes) -> None:
        """Keep the first bytes the server sends: when they are not TLS, the error
        shows them (an HTTP status line or a protocol banner says what is listening)."""
        if not outgoing:
            self.first_bytes += data[:FIRST_BYTES - len(self.first_bytes)]

    # -- configuration -----------------------------------------------------------------

    def _read_file_error(self, what: str, path: str, exc: Exception,
                         verb: str = "read") -> ConnectError:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return ConnectError(f"cannot {verb} {what} {path}: {reason}", 2)

    def config(self) -> ClientConfig:
        a = self.args
        if len(a.cert or ()) != len(a.key or ()):
            raise ConnectError("--cert and --key go together (one --key per --cert, in "
                               "order)", 2)
        # Names are read by the config (tlskit.iana), like ClientConfig(groups=...) in code.
        groups = split_list(a.groups)
        suites = split_list(a.ciphers)
        alpn = split_list(a.alpn.replace(":", ",")) if a.alpn else []
        anchors = None
        if a.cafile:
            from .verify import InputError, load_anchors  # as `tlskit verify` reads them

            try:
                anchors = load_anchors(a.cafile)
            except InputError as exc:
                raise ConnectError(str(exc), 2) from exc
        certificates = []
        for cert, key in zip(a.cert or (), a.key or (), strict=True):
            try:
                certificates.append(CertifiedKey.from_files(cert, key))
            except (OSError, ValueError, TypeError) as exc:
                raise self._read_file_error("--cert/--key", f"{cert}, {key}", exc) from exc
        if a.keylog:
            try:
                self.keylog = KeyLogFile(Path(a.keylog).expanduser())
                self.keylog.open()
            except OSError as exc:
                raise self._read_file_error("--keylog", a.keylog, exc,
                                            "append to") from exc
        if a.ech_grease and (a.ech_config_list or a.tls12):
            raise ConnectError("--ech-grease is for TLS 1.3 connections without "
                               "--ech-config-list (a real ECH offer, or a TLS 1.2 "
                               "hello, has no room for it): drop one of them", 2)
        ech = self._ech_config_list(a.ech_config_list) if a.ech_config_list else None
        psks = self._external_psks()
        pins, raw_key = self._raw_keys()
        self.ct_logs = self._ct_logs()
        if raw_key is not None:
            self._raw_key_sent = raw_key.fingerprint
        # --compress-cert: what to accept instead of the config's default (zlib)
        compression = split_list(a.compress_cert)
        try:
            if anchors is not None or not pins:
                # (a pinning client without --cafile takes raw keys alone: RFC 7250
                # pinning never falls back to the system store's web PKI)
                base = ClientConfig(trust_anchors=anchors)
                self.verifier = ExplainingVerifier(base.get_verifier())
            config = ClientConfig(
                verifier=self.verifier,
                pinned_server_keys=pins,
                raw_public_key=raw_key,
                verify_mode="report" if a.insecure else "required",
                groups=groups, cipher_suites=suites, alpn_protocols=alpn or (),
                legacy_rsa_key_exchange=a.legacy_rsa_kx,
                versions=(["TLSv1.2"] if a.tls12 else ["TLSv1.3"] if a.tls13
                          else ["TLSv1.3", "TLSv1.2"]),
                certificates=certificates,
                ocsp_stapling=a.ocsp_stapling,
                enforce_must_staple=a.must_staple,
                request_scts=a.scts or bool(self.ct_logs),
                max_fragment_length=a.max_fragment_length,
                tracer=self.recorder.tracer,
                keylog=self._keylog,
                ech_config_list=ech,
                ech_grease=a.ech_grease,
                external_psks=psks,
            )
            return config if compression is None else config.replace(
                certificate_compression=compression)
        except ValueError as exc:
            raise ConnectError(str(exc), 2) from exc

    def _raw_keys(self) -> tuple[list[bytes], RawPublicKey | None]:
        """--pin-key (the server keys accepted, as DER SPKI) and --raw-key (ours)."""
        from .rawkeys import load_pin, load_raw_key
        a = self.args
        try:
            pins = [load_pin("--pin-key", path) for path in a.pin_key or ()]
            raw_key = load_raw_key("--raw-key", a.raw_key) if a.raw_key else None
        except ValueError as exc:
            raise ConnectError(str(exc), 2) from exc
        return pins, raw_key

    def _ct_logs(self) -> list[Any]:
        """--ct-log: the CT logs whose SCTs are checked (and printed as verified)."""
        from .ct import load_ct_log
        try:
            return [load_ct_log("--ct-log", path) for path in self.args.ct_log or ()]
        except ValueError as exc:
            raise ConnectError(str(exc), 2) from exc

    def _external_psks(self) -> list[ExternalPsk]:
        try:
            return psk_option(self.args.psk_identity, self.args.psk)
        except ValueError as exc:
            raise ConnectError(str(exc), 2) from exc

    def _ech_config_list(self, path: str) -> bytes:
        """--ech-config-list: the file's bytes, or base64 text decoded (a DNS HTTPS
        record's ech= value); the value itself when it is base64 and no such file
        exists (what `serve --ech` and a rejection print can be pasted as it is); a
        usage error naming the file otherwise."""
        try:
            data = Path(path).expanduser().read_bytes()
        except FileNotFoundError as exc:
            inline = path.encode("ascii", "replace")
            if len(inline) < 8 or not all(c in _BASE64 for c in inline):
                raise self._read_file_error("--ech-config-list", path, exc) from exc
            data = inline
        except OSError as exc:
            raise self._read_file_error("--ech-config-list", path, exc) from exc
        text = b"".join(data.split())
        if text and all(c in _BASE64 for c in text):
            with contextlib.suppress(binascii.Error):  # (else: the bytes as they are)
                data = base64.b64decode(text, validate=True)
        from ..handshake.ech import parse_config_list
        try:
            parse_config_list(data)
        except ValueError as exc:
            raise ConnectError(f"cannot use --ech-config-list {path}: "
                               f"{_ech_list_advice(str(exc))}", 2) from exc
        if self.args.tls12:
            raise ConnectError("--ech-config-list needs TLS 1.3 (Encrypted Client Hello "
                               "does not exist in TLS 1.2): drop --tls1.2", 2)
        return data

    def _keylog(self, label: str, client_random: bytes, secret: bytes) -> None:
        self.recorder.keylog(label, client_random, secret)
        if self.keylog is not None:
            self.keylog(label, client_random, secret)

    # -- the connection ----------------------------------------------------------------

    def run(self) -> int:
        a = self.args
        if a.timeout is not None and a.timeout <= 0:
            raise ConnectError("--timeout must be positive", 2)
        host, port = self.target()
        self.where = host_port(host, port)
        config = self.config()
        server_name = a.servername or host
        try:
            summary, response = self._run(config, host, port, server_name)
        except ConnectError:
            raise
        except Exception as exc:
            if a.trace and not a.json and self.recorder.steps:
                # what happened up to the failure is the point of --trace
                render_trace(self.recorder.steps, make_console())
            if getattr(a, "debug", False):
                raise
            raise ConnectError(self.describe(exc)) from exc
        finally:
            if self.keylog is not None:
                self.keylog.close()
            if a.diagram and self.recorder.steps:
                self._write_diagram(host, port)
        try:
            self.output(summary, response)
        except BrokenPipeError:  # e.g. piped into `head`: not worth a traceback
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
        return 0

    def target(self) -> tuple[str, int]:
        """HOST[:PORT]; without a port, --starttls PROTO's registered port (an SMTP, IMAP
        server does not take STARTTLS on 443), else 443. Which one is said in the summary
        and in a refusal, so a user who meant 587 sees that 25 was dialled."""
        a = self.args
        host, port = parse_target(a.target, 0)
        if port:
            return host, port
        if a.starttls:
            self.port_note = f" ({a.starttls}'s port, as HOST gave none)"
            return host, STARTTLS_PORTS[a.starttls]
        return host, DEFAULT_PORT

    def _run(self, config: ClientConfig, host: str, port: int,
             server_name: str) -> tuple[dict[str, Any], bytes | None]:
        a = self.args
        t0 = time.perf_counter()
        self.recorder.t0 = t0
        sock = socket.create_connection((host, port), timeout=a.timeout)
        connect_ms = (time.perf_counter() - t0) * 1000
        address = sock.getpeername()[0]
        if a.starttls:
            self.phase = f"during the {a.starttls} STARTTLS exchange with"
            try:
                starttls(sock, a.starttls, server_name=server_name, timeout=a.timeout)
            except BaseException:
                sock.close()
                raise
        sock = tap_socket(sock, self._watch)
        try:
            self.phase = "during the handshake with"
            conn = ClientConnection(config, server_name=server_name)
            with TLSSocket(sock, conn, server_side=False, handshake_timeout=a.timeout,
                           peer=self.where, server_hostname=server_name) as tls:
                tls.do_handshake()
                sock.tap = None  # the server spoke TLS: nothing more to keep
                complete = conn.handshake_complete
                assert complete is not None
                handshake_ms = (time.perf_counter() - t0) * 1000
                requested = self.recorder.find("certificate_request") is not None
                response: bytes | None = None
                if a.request is not None:
                    self.phase = "waiting for the response from"
                    response = self._exchange(tls, unescape(a.request).encode("utf-8"))
                elif requested:
                    # TLS 1.3 servers judge a client certificate after our Finished: give
                    # a rejection alert the chance to arrive before calling it a success.
                    self.phase = "after the handshake with"
                    self._await_rejection(tls, min(1.0, a.timeout or 1.0))
        finally:
            sock.close()
        error = conn.verification_error
        summary = self.summary(host, port, address, server_name, complete, error,
                               connect_ms, handshake_ms, response, conn.max_fragment)
        return summary, response

    @staticmethod
    def _await_rejection(tls: TLSSocket, wait: float) -> None:
        """Wait up to ``wait`` seconds for what the server says next: its alert raises
        AlertReceived; data, a close or silence mean it kept the connection."""
        tls.settimeout(wait)
        with contextlib.suppress(TimeoutError):
            tls.recv(RECV_SIZE)

    def _exchange(self, tls: TLSSocket, request: bytes) -> bytes:
        tls.sendall(request)
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                data = tls.recv(RECV_SIZE)
            except TimeoutError:
                if chunks:  # a server that keeps the connection open: what came is the answer
                    break
                raise
            if not data:
                break
            chunks.append(data)
            size += len(data)
            if size > MAX_RESPONSE:
                break
        return b"".join(chunks)

    # -- errors ------------------------------------------------------------------------

    def _starttls_hint(self, exc: StartTLSError) -> str:
        """What the peer's words suggest instead: another protocol's greeting names its
        --starttls; a TLS record's first byte (PostgreSQL's SSLRequest answered with an
        alert) means the port speaks TLS from the start."""
        hint = self._starttls_words(exc.said)
        if not hint:
            return ""
        return f" {hint[0].upper()}{hint[1:]}" if str(exc).endswith("?") else f"; {hint}"

    def _starttls_words(self, said: str) -> str:
        if said[:1] in ("'", '"'):
            said = said[1:-1]  # StartTLSError quotes the line
        if said in ("b'\\x15'", "b'\\x16'"):  # RFC 8446 5.1: alert, handshake records
            return "that byte starts a TLS record: this port speaks TLS, leave out --starttls"
        guess = _starttls_protocol(said)
        if guess is not None and guess != self.args.starttls:
            return f"that is {guess.upper()}'s greeting: try --starttls {guess}"
        return ""

    def _starttls_timeout_hint(self) -> str:
        """A TLS port waits silently for the ClientHello, so a server-speaks-first
        protocol's client waits for a greeting that never comes: say which to try."""
        if self.phase.startswith(f"during the {self.args.starttls} STARTTLS") \
                and self.args.starttls in SERVER_FIRST:
            return ("; a port that speaks TLS from the start sends no greeting: if this is "
                    "one, leave out --starttls")
        return ""

    def describe(self, exc: BaseException) -> str:
        where = self.where
        if isinstance(exc, ConnectionRefusedError):
            return f"connection refused by {where}{self.port_note}"
        if isinstance(exc, socket.gaierror):
            return f"cannot resolve {where.rsplit(':', 1)[0]}: {exc.strerror or exc}"
        if isinstance(exc, TimeoutError):
            return (f"timed out {self.phase} {where} (after {self.args.timeout:g} s)"
                    f"{self._starttls_timeout_hint()}")
        if isinstance(exc, TruncatedConnection):
            return f"{where} closed the connection during the handshake{self._silent_hint()}"
        if isinstance(exc, ConnectionResetError):
            return (f"connection reset by {where} {self.phase.rsplit(' ', 1)[0]}"
                    f"{self._silent_hint()}")
        if isinstance(exc, AlertReceived):
            desc = exc.alert
            when = "the handshake failed" if self.phase.startswith("during") else \
                "the server closed the connection"
            asked = self.recorder.find("certificate_request") is not None
            hint = self._raw_key_alert_hint(desc) if self.args.pin_key or \
                self.args.raw_key else ""
            if hint:
                pass
            elif desc == AlertDescription.certificate_required or (
                    asked and desc == AlertDescription.handshake_failure and not self.args.cert):
                hint = ("; the server requires a client certificate: pass --cert FILE "
                        "--key FILE" if not self.args.cert else
                        "; the server requires a client certificate and did not get one it "
                        "accepts (--trace shows its CertificateRequest)")
            elif desc == AlertDescription.handshake_failure:
                hint = ("; usually no cipher suite, group or signature scheme in common "
                        "(see --trace for what was offered; a server limited to RSA key "
                        "transport needs --legacy-rsa-kx, a server with only a raw public "
                        "key needs --pin-key, and CBC-only servers are not supported)")
            if desc == AlertDescription.protocol_version:
                hint = self._version_hint()
            if desc == AlertDescription.no_application_protocol and self.args.alpn:
                hint = (f"; the server speaks none of the protocols offered with --alpn "
                        f"{self.args.alpn}: offer one it speaks (e.g. http/1.1), or leave "
                        f"--alpn out")
            return f"{when}: {where} sent alert {desc.name} ({int(desc)}){hint}"
        if isinstance(exc, StartTLSError):
            return f"STARTTLS ({self.args.starttls}) failed: {exc}{self._starttls_hint(exc)}"
        pinned = self._pin_failure(exc)
        if pinned is not None:
            return pinned
        if isinstance(exc, BadCertificate) and getattr(exc, "reason", None) == "revoked":
            return f"certificate revoked, refusing the connection: {exc}"
        if isinstance(exc, BadCertificate):
            from ..x509.muststaple import NOT_ENFORCED
            from .verify import with_flag_hint
            text = with_flag_hint(str(exc)).replace(NOT_ENFORCED, "leave out --must-staple")
            return f"certificate verify failed: {text}"
        if isinstance(exc, EchRejected):
            retry = ("; its retry configs (base64, for --ech-config-list): "
                     + base64.b64encode(exc.retry_configs).decode()) if exc.retry_configs \
                else ""
            return (f"{where} did not accept Encrypted Client Hello (sent alert ech_required"
                    f"; the certificate was checked for the public name {exc.public_name})"
                    f"{retry or '; it sent no retry configs'}")
        if isinstance(exc, TLSError) and self.recorder.find("server_hello") is None \
                and "is not TLS" in str(exc):
            return f"{where} does not speak TLS: {self._not_tls(exc)}"
        if isinstance(exc, TLSError):
            return f"handshake with {where} failed: {exc} (sent alert {exc.alert.name})"
        if isinstance(exc, OSError):
            return f"cannot connect to {where}: {exc.strerror or exc}"
        return f"{type(exc).__name__}: {exc}"

    def _pin_failure(self, exc: BaseException) -> str | None:
        """RFC 7250 failures of our own, in the CLI's terms: a server key none of the
        --pin-key keys, or a server that answered with a certificate."""
        if not self.args.pin_key or not isinstance(exc, TLSError):
            return None
        found = re.search(r"server's raw public key \(SHA-256 of its SPKI ([0-9a-f]{64})\) "
                          r"is not one of", str(exc))
        if found:
            return (f"the raw public key of {self.where} (SHA-256 of SPKI {found[1]}) is "
                    "not one of the --pin-key keys: if you know it is that server's key "
                    "(its admin can run openssl pkey -pubout -outform DER | sha256sum), "
                    "pin it with another --pin-key; otherwise this is another server or "
                    "its key changed")
        if exc.alert == AlertDescription.unsupported_certificate and not self.args.cafile \
                and "no server_certificate_type" in str(exc):
            return (f"{self.where} answered with an X.509 certificate: it does "
                    f"not serve raw public keys (RFC 7250). {ENABLE_RPK}")
        return None

    def _raw_key_alert_hint(self, desc: AlertDescription) -> str:
        """What a server's alert means when we offered raw public keys."""
        a = self.args
        if desc == AlertDescription.unsupported_certificate and a.pin_key:
            return ("; it has no certificate type in common with us (RFC 7250 4.2): "
                    f"it serves no raw public key, as --pin-key needs. {ENABLE_RPK}")
        if desc == AlertDescription.unsupported_certificate:
            return ("; it takes no client raw public key (RFC 7250 4.2), as --raw-key "
                    "offers; present a certificate (--cert/--key) instead")
        if desc in (AlertDescription.bad_certificate, AlertDescription.certificate_unknown) \
                and a.raw_key:
            return (f"; it refused our raw public key (--raw-key, SHA-256 of SPKI "
                    f"{self._raw_key_sent}): the server must pin it (e.g. tlskit serve "
                    "--pin-client-key PUB.pem)")
        if desc == AlertDescription.certificate_required:
            return ("; the server requires a client certificate: pass --raw-key FILE if it "
                    "pins client keys, else --cert FILE --key FILE")
        if desc == AlertDescription.handshake_failure and a.pin_key:
            return ("; a server holding only a certificate may refuse a ClientHello that "
                    "takes raw public keys alone: --trace shows the offer; add --cafile "
                    "to accept certificates too")
        return ""

    def _version_hint(self) -> str:
        """Why a server refused the versions offered: --tls1.2/--tls1.3 left its version
        out, or it speaks only older ones."""
        a = self.args
        for flag, pinned, other in (("--tls1.2", a.tls12, "1.3"), ("--tls1.3", a.tls13, "1.2")):
            if pinned:
                return (f"; only TLS {flag[5:]} was offered ({flag}): the server may speak "
                        f"only TLS {other}, try without {flag}")
        return ("; the server speaks neither TLS 1.3 nor TLS 1.2 as tlskit does "
                "(older versions are not implemented)")

    def _not_tls(self, exc: BaseException) -> str:
        return not_tls_hint(bytes(self.first_bytes), exc)

    def _silent_hint(self) -> str:
        """Why a server hangs up on a ClientHello without an alert, and what to try."""
        if not self.phase.startswith("during") or \
                self.recorder.find("server_hello") is not None:
            return ""
        return (" without answering the ClientHello; servers do that when they speak only "
                "TLS 1.1 or older (not implemented) or refuse the offer without an alert: "
                "--tls1.2, --groups or --ciphers narrow the offer, --trace shows it")

    # -- output ------------------------------------------------------------------------

    def summary(self, host: str, port: int, address: str, server_name: str,
                complete: Any, error: TLSError | None, connect_ms: float,
                handshake_ms: float, response: bytes | None,
                record_limit: int) -> dict[str, Any]:
        report = self.verifier.report if self.verifier else None
        chain = [cert_info(c) for c in complete.peer_certificates]
        path = [cert_info(c) for c in report.chain] if report is not None else []
        anchor = path[-1] if error is None and path else None
        psk = complete.external_psk_identity
        raw = complete.peer_raw_public_key  # RFC 7250: the pin is the identity
        verification: dict[str, Any] = {
            "ok": error is None,
            "reason": None if error is None else _flag_words(str(error)),
            "code": None if error is None else str(getattr(error, "reason", error.alert.name)),
            "detail": (f"authenticated by external PSK {psk_text(psk)}" if psk is not None
                       else f"authenticated by raw public key ({spki_text(raw)})"
                       if raw is not None
                       else f"chain to {anchor['common_name']}, valid for {server_name}"
                       if error is None and anchor else None),
            "checks": report_checks(report),
            "path": path if error is None else [],
            "ocsp_staple": None if psk is not None or raw is not None
            else self.staple_status(complete, report),
        }
        scts = None
        if self.args.scts or self.ct_logs:  # RFC 6962: what the server gave, checked
            from .ct import sct_summary
            certs = list(report.chain) if report is not None and report.chain \
                else list(complete.peer_certificates)
            scts = sct_summary(self.ct_logs, certs, complete.signed_certificate_timestamps,
                               time.time(), complete.ocsp_response)
        client_cert = self.recorder.find("client_certificate")
        client_subject = client_raw = None
        if client_cert is not None and client_cert.fields.get("chain"):
            client_subject = client_cert.fields["chain"][0].get("subject")
        if client_cert is not None and \
                client_cert.fields.get("certificate_type") == "RawPublicKey":
            client_raw = self._raw_key_sent
        return {
            "host": host,
            "port": port,
            "address": address,
            "starttls": self.args.starttls,  # the protocol spoken before TLS, or None
            "port_chosen": bool(self.port_note),  # --starttls without a port: its port
            "certificate_compression": self._compression(),
            "server_name": None if _is_ip(server_name) else server_name,
            "version": complete.version,
            "cipher_suite": complete.cipher_suite.name,
            "group": complete.group and complete.group.name,
            "signature_scheme": complete.signature_scheme and complete.signature_scheme.name,
            "alpn": complete.alpn_protocol,
            "ech": self._ech_summary(complete),
            "record_limit": record_limit,  # plaintext bytes per record we send
            "resumed": complete.resumed,
            "external_psk": None if psk is None else psk.decode("utf-8", "backslashreplace"),
            "peer_certificates": [{"subject": c["subject"], "issuer": c["issuer"],
                                   "not_before": c["not_before"], "not_after": c["not_after"],
                                   "names": c["names"]} for c in chain],
            "peer_certificates_full": chain,
            "peer_raw_public_key": None if raw is None else {
                "sha256": hashlib.sha256(raw).hexdigest(), "type": key_kind(raw)},
            "verification": verification,
            "client_certificate": client_subject,
            "client_raw_public_key": client_raw,  # SHA-256 of our SPKI, when sent
            "scts": scts,  # None unless --scts or --ct-log
            "timings": {"connect_ms": round(connect_ms, 3),
                        "handshake_ms": round(handshake_ms, 3)},
            "response": None if response is None else response.decode("utf-8", "replace"),
        }

    def _ech_summary(self, complete: Any) -> dict[str, Any] | None:
        """ECH, when offered: it was accepted (a rejection ends in EchRejected)."""
        hello = self.recorder.find("client_hello")
        if not getattr(complete, "ech_accepted", False) or hello is None:
            return None
        return {"accepted": True, "public_name": hello.fields.get("ech_public_name"),
                "config_id": hello.fields.get("ech_config_id")}

    def _compression(self) -> dict[str, Any] | None:
        """How the server's Certificate came, when compressed (RFC 8879): the algorithm
        and both sizes, so --compress-cert shows whether it took effect."""
        step = self.recorder.find("compressed_certificate")
        if step is None:
            return None
        return {key: step.fields.get(key) for key in ("algorithm", "compressed", "uncompressed")}

    def staple_status(self, complete: Any, report: Any) -> str:
        """What became of the stapled OCSP response, in words, for the summary."""
        leaf = complete.peer_certificates[0] if complete.peer_certificates else None
        from ..x509.muststaple import shows_must_staple
        strict = leaf is not None and shows_must_staple(leaf)
        if not self.args.ocsp_stapling and not self.args.must_staple:
            return "not requested (--no-ocsp-stapling)" + (
                "; the certificate is must-staple (RFC 7633)" if strict else "")
        if getattr(complete, "ocsp_response", None) is None:
            if strict:  # Firefox refuses exactly this server (REQUIRED_TLS_FEATURE_MISSING)
                return ("none, but the certificate is must-staple (RFC 7633): Firefox and "
                        "--must-staple refuse this server; revocation not checked")
            return "none (the server stapled no OCSP response; revocation not checked)"
        checks = report.checks if report is not None else []
        for check in checks:
            if check.check == "revocation" and check.certificate == leaf:
                return str(check.detail)
        return "stapled, not evaluated"

    def output(self, summary: dict[str, Any], response: bytes | None) -> None:
        a = self.args
        if a.json:
            out = {k: v for k, v in summary.items() if k != "peer_certificates_full"}
            if a.trace:
                out["trace"] = self.recorder.to_list(include_secrets=False)
            json.dump(out, sys.stdout, indent=2)
            sys.stdout.write("\n")
            return
        console = make_console()
        if a.trace:
            render_trace(self.recorder.steps, console)
            console.print()
        render_connect(summary, console)
        if response is not None:
            console.print(f"[bold]response[/bold] ({len(response)} bytes):")
            console.file.flush()
            sys.stdout.write(response.decode("utf-8", "replace"))
            if response and not response.endswith(b"\n"):
                sys.stdout.write("\n")
            sys.stdout.flush()

    def _write_diagram(self, host: str, port: int) -> None:
        try:
            diagram.write_svg(self.args.diagram, diagram.items_from_steps(self.recorder.steps),
                              title=f"TLS handshake with {host_port(host, port)}",
                              client_label="tlskit connect",
                              server_label=host_port(host, port))
        except diagram.DiagramError as exc:
            print(f"{PROG}: {exc}", file=sys.stderr)
