"""The TLS 1.3 client handshake (RFC 8446 2, 4), one method per step.

    start -> ExpectServerHello (-> HRR -> ExpectServerHello) -> ExpectEncryptedExtensions
      -> [ExpectCertificateRequest] -> ExpectCertificate -> ExpectCertificateVerify
      -> ExpectFinished -> Traffic
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from cryptography import x509

from .. import crypto
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
)
from ..errors import (
    DecodeError,
    HandshakeFailure,
    IllegalParameter,
    MissingExtension,
    ProtocolVersionError,
    TLSError,
    UnexpectedMessage,
)
from ..events import Event, HandshakeComplete, SessionTicketReceived
from ..keyschedule import EarlySecret, HandshakeSecret, MasterSecret, resumption_psk
from ..record import RecordLayer
from ..session import Session
from ..wire import certcompress
from ..wire import extensions as ext
from ..wire import messages as m
from .common import (
    ALLOWED_IN_CERT_ENTRY,
    ALLOWED_IN_EE,
    ALLOWED_IN_HRR,
    ALLOWED_IN_SH,
    CV_CLIENT,
    CV_SERVER,
    Handshake13,
    parse_chain,
)

_E = ExtensionType
_HT = HandshakeType
# 4.1.3: the last 8 bytes of ServerHello.random when a TLS 1.3 server negotiates less.
DOWNGRADE_TLS12 = b"DOWNGRD\x01"
DOWNGRADE_TLS11 = b"DOWNGRD\x00"


class ClientHandshake13(Handshake13):
    side = "client"
    config: ClientConfig

    def __init__(self, config: ClientConfig, records: RecordLayer, events: list[Event],
                 server_name: str | None, session: Session | None = None) -> None:
        super().__init__(config, records, events)
        self.server_name = server_name
        now = config.clock()

        def acceptable(candidate: Session) -> bool:
            return _may_resume(config, candidate, server_name, now)

        if session is None and config.session_cache is not None:
            session = config.session_cache.take(server_name, now, acceptable)
        elif session is not None and not acceptable(session):
            session = None
        self.session = session
        self.resumed = False
        self.shares: dict[int, KeyShare] = {}
        self.offered_extensions: set[int] = set()
        self.hrr_seen = False
        self.session_id = b""
        self.cookie: bytes | None = None
        self.group: NamedGroup | None = None
        self.handshake_secret: HandshakeSecret | None = None
        self.master_secret: MasterSecret | None = None
        self.peer_chain: list[x509.Certificate] = []
        self.peer_scheme: SignatureScheme | None = None
        self.alpn: str | None = None
        self.certificate_request: m.CertificateRequest | None = None
        self.ocsp_response: bytes | None = None
        self.verification_error: TLSError | None = None
        self.authenticated = False  # the server's chain (or resumed session) validated
        self.resumption_master = b""
        self.exporter_master = b""
        self.client_hello: m.ClientHello | None = None
        self._client_hs_secret = b""
        self._ccs_sent = False

    # -- ClientHello (4.1.2) ---------------------------------------------------------

    def start(self) -> None:
        cfg = self.config
        self.client_random = cfg.rng(32)
        if cfg.middlebox_compat:
            self.session_id = cfg.rng(32)
        if "TLSv1.3" in cfg._versions:
            for group in cfg._share_groups:
                self.shares[group] = crypto.new_key_share(group, cfg.rng)
        hello = m.ClientHello(self.client_random, self.session_id,
                              [*cfg._suites, *cfg._suites12], self._hello_extensions())
        self.client_hello = hello
        self._send_hello(hello)
        self.expect = {_HT.server_hello: self.on_server_hello}
        self.state = "waiting for ServerHello"

    def _hello_extensions(self) -> m.Extensions:
        cfg = self.config
        exts = m.Extensions()
        if self.server_name and not _is_ip_literal(self.server_name):
            exts[_E.server_name] = ext.encode_server_name(_sni_form(self.server_name))
        tls13 = "TLSv1.3" in cfg._versions
        tls12 = "TLSv1.2" in cfg._versions
        exts[_E.renegotiation_info] = b"\x00"  # RFC 5746: an empty renegotiated_connection
        exts[_E.supported_groups] = ext.encode_u16_list(
            cfg._groups if tls13 else [g for g in cfg._groups if g in crypto.GROUPS12])
        if tls12:
            exts[_E.ec_point_formats] = b"\x01\x00"  # uncompressed only (RFC 8422 5.1.2)
            exts[_E.extended_master_secret] = b""
        if cfg.legacy_session_ticket:
            exts[_E.session_ticket] = b""
        if tls13:
            exts[_E.key_share] = ext.encode_key_share_client(
                [(g, s.public) for g, s in self.shares.items()])
            versions: list[int] = [ProtocolVersion.TLSv1_3]
            if tls12:
                versions.append(ProtocolVersion.TLSv1_2)
            exts[_E.supported_versions] = ext.encode_versions_client(versions)
        exts[_E.signature_algorithms] = ext.encode_u16_list(cfg._schemes)
        if cfg._cert_schemes is not None:
            exts[_E.signature_algorithms_cert] = ext.encode_u16_list(cfg._cert_schemes)
        if self.cookie is not None:
            exts[_E.cookie] = ext.encode_cookie(self.cookie)
        if tls13:
            exts[_E.psk_key_exchange_modes] = ext.encode_psk_modes(
                [PskKeyExchangeMode.psk_dhe_ke])
        if cfg.record_size_limit is not None:
            exts[_E.record_size_limit] = ext.encode_record_size_limit(cfg.record_size_limit)
        if cfg.alpn_protocols:
            exts[_E.application_layer_protocol_negotiation] = ext.encode_alpn(
                list(cfg.alpn_protocols))
        if cfg.ocsp_stapling:
            exts[_E.status_request] = ext.encode_status_request_ocsp()
        if tls13 and cfg._cert_compression:
            exts[_E.compress_certificate] = certcompress.encode_extension(cfg._cert_compression)
        self.offered_extensions = set(exts)
        return exts

    def _send_hello(self, hello: m.ClientHello) -> None:
        session = self.session
        exts = hello.extensions
        if session is not None:  # 4.2.11: offer the ticket; pre_shared_key goes last
            identity = [(session.ticket, session.obfuscated_age(self.config.clock()))]
            placeholder = [bytes(session.suite.hash_length)]
            exts[_E.pre_shared_key] = ext.encode_pre_shared_key_client(identity, placeholder)
            self.offered_extensions.add(_E.pre_shared_key)
        raw = hello.encode()
        if 256 <= len(raw) < 512:
            # RFC 7685: some middleboxes choke on ClientHellos of 256..511 bytes; pad to 512.
            psk = exts.pop(_E.pre_shared_key, None)
            exts[_E.padding] = bytes(max(512 - len(raw) - 4, 1))
            if psk is not None:
                exts[_E.pre_shared_key] = psk
            raw = hello.encode()
        if session is not None:
            cut = len(raw) - ext.binders_length(placeholder)
            binder = self.psk_binder(session.suite, session.psk, self.transcript, raw[:cut])
            exts[_E.pre_shared_key] = ext.encode_pre_shared_key_client(identity, [binder])
            raw = hello.encode()
        self.records.legacy_version_out = 0x0301 if not self.hrr_seen else 0x0303
        self.send(raw)
        self.flush()
        self.records.legacy_version_out = 0x0303
        self.trace("client_hello", message=hello, raw=raw, shares={
            NamedGroup(g).name: s.public for g, s in self.shares.items()})

    # -- ServerHello / HelloRetryRequest (4.1.3, 4.1.4) -------------------------------

    def on_server_hello(self, sh: m.ServerHello, raw: bytes) -> None:
        if _E.supported_versions not in sh.extensions and "TLSv1.2" in self.config._versions \
                and not self.hrr_seen and not sh.is_hello_retry_request:
            from .client12 import ClientHandshake12
            successor = ClientHandshake12(self)
            self.successor = successor
            successor.on_server_hello(sh, raw)
            return
        if "TLSv1.3" not in self.config._versions:
            raise ProtocolVersionError("server selected TLS 1.3, which is not enabled")
        self._check_server_hello_common(sh)
        if sh.is_hello_retry_request:
            self.on_hello_retry_request(sh, raw)
            return
        exts = sh.extensions
        self.check_extensions(exts, ALLOWED_IN_SH, self.offered_extensions, "ServerHello")
        psk = self._accepted_psk(exts)
        if _E.key_share not in exts:
            raise MissingExtension("ServerHello has no key_share (PSK-only is not offered)")
        group, server_public = ext.decode_key_share_server(exts[_E.key_share])
        share = self.shares.get(group)
        if share is None:
            raise IllegalParameter(f"server key share for {NamedGroup(group).name}, "
                                   "which has no client share")
        if not self.hrr_seen:
            self.transcript.start(self.suite_or_fail().hash_name)
        self.transcript.update(raw)
        shared = share.exchange(server_public)
        self.group = NamedGroup(group)
        self.shares = {}
        suite = self.suite_or_fail()
        hs = EarlySecret.start(suite, psk).handshake(shared)
        self.handshake_secret = hs
        th = self.transcript.digest()
        c_hs, s_hs = hs.client_traffic(th), hs.server_traffic(th)
        self.keylog("CLIENT_HANDSHAKE_TRAFFIC_SECRET", c_hs)
        self.keylog("SERVER_HANDSHAKE_TRAFFIC_SECRET", s_hs)
        self.trace("server_hello", message=sh, raw=raw, group=self.group.name,
                   server_share=server_public, shared_secret=shared,
                   cipher_suite=suite.name, client_handshake_traffic_secret=c_hs,
                   server_handshake_traffic_secret=s_hs)
        self.set_read(s_hs)
        self._client_hs_secret = c_hs
        # Our own records (an alert, or the second flight) go under the handshake key from
        # now on; the compatibility CCS comes first (RFC 8446 D.4).
        if self.config.middlebox_compat and not self._ccs_sent:
            self.records.write_unprotected(20, b"\x01")
            self._ccs_sent = True
        self.set_write(c_hs)
        self.expect = {_HT.encrypted_extensions: self.on_encrypted_extensions}
        self.state = "waiting for EncryptedExtensions"

    def _accepted_psk(self, exts: m.Extensions) -> bytes | None:
        """4.2.11: the server may pick our one ticket; the suite's hash must match it."""
        if _E.pre_shared_key not in exts:
            return None
        session = self.session
        assert session is not None  # otherwise check_extensions rejected it
        selected = ext.decode_selected_identity(exts[_E.pre_shared_key])
        if selected != 0:
            raise IllegalParameter(f"server selected PSK identity {selected}; one was offered")
        if self.suite_or_fail().hash_name != session.suite.hash_name:
            raise IllegalParameter("server resumed with a suite whose hash differs from the PSK's")
        self.resumed = True
        return session.psk

    def ccs_allowed(self) -> bool:
        """D.4: the compatibility CCS only exists when TLS 1.3 is on offer."""
        return "TLSv1.3" in self.config._versions

    def suite_or_fail(self) -> crypto.Suite:
        assert self.suite is not None
        return self.suite

    def _check_server_hello_common(self, sh: m.ServerHello) -> None:
        exts = sh.extensions
        if _E.supported_versions not in exts:
            # A TLS 1.2 (or older) server: tlskit speaks TLS 1.3 only.
            tail = sh.random[-8:]
            if tail in (DOWNGRADE_TLS12, DOWNGRADE_TLS11):
                raise IllegalParameter("downgrade sentinel in ServerHello.random (4.1.3)")
            raise ProtocolVersionError(
                f"server chose {ProtocolVersion(sh.legacy_version).label}; only TLS 1.3 "
                "is enabled")
        version = ext.decode_version_server(exts[_E.supported_versions])
        if version != ProtocolVersion.TLSv1_3:
            raise IllegalParameter(f"server selected version {version:#06x} not offered")
        if sh.legacy_version != 0x0303:
            raise IllegalParameter("ServerHello.legacy_version must be 0x0303")
        if sh.session_id != self.session_id:
            raise IllegalParameter("ServerHello does not echo legacy_session_id")
        if sh.compression_method != 0:
            raise IllegalParameter("ServerHello.legacy_compression_method must be 0")
        if sh.cipher_suite not in self.config._suites:
            raise IllegalParameter(
                f"server chose cipher suite {CipherSuite(sh.cipher_suite).name}, not offered")
        if self.suite is not None and self.suite.code != sh.cipher_suite:
            raise IllegalParameter("ServerHello cipher suite differs from the HelloRetryRequest")
        self.suite = SUITES[sh.cipher_suite]

    def on_hello_retry_request(self, hrr: m.ServerHello, raw: bytes) -> None:
        if self.hrr_seen:
            raise UnexpectedMessage("a second HelloRetryRequest")
        self.hrr_seen = True
        exts = hrr.extensions
        self.check_extensions(exts, ALLOWED_IN_HRR, self.offered_extensions | {_E.cookie},
                              "HelloRetryRequest")
        if _E.key_share not in exts and _E.cookie not in exts:
            raise IllegalParameter("HelloRetryRequest would not change the ClientHello")
        suite = self.suite_or_fail()
        if self.session is not None and self.session.suite.hash_name != suite.hash_name:
            self.session = None  # the ticket cannot be used with this suite's hash
        self.transcript.restart_after_hrr(suite.hash_name)
        self.transcript.update(raw)
        if _E.cookie in exts:
            self.cookie = ext.decode_cookie(exts[_E.cookie])
        if _E.key_share in exts:
            group = ext.decode_key_share_hrr(exts[_E.key_share])
            if group not in self.config._groups or group in self.shares:
                raise IllegalParameter(
                    f"HelloRetryRequest asks for {NamedGroup(group).name}, which was not "
                    "offered or already has a share")
            if group not in crypto.IMPLEMENTED_GROUPS:
                raise HandshakeFailure(f"group {NamedGroup(group).name} is not implemented")
            self.shares = {group: crypto.new_key_share(group, self.config.rng)}
        self.trace("hello_retry_request", message=hrr, raw=raw,
                   group=NamedGroup(next(iter(self.shares))).name, cookie=self.cookie)
        if self.config.middlebox_compat:
            self.records.write_unprotected(20, b"\x01")
            self._ccs_sent = True
        assert self.client_hello is not None
        hello = m.ClientHello(self.client_random, self.session_id,
                              self.client_hello.cipher_suites, self._hello_extensions())
        self.client_hello = hello
        self._send_hello(hello)

    # -- EncryptedExtensions (4.3.1) --------------------------------------------------

    def on_encrypted_extensions(self, ee: m.EncryptedExtensions, raw: bytes) -> None:
        exts = ee.extensions
        self.check_extensions(exts, ALLOWED_IN_EE, self.offered_extensions,
                              "EncryptedExtensions")
        if exts.get(_E.server_name):
            raise DecodeError("server_name in EncryptedExtensions must be empty")
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
            self.records.send_limit = min(limit - 1, 1 << 14)  # 8449 4: includes the type
        if self.config.record_size_limit is not None and _E.record_size_limit in exts:
            self.records.receive_limit = self.config.record_size_limit - 1
        if _E.early_data in exts:
            raise IllegalParameter("early_data accepted, but none was offered")
        self.trace("encrypted_extensions", message=ee, raw=raw, alpn=self.alpn)
        if self.resumed:  # 2.2: the PSK authenticates the server; Finished comes next
            assert self.session is not None
            self.peer_chain = list(self.session.peer_certificates)
            self.ocsp_response = self.session.ocsp_response
            self.authenticated = True  # _may_resume re-validated the session's chain
            self.expect = {_HT.finished: self.on_finished}
            self.state = "waiting for Finished"
            return
        self.expect = {_HT.certificate_request: self.on_certificate_request,
                       _HT.certificate: self.on_certificate,
                       _HT.compressed_certificate: self.on_compressed_certificate}
        self.state = "waiting for Certificate"

    def on_certificate_request(self, cr: m.CertificateRequest, raw: bytes) -> None:
        if cr.request_context:
            raise IllegalParameter("CertificateRequest context must be empty in the handshake")
        if _E.signature_algorithms not in cr.extensions:
            raise MissingExtension("CertificateRequest without signature_algorithms")
        ext.decode_u16_list(cr.extensions[_E.signature_algorithms], "signature_algorithms")
        self.certificate_request = cr
        self.trace("certificate_request", message=cr, raw=raw)
        self.expect = {_HT.certificate: self.on_certificate,
                       _HT.compressed_certificate: self.on_compressed_certificate}

    # -- Certificate, CertificateVerify (4.4.2, 4.4.3) --------------------------------

    def on_compressed_certificate(self, cc: m.CompressedCertificate, raw: bytes) -> None:
        """RFC 8879 4: a compressed Certificate, in an algorithm we offered."""
        if cc.algorithm not in self.config._cert_compression:
            raise IllegalParameter(f"certificate compressed with {cc.algorithm}, not offered")
        body = certcompress.decompress(cc, self.config.max_handshake_message)
        self.trace("compressed_certificate", algorithm=certcompress.NAMES.get(cc.algorithm),
                   compressed=len(cc.compressed), uncompressed=len(body))
        self.on_certificate(m.Certificate.decode(body), raw)

    def on_certificate(self, cert: m.Certificate, raw: bytes) -> None:
        if cert.request_context:
            raise IllegalParameter("server Certificate has a non-empty request context")
        if not cert.entries:
            raise DecodeError("server sent an empty Certificate message (4.4.2.4)")
        for i, entry in enumerate(cert.entries):
            allowed = ALLOWED_IN_CERT_ENTRY
            self.check_extensions(entry.extensions, allowed, self.offered_extensions | {
                _E.signed_certificate_timestamp}, "CertificateEntry")
            if _E.status_request in entry.extensions:
                # 4.4.2.1: a status may come with any certificate; tlskit uses the leaf's.
                status = ext.decode_ocsp_status(entry.extensions[_E.status_request])
                if i == 0:
                    self.ocsp_response = status
        chain = parse_chain([e.cert_data for e in cert.entries], "server")
        self.peer_chain = chain
        self.trace("certificate", message=cert, raw=raw, chain=chain,
                   ocsp_response=self.ocsp_response)
        self._verify_chain()
        self.expect = {_HT.certificate_verify: self.on_certificate_verify}
        self.state = "waiting for CertificateVerify"

    def _verify_chain(self) -> None:
        cfg = self.config
        at = datetime.fromtimestamp(cfg.clock(), UTC)
        name = self.server_name if cfg.check_hostname else None
        try:
            verified = cfg.get_verifier().verify(
                self.peer_chain[0], self.peer_chain[1:], server_name=name, at=at,
                usage="server", ocsp_response=self.ocsp_response)
            self.trace("certificate_verified", chain=verified, server_name=name, at=at,
                       ocsp_response=self.ocsp_response)
            self.authenticated = True
        except TLSError as exc:
            self.trace("certificate_rejected", error=exc)
            if cfg.verify_mode == "required":
                raise
            self.verification_error = exc

    def on_certificate_verify(self, cv: m.CertificateVerify, raw: bytes) -> None:
        self.check_certificate_verify(cv, self.peer_chain[0], self.config._schemes,
                                      CV_SERVER, self.hash_before)
        self.peer_scheme = SignatureScheme(cv.algorithm)
        self.trace("certificate_verify", message=cv, raw=raw, scheme=self.peer_scheme.name)
        self.expect = {_HT.finished: self.on_finished}
        self.state = "waiting for Finished"

    # -- Finished (4.4.4) and the switch to application keys ---------------------------

    def on_finished(self, fin: m.Finished, raw: bytes) -> None:
        assert self.handshake_secret is not None
        expected = self.finished_for(self.read_secret, self.hash_before)
        self.check_finished(fin, expected)
        master = self.handshake_secret.master()
        th = self.transcript.digest()
        c_ap, s_ap = master.client_traffic(th), master.server_traffic(th)
        self.exporter_master = master.exporter(th)
        self.keylog("CLIENT_TRAFFIC_SECRET_0", c_ap)
        self.keylog("SERVER_TRAFFIC_SECRET_0", s_ap)
        self.keylog("EXPORTER_SECRET", self.exporter_master)
        self.trace("server_finished", message=fin, raw=raw, verify_data=fin.verify_data,
                   client_application_traffic_secret=c_ap,
                   server_application_traffic_secret=s_ap)
        self.set_read(s_ap)
        if self.certificate_request is not None:
            self._send_client_certificate()
        client_fin = m.Finished(self.finished_for(self._client_hs_secret,
                                                  self.transcript.digest()))
        self.send(client_fin.encode())
        self.flush()
        self.trace("client_finished", message=client_fin, verify_data=client_fin.verify_data)
        self.resumption_master = master.resumption(self.transcript.digest())
        self.set_write(c_ap)
        self.handshake_secret = None
        self.complete = True
        self.expect = {_HT.new_session_ticket: self.on_new_session_ticket,
                       _HT.key_update: self.post_handshake_key_update}
        self.state = "connected"
        self.events.append(self.summary())

    def _send_client_certificate(self) -> None:
        """4.4.2: answer a CertificateRequest (an empty Certificate if we have none)."""
        cr = self.certificate_request
        assert cr is not None
        offered = ext.decode_u16_list(cr.extensions[_E.signature_algorithms],
                                      "signature_algorithms")
        ck = self.config.certificate
        scheme = None
        if ck is not None:
            scheme = next((s for s in ck.schemes if s in offered), None)
        if ck is None or scheme is None:
            self.send(m.Certificate(b"", []).encode())
            self.trace("client_certificate", chain=[])
            return
        self.send(m.Certificate(b"", [m.CertificateEntry(d) for d in ck.cert_der]).encode())
        signature = crypto.sign(ck.private_key, scheme, CV_CLIENT + self.transcript.digest())
        self.send(m.CertificateVerify(scheme, signature).encode())
        self.trace("client_certificate", chain=ck.chain, scheme=SignatureScheme(scheme).name)

    def summary(self) -> HandshakeComplete:
        return HandshakeComplete(
            version="TLSv1.3", cipher_suite=self.suite_or_fail().name,
            group=self.group.name if self.group else None,
            signature_scheme=self.peer_scheme.name if self.peer_scheme else None,
            alpn_protocol=self.alpn, peer_certificates=list(self.peer_chain),
            resumed=self.resumed,
            server_name=self.server_name, ocsp_response=self.ocsp_response)

    # -- post-handshake messages (4.6) ---------------------------------------------------

    def on_new_session_ticket(self, nst: m.NewSessionTicket, raw: bytes) -> None:
        """4.6.1: remember the ticket with the PSK its nonce derives, and how the server
        was authenticated (a session from a failed validation is never cached)."""
        suite = self.suite_or_fail()
        session = Session(
            ticket=nst.ticket, psk=resumption_psk(suite, self.resumption_master, nst.nonce),
            suite=suite, age_add=nst.age_add, lifetime=nst.lifetime,
            received_at=self.config.clock(), server_name=self.server_name,
            alpn_protocol=self.alpn, peer_certificates=list(self.peer_chain),
            group=self.group.name if self.group else None,
            authenticated=self.authenticated and self.verification_error is None,
            hostname_checked=self.config.check_hostname, ocsp_response=self.ocsp_response)
        cache = self.config.session_cache
        if cache is not None and nst.lifetime > 0 and session.authenticated:
            cache.put(session)
        self.events.append(SessionTicketReceived(nst.lifetime, nst.ticket, session))
        self.trace("new_session_ticket", message=nst, raw=raw)


