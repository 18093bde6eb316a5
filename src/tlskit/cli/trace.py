"""What the CLI shows, collected in one place: tracer callbacks, key-log lines and the bytes
on the wire, turned into a structured, JSON-able list of steps with timings.

Every output of `tlskit demo` and `tlskit connect` (the rich text, ``--json`` and the SVG
diagram) is rendered from these objects, so the three never disagree.

    recorder = Recorder("client")            # one per side of one connection
    config = ClientConfig(tracer=recorder.tracer, keylog=recorder.keylog)
    ...
    recorder.steps                           # [Step, ...] in the order they happened
    [s.to_dict() for s in recorder.steps]    # JSON-able

`Wire` records every byte a connection writes and reads (for the "no secret on the wire"
check), fed by a `tlskit.io.tap` socket under the library's own `TLSSocket`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from ..enums import (
    CipherSuite,
    ContentType,
    ExtensionType,
    NamedGroup,
    ProtocolVersion,
    PskKeyExchangeMode,
    SignatureScheme,
)
from ..handshake.hello import ClientHelloView
from ..trace import STEPS, message_of
from ..wire import extensions as ext

__all__ = [
    "MESSAGES",
    "ExplainingVerifier",
    "Recorder",
    "Step",
    "Wire",
    "cert_info",
    "hexstr",
    "name_of",
    "quiet_library_logs",
    "report_checks",
    "split_records",
]

_E = ExtensionType

# tracer step -> (handshake message name, who sends it); None: a local event, not a message.
# Derived from the engine's vocabulary (tlskit.trace), which owns the step names.
MESSAGES: dict[str, tuple[str, str] | None] = {
    str(step): None if info.message is None or info.sender is None
    else (info.message, info.sender) for step, info in STEPS.items()}


# --------------------------------------------------------------------------- values


def hexstr(data: bytes | bytearray | memoryview | None) -> str | None:
    return None if data is None else bytes(data).hex()


def name_of(enum: type, code: int) -> str:
    return str(enum(code).name)


def _names(enum: type, codes: Iterable[int]) -> list[str]:
    return [name_of(enum, c) for c in codes]


# What reading a hostile certificate's names may raise: ValueError for bad DER, and
# (cryptography 48) KeyError for a string type it has no name for.
_NAME_ERRORS = (ValueError, KeyError)


def _name_str(cert: x509.Certificate, which: str) -> str:
    """The certificate's "subject" or "issuer" as text, whatever its bytes hold."""
    try:
        name: x509.Name = getattr(cert, which)
        return name.rfc4514_string() or "(empty)"
    except _NAME_ERRORS:
        return "(unparseable name)"


def _common_name(cert: x509.Certificate) -> str:
    try:
        cns = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    except _NAME_ERRORS:
        cns = []
    return str(cns[0].value) if cns else _name_str(cert, "subject")


def _key_description(cert: x509.Certificate) -> str:
    try:
        key = cert.public_key()
    except Exception:  # an unsupported algorithm is still a certificate worth showing
        return cert.public_key_algorithm_oid.dotted_string
    return public_key_description(key)


