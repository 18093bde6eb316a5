"""The TLS 1.3 server handshake (RFC 8446 2, 4), one method per step.

    WAIT_CLIENT_HELLO (-> send HelloRetryRequest -> WAIT_SECOND_CLIENT_HELLO)
      -> send ServerHello, EncryptedExtensions, [CertificateRequest], Certificate,
         CertificateVerify, Finished as one flight
      -> [WAIT_CERTIFICATE -> WAIT_CERTIFICATE_VERIFY] -> WAIT_FINISHED -> CONNECTED
    (a client that cannot speak 1.3 hands the connection over to `ServerHandshake12`)

`ServerHandshake13.TABLE` declares this; the handlers return the next state.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from .. import crypto
from ..config import CertifiedKey, ServerConfig, leaf_entry_overflow
from ..enums import (
    ExtensionType,
    HandshakeType,
    NamedGroup,
    ProtocolVersion,
    PskKeyExchangeMode,
    SignatureScheme,
    group_of,
    scheme_of,
)
from ..errors import (
    CertificateRequired,
    DecodeError,
    DecryptError,
    HandshakeFailure,
    IllegalParameter,
    InternalError,
    MissingExtension,
    ProtocolVersionError,
    UnexpectedMessage,
)
from ..events import ClientCertificateReceived, DataReceived, EarlyDataReceived
from ..keyschedule import (
    EarlySecret,
    HandshakeSecret,
    MasterSecret,
    finished_verify_data,
    resumption_psk,
)
from ..psk import MAX_PSK_LOOKUPS, ExternalPsk, checked_answer, fingerprint, suites_for
from ..randpool import server_rng
from ..session import TicketState, encode_state
from ..trace import TraceStep as T
from ..wire import certcompress
from ..wire import extensions as ext
from ..wire import messages as m
from ..wire.codec import Writer
from .common import (
    ALLOWED_IN_CERT_ENTRY,
    CV_CLIENT,
    CV_SERVER,
    Handshake13,
    HandshakeState,
    Output,
    PeerAuth,
    RawKeyLeaf,
    ServerView,
    Table,
    Transcript,
    by_server_name,
    check_extensions,
    choose_alpn,
    members,
    negotiate_cert_types,
    no_common_scheme,
    parse_chain,
    read_raw_key,
    resumable_client_chain,
    resumable_client_raw_key,
    resumed_end_point,
    rule,
    verify_client_chain,
)
from .common12 import Handover12
from .hello import AnsweredHello, ClientHelloView, decode_client_hello
from .resolve import resolve_certificates
from .server12 import ServerHandshake12

if TYPE_CHECKING:  # (ECH's modules load with the first ClientHello that offers ECH)
    from .ech_server import EchAccepted

_E = members(ExtensionType)  # (plain attribute reads: see `members`)
_HT = members(HandshakeType)
_PV = members(ProtocolVersion)
_TLS13_BYTES = ProtocolVersion.TLSv1_3.to_bytes(2, "big")  # supported_versions (4.2.1)
EARLY_DATA_SKIP_LIMIT = 1 << 16  # declined 0-RTT bytes skipped at least (`_early_data_skip_budget`)
# 8.3: how far the client's view of a ticket's age may differ from ours for 0-RTT (one
# round trip plus clock drift; a larger window lets a replay come later).
EARLY_DATA_AGE_WINDOW_MS = 10_000
# The ClientHello extensions whose bodies only some handshakes read (`_check_shape`).
_DECODED_WHEN_PRESENT = ((ExtensionType.psk_key_exchange_modes, "psk_modes"),
                         (ExtensionType.cookie, "cookie"),
                         (ExtensionType.status_request, "status_request"),
                         (ExtensionType.signature_algorithms_cert, "cert_schemes"))
# What our CertificateRequests carry: all a client's CertificateEntry may answer (4.4.2).
_REQUESTED = frozenset({ExtensionType.signature_algorithms})


class State(HandshakeState):
    WAIT_CLIENT_HELLO = "waiting for ClientHello"
    WAIT_SECOND_CLIENT_HELLO = "waiting for ClientHello after a HelloRetryRequest"
    WAIT_END_OF_EARLY_DATA = "reading 0-RTT data until the client's EndOfEarlyData"
    WAIT_CERTIFICATE = "waiting for the client's Certificate"
    WAIT_CERTIFICATE_VERIFY = "waiting for the client's CertificateVerify"
    WAIT_FINISHED = "waiting for the client's Finished"
    CONNECTED = "connected"
    PHA_WAIT_CERTIFICATE = "connected, waiting for the client's post-handshake Certificate"
    PHA_WAIT_CERTIFICATE_VERIFY = ("connected, waiting for the client's post-handshake "
                                   "CertificateVerify")
    PHA_WAIT_FINISHED = "connected, waiting for the client's post-handshake Finished"
    HANDED_OVER = "handed over to TLS 1.2"


_S = members(State)  # (plain attribute reads: see `members`)
_AFTER_FLIGHT = (_S.WAIT_END_OF_EARLY_DATA, _S.WAIT_CERTIFICATE, _S.WAIT_FINISHED)
TABLE: Table = {
    _S.WAIT_CLIENT_HELLO: {_HT.client_hello: rule(
        "on_client_hello", _S.WAIT_SECOND_CLIENT_HELLO, *_AFTER_FLIGHT, _S.HANDED_OVER)},
    _S.WAIT_SECOND_CLIENT_HELLO: {_HT.client_hello: rule(
        "on_client_hello", _S.WAIT_CERTIFICATE, _S.WAIT_FINISHED)},
    _S.WAIT_END_OF_EARLY_DATA: {_HT.end_of_early_data: rule(
        "on_end_of_early_data", _S.WAIT_FINISHED)},
    _S.WAIT_CERTIFICATE: {_HT.certificate: rule(
        "on_certificate", _S.WAIT_CERTIFICATE_VERIFY, _S.WAIT_FINISHED)},
    _S.WAIT_CERTIFICATE_VERIFY: {_HT.certificate_verify: rule(
        "on_certificate_verify", _S.WAIT_FINISHED)},
    _S.WAIT_FINISHED: {_HT.finished: rule("on_finished", _S.CONNECTED)},
    _S.CONNECTED: {_HT.key_update: rule("on_key_update", _S.CONNECTED)},
    # 4.6.2: after request_client_certificate(); a KeyUpdate may cross the request.
    _S.PHA_WAIT_CERTIFICATE: {
        _HT.certificate: rule("on_pha_certificate", _S.PHA_WAIT_CERTIFICATE_VERIFY,
                              _S.PHA_WAIT_FINISHED),
        _HT.key_update: rule("on_key_update", _S.PHA_WAIT_CERTIFICATE)},
    _S.PHA_WAIT_CERTIFICATE_VERIFY: {
        _HT.certificate_verify: rule("on_pha_certificate_verify", _S.PHA_WAIT_FINISHED),
        _HT.key_update: rule("on_key_update", _S.PHA_WAIT_CERTIFICATE_VERIFY)},
    _S.PHA_WAIT_FINISHED: {
        _HT.finished: rule("on_pha_finished", _S.CONNECTED),
        _HT.key_update: rule("on_key_update", _S.PHA_WAIT_FINISHED)},
    _S.HANDED_OVER: {},
}


# 4.6.1: ticket nonces are unique per connection; ours are one byte (0, 1, ...).
MAX_TICKETS_PER_CONNECTION = 256

_OPEN = frozenset({_S.CONNECTED, _S.PHA_WAIT_CERTIFICATE, _S.PHA_WAIT_CERTIFICATE_VERIFY,
                   _S.PHA_WAIT_FINISHED})


class ServerHandshake13(ServerView, Handshake13):
    side = "server"
    config: ServerConfig
    STATES = State
    TABLE = TABLE
    __slots__ = ("_ccs_sent", "_client_ap", "_client_hs", "_client_ticket_age", "_compression",
                 "_early_limit", "_ech", "_ech_hrr_transcript", "_ech_rejected", "_external",
                 "_held", "_lookups_left", "_master", "_offer_view", "_pha_chain",
                 "_pha_context", "_pha_raw", "_psk", "_psk_index", "_psk_ke", "_ticket",
                 "_ticket_auth", "_ticket_identity", "alpn", "auth", "cert_types", "certified",
                 "client_offered_pha", "cookie",
                 "early_data_accepted", "first_hello", "group", "hrr_sent", "scheme",
                 "server_name", "tickets_sent")  # (see Handshake13)

    # A QUIC server's own transport parameters, sent in EncryptedExtensions (set by
    # `tlskit.quic`'s subclass; None in TLS: one attribute test per handshake).
    quic_transport_parameters: bytes | None = None
    # ... and the digest of its early_data_context, sealed into its tickets (RFC 9001 4.6.2).
    early_data_context: bytes = b""
    # False: no tickets when the handshake ends (a QUIC connection's own choice; TLS
    # connections follow ServerConfig.automatic_tickets, also read in `_send_tickets`).
    automatic_tickets: bool = True

    @property
    def complete(self) -> bool:
        """Connected, also while a post-handshake authentication is under way."""
        return self.state in _OPEN

    def __init__(self, config: ServerConfig, out: Output) -> None:
        super().__init__(config, out, _S.WAIT_CLIENT_HELLO)
        self.hrr_sent = False
        # The hello answered (the first, after a HelloRetryRequest), as its bytes.
        self.first_hello: AnsweredHello | None = None
        self.group: NamedGroup | None = None
        self.scheme: SignatureScheme | None = None
        self.certified: CertifiedKey | None = None
        # RFC 7250 4.2: the certificate type answers for EncryptedExtensions (None: none)
        self.cert_types: dict[int, bytes] | None = None
        self.server_name: str | None = None
        self.alpn: str | None = None
        self.cookie = b""
        self.auth = PeerAuth()
        # The hello being answered; once answered, only its bytes (`AnsweredHello`).
        self._offer_view: ClientHelloView | AnsweredHello | None = None
        self._client_hs = b""
        self._client_ap = b""
        self._master: MasterSecret | None = None
        self._ccs_sent = False
        self._psk: bytes | None = None
        self._compression: int | None = None
        self._psk_index = 0
        self._ticket: TicketState | None = None
        self._ticket_identity = b""
        self._client_ticket_age = 0     # ms, as the client saw it (8.3)
        self._psk_ke = False            # resuming without (EC)DHE (4.2.9 psk_ke)
        self._external: ExternalPsk | None = None  # the external PSK accepted (2.2)
        self._lookups_left = MAX_PSK_LOOKUPS  # external_psks lookups this hello may make
        self.early_data_accepted = False
        self._early_limit = 0           # bytes of 0-RTT data still allowed
        self._held: list[bytes] = []    # 0-RTT data the application deferred
        self.client_offered_pha = False
        self._pha_context = b""
        self._pha_chain: list[x509.Certificate] = []
        self._pha_raw: RawKeyLeaf | None = None  # RFC 7250: a post-handshake raw key
        self._ech: EchAccepted | None = None  # RFC 9849: the inner hello decrypted
        self._ech_rejected = False  # ECH offered, not decrypted: send retry_configs
        self._ech_hrr_transcript: Transcript | None = None

    @property
    def session_end_point(self) -> bytes | None:
        """RFC 5929 4.1 on a resumed connection: the tls-server-end-point of the
        certificate the session's handshake sent (b"": none; None: not known,
        `resumed_end_point`)."""
        return b"" if self._ticket is None else resumed_end_point(self.config, self._ticket)

    def ccs_allowed(self) -> bool:
        return self.first_hello is not None

    decoders = {**m.BODY_DECODERS, _HT.client_hello: decode_client_hello}

    # -- ClientHello (4.1.2) -------------------------------------------------------------

    def on_client_hello(self, ch: m.ClientHello, raw: bytes) -> State:
        if self.config._ech_keys is not None and (
                _E.encrypted_client_hello in ch.extensions or self._ech is not None):
            ch, raw = self._ech_inner(ch, raw)
        offer = ClientHelloView(ch)
        if self.hrr_sent:
            self._check_second_hello(offer)
        if _E.server_name in offer.extensions:
            self.server_name = offer.server_name
        if _E.post_handshake_auth in offer.extensions:
            if offer.extensions[_E.post_handshake_auth]:
                raise DecodeError("post_handshake_auth must be empty (4.2.6)")
            self.client_offered_pha = True
        self._offer_view = offer
        if self._wants_tls12(offer):
            return self._hand_over(ch, raw, offer)
        self._check_version(offer)
        self._check_shape(offer)
        cfg = self.config
        # 4.1.4: after a HelloRetryRequest its suite stands (a PSK chosen then may not be
        # usable now; the offered list is the same, `_check_second_hello` saw to that).
        if not self.hrr_sent:
            for code in cfg._suites:  # our first suite the client offers (a loop: no frame)
                if code in ch.cipher_suites:
                    break
            else:
                raise HandshakeFailure(
                    "no TLS 1.3 cipher suite in common with the client (we accept "
                    f"{', '.join(crypto.SUITES[s].name for s in cfg._suites)})")
            self.suite = crypto.SUITES[code]
        shares = self._check_shares(offer)
        assert offer.groups is not None
        offer.record_size_limit  # noqa: B018 -- checked now, before anything is sent
        self.client_random = ch.random
        for group in cfg._groups:  # our first group the client lists
            if group in offer.groups:
                break
        else:
            raise HandshakeFailure(
                "no key exchange group in common with the client (we accept "
                f"{', '.join(NamedGroup(g).name for g in cfg._groups)})")
        self.group = group_of(group)
        self._external, self._lookups_left = None, MAX_PSK_LOOKUPS
        self._psk = self._accept_ticket(offer, raw)
        if self._psk is None and cfg._psk_lookup is not None:
            self._psk = self._accept_external(offer, raw)
        if self._psk is None:
            self._certify(offer)
        elif self.cert_types is not None:
            # RFC 7250 4.2 answers belong to a full handshake: the first hello's, whose PSK
            # was declined, must not reach this resumed one's EncryptedExtensions, nor
            # make a post-handshake request expect a raw key.
            self.cert_types, self.auth.raw_expected = None, False
        self.alpn = choose_alpn(cfg.alpn_protocols, offer.alpn)
        self._compression = None
        if cfg._cert_compression and self._psk is None:
            self._compression = next(
                (a for a in cfg._cert_compression if a in offer.cert_compression), None)
        if self.config.tracer is not None:  # (naming the offer costs: only when traced)
            self.trace(T.CLIENT_HELLO, message=ch, raw=raw, offer=self.client_offer,
                       ech="accepted" if self._ech is not None else
                       "rejected" if self._ech_rejected else None)
        client_share = dict(shares).get(self.group)
        if _E.early_data in offer.extensions:
            if offer.extensions[_E.early_data]:
                raise DecodeError("early_data in a ClientHello must be empty")
            self.early_data_accepted = self._accept_early_data(
                retry=client_share is None and not self._psk_ke)
            if not self.early_data_accepted:
                # 4.2.10: declined 0-RTT data is skipped (up to a bound).
                self.out.skip_early_data(_early_data_skip_budget(cfg.max_early_data_size))
        if client_share is None and not self._psk_ke:
            self._send_hello_retry_request(ch)
            # (kept as bytes: the second hello is checked against it, decoded again)
            self._offer_view = self.first_hello = AnsweredHello(raw)
            return _S.WAIT_SECOND_CLIENT_HELLO
        state = self._respond(offer, client_share)
        # Answered: the connection keeps the hello's bytes, not its decoded lists (for
        # `client_offer`, and the limits EndOfEarlyData applies, decoded by `_respond`).
        self._offer_view = self.first_hello = AnsweredHello(
            raw, offer.record_size_limit, offer.max_fragment_length)
        return state

    def _ech_inner(self, outer: m.ClientHello, raw: bytes) -> tuple[m.ClientHello, bytes]:
        """RFC 9849 7.1: the ClientHelloInner to answer and its bytes (PSK binders and
        the transcript cover them), when it decrypts; else the outer hello, answered
        with retry_configs."""
        from .ech_server import open_first, open_second
        keys = self.config._ech_keys
        if self.hrr_sent:
            if self._ech is None:  # rejected with the first hello: stays rejected
                return outer, raw
            inner = open_second(self._ech, outer, raw)
            assert self._ech_hrr_transcript is not None
            self.transcript = self._ech_hrr_transcript
        else:
            opened = open_first(keys, outer, raw)
            if opened is None:
                self._ech_rejected = True
                return outer, raw
            self._ech, inner = opened
            self.transcript = Transcript()
        inner_raw = inner.encode()
        self.transcript.update(inner_raw)
        return inner, inner_raw

    def _ech_confirm(self, hello: m.ServerHello, label: bytes, hrr: bool) -> bytes:
        """7.2, 7.2.1: the 8 confirmation bytes for `hello` (whose random tail, or ECH
        extension for a HelloRetryRequest, is zeros), over the transcript so far."""
        from .ech import confirmation, zero_extension
        assert self._ech is not None and self.suite is not None
        raw = hello.encode()
        if hrr:
            raw = zero_extension(raw, _E.encrypted_client_hello)
        return confirmation(self.suite, self._ech.inner_random, label,
                            self.transcript.digest_with(raw))

    def _check_shape(self, offer: ClientHelloView) -> None:
        """4.1.2, 4.2, 4.2.9, 4.2.11, 9.2: what every TLS 1.3 ClientHello must look like."""
        exts = offer.extensions
        if offer.hello.compression_methods != b"\x00":
            raise IllegalParameter("legacy_compression_methods must be exactly [null]")
        if _E.pre_shared_key in exts:
            if list(exts)[-1] != _E.pre_shared_key:
                raise IllegalParameter("pre_shared_key must be the last extension (4.2.11)")
            # 4.2.9, 9.2: whether or not we would resume (tickets may be off).
            if _E.psk_key_exchange_modes not in exts:
                raise MissingExtension("pre_shared_key without psk_key_exchange_modes "
                                       "(4.2.9)")
        # 6: a body that does not parse is decode_error, also where this hello's answer
        # does not depend on it (a PSK resumed or none, no retry yet, no staple configured).
        for etype, name in _DECODED_WHEN_PRESENT:
            if etype in exts:
                getattr(offer, name)
        if _E.oid_filters in exts:  # 4.2: the one we know that only a CertificateRequest carries
            raise IllegalParameter("oid_filters is not allowed in a ClientHello (4.2)")

    def _check_shares(self, offer: ClientHelloView) -> list[tuple[int, bytes]]:
        exts = offer.extensions
        if _E.pre_shared_key in exts and _E.key_share not in exts \
                and _E.supported_groups not in exts:  # (with it, 9.2 requires key_share)
            # 9.2 lets a PSK-only hello omit these; tlskit needs a key share to fall back
            # on (psk_ke is used, when allowed, with a hello that still carries one).
            raise HandshakeFailure("a ClientHello without key_share (PSK only) is not "
                                   "supported")
        for required in (_E.signature_algorithms, _E.supported_groups, _E.key_share):
            if required not in exts and not (required == _E.signature_algorithms
                                             and _E.pre_shared_key in exts):
                # (9.2: a PSK hello may leave signature_algorithms out; see `_certify`)
                raise MissingExtension(f"ClientHello lacks {ExtensionType(required).name}")
        client_groups, shares = offer.groups, offer.shares
        assert client_groups is not None and shares is not None
        # B.3.1.4 / 4.2.7: obsolete groups MUST NOT be offered with TLS 1.3. A key share
        # for one is refused, and so is listing one in a hello that offers TLS 1.3 alone,
        # or listing nothing else (no TLS 1.3 group could be chosen: the handshake fails
        # either way, and this names the client's mistake). A client that also offers
        # TLS 1.2 may list them for 1.2 beside current groups (tlslite-ng lists the
        # brainpool curves): tolerated there, as OpenSSL and Go do.
        obsolete = crypto.OBSOLETE_GROUPS  # (set tests: no call per group)
        for group, _ in shares:
            if group in obsolete:
                raise IllegalParameter(f"key share for obsolete group {group:#06x} in a "
                                       "TLS 1.3 ClientHello")
        if not obsolete.isdisjoint(client_groups):
            group = next(g for g in client_groups if g in obsolete)
            if ProtocolVersion.TLSv1_2 not in offer.offered_versions:
                raise IllegalParameter(
                    f"supported_groups lists obsolete group {group:#06x} in a "
                    "TLS 1.3-only ClientHello (RFC 8446 4.2.7)")
            if obsolete.issuperset(client_groups):
                raise IllegalParameter(
                    "supported_groups lists only obsolete groups in a TLS 1.3 "
                    "ClientHello (RFC 8446 4.2.7)")
        for group, _ in shares:
            if group not in client_groups:
                raise IllegalParameter(f"key share for {NamedGroup(group).name}, which is "
                                       "not in supported_groups")
        offer.schemes  # noqa: B018 -- decoded (and checked) now, as the RFC order has it
        return shares

    def _hand_over(self, ch: m.ClientHello, raw: bytes, offer: ClientHelloView) -> State:
        """A client that cannot speak 1.3: `ServerHandshake12` answers this ClientHello."""
        successor = ServerHandshake12(Handover12(
            config=self.config, out=self.out, transcript=self.transcript,
            server_name=self.server_name, hello=offer))
        self.successor = successor
        if self.config.tracer is not None:  # (naming the offer costs: only when traced)
            self.trace(T.CLIENT_HELLO, message=ch, raw=raw, offer=self.client_offer)
        successor.take_over(_HT.client_hello, ch, raw)
        return _S.HANDED_OVER

    def _accept_ticket(self, offer: ClientHelloView, raw: bytes) -> bytes | None:
        """4.2.11: resume from the first ticket we sealed that is fresh and whose suite
        fits; a ticket we cannot open just means a full handshake."""
        cfg = self.config
        if self._ticket is not None:  # one the first ClientHello resumed, before a retry
            self._ticket, self.auth.chain, self._psk_index = None, [], 0
            self.auth.raw_key = None
        if offer.psk is None or cfg.session_tickets <= 0:
            return None
        identities, binders = offer.psk
        modes = offer.psk_modes
        assert modes is not None  # `_check_shape` required it beside pre_shared_key
        if PskKeyExchangeMode.psk_dhe_ke not in modes:
            if not (cfg.allow_psk_ke and PskKeyExchangeMode.psk_ke in modes):
                return None  # psk_ke (no forward secrecy) only where the config allows it
            psk_ke = True
        else:
            psk_ke = False
        now_ms = int(cfg.clock() * 1000)
        sealer = cfg.get_ticket_sealer()
        for index, (identity, obfuscated_age) in enumerate(identities):
            state = sealer.open(identity)
            if state is None or not 0 <= now_ms - state.issued_ms < state.lifetime * 1000:
                continue
            if state.suite.code not in offer.hello.cipher_suites \
                    or state.suite.code not in cfg._suites:
                continue
            if self.hrr_sent and state.suite is not self.suite:
                continue  # 4.1.4: the HelloRetryRequest named the suite
            if state.server_name != self.server_name:
                continue
            if state.external_identity is not None:  # 2.2: the PSK authenticated it
                client_chain = self._resumable_external(state)
            elif state.client_raw_key:  # RFC 7250: while the key is still pinned
                client_chain = resumable_client_raw_key(cfg, state, self.auth, self.trace)
            else:
                client_chain = resumable_client_chain(self.config, state, self.trace)
            if client_chain is None:
                continue
            self.suite = state.suite
            cut = len(raw) - ext.binders_length(binders)
            before = self.before_hello if self.before_hello is not None else Transcript()
            expected = self.psk_binder(state.suite, state.psk, before, raw[:cut])
            if not hmac.compare_digest(expected, binders[index]):
                raise DecryptError("PSK binder does not verify (4.2.11.2)")
            self._psk_index = index
            self._ticket = state
            self._ticket_identity = identity
            self._client_ticket_age = (obfuscated_age - state.age_add) & 0xFFFFFFFF
            self._psk_ke = psk_ke
            self.auth.chain = client_chain
            self.trace(T.PSK_ACCEPTED, identity_index=index)
            return state.psk
        return None

    def _resumable_external(self, state: TicketState) -> list[x509.Certificate] | None:
        """A ticket of a session an external PSK authenticated resumes (with no client
        chain: the PSK stood for it, also where client_auth is "required") only while
        the lookup still has that key: a key removed, or given a new secret, ends the
        sessions it made, as a revoked certificate ends its own. None: a full handshake."""
        cfg = self.config
        if not hmac.compare_digest(state.context, cfg._session_context):
            self.trace(T.PSK_DECLINED, reason="issued under another session context")
            return None
        identity = state.external_identity
        assert identity is not None
        psk = self._lookup(identity)
        if psk is None or not hmac.compare_digest(fingerprint(psk),
                                                  state.external_fingerprint):
            self.trace(T.PSK_DECLINED, reason="its external PSK is no longer configured")
            return None
        return []

    def _lookup(self, identity: bytes) -> ExternalPsk | None:
        """``external_psks``' answer for ``identity``; None, without asking, once this
        ClientHello has had `MAX_PSK_LOOKUPS` answers (the identities are the client's
        to choose, the lookup may be costly)."""
        lookup = self.config._psk_lookup
        if lookup is None or self._lookups_left <= 0:
            return None
        self._lookups_left -= 1
        return checked_answer(lookup(identity))

    def _accept_external(self, offer: ClientHelloView, raw: bytes) -> bytes | None:
        """2.2, 4.2.11: the first offered identity the lookup knows, whose hash one of
        our suites (and, after a retry, the retry's suite) has, in a mode we allow; its
        binder must verify ("ext binder", checked in constant time: decrypt_error)."""
        self._external, self._psk_index = None, 0  # (a retry's second hello decides anew)
        if offer.psk is None:
            return None
        psk_ke = _psk_ke_mode(offer, self.config.allow_psk_ke)
        if psk_ke is None:
            return None
        identities, binders = offer.psk
        for index, (identity, _age) in enumerate(identities):  # 4.2.11: age ignored
            if self._lookups_left <= 0:
                break
            psk = self._lookup(identity)
            if psk is None:
                continue
            suite = self._external_suite(psk, offer)
            if suite is None:
                continue
            cut = len(raw) - ext.binders_length(binders)
            before = self.before_hello if self.before_hello is not None else Transcript()
            expected = self.psk_binder(suite, psk.secret, before, raw[:cut], external=True)
            if not hmac.compare_digest(expected, binders[index]):
                raise DecryptError("external PSK binder does not verify (4.2.11.2)")
            self.suite, self._psk_index, self._psk_ke, self._external = \
                suite, index, psk_ke, psk
            self.trace(T.PSK_ACCEPTED, identity_index=index, external_identity=identity)
            return psk.secret
        return None

    def _external_suite(self, psk: ExternalPsk, offer: ClientHelloView) -> crypto.Suite | None:
        """Our first suite the client offers whose hash is the PSK's (after a
        HelloRetryRequest, only the suite it named)."""
        if self.hrr_sent:
            suite = self.suite
            return suite if suite is not None and suite.hash_name == psk.hash else None
        offered = offer.hello.cipher_suites
        return next((crypto.SUITES[code] for code in suites_for(psk, self.config._suites)
                     if code in offered), None)

    def _accept_early_data(self, *, retry: bool) -> bool:
        """4.2.10, 8: take 0-RTT data only on the first ticket, accepted for resumption
        here, issued with early data, under its suite and ALPN, at the age the client
        reports (8.3), and the first time this ticket carries early data (8.1)."""
        cfg, state = self.config, self._ticket
        if cfg.max_early_data_size <= 0 or state is None or retry or self.hrr_sent:
            return False
        if self._psk_index != 0 or state.max_early_data <= 0:
            return False
        if self.alpn != state.alpn_protocol or self.suite is None \
                or self.suite.code != state.suite.code:
            return False
        now_ms = int(cfg.clock() * 1000)
        server_age = now_ms - state.issued_ms
        if abs(server_age - self._client_ticket_age) > EARLY_DATA_AGE_WINDOW_MS:
            return False
        # The replay token names the ticket: 0-RTT is single-use per ticket (fleet-wide
        # when the cache is shared); the ticket itself may still resume in 1-RTT.
        identity = hashlib.sha256(b"tlskit 0-RTT\0" + self._ticket_identity).digest()
        ttl = max(state.lifetime - server_age / 1000, 0) + EARLY_DATA_AGE_WINDOW_MS / 1000
        try:
            first = cfg.get_replay_cache().check_replay(identity, ttl)
        except Exception:  # a store that fails refuses 0-RTT, never the connection
            first = False
        if not first:
            return False
        self._early_limit = min(state.max_early_data, cfg.max_early_data_size)
        return True

    def _wants_tls12(self, offer: ClientHelloView) -> bool:
        """4.2.1: without supported_versions (or without 1.3 in it) a client speaks <= 1.2."""
        cfg = self.config
        if "TLSv1.2" not in cfg._versions or self.hrr_sent:
            return False
        versions = offer.versions
        if versions is not None:
            if ProtocolVersion.TLSv1_3 in versions and "TLSv1.3" in cfg._versions:
                return False
            return ProtocolVersion.TLSv1_2 in versions
        return offer.hello.legacy_version >= ProtocolVersion.TLSv1_2

    def _check_version(self, offer: ClientHelloView) -> None:
        legacy = offer.hello.legacy_version
        if offer.versions is None:
            raise ProtocolVersionError(
                f"client offers only {ProtocolVersion(legacy).label}; this server speaks "
                f"{' and '.join(self.config._versions)}")
        if _PV.TLSv1_3 not in offer.versions:
            raise ProtocolVersionError("client does not offer TLS 1.3")
        if "TLSv1.3" not in self.config._versions:  # 4.2.1: nothing we speak is offered
            raise ProtocolVersionError("client offers TLSv1.3 and not TLSv1.2; this server "
                                       "speaks TLSv1.2")
        # 4.2.1: supported_versions decides, but a legacy_version below TLS 1.0 is no TLS
        # client at all (SSL 3.0 or garbage; RFC 7568, 8446 D.5).
        if legacy < _PV.TLSv1:
            raise ProtocolVersionError(f"legacy_version {legacy:#06x} is not TLS")

    def _certify(self, offer: ClientHelloView) -> None:
        """A full handshake: a certificate the client's schemes can verify (4.2.3: which
        it must have named, also in a hello whose PSK we did not take)."""
        schemes, cert_schemes = offer.schemes, offer.cert_schemes
        cfg = self.config
        resolver = cfg.certificate_resolver  # (the plain handshake's one attribute read)
        exts = offer.extensions
        if (_E.server_certificate_type in exts or _E.client_certificate_type in exts) \
                and self._certificate_types(offer, schemes):
            return  # RFC 7250: our raw public key is served
        if resolver is None and not cfg._certs:
            if cfg.raw_public_key is not None:
                raise HandshakeFailure(
                    "this server has only a raw public key, and the client does not "
                    "accept one (no RawPublicKey in server_certificate_type, RFC 7250)")
            # PSK-only: OpenSSL's -nocert sends handshake_failure
            raise HandshakeFailure("no external PSK of this server matches the client's, "
                                   "and it has no certificate (PSK-only)")
        if schemes is None:
            raise MissingExtension("ClientHello lacks signature_algorithms, which a "
                                   "handshake without its PSK needs (4.2.3)")
        certs = (by_server_name(cfg._certs, self.server_name) if resolver is None
                 else self._resolved(offer))
        self._choose_certificate(certs, schemes,
                                 schemes if cert_schemes is None else cert_schemes)

    def _certificate_types(self, offer: ClientHelloView, schemes: list[int] | None) -> bool:
        """RFC 7250 4.2: answer the client's certificate type lists; True when our raw
        public key is chosen (certified and scheme set)."""
        ours = self.config._schemes
        types = negotiate_cert_types(
            self.config, offer, schemes, "TLSv1.3", lambda ck: schemes is not None and any(
                s in schemes and s in ours for s in ck.schemes))
        self.cert_types, self.auth.raw_expected = types.answer, types.client_raw
        if types.server_raw is None:
            return False
        self.certified, self.scheme = types.server_raw
        return True

    def _resolved(self, offer: ClientHelloView) -> list[CertifiedKey]:
        """`ServerConfig.certificate_resolver`'s chain: asked once per handshake (the
        hello after a HelloRetryRequest repeats what it chose by, 4.1.2)."""
        if self.hrr_sent and self.certified is not None:
            return [self.certified]
        return resolve_certificates(self.config, offer, self.server_name, "TLSv1.3",
                                    self._ech is not None)

    def _choose_certificate(self, certs: list[CertifiedKey], schemes: list[int],
                            cert_schemes: list[int]) -> None:
        """Pick the chain (``certs``: SNI matches first) and the scheme the client can
        verify, preferring one whose certificate signatures the client accepts (4.2.3;
        else any signable chain, as the RFC lets the server do)."""
        ours = self.config._schemes  # ServerConfig.signature_schemes bounds ours too
        signable = []  # (chain, our first scheme the client accepts), as loops: no frames
        for ck in certs:
            for scheme in ck.schemes:
                if scheme in schemes and scheme in ours:
                    signable.append((ck, scheme))
                    break
        if not signable:
            raise HandshakeFailure(no_common_scheme("TLS 1.3", schemes, [
                s for ck in certs for s in ck.schemes if s in ours]))
        for ck, scheme in signable:
            for sigs in ck.chain_signatures:
                if sigs.isdisjoint(cert_schemes):  # (no set built, none intersected)
                    break
            else:  # every certificate's signature is one the client accepts
                self.certified, self.scheme = ck, scheme_of(scheme)
                return
        self.certified, self.scheme = signable[0][0], scheme_of(signable[0][1])

    def _client_schemes(self) -> list[int]:
        """The schemes a client's CertificateVerify may use (the CertificateRequest's
        list, 4.3.2): ServerConfig.signature_schemes, the TLS 1.3 ones."""
        return [s for s in self.config._schemes if s in crypto.HANDSHAKE_SCHEMES]

    # -- HelloRetryRequest (4.1.4) --------------------------------------------------------

    def _send_hello_retry_request(self, ch: m.ClientHello) -> None:
        if self.hrr_sent:
            raise IllegalParameter("second ClientHello still lacks the requested key share")
        assert self.suite is not None and self.group is not None
        self.hrr_sent = True
        self.transcript.restart_after_hrr(self.suite.hash_name)
        exts = m.Extensions({_E.key_share: ext.encode_key_share_hrr(self.group)})
        # 4.2.2: a cookie is for servers that keep no state across the retry; tlskit keeps
        # its state in the connection, so it sends one only when configured to (as
        # OpenSSL, Go and rustls do).
        cfg = self.config
        if cfg.hrr_cookie is not None or cfg.send_hrr_cookie:
            self.cookie = self._make_cookie()
            exts[_E.cookie] = ext.encode_cookie(self.cookie)
        exts[_E.supported_versions] = _TLS13_BYTES
        hrr = m.ServerHello(m.HRR_RANDOM, ch.session_id, self.suite.code, exts)
        if self._ech is not None:  # RFC 9849 7.2.1: accepted, said in the retry request
            from .ech import HRR_ACCEPT_LABEL
            exts[_E.encrypted_client_hello] = bytes(8)
            exts[_E.encrypted_client_hello] = self._ech_confirm(hrr, HRR_ACCEPT_LABEL, True)
        raw = hrr.encode()
        self.send(raw)
        self.flush()
        if self._ech is not None:  # the second inner hello goes on from here
            self._ech_hrr_transcript = self.transcript.copy()
        self.trace(T.HELLO_RETRY_REQUEST, message=hrr, raw=raw, group=self.group.name,
                   cookie=self.cookie)
        if ch.session_id:
            self.send_ccs()
            self._ccs_sent = True

    def _make_cookie(self) -> bytes:
        """An opaque cookie binding the retry to this connection's first ClientHello."""
        digest = self.transcript.digest()  # message_hash(ClientHello1)
        if self.config.hrr_cookie is not None:
            return self.config.hrr_cookie(digest)
        return hmac.digest(self.config.get_cookie_key(), digest, "sha256")

    def _check_second_hello(self, offer: ClientHelloView) -> None:
        """4.1.2: the second ClientHello repeats the first but for the listed changes."""
        ch = offer.hello
        assert self.first_hello is not None and self.group is not None
        first = self.first_hello.hello()
        for attr, name in (("random", "random"), ("session_id", "legacy_session_id"),
                           ("legacy_version", "legacy_version")):
            if getattr(ch, attr) != getattr(first, attr):
                raise IllegalParameter(f"second ClientHello changed {name} (4.1.2: it must "
                                       "repeat the first hello's)")
        if ch.cipher_suites != first.cipher_suites:
            raise IllegalParameter("second ClientHello changed the cipher suites")
        exts = ch.extensions
        if not self.cookie:
            if offer.cookie is not None:
                raise IllegalParameter("second ClientHello has a cookie, but none was sent")
        elif offer.cookie is None or not hmac.compare_digest(offer.cookie, self.cookie):
            raise IllegalParameter("second ClientHello does not return the cookie")
        shares = offer.shares
        if shares is None:
            raise MissingExtension("second ClientHello has no key_share")
        if len(shares) != 1 or shares[0][0] != self.group:
            raise IllegalParameter("second ClientHello must carry exactly the requested share")
        if _E.early_data in exts:
            raise IllegalParameter("early_data after a HelloRetryRequest")
        if _E.pre_shared_key in exts and _E.pre_shared_key not in first.extensions:
            raise IllegalParameter("second ClientHello adds a pre_shared_key (4.1.2: one "
                                   "offered before may be updated, none added)")
        # (RFC 9849 6.1.5: the second ClientHelloOuter's encrypted_client_hello has an
        # empty enc and a new payload, whether or not this server does ECH; but it may
        # not come or go, RFC 8446 4.1.2)
        if (_E.encrypted_client_hello in exts) != (_E.encrypted_client_hello in
                                                   first.extensions):
            raise IllegalParameter("second ClientHello adds or drops encrypted_client_hello "
                                   "(4.1.2)")
        may_change = {_E.key_share, _E.cookie, _E.early_data, _E.padding, _E.pre_shared_key,
                      _E.encrypted_client_hello}
        before = [(t, b) for t, b in first.extensions.items() if t not in may_change]
        after = [(t, b) for t, b in exts.items() if t not in may_change]
        if before != after:
            raise IllegalParameter("second ClientHello changed extensions other than those "
                                   "a HelloRetryRequest allows (4.1.2)")
        self.out.skip_early_data(0)  # 4.2.10: no early data follows a second hello

    # -- ServerHello and the server flight (4.1.3, 4.3, 4.4) ----------------------------

    def _respond(self, offer: ClientHelloView, client_share: bytes | None) -> State:
        cfg, ch = self.config, offer.hello
        suite, group = self.suite, self.group
        assert suite is not None and group is not None
        if not self.hrr_sent:
            self.transcript.start(suite.hash_name)
        early_secret = b""
        if self.early_data_accepted:  # 7.1: keyed from the PSK and Hash(ClientHello)
            early_secret = EarlySecret.start(suite, self._psk).client_early_traffic_secret(
                self.transcript.digest())
            self.keylog("CLIENT_EARLY_TRAFFIC_SECRET", early_secret)
        rng = server_rng(cfg.rng)
        server_random = rng(32)
        sh_exts = m.Extensions()
        if self._psk_ke or client_share is None:
            # 4.2.9 psk_ke: no key exchange; the PSK alone keys the handshake.
            self.group = None
            server_share, shared = b"", bytes(suite.hash_length)
        else:
            server_share, shared = crypto.server_key_exchange(group, client_share, rng)
            sh_exts[_E.key_share] = ext.encode_key_share_server(group, server_share)
        if self._psk is not None:
            sh_exts[_E.pre_shared_key] = self._psk_index.to_bytes(2, "big")
        sh_exts[_E.supported_versions] = _TLS13_BYTES
        sh = m.ServerHello(server_random, ch.session_id, suite.code, sh_exts)
        if self._ech is not None:  # RFC 9849 7.2: the random's last 8 bytes accept
            from .ech import ACCEPT_LABEL
            sh.random = server_random[:24] + bytes(8)
            sh.random = server_random[:24] + self._ech_confirm(sh, ACCEPT_LABEL, False)
        raw = sh.encode()
        self.send(raw)
        self.flush()
        hs = HandshakeSecret.from_shared(suite, shared, self._psk)
        c_hs, s_hs = hs.traffic(self.transcript.digest())
        if cfg.keylog is not None:
            self.keylog("CLIENT_HANDSHAKE_TRAFFIC_SECRET", c_hs)
            self.keylog("SERVER_HANDSHAKE_TRAFFIC_SECRET", s_hs)
        if cfg.tracer is not None:
            self.trace(T.SERVER_HELLO, message=sh, raw=raw,
                       group=group.name if self.group is not None else None,
                       client_share=client_share, server_share=server_share,
                       shared_secret=shared, cipher_suite=suite.name,
                       client_handshake_traffic_secret=c_hs,
                       server_handshake_traffic_secret=s_hs, version="TLSv1.3")
        if ch.session_id and not self._ccs_sent:  # D.4: right after the ServerHello
            self.send_ccs()
            self._ccs_sent = True
        self.set_write(s_hs)
        self.set_read(early_secret or c_hs)
        self._client_hs = c_hs
        self._send_encrypted_extensions(offer)
        if cfg.client_auth != "none" and self._psk is None:
            cr = m.CertificateRequest(b"", self._request_extensions(self._client_schemes()))
            self.send(cr.encode())
            self.trace(T.CERTIFICATE_REQUEST, message=cr)
        if self._psk is None:
            self._send_certificate(offer)
        verify_data = finished_verify_data(suite, s_hs, self.transcript.digest())
        fin_raw = m.frame(_HT.finished, verify_data)  # Finished.encode, without the object
        self.send(fin_raw)
        self.flush()
        master = hs.master()
        c_ap, s_ap, self.exporter_master = master.application(self.transcript.digest())
        if cfg.tracer is not None:
            self.trace(T.SERVER_FINISHED, message=m.Finished(verify_data), raw=fin_raw,
                       verify_data=verify_data, client_application_traffic_secret=c_ap,
                       server_application_traffic_secret=s_ap)
        if cfg.keylog is not None:
            self.keylog("CLIENT_TRAFFIC_SECRET_0", c_ap)
            self.keylog("SERVER_TRAFFIC_SECRET_0", s_ap)
            self.keylog("EXPORTER_SECRET", self.exporter_master)
        self._master = master
        self.set_write(s_ap)
        self._client_ap = c_ap
        if self.early_data_accepted:
            return _S.WAIT_END_OF_EARLY_DATA
        if cfg.client_auth != "none" and self._psk is None:
            return _S.WAIT_CERTIFICATE
        return _S.WAIT_FINISHED

    def _send_encrypted_extensions(self, offer: ClientHelloView) -> None:
        cfg = self.config
        exts = m.Extensions()
        if cfg.send_supported_groups:
            exts[_E.supported_groups] = ext.encode_u16_list(cfg._groups)
        peer_limit = offer.record_size_limit
        fragment = offer.max_fragment_length  # (decoded, so checked, even when ignored)
        if peer_limit is not None:
            # As for max_fragment_length below: accepted 0-RTT data was sent before the
            # client could see our limit, and is held to it only after EndOfEarlyData
            # (RFC 8449 4: the limit set in the handshake that keys the records).
            own = cfg.record_size_limit
            self.out.set_record_limits(
                send=min(peer_limit - 1, 1 << 14),
                receive=None if own is None or self.early_data_accepted else own - 1)
            if own is not None:
                exts[_E.record_size_limit] = ext.encode_record_size_limit(own)
        elif fragment is not None:  # RFC 6066 4; beside record_size_limit, ignored (8449 5)
            # Both ways; but accepted 0-RTT data was sent before the client could know
            # the grant, so what the client sends is held to it after EndOfEarlyData.
            self.out.set_record_limits(
                send=fragment, receive=None if self.early_data_accepted else fragment)
            exts[_E.max_fragment_length] = ext.encode_max_fragment_length(fragment)
        if self.server_name is not None:
            exts[_E.server_name] = b""
        if self.alpn is not None:
            exts[_E.application_layer_protocol_negotiation] = ext.encode_alpn([self.alpn])
        if self.early_data_accepted:
            exts[_E.early_data] = b""
        if self._ech_rejected:  # RFC 9849 7.1: the configs to retry with
            exts[_E.encrypted_client_hello] = self.config._ech_keys.retry_configs
        if self.cert_types is not None:  # RFC 7250 4.2
            exts.update(self.cert_types)
        if self.quic_transport_parameters is not None:  # RFC 9001 8.2 (`tlskit.quic`)
            exts[ext.QUIC_TRANSPORT_PARAMETERS] = self.quic_transport_parameters
        raw = m.frame(_HT.encrypted_extensions, exts.block())  # (the message's encode)
        self.send(raw)
        if cfg.tracer is not None:
            self.trace(T.ENCRYPTED_EXTENSIONS, message=m.EncryptedExtensions(exts), raw=raw,
                       alpn=self.alpn)

    def _send_certificate(self, offer: ClientHelloView) -> None:
        ck, scheme = self.certified, self.scheme
        assert ck is not None and scheme is not None
        staple = None
        if _E.status_request in offer.extensions and ck.ocsp_response is not None:
            staple = ck.ocsp_response() if callable(ck.ocsp_response) else ck.ocsp_response
        # RFC 6962 3.3.1: SCTs only to a client that asked (on the leaf's entry, 4.4.2.1)
        scts = ck._sct_list if ck._sct_list is not None \
            and _E.signed_certificate_timestamp in offer.extensions else None
        if staple or scts:
            problem = leaf_entry_overflow(staple, scts)  # (a callable's staple: unchecked)
            if problem is not None:
                raise InternalError(problem)
            cert = _certificate_message(ck, staple, scts)
            raw = cert.encode()
        else:  # the same bytes for every client: encoded once per certificate
            raw = ck._certificate13 or _encode_once(ck)
        if self._compression is not None:  # RFC 8879: the same message, compressed
            self.send(_compressed_once(ck, self._compression, staple, scts is not None, raw))
        else:
            self.send(raw)
        if self.config.tracer is not None:
            self.trace(T.CERTIFICATE, message=_certificate_message(ck, staple, scts), raw=raw,
                       chain=ck.chain, ocsp_response=staple, compressed=self._compression,
                       certificate_type="X.509" if ck.chain else "RawPublicKey",
                       raw_public_key=None if ck.chain else ck.cert_der[0])
        signature = crypto.sign(ck.private_key, scheme, CV_SERVER + self.transcript.digest())
        cv = m.CertificateVerify(scheme, signature)
        raw = cv.encode()
        self.send(raw)
        if self.config.tracer is not None:
            self.trace(T.CERTIFICATE_VERIFY, message=cv, raw=raw, scheme=scheme.name)

    # -- 0-RTT data (4.2.10, 4.5) --------------------------------------------------------

    def receive_early_data(self, payload: bytes) -> bool:
        """Accepted early data, up to the ticket's limit (more is unexpected_message);
        the application hook may hold a chunk back until the handshake completes."""
        if self.state is not _S.WAIT_END_OF_EARLY_DATA:
            return False
        self._early_limit -= len(payload)
        if self._early_limit < 0:
            raise UnexpectedMessage("early data beyond max_early_data_size (4.2.10)")
        if not payload:
            return True
        hook = self.config.accept_early_data
        if hook is None or hook(payload):
            self.out.emit(EarlyDataReceived(payload))
        else:
            self._held.append(payload)
        return True

    def on_end_of_early_data(self, msg: m.EndOfEarlyData, raw: bytes) -> State:
        """4.5: the client's early data ends; its handshake key protects what follows,
        within our record_size_limit or a granted max_fragment_length from here on."""
        self.set_read(self._client_hs)
        offer = self._offer_view
        assert offer is not None  # (early data is accepted only in answer to a hello)
        own = self.config.record_size_limit
        if offer.record_size_limit is not None:
            if own is not None:
                self.out.set_record_limits(receive=own - 1)
        elif offer.max_fragment_length is not None:
            self.out.set_record_limits(receive=offer.max_fragment_length)
        return _S.WAIT_FINISHED

    # -- client authentication (4.4.2, 4.4.3) ----------------------------------------

    def on_certificate(self, cert: m.Certificate, raw: bytes) -> State:
        if cert.request_context:
            raise IllegalParameter("client Certificate context must be empty")
        _check_entries(cert)
        if not cert.entries:
            if self.config.client_auth == "required":
                raise CertificateRequired("the client sent no certificate")
            return _S.WAIT_FINISHED
        if self.auth.raw_expected:  # RFC 7250: one SPKI, pinned
            self.auth.raw_key = read_raw_key([e.cert_data for e in cert.entries],
                                             self.config._client_pins, "client",
                                             "pinned_client_keys")
            self.trace(T.CLIENT_CERTIFICATE, chain=[], certificate_type="RawPublicKey",
                       raw_public_key=self.auth.raw_key.spki)
            return _S.WAIT_CERTIFICATE_VERIFY
        chain = parse_chain([e.cert_data for e in cert.entries], "client")
        verify_client_chain(self.config, chain)
        self.auth.chain = chain
        self.trace(T.CLIENT_CERTIFICATE, chain=chain)
        return _S.WAIT_CERTIFICATE_VERIFY

    def on_certificate_verify(self, cv: m.CertificateVerify, raw: bytes) -> State:
        auth = self.auth
        self.check_certificate_verify(cv, auth.chain[0] if auth.raw_key is None
                                      else auth.raw_key, self._client_schemes(),
                                      CV_CLIENT, self.hash_before)
        self.auth.scheme = SignatureScheme(cv.algorithm)
        self.trace(T.CLIENT_CERTIFICATE_VERIFY, message=cv, raw=raw,
                   scheme=self.auth.scheme.name)
        return _S.WAIT_FINISHED

    def on_finished(self, fin: m.Finished, raw: bytes) -> State:
        assert self.suite is not None
        self.check_finished(fin, finished_verify_data(self.suite, self._client_hs,
                                                      self.hash_before))
        self.set_read(self._client_ap)
        assert self._master is not None
        if self.config.session_tickets > 0:  # (only `_send_tickets` reads it: 4.6.1)
            self.resumption_master = self._master.resumption(self.transcript.digest())
        self._master = None
        self.client_ap = self._client_ap
        if self.client_offered_pha:  # only 4.6.2 (`request_client_certificate`) needs it
            self.final_transcript = self.transcript.copy()
        self._client_hs = self._client_ap = b""
        if self.config.tracer is not None:
            self.trace(T.CLIENT_FINISHED, message=fin, raw=raw, verify_data=fin.verify_data)
        psk_identity, psk_fingerprint = self._psk_authentication()
        self._send_tickets(psk_identity, psk_fingerprint)
        resumed = self._psk is not None and self._external is None
        self.out.emit(self.complete_event(
            self.auth, group=self.group, scheme=None if self._psk is not None else self.scheme,
            alpn=self.alpn, resumed=resumed, server_name=self.server_name,
            early_data_accepted=self.early_data_accepted, ech_accepted=self._ech is not None,
            psk_identity=psk_identity))
        if self._held:  # deferred 0-RTT data: the handshake is now known not to be a replay
            self.out.emit(DataReceived(b"".join(self._held)))
            self._held = []
        return _S.CONNECTED

    # -- post-handshake client authentication (4.6.2) -----------------------------------

    def _request_extensions(self, schemes: list[int]) -> m.Extensions:
        """A CertificateRequest's extensions: the schemes, and the client CA names
        (4.2.4) when the config has them."""
        exts = m.Extensions({_E.signature_algorithms: ext.encode_u16_list(schemes)})
        if self.config._ca_names_ext:
            exts[_E.certificate_authorities] = self.config._ca_names_ext
        return exts

    def request_client_certificate(self) -> None:
        """Send a CertificateRequest on the open connection; the answer is reported as
        `ClientCertificateReceived` (after its Finished verifies)."""
        from ..errors import UsageError
        if self.state is not _S.CONNECTED:
            raise UsageError("a client certificate can be requested on an open TLS 1.3 "
                             "connection, one request at a time")
        if not self.client_offered_pha:
            raise UsageError("the client did not offer post_handshake_auth (RFC 8446 4.6.2)")
        if self.config.get_client_verifier() is None and not self.auth.raw_expected:
            raise UsageError("set ServerConfig.client_trust_anchors (or client_verifier) "
                             "to check a client certificate")
        self.start_post_handshake_transcript()
        self._pha_context = server_rng(self.config.rng)(32)
        self._pha_chain, self._pha_raw = [], None
        cr = m.CertificateRequest(self._pha_context,
                                  self._request_extensions(list(crypto.HANDSHAKE_SCHEMES)))
        self.send(cr.encode())
        self.flush()
        self.trace(T.CERTIFICATE_REQUEST, message=cr)
        self.state = _S.PHA_WAIT_CERTIFICATE

    def on_pha_certificate(self, cert: m.Certificate, raw: bytes) -> State:
        if not hmac.compare_digest(cert.request_context, self._pha_context):
            raise IllegalParameter("Certificate context does not match the request")
        _check_entries(cert)
        if not cert.entries:  # declined: reported once its Finished verifies
            return _S.PHA_WAIT_FINISHED
        if self.auth.raw_expected:  # RFC 7250: the type the handshake negotiated
            self._pha_raw = read_raw_key([e.cert_data for e in cert.entries],
                                         self.config._client_pins, "client",
                                         "pinned_client_keys")
            self.trace(T.CLIENT_CERTIFICATE, chain=[], certificate_type="RawPublicKey",
                       raw_public_key=self._pha_raw.spki)
            return _S.PHA_WAIT_CERTIFICATE_VERIFY
        chain = parse_chain([e.cert_data for e in cert.entries], "client")
        verify_client_chain(self.config, chain)
        self._pha_chain = chain
        self.trace(T.CLIENT_CERTIFICATE, chain=chain)
        return _S.PHA_WAIT_CERTIFICATE_VERIFY

    def on_pha_certificate_verify(self, cv: m.CertificateVerify, raw: bytes) -> State:
        self.check_certificate_verify(cv, self._pha_chain[0] if self._pha_raw is None
                                      else self._pha_raw, self._client_schemes(),
                                      CV_CLIENT, self.hash_before)
        self.trace(T.CLIENT_CERTIFICATE_VERIFY, message=cv, raw=raw,
                   scheme=SignatureScheme(cv.algorithm).name)
        return _S.PHA_WAIT_FINISHED

    def on_pha_finished(self, fin: m.Finished, raw: bytes) -> State:
        self.check_finished(fin, self.finished_for(self.client_ap, self.hash_before))
        key = self._pha_raw
        if self._pha_chain:
            self.auth.chain = self._pha_chain
        elif key is not None:
            self.auth.raw_key = key
        self.out.emit(ClientCertificateReceived(list(self._pha_chain),
                                                None if key is None else key.spki))
        self._pha_chain, self._pha_raw = [], None
        self._pha_context = b""
        return _S.CONNECTED

    def _psk_authentication(self) -> tuple[bytes | None, bytes]:
        """The identity and key fingerprint of the external PSK that authenticated the
        client: the one accepted now, or the one its resumed session inherited (4.6.1)."""
        external, ticket = self._external, self._ticket
        if external is not None:
            return external.identity, fingerprint(external)
        if ticket is not None and self._psk is not None:
            return ticket.external_identity, ticket.external_fingerprint
        return None, b""

    # -- session tickets (4.6.1) ------------------------------------------------------

    def _send_tickets(self, psk_identity: bytes | None, psk_fingerprint: bytes) -> None:
        """The handshake's end: remember how the client was authenticated (for tickets
        sent on demand later, `send_session_ticket`) and send the config's count, unless
        tickets go only on demand (``automatic_tickets=False``)."""
        cfg = self.config
        if cfg.session_tickets <= 0:
            return  # tickets off: `send_session_ticket` refuses, nothing to remember
        self._ticket_auth = (psk_identity, psk_fingerprint)
        self.tickets_sent = 0
        if self.automatic_tickets and cfg.automatic_tickets:
            self._issue_tickets(cfg.session_tickets, cfg.max_early_data_size)

    def send_session_ticket(self, early_data: bool | None) -> bool:
        """One more ticket on the open connection (as OpenSSL's SSL_new_session_ticket):
        it carries the client identity known now (after a post-handshake authentication,
        that chain). ``early_data`` None: 0-RTT as the config allows; False: none; True:
        the config's limit, refused when it allows none. The TLS and QUIC connections
        both call this; it returns whether a ticket was queued (False: the session store
        could not be reached)."""
        from ..errors import UsageError
        cfg = self.config
        if not self.complete:
            raise UsageError("send_session_ticket: the handshake is not complete (a "
                             "ticket follows the client's Finished, RFC 8446 4.6.1)")
        if cfg.session_tickets <= 0:
            raise UsageError("send_session_ticket: the ServerConfig has session_tickets=0, "
                             "so this server resumes no ticket; set it > 0 (and "
                             "automatic_tickets=False to send tickets only on demand)")
        if early_data and cfg.max_early_data_size <= 0:
            raise UsageError("send_session_ticket(early_data=True): the ServerConfig has "
                             "max_early_data_size=0, so this server accepts no 0-RTT")
        if self.tickets_sent >= MAX_TICKETS_PER_CONNECTION:
            raise UsageError(f"send_session_ticket: {MAX_TICKETS_PER_CONNECTION} tickets "
                             "were sent on this connection, as many as its one-byte ticket "
                             "nonces allow (RFC 8446 4.6.1: unique per connection)")
        return self._issue_tickets(1, 0 if early_data is False else cfg.max_early_data_size)

    def _issue_tickets(self, count: int, max_early_data: int) -> bool:
        """4.6.1: `count` tickets to resume with, each sealing its own PSK (and the
        external PSK identity that authenticated this session, if any), allowing
        `max_early_data` bytes of 0-RTT (0: none). Nonces go on from the last one this
        connection used (one byte each, unique per connection: at most 256 tickets). The
        store's ticket key is looked up once for all of them and the rng asked once (16
        bytes each: the seal nonce and age_add). False when the store is unreachable."""
        cfg = self.config
        assert self.suite is not None
        if count <= 0:
            return False
        first_nonce = self.tickets_sent
        self.tickets_sent += count
        psk_identity, psk_fingerprint = self._ticket_auth
        # The client's identity travels in the ticket, so a resumed session reports (and
        # re-validates) the certificate the full handshake verified.
        raw_key = self.auth.raw_key
        client_chain = [c.public_bytes(Encoding.DER) for c in self.auth.chain] \
            if raw_key is None else [raw_key.spki]
        end_point = self.session_end_point if self.certified is None \
            else self.certified._end_point  # RFC 5929 4.1: the certificate it was made with
        issued_ms = int(cfg.clock() * 1000)
        nst_exts = m.Extensions()
        if max_early_data > 0:  # 4.6.1: this ticket may carry 0-RTT data
            nst_exts[_E.early_data] = max_early_data.to_bytes(4, "big")
        random = server_rng(cfg.rng)(16 * count)
        nonces, age_adds, bodies = [], [], []
        for i in range(count):
            nonce = bytes((first_nonce + i,))
            age_add = int.from_bytes(random[16 * i + 12:16 * i + 16], "big")
            state = TicketState(self.suite, resumption_psk(self.suite, self.resumption_master,
                                                           nonce),
                                issued_ms, cfg.ticket_lifetime, self.alpn, self.server_name,
                                cfg._session_context, client_chain,
                                max_early_data=max_early_data, age_add=age_add,
                                external_identity=psk_identity,
                                external_fingerprint=psk_fingerprint,
                                early_data_context=self.early_data_context,
                                client_raw_key=raw_key is not None,
                                server_end_point=end_point)
            nonces.append(nonce)
            age_adds.append(age_add)
            bodies.append(encode_state(state))
        tickets = cfg.get_ticket_sealer().seal_many(
            bodies, [random[16 * i:16 * i + 12] for i in range(count)])
        if tickets is None:
            return False  # the session store is unreachable: no tickets this time
        block = Writer()
        nst_exts.encode(block)
        tail = bytes(block.buf)
        for nonce, age_add, ticket in zip(nonces, age_adds, tickets, strict=True):
            self.send(encode_new_session_ticket(cfg.ticket_lifetime, age_add, nonce, ticket,
                                                tail), transcript=False)
            if cfg.tracer is not None:
                self.trace(T.NEW_SESSION_TICKET, message=m.NewSessionTicket(
                    cfg.ticket_lifetime, age_add, nonce, ticket, nst_exts))
        self.flush()
        return True


