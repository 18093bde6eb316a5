"""What the handshakes share: the state-machine engine (declared transition tables,
message reassembly, dispatch), the transcript, the narrow `Output` to the connection,
sending, key installation, key logging and tracing; then `Handshake13`, what the two
TLS 1.3 sides share.

Each side declares a `State` enum and one table ``{state: {message type: Rule}}``: the
messages a state accepts, the method that handles each and the states it may lead to.
Handlers return the next state; the dispatcher checks it against the table, so what is
accepted, what the error message names and what actually happened cannot drift apart.

The transcript hash is updated in `Handshake._received` for what arrives and
`Handshake.send` for what leaves, always over the raw message bytes; the client adds the
ServerHello itself (a HelloRetryRequest rewrites the transcript first).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import math
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, NamedTuple, Protocol, TypeVar, cast

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from .. import crypto
from ..crypto import Suite
from ..enums import (
    AlertDescription,
    CertificateType,
    ExtensionType,
    HandshakeType,
    KeyUpdateRequest,
    NamedGroup,
    SignatureScheme,
    group_of,
    scheme_of,
    suite_of,
)
from ..enums import ProtocolVersion as PV
from ..errors import (
    BadCertificate,
    DecodeError,
    DecryptError,
    HandshakeFailure,
    IllegalParameter,
    InternalError,
    TLSError,
    UnexpectedMessage,
    UnsupportedCertificate,
    UnsupportedExtension,
)
from ..events import Event, HandshakeComplete, KeyUpdated
from ..keyschedule import EarlySecret, finished_verify_data
from ..session import TicketState
from ..trace import TraceStep as T
from ..wire import extensions as ext
from ..wire import messages as m
from ..x509.der import DERError, PssParams, spki_algorithm_oid, spki_pss_params, split_certificate
from ..x509.parsed import describe_parse_error, load_der

# RFC 8446 4.4.3: the CertificateVerify signature covers 64 spaces, a context string,
# a zero byte and the transcript hash.
_CV_PAD = b"\x20" * 64
CV_SERVER = _CV_PAD + b"TLS 1.3, server CertificateVerify\x00"
CV_CLIENT = _CV_PAD + b"TLS 1.3, client CertificateVerify\x00"
# RFC 8446 4.1.3: the last 8 bytes of ServerHello.random when a TLS 1.3 server negotiates less.
DOWNGRADE_TLS12 = b"DOWNGRD\x01"
DOWNGRADE_TLS11 = b"DOWNGRD\x00"

_M = TypeVar("_M", bound=enum.Enum)

# RFC 8446 4.2: which extensions may appear in which message (what we recognise).
_E = ExtensionType
_CLIENT_HELLO = HandshakeType.client_hello
_TLS13 = PV.TLSv1_3  # (a module global: Enum class attributes are slow reads, see `members`)
ALLOWED_IN_EE = frozenset({
    _E.server_name, _E.max_fragment_length, _E.supported_groups, _E.use_srtp, _E.heartbeat,
    _E.application_layer_protocol_negotiation, _E.record_size_limit, _E.early_data,
    _E.client_certificate_type, _E.server_certificate_type,  # RFC 7250 4.2
    _E.encrypted_client_hello,  # RFC 9849 5: retry_configs, when ECH was rejected
})
ALLOWED_IN_SH = frozenset({_E.key_share, _E.supported_versions, _E.pre_shared_key})
ALLOWED_IN_HRR = frozenset({_E.key_share, _E.supported_versions, _E.cookie,
                            _E.encrypted_client_hello})  # (RFC 9849 7.2.1's confirmation)
ALLOWED_IN_CERT_ENTRY = frozenset({_E.status_request, _E.signed_certificate_timestamp})
ALLOWED_IN_CR = frozenset({  # (and RFC 8879 3's compress_certificate)
    _E.status_request, _E.signature_algorithms, _E.signed_certificate_timestamp,
    _E.certificate_authorities, _E.oid_filters, _E.signature_algorithms_cert,
    _E.compress_certificate,
})
ALLOWED_IN_NST = frozenset({_E.early_data})
RECOGNISED = frozenset(int(e) for e in ExtensionType)
_OID_BLIND_KINDS = frozenset({"ecdsa", "eddsa"})  # signature kinds that never read a key OID
_SNAPSHOT_BEFORE = frozenset({HandshakeType.certificate_verify, HandshakeType.finished})
# ServerHello is added by the client itself: a HelloRetryRequest rewrites the transcript.
_NOT_IN_TRANSCRIPT = frozenset({HandshakeType.new_session_ticket, HandshakeType.key_update,
                                HandshakeType.server_hello})


def members(enum_cls: type[_M]) -> type[_M]:
    """An enum's members as the attributes of a plain class (``_E.key_share`` is the
    same member): on Python 3.11 every attribute read on an Enum class goes through
    `EnumType.__getattr__`'s hook, about four times slower, and the handshakes name a
    few dozen extension types per connection. Only attributes: no call, no iteration."""
    return cast(type[_M], type(f"{enum_cls.__name__}Members", (), dict(enum_cls.__members__)))


def parse_chain(blobs: list[bytes], whose: str) -> list[x509.Certificate]:
    """DER certificates from a Certificate message; anything unparseable is bad_certificate
    (cryptography raises more than ValueError for odd encodings, e.g. InvalidVersion).
    Parsed through `tlskit.x509.parsed`: a chain seen before comes back as the same
    objects (public keys loaded once); every handshake still validates it."""
    chain = []
    for i, der in enumerate(blobs):
        try:
            chain.append(load_der(der))
        except Exception as exc:  # any parse failure means a bad certificate
            raise BadCertificate(f"{whose} certificate {i} does not parse: "
                                 f"{describe_parse_error(exc)}") from exc
    return chain


def public_key_of(cert: x509.Certificate | RawKeyLeaf) -> Any:
    """The certificate's key; a key type cryptography cannot use is unsupported_certificate."""
    try:
        return cert.public_key()
    except Exception as exc:  # UnsupportedAlgorithm, ValueError, ...
        raise UnsupportedCertificate(f"certificate key cannot be used: {exc}") from exc


def _new_hash(hash_name: str) -> Any:
    """A fresh hash object through hashlib's named constructor (`hashlib.sha256` is
    OpenSSL's, called directly), not `hashlib.new`'s Python wrapper."""
    return getattr(hashlib, hash_name)()


