"""The TLS 1.2 client handshake (RFC 5246 7.3, RFC 8422, RFC 7627), taken over from the
TLS 1.3 client when the server answers with a TLS 1.2 ServerHello.

    ServerHello -> Certificate -> [CertificateStatus] -> ServerKeyExchange (not with RSA
      key transport) -> [CertificateRequest] -> ServerHelloDone
      -> send [Certificate] ClientKeyExchange [CertificateVerify] CCS Finished
      -> [NewSessionTicket] -> CCS -> Finished -> CONNECTED
    Abbreviated (the server echoed the session ID we offered with a TLS 1.2 session,
    RFC 5246 7.3 / RFC 5077 3.4):
    ServerHello -> [NewSessionTicket] -> CCS -> Finished -> send CCS, Finished -> CONNECTED

A full handshake with the extended master secret whose server validated leaves a
`Session` (its ID and/or RFC 5077 ticket, the master secret, the chain) in the config's
session cache and in a `SessionTicketReceived` event; one without the extended master
secret leaves none (RFC 7627 5.3).

`ClientHandshake12.TABLE` and `CCS_NEXT` declare the states.
"""

from __future__ import annotations

from typing import Any

from .. import crypto
from ..certselect import CertificateRequestInfo, choose, schemes_for_types
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
    EchRejected,
    HandshakeFailure,
    IllegalParameter,
    ProtocolVersionError,
    TLSError,
    UnexpectedMessage,
    UnsupportedCertificate,
    UnsupportedExtension,
)
from ..events import SessionTicketReceived
from ..session import MAX_TICKET_LIFETIME, Session
from ..trace import TraceStep as T
from ..wire import extensions as ext
from ..wire import messages as m
from ..wire import messages12 as m12
from .common import (
    DOWNGRADE_TLS11,
    DOWNGRADE_TLS12,
    HandshakeState,
    PeerAuth,
    Table,
    agreed_fragment_length,
    check_pss_key,
    members,
    parse_chain,
    public_key_of,
    read_cert_type_answers,
    read_raw_key,
    resume_server_auth,
    rule,
    verify_server_chain,
)
from .common12 import (
    MAX_REFUSED_RENEGOTIATIONS,
    RAW_KEY_DECODERS12,
    Handover12,
    Handshake12,
    key_transport_problem,
)

_E = members(ExtensionType)  # (plain attribute reads: see `members`)
_HT = members(HandshakeType)
ALLOWED_IN_SH12 = frozenset({
    _E.renegotiation_info, _E.extended_master_secret, _E.ec_point_formats,
    _E.application_layer_protocol_negotiation, _E.server_name, _E.status_request,
    _E.session_ticket, _E.record_size_limit, _E.max_fragment_length,
    _E.server_certificate_type, _E.client_certificate_type,  # (RFC 7250 4.2)
    _E.signed_certificate_timestamp})  # (RFC 6962 3.3.1, only when requested)
_HELLO_REQUEST = int(_HT.hello_request)
CLIENT_HELLO_VERSION = 0x0303  # our ClientHello's legacy_version, always (RFC 8446 4.1.2)


class State(HandshakeState):
    WAIT_SERVER_HELLO = "waiting for ServerHello"
    WAIT_CERTIFICATE = "waiting for Certificate"
    WAIT_CERTIFICATE_STATUS = "waiting for CertificateStatus or ServerKeyExchange"
    WAIT_SERVER_KEY_EXCHANGE = "waiting for ServerKeyExchange"
    RSA_WAIT_CERTIFICATE_STATUS = (
        "RSA key transport: waiting for CertificateStatus, CertificateRequest or ServerHelloDone")
    WAIT_CERTIFICATE_REQUEST_OR_DONE = "waiting for CertificateRequest or ServerHelloDone"
    WAIT_SERVER_HELLO_DONE = "waiting for ServerHelloDone"
    WAIT_NEW_SESSION_TICKET = "waiting for the NewSessionTicket the ServerHello announced"
    WAIT_CHANGE_CIPHER_SPEC = "waiting for the server's ChangeCipherSpec"
    WAIT_FINISHED = "waiting for Finished"
    RESUMED_WAIT_NEW_SESSION_TICKET = (
        "resuming: waiting for the NewSessionTicket the ServerHello announced")
    RESUMED_WAIT_CHANGE_CIPHER_SPEC = "resuming: waiting for the server's ChangeCipherSpec"
    RESUMED_WAIT_FINISHED = "resuming: waiting for Finished"
    CONNECTED = "connected"


