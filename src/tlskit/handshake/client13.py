"""The TLS 1.3 client handshake (RFC 8446 2, 4), one method per step.

    START -> WAIT_SERVER_HELLO (-> HelloRetryRequest -> WAIT_SERVER_HELLO_AFTER_RETRY)
      -> WAIT_ENCRYPTED_EXTENSIONS -> WAIT_CERTIFICATE_OR_REQUEST [-> WAIT_CERTIFICATE]
      -> WAIT_CERTIFICATE_VERIFY -> WAIT_FINISHED -> CONNECTED
    (a resumed handshake goes from WAIT_ENCRYPTED_EXTENSIONS to WAIT_FINISHED; a TLS 1.2
    ServerHello hands the connection over to `ClientHandshake12`: HANDED_OVER)

`ClientHandshake13.TABLE` declares this; the handlers return the next state.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .. import crypto
from ..certselect import CertificateRequestInfo, choose
from ..config import ClientConfig
from ..crypto import SUITES, KeyShare
from ..enums import (
    CipherSuite,
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
    DecodeError,
    EchRejected,
    HandshakeFailure,
    IllegalParameter,
    MissingExtension,
    ProtocolVersionError,
    TLSError,
    UnexpectedMessage,
    UnsupportedExtension,
)
from ..events import HandshakeComplete, SessionTicketReceived
from ..keyschedule import EarlySecret, HandshakeSecret, finished_verify_data, resumption_psk
from ..psk import ExternalPsk, suites_for
from ..session import Session
from ..trace import TraceStep as T
from ..wire import certcompress
from ..wire import extensions as ext
from ..wire import messages as m
from ..x509.names import InvalidHostname, may_be_ip_literal, parse_server_name
from .client12 import ClientHandshake12
from .common import (
    ALLOWED_IN_CERT_ENTRY,
    ALLOWED_IN_CR,
    ALLOWED_IN_EE,
    ALLOWED_IN_HRR,
    ALLOWED_IN_NST,
    ALLOWED_IN_SH,
    CV_CLIENT,
    CV_SERVER,
    DOWNGRADE_TLS11,
    DOWNGRADE_TLS12,
    X509,
    Handshake13,
    HandshakeState,
    Output,
    PeerAuth,
    Table,
    agreed_fragment_length,
    check_placement,
    members,
    pad_client_hello,
    parse_chain,
    read_cert_type_answers,
    read_raw_key,
    resume_server_auth,
    rule,
    verify_server_chain,
)
from .common12 import Handover12
from .hello import ServerHelloView

if TYPE_CHECKING:  # (ECH's modules load with the first ECH connection: see `start`)
    from .ech import EchOffer

_E = members(ExtensionType)  # (plain attribute reads: see `members`)
_HT = members(HandshakeType)
_PV = members(ProtocolVersion)
_PSK_DHE_KE = PskKeyExchangeMode.psk_dhe_ke


class State(HandshakeState):
    START = "nothing sent yet"
    WAIT_SERVER_HELLO = "waiting for ServerHello"
    WAIT_SERVER_HELLO_AFTER_RETRY = "waiting for ServerHello after a HelloRetryRequest"
    WAIT_ENCRYPTED_EXTENSIONS = "waiting for EncryptedExtensions"
    WAIT_CERTIFICATE_OR_REQUEST = "waiting for CertificateRequest or Certificate"
    WAIT_CERTIFICATE = "waiting for Certificate"
    WAIT_CERTIFICATE_VERIFY = "waiting for CertificateVerify"
    WAIT_FINISHED = "waiting for Finished"
    CONNECTED = "connected"
    HANDED_OVER = "handed over to TLS 1.2"


_S = members(State)  # (plain attribute reads: see `members`)
TABLE: Table = {
    _S.START: {},
    _S.WAIT_SERVER_HELLO: {_HT.server_hello: rule(
        "on_server_hello", _S.WAIT_ENCRYPTED_EXTENSIONS, _S.WAIT_SERVER_HELLO_AFTER_RETRY,
        _S.HANDED_OVER)},
    _S.WAIT_SERVER_HELLO_AFTER_RETRY: {_HT.server_hello: rule(
        "on_server_hello", _S.WAIT_ENCRYPTED_EXTENSIONS)},
    _S.WAIT_ENCRYPTED_EXTENSIONS: {_HT.encrypted_extensions: rule(
        "on_encrypted_extensions", _S.WAIT_CERTIFICATE_OR_REQUEST, _S.WAIT_FINISHED)},
    _S.WAIT_CERTIFICATE_OR_REQUEST: {
        _HT.certificate_request: rule("on_certificate_request", _S.WAIT_CERTIFICATE),
        _HT.certificate: rule("on_certificate", _S.WAIT_CERTIFICATE_VERIFY),
        _HT.compressed_certificate: rule("on_compressed_certificate",
                                         _S.WAIT_CERTIFICATE_VERIFY)},
    _S.WAIT_CERTIFICATE: {
        _HT.certificate: rule("on_certificate", _S.WAIT_CERTIFICATE_VERIFY),
        _HT.compressed_certificate: rule("on_compressed_certificate",
                                         _S.WAIT_CERTIFICATE_VERIFY)},
    _S.WAIT_CERTIFICATE_VERIFY: {_HT.certificate_verify: rule(
        "on_certificate_verify", _S.WAIT_FINISHED)},
    _S.WAIT_FINISHED: {_HT.finished: rule("on_finished", _S.CONNECTED)},
    _S.CONNECTED: {
        _HT.new_session_ticket: rule("on_new_session_ticket", _S.CONNECTED),
        _HT.key_update: rule("on_key_update", _S.CONNECTED),
        _HT.certificate_request: rule("on_post_handshake_request", _S.CONNECTED)},
    _S.HANDED_OVER: {},
}


@dataclass(slots=True)
class Offer:
    """What our ClientHello offered (and, after a HelloRetryRequest, offers again)."""

    session_id: bytes = b""
    shares: dict[int, KeyShare] = field(default_factory=dict)
    extensions: set[int] = field(default_factory=set)
    cookie: bytes | None = None
    hello: m.ClientHello | None = None
    retried: bool = False
    grease_ech: bytes = b""  # RFC 9849 6.2: the GREASE extension, sent again after a retry


@dataclass(slots=True)
class PskOffer:
    """One identity of our pre_shared_key (4.2.11) and what keys its binder."""

    identity: bytes
    obfuscated_age: int
    suite: crypto.Suite  # for a ticket its own; for an external PSK one of its hash
    secret: bytes = field(repr=False)
    external: ExternalPsk | None = None


class ClientHandshake13(Handshake13):
    side = "client"
    config: ClientConfig
    STATES = State
    TABLE = TABLE
    __slots__ = ("_ccs_sent", "_client_hs_secret", "_early_write_pending", "_pha_contexts",
                 "_server_hs_secret", "alpn", "auth", "certificate_request", "early_data",
                 "early_data_accepted", "early_data_sent", "ech", "external_psk", "group",
                 "handshake_secret", "offer", "own_raw", "psk_offers", "resumed",
                 "server_name", "session")  # (see Handshake13)

    # Whether this is a QUIC client (`tlskit.quic`): only sessions of its own kind are
    # offered, and its sessions keep the server's transport parameters (set by the QUIC
    # subclass; None in TLS), which mark them as QUIC ones.
    quic = False
    peer_transport_parameters: bytes | None = None

    def __init__(self, config: ClientConfig, out: Output, server_name: str | None,
                 session: Session | None = None, early_data: bytes = b"") -> None:
        super().__init__(config, out, _S.START)
        self.server_name = server_name
        self.ech: EchOffer | None = None  # set by `start` when ECH is configured
        if config._ech is not None:  # RFC 9849 6.1: no ticket in either hello (see docs)
            session = None
        elif session is not None or config.session_cache is not None:
            session = _session_to_offer(config, session, server_name, self.quic)
        self.session = session
        self.resumed = False
        self.external_psk: ExternalPsk | None = None  # the one the server accepted (2.2)
        self.psk_offers: list[PskOffer] = []  # pre_shared_key's identities, in order
        self.offer = Offer()
        self.group: NamedGroup | None = None
        self.handshake_secret: HandshakeSecret | None = None
        self.auth = PeerAuth()
        self.alpn: str | None = None
        self.certificate_request: CertificateRequestInfo | None = None
        self._client_hs_secret = b""
        self._server_hs_secret = b""
        self._ccs_sent = False
        # 0-RTT (4.2.10): sent only on a session this client may resume whose ticket
        # allows that much early data; otherwise (or if the server declines it) the data
        # goes out as ordinary application data once the handshake is complete.
        self.early_data = early_data
        self.early_data_sent = bool(early_data) and session is not None \
            and len(early_data) <= session.max_early_data
        self.early_data_accepted = False
        self._early_write_pending = False  # still writing under the early traffic key
        self._pha_contexts: set[bytes] = set()  # post-handshake request contexts answered
        self.own_raw = False  # RFC 7250: we present our raw public key, not a certificate

    @property
    def verification_error(self) -> TLSError | None:
        return self.auth.verification_error

    # -- ClientHello (4.1.2) ---------------------------------------------------------

    def start(self) -> None:
        cfg = self.config
        self.client_random = cfg.rng(32)
        if self.session is not None and self.session.tls12:
            # RFC 5246 7.4.1.2 / RFC 5077 3.4: the session's ID, or a fresh one to go
            # with its ticket (echoed back when the server accepts it).
            self.offer.session_id = self.session.session_id or cfg.rng(32)
        elif cfg.middlebox_compat and "TLSv1.3" in cfg._versions:
            # RFC 8446 D.4: a TLS 1.3 client in compatibility mode sends a fresh ID. A
            # client of TLS 1.2 alone has no session to name: empty (RFC 5246 7.4.1.2).
            self.offer.session_id = cfg.rng(32)
        if "TLSv1.3" in cfg._versions:
            for group in cfg._share_groups:
                self.offer.shares[group] = crypto.new_key_share(group, cfg.rng)
        if cfg._ech is not None:
            from .ech import EchOffer  # (HPKE and ECH load only for a client that uses them)
            config, suite = cfg._ech
            self.ech = EchOffer.start(config, suite, cfg.rng(32))
        hello = m.ClientHello(self.client_random, self.offer.session_id,
                              [*cfg._suites, *cfg._suites12], self._hello_extensions())
        self.offer.hello = hello
        if self.ech is not None:
            self._send_ech_hellos(self.ech, hello)
        else:
            self._send_hello(hello)
        if self.early_data_sent:
            self._send_early_data()
        self.state = _S.WAIT_SERVER_HELLO

    def _send_early_data(self) -> None:
        """4.2.10, 7.1: early data under client_early_traffic_secret (keyed from the PSK
        and Hash(ClientHello)), after the compatibility CCS (D.4)."""
        session = self.session
        assert session is not None
        th = self.transcript.hash_with(session.suite.hash_name, b"")
        secret = EarlySecret.start(session.suite, session.psk).client_early_traffic_secret(th)
        self.keylog("CLIENT_EARLY_TRAFFIC_SECRET", secret)
        if self.config.middlebox_compat:
            self.send_ccs()
            self._ccs_sent = True
        self.out.install_write(session.suite, secret)
        self.out.send_application_data(self.early_data)
        self._early_write_pending = True

    def _hello_extensions(self) -> m.Extensions:
        cfg = self.config
        bodies = cfg._hello_bodies  # what depends on the config alone, encoded once
        exts = m.Extensions()
        if self.server_name:
            sni = _sni_body(self.server_name)
            if sni:
                exts[_E.server_name] = sni
        tls13 = "TLSv1.3" in cfg._versions
        tls12 = "TLSv1.2" in cfg._versions
        exts[_E.renegotiation_info] = b"\x00"  # RFC 5746: an empty renegotiated_connection
        groups = bodies.get(_E.supported_groups)
        if groups is not None:  # (absent: TLS 1.2 with no ECC suite, RFC 8422 5.1)
            exts[_E.supported_groups] = groups
            if tls12:
                exts[_E.ec_point_formats] = b"\x01\x00"  # uncompressed only (RFC 8422 5.1.2)
        if tls12:
            exts[_E.extended_master_secret] = b""
        if self.session is not None and self.session.tls12 and self.session.ticket:
            exts[_E.session_ticket] = self.session.ticket  # RFC 5077 3.2
        elif cfg.legacy_session_ticket or (tls12 and cfg.session_cache is not None):
            exts[_E.session_ticket] = b""  # ask a TLS 1.2 server for a ticket
        if tls13:
            shares = []  # (a loop: a comprehension is a frame of its own)
            for group, share in self.offer.shares.items():
                shares.append((group, share.public))
            exts[_E.key_share] = ext.encode_key_share_client(shares)
            exts[_E.supported_versions] = bodies[_E.supported_versions]
        exts[_E.signature_algorithms] = bodies[_E.signature_algorithms]
        if cfg._cert_schemes is not None:
            exts[_E.signature_algorithms_cert] = bodies[_E.signature_algorithms_cert]
        if self.offer.cookie is not None:
            exts[_E.cookie] = ext.encode_cookie(self.offer.cookie)
        if tls13:
            exts[_E.psk_key_exchange_modes] = bodies[_E.psk_key_exchange_modes]
        if self.early_data_sent and not self.offer.retried:
            exts[_E.early_data] = b""
        if cfg.record_size_limit is not None:
            exts[_E.record_size_limit] = bodies[_E.record_size_limit]
        if cfg.max_fragment_length is not None:
            exts[_E.max_fragment_length] = bodies[_E.max_fragment_length]
        if cfg.alpn_protocols:
            exts[_E.application_layer_protocol_negotiation] = bodies[
                _E.application_layer_protocol_negotiation]
        if cfg._asks_ocsp:
            exts[_E.status_request] = bodies[_E.status_request]
        if cfg._asks_scts:  # RFC 6962 3.3.1: empty in the ClientHello
            exts[_E.signed_certificate_timestamp] = b""
        if tls13 and cfg._cert_compression:
            exts[_E.compress_certificate] = bodies[_E.compress_certificate]
        if cfg._rpk_offer:  # RFC 7250 4.1: the certificate types we take and present
            if cfg._server_cert_types is not None:
                exts[_E.server_certificate_type] = bodies[_E.server_certificate_type]
            if cfg._client_cert_types is not None:
                exts[_E.client_certificate_type] = bodies[_E.client_certificate_type]
        if tls13 and cfg._pha:  # 4.2.6: we will answer a CertificateRequest after the handshake
            exts[_E.post_handshake_auth] = b""
        if tls13 and cfg.ech_grease and cfg._ech is None:
            exts[_E.encrypted_client_hello] = self._grease_ech()
        self.offer.extensions = set(exts)
        return exts

    def _grease_ech(self) -> bytes:
        """RFC 9849 6.2: an outer encrypted_client_hello no server can open (a random
        config_id, enc and payload of a real one's sizes); the same one after a retry."""
        if not self.offer.grease_ech:
            from .ech import grease_extension
            self.offer.grease_ech = grease_extension(self.config.rng)
        return self.offer.grease_ech

    def _send_ech_hellos(self, offer: EchOffer, hello: m.ClientHello) -> None:
        """RFC 9849 6.1: `hello` (the real name) becomes ClientHelloInner, sealed into a
        ClientHelloOuter naming the config's public_name; the outer one is sent and goes
        in the transcript, the inner one in its own until the ServerHello decides."""
        inner_exts, compressed = offer.inner_extensions(hello.extensions)
        inner = m.ClientHello(offer.inner_random, hello.session_id, list(self.config._suites),
                              inner_exts)
        offer.inner_hello = inner
        offer.inner_transcript.update(inner.encode())
        encoded = offer.encoded_inner(inner, compressed)
        outer = m.ClientHello(hello.random, hello.session_id, hello.cipher_suites,
                              offer.outer_extensions(hello.extensions))
        self.offer.extensions |= {_E.encrypted_client_hello}
        raw = offer.seal(outer, encoded, first=not self.offer.retried)
        self._emit_hello(outer, raw, ech="offered", ech_public_name=offer.public_name,
                         ech_config_id=offer.config.config_id,
                         inner_server_name=self.server_name)

    def _send_hello(self, hello: m.ClientHello) -> None:
        offers = self.psk_offers = self._offer_psks()
        exts = hello.extensions
        if offers:  # 4.2.11: the ticket, then external PSKs; pre_shared_key goes last
            identities = [(o.identity, o.obfuscated_age) for o in offers]
            placeholder = [bytes(o.suite.hash_length) for o in offers]
            exts[_E.pre_shared_key] = ext.encode_pre_shared_key_client(identities, placeholder)
            self.offer.extensions.add(_E.pre_shared_key)
        raw = pad_client_hello(hello, hello.encode())
        if offers:
            cut = len(raw) - ext.binders_length(placeholder)
            binders = [self.psk_binder(o.suite, o.secret, self.transcript, raw[:cut],
                                       external=o.external is not None) for o in offers]
            exts[_E.pre_shared_key] = ext.encode_pre_shared_key_client(identities, binders)
            raw = hello.encode()
        self._emit_hello(hello, raw)

    def _offer_psks(self) -> list[PskOffer]:
        """The PSKs this hello offers: the session's ticket (first: 0-RTT may only use
        the first identity, 4.2.10), then the external PSKs of a suite we offer (after a
        HelloRetryRequest, of its suite's hash only, 4.1.4)."""
        offers = []
        session = self.session
        if session is not None and not session.tls12:  # (TLS 1.2: by ID / session_ticket)
            offers.append(PskOffer(session.ticket, session.obfuscated_age(self.config.clock()),
                                   session.suite, session.psk))
        if "TLSv1.3" not in self.config._versions:
            return offers
        for psk in self.config.external_psks:  # 4.2.11: obfuscated_ticket_age 0
            suite = self._external_suite(psk)
            if suite is not None:
                offers.append(PskOffer(psk.identity, 0, suite, psk.secret, psk))
        return offers

    def _external_suite(self, psk: ExternalPsk) -> crypto.Suite | None:
        """A suite of the PSK's hash to key its binder (the hash is all it uses)."""
        if self.offer.retried:
            suite = self.suite_or_fail()
            return suite if suite.hash_name == psk.hash else None
        codes = suites_for(psk, self.config._suites)
        return SUITES[codes[0]] if codes else None

    def _emit_hello(self, hello: m.ClientHello, raw: bytes, **traced: object) -> None:
        """Send the ClientHello (`hello`, encoded as `raw`) in its own flight, and trace
        it with the ``traced`` fields besides the shares."""
        # 5.1: the first ClientHello may carry 0x0301 as its record version.
        self.out.set_hello_record_version(0x0301 if not self.offer.retried else 0x0303)
        self.send(raw)
        self.flush()
        self.out.set_hello_record_version(0x0303)
        if self.config.tracer is not None:  # (naming the shares costs: only when traced)
            self.trace(T.CLIENT_HELLO, message=hello, raw=raw, shares={
                NamedGroup(g).name: s.public for g, s in self.offer.shares.items()}, **traced)

    # -- ServerHello / HelloRetryRequest (4.1.3, 4.1.4) -------------------------------

    def on_server_hello(self, sh: m.ServerHello, raw: bytes) -> State:
        answer = ServerHelloView(sh)  # each extension decoded once, by the check that needs it
        if _E.supported_versions not in answer.extensions and "TLSv1.2" in self.config._versions \
                and not self.offer.retried and not sh.is_hello_retry_request:
            if self._early_write_pending:
                # 4.2.10: 0-RTT data was sent; a TLS 1.2 server is fatal (the alert goes
                # in the clear, which that server can read).
                self.out.clear_write()
                raise ProtocolVersionError("TLS 1.2 ServerHello after 0-RTT data (4.2.10)")
            return self._hand_over(sh, raw)
        if "TLSv1.3" not in self.config._versions:
            raise ProtocolVersionError("server selected TLS 1.3, which is not enabled")
        self._check_server_hello_common(answer)
        if sh.is_hello_retry_request:
            return self.on_hello_retry_request(answer, raw)
        exts = sh.extensions
        self.check_extensions(exts, ALLOWED_IN_SH, self.offer.extensions, "ServerHello")
        psk = self._accepted_psk(answer)
        suite = self.suite_or_fail()
        if _E.key_share not in answer.extensions:
            if psk is None:
                raise MissingExtension("ServerHello has neither key_share nor pre_shared_key "
                                       "(4.2.8: a full handshake needs the server's share)")
            if PskKeyExchangeMode.psk_ke not in self.config._psk_modes:
                # 4.2.11: the share our psk_key_exchange_modes require is missing.
                raise IllegalParameter("ServerHello selects the PSK without key_share, "
                                       "but psk_ke was not offered (4.2.11)")
            group, server_public, share = None, b"", None  # 4.2.9 psk_ke: the PSK alone
        else:
            if _PSK_DHE_KE not in self.config._psk_modes and psk is not None:
                raise IllegalParameter("server resumed with psk_dhe_ke, which was not offered")
            assert answer.share is not None
            group, server_public = answer.share
            share = self.offer.shares.get(group)
            if share is None:
                raise IllegalParameter(f"server key share for {NamedGroup(group).name}, "
                                       "which has no client share")
        if self.ech is not None and self.ech.check_server_hello(suite, raw, sh.random):
            self._ech_accepted(self.ech)
        if not self.offer.retried:
            self.transcript.start(suite.hash_name)
        else:
            # After a HelloRetryRequest, Java's JSSE sends a compatibility CCS before this
            # ServerHello and another after it; RFC 8446 5 says to drop any 0x01 CCS
            # before the peer's Finished, so one more is accepted from here on (still at
            # most one per ServerHello: two in a row stay unexpected_message).
            self.ccs_seen = False
        self.transcript.update(raw)
        if share is None or group is None:
            shared = bytes(suite.hash_length)
        else:
            shared = share.exchange(server_public)
            self.group = group_of(group)
        self.offer.shares = {}
        hs = HandshakeSecret.from_shared(suite, shared, psk)
        self.handshake_secret = hs
        c_hs, s_hs = hs.traffic(self.transcript.digest())
        if self.config.keylog is not None:
            self.keylog("CLIENT_HANDSHAKE_TRAFFIC_SECRET", c_hs)
            self.keylog("SERVER_HANDSHAKE_TRAFFIC_SECRET", s_hs)
        if self.config.tracer is not None:
            self.trace(T.SERVER_HELLO, message=sh, raw=raw,
                       group=self.group.name if self.group is not None else None,
                       server_share=server_public, shared_secret=shared,
                       cipher_suite=suite.name, client_handshake_traffic_secret=c_hs,
                       server_handshake_traffic_secret=s_hs, version="TLSv1.3",
                       ech=None if self.ech is None else
                       "accepted" if self.ech.accepted else "rejected")
        self.set_read(s_hs)
        self._server_hs_secret = s_hs
        self._client_hs_secret = c_hs
        # Our own records (an alert, or the second flight) go under the handshake key from
        # now on; the compatibility CCS comes first (RFC 8446 D.4).
        if self.config.middlebox_compat and not self._ccs_sent:
            self.send_ccs()
            self._ccs_sent = True
        if not (self._early_write_pending and self.resumed):
            # Early data (if any) was declined with the PSK; else EncryptedExtensions tells.
            self._early_write_pending = False
            self.set_write(c_hs)
        return _S.WAIT_ENCRYPTED_EXTENSIONS

    def _ech_accepted(self, ech: EchOffer) -> None:
        """RFC 9849 6.1.4: the handshake goes on as the inner hello's."""
        self.transcript = ech.inner_transcript
        self.client_random = ech.inner_random
        self.offer.hello = ech.inner_hello

    def _hand_over(self, sh: m.ServerHello, raw: bytes) -> State:
        """A TLS 1.2 ServerHello: `ClientHandshake12` continues from what was sent."""
        self.refuse_unnamed_certificate()
        ech = self.ech
        if ech is not None:  # RFC 9849 6.1.6: TLS 1.2 is a rejection; authenticate the
            ech.accepted = False  # public name, then end with ech_required
        successor = ClientHandshake12(Handover12(
            config=self.config, out=self.out, transcript=self.transcript,
            client_random=self.client_random,
            server_name=self.server_name if ech is None else ech.public_name,
            offered=self.offer.extensions,
            session=self.session if self.session is not None and self.session.tls12 else None,
            session_id=self.offer.session_id, ech_rejected=ech is not None))
        self.successor = successor
        successor.take_over(_HT.server_hello, sh, raw)
        return _S.HANDED_OVER

    def _accepted_psk(self, answer: ServerHelloView) -> bytes | None:
        """4.2.11: the server may pick one identity we offered; the suite's hash must be
        the PSK's."""
        selected = answer.selected_identity
        if selected is None:
            return None
        offers = self.psk_offers
        assert offers  # otherwise check_extensions rejected it
        if selected >= len(offers):
            raise IllegalParameter(f"server selected PSK identity {selected}, but only "
                                   f"identities 0..{len(offers) - 1} were offered")
        chosen = offers[selected]
        if self.suite_or_fail().hash_name != chosen.suite.hash_name:
            raise IllegalParameter("server selected a PSK with a suite whose hash differs "
                                   "from the PSK's (4.2.11)")
        if chosen.external is not None:
            self.external_psk = chosen.external
        else:
            self.resumed = True
        return chosen.secret

    def ccs_allowed(self) -> bool:
        """D.4: the compatibility CCS only exists when TLS 1.3 is on offer."""
        return "TLSv1.3" in self.config._versions

    def suite_or_fail(self) -> crypto.Suite:
        assert self.suite is not None
        return self.suite

    def _check_server_hello_common(self, answer: ServerHelloView) -> None:
        sh = answer.hello
        if _E.supported_versions not in answer.extensions:
            if self.offer.retried:  # 4.1.4: the HelloRetryRequest's TLS 1.3 must stay
                raise IllegalParameter("ServerHello after a HelloRetryRequest lacks "
                                       "supported_versions: the retry selected TLS 1.3, "
                                       "which must be kept (4.1.4)")
            # A TLS 1.2 (or older) server while TLS 1.2 is not enabled.
            tail = sh.random[-8:]
            if tail in (DOWNGRADE_TLS12, DOWNGRADE_TLS11):
                raise IllegalParameter("downgrade sentinel in ServerHello.random (4.1.3)")
            raise ProtocolVersionError(
                f"server chose {ProtocolVersion(sh.legacy_version).label}; only TLS 1.3 "
                "is enabled")
        if sh.legacy_version <= 0x0300:  # D.5: SSL 3.0 or older in any Hello
            raise ProtocolVersionError(
                f"ServerHello legacy_version {sh.legacy_version:#06x} is SSL 3.0 or older, "
                "which no TLS 1.3 Hello may carry (RFC 8446 D.5)")
        version = answer.version
        if version != _PV.TLSv1_3:
            raise IllegalParameter(f"server selected version {version:#06x} not offered")
        if sh.legacy_version != 0x0303:
            raise IllegalParameter("ServerHello.legacy_version must be 0x0303")
        if sh.session_id != self.offer.session_id:
            raise IllegalParameter("ServerHello does not echo legacy_session_id")
        if sh.compression_method != 0:
            raise IllegalParameter("ServerHello.legacy_compression_method must be 0")
        if sh.cipher_suite not in self.config._suites:
            raise IllegalParameter(
                f"server chose cipher suite {CipherSuite(sh.cipher_suite).name}, not offered")
        if self.suite is not None and self.suite.code != sh.cipher_suite:
            raise IllegalParameter("ServerHello cipher suite differs from the HelloRetryRequest")
        self.suite = SUITES[sh.cipher_suite]

    def on_hello_retry_request(self, answer: ServerHelloView, raw: bytes) -> State:
        hrr, offer = answer.hello, self.offer
        if offer.retried:
            raise UnexpectedMessage("a second HelloRetryRequest")
        offer.retried = True
        exts = hrr.extensions
        self.check_extensions(exts, ALLOWED_IN_HRR, offer.extensions | {_E.cookie},
                              "HelloRetryRequest")
        if _E.key_share not in exts and _E.cookie not in exts:
            raise IllegalParameter("HelloRetryRequest would not change the ClientHello")
        suite = self.suite_or_fail()
        if self.session is not None and self.session.suite.hash_name != suite.hash_name:
            self.session = None  # the ticket cannot be used with this suite's hash
        if self.ech is not None:
            self.ech.check_hello_retry_request(suite, raw, exts)
        elif _E.encrypted_client_hello in exts:  # 6.2: GREASE: checked, then ignored
            from ..wire.ech import decode_hrr_confirmation
            decode_hrr_confirmation(exts[_E.encrypted_client_hello])
        self.transcript.restart_after_hrr(suite.hash_name)
        self.transcript.update(raw)
        if answer.cookie is not None:
            offer.cookie = answer.cookie
        group = answer.retry_group
        if group is not None:
            if group not in self.config._groups or group in offer.shares:
                raise IllegalParameter(
                    f"HelloRetryRequest asks for {NamedGroup(group).name}, which was not "
                    "offered or already has a share")
            if group not in crypto.IMPLEMENTED_GROUPS:
                raise HandshakeFailure(f"group {NamedGroup(group).name} is not implemented")
            offer.shares = {group: crypto.new_key_share(group, self.config.rng)}
        self.trace(T.HELLO_RETRY_REQUEST, message=hrr, raw=raw,
                   group=NamedGroup(next(iter(offer.shares))).name, cookie=offer.cookie)
        if self.config.middlebox_compat and not self._ccs_sent:
            self.send_ccs()
            self._ccs_sent = True
        if self._early_write_pending:  # 4.2.10: a retry declines 0-RTT; hello 2 is plain
            self.out.clear_write()
            self._early_write_pending = False
        assert offer.hello is not None
        hello = m.ClientHello(self.client_random, offer.session_id,
                              offer.hello.cipher_suites, self._hello_extensions())
        offer.hello = hello
        if self.ech is not None:
            self._send_ech_hellos(self.ech, hello)
        else:
            self._send_hello(hello)
        return _S.WAIT_SERVER_HELLO_AFTER_RETRY

    # -- EncryptedExtensions (4.3.1) --------------------------------------------------

    def on_encrypted_extensions(self, ee: m.EncryptedExtensions, raw: bytes) -> State:
        exts = ee.extensions
        self.check_extensions(exts, ALLOWED_IN_EE, self.offer.extensions,
                              "EncryptedExtensions")
        if exts.get(_E.server_name):
            raise DecodeError("server_name in EncryptedExtensions must be empty")
        if _E.encrypted_client_hello in exts:
            self._ech_retry_configs(exts[_E.encrypted_client_hello])
        if _E.supported_groups in exts:
            ext.decode_u16_list(exts[_E.supported_groups], "supported_groups")
        alpn_body = exts.get(_E.application_layer_protocol_negotiation)
        if alpn_body is not None:
            chosen = ext.decode_alpn(alpn_body)
            if len(chosen) != 1 or chosen[0] not in self.config.alpn_protocols:
                raise IllegalParameter(f"server selected ALPN {chosen!r}, not one offered")
            self.alpn = chosen[0]
        if _E.record_size_limit in exts:
            limit = ext.decode_record_size_limit(exts[_E.record_size_limit])
            own = self.config.record_size_limit
            self.out.set_record_limits(  # 8449 4: the limit includes the content type
                send=min(limit - 1, 1 << 14), receive=None if own is None else own - 1)
        if _E.max_fragment_length in exts:  # RFC 6066 4: both ways, from the next record
            size = agreed_fragment_length(exts, self.config)
            self.out.set_record_limits(send=size, receive=size)
        if _E.early_data in exts:
            self._check_early_data_accepted(exts[_E.early_data])
        elif self._early_write_pending:
            self._early_write_pending = False
            self.set_write(self._client_hs_secret)
        if self.config.tracer is not None:
            self.trace(T.ENCRYPTED_EXTENSIONS, message=ee, raw=raw, alpn=self.alpn)
        if self.resumed:  # 2.2: the PSK authenticates the server; Finished comes next
            assert self.session is not None
            resume_server_auth(self.auth, self.session, self.config)
            return _S.WAIT_FINISHED
        if self.external_psk is not None:  # 2.2: so does an external PSK (a Certificate
            return _S.WAIT_FINISHED  # now is unexpected_message, 4.3.2)
        if self.config._rpk_offer:  # RFC 7250 4.2: the certificate types chosen
            self.own_raw = read_cert_type_answers(self.config, exts, self.auth)
        self.refuse_unnamed_certificate()
        return _S.WAIT_CERTIFICATE_OR_REQUEST

    def refuse_unnamed_certificate(self) -> None:
        """A client dialling no name may only be authenticated by its external PSKs: a
        certificate could not be checked against a name (handshake_failure). A pinned
        raw public key (RFC 7250) needs no name."""
        cfg = self.config
        if self.server_name is None and cfg.external_psks and cfg.check_hostname \
                and cfg.verify_mode == "required" and not self.auth.raw_expected:
            raise HandshakeFailure("the server took none of our external PSKs, and without "
                                   "a server_name its certificate cannot be checked")

    def _ech_retry_configs(self, body: bytes) -> None:
        """RFC 9849 5, 6.1.4: retry_configs come only with a rejection (6.2: after
        GREASE, checked and ignored)."""
        ech = self.ech
        if ech is not None and ech.accepted:
            raise UnsupportedExtension("encrypted_client_hello in EncryptedExtensions after "
                                       "the server accepted ECH (RFC 9849 6.1.4)")
        from ..wire.ech import decode_retry_configs
        configs = decode_retry_configs(body)
        if ech is not None:
            ech.retry_configs = configs

    def _check_early_data_accepted(self, body: bytes) -> None:
        """4.2.10: acceptance is only valid for our 0-RTT on the first PSK, under the
        session's suite and ALPN."""
        session = self.session
        if body:
            raise DecodeError("early_data in EncryptedExtensions must be empty")
        if not self._early_write_pending or session is None or not self.resumed:
            raise IllegalParameter("server accepted early data, but none was sent")
        if self.suite_or_fail().code != session.suite.code \
                or self.alpn != session.alpn_protocol:
            raise IllegalParameter("server accepted early data under another cipher suite "
                                   "or ALPN protocol than the session's")
        self.early_data_accepted = True

    def on_certificate_request(self, cr: m.CertificateRequest, raw: bytes) -> State:
        if cr.request_context:
            raise IllegalParameter("CertificateRequest context must be empty in the handshake")
        self.certificate_request = self._read_request(cr, raw)
        return _S.WAIT_CERTIFICATE

    def _read_request(self, cr: m.CertificateRequest, raw: bytes) -> CertificateRequestInfo:
        """4.3.2: what a CertificateRequest asks for; its CA names are read strictly
        (4.2.4), whether or not a certificate is chosen by them."""
        check_placement(cr.extensions, ALLOWED_IN_CR, "CertificateRequest")
        if _E.signature_algorithms not in cr.extensions:
            raise MissingExtension("CertificateRequest without signature_algorithms")
        schemes = ext.decode_u16_list(cr.extensions[_E.signature_algorithms],
                                      "signature_algorithms")
        body = cr.extensions.get(_E.certificate_authorities)
        ders = ext.decode_ca_names(body) if body is not None else []
        info = CertificateRequestInfo.received(ders, schemes, "TLSv1.3", self.server_name)
        if self.config.tracer is not None:
            self.trace(T.CERTIFICATE_REQUEST, message=cr, raw=raw,
                       certificate_authorities=info.names())
        return info

    # -- Certificate, CertificateVerify (4.4.2, 4.4.3) --------------------------------

    def on_compressed_certificate(self, cc: m.CompressedCertificate, raw: bytes) -> State:
        """RFC 8879 4: a compressed Certificate, in an algorithm we offered."""
        if _E.compress_certificate not in self.offer.extensions:  # 4: no such message then
            raise UnexpectedMessage("CompressedCertificate, but our ClientHello offered no "
                                    "compress_certificate (RFC 8879 3)")
        if cc.algorithm not in self.config._cert_compression:  # 4: one of those offered
            offered = ", ".join(certcompress.NAMES[a] for a in self.config._cert_compression)
            raise IllegalParameter(
                f"server compressed its certificate with "
                f"{certcompress.NAMES.get(cc.algorithm, 'unknown')} ({cc.algorithm}), which "
                f"the ClientHello did not offer (offered: {offered}; RFC 8879 4)")
        body = certcompress.decompress(cc, self.config.max_handshake_message)
        self.trace(T.COMPRESSED_CERTIFICATE, algorithm=certcompress.NAMES.get(cc.algorithm),
                   compressed=len(cc.compressed), uncompressed=len(body))
        return self.on_certificate(m.Certificate.decode(body), raw)

    def on_certificate(self, cert: m.Certificate, raw: bytes) -> State:
        if cert.request_context:
            raise IllegalParameter("server Certificate has a non-empty request context")
        if not cert.entries:
            raise DecodeError("server sent an empty Certificate message (4.4.2.4)")
        auth = self.auth
        if auth.raw_expected:  # RFC 7250
            return self._on_raw_key(cert, raw)
        for i, entry in enumerate(cert.entries):
            if not entry.extensions:
                continue  # (most entries: nothing to check)
            # 4.2: a response to what we asked for (SCTs only with request_scts)
            self.check_extensions(entry.extensions, ALLOWED_IN_CERT_ENTRY,
                                  self.offer.extensions, "CertificateEntry")
            if _E.status_request in entry.extensions:
                # 4.4.2.1: a status may come with any certificate; tlskit uses the leaf's.
                status = ext.decode_ocsp_status(entry.extensions[_E.status_request])
                if i == 0:
                    auth.ocsp_response = status
            if _E.signed_certificate_timestamp in entry.extensions:
                # 4.4.2.1, RFC 6962 3.3: SCTs for the certificate of their entry; the
                # leaf's are kept, every list must parse (decode_error otherwise).
                from ..wire.sct import decode_sct_list  # (only for clients that asked)
                scts = decode_sct_list(entry.extensions[_E.signed_certificate_timestamp])
                if i == 0:
                    auth.scts = scts
        auth.chain = parse_chain([e.cert_data for e in cert.entries], "server")
        if self.config.tracer is not None:
            self.trace(T.CERTIFICATE, message=cert, raw=raw, chain=auth.chain,
                       ocsp_response=auth.ocsp_response)
        ech = self.ech
        # RFC 9849 6.1.6: after a rejection the certificate must be the public name's.
        if ech is None or ech.accepted:
            verify_server_chain(self, auth, self.server_name)
        else:  # (checked even with check_hostname off: the retry configs are its word)
            verify_server_chain(self, auth, ech.public_name, ech_public_name=True)
        return _S.WAIT_CERTIFICATE_VERIFY

    def _on_raw_key(self, cert: m.Certificate, raw: bytes) -> State:
        """RFC 7250 3, RFC 8446 4.4.2: one entry, the server's SubjectPublicKeyInfo,
        which must be pinned. No name is checked: a raw key carries none, and the pin
        itself says which server it is (the application chose the pins for the peer
        it dials)."""
        for entry in cert.entries:
            if entry.extensions:  # 4.2: as for a certificate's entry (a staple is ignored)
                self.check_extensions(entry.extensions, ALLOWED_IN_CERT_ENTRY,
                                      self.offer.extensions, "CertificateEntry")
        auth = self.auth
        auth.raw_key = read_raw_key([e.cert_data for e in cert.entries],
                                    self.config._server_pins, "server", "pinned_server_keys")
        auth.authenticated = True
        self.trace(T.CERTIFICATE, message=cert, raw=raw, chain=[],
                   certificate_type="RawPublicKey", raw_public_key=auth.raw_key.spki)
        return _S.WAIT_CERTIFICATE_VERIFY

    def on_certificate_verify(self, cv: m.CertificateVerify, raw: bytes) -> State:
        auth = self.auth
        self.check_certificate_verify(cv, auth.chain[0] if auth.raw_key is None
                                      else auth.raw_key, self.config._schemes,
                                      CV_SERVER, self.hash_before)
        self.auth.scheme = scheme_of(cv.algorithm)
        if self.config.tracer is not None:
            self.trace(T.CERTIFICATE_VERIFY, message=cv, raw=raw, scheme=self.auth.scheme.name)
        return _S.WAIT_FINISHED

    # -- Finished (4.4.4) and the switch to application keys ---------------------------

    def on_finished(self, fin: m.Finished, raw: bytes) -> State:
        assert self.handshake_secret is not None
        suite = self.handshake_secret.suite
        expected = finished_verify_data(suite, self._server_hs_secret, self.hash_before)
        self.check_finished(fin, expected)
        if self.ech is not None and not self.ech.accepted:
            self._ech_rejected(self.ech)
        master = self.handshake_secret.master()
        th = self.transcript.digest()  # through the server Finished
        c_ap, s_ap, self.exporter_master = master.application(th)
        cfg = self.config
        if cfg.keylog is not None:
            self.keylog("CLIENT_TRAFFIC_SECRET_0", c_ap)
            self.keylog("SERVER_TRAFFIC_SECRET_0", s_ap)
            self.keylog("EXPORTER_SECRET", self.exporter_master)
        if cfg.tracer is not None:
            self.trace(T.SERVER_FINISHED, message=fin, raw=raw, verify_data=fin.verify_data,
                       client_application_traffic_secret=c_ap,
                       server_application_traffic_secret=s_ap)
        self.set_read(s_ap)
        if self._early_write_pending:  # 4.5: ends the accepted early data
            self.send(m.EndOfEarlyData().encode())
            self._early_write_pending = False
            self.set_write(self._client_hs_secret)
            th = b""
        if self.certificate_request is not None:
            self._send_client_certificate(self.certificate_request)
            self.certificate_request = None  # answered: not kept for the connection's life
            th = b""
        # The client Finished covers what we sent since (EndOfEarlyData, our certificate):
        # without either, the hash the application secrets used (one digest less).
        verify_data = finished_verify_data(suite, self._client_hs_secret,
                                           th or self.transcript.digest())
        self.send(m.frame(_HT.finished, verify_data))  # Finished.encode, without the object
        if _E.post_handshake_auth in self.offer.extensions:  # only 4.6.2 needs it again
            self.final_transcript = self.transcript.copy()
        self.client_ap = c_ap
        if cfg.tracer is not None:
            self.trace(T.CLIENT_FINISHED, message=m.Finished(verify_data),
                       verify_data=verify_data)
        # Derived now, not on first use: the master secret must not outlive the handshake
        # (it would re-derive the traffic secrets a KeyUpdate retired).
        self.resumption_master = master.resumption(self.transcript.digest())
        self.set_write(c_ap)  # flushes the Finished under the handshake key first
        self.handshake_secret = None
        self._client_hs_secret = self._server_hs_secret = b""
        self.out.emit(self.summary())
        if self.early_data and not self.early_data_accepted:
            # Not sent as 0-RTT, or declined: the same bytes, now as 1-RTT data.
            self.out.send_application_data(self.early_data)
        self.early_data = b""
        return _S.CONNECTED

    def _ech_rejected(self, ech: EchOffer) -> None:
        """RFC 9849 6.1.6: the handshake with the outer hello is complete and the public
        name authenticated: abort with ech_required, handing over the retry configs. (A
        failed authentication fails the connection as usual, without them.)"""
        if self.auth.verification_error is not None:
            raise self.auth.verification_error
        raise EchRejected(ech.public_name, ech.retry_configs)

    def _send_client_certificate(self, info: CertificateRequestInfo,
                                 context: bytes = b"") -> None:
        """4.4.2: answer a CertificateRequest with the certificate chosen for it (an
        empty Certificate if none), echoing its context."""
        cfg = self.config
        if self.own_raw:  # RFC 7250: our raw public key, signed for as a certificate
            return self._send_raw_key(info, context)
        chosen = choose(info, cfg._client_certs, cfg.certificate_resolver)
        if chosen is None:
            self.send(m.Certificate(context, []).encode())
            self.trace(T.CLIENT_CERTIFICATE, chain=[])
            return
        ck, scheme = chosen
        self.send(m.Certificate(context, [m.CertificateEntry(d) for d in ck.cert_der]).encode())
        self.trace(T.CLIENT_CERTIFICATE, chain=ck.chain, scheme=SignatureScheme(scheme).name)
        signature = crypto.sign(ck.private_key, scheme, CV_CLIENT + self.transcript.digest())
        cv = m.CertificateVerify(scheme, signature)
        self.send(cv.encode())
        self.trace(T.CLIENT_CERTIFICATE_VERIFY, message=cv, scheme=SignatureScheme(scheme).name)

    def _send_raw_key(self, info: CertificateRequestInfo, context: bytes) -> None:
        """RFC 7250 3: one entry, our SPKI; an empty Certificate when our key can sign
        with none of the request's schemes (the server then decides)."""
        rpk = self.config.raw_public_key
        assert rpk is not None  # (own_raw is set only when it was offered)
        scheme = info.signing_scheme(rpk)  # type: ignore[arg-type]
        if scheme is None:
            self.send(m.Certificate(context, []).encode())
            self.trace(T.CLIENT_CERTIFICATE, chain=[])
            return
        self.send(m.Certificate(context, [m.CertificateEntry(rpk.spki)]).encode())
        self.trace(T.CLIENT_CERTIFICATE, chain=[], certificate_type="RawPublicKey",
                   raw_public_key=rpk.spki, scheme=SignatureScheme(scheme).name)
        signature = crypto.sign(rpk.private_key, scheme, CV_CLIENT + self.transcript.digest())
        cv = m.CertificateVerify(scheme, signature)
        self.send(cv.encode())
        self.trace(T.CLIENT_CERTIFICATE_VERIFY, message=cv, scheme=SignatureScheme(scheme).name)

    hooked_types = frozenset({_HT.certificate_request})

    def before_transcript(self, msg_type: int, raw: bytes) -> None:
        if msg_type == _HT.certificate_request and self.complete \
                and self.final_transcript is not None:  # else refused: PHA not offered
            self.start_post_handshake_transcript()

    def on_post_handshake_request(self, cr: m.CertificateRequest, raw: bytes) -> State:
        """4.6.2: answer a post-handshake CertificateRequest with Certificate,
        CertificateVerify (when we have a certificate) and Finished keyed from the
        current client application traffic secret."""
        if not self.config._pha or _E.post_handshake_auth not in self.offer.extensions:
            raise UnexpectedMessage("CertificateRequest after the handshake, but "
                                    "post_handshake_auth was not offered (4.6.2)")
        if not cr.request_context:
            raise IllegalParameter("post-handshake CertificateRequest needs a context")
        if cr.request_context in self._pha_contexts:
            raise IllegalParameter("CertificateRequest context repeated (4.3.2: unique)")
        info = self._read_request(cr, raw)
        self._pha_contexts.add(cr.request_context)
        self._send_client_certificate(info, cr.request_context)
        fin = m.Finished(self.finished_for(self.client_ap, self.transcript.digest()))
        self.send(fin.encode())
        self.flush()
        self.trace(T.CLIENT_FINISHED, message=fin, verify_data=fin.verify_data)
        return _S.CONNECTED

    def summary(self) -> HandshakeComplete:
        return self.complete_event(self.auth, group=self.group, scheme=self.auth.scheme,
                                   alpn=self.alpn, resumed=self.resumed,
                                   server_name=self.server_name,
                                   early_data_accepted=self.early_data_accepted,
                                   ech_accepted=self.ech is not None and bool(self.ech.accepted),
                                   psk_identity=None if self.external_psk is None
                                   else self.external_psk.identity)

    # -- post-handshake messages (4.6) ---------------------------------------------------

    def on_new_session_ticket(self, nst: m.NewSessionTicket, raw: bytes) -> State:
        """4.6.1: remember the ticket with the PSK its nonce derives, and how the server
        was authenticated (a session from a failed validation is never cached)."""
        suite, auth = self.suite_or_fail(), self.auth
        check_placement(nst.extensions, ALLOWED_IN_NST, "NewSessionTicket")
        max_early = 0
        if _E.early_data in nst.extensions:  # 4.2.10: the ticket allows 0-RTT data
            body = nst.extensions[_E.early_data]
            if len(body) != 4:
                raise DecodeError("early_data in NewSessionTicket must be a 4-byte limit")
            max_early = int.from_bytes(body, "big")
        session = Session(
            ticket=nst.ticket, psk=resumption_psk(suite, self.resumption_master, nst.nonce),
            suite=suite, age_add=nst.age_add, lifetime=nst.lifetime,
            received_at=self.config.clock(), server_name=self.server_name,
            alpn_protocol=self.alpn, peer_certificates=list(auth.chain),
            group=self.group.name if self.group else None,
            authenticated=auth.authenticated and auth.verification_error is None,
            hostname_checked=self.config.check_hostname, ocsp_response=auth.ocsp_response,
            max_early_data=max_early,
            quic_transport_parameters=self.peer_transport_parameters,
            peer_raw_public_key=None if auth.raw_key is None else auth.raw_key.spki,
            signed_certificate_timestamps=auth.scts)
        cache = self.config.session_cache
        if cache is not None and nst.lifetime > 0 and session.authenticated:
            cache.put(session)
        self.out.emit(SessionTicketReceived(nst.lifetime, nst.ticket, session))
        self.trace(T.NEW_SESSION_TICKET, message=nst, raw=raw)
        return _S.CONNECTED


def _session_to_offer(config: ClientConfig, session: Session | None,
                      server_name: str | None, quic: bool) -> Session | None:
    """The session a new handshake offers: the one given if this client may resume it,
    else one the config's cache holds for the name. Only called when there is a session
    or a cache (a client without either reads no clock and builds no closure). A QUIC
    client offers only QUIC sessions, any other client only others (a cache shared by
    both keeps each kind for its own)."""
    now = config.clock()

    def acceptable(candidate: Session) -> bool:
        return candidate.quic == quic and _may_resume(config, candidate, server_name, now)

    if session is None and config.session_cache is not None:
        return config.session_cache.take(server_name, now, acceptable)
    if session is not None and not acceptable(session):
        return None
    return session


def _may_resume(config: ClientConfig, session: Session, server_name: str | None,
                now: float) -> bool:
    """Offer `session` only where a full handshake would have been accepted (4.6.1).

    The session must be fresh, of a suite we offer, from a handshake whose validation
    passed, and this config's verifier must accept the remembered chain (with the staple
    it came with) for the name dialled now, at the current time: so a session made under
    other trust anchors, for another name, without a host-name check, or whose
    certificate has since expired is never offered. A client that skips host-name checks
    resumes only under the exact server name the session was made for. A raw public
    key's session resumes while the key is pinned; a certificate's never resumes on a
    client that offers RawPublicKey alone (RFC 7250: pins, no roots)."""
    suites = config._suites12 if session.tls12 else config._suites
    if not session.valid_at(now) or session.suite.code not in suites:
        return False
    if not session.authenticated:
        return False
    if session.peer_raw_public_key is not None:  # RFC 7250: only while still pinned
        return session.peer_raw_public_key in config._server_pins \
            and session.server_name == server_name
    if not session.peer_certificates:
        return False
    if config._server_cert_types is not None and X509 not in config._server_cert_types:
        return False  # RFC 7250: a pinning client without roots takes no certificate
    if config.check_hostname:
        if server_name is None or not session.hostname_checked:
            return False
    elif session.server_name != server_name:
        return False
    chain = session.peer_certificates
    try:
        verified = config.get_verifier().verify(
            chain[0], chain[1:], server_name=server_name if config.check_hostname else None,
            at=datetime.fromtimestamp(now, UTC), usage="server",
            ocsp_response=session.ocsp_response)
        if config.enforce_must_staple:  # RFC 7633, as a full handshake would check it now
            from ..x509.muststaple import check_must_staple
            check_must_staple(verified or chain, session.ocsp_response,
                              datetime.fromtimestamp(now, UTC), chain)
        if config.ct_policy is not None:  # as a full handshake would check it now
            config.ct_policy.enforce(verified or chain, session.signed_certificate_timestamps,
                                     now, session.ocsp_response)
    except TLSError:
        return False
    return True


@functools.lru_cache(maxsize=256)
def _sni_body(server_name: str) -> bytes:
    """The server_name extension body for a dialled name, or b"" when none is sent.

    RFC 6066 3: the name as ASCII A-labels (UTS 46 + IDNA 2008, as browsers), no
    trailing dot, lower case; literal IPv4 and IPv6 addresses are not sent. The form is
    `parse_server_name`'s, whose memo the verifier's host-name check reads next: a new
    name is canonicalized once per handshake, not once for SNI and again for the
    certificate. A name that is no host name (spaces, control characters, empty labels,
    a wildcard, an all-numeric last label) is refused before anything is sent, as rustls
    and Python's ssl refuse them: no certificate could match it, and the server would
    see it in the clear."""
    try:
        target = parse_server_name(server_name)
    except InvalidHostname as exc:
        if _is_ip_literal(server_name):  # an address parse_server_name refuses (a zone id)
            return b""
        raise ValueError(f"server_name {server_name!r} is not a valid host name: {exc}") from None
    if type(target) is not str:
        return b""  # an IP literal
    return ext.encode_server_name(target)


def _is_ip_literal(name: str) -> bool:
    """An address in any form `ipaddress` reads, brackets stripped (a zone id too)."""
    text = name.strip("[]")
    if not may_be_ip_literal(text):
        return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
