"""`tlskit serve`: a TLS 1.3 server that shows each visitor its own handshake.

The default mode answers HTTP/1.1 with a page describing the visitor's handshake
(`tlskit.cli.page`: every offered code point named, the chosen ones highlighted, a verdict,
JA3/JA4, the chain, HelloRetryRequest, a sequence diagram); ``/json`` has the same data,
``/diagram/TOKEN.svg`` the diagram of the handshake that asked for the page. ``--echo``
echoes bytes back instead. Without ``--cert``/``--key`` it uses a certificate
for localhost, 127.0.0.1 and ::1 from the user's local CA (`LocalCA.default()`), made on
first use and kept next to it, and says where the root is so it can be trusted. ``--ech
PUBLIC_NAME`` keeps its ECH key there too (`tlskit.cli.ech_keep`), so the ECHConfigList it
prints stays valid across restarts.

The first line on stdout is always ``listening on https://HOST:PORT/`` (flushed), so
scripts can start it with ``--port 0`` and read the port. Each connection runs on a thread
of its own (reused for a later connection once it is done); a client that misbehaves only
ends its own connection. SIGINT or SIGTERM stops it (exit 0).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import secrets
import signal
import socket
import socketserver
import sys
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from email.utils import formatdate
from enum import Enum
from pathlib import Path
from types import FrameType
from typing import Any

from cryptography import x509

from ..config import (
    CertificateValidityWarning,
    CertifiedKey,
    EchKey,
    RawPublicKey,
    ServerConfig,
    load_pem_chain,
    spki_fingerprint,
)
from ..errors import AlertReceived, TLSError
from ..events import HandshakeComplete
from ..fingerprint import client_hellos
from ..io.blocking import RECV_SIZE, TLSSocket, TruncatedConnection
from ..io.preamble import StartTLSError, StartTLSServer, starttls_accept
from ..io.server import TLSServer
from ..io.tap import TappedSocket, tap_socket
from ..keylog import KeyLogFile
from ..x509.names import match_hostname
from . import diagram
from .codepoints import CERT_COMPRESSION
from .connect import psk_option, psk_text
from .conventions import listen_error, write_line
from .ech_keep import kept_ech_key
from .rawkeys import key_kind, load_pin, load_raw_key, spki_text
from .trace import Recorder, Wire, quiet_library_logs

PROG = "tlskit serve"
HANDSHAKE_TIMEOUT = 30.0
IDLE_TIMEOUT = 60.0
# The whole request head, however it trickles in: IDLE_TIMEOUT bounds each recv() call only,
# so a client sending a record a minute would otherwise hold its thread for days.
REQUEST_TIMEOUT = 30.0
MAX_REQUEST_HEAD = 64 * 1024
# Steps kept for a connection's diagram (a handshake takes a dozen, tickets included): a
# client sending KeyUpdates without end made one traced step, about 700 bytes, of each
# 27-byte record until its request was complete.
MAX_TRACED_STEPS = 256
DIAGRAMS_KEPT = 256  # recent handshakes whose diagram can still be fetched
DEFAULT_NAMES = ["localhost", "127.0.0.1", "::1"]
RENEW_BEFORE = dt.timedelta(days=2)


class ServeError(Exception):
    """A startup failure already phrased for the user; ``code`` is the exit status: 2 for
    arguments and input files (the default), 1 for what failed at run time."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


class _Stop(Exception):
    """Raised in the main thread by the SIGTERM handler."""