_S = members(State)  # (plain attribute reads: see `members`)
_AFTER_DONE = (_S.WAIT_NEW_SESSION_TICKET, _S.WAIT_CHANGE_CIPHER_SPEC)
TABLE: Table = {
    _S.WAIT_SERVER_HELLO: {_HT.server_hello: rule(
        "on_server_hello", _S.WAIT_CERTIFICATE, _S.RESUMED_WAIT_NEW_SESSION_TICKET,
        _S.RESUMED_WAIT_CHANGE_CIPHER_SPEC)},
    _S.WAIT_CERTIFICATE: {_HT.certificate: rule(
        "on_certificate", _S.WAIT_CERTIFICATE_STATUS, _S.WAIT_SERVER_KEY_EXCHANGE,
        _S.RSA_WAIT_CERTIFICATE_STATUS, _S.WAIT_CERTIFICATE_REQUEST_OR_DONE)},
    # RSA key transport has no ServerKeyExchange (RFC 5246 7.4.3).
    _S.RSA_WAIT_CERTIFICATE_STATUS: {
        _HT.certificate_status: rule("on_certificate_status",
                                     _S.WAIT_CERTIFICATE_REQUEST_OR_DONE),
        _HT.certificate_request: rule("on_certificate_request", _S.WAIT_SERVER_HELLO_DONE),
        _HT.server_hello_done: rule("on_server_hello_done", *_AFTER_DONE)},
    _S.WAIT_CERTIFICATE_STATUS: {
        _HT.certificate_status: rule("on_certificate_status", _S.WAIT_SERVER_KEY_EXCHANGE),
        _HT.server_key_exchange: rule("on_server_key_exchange",
                                      _S.WAIT_CERTIFICATE_REQUEST_OR_DONE)},
    _S.WAIT_SERVER_KEY_EXCHANGE: {_HT.server_key_exchange: rule(
        "on_server_key_exchange", _S.WAIT_CERTIFICATE_REQUEST_OR_DONE)},
    _S.WAIT_CERTIFICATE_REQUEST_OR_DONE: {
        _HT.certificate_request: rule("on_certificate_request", _S.WAIT_SERVER_HELLO_DONE),
        _HT.server_hello_done: rule("on_server_hello_done", *_AFTER_DONE)},
    _S.WAIT_SERVER_HELLO_DONE: {_HT.server_hello_done: rule(
        "on_server_hello_done", *_AFTER_DONE)},
    _S.WAIT_NEW_SESSION_TICKET: {_HT.new_session_ticket: rule(
        "on_ticket12", _S.WAIT_CHANGE_CIPHER_SPEC)},
    _S.WAIT_CHANGE_CIPHER_SPEC: {},
    _S.WAIT_FINISHED: {_HT.finished: rule("on_finished", _S.CONNECTED)},
    _S.RESUMED_WAIT_NEW_SESSION_TICKET: {_HT.new_session_ticket: rule(
        "on_ticket12", _S.RESUMED_WAIT_CHANGE_CIPHER_SPEC)},
    _S.RESUMED_WAIT_CHANGE_CIPHER_SPEC: {},
    _S.RESUMED_WAIT_FINISHED: {_HT.finished: rule("on_resumed_finished", _S.CONNECTED)},
    _S.CONNECTED: {_HT.hello_request: rule("on_hello_request", _S.CONNECTED)},
}
# RFC 5077 3.3: a server whose ServerHello carried session_ticket MUST send a
# NewSessionTicket (an empty one if it has none) before its CCS, so the ticket states take
# no CCS (OpenSSL's and Go's clients refuse one there too).
CCS_NEXT: dict[Any, Any] = {
    _S.WAIT_CHANGE_CIPHER_SPEC: _S.WAIT_FINISHED,
    _S.RESUMED_WAIT_CHANGE_CIPHER_SPEC: _S.RESUMED_WAIT_FINISHED}