def public_key_description(key: Any) -> str:
    """A public key's type in a few words (``EC secp256r1``, ``RSA 2048 bits``,
    ``Ed25519``): certificates in traces, raw public keys in summaries."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size} bits"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448"
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA {key.key_size} bits"
    return type(key).__name__


def _sans(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError, TypeError):  # (TypeError: cryptography's
        return []  # refusal of an empty TLS Feature, RFC 7633, on any extension read)
    out: list[str] = [str(n) for n in san.get_values_for_type(x509.DNSName)]
    out += [str(n) for n in san.get_values_for_type(x509.IPAddress)]
    return out


def _when(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def cert_info(cert: x509.Certificate) -> dict[str, Any]:
    """The fields of a certificate people look at, as JSON-able values."""
    try:
        sig = cert.signature_algorithm_oid._name
    except Exception:
        sig = "unknown"
    return {
        "subject": _name_str(cert, "subject"),
        "issuer": _name_str(cert, "issuer"),
        "common_name": _common_name(cert),
        "serial": f"0x{cert.serial_number:x}",
        "not_before": _when(cert.not_valid_before_utc),
        "not_after": _when(cert.not_valid_after_utc),
        "names": _sans(cert),
        "public_key": _key_description(cert),
        "signature_algorithm": sig,
        "sha256": cert.fingerprint(hashes.SHA256()).hex(),
        "must_staple": _must_staple(cert),
    }



def _must_staple(cert: x509.Certificate) -> bool:
    """RFC 7633 TLS Feature status_request: its server must staple an OCSP response."""
    from ..x509.muststaple import shows_must_staple
    return shows_must_staple(cert)


def _jsonable(value: Any) -> Any:
    """Best-effort conversion of a tracer value to JSON (bytes as hex)."""
    if value is None or isinstance(value, bool | int | float | str):
        if isinstance(value, int) and not isinstance(value, bool) and type(value) is not int:
            return getattr(value, "name", int(value))  # an IntEnum: its name reads better
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, x509.Certificate):
        return cert_info(value)
    if isinstance(value, dt.datetime):
        return _when(value)
    if isinstance(value, BaseException):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return repr(value)


# --------------------------------------------------------------------------- steps


@dataclass
class Step:
    """One tracer callback: which step, on which side, when, and what it carried.

    ``fields`` are JSON-able summaries; ``secrets`` (hex) are kept apart so an output can
    leave them out; ``values`` are the original Python objects, for in-process checks."""

    step: str
    side: str                       # whose tracer saw it: "client" or "server"
    t_ms: float                     # milliseconds since the recorder's start
    message: str | None             # handshake message name, None for a local event
    sender: str | None              # "client" / "server" for a message
    fields: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self, include_secrets: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "step": self.step,
            "side": self.side,
            "t_ms": self.t_ms,
            "message": self.message,
            "sender": self.sender,
            "fields": self.fields,
        }
        if include_secrets and self.secrets:
            out["secrets"] = self.secrets
        return out

    @property
    def size(self) -> int | None:
        raw = self.values.get("raw")
        if raw is not None:
            return len(raw)
        msg = self.values.get("message")
        try:
            return len(msg.encode()) if msg is not None else None
        except Exception:
            return None


def _ext_names(exts: Any) -> list[str]:
    return _names(ExtensionType, list(exts)) if exts is not None else []


def _client_hello_fields(msg: Any) -> dict[str, Any]:
    exts = msg.extensions
    out: dict[str, Any] = {
        "legacy_version": f"0x{msg.legacy_version:04x}",
        "random": msg.random.hex(),
        "session_id": msg.session_id.hex(),
        "cipher_suites": _names(CipherSuite, msg.cipher_suites),
        "extensions": _ext_names(exts),
    }
    view = ClientHelloView(msg)  # the engine's own decode-once view of the offer
    shown: list[tuple[str, Callable[[], Any]]] = [
        ("server_name", lambda: view.server_name),
        ("supported_versions",
         lambda: None if view.versions is None
         else [ProtocolVersion(v).label for v in view.versions]),
        ("groups", lambda: None if view.groups is None else _names(NamedGroup, view.groups)),
        ("key_shares", lambda: None if view.shares is None
         else {name_of(NamedGroup, g): k.hex() for g, k in view.shares}),
        ("signature_schemes",
         lambda: None if view.schemes is None else _names(SignatureScheme, view.schemes)),
        ("alpn", lambda: view.alpn),
        ("record_size_limit", lambda: view.record_size_limit),
        ("max_fragment_length", lambda: view.max_fragment_length),
        ("psk_key_exchange_modes", lambda: None if view.psk_modes is None
         else _names(PskKeyExchangeMode, view.psk_modes)),
    ]
    for key, read in shown:
        try:
            value = read()
        except Exception as exc:  # show what arrived, even if it does not parse
            value = f"(undecodable: {exc})"
        if value is not None:
            out[key] = value
    if _E.status_request in exts:
        out["ocsp_stapling"] = True
    out.update(_cert_types(exts, ext.decode_cert_types))
    return out


def _cert_types(exts: Any, decode: Callable[[bytes, str], Any]) -> dict[str, Any]:
    """RFC 7250's server/client_certificate_type: the types a ClientHello offers (a list)
    or the one a server chose, by name (X509, RawPublicKey)."""
    out: dict[str, Any] = {}
    for code, key in ((_E.server_certificate_type, "server_certificate_type"),
                      (_E.client_certificate_type, "client_certificate_type")):
        body = exts.get(code)
        if body is None:
            continue
        try:
            found = decode(bytes(body), key)
        except Exception as exc:  # show what arrived, even if it does not parse
            out[key] = f"(undecodable: {exc})"
            continue
        names = [ext.CERT_TYPE_NAMES.get(t, str(t))
                 for t in (found if isinstance(found, list) else [found])]
        out[key] = names if isinstance(found, list) else names[0]
    return out


def _server_hello_fields(msg: Any) -> dict[str, Any]:
    return {
        "random": msg.random.hex(),
        "session_id": msg.session_id.hex(),
        "cipher_suite": name_of(CipherSuite, msg.cipher_suite),
        "extensions": _ext_names(msg.extensions),
        **_cert_types(msg.extensions, ext.decode_cert_type),  # TLS 1.2's answer is here
    }


def _summarize(step: str, values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(fields, secrets) for one tracer step; every value a JSON type."""
    fields: dict[str, Any] = {}
    secrets: dict[str, str] = {}
    msg = values.get("message")
    for key, value in values.items():
        if key in ("message", "raw"):
            continue
        if "secret" in key and isinstance(value, bytes | bytearray):
            secrets[key] = bytes(value).hex()
            continue
        fields[key] = _jsonable(value)
    if step == "client_hello" and msg is not None:
        fields = {**_client_hello_fields(msg), **fields}
        if "shares" in fields:  # the client's own view: the public values it generated
            fields["key_shares"] = fields.pop("shares")
    elif step in ("server_hello", "hello_retry_request") and msg is not None:
        fields = {**_server_hello_fields(msg), **fields}
    elif step == "encrypted_extensions" and msg is not None:
        fields["extensions"] = _ext_names(msg.extensions)
        fields.update(_cert_types(msg.extensions, ext.decode_cert_type))
    elif step == "certificate_request" and msg is not None:
        if hasattr(msg, "schemes"):  # TLS 1.2: the schemes are a field of the message
            fields["signature_schemes"] = _names(SignatureScheme, msg.schemes)
        else:
            fields["extensions"] = _ext_names(msg.extensions)
            body = msg.extensions.get(_E.signature_algorithms)
            if body is not None:
                with contextlib.suppress(Exception):
                    fields["signature_schemes"] = _names(SignatureScheme, ext.decode_u16_list(
                        bytes(body), "signature_algorithms"))
    elif step == "server_key_exchange" and msg is not None:
        fields.setdefault("group", name_of(NamedGroup, msg.group))
        fields.setdefault("scheme", name_of(SignatureScheme, msg.scheme))
        fields["server_share"] = msg.public.hex()
        fields["signature_length"] = len(msg.signature)
    elif step == "certificate_status" and msg is not None:
        fields["ocsp_response"] = f"{len(msg.response)} bytes"
    elif step == "certificate_verify" and msg is not None:
        fields.setdefault("scheme", name_of(SignatureScheme, msg.algorithm))
        fields["signature_length"] = len(msg.signature)
        fields["signature"] = msg.signature.hex()
    elif step in ("server_finished", "client_finished") and msg is not None:
        fields["verify_data"] = msg.verify_data.hex()
    elif step == "new_session_ticket" and msg is not None:
        fields.update(lifetime=msg.lifetime, ticket_length=len(msg.ticket))
    elif step == "certificate_rejected":
        error = values.get("error")
        reason = getattr(error, "reason", None)
        fields["reason"] = str(reason) if reason is not None else None
        fields["alert"] = getattr(getattr(error, "alert", None), "name", None)
    raw_key = values.get("raw_public_key")
    if isinstance(raw_key, bytes):  # RFC 7250: named as pins are, by SPKI digest
        fields["raw_public_key"] = "SHA-256 " + hashlib.sha256(raw_key).hexdigest()
    if step == "certificate" and "ocsp_response" in values:
        staple = values["ocsp_response"]
        fields["ocsp_response"] = None if staple is None else f"{len(staple)} bytes"
    return fields, secrets