class Transcript:
    """Running hash of the handshake; buffers messages until the hash is known.

    Once the hash exists, `update` and `digest` are the hash object's own methods, bound
    on the instance (no Python frame around the ~14 updates and ~12 digests of a pair);
    `_bind` is the one place that happens, whenever the hash object changes."""

    def __init__(self) -> None:
        self._pending: list[bytes] = []
        self._hash: Any = None

    def _bind(self, hash_obj: Any) -> None:
        self._hash = hash_obj
        self.update = hash_obj.update  # type: ignore[method-assign]
        self.digest = hash_obj.digest  # type: ignore[method-assign]

    def start(self, hash_name: str) -> None:
        self._bind(getattr(hashlib, hash_name)())  # (`_new_hash`, written out)
        for raw in self._pending:
            self._hash.update(raw)
        self._pending = []

    def restart_after_hrr(self, hash_name: str) -> None:
        """4.4.1: ClientHello1 is replaced by message_hash(Hash(ClientHello1))."""
        first = hashlib.new(hash_name, b"".join(self._pending)).digest() \
            if self._hash is None else self._hash.digest()
        self._bind(_new_hash(hash_name))
        self._pending = []
        self._hash.update(m.frame(HandshakeType.message_hash, first))

    def update(self, raw: bytes) -> None:
        """Add a message (buffered until `start`; then the hash's own update)."""
        self._pending.append(raw)

    def digest(self) -> bytes:
        """The hash so far (only once started; then the hash's own digest)."""
        if self._hash is None:
            raise AttributeError("the transcript hash has not been started")
        return self._hash.digest()  # type: ignore[no-any-return]

    def hash_with(self, hash_name: str, extra: bytes) -> bytes:
        """Hash of the transcript so far plus `extra`, whether or not hashing has begun
        (PSK binders are computed before the cipher suite is agreed)."""
        if self._hash is None:
            return hashlib.new(hash_name, b"".join(self._pending) + extra).digest()
        return self.digest_with(extra)

    def digest_with(self, extra: bytes) -> bytes:
        h = self._hash.copy()
        h.update(extra)
        return h.digest()  # type: ignore[no-any-return]

    def copy(self) -> Transcript:
        twin = Transcript.__new__(Transcript)
        twin._pending = list(self._pending)
        twin._hash = None
        if self._hash is not None:
            twin._bind(self._hash.copy())
        return twin


# -- the interface to the connection ---------------------------------------------------

class Output(Protocol):
    """Everything a handshake may do to the world outside it (DESIGN: states produce
    actions, the connection applies them). Implemented by the connection over its record
    layer and event list; a handshake touches nothing else."""

    def send_handshake(self, data: bytes) -> None:
        """Queue handshake messages under the current write protection."""

    def send_change_cipher_spec(self) -> None:
        """Queue a plaintext change_cipher_spec record (0x01)."""

    def send_warning(self, description: AlertDescription) -> None:
        """Queue a warning alert (TLS 1.2 no_renegotiation)."""

    def install_read(self, suite: Suite, secret: bytes) -> None:
        """TLS 1.3: protect what we read with keys from this traffic secret."""

    def install_write(self, suite: Suite, secret: bytes) -> None:
        """TLS 1.3: protect what we write with keys from this traffic secret."""

    def next_read_generation(self) -> None:
        """TLS 1.3 KeyUpdate (4.6.3): read with the next traffic secret."""

    def next_write_generation(self) -> None:
        """TLS 1.3 KeyUpdate (4.6.3): write with the next traffic secret."""

    def clear_write(self) -> None:
        """TLS 1.3 client: write in the clear again (the ClientHello after a
        HelloRetryRequest, when 0-RTT keys were installed for the first)."""

    def send_application_data(self, data: bytes) -> None:
        """Queue application data under the current write key (0-RTT early data, or
        rejected early data sent again once the handshake is complete)."""

    def install_read12(self, suite: Suite, key: bytes, iv: bytes) -> None:
        """TLS 1.2: the key-block keys for what we read."""

    def install_write12(self, suite: Suite, key: bytes, iv: bytes) -> None:
        """TLS 1.2: the key-block keys for what we write."""

    def written_under_current_key(self) -> bool:
        """Whether any record went out under the current write key."""

    def set_record_limits(self, send: int | None = None, receive: int | None = None) -> None:
        """RFC 8449: plaintext bytes per record we may send / accept."""

    def skip_early_data(self, limit: int) -> None:
        """4.2.10: discard up to `limit` bytes of declined 0-RTT records (0: stop)."""

    def set_hello_record_version(self, version: int) -> None:
        """5.1: legacy_record_version of the records that follow (0x0301 for a first
        ClientHello)."""

    def expect_tls12(self) -> None:
        """TLS 1.2 is settled: every record read from now on must carry 0x0303."""

    def emit(self, event: Event) -> None:
        """Report an event to the application."""


# -- the state machine engine -------------------------------------------------------------

class HandshakeState(enum.Enum):
    """Base of the `State` enums: members hash by identity (their equality already is),
    which keeps the per-message table lookup in C."""

    __hash__ = object.__hash__


class Rule(NamedTuple):
    """One accepted message in a state: the handler and the states it may lead to."""

    handler: str
    next: frozenset[enum.Enum]


def rule(handler: str, *next_states: enum.Enum) -> Rule:
    return Rule(handler, frozenset(next_states))


Table = Mapping[Any, Mapping[int, Rule]]


@dataclass(slots=True)
class PeerAuth:
    """What we learnt about the peer's identity."""

    chain: list[x509.Certificate] = field(default_factory=list)
    scheme: Any = None  # SignatureScheme of its CertificateVerify / ServerKeyExchange
    ocsp_response: bytes | None = None
    scts: tuple[bytes, ...] = ()  # RFC 6962 3.3: the serialized SCTs the server sent
    verification_error: TLSError | None = None
    authenticated: bool = False  # the chain (or the resumed session's) validated
    # RFC 7250: RawPublicKey was negotiated for the peer's certificate (its Certificate
    # carries one SubjectPublicKeyInfo), and the key it carried once checked.
    raw_expected: bool = False
    raw_key: RawKeyLeaf | None = None


RAW_PUBLIC_KEY = CertificateType.RawPublicKey  # RFC 7250 3 (module globals: see `members`)
X509 = CertificateType.X509
_RSASSA_PSS_OID = x509.ObjectIdentifier("1.2.840.113549.1.1.10")
_RSA_OID = x509.ObjectIdentifier("1.2.840.113549.1.1.1")
_EC_OID = x509.ObjectIdentifier("1.2.840.10045.2.1")
_OTHER_OID = x509.ObjectIdentifier("1.3.101.112")  # Ed25519; (only RSA keys' OID is read)
_PSS_OID_CONTENT = b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0a"  # 1.2.840.113549.1.1.10