def _psk_ke_mode(offer: ClientHelloView, allow_psk_ke: bool) -> bool | None:
    """4.2.9: psk_dhe_ke when offered (False), psk_ke only where the config allows it
    (True), else None: the PSK is not usable."""
    modes = offer.psk_modes
    assert modes is not None  # `_check_shape` required it beside pre_shared_key
    if PskKeyExchangeMode.psk_dhe_ke in modes:
        return False
    if allow_psk_ke and PskKeyExchangeMode.psk_ke in modes:
        return True
    return None


_NST_HEAD = struct.Struct(">BBHIIB")  # type, length (uint24 as u8 + u16), lifetime, age_add


def _early_data_skip_budget(max_early_data: int) -> int:
    """4.2.10: how many bytes of declined 0-RTT records to skip: at least what our
    tickets allow (max_early_data_size) with each full record's type byte and tag, so a
    client that sent all its ticket allowed still gets its 1-RTT handshake."""
    records = max_early_data // (1 << 14) + 1
    return max(EARLY_DATA_SKIP_LIMIT, max_early_data + (1 + 16) * records)


def encode_new_session_ticket(lifetime: int, age_add: int, nonce: bytes, ticket: bytes,
                              extensions_block: bytes) -> bytes:
    """4.6.1: the bytes of `m.NewSessionTicket(...).encode()`, without building the
    message object: a server sends a couple per connection. ``extensions_block`` is the
    encoded extensions with their length prefix."""
    if not 0 < len(ticket) < 1 << 16 or len(nonce) > 255:
        raise ValueError("ticket or ticket nonce of a length NewSessionTicket cannot carry")
    length = 4 + 4 + 1 + len(nonce) + 2 + len(ticket) + len(extensions_block)
    return b"".join((_NST_HEAD.pack(_HT.new_session_ticket, length >> 16, length & 0xFFFF,
                                    lifetime, age_add, len(nonce)),
                     nonce, len(ticket).to_bytes(2, "big"), ticket, extensions_block))