class Recorder:
    """Tracer and key-log sink for one side of one connection.

    ``t0`` is shared between the two sides of a loopback run so their timings line up.
    ``keys`` keeps what the key log reported (label -> secret, NSS key-log labels): the
    demo compares both sides' traffic secrets, and the TLS 1.2 steps their master
    secrets, by these labels, whichever step each was traced in."""

    def __init__(self, side: str, t0: float | None = None,
                 keylog: Callable[[str, bytes, bytes], None] | None = None,
                 on_step: Callable[[Step], None] | None = None) -> None:
        self.side = side
        self.t0 = time.perf_counter() if t0 is None else t0
        self.steps: list[Step] = []
        self.keys: dict[str, bytes] = {}
        self.client_random = b""
        self._forward = keylog
        self._on_step = on_step
        self._lock = threading.Lock()

    def now_ms(self) -> float:
        return round((time.perf_counter() - self.t0) * 1000, 3)

    def tracer(self, step: str, values: dict[str, Any]) -> None:
        message, sender = message_of(step, self.side)
        step = str(step)  # a TraceStep is a str; keep the plain value in JSON and records
        try:
            fields, secrets = _summarize(step, values)
        except Exception as exc:  # a display problem must never break a handshake
            fields, secrets = {"summary_error": repr(exc)}, {}
        entry = Step(step, self.side, self.now_ms(), message, sender, fields, secrets,
                     dict(values))
        with self._lock:
            self.steps.append(entry)
        if self._on_step is not None:
            self._on_step(entry)

    def keylog(self, label: str, client_random: bytes, secret: bytes) -> None:
        self.keys[label] = secret
        self.client_random = client_random
        if self._forward is not None:
            self._forward(label, client_random, secret)

    def find(self, step: str) -> Step | None:
        return next((s for s in self.steps if s.step == step), None)

    def value(self, step: str, key: str) -> Any:
        found = self.find(step)
        return None if found is None else found.values.get(key)

    def to_list(self, include_secrets: bool = True) -> list[dict[str, Any]]:
        return [s.to_dict(include_secrets) for s in self.steps]