@dataclass(frozen=True, slots=True)
class RawKeyLeaf:
    """A peer's raw public key (RFC 7250) where a signature check reads a leaf
    certificate: the key and its algorithm OID (RSA schemes depend on it, 4.2.3)."""

    spki: bytes
    key: Any
    public_key_algorithm_oid: x509.ObjectIdentifier
    pss: PssParams | None = None  # an RSASSA-PSS key's RFC 4055 parameters, if any

    def public_key(self) -> Any:
        return self.key


def check_pss_key(leaf: Any, scheme: int, whose: str) -> None:
    """RFC 8446 4.2.3 with RFC 4055 3.1: a signature by an RSASSA-PSS key (a raw key or
    a certificate's, whose SPKI OID said so) with an rsa_pss_pss_* scheme its parameters
    do not allow (another hash, a shorter salt) is illegal_parameter, as a scheme of the
    wrong key type is. Only such keys come here (one OID comparison in the caller);
    the parameters come from the one reader `x509.der.spki_pss_params`. (Another kind
    of scheme is refused by `crypto.verify`: not made by such a key at all.)"""
    if crypto.SCHEMES[scheme].kind != "rsa_pss_pss":
        return
    if isinstance(leaf, RawKeyLeaf):
        params, name = leaf.pss, (f"raw public key (SHA-256 of its SPKI "
                                  f"{hashlib.sha256(leaf.spki).hexdigest()})")
    else:
        name = f"certificate {leaf.subject.rfc4514_string()!r}"
        try:
            params = spki_pss_params(split_certificate(leaf.public_bytes(Encoding.DER)).spki)
        except DERError as exc:
            raise BadCertificate(f"the {whose}'s {name} has an RSASSA-PSS key whose "
                                 f"parameters do not parse ({exc}; RFC 4055 3.1)") from exc
    problem = None if params is None else crypto.pss_problem(params, scheme)
    if problem is not None:
        raise IllegalParameter(
            f"the {whose} signed with {crypto.SCHEMES[scheme].code.name}, which the "
            f"RSASSA-PSS parameters of its {name} do not allow: {problem} (RFC 8446 "
            "4.2.3, RFC 4055 3.1)")


def read_raw_key(blobs: Sequence[bytes], pins: AbstractSet[bytes], whose: str,
                 pin_field: str) -> RawKeyLeaf:
    """RFC 8446 4.4.2 / RFC 7250 3: a RawPublicKey Certificate holds exactly one entry,
    a DER SubjectPublicKeyInfo; it must be byte for byte one of our pins. Anything else
    is bad_certificate (as for a certificate that does not parse or is not trusted).
    The pins are compared first: only a pinned key (one the config parsed already) is
    parsed, never whatever a peer sends (no work, no library warning, on its behalf)."""
    from cryptography.hazmat.primitives.serialization import load_der_public_key
    if len(blobs) != 1:
        raise BadCertificate(f"the {whose} sent {len(blobs)} entries in a RawPublicKey "
                             "Certificate, which holds exactly one (RFC 8446 4.4.2)")
    spki = bytes(blobs[0])
    if spki not in pins:
        fp = hashlib.sha256(spki).hexdigest()
        raise BadCertificate(f"the {whose}'s raw public key (SHA-256 of its SPKI {fp}) is "
                             f"not one of {pin_field}: add it there if you trust this "
                             "key, or check that you reached the right peer")
    try:
        key = load_der_public_key(spki)
    except Exception as exc:  # (the config loaded it: only a library change gets here)
        raise BadCertificate(f"the {whose}'s raw public key is not a usable "
                             f"SubjectPublicKeyInfo: {describe_parse_error(exc)}") from exc
    oid = _key_oid(key, spki)
    if oid is not _RSASSA_PSS_OID:
        return RawKeyLeaf(spki, key, oid)
    return RawKeyLeaf(spki, key, oid, spki_pss_params(spki))  # (the config read it: parses)


def _key_oid(key: Any, spki: bytes) -> x509.ObjectIdentifier:
    """The SPKI's algorithm OID, as far as signature checks read it: RSA keys are
    rsaEncryption or RSASSA-PSS (4.2.3 ties rsa_pss_pss_* to the latter)."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    if isinstance(key, rsa.RSAPublicKey):
        return _RSASSA_PSS_OID if spki_algorithm_oid(spki) == _PSS_OID_CONTENT else _RSA_OID
    return _EC_OID if isinstance(key, ec.EllipticCurvePublicKey) else _OTHER_OID


def choose_cert_type(offered: Sequence[int], have: Sequence[int]) -> int | None:
    """RFC 7250 4.2: the client's most preferred type that we have; None: no overlap."""
    for t in offered:
        if t in have:
            return t
    return None


@dataclass(slots=True)
class CertTypes:
    """What a server answers to the client's RFC 7250 lists (one full handshake)."""

    answer: dict[int, bytes] = field(default_factory=dict)  # extension -> body
    server_raw: tuple[Any, Any] | None = None  # (RawPublicKey, scheme) when it is served
    client_raw: bool = False  # the client's Certificate will be a raw public key