def _session_store(url: str | None) -> Any:
    """--session-store: the store, with its outages (and recoveries) logged to stderr."""
    if not url:
        return None
    import logging

    from ..sessionstore import _without_password, from_url
    shown = _without_password(url)
    try:
        store = from_url(url)
    except (ValueError, ImportError) as exc:
        raise ServeError(f"--session-store {shown}: {exc}") from exc
    check = getattr(store, "check", None)
    if check is not None:  # checked before listening, not found out at the first handshake
        try:
            check()
        except Exception as exc:
            raise ServeError(f"--session-store {shown}: cannot use it: {exc}") from exc
    logger = logging.getLogger("tlskit.sessionstore")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(f"{PROG}: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    return store




def run(args: argparse.Namespace) -> int:
    quiet_library_logs()
    try:
        server = Server(args)
    except ServeError as exc:
        if getattr(args, "debug", False):
            raise
        print(f"{PROG}: {exc}", file=sys.stderr)
        return exc.code
    try:
        with _stop_on_sigterm():
            server.announce()
            server.serve_forever()
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        server.close()
    write_line("stopped")  # (stdout may be a pipe nobody reads any more)
    return 0


@contextlib.contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into an exception in the main thread (SIGINT already is one)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise _Stop()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _compression_note(recorder: Recorder) -> str:
    """" cert-compression=NAME" when this connection's Certificate went out compressed
    (RFC 8879), read from its trace; "" otherwise, and in --echo mode (no trace)."""
    for step in recorder.steps:
        if step.step == "certificate":
            code = step.values.get("compressed")
            return "" if code is None else f" cert-compression={CERT_COMPRESSION.get(code, code)}"
    return ""


def _split(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [x.strip() for x in text.replace(":", ",").split(",") if x.strip()]


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


# --------------------------------------------------------------------------- certificates


def default_certificate(extra_names: Sequence[str] = ()
                        ) -> tuple[CertifiedKey, Path | None, Path | None]:
    """(certified key, root path, certificate path) from the user's local CA, for
    localhost and ``extra_names`` (--ech's public name). The leaf is kept in
    ``<state>/tlskit/serve/`` and reissued when it nears expiry, the CA changed or it
    lacks one of the names."""
    from ..ca import CAError, LocalCA, default_directory

    try:
        ca = LocalCA.default()
    except (CAError, OSError) as exc:
        raise ServeError(f"cannot open the local CA in {default_directory()}: {exc} "
                         "(or pass --cert and --key)", 1) from exc
    root = ca.directory / "root.pem" if ca.directory is not None else None
    folder = serve_directory()
    cert_path, key_path = folder / "localhost.pem", folder / "localhost-key.pem"
    with contextlib.suppress(OSError, ValueError, TypeError):
        chain = load_pem_chain(cert_path)
        if (len(chain) >= 2 and chain[1] == ca.intermediate
                and chain[0].not_valid_after_utc - RENEW_BEFORE > dt.datetime.now(dt.UTC)
                and all(match_hostname(chain[0], name) for name in extra_names)):
            return CertifiedKey.from_files(cert_path, key_path), root, cert_path
    try:
        issued = ca.issue_server([*DEFAULT_NAMES, *extra_names], days=30)
    except CAError as exc:
        raise ServeError(f"cannot issue a certificate for localhost: {exc}", 1) from exc
    saved: Path | None = cert_path
    try:
        issued.write(cert_path=cert_path, key_path=key_path)
    except OSError:
        saved = None  # still usable from memory
    return CertifiedKey(issued.chain, issued.private_key), root, saved


def serve_directory() -> Path:
    """Where serve keeps its state (its localhost certificate, its ECH keys): beside the
    local CA, ``<state>/tlskit/serve``."""
    from ..ca import default_directory

    return default_directory().parent / "serve"


def _ech_key(a: argparse.Namespace) -> tuple[EchKey, str] | None:
    """(key, how it came, for the announcement): --ech (serve's own key for that public
    name, kept between runs) or --ech-key/--ech-config (existing files), checked here so
    a bad name or file is one line before anything listens."""
    if a.ech and (a.ech_key or a.ech_config):
        raise ServeError("--ech makes (or reuses) serve's own key; --ech-key and "
                         "--ech-config serve an existing one: give one or the other")
    if a.ech_new_key and not a.ech:
        raise ServeError("--ech-new-key needs --ech PUBLIC_NAME (it replaces the key kept "
                         "for that name)")
    if bool(a.ech_key) != bool(a.ech_config):
        raise ServeError("--ech-key and --ech-config go together")
    if a.ech_config_list_out and not (a.ech or a.ech_key):
        raise ServeError("--ech-config-list-out needs --ech or --ech-key")
    if (a.ech or a.ech_key) and a.tls12:
        raise ServeError("Encrypted Client Hello needs TLS 1.3 (RFC 9849): drop --tls1.2")
    if a.ech:
        try:
            kept = kept_ech_key(serve_directory(), a.ech, new=a.ech_new_key)
        except ValueError as exc:
            raise ServeError(f"--ech {a.ech}: {exc}") from exc
        return kept.key, kept.how
    if not a.ech_key:
        return None
    files = []
    for option, path in (("--ech-config", a.ech_config), ("--ech-key", a.ech_key)):
        try:
            files.append(Path(path).expanduser().read_bytes())
        except OSError as exc:
            raise ServeError(f"cannot read {option} {path}: {exc.strerror or exc}") from exc
    try:
        return EchKey.load(files[0], files[1]), f"key from {a.ech_key}"
    except ValueError as exc:
        message = str(exc).removeprefix("ech_keys[0]: ")
        if _is_config_list(files[0]):
            message = ("that file is an ECHConfigList (what --ech-config-list-out writes "
                       "and clients take); --ech-config takes the one ECHConfig (bssl-tool "
                       "generate-ech -out-ech-config, or EchKey.config)")
        raise ServeError(f"cannot use --ech-config {a.ech_config} with --ech-key "
                         f"{a.ech_key}: {message}") from exc


# What a client's closing alert means for the person watching serve's log.
_ALERT_NOTES = {
    "ech_required": " (its ECH config was not this server's, stale or another key: it "
                    "was sent this server's list as retry configs)",
}


def _cli_terms(message: str) -> str:
    """An engine error in serve's terms: the option, not the config field, to pin with."""
    return message.replace("is not one of pinned_client_keys: add it there if you trust "
                           "this key", "is not pinned: add --pin-client-key with it if you "
                           "trust this client's key")


def _raw_key(a: argparse.Namespace) -> RawPublicKey | None:
    """--raw-key FILE, or --raw-key alone: --key's private key (RFC 7250)."""
    if a.raw_key is None:
        return None
    if a.raw_key == "" and not a.key:
        raise ServeError("--raw-key without FILE serves --key's key: give --key FILE, or "
                         "--raw-key FILE")
    try:
        return load_raw_key(*(("--raw-key", a.raw_key) if a.raw_key else ("--key", a.key)))
    except ValueError as exc:
        raise ServeError(str(exc)) from exc


def _client_pins(a: argparse.Namespace) -> list[bytes]:
    """--pin-client-key: the client raw public keys accepted, as DER SPKI."""
    try:
        return [load_pin("--pin-client-key", path) for path in a.pin_client_key or ()]
    except ValueError as exc:
        raise ServeError(str(exc)) from exc


def _is_config_list(data: bytes) -> bool:
    """Whether ``data`` is an ECHConfigList (a two-byte length, then configs): the file
    a newcomer most likely passed as --ech-config by mistake."""
    from ..handshake.ech import parse_config_list
    try:
        parse_config_list(data)
    except ValueError:
        return False
    return True


def _write_config_list(path: str, config_list: bytes) -> None:
    try:
        Path(path).expanduser().write_bytes(config_list)
    except OSError as exc:
        raise ServeError(f"cannot write --ech-config-list-out {path}: "
                         f"{exc.strerror or exc}") from exc


def _subject(cert: x509.Certificate) -> str:
    try:
        return cert.subject.rfc4514_string()
    except ValueError:
        return "(unparseable subject)"


# --------------------------------------------------------------------------- the server


class Server:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.stopping = threading.Event()
        self._local = threading.local()  # the connection each handler thread serves
        self._diagrams: OrderedDict[str, list[diagram.Item]] = OrderedDict()
        self.root: Path | None = None
        self.cert_path: Path | None = None
        self.keylog: KeyLogFile | None = None
        self.certified: CertifiedKey | None = None
        self.raw_key: RawPublicKey | None = None  # --raw-key (RFC 7250)
        self.client_pins: list[bytes] = []  # --pin-client-key, DER SPKI
        self.ech: EchKey | None = None
        self.ech_how = ""  # whether the ECH key is new, reused or from --ech-key
        self._lock = threading.Lock()  # before _config, whose warnings go through log()
        self.config = self._config()
        try:
            self.listener = _Listener(self)
        except OSError as exc:
            raise ServeError(listen_error(_url_host(args.host), args.port, exc), 1) from exc
        self.port = self.listener.server_port

    def _config(self) -> ServerConfig:
        a = self.args
        if not 0 <= a.tickets <= 16:  # before any file is read or warned about
            raise ServeError(f"--tickets must be within 0..16, not {a.tickets}")
        if a.cert and not a.key:
            raise ServeError("--cert and --key go together")
        if a.key and not a.cert and a.raw_key != "":
            raise ServeError("--key goes with --cert (or with --raw-key alone, to serve "
                             "it as a raw public key)")
        if a.chain and not a.cert:
            raise ServeError("--chain needs --cert and --key")
        if a.echo and a.starttls:  # each decides what follows the handshake
            raise ServeError(f"--echo and --starttls {a.starttls} both say what follows the "
                             f"handshake (an echo, or {a.starttls}'s own dialog): give one "
                             "or the other")
        self.raw_key = _raw_key(a)
        self.client_pins = _client_pins(a)
        ech = _ech_key(a)
        if ech is not None:
            self.ech, self.ech_how = ech
        if self.ech and self.raw_key is not None and not a.cert:
            raise ServeError("Encrypted Client Hello needs a certificate for its public "
                             "name (a client whose ECH is refused checks it): add --cert "
                             "and --key beside --raw-key")
        public_names = [self.ech.public_name] if self.ech else []
        certified: CertifiedKey | None = None
        try:
            if a.cert:
                certified = CertifiedKey.from_files(a.cert, a.key, a.chain)
            elif self.raw_key is None:
                certified, self.root, self.cert_path = default_certificate(public_names)
            self.certified = certified
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            raise ServeError(f"cannot read the certificate or key: "
                             f"{where}{exc.strerror or exc}") from exc
        except (ValueError, TypeError) as exc:
            raise ServeError(f"cannot load the certificate or key: {exc}") from exc
        if self.ech and certified is not None and \
                not match_hostname(certified.chain[0], self.ech.public_name):
            self.log(f"{PROG}: warning: the certificate does not cover the ECH public name "
                     f"{self.ech.public_name}: a client whose ECH this server cannot "
                     "decrypt (a stale config) checks the certificate against that name, "
                     "so it will fail instead of retrying with the new config")
        client_auth: Any = "none"
        client_anchors = None
        if a.client_auth and not a.client_ca and not self.client_pins:
            raise ServeError("--client-auth needs --client-ca (the CAs client certificates "
                             "must come from) or --pin-client-key (raw public keys)")
        if self.client_pins:  # RFC 7250: pinned client keys alone can authenticate
            client_auth = a.client_auth or "required"
        if a.client_ca:
            from .verify import InputError, load_anchors  # as connect reads --cafile

            try:
                client_anchors = load_anchors(a.client_ca, "--client-ca")
            except InputError as exc:
                raise ServeError(str(exc)) from exc
            client_auth = a.client_auth or "required"
        alpn = _split(a.alpn)
        if alpn is None:
            alpn = [] if a.echo or a.starttls else ["http/1.1"]
        if a.keylog:
            try:
                self.keylog = KeyLogFile(Path(a.keylog).expanduser())
                self.keylog.open()
            except OSError as exc:
                raise ServeError(f"cannot open --keylog {a.keylog}: {exc.strerror}") from exc
        if a.ocsp_response:
            if certified is None:
                raise ServeError("--ocsp-response staples a certificate's status: it needs "
                                 "--cert (a raw public key has no status to staple)")
            if len(certified.chain) < 2:
                raise ServeError("--ocsp-response needs the issuer: give the chain with --cert "
                                 "or --chain")
            from ..x509.stapling import OcspStapler
            stapler = OcspStapler(certified.chain[0], certified.chain[1],
                                  response_file=a.ocsp_response, background=False)
            if not stapler.refresh():  # a wrong path or response would go unnoticed
                self.log(f"{PROG}: warning: stapling nothing for now: {stapler.last_error} (the "
                         f"file is read again when a client asks, at most once a minute)")
            certified = CertifiedKey(certified.chain, certified.private_key, stapler.current)
            self.certified = certified
        elif certified is not None and _must_staple(certified.chain[0]):
            self.log(f"{PROG}: warning: the certificate is must-staple (RFC 7633) but no "
                     "--ocsp-response is given: Firefox (and tlskit connect --must-staple) "
                     "will refuse it; staple a response from its OCSP responder with "
                     "--ocsp-response FILE (e.g. saved by openssl ocsp -respout FILE)")
        if a.sct:
            certified = self._with_scts(certified, a.sct)
        versions = ["TLSv1.2"] if a.tls12 else ["TLSv1.3"] if a.tls13 else ["TLSv1.3", "TLSv1.2"]
        store = _session_store(a.session_store)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", CertificateValidityWarning)
                config = self._build_config(certified, versions, alpn, client_auth,
                                            client_anchors, store)
        except ValueError as exc:
            raise ServeError(str(exc)) from exc
        if self.ech and a.ech_config_list_out:
            _write_config_list(a.ech_config_list_out, self.ech.config_list)
        for warning in caught:
            self.log(f"{PROG}: warning: {warning.message}")
        return config

    def _with_scts(self, certified: CertifiedKey | None, paths: list[str]) -> CertifiedKey:
        """--sct: SCTs (one binary serialized SCT per file) sent, for the certificate, to
        clients that ask (RFC 6962 3.3)."""
        from .ct import load_sct_file
        if certified is None:
            raise ServeError("--sct is for a certificate's SCTs, and --raw-key alone "
                             "serves none: add --cert and --key")
        try:
            scts = [load_sct_file("--sct", path) for path in paths]
            ck = CertifiedKey(certified.chain, certified.private_key,
                              certified.ocsp_response, scts)
        except ValueError as exc:
            raise ServeError(str(exc)) from exc
        self.certified = ck
        return ck

    def _build_config(self, certified: CertifiedKey | None, versions: list[str], alpn: list[str],
                      client_auth: Any, client_anchors: Any, store: Any) -> ServerConfig:
        a = self.args
        return ServerConfig(
            session_store=store,
            certificates=[certified] if certified is not None else [],
            raw_public_key=self.raw_key,
            pinned_client_keys=self.client_pins,
            versions=versions,
            certificate_compression=_split(a.compress_cert) or (),
            # Read by the config (tlskit.iana), like ServerConfig(groups=...) in code.
            groups=_split(a.groups),
            cipher_suites=_split(a.ciphers),
            legacy_rsa_key_exchange=a.legacy_rsa_kx,
            alpn_protocols=alpn,
            client_auth=client_auth,
            client_trust_anchors=client_anchors,
            keylog=self.keylog,
            session_tickets=a.tickets,
            tracer=self._trace,
            ech_keys=[self.ech.pair] if self.ech else (),
            external_psks=psk_option(a.psk_identity, a.psk),
        )

    def announce(self) -> None:
        """Print the startup lines in one write: a Ctrl-C while they are printed then stops
        the server before or after them, never between a line and its newline."""
        a = self.args
        lines: list[str] = []
        say = lines.append
        scheme = a.starttls or "https"
        say(f"listening on {scheme}://{_url_host(a.host)}:{self.port}/")
        if self.certified is not None:
            leaf = self.certified.chain[0]
            say(f"certificate: {_subject(leaf)} (expires "
                  f"{leaf.not_valid_after_utc:%Y-%m-%d %H:%M:%S} UTC)"
                  + (f", {self.cert_path}" if self.cert_path else ""))
        if self.raw_key is not None:
            say(f"raw public key: {key_kind(self.raw_key.spki)}, "
                  f"{spki_text(self.raw_key.spki)}"
                  + ("" if self.certified is not None else " (no certificate: clients "
                     "must take raw public keys)")
                  + "; clients pin it: tlskit connect --pin-key PUB.pem (openssl pkey -in "
                  "KEY.pem -pubout -out PUB.pem)")
        if self.root is not None:
            say(f"trust the local CA root to open it without warnings: {self.root}")
            if not a.starttls:
                say(f"  e.g. curl --cacert {self.root} https://localhost:{self.port}/")
        if self.ech is not None:
            say(f"ech: public name {self.ech.public_name}, config id {self.ech.config_id} "
                  f"({self.ech_how})")
            say("ech config list (base64, for a DNS HTTPS record's ech= or "
                  f"tlskit connect --ech-config-list): "
                  f"{base64.b64encode(self.ech.config_list).decode()}")
            if a.ech_config_list_out:
                say(f"ech config list written to {a.ech_config_list_out} (binary)")
        mode = ("echo" if a.echo else "HTTP/1.1 page showing each visitor's handshake")
        if a.starttls:
            mode = (f"{a.starttls} with STARTTLS (plain-text greeting, then TLS; e.g. openssl "
                    f"s_client -starttls {a.starttls} -connect {_url_host(a.host)}:{self.port})")
        say(f"mode: {mode}"
              + (f"; client certificates {a.client_auth or 'required'} (CAs in "
                 f"{a.client_ca})" if a.client_ca else "")
              + (f"; client raw public keys {a.client_auth or 'required'} "
                 f"({len(self.client_pins)} pinned)" if self.client_pins else ""))
        say("Ctrl-C to stop.")
        write_line("\n".join(lines))

    def serve_forever(self) -> None:
        self.listener.serve_forever()

    def close(self) -> None:
        with self._lock:  # a line being logged ends first, and none starts after (`log`)
            self.stopping.set()
        with contextlib.suppress(OSError):
            self.listener.server_close()
        if self.keylog is not None:
            with contextlib.suppress(OSError, ValueError):
                self.keylog.close()

    def log(self, line: str) -> None:
        """One line on stderr, whole. Once the server is closing, handler threads log no
        more: "stopped" ends the output, and no thread is left writing to stderr while the
        interpreter exits (one caught holding stderr's lock then aborts the exit)."""
        with self._lock, contextlib.suppress(OSError, ValueError):
            if not self.stopping.is_set():
                print(line, file=sys.stderr, flush=True)

    # -- one connection -----------------------------------------------------------------

    def handle(self, tls: TLSSocket, peer: Any) -> None:
        """One connection, in its own thread: the handshake, then the page or the echo."""
        who = f"{_url_host(peer[0])}:{peer[1]}"
        conn = tls.connection
        # For the page: the server's trace (its diagram) and the bytes the client sent until
        # the handshake ended (its ClientHellos as sent). Echo mode needs neither.
        recorder = Recorder("server")
        plain = self.args.echo or self.args.starttls
        self._local.recorder = None if plain else recorder
        wire = Wire()
        tapped = tls.socket
        if isinstance(tapped, TappedSocket) and not plain:
            tapped.tap = wire.tap("server")
        try:
            if self.args.starttls and tapped is not None:
                starttls_accept(tapped, self.args.starttls, timeout=HANDSHAKE_TIMEOUT)
            tls.do_handshake()
            if isinstance(tapped, TappedSocket):
                tapped.tap = None
            complete = conn.handshake_complete
            assert complete is not None
            seen = _Seen(who, complete, recorder, wire.stream("client->server"))
            group = complete.group.name if complete.group else (
                "RSA-key-transport" if complete.cipher_suite.name.startswith("TLS_RSA_WITH_")
                else None)
            self.log(f"{who} {complete.version} {complete.cipher_suite.name} {group} "
                     f"sni={complete.server_name or '-'} alpn={complete.alpn_protocol or '-'}"
                     + (f" client={_subject(complete.peer_certificates[0])}"
                        if complete.peer_certificates else "")
                     + (f" client-key=SHA-256:{spki_fingerprint(complete.peer_raw_public_key)}"
                        if complete.peer_raw_public_key is not None else "")
                     + (" resumed" if complete.resumed else "")
                     + (f" psk={psk_text(complete.external_psk_identity)}"
                        if complete.external_psk_identity is not None else "")
                     + (" ech=accepted" if getattr(complete, "ech_accepted", False) else "")
                     + _compression_note(recorder))
            if self.args.starttls:
                self._after_starttls(tls)
            elif self.args.echo:
                self._echo(tls)
            else:
                self._http(tls, seen)
            _close_lingering(tls, 2.0)
        except StartTLSError as exc:
            self.log(f"{who} STARTTLS failed: {exc}")
        except AlertReceived as exc:
            self.log(f"{who} closed by the client: alert {exc.alert.name}"
                     + _ALERT_NOTES.get(exc.alert.name, ""))
        except TruncatedConnection:
            self.log(f"{who} closed the connection during the handshake")
        except TLSError as exc:
            what = "TLS error" if conn.handshake_complete else "handshake failed"
            self.log(f"{who} {what}: {_cli_terms(str(exc))} (sent alert {exc.alert.name})")
        except TimeoutError:
            self.log(f"{who} timed out")
        except OSError as exc:
            self.log(f"{who} connection error: {exc.strerror or exc}")
        except Exception as exc:  # a bug must cost one connection, never the server
            self.log(f"{who} internal error: {type(exc).__name__}: {exc}")
        finally:
            self._local.recorder = None
            with contextlib.suppress(OSError):
                tls.close()

    def _trace(self, step: str, values: dict[str, Any]) -> None:
        """The config's tracer: hands each event to the recorder of the connection being
        handled by this thread (the engine calls it from receive_data, in that thread)."""
        recorder = getattr(self._local, "recorder", None)
        if recorder is not None and len(recorder.steps) < MAX_TRACED_STEPS:
            recorder.tracer(step, values)

    def _after_starttls(self, tls: TLSSocket) -> None:
        """After the handshake, the protocol's NOOP and QUIT (LOGOUT) over TLS, so clients
        that say goodbye get an answer; postgres and xmpp end here (no database, no XMPP
        session behind them)."""
        if self.args.starttls in ("postgres", "xmpp"):
            return
        dialog = StartTLSServer(self.args.starttls, secured=True)
        buffer = b""
        tls.settimeout(IDLE_TIMEOUT)
        while not dialog.done:
            while b"\n" not in buffer:
                if len(buffer) > MAX_REQUEST_HEAD:
                    return
                data = tls.recv(RECV_SIZE)
                if not data:
                    return
                buffer += data
            line, _, buffer = buffer.partition(b"\n")
            reply, _ = dialog.answer(line)
            tls.sendall(reply)

    def _echo(self, tls: TLSSocket) -> None:
        while True:
            data = tls.recv(RECV_SIZE)
            if not data:
                return
            tls.sendall(data)

    def _http(self, tls: TLSSocket, seen: _Seen) -> None:
        who = seen.who
        head = self._request_head(tls)
        if head is None:
            return
        if len(head) > MAX_REQUEST_HEAD:
            self._respond(tls, 431, "Request Header Fields Too Large", b"")
            return
        lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").splitlines()
        parts = lines[0].split() if lines else []
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            self._respond(tls, 400, "Bad Request", b"bad request\n", "text/plain")
            return
        method, path, _ = parts
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self.log(f"{who} {method} {path} {headers.get('user-agent', '-')}")
        if method not in ("GET", "HEAD"):
            self._respond(tls, 405, "Method Not Allowed", b"GET or HEAD only\n",
                          "text/plain", extra="Allow: GET, HEAD\r\n")
            return
        route = path.split("?", 1)[0]
        head_only = method == "HEAD"
        if route in ("/", "/json"):
            from . import page

            visit = self._visit(seen, headers.get("user-agent"))
            if route == "/":
                self._respond(tls, 200, "OK", page.render_html(visit),
                              "text/html; charset=utf-8", head_only=head_only)
            else:
                self._respond(tls, 200, "OK", page.to_json(visit), "application/json",
                              head_only=head_only)
            return
        if route.startswith("/diagram/") and route.endswith(".svg"):
            items = self._diagram(route[len("/diagram/"):-len(".svg")])
            if items is not None:
                svg = diagram.render_svg(items, title="Your TLS handshake with tlskit serve",
                                         client_label="your client",
                                         server_label="tlskit serve")
                self._respond(tls, 200, "OK", svg.encode(), "image/svg+xml",
                              head_only=head_only)
                return
        self._respond(tls, 404, "Not Found", b"only /, /json and /diagram/*.svg are here\n",
                      "text/plain", head_only=head_only)

    @staticmethod
    def _request_head(tls: TLSSocket) -> bytes | None:
        """The request head (None if the client closed first; longer than
        MAX_REQUEST_HEAD if it is too long), read within REQUEST_TIMEOUT in all. Each
        recv() is bounded as a whole by its timeout (`TLSSocket` keeps one deadline per
        call, as ssl does), so a record trickled in a byte at a time cannot stretch it."""
        deadline = time.monotonic() + REQUEST_TIMEOUT
        head = b""
        while b"\r\n\r\n" not in head and b"\n\n" not in head:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no whole request head within {REQUEST_TIMEOUT:g} s")
            tls.settimeout(min(left, IDLE_TIMEOUT))
            data = tls.recv(RECV_SIZE)
            if not data:
                return None
            head += data
            if len(head) > MAX_REQUEST_HEAD:
                break
        tls.settimeout(IDLE_TIMEOUT)
        return head

    def _visit(self, seen: _Seen, user_agent: str | None) -> Any:
        """The page's view of this connection; its diagram is kept for /diagram/."""
        from . import page

        complete = seen.complete
        steps = [s for s in seen.recorder.steps]
        token = secrets.token_urlsafe(12)
        with self._lock:
            self._diagrams[token] = diagram.items_from_steps(steps)
            while len(self._diagrams) > DIAGRAMS_KEPT:
                self._diagrams.popitem(last=False)
        hrr = next((s for s in steps if s.step == "hello_retry_request"), None)
        hellos = client_hellos(seen.client_bytes)
        hrr_group = (str(hrr.fields.get("group")) if hrr is not None
                     else "(unknown)" if len(hellos) > 1 else None)
        served = next((s for s in steps if s.step == "certificate"), None)
        raw_served = served is not None and \
            served.fields.get("certificate_type") == "RawPublicKey"
        client = (_subject(complete.peer_certificates[0]) if complete.peer_certificates
                  else f"raw public key, {spki_text(complete.peer_raw_public_key)}"
                  if complete.peer_raw_public_key is not None else None)
        return page.Visit(
            address=seen.who, user_agent=user_agent, version=complete.version,
            cipher_suite=complete.cipher_suite.name, group=_name(complete.group),
            signature_scheme=_name(complete.signature_scheme), alpn=complete.alpn_protocol,
            server_name=complete.server_name, resumed=complete.resumed, hellos=hellos,
            chain=(list(self.certified.chain) if self.certified is not None
                   and not raw_served else []),
            client_certificate=client,
            hrr_group=hrr_group,
            tickets_sent=sum(1 for s in steps if s.step == "new_session_ticket"),
            diagram_url=f"/diagram/{token}.svg",
            ech_public_name=self.ech.public_name if self.ech is not None else None,
            ech_accepted=bool(complete.ech_accepted))

    def _diagram(self, token: str) -> list[diagram.Item] | None:
        with self._lock:
            return self._diagrams.get(token)

    def _respond(self, tls: TLSSocket, status: int, reason: str, body: bytes,
                 content_type: str = "text/plain", *, extra: str = "",
                 head_only: bool = False) -> None:
        # RFC 9110 6.6.1: an origin server with a clock sends Date in every 2xx-4xx answer.
        header = (f"HTTP/1.1 {status} {reason}\r\n"
                  f"Date: {formatdate(usegmt=True)}\r\n"
                  f"Content-Type: {content_type}\r\n"
                  f"Content-Length: {len(body)}\r\n"
                  "Cache-Control: no-store\r\n"
                  "Connection: close\r\n"
                  "Server: tlskit\r\n"
                  f"{extra}\r\n").encode("latin-1")
        tls.sendall(header + (b"" if head_only else body))


def _close_lingering(tls: TLSSocket, linger: float) -> None:
    """close_notify and FIN, then read for up to ``linger`` seconds until the client
    closes too, so its last bytes (its own close_notify) are not answered with a reset.
    The linger is bounded in total: each recv() is bounded as a whole by its timeout,
    so a record sent a byte at a time cannot keep one waiting."""
    deadline = time.monotonic() + linger
    with contextlib.suppress(OSError, TLSError):
        tls.shutdown(socket.SHUT_WR)
        while (left := deadline - time.monotonic()) > 0:
            tls.settimeout(left)
            if not tls.recv(RECV_SIZE):
                return


class _Listener(TLSServer):
    """`tlskit.io`'s threading TLS server: its accept loop and a thread per live connection
    (reused once the connection is done), each handed to `Server.handle` with its bytes
    watched (`tlskit.io.tap`)."""

    def __init__(self, server: Server) -> None:
        a = server.args
        self.address_family = socket.AF_INET6 if ":" in a.host else socket.AF_INET
        self.cli = server
        super().__init__((a.host, a.port), socketserver.BaseRequestHandler, server.config,
                         handshake_timeout=HANDSHAKE_TIMEOUT, idle_timeout=IDLE_TIMEOUT,
                         backlog=64)

    def wrap_accepted(self, sock: socket.socket, addr: Any) -> TLSSocket:
        tls = super().wrap_accepted(tap_socket(sock, None), addr)
        # A TLS 1.3 client may half-close after its request (close_notify, RFC 8446 6.1):
        # answer the request first; closing the socket then sends our close_notify.
        tls.connection.close_reply = False
        return tls

    def finish_request(self, request: Any, client_address: Any) -> None:
        self.cli.handle(request, client_address)


# --------------------------------------------------------------------------- a visit


def _name(value: Enum | None) -> str | None:
    """The IANA name of an enum value HandshakeComplete carries (None stays None)."""
    return None if value is None else value.name


class _Seen:
    """What the handler keeps from a handshake for the page: who, the outcome, the
    server's trace and the bytes the client sent until the handshake ended."""

    def __init__(self, who: str, complete: HandshakeComplete, recorder: Recorder,
                 client_bytes: bytes) -> None:
        self.who = who
        self.complete = complete
        self.recorder = recorder
        self.client_bytes = client_bytes


def _must_staple(leaf: Any) -> bool:
    from ..x509.muststaple import shows_must_staple
    return shows_must_staple(leaf)