# --------------------------------------------------------------------------- wire


@dataclass
class Chunk:
    t_ms: float
    direction: str   # "client->server" or "server->client"
    data: bytes


class Wire:
    """Every byte that crossed the socket, in both directions, with timings."""

    def __init__(self, t0: float | None = None) -> None:
        self.t0 = time.perf_counter() if t0 is None else t0
        self.chunks: list[Chunk] = []
        self._lock = threading.Lock()

    def record(self, direction: str, data: bytes) -> None:
        if data:
            t = round((time.perf_counter() - self.t0) * 1000, 3)
            with self._lock:
                self.chunks.append(Chunk(t, direction, bytes(data)))

    def stream(self, direction: str) -> bytes:
        return b"".join(c.data for c in self.chunks if c.direction == direction)

    def contains(self, needle: bytes) -> bool:
        """Whether ``needle`` appears anywhere in either direction's byte stream."""
        if not needle:
            return False
        return any(needle in self.stream(d) for d in ("client->server", "server->client"))

    def total(self, direction: str) -> int:
        return sum(len(c.data) for c in self.chunks if c.direction == direction)

    def tap(self, side: str) -> Callable[[bool, bytes], None]:
        """A `tlskit.io.tap` callback recording the bytes a ``side`` ("client" or
        "server") socket sends and receives."""
        sent, received = ("client->server", "server->client") if side == "client" \
            else ("server->client", "client->server")

        def tap(outgoing: bool, data: bytes) -> None:
            self.record(sent if outgoing else received, data)
        return tap

    def mark(self) -> int:
        """A position in the recording, for `sent_since`."""
        with self._lock:
            return len(self.chunks)

    def sent_since(self, mark: int, direction: str) -> bytes:
        """The bytes that went ``direction`` after `mark` (e.g. the record one send made)."""
        with self._lock:
            return b"".join(c.data for c in self.chunks[mark:] if c.direction == direction)


def split_records(data: bytes) -> list[dict[str, Any]]:
    """The TLS records in a byte stream: content type, length and the bytes themselves."""
    out: list[dict[str, Any]] = []
    pos = 0
    while pos + 5 <= len(data):
        ctype = data[pos]
        length = int.from_bytes(data[pos + 3:pos + 5], "big")
        record = data[pos:pos + 5 + length]
        out.append({"content_type": name_of(ContentType, ctype), "length": length,
                    "bytes": record})
        pos += 5 + length
    return out


# --------------------------------------------------------------------------- verification


class ExplainingVerifier:
    """A `CertificateVerifier` that asks the wrapped verifier to ``explain`` (when it can),
    keeps the report, and decides exactly as ``verify`` would. The checks the CLI shows are
    thus the very ones that decided this handshake, not a second opinion."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.reports: list[Any] = []

    def verify(self, leaf: x509.Certificate, intermediates: list[x509.Certificate],
               server_name: str | None = None, at: dt.datetime | None = None,
               usage: Any = "server", ocsp_response: bytes | None = None,
               ) -> list[x509.Certificate]:
        explain = getattr(self.inner, "explain", None)
        if explain is None:
            return list(self.inner.verify(leaf, intermediates, server_name=server_name, at=at,
                                          usage=usage, ocsp_response=ocsp_response))
        report = explain(leaf, intermediates, server_name=server_name, at=at, usage=usage,
                         ocsp_response=ocsp_response)
        self.reports.append(report)
        if report.error is not None:
            raise report.error
        return list(report.chain)

    @property
    def report(self) -> Any:
        return self.reports[-1] if self.reports else None


def report_checks(report: Any) -> list[dict[str, Any]]:
    """Every check of a `tlskit.x509.Report` as JSON-able dicts."""
    if report is None:
        return []
    out = []
    for check in report.checks:
        out.append({"certificate": _common_name(check.certificate), "name": check.check,
                    "ok": bool(check.ok), "detail": check.detail})
    return out


def quiet_library_logs() -> None:
    """Keep library log records (e.g. "revocation not checked") off the terminal: the CLI
    reports those outcomes itself. Without any handler, Python's last-resort handler would
    print warnings to stderr and break the one-line error contract."""
    import logging
    logger = logging.getLogger("tlskit")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    logger.propagate = False