def negotiate_cert_types(cfg: Any, offer: Any, schemes: Sequence[int] | None,
                         version: str, fits: Callable[[Any], bool]) -> CertTypes:
    """RFC 7250 4.2, server side: the client's most preferred type we have for each
    list. No overlap for our own certificate is unsupported_certificate; for the
    client's, too when client_auth is "required" (with "optional" the extension is
    left out: the client sends an X.509 certificate or none). Only called when the
    client sent one of the extensions; every list sent is decoded (decode_error).
    ``fits(key)``: whether a key (the raw key, a configured certificate) can serve this
    client (a signature scheme it accepts; in TLS 1.2 a suite and curve too). A server
    with both kinds serves the client's preferred kind among those that fit (as a
    server with two certificates serves the one the client can verify); a resolver's
    certificates count as fitting (it is asked only once X.509 is chosen)."""
    exts = offer.extensions
    out = CertTypes()
    body = exts.get(_E.server_certificate_type)
    if body is not None:
        offered = ext.decode_cert_types(body, "server_certificate_type")
        rpk = cfg.raw_public_key
        have = ([RAW_PUBLIC_KEY] if rpk is not None else []) + (
            [X509] if cfg._certs or cfg.certificate_resolver is not None else [])
        chosen = choose_cert_type(offered, have)
        if chosen is None:
            raise UnsupportedCertificate(
                f"the client accepts server certificate types {cert_type_names(offered)}; "
                f"this server has {cert_type_names(have)} (RFC 7250 4.2)")
        if len(have) == 2:  # both kinds: only one that can serve this client
            usable = ([RAW_PUBLIC_KEY] if fits(rpk) else []) + (
                [X509] if cfg.certificate_resolver is not None or any(map(fits, cfg._certs))
                else [])
            better = choose_cert_type(offered, usable)
            if better is not None:  # (else the chosen kind's error below says why)
                chosen = better
        out.answer[_E.server_certificate_type] = ext.encode_cert_type(chosen)
        if chosen == RAW_PUBLIC_KEY:
            out.server_raw = _raw_key_scheme(cfg, rpk, schemes, version)
    body = exts.get(_E.client_certificate_type)
    if body is not None:
        offered = ext.decode_cert_types(body, "client_certificate_type")
        if cfg.client_auth != "none":
            have = ([RAW_PUBLIC_KEY] if cfg._client_pins else []) + (
                [X509] if cfg.get_client_verifier() is not None else [])
            chosen = choose_cert_type(offered, have)
            if chosen is not None:
                out.answer[_E.client_certificate_type] = ext.encode_cert_type(chosen)
                out.client_raw = chosen == RAW_PUBLIC_KEY
            elif cfg.client_auth == "required":
                raise UnsupportedCertificate(
                    f"the client can present {cert_type_names(offered)}; this server "
                    f"accepts {cert_type_names(have)} (RFC 7250 4.2)")
    return out


def _raw_key_scheme(cfg: Any, rpk: Any, schemes: Sequence[int] | None,
                    version: str) -> tuple[Any, Any]:
    """Our first scheme for the raw key that the client accepts (as for a chain)."""
    if schemes is None:
        from ..errors import MissingExtension
        raise MissingExtension("ClientHello lacks signature_algorithms, which a "
                               "handshake without its PSK needs (4.2.3)")
    mine = rpk.schemes if version == "TLSv1.3" else rpk.schemes12
    ours = cfg._schemes
    for scheme in mine:
        if scheme in schemes and scheme in ours:
            return rpk, scheme_of(scheme)
    raise HandshakeFailure(no_common_scheme(version, schemes,
                                            [s for s in mine if s in ours]))


def resumed_end_point(cfg: Any, state: TicketState) -> bytes | None:
    """RFC 5929 4.1 on a resumed session: the server's tls-server-end-point its state
    recorded (b"": none). A state sealed by a tlskit from before it was recorded binds
    as that release did, to the config's certificate when it has exactly one (the
    client's, unless it rotated since), and the tickets sent on such a connection record
    that; with several, None: not known. A session an external PSK authenticated
    had no certificate."""
    end_point = state.server_end_point
    if end_point is not None:
        return end_point
    if state.external_identity is not None:
        return b""
    certs = cfg._certs
    return certs[0]._end_point if len(certs) == 1 and cfg.certificate_resolver is None \
        else None


def resumable_client_raw_key(cfg: Any, state: TicketState, auth: PeerAuth,
                             trace: Callable[..., None]) -> list[x509.Certificate] | None:
    """A ticket (1.3) or session (1.2) whose client presented a raw public key resumes
    under the same session context (which covers pinned_client_keys) while the key is
    still pinned; `auth.raw_key` is set then. None: a full handshake."""
    if not hmac.compare_digest(state.context, cfg._session_context):
        trace(T.PSK_DECLINED, reason="issued under another session context")
        return None
    try:
        auth.raw_key = read_raw_key(state.client_chain, cfg._client_pins, "client",
                                    "pinned_client_keys")
    except TLSError as exc:
        trace(T.PSK_DECLINED, reason=f"client raw public key no longer accepted: {exc}")
        return None
    return []


def resume_server_auth(auth: PeerAuth, session: Any, config: Any) -> None:
    """A resumed session authenticates the server as its full handshake did: the chain
    (re-validated by the client's `_may_resume` before it was offered) or the raw public
    key (offered only while still pinned), and the staple it came with."""
    if session.peer_raw_public_key is not None:
        auth.raw_key = read_raw_key([session.peer_raw_public_key], config._server_pins,
                                    "server", "pinned_server_keys")
    auth.chain = list(session.peer_certificates)
    auth.ocsp_response = session.ocsp_response
    auth.scts = session.signed_certificate_timestamps  # RFC 6962 3.3.1: the original ones
    auth.authenticated = True


def read_cert_type_answers(cfg: Any, exts: Mapping[int, bytes], auth: PeerAuth) -> bool:
    """RFC 7250 4.2, client side (TLS 1.3 EncryptedExtensions, TLS 1.2 ServerHello):
    sets `auth.raw_expected` from server_certificate_type; True when the server asks
    for our raw public key (client_certificate_type). A type we did not offer is
    illegal_parameter; no server_certificate_type means X.509, which a client that
    offered RawPublicKey alone cannot check (unsupported_certificate)."""
    body = exts.get(_E.server_certificate_type)
    offered = cfg._server_cert_types
    if offered is not None:
        chosen = X509 if body is None else ext.decode_cert_type(body, "server_certificate_type")
        if chosen not in offered:
            if body is None:
                raise UnsupportedCertificate(
                    "the server will send an X.509 certificate (no server_certificate_type "
                    "in its answer), but this client only accepts the raw public keys of "
                    "pinned_server_keys (give trust_anchors to accept certificates too)")
            raise IllegalParameter(
                f"server chose certificate type {cert_type_names([chosen])}, which was not "
                f"offered (we offered {cert_type_names(offered)}; RFC 7250 4.2)")
        auth.raw_expected = chosen == RAW_PUBLIC_KEY
    body = exts.get(_E.client_certificate_type)
    if body is None:
        return False
    assert cfg._client_cert_types is not None  # (else refused as not offered)
    chosen = ext.decode_cert_type(body, "client_certificate_type")
    if chosen not in cfg._client_cert_types:
        raise IllegalParameter(
            f"server asked for a client certificate of type {cert_type_names([chosen])}, "
            f"which was not offered (we offered {cert_type_names(cfg._client_cert_types)}; "
            "RFC 7250 4.2)")
    return chosen == RAW_PUBLIC_KEY


def cert_type_names(types: Sequence[int]) -> str:
    return ", ".join(ext.CERT_TYPE_NAMES.get(t, str(t)) for t in types) or "none"


