"""The TLS 1.2 server handshake (RFC 5246 7.3, RFC 8422, RFC 7627), taken over from the
TLS 1.3 server when a client cannot speak 1.3.

    ClientHello -> send ServerHello, Certificate, [CertificateStatus], ServerKeyExchange
      (not with RSA key transport), [CertificateRequest], ServerHelloDone
      -> [Certificate] -> ClientKeyExchange -> [CertificateVerify] -> CCS -> Finished
      -> send [NewSessionTicket], CCS, Finished -> CONNECTED
    Abbreviated (a session ID or RFC 5077 ticket we accept, RFC 5246 7.3 / RFC 5077 3.1):
    ClientHello -> send ServerHello, CCS, Finished -> CCS -> Finished -> CONNECTED

A full handshake with the extended master secret leaves a session: a ticket when the
client asked for one (session_ticket), else a session ID in the session store; both hold
the sealed state under the store's ticket-key ring. A session resumes only if it was made
with the extended master secret and the client offers it again (RFC 7627 5.3), under
the same session context, and with its client chain still valid (see `tlskit.session`).

`ServerHandshake12.TABLE` and `CCS_NEXT` declare the states.
"""

from __future__ import annotations

import hashlib
from typing import Any, cast

from cryptography.hazmat.primitives.serialization import Encoding

from .. import crypto
from ..config import CertifiedKey
from ..enums import (
    AlertDescription,
    ExtensionType,
    HandshakeType,
    NamedGroup,
    SignatureScheme,
    group_of,
    scheme_of,
)
from ..errors import (
    DecodeError,
    HandshakeFailure,
    IllegalParameter,
    InappropriateFallback,
    UnexpectedMessage,
)
from ..randpool import server_rng
from ..session import TicketState
from ..trace import TraceStep as T
from ..wire import extensions as ext
from ..wire import messages as m
from ..wire import messages12 as m12
from .common import (
    DOWNGRADE_TLS12,
    HandshakeState,
    PeerAuth,
    ServerView,
    Table,
    by_server_name,
    check_pss_key,
    choose_alpn,
    members,
    negotiate_cert_types,
    no_common_scheme,
    parse_chain,
    public_key_of,
    read_raw_key,
    resumable_client_chain,
    resumable_client_raw_key,
    resumed_end_point,
    rule,
    verify_client_chain,
)
from .common12 import (
    MAX_REFUSED_RENEGOTIATIONS,
    RAW_KEY_DECODERS12,
    Handover12,
    Handshake12,
    key_transport_problem,
)
from .hello import AnsweredHello, ClientHelloView
from .resolve import resolve_certificates

_E = members(ExtensionType)  # (plain attribute reads: see `members`)
_HT = members(HandshakeType)
SCSV = 0x00FF  # TLS_EMPTY_RENEGOTIATION_INFO_SCSV
# The ServerHello extensions whose bodies never vary (RFC 5746 3.6, RFC 7627 5.1,
# RFC 8422 5.2 (uncompressed only), RFC 6066 3 and 8, RFC 5077 3.2).
_RENEGOTIATION_INFO = m12.extension_entry(_E.renegotiation_info, b"\x00")
_EMPTY_EMS = m12.extension_entry(_E.extended_master_secret, b"")
_POINT_FORMATS = m12.extension_entry(_E.ec_point_formats, b"\x01\x00")
_EMPTY_SERVER_NAME = m12.extension_entry(_E.server_name, b"")
_EMPTY_STATUS_REQUEST = m12.extension_entry(_E.status_request, b"")
_EMPTY_SESSION_TICKET = m12.extension_entry(_E.session_ticket, b"")
FALLBACK_SCSV = 0x5600  # TLS_FALLBACK_SCSV (RFC 7507)


class State(HandshakeState):
    WAIT_CLIENT_HELLO = "waiting for ClientHello"
    WAIT_CERTIFICATE = "waiting for the client's Certificate"
    WAIT_CLIENT_KEY_EXCHANGE = "waiting for ClientKeyExchange"
    WAIT_CERTIFICATE_VERIFY = "waiting for the client's CertificateVerify"
    WAIT_CHANGE_CIPHER_SPEC = "waiting for the client's ChangeCipherSpec"
    WAIT_FINISHED = "waiting for the client's Finished"
    RESUMED_WAIT_CHANGE_CIPHER_SPEC = "resuming: waiting for the client's ChangeCipherSpec"
    RESUMED_WAIT_FINISHED = "resuming: waiting for the client's Finished"
    CONNECTED = "connected"