def _may_resume(config: ClientConfig, session: Session, server_name: str | None,
                now: float) -> bool:
    """Offer `session` only where a full handshake would have been accepted (4.6.1).

    The session must be fresh, of a suite we offer, from a handshake whose validation
    passed, and this config's verifier must accept the remembered chain (with the staple
    it came with) for the name dialled now, at the current time: so a session made under
    other trust anchors, for another name, without a host-name check, or whose
    certificate has since expired is never offered. A client that skips host-name checks
    resumes only under the exact server name the session was made for."""
    if not session.valid_at(now) or session.suite.code not in config._suites:
        return False
    if not session.authenticated or not session.peer_certificates:
        return False
    if config.check_hostname:
        if server_name is None or not session.hostname_checked:
            return False
    elif session.server_name != server_name:
        return False
    chain = session.peer_certificates
    try:
        config.get_verifier().verify(
            chain[0], chain[1:], server_name=server_name if config.check_hostname else None,
            at=datetime.fromtimestamp(now, UTC), usage="server",
            ocsp_response=session.ocsp_response)
    except TLSError:
        return False
    return True


@functools.lru_cache(maxsize=256)
def _sni_form(server_name: str) -> str:
    """RFC 6066 3: the name as ASCII A-labels (UTS 46 + IDNA 2008, as browsers), no
    trailing dot. A name that cannot be converted is refused before anything is sent."""
    if server_name.isascii():
        return server_name.rstrip(".")
    from ..x509.names import InvalidHostname, canonical_dns_name
    try:
        return canonical_dns_name(server_name)
    except InvalidHostname as exc:
        raise ValueError(f"server_name {server_name!r} is not a valid host name: {exc}") from None


@functools.lru_cache(maxsize=256)
def _is_ip_literal(name: str) -> bool:
    """RFC 6066 3: literal IPv4 and IPv6 addresses are not sent in SNI."""
    import ipaddress
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True