class Handshake:
    """What every handshake is: a `State` moved through a declared `TABLE` by the
    messages that arrive, a transcript, a flight being built and an `Output`.

    Subclasses declare ``STATES`` (an enum whose values describe the states, one of them
    CONNECTED) and ``TABLE`` (every state, with the messages it accepts).
    """

    side: ClassVar[str] = "client"
    protocol: ClassVar[PV] = PV.TLSv1_3
    STATES: ClassVar[type[enum.Enum]]
    TABLE: ClassVar[Table] = {}
    CCS_NEXT: ClassVar[Mapping[Any, Any]] = {}  # TLS 1.2: states a CCS moves on
    CONNECTED: ClassVar[Any] = None
    not_in_transcript: ClassVar[frozenset[int]] = frozenset()
    # The message types `before_transcript` acts on (None: every type). A subclass that
    # overrides the hook names them here, so the others are spared the call (an instance
    # may narrow it: a TLS 1.2 side that keeps no messages hooks none).
    hooked_types: frozenset[int] | None = None
    # The body decoder of each message type, called by `_received` without going
    # through `decode_message` (which handles the types not listed).
    decoders: ClassVar[Mapping[int, Callable[[memoryview], Any]]] = {}

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if "STATES" in cls.__dict__:
            cls.CONNECTED = cls.STATES["CONNECTED"]

    def __init__(self, config: Any, out: Output, transcript: Transcript, state: Any) -> None:
        self.config = config
        self.out = out
        self.transcript = transcript
        self.state = state
        self.suite: Suite | None = None
        self.client_random = b""
        self.hash_before = b""
        self.successor: Handshake | None = None  # set when TLS 1.2 takes over
        self._buf = bytearray()
        # Whether `_buf` holds part of a message: an attribute `receive_record` keeps (the
        # connection asks for every record), not a property.
        self.partial_message = False
        self._unread = 0  # bytes of the record being handled after the current message
        self._flight: list[bytes] = []  # the messages sent since the last flush

    @property
    def version(self) -> str:
        """"TLSv1.3" or "TLSv1.2" (the public spelling)."""
        return "TLSv1.3" if self.protocol is _TLS13 else "TLSv1.2"

    @property
    def complete(self) -> bool:
        return bool(self.state is self.CONNECTED)

    @property
    def expect(self) -> frozenset[int]:
        """The handshake message types the current state accepts (from the table)."""
        return frozenset(self.TABLE[self.state])

    def describe_state(self) -> str:
        return (f"state {self.state.name} of the {self.version} {self.side} "
                f"({self.state.value})")

    # -- tracing and key logging -------------------------------------------------------

    def trace(self, step: T, **fields: Any) -> None:
        tracer = self.config.tracer
        if tracer is not None:
            tracer(step, fields)

    def keylog(self, label: str, secret: bytes) -> None:
        if self.config.keylog is not None:
            self.config.keylog(label, self.client_random, secret)

    # -- receiving ----------------------------------------------------------------------

    @property
    def reassembly_buffer(self) -> bytearray:
        """The bytes of an incomplete handshake message (read-only for others: a bulk
        path may skip its checks only while this is empty)."""
        return self._buf

    def receive_record(self, payload: bytes) -> None:
        """Reassemble handshake messages from one record's content and dispatch them.

        The messages of a record that starts on a message boundary (nearly every
        record) are cut from the record itself; `_unread` counts what follows the
        message being handled, which `require_message_boundary` sees as the
        reassembly buffer's bytes were seen."""
        buf = self._buf
        n = len(payload)
        if (not buf and type(payload) is bytes and n >= 4
                and (payload[1] << 16) | (payload[2] << 8) | payload[3] == n - 4
                and n - 4 <= self.config.max_handshake_message):
            # The usual record: one whole message and nothing else (nothing buffered, so
            # nothing unread around it and no partial message before or after).
            self._received(payload)
            return
        if buf or type(payload) is not bytes:
            buf += payload
            data = bytes(buf)
            buf.clear()
        else:
            data = payload
        limit = self.config.max_handshake_message
        n = len(data)
        pos = 0
        try:
            while n - pos >= 4:
                length = (data[pos + 1] << 16) | (data[pos + 2] << 8) | data[pos + 3]
                if length > limit:
                    raise DecodeError(
                        f"handshake message of {length} bytes exceeds the {limit}-byte limit")
                end = pos + 4 + length
                if end > n:
                    break
                self._unread = n - end
                self._received(data if end - pos == n else data[pos:end])
                pos = end
                if self.successor is not None:  # the rest belongs to the TLS 1.2 handshake
                    self._unread = 0
                    if pos < n:
                        self.successor.receive_record(data[pos:])
                    return
            if pos < n:
                buf += data[pos:] if pos else data
        finally:
            self._unread = 0
            self.partial_message = bool(buf)

    def _received(self, raw: bytes) -> None:
        msg_type = raw[0]
        found = self.TABLE[self.state].get(msg_type)
        if found is None:
            raise UnexpectedMessage(
                f"{HandshakeType(msg_type).name} is not expected in {self.describe_state()}")
        decode = self.decoders.get(msg_type)
        msg = self.decode_message(msg_type, memoryview(raw)[4:]) if decode is None \
            else decode(memoryview(raw)[4:])
        hooked = self.hooked_types
        if hooked is None or msg_type in hooked:
            self.before_transcript(msg_type, raw)
        if msg_type in _SNAPSHOT_BEFORE:
            # Signatures and MACs cover the transcript up to, not including, the message.
            self.hash_before = self.transcript.digest()
        if msg_type not in self.not_in_transcript:
            self.transcript.update(raw)
        # `step`, written out: one frame less per message.
        nxt = getattr(self, found.handler)(msg, raw)
        if nxt not in found.next:
            self._bad_transition(found, nxt)
        self.state = nxt

    def step(self, found: Rule, msg: Any, raw: bytes) -> None:
        """Run a handler and move to the state it returns, which the table must allow."""
        nxt = getattr(self, found.handler)(msg, raw)
        if nxt not in found.next:
            self._bad_transition(found, nxt)
        self.state = nxt

    def _bad_transition(self, found: Rule, nxt: Any) -> None:
        raise InternalError(f"{found.handler} moved from {self.state.name} to {nxt}, "
                            "which the transition table does not allow")

    def take_over(self, msg_type: int, msg: Any, raw: bytes) -> None:
        """Handle a message another handshake already received (the TLS 1.2 hand-over)."""
        self.step(self.TABLE[self.state][msg_type], msg, raw)

    def before_transcript(self, msg_type: int, raw: bytes) -> None:
        """Hook: an accepted message is about to join the transcript."""

    def decode_message(self, msg_type: int, body: memoryview) -> Any:
        """Decode a body of a type `decoders` does not list (TLS 1.2 overrides this)."""
        decode = self.decoders.get(msg_type)
        if decode is None:
            return m.decode_message(msg_type, body)
        return decode(body)

    def require_message_boundary(self) -> None:
        """5.1: a key change must not fall inside a handshake message."""
        if self._buf or self._unread:
            raise UnexpectedMessage("handshake data left over across a key change")

    def receive_ccs(self, payload: bytes) -> None:
        raise NotImplementedError

    def receive_early_data(self, payload: bytes) -> bool:
        """Application data before the handshake is complete: True if it was taken as
        accepted 0-RTT data (TLS 1.3 server), False if it is unexpected here."""
        return False

    # -- sending ------------------------------------------------------------------------

    def send(self, raw: bytes, *, transcript: bool = True) -> None:
        """Add one message to the current flight (flushed as few records as possible)."""
        if transcript:
            self.transcript.update(raw)
        self._flight.append(raw)

    def flush(self) -> None:
        """The flight to the record layer: a lone message as it is (no copy; the TLS 1.2
        server writes one record per message), several joined once."""
        pieces = self._flight
        if pieces:
            one = pieces[0]
            self.out.send_handshake(one if len(pieces) == 1 and type(one) is bytes
                                    else b"".join(pieces))
            self._flight = []

    def send_ccs(self) -> None:
        if self._flight:
            self.flush()
        self.out.send_change_cipher_spec()
        if self.config.tracer is not None:
            self.trace(T.CLIENT_CHANGE_CIPHER_SPEC if self.side == "client"
                       else T.SERVER_CHANGE_CIPHER_SPEC)

    def trace_peer_ccs(self) -> None:
        self.trace(T.SERVER_CHANGE_CIPHER_SPEC if self.side == "client"
                   else T.CLIENT_CHANGE_CIPHER_SPEC)

    # -- what both versions answer the connection ----------------------------------------

    def send_key_update(self, request: bool) -> None:
        raise NotImplementedError

    def export(self, label: bytes, context: bytes | None, length: int) -> bytes:
        raise NotImplementedError

    def tls_unique(self) -> bytes | None:
        """RFC 5929's tls-unique; None where it is not defined (TLS 1.3, RFC 9266)."""
        return None

    def complete_event(self, auth: PeerAuth, *, group: Any, scheme: Any, alpn: str | None,
                       resumed: bool, server_name: str | None,
                       early_data_accepted: bool = False,
                       ech_accepted: bool = False,
                       psk_identity: bytes | None = None) -> HandshakeComplete:
        """The one place a `HandshakeComplete` is built (both versions, both sides)."""
        assert self.suite is not None
        # (a negotiated group or scheme is usually its enum member already)
        if group is not None and type(group) is not NamedGroup:
            group = group_of(group)
        if scheme is not None and type(scheme) is not SignatureScheme:
            scheme = scheme_of(scheme)
        return HandshakeComplete(  # by position: ten keywords cost more than the rest
            "TLSv1.3" if self.protocol is _TLS13 else "TLSv1.2",  # version
            suite_of(self.suite.code),  # cipher_suite
            group,
            scheme,  # signature_scheme
            alpn,  # alpn_protocol
            list(auth.chain),  # peer_certificates
            resumed,
            server_name,
            auth.ocsp_response,
            early_data_accepted,
            ech_accepted,
            psk_identity,  # external_psk_identity
            None if auth.raw_key is None else auth.raw_key.spki,  # peer_raw_public_key
            auth.scts)  # signed_certificate_timestamps