_S = members(State)  # (plain attribute reads: see `members`)
TABLE: Table = {
    _S.WAIT_CLIENT_HELLO: {_HT.client_hello: rule(
        "on_client_hello", _S.WAIT_CERTIFICATE, _S.WAIT_CLIENT_KEY_EXCHANGE,
        _S.RESUMED_WAIT_CHANGE_CIPHER_SPEC)},
    _S.WAIT_CERTIFICATE: {_HT.certificate: rule(
        "on_certificate", _S.WAIT_CLIENT_KEY_EXCHANGE)},
    _S.WAIT_CLIENT_KEY_EXCHANGE: {_HT.client_key_exchange: rule(
        "on_client_key_exchange", _S.WAIT_CERTIFICATE_VERIFY, _S.WAIT_CHANGE_CIPHER_SPEC)},
    _S.WAIT_CERTIFICATE_VERIFY: {_HT.certificate_verify: rule(
        "on_certificate_verify", _S.WAIT_CHANGE_CIPHER_SPEC)},
    _S.WAIT_CHANGE_CIPHER_SPEC: {},
    _S.WAIT_FINISHED: {_HT.finished: rule("on_finished", _S.CONNECTED)},
    _S.RESUMED_WAIT_CHANGE_CIPHER_SPEC: {},
    _S.RESUMED_WAIT_FINISHED: {_HT.finished: rule("on_resumed_finished", _S.CONNECTED)},
    # RFC 5246 7.2.2: a ClientHello after the handshake asks to renegotiate; refused.
    _S.CONNECTED: {_HT.client_hello: rule("on_renegotiation_hello", _S.CONNECTED)},
}
CCS_NEXT: dict[Any, Any] = {_S.WAIT_CHANGE_CIPHER_SPEC: _S.WAIT_FINISHED,
                            _S.RESUMED_WAIT_CHANGE_CIPHER_SPEC: _S.RESUMED_WAIT_FINISHED}
SESSION_ID_LENGTH = 32
_NONCE = 12  # a sealed session's AES-GCM nonce (`TicketSealer.seal`)
_SHARE = 32  # an X25519 (or P-256) key share's private bytes
# Drawn with the server random (`_fresh`), each at most once: a session ID, the
# ServerKeyExchange share's private key, a seal nonce.
_SPARE = SESSION_ID_LENGTH + _SHARE + _NONCE