DEFAULT_SESSION_LIFETIME = 7200  # for a session ID, or a ticket without a lifetime hint


class ClientHandshake12(Handshake12):
    side = "client"
    STATES = State
    TABLE = TABLE
    CCS_NEXT = CCS_NEXT
    __slots__ = ("_client_keys", "_client_public", "_hello_requests", "_server_rsa_key",
                 "_stapling", "_ticket", "_ticket_announced", "alpn", "auth", "cert_request",
                 "ech_rejected", "group", "offered", "offered_session_id", "own_raw",
                 "premaster", "session", "session_id")  # (see Handshake12)

    def __init__(self, handover: Handover12) -> None:
        super().__init__(handover, _S.WAIT_SERVER_HELLO)
        self.offered = handover.offered
        # RFC 9849 6.1.6: ECH was offered and this TLS 1.2 server rejects it; server_name
        # is the ECH config's public name, and the handshake ends in ech_required.
        self.ech_rejected = handover.ech_rejected
        self.auth = PeerAuth()
        self.group: NamedGroup | None = None
        self.alpn: str | None = None
        self.cert_request: CertificateRequestInfo | None = None
        self.premaster = b""
        self.session: Session | None = handover.session
        self.offered_session_id = handover.session_id
        self.session_id = b""  # the server's, for a later resumption
        self._ticket: m12.NewSessionTicket12 | None = None
        self._ticket_announced = False
        self._client_keys: tuple[bytes, bytes] = (b"", b"")
        self._stapling = False
        self._client_public = b""
        self._hello_requests = 0
        self._server_rsa_key: Any = None  # RSA key transport: where the premaster goes
        self.own_raw = False  # RFC 7250: our raw public key answers a CertificateRequest

    def keeps_messages(self, config: Any) -> bool:
        """Only a client with a certificate to offer ever signs a CertificateVerify (one
        without answers a CertificateRequest with an empty Certificate alone)."""
        return bool(config.has_client_certificate()) or config.raw_public_key is not None

    @property
    def verification_error(self) -> TLSError | None:
        return self.auth.verification_error

    # -- ServerHello (RFC 5246 7.4.1.3) ----------------------------------------------

    def on_server_hello(self, sh: m.ServerHello, raw: bytes) -> State:
        cfg = self.config
        if sh.legacy_version != 0x0303:
            raise ProtocolVersionError(f"server chose version {sh.legacy_version:#06x}; "
                                       "tlskit speaks TLS 1.3 and 1.2")
        if "TLSv1.3" in cfg._versions and sh.random[-8:] in (DOWNGRADE_TLS12, DOWNGRADE_TLS11):
            raise IllegalParameter("downgrade sentinel in ServerHello.random (RFC 8446 4.1.3)")
        suite = crypto.SUITES12.get(sh.cipher_suite)
        if suite is None or sh.cipher_suite not in cfg._suites12:
            raise IllegalParameter(f"server chose cipher suite {sh.cipher_suite:#06x}, "
                                   "not offered for TLS 1.2")
        if sh.compression_method != 0:
            raise IllegalParameter("compression is not allowed")
        exts = sh.extensions
        for etype in exts:
            if etype not in ALLOWED_IN_SH12 or etype not in self.offered:
                raise UnsupportedExtension(f"unrequested extension {etype} in ServerHello")
        reneg = exts.get(_E.renegotiation_info)
        if reneg != b"\x00":  # (the one well-formed answer to an initial handshake)
            if reneg is None:
                raise HandshakeFailure("server does not support secure renegotiation "
                                       "(RFC 5746)")
            if ext.decode_renegotiation_info(reneg):  # malformed: decode_error
                raise HandshakeFailure("renegotiation_info must be empty on a new connection "
                                       "(RFC 5746 3.4)")
        resuming = bool(sh.session_id) and sh.session_id == self.offered_session_id
        if resuming and self.session is None:
            raise IllegalParameter("ServerHello echoes our session ID, but we offered no "
                                   "TLS 1.2 session to resume (RFC 5246 7.4.1.3)")
        if _E.extended_master_secret not in exts:
            if resuming:  # RFC 7627 5.3: our sessions all used it
                raise HandshakeFailure("server resumes a session without the extended "
                                       "master secret it was made with (RFC 7627 5.3)")
            self.refuse_without_ems("server")
            self.ems = False
        elif exts[_E.extended_master_secret]:
            raise DecodeError("extended_master_secret must be empty")
        if exts.get(_E.server_name):
            raise DecodeError("server_name in ServerHello must be empty (RFC 6066 3)")
        formats = exts.get(_E.ec_point_formats)  # RFC 8422 5.2: a list of 1..255 holding 0
        if formats is not None and 0 not in ext.decode_ec_point_formats(formats):
            raise IllegalParameter("the server's ec_point_formats lacks uncompressed, "
                                   "which it MUST list (RFC 8422 5.2)")
        if exts.get(_E.session_ticket):
            raise DecodeError("session_ticket in ServerHello must be empty (RFC 5077 3.2)")
        if exts.get(_E.status_request):
            raise DecodeError("status_request in ServerHello must be empty (RFC 6066 8)")
        if cfg._asks_scts and _E.signed_certificate_timestamp in exts:  # RFC 6962 3.3.1:
            from ..wire.sct import decode_sct_list  # (only for clients that asked)
            scts = decode_sct_list(exts[_E.signed_certificate_timestamp])
            if not resuming:  # (a resumption keeps the session's)
                self.auth.scts = scts
        alpn = exts.get(_E.application_layer_protocol_negotiation)
        if alpn is not None:
            chosen = ext.decode_alpn(alpn)
            if len(chosen) != 1 or chosen[0] not in cfg.alpn_protocols:
                raise IllegalParameter(f"server selected ALPN {chosen!r}, not one offered")
            self.alpn = chosen[0]
        if _E.record_size_limit in exts:
            limit = ext.decode_record_size_limit(exts[_E.record_size_limit])
            own = cfg.record_size_limit
            self.out.set_record_limits(  # RFC 8449 4: no type byte in 1.2
                send=min(limit, 1 << 14), receive=None if own is None else min(own, 1 << 14))
        if _E.max_fragment_length in exts:  # RFC 6066 4: both ways, from the next record
            size = agreed_fragment_length(exts, cfg)
            self.out.set_record_limits(send=size, receive=size)
        if cfg._rpk_offer and not resuming:  # RFC 7250 4.2: the certificate types chosen
            self.own_raw = read_cert_type_answers(cfg, exts, self.auth)
            if self.auth.raw_expected:
                self.decoders = RAW_KEY_DECODERS12  # type: ignore[misc]  # (this instance only)
        self.suite12 = suite
        self.suite = suite
        self.server_random = sh.random
        self.transcript.start(suite.hash_name)
        self.transcript.update(raw)
        if self._keep:
            self.messages += raw
        self._stapling = _E.status_request in exts
        self._ticket_announced = _E.session_ticket in exts
        self.session_id = sh.session_id
        if cfg.tracer is not None:
            self.trace(T.SERVER_HELLO, message=sh, raw=raw, version="TLSv1.2",
                       cipher_suite=suite.name)
        if resuming:
            return self._resume(suite)
        return _S.WAIT_CERTIFICATE

    def _resume(self, suite: crypto.Suite12) -> State:
        """RFC 5246 7.3: the session's master secret, new randoms, new keys."""
        session = self.session
        assert session is not None
        if suite.code != session.suite.code:
            raise IllegalParameter("server resumed the session with another cipher suite")
        self._stapling = False  # no CertificateStatus in an abbreviated handshake
        self.resumed = True
        resume_server_auth(self.auth, session, self.config)
        self.trace(T.PSK_ACCEPTED, identity_index=0)
        self.use_resumed_master(session.psk)
        c_key, s_key, c_iv, s_iv = self.key_block()
        self._client_keys = (c_key, c_iv)
        self.pending_read = (s_key, s_iv)
        if self._ticket_announced:
            return _S.RESUMED_WAIT_NEW_SESSION_TICKET
        return _S.RESUMED_WAIT_CHANGE_CIPHER_SPEC

    def on_resumed_finished(self, fin: m.Finished, raw: bytes) -> State:
        self.check_finished12(fin, is_client=False)
        self.trace(T.SERVER_FINISHED, message=fin, raw=raw, verify_data=fin.verify_data)
        c_key, c_iv = self._client_keys
        self.install_write12(c_key, c_iv)
        reply = m.Finished(self.finished_data(True, self.transcript.digest()))
        self.send(reply.encode())
        self.flush()
        self.trace(T.CLIENT_FINISHED, message=reply, verify_data=reply.verify_data)
        self.out.emit(self.complete_event(
            self.auth, group=None, scheme=None, alpn=self.alpn, resumed=True,
            server_name=self.server_name))
        self._remember_session()
        return _S.CONNECTED

    def on_certificate(self, cert: m12.Certificate12, raw: bytes) -> State:
        if self.auth.raw_expected:  # RFC 7250 3: one SPKI, pinned
            return self._on_raw_key(cert, raw)  # type: ignore[arg-type]
        if not cert.certificates:
            raise HandshakeFailure("server sent no certificate")
        self.auth.chain = parse_chain(cert.certificates, "server")
        if self.config.tracer is not None:
            self.trace(T.CERTIFICATE, message=cert, raw=raw, chain=self.auth.chain)
        if not self.rsa_kx:
            return (_S.WAIT_CERTIFICATE_STATUS if self._stapling
                    else _S.WAIT_SERVER_KEY_EXCHANGE)
        if self._stapling:
            return _S.RSA_WAIT_CERTIFICATE_STATUS
        self._accept_key_transport()
        return _S.WAIT_CERTIFICATE_REQUEST_OR_DONE

    def _on_raw_key(self, cert: m12.RawKeyCertificate12, raw: bytes) -> State:
        if not cert.spki:
            raise DecodeError("server sent an empty raw public key (RFC 7250 3: 1..2^24-1 "
                              "bytes)")
        if self.rsa_kx:
            raise UnsupportedCertificate("the server chose RSA key transport with a raw "
                                         "public key, which tlskit does not do")
        self.auth.raw_key = key = read_raw_key([cert.spki], self.config._server_pins,
                                               "server", "pinned_server_keys")
        self.auth.authenticated = True
        self.trace(T.CERTIFICATE, message=cert, raw=raw, chain=[],
                   certificate_type="RawPublicKey", raw_public_key=key.spki)
        return _S.WAIT_CERTIFICATE_STATUS if self._stapling else _S.WAIT_SERVER_KEY_EXCHANGE

    def on_certificate_status(self, msg: m12.CertificateStatus, raw: bytes) -> State:
        self.auth.ocsp_response = msg.response
        self.trace(T.CERTIFICATE_STATUS, message=msg, raw=raw, ocsp_response=msg.response)
        if self.rsa_kx:
            self._accept_key_transport()
            return _S.WAIT_CERTIFICATE_REQUEST_OR_DONE
        return _S.WAIT_SERVER_KEY_EXCHANGE

    def _accept_key_transport(self) -> None:
        """RSA key transport: the premaster goes to the certificate's key, so that
        certificate is checked before anything is encrypted to it (the staple, if any,
        has arrived), and its key must be able to receive it."""
        verify_server_chain(self, self.auth, self.server_name,
                            ech_public_name=self.ech_rejected)
        leaf = self.auth.chain[0]
        problem = key_transport_problem(leaf)
        if problem is not None:
            assert self.suite12 is not None
            raise UnsupportedCertificate(
                f"the server chose {self.suite12.name} (RSA key transport), but its "
                f"certificate {leaf.subject.rfc4514_string()!r} cannot receive the premaster "
                f"secret: {problem} (RFC 5246 7.4.2)")
        self._server_rsa_key = public_key_of(leaf)

    def _ensure_key_transport(self) -> None:
        """A server may acknowledge status_request and then send no CertificateStatus
        (RFC 6066 8): the certificate is then checked when the next message arrives."""
        if self.rsa_kx and self._server_rsa_key is None:
            self._accept_key_transport()

    def on_server_key_exchange(self, ske: m12.ServerKeyExchangeECDHE, raw: bytes) -> State:
        auth = self.auth
        if auth.raw_key is None:
            verify_server_chain(self, auth, self.server_name,
                                ech_public_name=self.ech_rejected)
        cfg = self.config
        if ske.group not in cfg._groups or ske.group not in crypto.GROUPS12:
            raise IllegalParameter(f"server chose group {ske.group:#06x}, not offered")
        if ske.scheme not in cfg._schemes or ske.scheme not in crypto.SCHEMES:
            raise IllegalParameter(f"ServerKeyExchange scheme {ske.scheme:#06x} not offered")
        leaf = auth.chain[0] if auth.raw_key is None else auth.raw_key
        leaf_key = public_key_of(leaf)
        suite = self.suite12
        assert suite is not None
        if crypto.public_key_auth_kind(leaf_key) != suite.auth:
            raise IllegalParameter(f"{suite.name} needs an {suite.auth} "
                                   "certificate (RFC 8422 5.3)")
        signed = (self.client_random + self.server_random
                  + m12.ServerKeyExchangeECDHE.signed_params(raw))
        # The key's algorithm OID tells RSA keys apart (rsaEncryption or RSASSA-PSS); an
        # ECDSA suite's key was just found to be an EC key, for which it says nothing.
        key_oid = None if suite.auth == "ECDSA" else leaf.public_key_algorithm_oid.dotted_string
        if key_oid == crypto.RSASSA_PSS_OID:  # RFC 4055 parameters may restrict the key
            check_pss_key(leaf, ske.scheme, "server")
        crypto.verify(leaf_key, ske.scheme, ske.signature, signed, curve_bound=False,
                      key_oid=key_oid)
        share = crypto.new_key_share(ske.group, cfg.rng)
        self.premaster = share.exchange(ske.public)
        self.group = group_of(ske.group)
        self.auth.scheme = scheme_of(ske.scheme)
        self._client_public = share.public
        if cfg.tracer is not None:  # (naming costs: only when traced)
            self.trace(T.SERVER_KEY_EXCHANGE, message=ske, raw=raw, group=self.group.name,
                       server_share=ske.public, client_share=share.public,
                       shared_secret=self.premaster, scheme=self.auth.scheme.name)
        return _S.WAIT_CERTIFICATE_REQUEST_OR_DONE

    def on_certificate_request(self, msg: m12.CertificateRequest12, raw: bytes) -> State:
        """RFC 5246 7.4.4: read strictly, CA names included, whether or not we answer
        with a certificate."""
        self._ensure_key_transport()
        self.cert_request = CertificateRequestInfo.received(
            msg.authorities, schemes_for_types(msg.schemes, msg.certificate_types), "TLSv1.2",
            self.server_name)
        if self.config.tracer is not None:
            self.trace(T.CERTIFICATE_REQUEST, message=msg, raw=raw,
                       certificate_authorities=self.cert_request.names())
        return _S.WAIT_SERVER_HELLO_DONE

    # -- the client's flight ---------------------------------------------------------

    def on_server_hello_done(self, msg: m12.ServerHelloDone, raw: bytes) -> State:
        self._ensure_key_transport()
        traced = self.config.tracer is not None
        if traced:
            self.trace(T.SERVER_HELLO_DONE, message=msg, raw=raw)
        signer = None
        if self.cert_request is not None:
            signer = self._send_certificate()
            self.cert_request = None  # answered: not kept for the connection's life
        self._send_client_key_exchange()
        # RFC 5246 7.4.9: our Finished covers the messages up to it; with no
        # CertificateVerify in between, those the EMS session hash covered (RFC 7627 3).
        finished_hash = self.derive_master(self.premaster)
        self.premaster = b""
        if signer is not None:
            key, scheme = signer
            sig = crypto.sign(key, scheme, bytes(self.messages))
            cv = m12.CertificateVerify12(scheme, sig)
            self.send(cv.encode())
            self.trace(T.CLIENT_CERTIFICATE_VERIFY, message=cv,
                       scheme=SignatureScheme(scheme).name)
            finished_hash = b""  # (the transcript has grown)
        if self._keep:  # signed (or not asked for): kept no longer (a CertificateRequest
            self._keep = False  # alone may be ~64 KB)
            self.messages = bytearray()
        c_key, s_key, c_iv, s_iv = self.key_block()
        self.install_write12(c_key, c_iv)
        verify_data = self.finished_data(True, finished_hash or self.transcript.digest())
        self.send(m12.encode_finished12(verify_data))
        self.flush()
        self.pending_read = (s_key, s_iv)
        if traced:
            self.trace(T.CLIENT_FINISHED, message=m.Finished(verify_data),
                       verify_data=verify_data, master_secret=self.master_secret)
        if self._ticket_announced:  # RFC 5077 3.2: only after the extension in ServerHello
            return _S.WAIT_NEW_SESSION_TICKET
        return _S.WAIT_CHANGE_CIPHER_SPEC

    def _send_client_key_exchange(self) -> None:
        """Our ECDHE share, or (RSA key transport) a fresh premaster encrypted to the
        server's certificate key, carrying our ClientHello's version (RFC 5246 7.4.7.1)."""
        if not self.rsa_kx:
            cke_raw = m12.encode_cke_ecdhe(self._client_public)
            self.send(cke_raw)
            if self.config.tracer is not None:
                self.trace(T.CLIENT_KEY_EXCHANGE,
                           message=m12.ClientKeyExchangeECDHE(self._client_public),
                           raw=cke_raw, client_share=self._client_public)
            return
        assert self._server_rsa_key is not None
        self.premaster, encrypted = crypto.rsa_encrypt_premaster(
            self._server_rsa_key, CLIENT_HELLO_VERSION, self.config.rng)
        cke = m12.ClientKeyExchangeRSA(encrypted)
        cke_raw = cke.encode()
        self.send(cke_raw)
        self.trace(T.CLIENT_KEY_EXCHANGE, message=cke, raw=cke_raw,
                   premaster_secret=self.premaster, encrypted_premaster=encrypted)

    def _send_certificate(self) -> tuple[Any, int] | None:
        """The chain chosen for the request: its key of one of the certificate_types
        (RFC 5246 7.4.6, RFC 8422 5.5) with one of its signature algorithms; else an
        empty Certificate, and the server decides whether to go on (as Go's client does)."""
        req = self.cert_request
        assert req is not None
        cfg = self.config
        if self.own_raw:  # RFC 7250 3: our SPKI alone, signed for as a certificate
            rpk = cfg.raw_public_key
            scheme = req.signing_scheme(rpk)
            if scheme is not None:
                self.send(m12.RawKeyCertificate12(rpk.spki).encode())
                self.trace(T.CLIENT_CERTIFICATE, chain=[], certificate_type="RawPublicKey",
                           raw_public_key=rpk.spki, scheme=SignatureScheme(scheme).name)
                return rpk.private_key, scheme
        chosen = None
        if not self.ech_rejected and not self.own_raw:  # (RFC 9849 6.1.6: none then)
            chosen = choose(req, cfg._client_certs, cfg.certificate_resolver)
        if chosen is None:
            self.send(m12.Certificate12([]).encode())
            self.trace(T.CLIENT_CERTIFICATE, chain=[])
            return None
        ck, scheme = chosen
        self.send(m12.Certificate12(list(ck.cert_der)).encode())
        self.trace(T.CLIENT_CERTIFICATE, chain=ck.chain, scheme=SignatureScheme(scheme).name)
        return ck.private_key, scheme

    def on_ticket12(self, msg: m12.NewSessionTicket12, raw: bytes) -> State:
        """RFC 5077 3.3: one ticket, kept for the session this handshake leaves."""
        self._ticket = msg
        self.trace(T.NEW_SESSION_TICKET, message=msg, raw=raw)
        if self.resumed:
            return _S.RESUMED_WAIT_CHANGE_CIPHER_SPEC
        return _S.WAIT_CHANGE_CIPHER_SPEC

    def _remember_session(self) -> None:
        """A resumable session, only from an extended-master-secret handshake whose
        server validated (or a resumption of one); cached and reported."""
        cfg = self.config
        ticket = self._ticket.ticket if self._ticket is not None else b""
        hint = self._ticket.lifetime if self._ticket is not None else 0
        old = self.session if self.resumed else None
        if old is not None and not ticket:
            ticket = old.ticket  # RFC 5077 3.1: not renewed, the old ticket still holds
        if not self.ems or not (ticket or self.session_id):
            return
        if self.auth.verification_error is not None or not self.auth.authenticated:
            return
        assert self.suite12 is not None
        session = Session(  # by position: sixteen keywords cost more than the rest
            ticket,
            self.master_secret,  # psk
            self.suite12,  # suite
            0,  # age_add
            min(hint or DEFAULT_SESSION_LIFETIME, MAX_TICKET_LIFETIME),  # lifetime
            old.received_at if old is not None else cfg.clock(),  # received_at
            self.server_name,
            self.alpn,  # alpn_protocol
            list(self.auth.chain),  # peer_certificates
            self.group.name if self.group else None,  # group
            True,  # authenticated
            cfg.check_hostname,  # hostname_checked
            self.auth.ocsp_response,
            0,  # max_early_data
            True,  # tls12
            b"" if ticket else self.session_id)  # session_id
        if self.auth.raw_key is not None:  # RFC 7250: resumed only while still pinned
            session.peer_raw_public_key = self.auth.raw_key.spki
        if self.auth.scts:  # RFC 6962 3.3.1: kept for resumptions
            session.signed_certificate_timestamps = self.auth.scts
        if cfg.session_cache is not None:
            cfg.session_cache.put(session)
        self.out.emit(SessionTicketReceived(session.lifetime, ticket, session))

    def on_finished(self, fin: m.Finished, raw: bytes) -> State:
        self.check_finished12(fin, is_client=False)
        if self.config.tracer is not None:
            self.trace(T.SERVER_FINISHED, message=fin, raw=raw, verify_data=fin.verify_data)
        if self.ech_rejected:
            self._ech_rejected()
        self.out.emit(self.complete_event(
            self.auth, group=self.group, scheme=self.auth.scheme, alpn=self.alpn,
            resumed=False, server_name=self.server_name))
        self._remember_session()
        return _S.CONNECTED

    def _ech_rejected(self) -> None:
        """RFC 9849 6.1.6: the TLS 1.2 handshake is complete, the public name checked:
        abort with ech_required (TLS 1.2 has no retry configs)."""
        if self.auth.verification_error is not None:
            raise self.auth.verification_error
        assert self.server_name is not None
        raise EchRejected(self.server_name, None, "the server negotiated TLS 1.2")

    def _received(self, raw: bytes) -> None:
        if raw[0] == _HELLO_REQUEST and self.state is not _S.CONNECTED:
            # RFC 5246 7.4.1.1: ignored while negotiating, and never part of the transcript
            m12.HelloRequest.decode(memoryview(raw)[4:])
            return
        super()._received(raw)

    def on_hello_request(self, msg: Any, raw: bytes) -> State:
        """Renegotiation is refused with a warning (RFC 5746 4.5), a bounded number of times."""
        self._hello_requests += 1
        if self._hello_requests > MAX_REFUSED_RENEGOTIATIONS:
            raise UnexpectedMessage("too many HelloRequests")
        self.out.send_warning(AlertDescription.no_renegotiation)
        return _S.CONNECTED