# -- helpers both versions use (composition, not inheritance) ------------------------------

def validation_moment(config: Any) -> datetime:
    """Now by the config's clock, to the second (rounded down): certificate times have
    one-second granularity, and the verifier would truncate a moment with microseconds
    by building another datetime on every handshake (see `tlskit.x509.verify._utc`)."""
    return datetime.fromtimestamp(math.floor(config.clock()), UTC)


def pad_client_hello(hello: m.ClientHello, raw: bytes) -> bytes:
    """RFC 7685: some middleboxes choke on ClientHellos of 256..511 bytes, so one of that
    size gets a padding extension to reach 512 (before pre_shared_key, which stays last:
    RFC 8446 4.2.11). `raw` is the hello's encoding; the hello's bytes are returned."""
    if not 256 <= len(raw) < 512:
        return raw
    exts = hello.extensions
    psk = exts.pop(_E.pre_shared_key, None)
    exts[_E.padding] = bytes(max(512 - len(raw) - 4, 1))
    if psk is not None:
        exts[_E.pre_shared_key] = psk
    return hello.encode()


def verify_server_chain(hs: Handshake, auth: PeerAuth, server_name: str | None, *,
                        ech_public_name: bool = False) -> None:
    """Check the server's chain with the configured verifier; with verify_mode="report"
    a failure is kept in `auth.verification_error` instead of ending the handshake.
    `ech_public_name`: `server_name` is a rejected ECH config's public_name, checked even
    with check_hostname off (RFC 9849 6.1.6: the retry configs must come from it)."""
    cfg = hs.config
    at = validation_moment(cfg)
    name = server_name if cfg.check_hostname or ech_public_name else None
    verifier = cfg.get_verifier()
    if hs.suite is not None and hs.suite.code in crypto.RSA_KX_SUITES12:
        # The key decrypts rather than signs: keyEncipherment is the usage it needs.
        variant = getattr(verifier, "for_key_transport", None)
        verifier = variant() if variant is not None else verifier
    try:
        verified = verifier.verify(
            auth.chain[0], auth.chain[1:], server_name=name, at=at,
            usage="server", ocsp_response=auth.ocsp_response)
        if cfg.enforce_must_staple:  # RFC 7633: a must-staple leaf needs a valid staple
            from ..x509.muststaple import check_must_staple
            check_must_staple(verified or auth.chain, auth.ocsp_response, at, auth.chain)
        if cfg.ct_policy is not None:  # RFC 6962: SCTs for the leaf, from known logs
            cfg.ct_policy.enforce(verified or auth.chain, auth.scts, cfg.clock(),
                                  auth.ocsp_response)
        if cfg.tracer is not None:
            hs.trace(T.CERTIFICATE_VERIFIED, chain=verified, server_name=name, at=at,
                     ocsp_response=auth.ocsp_response)
        auth.authenticated = True
    except TLSError as exc:
        hs.trace(T.CERTIFICATE_REJECTED, error=exc)
        if cfg.verify_mode == "required":
            raise
        auth.verification_error = exc