class ServerHandshake12(ServerView, Handshake12):
    side = "server"
    STATES = State
    TABLE = TABLE
    CCS_NEXT = CCS_NEXT
    __slots__ = ("_client_keys", "_cv_messages", "_issue_ticket", "_offer_view",
                 "_peer_fragment_length", "_peer_record_limit", "_renegotiation_hellos",
                 "_rng", "_server_keys", "_share", "_spare", "alpn", "auth", "cert_types",
                 "certified", "client_version", "group", "scheme", "session_end_point",
                 "session_id")  # (see Handshake12)

    def __init__(self, handover: Handover12) -> None:
        super().__init__(handover, _S.WAIT_CLIENT_HELLO)
        self._offer_view: ClientHelloView | AnsweredHello | None = handover.hello
        self.certified: CertifiedKey | None = None
        self.cert_types: dict[int, bytes] | None = None  # RFC 7250 4.2 answers, if any
        self.scheme: SignatureScheme | None = None
        self.group: NamedGroup | None = None
        self.alpn: str | None = None
        self.auth = PeerAuth()
        self._share: crypto.KeyShare | None = None
        self._client_keys: tuple[bytes, bytes] = (b"", b"")
        self._server_keys: tuple[bytes, bytes] = (b"", b"")
        self._cv_messages = b""
        self.session_id = b""          # what our ServerHello carries
        self._peer_record_limit: int | None = None  # the client's record_size_limit
        self._peer_fragment_length: int | None = None  # its max_fragment_length
        self.client_version = 0x0303   # ClientHello.legacy_version
        self._issue_ticket = False     # the client asked for an RFC 5077 ticket
        # The default os.urandom is drawn through the server pool (same kernel bytes, one
        # read per ~20 handshakes; see `tlskit.randpool`); a configured rng is used as is.
        self._rng = server_rng(handover.config.rng)
        self._spare = b""  # drawn with the server random: session ID, key share, seal nonce
        self._renegotiation_hellos = 0

    def keeps_messages(self, config: Any) -> bool:
        """Only a server that asks for client certificates checks a CertificateVerify."""
        return bool(config.client_auth != "none")

    # -- ClientHello -> the server's first flight ----------------------------------------

    def on_client_hello(self, ch: m.ClientHello, raw: bytes) -> State:
        cfg = self.config
        exts = ch.extensions
        offer = self._offer_view
        if not isinstance(offer, ClientHelloView) or offer.hello is not ch:
            offer = self._offer_view = ClientHelloView(ch)  # (none handed over for this hello)
        if ch.compression_methods != b"\x00" and 0 not in ch.compression_methods:
            raise IllegalParameter("the client offers no null compression")
        if FALLBACK_SCSV in ch.cipher_suites and "TLSv1.3" in cfg._versions:
            raise InappropriateFallback("client fell back to TLS 1.2, but this server speaks "
                                        "TLS 1.3 (RFC 7507)")
        if exts.get(_E.extended_master_secret):
            raise DecodeError("extended_master_secret must be empty (RFC 7627 5.1)")
        reneg = exts.get(_E.renegotiation_info)
        if reneg is not None and reneg != b"\x00" \
                and ext.decode_renegotiation_info(reneg):  # malformed: decode_error
            raise HandshakeFailure("renegotiation_info must be empty on a new connection "
                                   "(RFC 5746 3.6)")
        if _E.extended_master_secret not in exts:
            self.refuse_without_ems("client")
            self.ems = False
        if offer.point_formats is not None and 0 not in offer.point_formats:
            raise IllegalParameter("the client does not accept uncompressed points")
        if _E.status_request in exts:  # RFC 6066 8: decode_error if it does not parse, as
            offer.status_request  # noqa: B018 -- in TLS 1.3, staple configured or not
        self._peer_record_limit = offer.record_size_limit  # checked (RFC 8449 4) now
        self._peer_fragment_length = offer.max_fragment_length  # and RFC 6066 4
        # A session we resume keeps its suite and needs no group, certificate or scheme:
        # those are chosen for a full handshake only (as OpenSSL and Go do).
        resumed = self._resumable_session(ch)
        if resumed is None:
            # RFC 8422 4: without supported_groups a client is taken to support P-256.
            client_groups = offer.groups if offer.groups is not None \
                else [int(NamedGroup.secp256r1)]
            self._choose(ch, offer.schemes or [], client_groups)
        self.alpn = choose_alpn(cfg.alpn_protocols, offer.alpn)
        # Answered from here on: the connection keeps the hello's bytes, not its decoded
        # lists (for `client_offer`; see `AnsweredHello`).
        self._offer_view = AnsweredHello(raw)
        self.client_random = ch.random
        self.client_version = ch.legacy_version  # RFC 5246 7.4.7.1: inside the premaster
        # RFC 8446 4.1.3: a server able to speak 1.3 marks a 1.2 answer in its random.
        # From the pool, one draw for the random, a session ID, a key share and a seal
        # nonce (see `_fresh`); a configured rng is asked for each value on its own, as
        # vectors expect.
        fresh = self._rng(32 + _SPARE) if self._rng is not cfg.rng else self._rng(32)
        self.server_random = (fresh[:24] + DOWNGRADE_TLS12 if "TLSv1.3" in cfg._versions
                              else fresh[:32])
        self._spare = fresh[32:]
        if resumed is not None:
            self._send_abbreviated(ch, resumed)
            return _S.RESUMED_WAIT_CHANGE_CIPHER_SPEC
        self._plan_session(ch)
        self._send_flight(ch)
        if cfg.client_auth != "none":
            return _S.WAIT_CERTIFICATE
        return _S.WAIT_CLIENT_KEY_EXCHANGE

    # -- sessions (RFC 5246 7.3, RFC 5077, RFC 7627 5.3) --------------------------------

    def _resumable_session(self, ch: m.ClientHello) -> TicketState | None:
        """The session the client offers, if we sealed it and may resume it now."""
        cfg = self.config
        ticket = ch.extensions.get(_E.session_ticket)
        state: TicketState | None
        # RFC 5077 3.4: a ticket may come with an empty session ID (the client tells
        # resumption from the messages that follow); an ID alone needs an ID to look up.
        if ticket and cfg.session_tickets > 0:
            state, how = cfg.get_ticket_sealer().open(ticket), "ticket"
        elif not ticket and cfg.session_ids and ch.session_id:
            sealed = cfg.get_session_store().get_session(ch.session_id)
            state, how = (None if sealed is None else cfg.get_ticket_sealer().open(sealed),
                          "session ID")
        else:
            return None
        if state is None:
            return None
        now_ms = int(cfg.clock() * 1000)
        if not (state.tls12 and state.extended_master_secret) \
                or not 0 <= now_ms - state.issued_ms < state.lifetime * 1000 \
                or state.suite.code not in cfg._suites12 \
                or state.server_name != self.server_name:
            self.trace(T.PSK_DECLINED, reason=f"{how} not resumable here")
            return None
        if state.client_raw_key:  # RFC 7250: while the key is still pinned
            chain = resumable_client_raw_key(cfg, state, self.auth, self.trace)
        else:
            chain = resumable_client_chain(cfg, state, self.trace, carrier="session")
        if chain is None:
            return None
        # A session we would resume, offered wrongly (as OpenSSL and Go decide: a session
        # we would not resume anyway, expired or for another name, gets a full handshake).
        if not self.ems:
            # RFC 7627 5.3: our sessions all have EMS (none is made without), so this is a
            # session offered by a client that no longer sends the extension: "MUST abort".
            raise HandshakeFailure(
                f"the client offers a session ({how}) made with the extended master "
                "secret but no longer sends the extension: a downgrade (RFC 7627 5.3)")
        if state.suite.code not in ch.cipher_suites:
            # RFC 5246 7.4.1.2: a client offering a session MUST offer its suite. OpenSSL
            # and BoringSSL end such a hello (tlsfuzzer's test-resumption-with-wrong-ciphers,
            # CVE-2010-4180) rather than resume under another suite or start afresh.
            raise IllegalParameter(
                f"the client offers a session ({how}) but not its cipher suite "
                f"{state.suite.name} (RFC 5246 7.4.1.2)")
        self.auth.chain = chain
        self.auth.authenticated = bool(chain) or self.auth.raw_key is not None
        self.trace(T.PSK_ACCEPTED, identity_index=0, how=how)
        return state

    def _plan_session(self, ch: m.ClientHello) -> None:
        """What the full handshake leaves: a ticket if asked, else a session ID (EMS only)."""
        cfg = self.config
        if not self.ems:
            return  # RFC 7627 5.3: such a session is never resumed, so none is made
        if not cfg.automatic_tickets:
            # Sessions only on demand: TLS 1.2 gives its ticket (RFC 5077 3.3) or session
            # ID in the handshake, before the application could decide, and never later.
            return
        if _E.session_ticket in ch.extensions and cfg.session_tickets > 0:
            self._issue_ticket = True  # no session ID: the ticket is the session
        elif cfg.session_ids:
            self.session_id = self._fresh(SESSION_ID_LENGTH)

    def _fresh(self, n: int) -> bytes:
        """`n` random bytes: the next unused ones drawn with the server random (each handed
        out once: a seal nonce is never reused, nor a key share's bytes), else a new draw."""
        spare = self._spare
        if len(spare) < n:
            return self._rng(n)
        self._spare = spare[n:]
        return spare[:n]

    def _session_state(self) -> TicketState:
        chain = self.auth.chain  # (usually none: no list built for it then)
        if self.auth.raw_key is not None:  # RFC 7250: the client's key, resumed if pinned
            state = self._session_state_for([self.auth.raw_key.spki])
            state.client_raw_key = True
            return state
        return self._session_state_for(
            [c.public_bytes(Encoding.DER) for c in chain] if chain else [])

    def _session_state_for(self, client_chain: list[bytes]) -> TicketState:
        cfg = self.config
        assert self.suite12 is not None and self.certified is not None
        return TicketState(  # by position: keywords cost more than the rest
            self.suite12, self.master_secret, int(cfg.clock() * 1000), cfg.ticket_lifetime,
            self.alpn, self.server_name, cfg._session_context,
            client_chain,
            0,  # max_early_data: none in TLS 1.2
            0,  # age_add
            True,  # tls12
            self.ems,  # extended_master_secret
            None, b"", b"", False,  # external PSK identity, fingerprint; QUIC; raw key
            self.certified._end_point)  # server_end_point (RFC 5929 4.1)

    def _leave_session(self) -> None:
        """After the client's Finished: the ticket (sent before our CCS), or the cache entry."""
        cfg = self.config
        if self._issue_ticket:
            sealed = cfg.get_ticket_sealer().seal(self._session_state(), self._fresh(_NONCE))
            # RFC 5077 3.3: having announced a ticket, send one (empty if the store failed).
            nst = m12.NewSessionTicket12(cfg.ticket_lifetime if sealed else 0, sealed or b"")
            self._send_traced(T.NEW_SESSION_TICKET, nst)
        elif self.session_id:
            sealed = cfg.get_ticket_sealer().seal(self._session_state(), self._fresh(_NONCE))
            if sealed is not None:
                cfg.get_session_store().put_session(self.session_id, sealed,
                                                    cfg.ticket_lifetime)

    def _record_size_limit(self) -> tuple[int, bytes] | None:
        """RFC 8449 4: keep our protected records within the client's limit (plaintext
        bytes in TLS 1.2, whose maximum is 2^14) and answer with our own, so capped.
        Without it, grant the client's max_fragment_length (RFC 6066 4), which covers
        every record from the ServerHello on. The extension to answer with, if any."""
        peer = self._peer_record_limit
        if peer is None:
            fragment = self._peer_fragment_length
            if fragment is None:
                return None
            self.out.set_record_limits(send=fragment, receive=fragment)  # both ways
            return _E.max_fragment_length, ext.encode_max_fragment_length(fragment)
        own = self.config.record_size_limit
        own = None if own is None else min(own, 1 << 14)
        self.out.set_record_limits(send=min(peer, 1 << 14), receive=own)
        return None if own is None else (_E.record_size_limit, ext.encode_record_size_limit(own))

    def _send_abbreviated(self, ch: m.ClientHello, state: TicketState) -> None:
        """RFC 5246 7.3: ServerHello echoing the session ID, then CCS and Finished at once."""
        suite = state.suite
        assert isinstance(suite, crypto.Suite12)
        self.suite12 = self.suite = suite
        self.session_id = ch.session_id
        self.resumed = True
        # RFC 5929 4.1: the certificate of the session's handshake, not today's (set on
        # resumption only: `ServerConnection` reads it with a default); a renewed
        # ticket records it (`resumed_end_point`: a state from before it was recorded)
        self.session_end_point = state.server_end_point = resumed_end_point(self.config,
                                                                             state)
        exts = ch.extensions
        sh_exts = m.Extensions()
        if _E.renegotiation_info in exts or SCSV in ch.cipher_suites:
            sh_exts[_E.renegotiation_info] = b"\x00"
        sh_exts[_E.extended_master_secret] = b""
        if _E.ec_point_formats in exts and suite.kx != "RSA":  # RFC 8422 5.2, as when full
            sh_exts[_E.ec_point_formats] = b"\x01\x00"
        if self.alpn is not None:
            sh_exts[_E.application_layer_protocol_negotiation] = ext.encode_alpn([self.alpn])
        limit = self._record_size_limit()
        if limit is not None:
            sh_exts[limit[0]] = limit[1]
        # RFC 5077 3.1: a resumed ticket is renewed, sealed under the current ticket key
        # (so clients that keep resuming move along the key ring); same session, same age.
        renewed = None
        if exts.get(_E.session_ticket):
            renewed = self.config.get_ticket_sealer().seal(state, self._fresh(_NONCE))
            if renewed is not None:
                sh_exts[_E.session_ticket] = b""
        sh = m.ServerHello(self.server_random, self.session_id, suite.code, sh_exts)
        self.transcript.start(suite.hash_name)
        self._send_traced(T.SERVER_HELLO, sh, version="TLSv1.2", cipher_suite=suite.name)
        if renewed is not None:
            left = max(1, state.lifetime - (int(self.config.clock() * 1000)
                                            - state.issued_ms) // 1000)
            self._send_traced(T.NEW_SESSION_TICKET, m12.NewSessionTicket12(left, renewed))
        self.use_resumed_master(state.psk)
        c_key, s_key, c_iv, s_iv = self.key_block()
        self.install_write12(s_key, s_iv)
        reply = m.Finished(self.finished_data(False, self.transcript.digest()))
        self.send(reply.encode())
        self.flush()
        self.trace(T.SERVER_FINISHED, message=reply, verify_data=reply.verify_data)
        self.pending_read = (c_key, c_iv)

    def on_resumed_finished(self, fin: m.Finished, raw: bytes) -> State:
        self.check_finished12(fin, is_client=True)
        self.trace(T.CLIENT_FINISHED, message=fin, raw=raw, verify_data=fin.verify_data)
        self.out.emit(self.complete_event(
            self.auth, group=None, scheme=None, alpn=self.alpn, resumed=True,
            server_name=self.server_name))
        return _S.CONNECTED

    def _choose(self, ch: m.ClientHello, schemes: list[int], client_groups: list[int]) -> None:
        """Suite, certificate and scheme together: the suite's auth must fit the key."""
        cfg = self.config
        self.group = None
        for group in cfg._groups:  # our first TLS 1.2 group the client lists (a loop and
            if group in client_groups and group in crypto.GROUPS12:  # no list: no frame)
                self.group = group_of(group)
                break
        exts = ch.extensions
        if _E.server_certificate_type in exts or _E.client_certificate_type in exts:
            offer = self._offer_view
            assert isinstance(offer, ClientHelloView)  # (the hello being answered)
            types = negotiate_cert_types(cfg, offer, schemes, "TLSv1.2",
                                         lambda ck: self._fits(ch, schemes, client_groups,
                                                               ck))
            self.cert_types, self.auth.raw_expected = types.answer, types.client_raw
            if types.client_raw:  # RFC 7250 3: the client's Certificate is one SPKI
                self.decoders = RAW_KEY_DECODERS12  # type: ignore[misc]  # (this instance only)
            if types.server_raw is not None:  # RFC 7250: the raw key is the one candidate
                self._choose_among(ch, schemes, client_groups, [cfg.raw_public_key])
                return
        if cfg.raw_public_key is not None and not cfg._certs \
                and cfg.certificate_resolver is None:
            raise HandshakeFailure(
                "this server has only a raw public key, and the client does not accept "
                "one (no RawPublicKey in server_certificate_type, RFC 7250)")
        certs = (by_server_name(cfg._certs, self.server_name)
                 if cfg.certificate_resolver is None  # (the plain handshake's one test)
                 else resolve_certificates(cfg, cast(ClientHelloView, self._offer_view),
                                           self.server_name, "TLSv1.2"))
        self._choose_among(ch, schemes, client_groups, certs)

    def _fits(self, ch: m.ClientHello, schemes: list[int], client_groups: list[int],
              ck: Any) -> bool:
        """Whether `_choose_among` would find an ECDHE suite for ``ck`` alone: one of
        its kind we both have, its curve among the client's groups, a scheme in common
        (RFC 7250: which kinds of key can serve, before the type is chosen)."""
        cfg = self.config
        if self.group is None or (ck.curve12 is not None and ck.curve12 not in client_groups):
            return False
        if not any(s in schemes and s in cfg._schemes for s in ck.schemes12):
            return False
        return any(code in ch.cipher_suites and crypto.SUITES12[code].kx != "RSA"
                   and crypto.SUITES12[code].auth == ck.auth12 for code in cfg._suites12)

    def _choose_among(self, ch: m.ClientHello, schemes: list[int], client_groups: list[int],
                      certs: list[CertifiedKey]) -> None:
        cfg = self.config
        for code in cfg._suites12:
            if code not in ch.cipher_suites:
                continue
            suite = crypto.SUITES12[code]
            if suite.kx == "RSA":
                ck = next((ck for ck in certs if _can_receive_premaster(ck)), None)
                if ck is not None:  # no ServerKeyExchange: nothing to sign, no group
                    self.suite12 = self.suite = suite
                    self.certified, self.scheme, self.group = ck, None, None
                    return
                continue
            if self.group is None:
                continue  # RFC 8422: ECDHE needs an elliptic-curve group in common
            for ck in certs:
                if ck.auth12 != suite.auth:
                    continue
                curve = ck.curve12
                if curve is not None and curve not in client_groups:
                    continue  # RFC 8422 5.1: the client must support the certificate's curve
                for scheme in ck.schemes12:  # our first scheme the client accepts
                    if scheme in schemes and scheme in cfg._schemes:
                        self.suite12 = self.suite = suite
                        self.certified, self.scheme = ck, scheme_of(scheme)
                        return
        reason = self._no_suite_reason(ch, schemes, client_groups, certs)
        if self.group is None and any(map(crypto.is_ffdhe_group, client_groups)):
            # RFC 7919 4: FFDHE groups offered, none of the client's groups acceptable and
            # no non-FFDHE suite either: insufficient_security, not handshake_failure.
            raise HandshakeFailure(reason + " (RFC 7919: none of the client's FFDHE or "
                                   "elliptic-curve groups is one we use in TLS 1.2)",
                                   alert=AlertDescription.insufficient_security)
        raise HandshakeFailure(reason)

    def _no_suite_reason(self, ch: m.ClientHello, schemes: list[int],
                         client_groups: list[int], certs: list[CertifiedKey]) -> str:
        """Why no suite fits: the usual reasons, and the opt-in a legacy client needs."""
        rsa_offered = [c for c in crypto.RSA_KX_SUITES12 if c in ch.cipher_suites]
        if self.group is None and not rsa_offered:
            return "no elliptic-curve group in common for TLS 1.2"
        reason = "no TLS 1.2 cipher suite in common that fits the client's offer and our keys"
        auths = {crypto.SUITES12[c].auth for c in self.config._suites12
                 if c in ch.cipher_suites and crypto.SUITES12[c].kx != "RSA"}
        signers = [ck for ck in certs if ck.auth12 in auths
                   and (ck.curve12 is None or ck.curve12 in client_groups)]
        off_curve = [ck for ck in certs if ck.auth12 in auths and ck.curve12 is not None
                     and ck.curve12 not in client_groups]
        if self.group is not None and signers:
            # A suite and a certificate fit: only the signature algorithms do not.
            reason = no_common_scheme("TLS 1.2", schemes,
                                      [s for ck in signers for s in ck.schemes12])
        elif self.group is not None and off_curve:
            reason = _curve_not_offered(off_curve, client_groups)
        if rsa_offered and not self.config.legacy_rsa_key_exchange:
            reason += ("; the client offers RSA key transport (TLS_RSA_WITH_*), which is off "
                       "by default (no forward secrecy): set legacy_rsa_key_exchange=True "
                       "(tlskit serve --legacy-rsa-kx) to accept it")
        elif rsa_offered:
            reason += ("; RSA key transport needs an RSA certificate whose KeyUsage allows "
                       "keyEncipherment")
        return reason

    def _send_flight(self, ch: m.ClientHello) -> None:
        cfg = self.config
        suite, ck = self.suite12, self.certified
        assert suite is not None and ck is not None
        exts = ch.extensions
        sh_exts: list[bytes] = []  # encoded entries, in the order we always send them
        if _E.renegotiation_info in exts or SCSV in ch.cipher_suites:
            sh_exts.append(_RENEGOTIATION_INFO)
        if self.ems:
            sh_exts.append(_EMPTY_EMS)
        if _E.ec_point_formats in exts and not self.rsa_kx:  # RFC 8422 5.2: ECC suites only
            sh_exts.append(_POINT_FORMATS)
        if self.server_name is not None:
            sh_exts.append(_EMPTY_SERVER_NAME)
        if self.alpn is not None:
            sh_exts.append(m12.extension_entry(_E.application_layer_protocol_negotiation,
                                               ext.encode_alpn([self.alpn])))
        if self.cert_types is not None:  # RFC 7250 4.2
            for etype, body in self.cert_types.items():
                sh_exts.append(m12.extension_entry(etype, body))
        staple = None
        if _E.status_request in exts and ck.ocsp_response is not None:
            staple = ck.ocsp_response() if callable(ck.ocsp_response) else ck.ocsp_response
            if staple:
                sh_exts.append(_EMPTY_STATUS_REQUEST)
        if ck._sct_list is not None and _E.signed_certificate_timestamp in exts:
            sh_exts.append(m12.extension_entry(  # RFC 6962 3.3.1: only when asked
                _E.signed_certificate_timestamp, ck._sct_list))
        if self._issue_ticket:
            sh_exts.append(_EMPTY_SESSION_TICKET)
        limit = self._record_size_limit()
        if limit is not None:
            sh_exts.append(m12.extension_entry(*limit))
        raw = m12.encode_server_hello12(self.server_random, self.session_id, suite.code,
                                        sh_exts)
        self.transcript.start(suite.hash_name)
        # One record per message, as OpenSSL, BoringSSL and GnuTLS write this flight:
        # scanners that read it record by record (sslscan) stall on one record holding
        # them all.
        self.send(raw)
        self.flush()
        traced = cfg.tracer is not None  # (message objects cost: built only when traced)
        if traced:
            self.trace(T.SERVER_HELLO, message=m.ServerHello.decode(memoryview(raw)[4:]),
                       raw=raw, version="TLSv1.2", cipher_suite=suite.name)
        raw = ck._certificate12 or _encode_certificate12(ck)  # the same for every client
        self.send(raw)
        self.flush()
        if traced:
            self.trace(T.CERTIFICATE, message=m12.Certificate12(list(ck.cert_der)), raw=raw,
                       chain=ck.chain, certificate_type="X.509" if ck.chain else "RawPublicKey",
                       raw_public_key=None if ck.chain else ck.cert_der[0])
        if staple:
            self._send_traced(T.CERTIFICATE_STATUS, m12.CertificateStatus(staple),
                              ocsp_response=staple)
            self.flush()
        if not self.rsa_kx:  # RFC 5246 7.4.3: no ServerKeyExchange for RSA key transport
            self._send_server_key_exchange(ck)
        if cfg.client_auth != "none":
            self._send_traced(T.CERTIFICATE_REQUEST, m12.CertificateRequest12(
                b"\x01\x40", self._client_schemes(), cfg._ca_names))  # rsa_sign, ecdsa_sign
            self.flush()
        self.send(m12.SERVER_HELLO_DONE)
        self.flush()
        if traced:
            self.trace(T.SERVER_HELLO_DONE, message=m12.ServerHelloDone(),
                       raw=m12.SERVER_HELLO_DONE)

    def _send_server_key_exchange(self, ck: CertifiedKey) -> None:
        """RFC 8422 5.4: our ephemeral ECDHE share, signed with the certificate's key; the
        signed params are packed once and are the message's first bytes."""
        group, scheme = self.group, self.scheme
        assert group is not None and scheme is not None
        # Its private bytes come from the hello's draw (`_fresh`): one pool draw less.
        self._share = share = crypto.new_key_share(group, self._fresh)
        params = m12.ske_params(group, share.public)
        signature = crypto.sign(ck.private_key, scheme,
                                self.client_random + self.server_random + params)
        raw = m12.encode_ske(params, scheme, signature)
        self.send(raw)
        self.flush()
        if self.config.tracer is not None:
            self.trace(T.SERVER_KEY_EXCHANGE,
                       message=m12.ServerKeyExchangeECDHE(group, share.public, scheme, signature),
                       raw=raw, group=group.name, server_share=share.public, scheme=scheme.name)

    def _send_traced(self, step: T, msg: Any, **fields: Any) -> None:
        raw = msg.encode()
        self.send(raw)
        self.trace(step, message=msg, raw=raw, **fields)

    # -- the client's flight -----------------------------------------------------------

    def on_certificate(self, cert: m12.Certificate12, raw: bytes) -> State:
        if self.auth.raw_expected:  # RFC 7250 3: one SPKI, pinned (or none)
            return self._on_raw_key(cert, raw)  # type: ignore[arg-type]
        if not cert.certificates:
            if self.config.client_auth == "required":  # RFC 5246 7.4.6
                raise HandshakeFailure("the client sent no certificate")
        else:
            chain = parse_chain(cert.certificates, "client")
            public_key_of(chain[0])
            verify_client_chain(self.config, chain)
            self.auth.chain = chain
        self.trace(T.CLIENT_CERTIFICATE, raw=raw, chain=self.auth.chain)
        return _S.WAIT_CLIENT_KEY_EXCHANGE

    def _on_raw_key(self, cert: m12.RawKeyCertificate12, raw: bytes) -> State:
        """The client's raw key; an empty answer (00 00 00, the X.509 form every client
        sends for "none") declines, as an empty certificate_list does."""
        if not cert.spki:
            if self.config.client_auth == "required":  # RFC 5246 7.4.6
                raise HandshakeFailure("the client sent no raw public key")
            self.trace(T.CLIENT_CERTIFICATE, raw=raw, chain=[])
            return _S.WAIT_CLIENT_KEY_EXCHANGE
        self.auth.raw_key = key = read_raw_key([cert.spki], self.config._client_pins,
                                               "client", "pinned_client_keys")
        self.trace(T.CLIENT_CERTIFICATE, raw=raw, chain=[], certificate_type="RawPublicKey",
                   raw_public_key=key.spki)
        return _S.WAIT_CLIENT_KEY_EXCHANGE

    def on_client_key_exchange(self, cke: m12.ClientKeyExchangeECDHE | m12.ClientKeyExchangeRSA,
                               raw: bytes) -> State:
        if isinstance(cke, m12.ClientKeyExchangeRSA):
            premaster = self._decrypt_premaster(cke)
            self.trace(T.CLIENT_KEY_EXCHANGE, message=cke, raw=raw,
                       encrypted_premaster=cke.encrypted, premaster_secret=premaster)
        else:
            assert self._share is not None
            premaster = self._share.exchange(cke.public)
            if self.config.tracer is not None:
                self.trace(T.CLIENT_KEY_EXCHANGE, message=cke, raw=raw,
                           client_share=cke.public, shared_secret=premaster)
        self.derive_master(premaster)
        c_key, s_key, c_iv, s_iv = self.key_block()
        self._client_keys = (c_key, c_iv)
        self._server_keys = (s_key, s_iv)
        # What a CertificateVerify signs (kept only until it is checked: the messages
        # a peer can make ~64 KB each stay no longer than the handshake needs them).
        if self._keep:
            self._keep = False
            if self.auth.chain or self.auth.raw_key is not None:
                self._cv_messages = bytes(self.messages)
            self.messages = bytearray()
        if self.auth.chain or self.auth.raw_key is not None:
            # RFC 5246 7.4.8: a client certificate must be proven; no CCS until it is.
            return _S.WAIT_CERTIFICATE_VERIFY
        self.pending_read = self._client_keys
        return _S.WAIT_CHANGE_CIPHER_SPEC

    def _decrypt_premaster(self, cke: m12.ClientKeyExchangeRSA) -> bytes:
        """RFC 5246 7.4.7.1: the random fallback premaster is drawn before decrypting, and
        any failure (padding, length, version) silently uses it: the client's Finished
        then fails like any other wrong key, and nothing tells the kinds of failure apart
        (no padding oracle; see `crypto.rsa_decrypt_premaster`)."""
        assert self.certified is not None
        fallback = self._rng(crypto.PREMASTER_LENGTH)
        return crypto.rsa_decrypt_premaster(self.certified.private_key, cke.encrypted,
                                            self.client_version, fallback)

    def _client_schemes(self) -> list[int]:
        """The schemes a client's CertificateVerify may use (the CertificateRequest's
        list): ServerConfig.signature_schemes, those we implement."""
        return [s for s in self.config._schemes if s in crypto.SCHEMES]

    def on_certificate_verify(self, cv: m12.CertificateVerify12, raw: bytes) -> State:
        if cv.scheme not in self._client_schemes():  # 7.4.8: one the CertificateRequest lists
            raise IllegalParameter(f"CertificateVerify scheme {cv.scheme:#06x} not offered")
        auth = self.auth
        leaf = auth.chain[0] if auth.raw_key is None else auth.raw_key
        key_oid = leaf.public_key_algorithm_oid.dotted_string
        if key_oid == crypto.RSASSA_PSS_OID:  # RFC 4055 parameters may restrict the key
            check_pss_key(leaf, cv.scheme, "client")
        crypto.verify(public_key_of(leaf), cv.scheme, cv.signature, self._cv_messages,
                      curve_bound=False, key_oid=key_oid)
        self._cv_messages = b""
        self.trace(T.CLIENT_CERTIFICATE_VERIFY, message=cv, raw=raw,
                   scheme=SignatureScheme(cv.scheme).name)
        self.pending_read = self._client_keys
        return _S.WAIT_CHANGE_CIPHER_SPEC

    def on_finished(self, fin: m.Finished, raw: bytes) -> State:
        self.check_finished12(fin, is_client=True)
        traced = self.config.tracer is not None
        if traced:
            self.trace(T.CLIENT_FINISHED, message=fin, raw=raw, verify_data=fin.verify_data)
        self._leave_session()
        s_key, s_iv = self._server_keys
        self.install_write12(s_key, s_iv)
        verify_data = self.finished_data(False, self.transcript.digest())
        self.send(m12.encode_finished12(verify_data))
        self.flush()
        if traced:
            self.trace(T.SERVER_FINISHED, message=m.Finished(verify_data),
                       verify_data=verify_data)
        self.out.emit(self.complete_event(
            self.auth, group=self.group, scheme=self.scheme, alpn=self.alpn, resumed=False,
            server_name=self.server_name))
        return _S.CONNECTED

    def on_renegotiation_hello(self, ch: m.ClientHello, raw: bytes) -> State:
        """A ClientHello on an established connection asks to renegotiate, which tlskit
        never does. RFC 5246 7.2.2: the server answers with a warning no_renegotiation and
        the client decides whether to go on (OpenSSL, Botan and mbedTLS servers refuse so;
        ending the connection instead kills clients such as Botan that go on)."""
        self._renegotiation_hellos += 1
        if self._renegotiation_hellos > MAX_REFUSED_RENEGOTIATIONS:
            raise UnexpectedMessage("too many renegotiation attempts (ClientHellos after "
                                    "the handshake), each refused with no_renegotiation")
        self.out.send_warning(AlertDescription.no_renegotiation)
        return _S.CONNECTED


def _can_receive_premaster(ck: CertifiedKey) -> bool:
    """An RSA-encryption key whose certificate allows keyEncipherment (RFC 5246 7.4.2)."""
    return bool(ck.chain) and key_transport_problem(ck.chain[0]) is None


def _encode_certificate12(ck: CertifiedKey) -> bytes:
    """RFC 5246 7.4.2: the chain as a Certificate message, encoded once per CertifiedKey."""
    ck._certificate12 = (m12.Certificate12(list(ck.cert_der)) if ck.chain  # (RFC 7250 3:)
                         else m12.RawKeyCertificate12(ck.cert_der[0])).encode()
    return ck._certificate12


def _curve_not_offered(certs: list[CertifiedKey], client_groups: list[int]) -> str:
    """Why ECDSA certificates (or the RFC 7250 raw key) that fit the suites were passed
    over: RFC 8422 5.1 lets a server use only curves the client's supported_groups list,
    its certificate's key's too (a client listing x25519 alone cannot be served a P-256
    certificate)."""
    curves = ", ".join(dict.fromkeys(group_of(ck.curve12).name for ck in certs
                                     if ck.curve12 is not None))
    listed = ", ".join(group_of(g).name for g in client_groups
                       if g in NamedGroup._value2member_map_) or "none we know"
    if not certs[0].chain:  # RFC 7250: the raw key was the one candidate (same rule)
        fingerprint = hashlib.sha256(certs[0].cert_der[0]).hexdigest()
        return (f"our raw public key (SHA-256 of SPKI {fingerprint}) is on "
                f"{curves}, which the client's supported_groups ({listed}) leave out (RFC "
                "8422 5.1); serve a raw key on a curve the client lists, or a certificate "
                "the client takes")
    return (f"our ECDSA certificate's key is on {curves}, which the client's "
            f"supported_groups ({listed}) leave out (RFC 8422 5.1); serve a certificate on "
            "a curve the client lists, or an RSA one")