def _check_entries(cert: m.Certificate) -> None:
    """4.4.2, 4.2: a client's CertificateEntry extensions answer our CertificateRequest,
    which asks for none (misplaced: illegal_parameter; unrequested: unsupported_extension)."""
    for entry in cert.entries:
        if entry.extensions:  # (most entries: nothing to check)
            check_extensions(entry.extensions, ALLOWED_IN_CERT_ENTRY, _REQUESTED,
                             "a client CertificateEntry")


def _certificate_message(ck: CertifiedKey, staple: bytes | None,
                         scts: bytes | None = None) -> m.Certificate:
    """4.4.2: the chain, with the OCSP staple and the SCT list (RFC 6962 3.3), if any,
    on the leaf's entry (4.4.2.1)."""
    entries = [m.CertificateEntry(d) for d in ck.cert_der]
    if staple:
        entries[0].extensions[_E.status_request] = ext.encode_ocsp_status(staple)
    if scts is not None:
        entries[0].extensions[_E.signed_certificate_timestamp] = scts
    return m.Certificate(b"", entries)


def _compressed_once(ck: CertifiedKey, algorithm: int, staple: bytes | None, scts: bool,
                     raw: bytes) -> bytes:
    """The CompressedCertificate for `raw`, made once per slot of `ck`: a slot per
    (algorithm, stapled, SCTs sent), so at most 3 x 2 x 2 whatever clients offer, and
    no client's choice evicts another's (a brotli miss costs up to 100 ms); a new staple
    replaces its slot's message (compared by value: the callable may return a copy)."""
    slot = (algorithm, staple is not None, scts)
    cached = ck._compressed.get(slot)
    if cached is not None and cached[0] == staple:
        return cached[1]
    packed = certcompress.compress(algorithm, raw[4:]).encode()
    ck._compressed[slot] = (None if staple is None else bytes(staple), packed)
    return packed


def _encode_once(ck: CertifiedKey) -> bytes:
    ck._certificate13 = _certificate_message(ck, None).encode()
    return ck._certificate13


__all__ = ["ServerHandshake13"]