def verify_client_chain(config: Any, chain: list[x509.Certificate]) -> None:
    at = validation_moment(config)
    verifier = config.get_client_verifier()
    if verifier is None:  # client_auth with pinned_client_keys alone (RFC 7250)
        raise UnsupportedCertificate("the client sent an X.509 certificate, but this server "
                                     "accepts only the raw public keys of "
                                     "pinned_client_keys (set client_trust_anchors to "
                                     "accept certificates too)")
    verifier.verify(chain[0], chain[1:], server_name=None, at=at, usage="client")


def resumable_client_chain(cfg: Any, state: TicketState, trace: Callable[..., None],
                           *, carrier: str = "ticket") -> list[x509.Certificate] | None:
    """The client chain a ticket (1.3) or session (1.2) resumes with, or None if the
    current policy would not accept it: another session context (client-auth policy,
    trust), no certificate where `client_auth="required"` asks for one, or a
    certificate that no longer validates (expired, revoked) means a full handshake."""
    if not hmac.compare_digest(state.context, cfg._session_context):
        trace(T.PSK_DECLINED, reason="issued under another session context")
        return None
    if not state.client_chain:
        if cfg.client_auth == "required":
            trace(T.PSK_DECLINED, reason=f"no client certificate in the {carrier}")
            return None
        return []
    try:
        chain = [x509.load_der_x509_certificate(der) for der in state.client_chain]
        verify_client_chain(cfg, chain)  # the context says client_auth is on
    except (TLSError, ValueError) as exc:
        trace(T.PSK_DECLINED, reason=f"client certificate no longer valid: {exc}")
        return None
    return chain


def dns_match(pattern: str, name: str) -> bool:
    """Certificate selection only: exact, or one leftmost wildcard label."""
    pattern = pattern.rstrip(".")
    name = name.rstrip(".")
    if pattern == name:
        return True
    if pattern.startswith("*.") and "." in name:
        return name.split(".", 1)[1] == pattern[2:]
    return False


def by_server_name(certs: list[Any], server_name: str | None) -> list[Any]:
    """The configured chains, those whose names match the SNI name first."""
    if not server_name or len(certs) == 1:  # (one chain: nothing to order)
        return list(certs)
    wanted = server_name.lower()
    named = [c for c in certs if any(dns_match(p, wanted) for p in c.dns_names())]
    return named + [c for c in certs if c not in named]


def no_common_scheme(version: str, client: Sequence[int], ours: Sequence[int]) -> str:
    """Why none of our certificates can sign for this client, naming both sides' signature
    schemes (the client's GREASE values left out): a client that leaves out a key type
    (BoringSSL and Chrome offer no Ed25519) or offers only SHA-1 is found at a glance."""
    known = SignatureScheme._value2member_map_
    theirs = ", ".join(known[s].name for s in client if s in known) or "none we know"
    mine = ", ".join(dict.fromkeys(SignatureScheme.of(s).name for s in ours))
    return (f"no certificate can be signed with a {version} scheme the client accepts "
            f"(it accepts {theirs}; our certificates sign with {mine})")


def choose_alpn(ours: Sequence[str], offered: list[str] | None) -> str | None:
    """RFC 7301 3.2: our first protocol the client offered; none in common is fatal."""
    if offered is None or not ours:
        return None
    chosen = next((p for p in ours if p in offered), None)
    if chosen is None:
        from ..errors import NoApplicationProtocol
        raise NoApplicationProtocol(f"no ALPN protocol in common (client: {offered})")
    return chosen


def agreed_fragment_length(exts: m.Extensions, config: Any) -> int:
    """The client's check of the server's max_fragment_length (RFC 6066 4): the length
    we asked for, echoed; and not beside record_size_limit (RFC 8449 5)."""
    size = ext.decode_max_fragment_length(exts[ExtensionType.max_fragment_length])
    if size != config.max_fragment_length:
        raise IllegalParameter(f"server answered max_fragment_length {size}, but "
                               f"{config.max_fragment_length} was asked for (RFC 6066 4)")
    if ExtensionType.record_size_limit in exts:
        raise IllegalParameter("server sent both max_fragment_length and "
                               "record_size_limit (RFC 8449 5)")
    return size


def check_extensions(exts: m.Extensions, allowed: frozenset[int], offered: AbstractSet[int],
                     what: str) -> None:
    """4.2: recognised-but-misplaced -> illegal_parameter; unsolicited -> unsupported."""
    if exts.keys() <= allowed and exts.keys() <= offered:
        return  # every type allowed and offered: the loop below would find nothing
    for etype in exts:
        if etype not in allowed:
            if etype in RECOGNISED:
                raise IllegalParameter(
                    f"{ExtensionType(etype).name} is not allowed in {what}")
            raise UnsupportedExtension(f"unrequested extension {etype} in {what}")
        if etype not in offered:
            raise UnsupportedExtension(
                f"{what} carries {ExtensionType(etype).name}, which was not offered")


def check_placement(exts: m.Extensions, allowed: frozenset[int], what: str) -> None:
    """4.2 for the messages whose unknown extensions are ignored (CertificateRequest
    4.3.2, NewSessionTicket 4.6.1): one we recognise outside its place is illegal_parameter."""
    if exts.keys() <= allowed:
        return
    for etype in exts:
        if etype not in allowed and etype in RECOGNISED:
            raise IllegalParameter(f"{ExtensionType(etype).name} is not allowed in {what}")


class ServerView:
    """What both servers (TLS 1.3 and 1.2) tell their connection about the client: the
    offer by IANA name (logs, `tlskit serve`'s page), named on first use rather than on
    every handshake, and the client's certificate chain."""

    __slots__ = ()
    _offer_view: Any  # the ClientHelloView of the hello being answered, if any
    auth: PeerAuth

    @property
    def client_offer(self) -> dict[str, object]:
        view = self._offer_view
        return {} if view is None else cast("dict[str, object]", view.named)

    @property
    def client_chain(self) -> list[x509.Certificate]:
        return self.auth.chain


class Handshake13(Handshake):
    """What both TLS 1.3 sides share: key installation, the compatibility CCS, Finished and
    CertificateVerify checks, PSK binders and KeyUpdate."""

    not_in_transcript = _NOT_IN_TRANSCRIPT
    hooked_types = frozenset({HandshakeType.client_hello})
    decoders = m.BODY_DECODERS
    # Slots for what the TLS 1.3 classes add to `Handshake`'s attributes (also in each
    # subclass): CPython 3.11 keeps at most 30 attributes of an object in its fast
    # shared-key layout, and a handshake object with all of them in its __dict__ (up to
    # about 50) costs about four times as much to build.
    __slots__ = ("_last_update_answered", "before_hello", "ccs_seen", "client_ap",
                 "exporter_master", "final_transcript", "resumption_master")

    def __init__(self, config: Any, out: Output, state: Any) -> None:
        super().__init__(config, out, Transcript(), state)
        # True while our latest KeyUpdate answered a request and nothing went out since.
        self._last_update_answered = False
        self.ccs_seen = False
        # The transcript before the (last) ClientHello; None: empty (the first hello).
        self.before_hello: Transcript | None = None
        self.exporter_master = b""
        self.resumption_master = b""
        # Post-handshake authentication (4.6.2): the client's current application traffic
        # secret (the Finished base key) and the transcript through the client Finished.
        self.client_ap = b""
        self.final_transcript: Transcript | None = None

    def before_transcript(self, msg_type: int, raw: bytes) -> None:
        if msg_type == _CLIENT_HELLO:  # PSK binders hash what came before
            # (nothing, before a first ClientHello: no copy then)
            tr = self.transcript
            self.before_hello = tr.copy() if tr._hash is not None or tr._pending else None

    def receive_ccs(self, payload: bytes) -> None:
        """5: one compatibility change_cipher_spec (0x01) is dropped during the handshake."""
        if self.complete or self.ccs_seen or payload != b"\x01":
            raise UnexpectedMessage("change_cipher_spec outside the handshake")
        if not self.ccs_allowed():
            raise UnexpectedMessage("change_cipher_spec before the ClientHello")
        self.ccs_seen = True
        if self.config.tracer is not None:
            self.trace_peer_ccs()

    def ccs_allowed(self) -> bool:
        return True

    # -- keys ---------------------------------------------------------------------------

    def set_read(self, secret: bytes) -> None:
        assert self.suite is not None
        if self._buf or self._unread:
            self.require_message_boundary()  # raises
        self.out.install_read(self.suite, secret)

    def set_write(self, secret: bytes) -> None:
        assert self.suite is not None
        if self._flight:
            self.flush()
        self.out.install_write(self.suite, secret)

    # -- Finished and CertificateVerify ------------------------------------------------

    def finished_for(self, base_key: bytes, transcript_hash: bytes) -> bytes:
        assert self.suite is not None
        return finished_verify_data(self.suite, base_key, transcript_hash)

    def check_finished(self, msg: m.Finished, expected: bytes) -> None:
        if len(msg.verify_data) != len(expected):
            raise DecodeError("Finished has the wrong length")
        if not hmac.compare_digest(msg.verify_data, expected):
            raise DecryptError("Finished verify_data does not match the transcript")

    def check_certificate_verify(self, msg: m.CertificateVerify, leaf: Any,
                                 offered: list[int], context: bytes,
                                 transcript_hash: bytes) -> None:
        """4.4.3: the scheme must be one we offered, a TLS 1.3 scheme, and fit the key."""
        if msg.algorithm not in offered or msg.algorithm not in crypto.HANDSHAKE_SCHEMES:
            raise IllegalParameter(
                f"CertificateVerify uses scheme {msg.algorithm:#06x} that was not offered")
        # The key's algorithm OID only tells RSA schemes apart (4.2.3: rsa_pss_pss_* need
        # an RSASSA-PSS key, rsa_pss_rsae_* rsaEncryption); an ECDSA or EdDSA scheme is
        # checked against the key's type alone, so its OID is not read (an object and a
        # string per handshake).
        key_oid = None if crypto.SCHEMES[msg.algorithm].kind in _OID_BLIND_KINDS \
            else leaf.public_key_algorithm_oid.dotted_string
        if key_oid == crypto.RSASSA_PSS_OID:  # RFC 4055 parameters may restrict the key
            check_pss_key(leaf, msg.algorithm, "client" if self.side == "server" else "server")
        crypto.verify(public_key_of(leaf), msg.algorithm, msg.signature,
                      context + transcript_hash, key_oid=key_oid)

    # -- post-handshake ----------------------------------------------------------------

    def on_key_update(self, msg: m.KeyUpdate, raw: bytes) -> Any:
        """4.6.3: move our read side on; answer once if the peer asks."""
        self.require_message_boundary()
        self.out.next_read_generation()
        if self.side == "server":
            self._advance_client_ap()
        requested = msg.request_update == KeyUpdateRequest.update_requested
        # 4.6.3: answer before our next record, but once only while we stay silent: a
        # KeyUpdate of ours with nothing sent under its key already answers.
        if requested and not (self._last_update_answered
                              and not self.out.written_under_current_key()):
            self.send_key_update(request=False)
            self._last_update_answered = True
        self.out.emit(KeyUpdated(requested))
        self.trace(T.KEY_UPDATE_RECEIVED, update_requested=requested)
        return self.state

    def send_key_update(self, request: bool) -> None:
        value = (KeyUpdateRequest.update_requested if request
                 else KeyUpdateRequest.update_not_requested)
        self.send(m.KeyUpdate(value).encode(), transcript=False)
        self.flush()
        self.out.next_write_generation()
        if self.side == "client":
            self._advance_client_ap()
        self._last_update_answered = False
        self.trace(T.KEY_UPDATE_SENT, update_requested=request)

    def _advance_client_ap(self) -> None:
        from ..keyschedule import next_traffic_secret
        if self.client_ap and self.suite is not None:
            self.client_ap = next_traffic_secret(self.suite, self.client_ap)

    def start_post_handshake_transcript(self) -> None:
        """4.4: each post-handshake authentication hashes the handshake (through the
        client Finished) and then only its own messages."""
        assert self.final_transcript is not None
        self.transcript = self.final_transcript.copy()

    def export(self, label: bytes, context: bytes | None, length: int) -> bytes:
        """RFC 8446 7.5 exporter."""
        from ..keyschedule import export_keying_material
        assert self.suite is not None
        return export_keying_material(self.suite, self.exporter_master, label,
                                      context if context is not None else b"", length)

    @staticmethod
    def psk_binder(suite: Suite, psk: bytes, before: Transcript, truncated_hello: bytes,
                   external: bool = False) -> bytes:
        """4.2.11.2: HMAC over the transcript up to the binders, keyed from the PSK
        ("ext binder" for an external PSK, 7.1: the two kinds cannot be swapped)."""
        early = EarlySecret.start(suite, psk)
        th = before.hash_with(suite.hash_name, truncated_hello)
        return finished_verify_data(suite, early.binder_key(external), th)

    # (the module function itself: no frame around it)
    check_extensions = staticmethod(check_extensions)
